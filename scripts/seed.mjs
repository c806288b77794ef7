// Demo data. The seed environment and its credentials are written by the Worker itself on its
// first request (from .dev.vars); this makes that request and checks the credentials work.
export async function seed(base, creds) {
  const r = await fetch(`${base}/bulk`, {
    method: 'POST',
    headers: { Authorization: creds.SDK_KEY, 'Content-Type': 'application/json' },
    body: '[]',
  });
  if (r.status !== 202) throw new Error(`seed check failed: POST /bulk answered ${r.status} ${await r.text()}`);
}

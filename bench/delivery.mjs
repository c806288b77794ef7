// Flag delivery figures (never pass/fail), against the real Worker under `wrangler dev`:
// - published data for 1,000 flags: body size (raw, gzip) and the time of one flag change
//   (which republishes the environment) against the same change with one flag;
// - evalx requests/s at 32 concurrent clients, as a ratio to `/healthz` on the same Worker, and
//   Durable Object calls per 1,000 evaluations (the isolate's `flagReads` figures);
// - stream fan-out: 100 open `/all` streams, time from a REST change to each stream's `patch`;
//   the same for 200 browser streams (`/eval`, one context each), with the KV pointer reads they make.
import { mkdtempSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devVars, startWorker } from '../scripts/wrangler-dev.mjs';

const FLAGS = Number(process.env.BENCH_FLAGS || 1000);
const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const CLIENTS = 32;
const STREAMS = 100;
const FAN_OUTS = 5;
const BROWSER_STREAMS = 200;
const creds = devVars();
const dir = mkdtempSync(join(tmpdir(), 'edge-exp-bench-delivery-'));
const worker = await startWorker({ persistTo: dir });
const base = worker.base;

async function api(method, path, body) {
  const r = await fetch(`${base}/api/v2${path}`, { method, headers: { Authorization: creds.API_TOKEN, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

const flag = (i) => ({ key: `bench-f${i}`, variations: [{ value: 'a' }, { value: 'b' }],
  clientSideAvailability: { usingEnvironmentId: i < 20, usingMobileKey: true },
  environments: { production: { on: true, offVariation: 0, fallthrough: { rollout: { variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } },
    rules: [{ clauses: [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['DE', 'AT'] }], variation: 1 }] } } });

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function changeTime(key, n = 20) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await api('PATCH', `/flags/default/${key}`, [{ op: 'replace', path: '/environments/production/offVariation', value: i % 2 }]);
    times.push(performance.now() - t);
  }
  return pct(times, 0.5);
}

/** Open `n` event streams, wait for each one's first event, turn `key`'s flag `on` (or off), and
 * return each stream's time from the change to its `patch`. */
async function fanOut(n, connect, key, onOpen = async () => {}, on = false) {
  const streams = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const r = await connect(i);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value);
    return { reader, decoder };
  }));
  await onOpen();
  const t0 = performance.now();
  const arrivals = Promise.all(streams.map(async ({ reader, decoder }) => {
    let text = '';
    while (!text.includes('event: patch')) text += decoder.decode((await reader.read()).value);
    return performance.now() - t0;
  }));
  await api('PATCH', `/flags/default/${key}`, [{ op: 'replace', path: '/environments/production/on', value: on }]);
  const times = await arrivals;
  await Promise.all(streams.map(({ reader }) => reader.cancel()));
  return times;
}

async function rate(url, init) {
  let n = 0;
  let errors = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    let i = 0;
    while (Date.now() < end) {
      const r = await fetch(url(c, i++), init);
      await r.arrayBuffer();
      if (r.status === 200) n++; else errors++;
    }
  }));
  return { perSecond: n / SECONDS, errors };
}

const ops = async () => (await (await fetch(`${base}/api/v2/ops/ingest`, { headers: { Authorization: creds.API_READER_TOKEN } })).json()).flagReads;

try {
  await api('POST', '/flags/default', flag(0));
  const one = await changeTime('bench-f0');
  for (let i = 1; i < FLAGS; i++) await api('POST', '/flags/default', flag(i));
  const many = await changeTime('bench-f0');
  const body = await (await fetch(`${base}/sdk/latest-all`, { headers: { Authorization: creds.SDK_KEY } })).text();
  console.log(`published data, ${FLAGS} flags: ${body.length} B raw, ${gzipSync(body, { level: 9 }).length} B gzip`);
  console.log(`one flag change (REST PATCH, publish included), p50: ${many.toFixed(1)} ms with ${FLAGS} flags, ${one.toFixed(1)} ms with 1 flag`);

  const context = (c, i) => Buffer.from(JSON.stringify({ kind: 'user', key: `u-${c}-${i}`, country: i % 2 ? 'DE' : 'FR' })).toString('base64url');
  const before = await ops();
  const evalx = await rate((c, i) => `${base}/sdk/evalx/${creds.CLIENT_SIDE_ID}/contexts/${context(c, i)}`);
  const after = await ops();
  const health = await rate(() => `${base}/healthz`);
  const evaluations = after.cachedReads + after.pointerReads - before.cachedReads - before.pointerReads;
  console.log(`evalx (20 client-side flags of ${FLAGS}), ${CLIENTS} concurrent clients: ${evalx.perSecond.toFixed(0)} requests/s (${evalx.errors} errors); /healthz ${health.perSecond.toFixed(0)} requests/s; ratio ${(evalx.perSecond / health.perSecond).toFixed(2)}`);
  console.log(`Durable Object calls per 1,000 evaluations: ${(1000 * (after.objectCalls - before.objectCalls) / Math.max(1, evaluations)).toFixed(2)} (pointer reads per 1,000: ${(1000 * (after.pointerReads - before.pointerReads) / Math.max(1, evaluations)).toFixed(1)})`);

  // Fan-out: streams open, then one change; each stream's time to its patch. One change is one
  // sample (every stream waits for the same publication): the median of FAN_OUTS rounds is printed.
  const rounds = [];
  for (let i = 0; i < FAN_OUTS; i++) {
    rounds.push(await fanOut(STREAMS, () => fetch(`${base}/all`, { headers: { Authorization: creds.SDK_KEY } }), 'bench-f1', undefined, i % 2 === 1));
  }
  const median = (xs) => pct(xs, 0.5);
  console.log(`stream fan-out, ${STREAMS} open /all streams, REST change → patch: p50 ${median(rounds.map((t) => pct(t, 0.5))).toFixed(1)} ms, p99 ${median(rounds.map((t) => pct(t, 0.99))).toFixed(1)} ms (medians of ${FAN_OUTS} changes; ${FLAGS} flags published)`);
  // Browser streams: each one its own context, held by the isolate that took it.
  let kvPerSecond = 0;
  const idle = async () => {
    const held = await ops();
    await new Promise((r) => setTimeout(r, 5000));
    kvPerSecond = ((await ops()).pointerReads - held.pointerReads) / 5;
  };
  const browserTimes = await fanOut(BROWSER_STREAMS, (i) => fetch(`${base}/eval/${creds.CLIENT_SIDE_ID}/${context(i, 0)}`), 'bench-f2', idle);
  console.log(`browser stream fan-out, ${BROWSER_STREAMS} open /eval streams (one context each), REST change → patch: p50 ${pct(browserTimes, 0.5).toFixed(1)} ms, p99 ${pct(browserTimes, 0.99).toFixed(1)} ms; published-pointer reads (KV) while they idle: ${kvPerSecond.toFixed(1)}/s for all of them together (each compares every second)`);
} finally {
  await worker.stop();
  rmSync(dir, { recursive: true, force: true });
}

// Starts the real `wrangler dev` (workerd + Miniflare's local KV) on a loopback port and waits
// until the Worker answers. Used by `npm start` (scripts/dev.mjs) and by the tests.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The credentials in .dev.vars, as an object. */
export function devVars() {
  const vars = {};
  for (const line of readFileSync(join(ROOT, '.dev.vars'), 'utf8').split('\n')) {
    const m = line.match(/^\s*([A-Z_]+)\s*=\s*(.*)\s*$/);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The four Workers' configurations (README "Four Workers"), the edge Worker's first. */
export const CONFIGS = ['wrangler.edge.toml', 'wrangler.api.toml', 'wrangler.toml', 'wrangler.counters.toml'];

/**
 * The Workers' configurations with `vars` set for all: `wrangler dev --var` sets only the first
 * Worker's, so each run gets copies of the configs (paths made absolute) beside a `.dev.vars`
 * holding the credentials and `vars` (which override the configs' own), under
 * `.wrangler/dev/{port}/`.
 */
function devConfigs(port, vars) {
  const dir = join(ROOT, '.wrangler', 'dev', String(port));
  mkdirSync(dir, { recursive: true });
  const extra = Object.entries(vars).map(([k, v]) => `${k}=${v}`).join('\n');
  writeFileSync(join(dir, '.dev.vars'), `${readFileSync(join(ROOT, '.dev.vars'), 'utf8').trimEnd()}\n${extra}\n`);
  const copy = (name) => {
    const text = readFileSync(join(ROOT, name), 'utf8')
      .replace(/^main = "([^"]+)"/m, (_, path) => `main = "${join(ROOT, path)}"`)
      .replace(/^directory = "([^"]+)"/m, (_, path) => `directory = "${join(ROOT, path)}"`);
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  return { dir, configs: CONFIGS.map(copy) };
}

/**
 * Start `wrangler dev`. Options: port (default: a free one), persistTo (state directory),
 * quiet (hide wrangler's output unless it fails), vars (extra Worker vars, e.g. the tests'
 * FAULT_INJECTION hook). Resolves to { base, port, stop, output }.
 *
 * The bot filter is off (BOT_FILTER=off) unless `vars` says otherwise: the tests and benchmarks
 * send from Node (user agent `node`) and headless Chromium (`HeadlessChrome`), both bots by
 * their user agent. tests/bots.test.mjs turns it on for its environment.
 */
export async function startWorker({ port, persistTo, quiet = true, timeoutMs = 60_000, vars = {} } = {}) {
  port ??= await freePort();
  const configs = devConfigs(port, { BOT_FILTER: 'off', ...vars });
  // The four Workers (README "Four Workers"): the edge Worker first, so it takes the port; the
  // REST Worker behind it (its CONTROL service binding), the objects and counters Workers behind
  // both (bound by script_name).
  const workers = configs.configs.flatMap((c) => ['-c', c]);
  const args = ['wrangler', 'dev', ...workers, '--ip', '127.0.0.1', '--port', String(port),
    '--show-interactive-dev-session=false', '--log-level', quiet ? 'warn' : 'info',
    // `GET /__scheduled` runs the Cron Trigger (the guarded rollouts' watchdog) on demand.
    '--test-scheduled'];
  if (persistTo) args.push('--persist-to', persistTo);
  const child = spawn('npx', args, {
    cwd: ROOT,
    // No network here: don't let Miniflare fetch request.cf data from Cloudflare (we don't use it).
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const collect = (chunk) => {
    output += chunk;
    if (!quiet) process.stdout.write(chunk);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = null;
  child.on('exit', (code) => { exited = code; });

  const base = `http://127.0.0.1:${port}`;
  const forget = () => rmSync(configs.dir, { recursive: true, force: true });
  const stop = () => new Promise((resolve) => {
    if (exited !== null) return resolve(forget());
    child.once('exit', () => resolve(forget()));
    try { process.kill(-child.pid, 'SIGTERM'); } catch { resolve(); }
    setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
  });

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`wrangler dev exited with ${exited}:\n${output}`);
    try {
      const r = await fetch(`${base}/healthz`);
      await r.arrayBuffer();
      return { base, port, stop, output: () => output, pid: child.pid };
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await stop();
  throw new Error(`wrangler dev did not answer on ${base} within ${timeoutMs} ms:\n${output}`);
}

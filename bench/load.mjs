// Load generator: drives POST /bulk with 100-event payloads from concurrent loopback senders for
// a fixed time, against the real Worker and the JS baseline, and prints events/s, p50/p99
// latency and the ratio. Figures only; nothing here passes or fails.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, devVars, freePort, startWorker } from '../scripts/wrangler-dev.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const SENDERS = Number(process.env.BENCH_SENDERS || 8);
const USERS = 2000;

/** A server-SDK-like payload: 25 index, 25 feature (experiment exposures), 49 custom, 1 summary. */
const FIXED_TIME = Date.now();
/** `repeat`: every payload reuses one timestamp, so its exposures are already known (no writes). */
function payload(seq, repeat) {
  const t = repeat ? FIXED_TIME : Date.now();
  const events = [];
  for (let i = 0; i < 25; i++) {
    const key = `bench-${(seq * 25 + i) % USERS}`;
    const context = { kind: 'user', key };
    events.push({ kind: 'index', creationDate: t, context });
    events.push({ kind: 'feature', creationDate: t, key: 'bench-flag', version: 1, variation: (seq + i) % 2, value: true, default: false, context });
  }
  for (let i = 0; i < 49; i++) {
    events.push({ kind: 'custom', creationDate: t, key: 'purchase', contextKeys: { user: `bench-${(seq * 49 + i) % USERS}` }, metricValue: i });
  }
  events.push({ kind: 'summary', startDate: t - 1000, endDate: t, features: { 'bench-flag': { default: false, counters: [{ variation: 1, version: 1, value: true, count: 25 }] } } });
  return JSON.stringify(events);
}

/** Conversion-heavy payload for a running experiment: 20 exposures + 80 conversions. */
function conversionPayload(seq, startedAt) {
  const t = Math.max(Date.now(), startedAt + 1);
  const events = [];
  for (let i = 0; i < 20; i++) {
    const key = `conv-${(seq * 20 + i) % USERS}`;
    events.push({ kind: 'feature', creationDate: t, key: 'bench-exp-flag', variation: (seq + i) % 2, contextKeys: { user: key } });
  }
  for (let i = 0; i < 80; i++) {
    events.push({ kind: 'custom', creationDate: t, key: 'bench-purchase', contextKeys: { user: `conv-${(seq * 80 + i) % USERS}` }, metricValue: i % 7 });
  }
  return JSON.stringify(events);
}

async function drive(url, headers, { repeat = false, make } = {}) {
  const latencies = [];
  let events = 0;
  let errors = 0;
  let seq = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: SENDERS }, async () => {
    while (Date.now() < end) {
      const body = make ? make(seq++) : payload(seq++, repeat);
      const start = performance.now();
      try {
        const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
        await r.arrayBuffer();
        if (r.status === 202) events += 100; else errors++;
      } catch { errors++; }
      latencies.push(performance.now() - start);
    }
  }));
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { eventsPerSecond: events / SECONDS, p50: pct(0.5), p99: pct(0.99), requests: latencies.length, errors };
}

async function startBaseline() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'edge-exp-baseline-'));
  const child = spawn('npx', ['wrangler', 'dev', '--config', 'bench/baseline/wrangler.toml', '--ip', '127.0.0.1',
    '--port', String(port), '--persist-to', dir, '--show-interactive-dev-session=false', '--log-level', 'warn'],
  { cwd: ROOT, stdio: 'ignore', detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' } });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    try { await (await fetch(base, { method: 'POST', body: '[]' })).arrayBuffer(); break; } catch { await new Promise((r) => setTimeout(r, 250)); }
  }
  return { base, stop: () => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); } };
}

async function seedExperiment(base, creds) {
  const call = async (method, path, body) => {
    const r = await fetch(`${base}${path}`, { method, headers: { Authorization: creds.API_TOKEN, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (r.status >= 300 && r.status !== 409) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  await call('POST', '/api/v2/flags/default', { key: 'bench-exp-flag', environments: { production: { on: true,
    fallthrough: { rollout: { kind: 'experiment', seed: 1, variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } } } } });
  await call('POST', '/api/v2/metrics/default', { key: 'bench-revenue', kind: 'custom', eventKey: 'bench-purchase', isNumeric: true, unitAggregationType: 'sum' });
  await call('POST', '/api/v2/projects/default/environments/production/experiments', { key: 'bench-exp', flagKey: 'bench-exp-flag', metrics: [{ key: 'bench-revenue' }] });
  const started = await call('PATCH', '/api/v2/projects/default/environments/production/experiments/bench-exp', { instructions: [{ kind: 'startIteration' }] });
  return started.currentIteration.startedAt;
}

/** Run a load phase and wait for the queue to drain: adds the rate until processed. */
async function processed(phase, w = worker) {
  const start = performance.now();
  const r = await phase();
  await drained(w.base);
  r.seconds = (performance.now() - start) / 1000;
  r.processedPerSecond = (r.requests - r.errors) * 100 / r.seconds;
  return r;
}

/** Wait until the ingest queue has consumed every message (GET /api/v2/ops/ingest). */
async function drained(base) {
  for (;;) {
    const r = await fetch(`${base}/api/v2/ops/ingest`, { headers: { Authorization: creds.API_READER_TOKEN } });
    const s = await r.json();
    if (s.consumedMessages >= s.enqueuedMessages) return s;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const fmt = (r) => `${r.eventsPerSecond.toFixed(0).padStart(8)} events/s   p50 ${r.p50.toFixed(1).padStart(6)} ms   p99 ${r.p99.toFixed(1).padStart(6)} ms   (${r.requests} requests, ${r.errors} errors)`;

const creds = devVars();
const dir = mkdtempSync(join(tmpdir(), 'edge-exp-bench-'));
const worker = await startWorker({ persistTo: dir });
const baseline = await startBaseline();
try {
  console.log(`POST /bulk, 100-event payloads (25 exposures), ${SENDERS} concurrent senders, ${SECONDS} s each, after an equal warm-up run`);
  // Warm up both (isolate start, KV files), then measure. Each phase of the Worker waits for its
  // queue to drain, so no phase (nor the baseline, on the same cores) runs beside the consumer
  // catching up on an earlier one; the drained time gives the rate until processed.
  await drive(`${worker.base}/bulk`, { Authorization: creds.SDK_KEY });
  await drained(worker.base);
  await drive(baseline.base, {});
  const fresh = await processed(() => drive(`${worker.base}/bulk`, { Authorization: creds.SDK_KEY }));
  const repeat = await processed(() => drive(`${worker.base}/bulk`, { Authorization: creds.SDK_KEY }, { repeat: true }));
  const base = await drive(baseline.base, {});
  console.log(`edge-exp, new exposure times (history rows; KV copies of known units deferred):  ${fmt(fresh)}`);
  console.log(`   until processed (queue drained, ${fresh.seconds.toFixed(1)} s): ${fresh.processedPerSecond.toFixed(0)} events/s`);
  console.log(`edge-exp, known exposures (no history changes):  ${fmt(repeat)}`);
  console.log(`   until processed (queue drained, ${repeat.seconds.toFixed(1)} s): ${repeat.processedPerSecond.toFixed(0)} events/s`);
  console.log(`JS baseline (parse + 1 KV read/event):          ${fmt(base)}`);
  console.log(`ratio vs baseline, new exposures:   ${(fresh.eventsPerSecond / base.eventsPerSecond).toFixed(2)} answered, ${(fresh.processedPerSecond / base.eventsPerSecond).toFixed(2)} until processed  (target >= 0.8)`);
  console.log(`ratio vs baseline, known exposures: ${(repeat.eventsPerSecond / base.eventsPerSecond).toFixed(2)} answered, ${(repeat.processedPerSecond / base.eventsPerSecond).toFixed(2)} until processed`);

  // Conversion-heavy load through to an experiment's counter (Durable Object).
  const startedAt = await seedExperiment(worker.base, creds);
  await drained(worker.base);
  const convStart = performance.now();
  const conv = await drive(`${worker.base}/bulk`, { Authorization: creds.SDK_KEY, 'X-LaunchDarkly-Payload-ID': '' }, { make: (n) => conversionPayload(n, startedAt) });
  // Counting happens in the queue consumer: the rate counts until the queue has drained.
  await drained(worker.base);
  const seconds = (performance.now() - convStart) / 1000;
  conv.eventsPerSecond = (conv.requests - conv.errors) * 100 / seconds;
  console.log(`edge-exp, conversions to a running experiment (until counted, ${seconds.toFixed(1)} s):  ${fmt(conv)}`);
  console.log(`ratio vs baseline, conversion-heavy: ${(conv.eventsPerSecond / base.eventsPerSecond).toFixed(2)}`);
} finally {
  await worker.stop();
  baseline.stop();
  rmSync(dir, { recursive: true, force: true });
}

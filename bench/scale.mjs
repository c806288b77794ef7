// `npm run bench:scale [-- --units N]`: figures, never pass/fail.
//
// Drives N units (default 1,000,000) into one running experiment with a binary, a count and a
// numeric metric through POST /bulk: 100-event payloads (50 units: an exposure and a purchase
// each), 8 concurrent senders, against the real `wrangler dev`. Per 100,000 units it prints the
// ingest rate through to the counters (sending + draining the queue), the results latency (median
// of 5), workerd's RSS (all of it: Miniflare's local KV, queue and SQLite simulations included)
// and the Worker isolate's own wasm memory (what our code and objects hold); then it restarts `wrangler dev` on the same state and prints the first
// results latency, and the ratios the scale targets use.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devVars, startWorker } from '../scripts/wrangler-dev.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const UNITS = arg('units', 1_000_000);
const STEP = Math.min(arg('step', 100_000), UNITS);
const SENDERS = 8;
const UNITS_PER_PAYLOAD = 50;
const creds = devVars();

/** RSS of the workerd processes started by this wrangler dev (MiB). */
function rssMiB(worker) {
  try {
    const out = execFileSync('ps', ['-o', 'rss=,comm=', '-g', String(worker.pid)], { encoding: 'utf8' });
    const kib = out.split('\n').filter((l) => /workerd/.test(l)).reduce((a, l) => a + Number(l.trim().split(/\s+/)[0]), 0);
    return kib / 1024;
  } catch { return NaN; }
}

async function api(base, method, path, body) {
  const r = await fetch(`${base}${path}`, { method, headers: { Authorization: creds.API_TOKEN, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function seed(base) {
  await api(base, 'POST', '/api/v2/flags/default', { key: 'scale-flag', variations: [{ value: 'a' }, { value: 'b' }] });
  await api(base, 'POST', '/api/v2/metrics/default', { key: 'scale-converted', kind: 'custom', eventKey: 'scale-buy' });
  await api(base, 'POST', '/api/v2/metrics/default', { key: 'scale-purchases', kind: 'custom', eventKey: 'scale-buy', unitAggregationType: 'sum' });
  await api(base, 'POST', '/api/v2/metrics/default', { key: 'scale-revenue', kind: 'custom', eventKey: 'scale-buy', isNumeric: true });
  // A percentile metric: its results read exact order statistics from the shards' sorted values.
  await api(base, 'POST', '/api/v2/metrics/default', { key: 'scale-revenue-p90', kind: 'custom', eventKey: 'scale-buy', isNumeric: true,
    analysisType: 'percentile', percentileValue: 90, eventDefault: { disabled: true } });
  await api(base, 'POST', '/api/v2/projects/default/environments/production/experiments', { key: 'scale', flagKey: 'scale-flag',
    metrics: [{ key: 'scale-converted', primary: true }, { key: 'scale-purchases' }, { key: 'scale-revenue' }, { key: 'scale-revenue-p90' }] });
  const started = await api(base, 'PATCH', '/api/v2/projects/default/environments/production/experiments/scale', { instructions: [{ kind: 'startIteration' }] });
  return started.currentIteration.startedAt;
}

function payload(first, t) {
  const events = [];
  for (let u = first; u < first + UNITS_PER_PAYLOAD; u++) {
    const user = `s${u}`;
    events.push({ kind: 'feature', key: 'scale-flag', creationDate: t, variation: u % 2, contextKeys: { user } });
    if (u % 3 === 0) events.push({ kind: 'custom', key: 'scale-buy', creationDate: t + 1, metricValue: u % 50, contextKeys: { user } });
    else events.push({ kind: 'index', creationDate: t, context: { key: user } });
  }
  return JSON.stringify(events);
}

async function exposedUnits(base) {
  const r = await api(base, 'GET', '/api/v2/projects/default/environments/production/experiments/scale/results');
  return r.variations.reduce((a, v) => a + v.exposedUnits, 0);
}

/** Wait until every accepted unit is counted. The isolate's own queue figures are not enough:
 * they restart with the isolate (a runtime reset under load answers 503s), while the queue keeps
 * its messages. Gives up after 120 s without progress and says how many are missing. */
async function drain(base, acceptedUnits) {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = await exposedUnits(base);
    if (n >= acceptedUnits) return 0;
    if (n !== last) { last = n; since = Date.now(); }
    if (Date.now() - since > 120_000) return acceptedUnits - n;
    await new Promise((r) => setTimeout(r, 250));
  }
}

let accepted = 0;
// A post with no answer by then is reported (with wrangler's latest output) and the run goes on:
// one attempt once waited out undici's 300 s header timeout and stopped the whole bench.
const POST_TIMEOUT_MS = 60_000;
let shownOutput = false;

/** POST one payload: its status and body (status 0: nothing answered in time). */
async function post(base, body) {
  try {
    const r = await fetch(`${base}/bulk`, { method: 'POST', headers: { Authorization: creds.SDK_KEY, 'Content-Type': 'application/json' },
      body, signal: AbortSignal.timeout(POST_TIMEOUT_MS) });
    return { status: r.status, text: await r.text() };
  } catch (e) {
    if (e.name !== 'TimeoutError') throw e;
    if (!shownOutput) {
      shownOutput = true;
      const tail = worker.output().split('\n').slice(-40).join('\n');
      console.log(`   a post got no answer within ${POST_TIMEOUT_MS / 1000} s; wrangler's latest output:\n${tail}`);
    }
    return { status: 0, text: `nothing within ${POST_TIMEOUT_MS / 1000} s` };
  }
}

/** Send units [from, to) and wait until the queue has counted them; returns events/s. */
async function ingest(base, from, to, t) {
  const start = performance.now();
  let next = from;
  let errors = 0;
  const failures = new Map();
  await Promise.all(Array.from({ length: SENDERS }, async () => {
    while (next < to) {
      const first = next;
      next += UNITS_PER_PAYLOAD;
      const { status, text } = await post(base, payload(first, t));
      if (status === 202) {
        accepted += UNITS_PER_PAYLOAD;
      } else {
        errors++;
        const what = status ? `${status} ${text.slice(0, 160)}` : text;
        failures.set(what, (failures.get(what) || 0) + 1);
      }
    }
  }));
  const missing = await drain(base, accepted);
  const seconds = (performance.now() - start) / 1000;
  for (const [what, n] of failures) console.log(`   ${n} posts answered ${what} (an SDK retries them; a post that timed out may still have been counted)`);
  if (missing) console.log(`   ${missing} accepted units not counted after 120 s without progress`);
  return { eventsPerSecond: ((to - from) * 2) / seconds, errors };
}

/** Median results latency of `runs` requests, and the median request's `Server-Timing` phases. */
async function resultsLatency(base, query = '', runs = 5) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const r = await fetch(`${base}/api/v2/projects/default/environments/production/experiments/scale/results${query}`, { headers: { Authorization: creds.API_TOKEN } });
    await r.text();
    if (!r.ok) throw new Error(`results answered ${r.status}`);
    times.push({ ms: performance.now() - start, phases: r.headers.get('server-timing') || '' });
  }
  times.sort((a, b) => a.ms - b.ms);
  const median = times[Math.floor(times.length / 2)];
  LAST_PHASES = median.phases.replace(/;dur=/g, ' ');
  return median.ms;
}
let LAST_PHASES = '';

const dir = mkdtempSync(join(tmpdir(), 'edge-exp-scale-'));
// BENCH_VERBOSE=1: show wrangler's own output (restarts, errors).
const quiet = process.env.BENCH_VERBOSE !== '1';
let worker = await startWorker({ persistTo: dir, quiet });
try {
  const t = (await seed(worker.base)) + 1;
  console.log(`${UNITS.toLocaleString('en')} units, 2 events each, ${UNITS_PER_PAYLOAD * 2}-event payloads, ${SENDERS} senders, 4 metrics (one p90), 16 counter shards`);
  console.log('   units   ingest events/s   results p50 ms   p90 results p50 ms   workerd RSS MiB   Worker wasm memory MiB');
  const rows = [];
  for (let from = 0; from < UNITS; from += STEP) {
    const to = Math.min(UNITS, from + STEP);
    const { eventsPerSecond, errors } = await ingest(worker.base, from, to, t);
    const latency = await resultsLatency(worker.base);
    const phases = LAST_PHASES;
    const p90 = await resultsLatency(worker.base, '?metric=scale-revenue-p90');
    const rss = rssMiB(worker);
    const wasm = (await api(worker.base, 'GET', '/api/v2/ops/ingest')).wasmMemoryBytes / 1024 / 1024;
    rows.push({ units: to, eventsPerSecond, latency, rss });
    console.log(`${String(to).padStart(8)}   ${eventsPerSecond.toFixed(0).padStart(15)}   ${latency.toFixed(1).padStart(14)}   ${p90.toFixed(1).padStart(18)}   ${rss.toFixed(0).padStart(15)}   ${wasm.toFixed(1).padStart(22)}${errors ? `   (${errors} failed posts)` : ''}`);
    console.log(`            results phases (ms, median request): ${phases}`);
  }
  const check = await api(worker.base, 'GET', '/api/v2/projects/default/environments/production/experiments/scale/results');
  const exposed = check.variations.reduce((a, v) => a + v.exposedUnits, 0);
  console.log(`exposed units counted: ${exposed.toLocaleString('en')} of ${accepted.toLocaleString('en')} accepted (${UNITS.toLocaleString('en')} sent)`);
  await worker.stop();
  worker = await startWorker({ persistTo: dir, quiet });
  const start = performance.now();
  await api(worker.base, 'GET', '/api/v2/projects/default/environments/production/experiments/scale/results');
  const cold = performance.now() - start;
  const [first, last] = [rows[0], rows[rows.length - 1]];
  const growth = rows.length > 1 ? (last.rss - first.rss) / ((last.units - first.units) / 100_000) : 0;
  console.log(`first results after restart: ${cold.toFixed(0)} ms   (target <= 500 ms at 1M units)`);
  console.log(`ingest rate, last step / first step: ${(last.eventsPerSecond / first.eventsPerSecond).toFixed(2)}   (target >= 0.8)`);
  console.log(`results latency, end / first step:   ${(last.latency / first.latency).toFixed(2)}   (target <= 1.5)`);
  console.log(`RSS growth per 100k units: ${growth.toFixed(1)} MiB`);
} finally {
  await worker.stop();
  rmSync(dir, { recursive: true, force: true });
}

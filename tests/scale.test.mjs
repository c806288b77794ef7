// Counting that scales, end to end over `wrangler dev`: units spread over counter shards and the
// merged results equal an independent computation; a queue delivery repeated (a real redelivery,
// forced by the FAULT_INJECTION test hook) is counted once; an iteration started a millisecond
// before its events arrive counts them; a 10,000-exposure payload is processed in full while no
// consumer invocation exceeds the platform's per-invocation limits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { useWorker, request, post, drain, firstVariation } from './support/worker.mjs';

const ctx = useWorker();
const W = () => ctx.creds.API_TOKEN;
const api = (path) => `${ctx.base}/api/v2${path}`;
const envPath = (path) => api(`/projects/default/environments/production${path}`);
const sdk = (extra = {}) => ({ Authorization: ctx.creds.SDK_KEY, ...extra });

/** The Worker's shard of a unit (core::aggregates::shard_of), written independently: FNV-1a 64. */
function shardOf(unit, shards) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(unit, 'utf8')) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return Number(h % BigInt(shards));
}

const closeTo = (a, b, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

async function ok(method, path, body) {
  const r = await request(method, api(path), { token: W(), body });
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A flag, a binary and a numeric (sum) metric, and a started experiment; returns its start time. */
async function experiment(name, { counterShards, flag = `${name}-flag` } = {}) {
  await ok('POST', '/flags/default', { key: flag, variations: [{ value: 'a' }, { value: 'b' }],
    environments: { production: { on: true, fallthrough: { variation: 0 } } } });
  await ok('POST', '/metrics/default', { key: `${name}-buy`, kind: 'custom', eventKey: `${name}-purchase` });
  await ok('POST', '/metrics/default', { key: `${name}-revenue`, kind: 'custom', eventKey: `${name}-purchase`, isNumeric: true, unitAggregationType: 'sum' });
  await ok('POST', '/projects/default/environments/production/experiments', { key: name, flagKey: flag, counterShards,
    metrics: [{ key: `${name}-buy`, primary: true }, { key: `${name}-revenue` }] });
  const started = await ok('PATCH', `/projects/default/environments/production/experiments/${name}`, { instructions: [{ kind: 'startIteration' }] });
  return started.currentIteration;
}

async function results(name, metric) {
  const r = await request('GET', envPath(`/experiments/${name}/results?metric=${metric}`), { token: W() });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Expected per-variation figures of the sum metric from per-unit values, computed here. */
function expected(values) {
  const out = {};
  for (const [v, xs] of Object.entries(values)) {
    const n = xs.length;
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
    out[v] = { n, mean, variance, converted: xs.filter((x) => x > 0).length };
  }
  return out;
}

describe('sharded counters', () => {
  it('spreads units over shards and merges them into exact results', async () => {
    const it0 = await experiment('spread', { counterShards: 4 });
    assert.equal(it0.counterShards, 4, 'the shard count is kept with the iteration');
    const t = it0.startedAt + 1;
    const values = { 0: [], 1: [] };
    const events = [];
    const shardsHit = new Set();
    for (let i = 0; i < 400; i++) {
      const user = `spread-${i}`;
      const v = i % 2;
      shardsHit.add(shardOf(user, 4));
      events.push({ kind: 'feature', key: 'spread-flag', creationDate: t, variation: v, contextKeys: { user } });
      // Units i % 3 == 0 buy twice (values add up), others never; a conversion before exposure
      // never counts.
      let x = 0;
      if (i % 3 === 0) {
        events.push({ kind: 'custom', key: 'spread-purchase', creationDate: t + 5, metricValue: i % 7 + 0.25, contextKeys: { user } });
        events.push({ kind: 'custom', key: 'spread-purchase', creationDate: t + 9, metricValue: 1.5, contextKeys: { user } });
        x = i % 7 + 0.25 + 1.5;
      }
      values[v].push(x);
    }
    assert.equal(shardsHit.size, 4, 'the test data reaches every shard');
    // Conversions first, exposures after (arrival order must not matter), in 100-event payloads.
    const ordered = [...events.filter((e) => e.kind === 'custom'), ...events.filter((e) => e.kind === 'feature')];
    for (let i = 0; i < ordered.length; i += 100) {
      assert.equal((await post(`${ctx.base}/bulk`, ordered.slice(i, i + 100), sdk())).status, 202);
    }
    const want = expected(values);
    const revenue = await results('spread', 'spread-revenue');
    assert.equal(revenue.counterShards, 4);
    for (const row of revenue.variations) {
      const w = want[row.variation];
      assert.equal(row.units, w.n);
      assert.equal(row.exposedUnits, w.n);
      closeTo(row.mean, w.mean);
      closeTo(row.variance, w.variance);
    }
    const buy = await results('spread', 'spread-buy');
    for (const row of buy.variations) assert.equal(row.conversions, want[row.variation].converted);
  });

  it('counts a queue delivery that is repeated once', async () => {
    const it0 = await experiment('redeliver');
    const t = it0.startedAt + 1;
    const events = [];
    for (let i = 0; i < 60; i++) {
      const user = `re-${i}`;
      events.push({ kind: 'feature', key: 'redeliver-flag', creationDate: t, variation: i % 2, contextKeys: { user } });
      events.push({ kind: 'custom', key: 'redeliver-purchase', creationDate: t + 1, metricValue: 2, contextKeys: { user } });
    }
    const before = await drain(ctx.base);
    // The consumer counts these messages, then sends them back to the queue once (as a lost
    // acknowledgement would): the shards see every message twice.
    const r = await post(`${ctx.base}/bulk`, events, sdk({ 'X-LaunchDarkly-Payload-ID': randomUUID(), 'X-Edge-Exp-Fault': 'redeliver' }));
    assert.equal(r.status, 202);
    const after = await drain(ctx.base);
    assert.ok(after.retriedMessages > before.retriedMessages, 'the message was delivered again');
    assert.ok(after.duplicateParts > before.duplicateParts, 'the shards recognised the redelivery');
    const revenue = await results('redeliver', 'redeliver-revenue');
    for (const row of revenue.variations) {
      assert.equal(row.units, 30);
      assert.equal(row.mean, 2, 'each purchase counted once');
    }
  });

  it('counts events of an iteration started a millisecond before they arrive', async () => {
    const it0 = await experiment('instant');
    const events = [];
    for (let i = 0; i < 10; i++) {
      const user = `instant-${i}`;
      events.push({ kind: 'feature', key: 'instant-flag', creationDate: it0.startedAt + (i % 2), variation: 1, contextKeys: { user } });
      events.push({ kind: 'custom', key: 'instant-purchase', creationDate: it0.startedAt + 1, metricValue: 1, contextKeys: { user } });
    }
    assert.equal((await post(`${ctx.base}/bulk`, events, sdk())).status, 202);
    const buy = await results('instant', 'instant-buy');
    const b = buy.variations.find((v) => v.variation === 1);
    assert.equal(b.exposedUnits, 10);
    assert.equal(b.conversions, 10);
  });

  it('processes a 10,000-exposure payload in full within per-invocation limits', async () => {
    // Compact events (a one-letter flag key) so that 10,000 fit the 1 MiB body limit.
    const it0 = await experiment('big', { flag: 'g' });
    const t = it0.startedAt + 1;
    const events = Array.from({ length: 10_000 }, (_, i) => ({ kind: 'feature', key: 'g', creationDate: t, variation: i % 2, contextKeys: { user: `b${i}` } }));
    const body = JSON.stringify(events);
    assert.ok(body.length < 1024 * 1024, `payload is ${body.length} bytes`);
    const r = await post(`${ctx.base}/bulk`, body, sdk());
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.accepted, 10_000);
    assert.ok(r.body.queuedMessages >= 125, `${r.body.queuedMessages} messages`);
    const stats = await drain(ctx.base, 180_000);
    assert.ok(stats.maxKvOperations <= 1000, `an invocation made ${stats.maxKvOperations} KV operations`);
    assert.ok(stats.maxSubrequests <= 50, `an invocation made ${stats.maxSubrequests} subrequests`);
    const res = await results('big', 'big-buy');
    assert.deepEqual(res.variations.map((v) => v.exposedUnits), [5000, 5000]);
    for (const i of [0, 4321, 9999]) {
      const fv = await firstVariation(ctx, { flag: 'g', key: `b${i}`, at: t });
      assert.equal(fv.body.variation, i % 2, `unit b${i}`);
    }
  });
});

// Experiments end to end over `wrangler dev`: flags and evaluation (checked against LaunchDarkly's
// own Node SDK), experiment iterations, exact counting from concurrent senders with retried and
// duplicated payloads, the metric import API, results with statistics, and SRM.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { init, integrations } from '@launchdarkly/node-server-sdk';
import { useWorker, request, post } from './support/worker.mjs';

const ctx = useWorker();
const W = () => ctx.creds.API_TOKEN;
const api = (path) => `${ctx.base}/api/v2${path}`;
const envPath = (path) => api(`/projects/default/environments/production${path}`);
const SEED = 7;

/** LaunchDarkly's bucketing, written independently here (as the JS SDK does it). */
const bucket = (seed, key) => parseInt(createHash('sha1').update(`${seed}.${key}`).digest('hex').slice(0, 15), 16) / 0xFFFFFFFFFFFFFFF;
const h = (s) => parseInt(createHash('sha1').update(s).digest('hex').slice(0, 8), 16);

/** Deterministic shuffle (mulberry32). */
function shuffle(items, seed = 42) {
  let a = seed;
  const rand = () => { a |= 0; a = (a + 0x6D2B79F5) | 0; let t = Math.imul(a ^ (a >>> 15), 1 | a); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [out[i], out[j]] = [out[j], out[i]]; }
  return out;
}

function sample(values) {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { n, mean, variance };
}

const closeTo = (a, b, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

async function create(path, body) {
  const r = await request('POST', api(path), { token: W(), body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

const experimentFlag = (key, seed) => ({
  key, name: key, clientSideAvailability: { usingEnvironmentId: true }, variations: [{ value: 'control', name: 'Control' }, { value: 'treatment', name: 'Treatment' }],
  environments: { production: { on: true, offVariation: 0, fallthrough: { rollout: { kind: 'experiment', seed, contextKind: 'user',
    variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } } } },
});

describe('flags and evaluation', () => {
  it('creates, patches and deletes flags with clear errors', async () => {
    const f = await create('/flags/default', { key: 'plain-flag', variations: [{ value: 1 }, { value: 2 }] });
    assert.equal(f._version, 1);
    let r = await request('PATCH', api('/flags/default/plain-flag'), { token: W(), body: [{ op: 'add', path: '/environments/production', value: { on: true, fallthrough: { variation: 1 } } }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body._version, 2);
    r = await request('POST', api('/flags/default'), { token: W(), body: { key: 'bad', variations: [{ value: 1 }, { value: 2 }], environments: { production: { on: true, fallthrough: { variation: 9 } } } } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /variation 9 does not exist/);
    assert.equal((await request('POST', api('/flags/default'), { token: W(), body: { key: 'plain-flag' } })).status, 409);
    // A query parameter the route does not take is refused by name, never ignored.
    for (const [path, param] of [['/flags/default?limit=5', 'limit'], ['/flags/default/plain-flag?version=1', 'version'],
      ['/projects/default/environments/production/experiments?limit=1', 'limit'], ['/tokens?limit=1', 'limit'], ['/ops/ingest?reset=1', 'reset']]) {
      const q = await request('GET', api(path), { token: W() });
      assert.equal(q.status, 400, path);
      assert.match(q.body.message, new RegExp(`unknown query parameter \`${param}\``));
    }
    const list = await request('GET', api('/flags/default'), { token: ctx.creds.API_READER_TOKEN });
    assert.ok(list.body.items.some((x) => x.key === 'plain-flag'));
    assert.equal((await request('DELETE', api('/flags/default/plain-flag'), { token: W() })).status, 204);
    assert.equal((await request('GET', api('/flags/default/plain-flag'), { token: W() })).status, 404);
  });

  it('evaluates like LaunchDarkly\'s own SDK (same flag data, same buckets)', async () => {
    const flag = { ...experimentFlag('sdk-compare', 61), salt: 'compare-salt' };
    flag.environments.production.fallthrough.rollout.variations = [{ variation: 0, weight: 30000 }, { variation: 1, weight: 70000 }];
    await create('/flags/default', flag);
    const pct = { key: 'pct-compare', salt: 'pct-salt', clientSideAvailability: { usingEnvironmentId: true }, variations: [{ value: 'a' }, { value: 'b' }, { value: 'c' }],
      environments: { production: { on: true, fallthrough: { rollout: { variations: [{ variation: 0, weight: 20000 }, { variation: 1, weight: 30000 }, { variation: 2, weight: 50000 }] } } } } };
    await create('/flags/default', pct);
    const td = new integrations.TestData();
    for (const f of [flag, pct]) {
      const env = f.environments.production;
      await td.usePreconfiguredFlag({ key: f.key, version: 1, on: true, salt: f.salt, variations: f.variations.map((v) => v.value), offVariation: 0, fallthrough: env.fallthrough, targets: [], rules: [] });
    }
    const client = init('sdk-key-unused', { updateProcessor: td.getFactory(), sendEvents: false, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    await client.waitForInitialization({ timeout: 10 });
    try {
      for (let i = 0; i < 150; i++) {
        const context = { kind: 'user', key: `compare-${i}` };
        const ours = await request('REPORT', `${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/context`, { body: context });
        assert.equal(ours.status, 200);
        for (const key of ['sdk-compare', 'pct-compare']) {
          const theirs = await client.variationDetail(key, context, null);
          assert.equal(ours.body[key].variation, theirs.variationIndex, `${key} for ${context.key}`);
          assert.deepEqual(ours.body[key].value, theirs.value);
        }
        assert.equal(ours.body['sdk-compare'].reason.inExperiment, true);
      }
    } finally {
      client.close();
    }
  });

  it('serves the GET (base64url) and REPORT forms alike, with CORS, and rejects bad contexts', async () => {
    const context = { kind: 'multi', user: { key: 'évè/+?' }, org: { key: 'o1' } };
    const encoded = Buffer.from(JSON.stringify(context)).toString('base64url');
    const g = await fetch(`${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/contexts/${encoded}?withReasons=true`, { headers: { Origin: 'https://shop.example' } });
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('access-control-allow-origin'), 'https://shop.example');
    const viaGet = await g.json();
    const viaReport = await request('REPORT', `${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/context?withReasons=true`, { body: context });
    assert.deepEqual(viaGet, viaReport.body);
    assert.ok(viaGet['sdk-compare'].reason);
    assert.equal((await fetch(`${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/contexts/%%%`)).status, 400);
    const bad = await request('REPORT', `${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/context`, { body: { kind: 'user' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /context.key/);
    assert.equal((await request('REPORT', `${ctx.base}/sdk/evalx/nope/context`, { body: { key: 'u' } })).status, 404);
  });
});

describe('experiment with exact counts', () => {
  const N = 3000;
  const units = Array.from({ length: N }, (_, i) => `exp-user-${i}`);
  const variationOf = (key) => (bucket(SEED, key) < 0.5 ? 0 : 1);
  let iteration;

  before(async () => {
    await create('/flags/default', experimentFlag('checkout-flag', SEED));
    await create('/metrics/default', { key: 'exp-buy', kind: 'custom', eventKey: 'checkout-complete' });
    await create('/metrics/default', { key: 'exp-views', kind: 'custom', eventKey: 'view-item', unitAggregationType: 'sum' });
    await create('/metrics/default', { key: 'exp-revenue', kind: 'custom', eventKey: 'revenue', isNumeric: true, unit: 'USD', unitAggregationType: 'average', eventDefault: { disabled: false, value: 0 } });
    const e = await request('POST', envPath('/experiments'), { token: W(), body: {
      key: 'checkout-exp', name: 'Checkout', flagKey: 'checkout-flag', randomizationUnit: 'user',
      treatments: [{ name: 'Control', variation: 0, baseline: true, allocationPercent: '50' }, { name: 'Treatment', variation: 1, baseline: false, allocationPercent: '50' }],
      metrics: [{ key: 'exp-buy', primary: true }, { key: 'exp-views' }, { key: 'exp-revenue' }] } });
    assert.equal(e.status, 201, JSON.stringify(e.body));
    const started = await request('PATCH', envPath('/experiments/checkout-exp'), { token: W(), body: { instructions: [{ kind: 'startIteration' }] } });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    iteration = started.body.currentIteration;
    assert.equal(iteration.status, 'running');
  });

  it('locks its metrics while running', async () => {
    const del = await request('DELETE', api('/metrics/default/exp-buy'), { token: W() });
    assert.equal(del.status, 409);
    assert.match(del.body.message, /running experiment/);
    const patch = await request('PATCH', api('/metrics/default/exp-buy'), { token: W(), body: [{ op: 'replace', path: '/eventKey', value: 'other' }] });
    assert.equal(patch.status, 409);
    const again = await request('PATCH', envPath('/experiments/checkout-exp'), { token: W(), body: { instructions: [{ kind: 'startIteration' }] } });
    assert.equal(again.status, 409);
    const metric = await request('GET', api('/metrics/default/exp-buy'), { token: W() });
    assert.equal(metric.body.activeExperimentCount, 1);
  });

  it('counts every unit and conversion exactly once under concurrency, retries and duplicates', async () => {
    const t0 = iteration.startedAt + 1000;
    const events = [];
    const imported = [];
    const expected = { exposed: [0, 0], buy: [[], []], views: [[], []], revenue: [[], []] };
    units.forEach((key, i) => {
      const v = variationOf(key);
      const hv = h(key);
      const at = t0 + i;
      const context = { kind: 'user', key };
      events.push({ kind: 'feature', key: 'checkout-flag', creationDate: at, version: 1, variation: v, value: v ? 'treatment' : 'control', default: 'control', context, reason: { kind: 'FALLTHROUGH', inExperiment: true } });
      expected.exposed[v]++;
      // Noise that must not count: a conversion before the exposure, another flag.
      if (hv % 7 === 0) events.push({ kind: 'custom', key: 'checkout-complete', creationDate: at - 500, contextKeys: { user: key } });
      if (hv % 11 === 0) events.push({ kind: 'feature', key: 'other-flag', creationDate: at, variation: 1 - v, context });
      const buys = hv % 100 < (v ? 30 : 20) ? (hv % 3 === 0 ? 2 : 1) : 0;
      for (let b = 0; b < buys; b++) events.push({ kind: 'custom', key: 'checkout-complete', creationDate: at + 10 + b, context });
      expected.buy[v].push(buys > 0 ? 1 : 0);
      const views = hv % 4;
      for (let k = 0; k < views; k++) events.push({ kind: 'custom', key: 'view-item', creationDate: at + 20 + k, contextKeys: { user: key } });
      expected.views[v].push(views);
      if (hv % 5 === 0) {
        const values = [(hv % 50) + v * 5, (hv % 50) + 10];
        events.push({ kind: 'custom', key: 'revenue', creationDate: at + 30, context, metricValue: values[0] });
        // The second value arrives from a data pipeline through the import API.
        imported.push({ kind: 'custom', key: 'revenue', creationDate: at + 31, contextKeys: { user: key }, metricValue: values[1] });
        expected.revenue[v].push((values[0] + values[1]) / 2);
      } else {
        expected.revenue[v].push(0);
      }
    });
    // Conversions from contexts never exposed do not count.
    for (let i = 0; i < 50; i++) events.push({ kind: 'custom', key: 'checkout-complete', creationDate: t0, contextKeys: { user: `stranger-${i}` } });

    const payloads = [];
    const shuffled = shuffle(events);
    for (let i = 0; i < shuffled.length; i += 100) payloads.push({ id: randomUUID(), body: shuffled.slice(i, i + 100), n: payloads.length });
    const sendOne = async (p) => {
      const browser = p.n % 10 === 0;
      const url = browser ? `${ctx.base}/events/bulk/${ctx.creds.CLIENT_SIDE_ID}` : `${ctx.base}/bulk`;
      const headers = { 'X-LaunchDarkly-Payload-ID': p.id, ...(browser ? {} : { Authorization: ctx.creds.SDK_KEY }) };
      const r = await post(url, p.body, headers);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.deepEqual(r.body.rejected, []);
    };
    // 8 concurrent senders; every 4th payload is delivered twice at the same moment (an SDK retry
    // racing the original), and every 7th once more afterwards.
    const queue = [...payloads];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        await (p.n % 4 === 0 ? Promise.all([sendOne(p), sendOne(p)]) : sendOne(p));
      }
    }));
    for (const p of payloads.filter((x) => x.n % 7 === 0)) await sendOne(p);
    for (let i = 0; i < imported.length; i += 200) {
      const id = randomUUID();
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await post(`${ctx.base}/v2/event-data-import/default/production`, imported.slice(i, i + 200),
          { Authorization: W(), 'X-LaunchDarkly-Payload-ID': id, 'User-Agent': 'MetricImport-acme-int/1.0', 'X-LaunchDarkly-Event-Schema': '4' });
        assert.equal(r.status, 202, JSON.stringify(r.body));
      }
    }

    const results = async (metric, query = '') => {
      const r = await request('GET', envPath(`/experiments/checkout-exp/results?metric=${metric}${query}`), { token: ctx.creds.API_READER_TOKEN });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    };
    const buy = await results('exp-buy');
    for (const v of [0, 1]) {
      const row = buy.variations[v];
      assert.equal(row.exposedUnits, expected.exposed[v], `exposed units, variation ${v}`);
      assert.equal(row.units, expected.exposed[v]);
      assert.equal(row.conversions, expected.buy[v].reduce((a, b) => a + b, 0), `conversions, variation ${v}`);
    }
    assert.deepEqual(buy.sampleRatioMismatch.observed, expected.exposed);
    // Health: the 50 strangers' conversions count for no variation; nobody saw both variations.
    assert.equal(buy.health.unexposedConversions, 50);
    assert.deepEqual(buy.health.multipleExposures, { units: 0, share: 0 });
    assert.deepEqual(buy.health.metricsWithoutEvents, []);
    for (const [metric, key] of [['exp-views', 'views'], ['exp-revenue', 'revenue'], ['exp-buy', 'buy']]) {
      const r = metric === 'exp-buy' ? buy : await results(metric);
      assert.equal(r.analysis, 'bayesian');
      const [s0, s1] = [sample(expected[key][0]), sample(expected[key][1])];
      for (const [v, s] of [[0, s0], [1, s1]]) {
        assert.equal(r.variations[v].units, s.n, `${metric} units`);
        closeTo(r.variations[v].mean, s.mean);
        // Conversion rates carry gbstats' proportion variance p(1 − p); other metrics the sample variance.
        closeTo(r.variations[v].variance, key === 'buy' ? s.mean * (1 - s.mean) : s.variance);
      }
      closeTo(r.variations[1].relativeDifference.estimate, s1.mean / s0.mean - 1);
      assert.ok(r.variations[1].relativeDifference.lower < r.variations[1].relativeDifference.estimate);
      closeTo(r.variations[0].probabilityToBeBest + r.variations[1].probabilityToBeBest, 1, 1e-9);
      closeTo(r.variations[1].probabilityToBeBest, r.variations[1].probabilityToBeatBaseline, 1e-12);
      assert.equal(r.variations[1].pValue, undefined, 'a Bayesian result has no p-value');
      const f = await results(metric, '&analysis=frequentist');
      assert.equal(f.analysis, 'frequentist');
      closeTo(f.variations[1].relativeDifference.estimate, s1.mean / s0.mean - 1);
      assert.ok(f.variations[1].pValue >= 0 && f.variations[1].pValue <= 1);
      assert.equal(f.variations[1].significant, f.variations[1].pValue < 0.05);
      const excludesZero = f.variations[1].relativeDifference.lower > 0 || f.variations[1].relativeDifference.upper < 0;
      assert.equal(f.variations[1].significant, excludesZero, 'verdict and interval agree');
      assert.ok(f.variations[1].adjustedPValue >= f.variations[1].pValue);
      assert.deepEqual(f.multipleComparisons, { method: 'holm-bonferroni', comparisons: 3 });
    }
    // The treatment converts at 30% vs 20%: clearly better, with a tiny p-value.
    assert.ok(buy.variations[1].probabilityToBeatBaseline > 0.999, JSON.stringify(buy.variations[1]));
    const frequentist = await results('exp-buy', '&analysis=frequentist&difference=absolute');
    assert.ok(frequentist.variations[1].pValue < 1e-6);
    closeTo(frequentist.variations[1].absoluteDifference.estimate, sample(expected.buy[1]).mean - sample(expected.buy[0]).mean);
    assert.equal(buy.variations[1].better, true);
    assert.equal(buy.sampleRatioMismatch.mismatch, false);
    const bad = await request('GET', envPath('/experiments/checkout-exp/results?analysis=magic'), { token: W() });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /analysis=bayesian\|frequentist\|sequential/);
  });

  it('ignores events after the iteration stops, and keeps its results readable', async () => {
    const before = await request('GET', envPath('/experiments/checkout-exp/results?metric=exp-buy'), { token: W() });
    const stopped = await request('PATCH', envPath('/experiments/checkout-exp'), { token: W(), body: { instructions: [{ kind: 'stopIteration' }] } });
    assert.equal(stopped.status, 200);
    const endedAt = stopped.body.currentIteration.endedAt;
    assert.ok(endedAt);
    const late = units.slice(0, 100).map((key) => ({ kind: 'custom', key: 'checkout-complete', creationDate: endedAt + 5, contextKeys: { user: key } }));
    assert.equal((await post(`${ctx.base}/bulk`, late, { Authorization: ctx.creds.SDK_KEY })).status, 202);
    const after = await request('GET', envPath('/experiments/checkout-exp/results?metric=exp-buy'), { token: W() });
    assert.equal(after.body.status, 'stopped');
    assert.deepEqual(after.body.variations.map((v) => v.conversions), before.body.variations.map((v) => v.conversions));
    // Stopped: the metric is unlocked.
    const m = await request('GET', api('/metrics/default/exp-buy'), { token: W() });
    assert.equal(m.body.activeExperimentCount, 0);
  });

  it('freezes a stopped iteration\'s counts once its late-event window has passed', async () => {
    const exp = await request('GET', envPath('/experiments/checkout-exp'), { token: W() });
    const endedAt = exp.body.currentIteration.endedAt;
    const at = (now, query = '') => request('GET', envPath(`/experiments/checkout-exp/results?metric=exp-buy${query}`),
      { token: W(), headers: now ? { 'X-Edge-Exp-Now': String(now) } : {} });
    const live = await at();
    assert.equal(live.body.countsFinal, false);
    assert.equal(live.headers.get('x-edge-exp-counts'), 'shards');
    // Where the time went, phase by phase (live counts: shard aggregates, then order statistics).
    assert.match(live.headers.get('server-timing'),
      /^auth;dur=\d+, experiment;dur=\d+, aggregates;dur=\d+, percentiles;dur=\d+, compute;dur=\d+$/);
    // Still inside the late-event window (a day) and the margin for writes routed before it closed.
    const lastLive = endedAt + 24 * 3600e3 + 15 * 60e3;
    const edge = await at(lastLive);
    assert.equal(edge.body.countsFinal, false);
    assert.equal(edge.headers.get('x-edge-exp-counts'), 'shards');
    // The first read after it freezes the shards' counts; later reads come from the frozen copy.
    const first = await at(lastLive + 1);
    assert.equal(first.body.countsFinal, true);
    assert.equal(first.headers.get('x-edge-exp-counts'), 'shards');
    const again = await at(lastLive + 3600e3);
    assert.equal(again.headers.get('x-edge-exp-counts'), 'frozen');
    assert.match(again.headers.get('server-timing'), /experiment;dur=\d+, frozen;dur=\d+, compute;dur=\d+$/);
    assert.deepEqual(again.body, first.body);
    assert.deepEqual(again.body.variations.map((v) => [v.exposedUnits, v.conversions]),
      live.body.variations.map((v) => [v.exposedUnits, v.conversions]));
    // Analysis overrides still apply: results are computed from the frozen counts.
    const frequentist = await at(lastLive + 3600e3, '&analysis=frequentist');
    assert.equal(frequentist.headers.get('x-edge-exp-counts'), 'frozen');
    assert.equal(frequentist.body.analysis, 'frequentist');
    const liveFrequentist = await at(undefined, '&analysis=frequentist');
    assert.equal(liveFrequentist.headers.get('x-edge-exp-counts'), 'shards');
    assert.deepEqual(frequentist.body.variations, liveFrequentist.body.variations);
    assert.ok(frequentist.body.variations[1].pValue >= 0 && frequentist.body.variations[1].pValue < 0.05);
  });

  it('flags a sample ratio mismatch', async () => {
    await create('/flags/default', experimentFlag('srm-flag', 99));
    await create('/metrics/default', { key: 'srm-metric', kind: 'custom', eventKey: 'srm-event' });
    assert.equal((await request('POST', envPath('/experiments'), { token: W(), body: { key: 'srm-exp', flagKey: 'srm-flag', metrics: [{ key: 'srm-metric' }] } })).status, 201);
    const started = await request('PATCH', envPath('/experiments/srm-exp'), { token: W(), body: { instructions: [{ kind: 'startIteration' }] } });
    const t = started.body.currentIteration.startedAt + 10;
    // Variation 1 loses 40% of its exposures (as a redirect test that drops events would).
    const events = [];
    for (let i = 0; i < 2000; i++) {
      const key = `srm-${i}`;
      const v = bucket(99, key) < 0.5 ? 0 : 1;
      if (v === 1 && i % 5 < 2) continue;
      events.push({ kind: 'feature', key: 'srm-flag', creationDate: t, variation: v, contextKeys: { user: key } });
    }
    for (let i = 0; i < events.length; i += 100) await post(`${ctx.base}/bulk`, events.slice(i, i + 100), { Authorization: ctx.creds.SDK_KEY });
    const r = await request('GET', envPath('/experiments/srm-exp/results'), { token: W() });
    assert.equal(r.status, 200);
    assert.equal(r.body.sampleRatioMismatch.mismatch, true, JSON.stringify(r.body.sampleRatioMismatch));
    assert.ok(r.body.sampleRatioMismatch.pValue < 0.001);
  });

  it('validates experiments and results queries', async () => {
    const bad = async (body, message) => {
      const r = await request('POST', envPath('/experiments'), { token: W(), body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.message, message);
    };
    await bad({ key: 'x', flagKey: 'no-such-flag', metrics: [{ key: 'exp-buy' }] }, /flag `no-such-flag` does not exist/);
    await bad({ key: 'x', flagKey: 'checkout-flag', metrics: [{ key: 'nope' }] }, /metric `nope` does not exist/);
    await bad({ key: 'x', flagKey: 'checkout-flag', metrics: [] }, /at least one metric/);
    await bad({ key: 'x', flagKey: 'checkout-flag', metrics: [{ key: 'exp-buy' }], holdoutId: 'h' }, /unknown field `holdoutId`/);
    assert.equal((await request('POST', envPath('/experiments'), { token: W(), body: { key: 'checkout-exp', flagKey: 'checkout-flag', metrics: [{ key: 'exp-buy' }] } })).status, 409);
    assert.equal((await request('GET', envPath('/experiments/nope'), { token: W() })).status, 404);
    assert.equal((await request('GET', envPath('/experiments/checkout-exp/results?metric=nope'), { token: W() })).status, 404);
    assert.equal((await request('GET', envPath('/experiments/checkout-exp/results?iteration=x'), { token: W() })).status, 400);
    const ins = await request('PATCH', envPath('/experiments/checkout-exp'), { token: W(), body: { instructions: [{ kind: 'teleport' }] } });
    assert.equal(ins.status, 400);
    assert.match(ins.body.message, /unknown kind `teleport`/);
    const list = await request('GET', envPath('/experiments'), { token: ctx.creds.API_READER_TOKEN });
    assert.ok(list.body.items.some((e) => e.key === 'checkout-exp'));
    const imp = await post(`${ctx.base}/v2/event-data-import/default/production`, [{ kind: 'feature', key: 'f', creationDate: Date.now(), contextKeys: { user: 'u' } }], { Authorization: W() });
    assert.equal(imp.status, 202);
    assert.deepEqual(imp.body.rejected, [{ index: 0, error: 'only `custom` events can be imported' }]);
    assert.equal((await post(`${ctx.base}/v2/event-data-import/default/production`, [], { Authorization: ctx.creds.API_READER_TOKEN })).status, 403);
    assert.equal((await post(`${ctx.base}/v2/event-data-import/default/staging`, [], { Authorization: W() })).status, 404);
  });
});

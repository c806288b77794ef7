// Statistics end to end over `wrangler dev`: the reference case (1000 / 100 vs 1000 / 130)
// answers gbstats 0.8.0's figures with a verdict that agrees with its interval, for each
// analysis and difference type; the analysis is chosen per experiment and per request; too few
// units give counts without inference; a percentile metric is analysed from exact order
// statistics spread over counter shards.
//
// Reference values: gbstats 0.8.0, scripts/gbstats_reference.py (case binary_100_130).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useWorker, request, post, drain, apiOk } from './support/worker.mjs';

const ctx = useWorker();
const W = () => ctx.creds.API_TOKEN;
const api = (path) => `${ctx.base}/api/v2${path}`;
const envPath = (path) => api(`/projects/default/environments/production${path}`);
const closeTo = (a, b, tol) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b} (±${tol})`);

const ok = (method, path, body) => apiOk(ctx, method, path, body);

/** A flag, the given metrics and a started experiment. */
async function experiment(name, metrics, extra = {}) {
  await ok('POST', '/flags/default', { key: `${name}-flag`, variations: [{ value: 'a' }, { value: 'b' }],
    environments: { production: { on: true, fallthrough: { variation: 0 } } } });
  for (const m of metrics) await ok('POST', '/metrics/default', m);
  await ok('POST', '/projects/default/environments/production/experiments', { key: name, flagKey: `${name}-flag`,
    metrics: metrics.map((m, i) => ({ key: m.key, primary: i === 0 })), ...extra });
  const started = await ok('PATCH', `/projects/default/environments/production/experiments/${name}`, { instructions: [{ kind: 'startIteration' }] });
  return started.currentIteration;
}

/** Exposes `units[v]` units to variation v; `convert(v, i)` gives unit i's events' values. */
async function send(name, it, units, convert) {
  const t = it.startedAt + 1;
  const events = [];
  for (const v of [0, 1]) {
    for (let i = 0; i < units[v]; i++) {
      const user = `${name}-${v}-${i}`;
      events.push({ kind: 'feature', key: `${name}-flag`, creationDate: t, variation: v, contextKeys: { user } });
      for (const metricValue of convert(v, i)) {
        events.push({ kind: 'custom', key: `${name}-event`, creationDate: t + 1, contextKeys: { user }, metricValue });
      }
    }
  }
  for (let i = 0; i < events.length; i += 500) {
    const r = await post(`${ctx.base}/bulk`, events.slice(i, i + 500), { Authorization: ctx.creds.SDK_KEY });
    assert.equal(r.status, 202, JSON.stringify(r.body));
  }
  await drain(ctx.base);
}

async function results(name, query = '') {
  const r = await request('GET', envPath(`/experiments/${name}/results${query}`), { token: W() });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const excludesZero = (i) => i.lower > 0 || i.upper < 0;

describe('statistics', () => {
  it('the reference case: estimate, interval and verdict from one statistic, as gbstats', async () => {
    const it0 = await experiment('ref', [{ key: 'ref-buy', kind: 'custom', eventKey: 'ref-event' }],
      { analysis: 'frequentist' });
    await send('ref', it0, [1000, 1000], (v, i) => (i < [100, 130][v] ? [1] : []));

    const rel = await results('ref');
    assert.equal(rel.analysis, 'frequentist');
    assert.equal(rel.difference, 'relative');
    const r = rel.variations[1];
    assert.equal(r.conversions, 130);
    closeTo(r.relativeDifference.estimate, 0.3, 1e-12);
    closeTo(r.relativeDifference.lower, -0.019375372265978963, 1e-3);
    closeTo(r.relativeDifference.upper, 0.6193753722659789, 1e-3);
    closeTo(r.pValue, 0.06559733260262468, 1e-3);
    assert.equal(r.significant, false);
    assert.equal(excludesZero(r.relativeDifference), false, 'the interval includes 0, as the verdict says');

    const abs = (await results('ref', '?difference=absolute')).variations[1];
    closeTo(abs.absoluteDifference.lower, 0.0020507842909493826, 1e-3);
    closeTo(abs.absoluteDifference.upper, 0.057949215709050615, 1e-3);
    closeTo(abs.pValue, 0.03541149025749646, 1e-3);
    assert.equal(abs.significant, true);
    assert.equal(excludesZero(abs.absoluteDifference), true);

    const seq = await results('ref', '?analysis=sequential');
    assert.equal(seq.sequentialTuningParameter, 5000);
    closeTo(seq.variations[1].relativeDifference.lower, -0.20870625018398686, 1e-3);
    closeTo(seq.variations[1].pValue, 0.5622208729310174, 1e-3);
    assert.equal(seq.variations[1].significant, false);

    const bayes = (await results('ref', '?analysis=bayesian')).variations;
    closeTo(bayes[1].probabilityToBeatBaseline, 0.9672763417294536, 1e-3);
    closeTo(bayes[1].relativeDifference.lower, -0.019179397713587232, 1e-3);
    closeTo(bayes[1].risk.treatment, 0.002089064858592275, 1e-3);
    closeTo(bayes[0].probabilityToBeBest + bayes[1].probabilityToBeBest, 1, 1e-12);
  });

  it('the experiment chooses its analysis; updateAnalysis changes it while running', async () => {
    const e = await ok('PATCH', '/projects/default/environments/production/experiments/ref', { instructions: [
      { kind: 'updateAnalysis', analysis: 'sequential', analysisConfig: { sequentialTuningParameter: 1000, multipleComparisons: 'benjamini-hochberg' } }] });
    assert.equal(e.analysis, 'sequential');
    assert.equal(e.analysisConfig.sequentialTuningParameter, 1000);
    assert.equal(e.analysisConfig.minSampleSize, 100, 'options not given are kept');
    const r = await results('ref');
    assert.equal(r.analysis, 'sequential');
    assert.equal(r.sequentialTuningParameter, 1000);
    assert.deepEqual(r.multipleComparisons, { method: 'benjamini-hochberg', comparisons: 1 });
    const bad = await request('PATCH', envPath('/experiments/ref'), { token: W(), body: { instructions: [
      { kind: 'updateAnalysis', analysisConfig: { alpha: 0.1 } }] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /`analysisConfig.alpha` is not an option/);
    const badCreate = await request('POST', envPath('/experiments'), { token: W(), body: { key: 'x', flagKey: 'ref-flag',
      metrics: [{ key: 'ref-buy' }], analysis: 'magic' } });
    assert.equal(badCreate.status, 400);
    assert.match(badCreate.body.message, /`analysis` must be `bayesian`, `frequentist` or `sequential`/);
  });

  it('below the minimum sample: counts and means, no inference, and the reason', async () => {
    const it0 = await experiment('few', [{ key: 'few-buy', kind: 'custom', eventKey: 'few-event' }]);
    await send('few', it0, [60, 0], (v, i) => (i < 6 ? [1] : []));
    const r = await results('few');
    assert.equal(r.analysisStatus, 'insufficient_data');
    const [base, treat] = r.variations;
    assert.equal(base.units, 60);
    closeTo(base.conversionRate, 0.1, 1e-12);
    assert.equal(treat.units, 0);
    assert.equal(treat.status, 'insufficient_data');
    assert.match(treat.statusReason, /fewer than 100 units/);
    for (const field of ['probabilityToBeatBaseline', 'probabilityToBeBest', 'relativeDifference', 'pValue']) {
      assert.equal(treat[field], undefined, field);
      assert.equal(base[field], undefined, field);
    }
  });

  it('a percentile metric: exact order statistics over shards, compared like a mean', async () => {
    const p90 = { key: 'lat-p90', kind: 'custom', eventKey: 'lat-event', isNumeric: true, analysisType: 'percentile',
      percentileValue: 90, successCriteria: 'LowerThanBaseline', eventDefault: { disabled: true } };
    const it0 = await experiment('lat', [p90], { counterShards: 4, analysis: 'frequentist' });
    // Unit i of variation v has latency 100 + (i·37 mod 400) (+40 in the treatment, slower).
    const latency = (v, i) => 100 + ((i * 37) % 400) + 40 * v;
    const n = 400;
    await send('lat', it0, [n, n], (v, i) => [latency(v, i)]);
    const r = await results('lat');
    assert.equal(r.metric.percentile, 90);
    // Ranks as documented: ⌈0.9n⌉ and ⌈n(0.9 ∓ 1.96·√(0.09/n))⌉.
    const z = 1.959963984540054;
    const half = z * Math.sqrt(0.09 / n);
    const rank = (q) => Math.min(n, Math.max(1, Math.ceil(n * q)));
    for (const v of [0, 1]) {
      const sorted = Array.from({ length: n }, (_, i) => latency(v, i)).sort((a, b) => a - b);
      const row = r.variations[v];
      assert.equal(row.units, n);
      assert.deepEqual(row.percentile, { value: sorted[rank(0.9) - 1], lower: sorted[rank(0.9 - half) - 1], upper: sorted[rank(0.9 + half) - 1] });
    }
    const t = r.variations[1];
    assert.equal(t.status, 'ok');
    closeTo(t.relativeDifference.estimate, r.variations[1].percentile.value / r.variations[0].percentile.value - 1, 1e-12);
    assert.equal(t.better, false, 'a higher p90 latency is worse');
    assert.equal(t.significant, t.pValue < 0.05);
    assert.equal(t.significant, excludesZero(t.relativeDifference));
    // Shards written before the value buckets existed count them from their stored values.
    const forget = await request('POST', `${ctx.base}/_fault/forget-buckets/default/production/lat/${it0.id}/4`);
    assert.equal(forget.status, 204, JSON.stringify(forget.body));
    assert.deepEqual(await results('lat'), r);
    // More units after that are counted on top of the recounted buckets.
    await send('lat', it0, [n + 50, n + 50], (v, i) => [latency(v, i)]);
    const more = await results('lat');
    for (const v of [0, 1]) {
      const sorted = Array.from({ length: n + 50 }, (_, i) => latency(v, i)).sort((a, b) => a - b);
      assert.equal(more.variations[v].percentile.value, sorted[Math.ceil(0.9 * (n + 50)) - 1]);
    }
  });

  it('a median inside a long run of equal values is settled exactly', async () => {
    const p50 = { key: 'ties-p50', kind: 'custom', eventKey: 'ties-event', isNumeric: true, analysisType: 'percentile',
      percentileValue: 50, eventDefault: { disabled: true } };
    const it0 = await experiment('ties', [p50], { counterShards: 4 });
    // 80% of the units send exactly 250: the median and its bounds sit inside that run.
    const value = (v, i) => (i % 10 < 8 ? 250 : 100 + i + v);
    const n = 400;
    await send('ties', it0, [n, n], (v, i) => [value(v, i)]);
    const r = await results('ties');
    for (const v of [0, 1]) {
      assert.deepEqual(r.variations[v].percentile, { value: 250, lower: 250, upper: 250 });
    }
    // No spread around the median and under 1000 units: gbstats finds no variance, nor do we.
    assert.equal(r.variations[1].status, 'not_comparable');
    assert.match(r.variations[1].statusReason, /no spread around it/);
  });
});

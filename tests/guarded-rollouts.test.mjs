// Guarded rollouts end to end: LaunchDarkly's Node server SDK gets the flag from the Worker,
// evaluates the rollout's stage rollout itself and sends its exposures and error events to the
// Worker; the rollout's object checks every second (checkIntervalSeconds: 1) and decides. A
// broken test variation is rolled back by the Worker (the flag serves the control again, one
// audit entry, one signed webhook to a local receiver); one with no effect advances through its
// stages and completes. Nothing here waits for a fixed time: each step polls for what the
// product does, within a deadline.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { init } from '@launchdarkly/node-server-sdk';
import { useWorker, uid, request, drain } from './support/worker.mjs';
import { conformance as conforms } from './support/conformance.mjs';

const ctx = useWorker();
const SEMANTIC = { 'Content-Type': 'application/json; domain-model=launchdarkly.semanticpatch' };
const SECRET = 'whsec-test-secret';

/** A local webhook receiver: every POST's headers and body. */
function receiver() {
  const got = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    got.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
    res.writeHead(200).end('ok');
  });
  return { server, got };
}

async function until(what, fn, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last.done) return last.value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms: ${JSON.stringify(last?.value)?.slice(0, 2000)}`);
}

describe('guarded rollouts', () => {
  const hooks = receiver();
  let client;
  let api;
  let doc;

  before(async () => {
    await new Promise((r) => hooks.server.listen(0, '127.0.0.1', r));
    api = (method, path, body, headers) => request(method, `${ctx.base}/api/v2${path}`, { token: ctx.creds.API_TOKEN, body, headers });
    const hook = await api('POST', '/webhooks', { url: `http://127.0.0.1:${hooks.server.address().port}/ld`, secret: SECRET, name: 'test' });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    assert.equal(hook.body.secret, SECRET);
    const metric = await api('POST', '/metrics/default', { key: 'checkout-error', kind: 'custom', eventKey: 'checkout-error',
      successCriteria: 'LowerThanBaseline', randomizationUnits: ['user'] });
    assert.equal(metric.status, 201, JSON.stringify(metric.body));
    doc = (await request('GET', `${ctx.base}/api/v2/openapi.json`)).body;
    client = init(ctx.creds.SDK_KEY, {
      baseUri: ctx.base, streamUri: ctx.base, eventsUri: ctx.base, stream: true, sendEvents: true,
      logger: { debug() {}, info() {}, warn() {}, error: (...a) => console.error(...a) },
    });
    await client.waitForInitialization({ timeout: 10 });
  });

  after(async () => {
    client?.close();
    await new Promise((r) => hooks.server.close(r));
  });

  /** A flag serving variation 0 (the control) to everyone, and its variations' IDs. */
  async function flag() {
    const key = uid('guarded');
    const made = await api('POST', '/flags/default', { key, variations: [{ value: 'old' }, { value: 'new' }],
      environments: { production: { on: true, offVariation: 0, fallthrough: { variation: 0 } } } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return { key, control: made.body.variations[0]._id, test: made.body.variations[1]._id };
  }

  async function start(f, stages, options = {}) {
    const r = await api('PATCH', `/flags/default/${f.key}`, { environmentKey: 'production', instructions: [
      { kind: 'turnFlagOn' },
      { kind: 'updateFallthroughWithMeasuredRolloutV2', testVariationId: f.test, controlVariationId: f.control,
        randomizationUnit: 'user', checkIntervalSeconds: 1, stages, ...options,
        metrics: [{ metricKey: 'checkout-error', regressionThreshold: 0, onRegression: { notify: true, rollback: true } }] }] }, SEMANTIC);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const list = await api('GET', `/projects/default/flags/${f.key}/environments/production/measured-rollouts`);
    assert.equal(list.status, 200);
    assert.deepEqual(conforms(doc, 'MeasuredRolloutCollection', list.body), []);
    assert.equal(list.body.items.length, 1);
    return list.body.items[0]._id;
  }

  const path = (f, id) => `/projects/default/flags/${f.key}/environments/production/measured-rollouts/${id}`;

  /** Evaluate `n` new users with the SDK (once it serves the rollout) and send the errors
   * `errs(arm, k)` says for the k-th tracked unit of each arm; the served variations. */
  async function traffic(f, n, errs) {
    const version = (await api('GET', `/flags/default/${f.key}`)).body._version;
    await until('the SDK sees the rollout', async () => {
      const state = (await client.allFlagsState({ kind: 'user', key: 'probe' })).toJSON();
      return { done: state.$flagsState?.[f.key]?.version === version, value: state.$flagsState?.[f.key] };
    }, 15_000);
    const tracked = [0, 0];
    for (let i = 0; i < n; i += 1) {
      const user = { kind: 'user', key: uid('u') };
      const d = await client.variationDetail(f.key, user, 'none');
      if (!d.reason?.inExperiment) continue;
      const arm = d.variationIndex;
      tracked[arm] += 1;
      if (errs(arm, tracked[arm])) client.track('checkout-error', user);
    }
    await client.flush();
    await drain(ctx.base);
    return tracked;
  }

  it('rolls a test variation that doubles errors back to the rule it replaced, audited and signed', async () => {
    const f = await flag();
    const id = await start(f, [{ rolloutWeight: 50000, monitoringWindowMilliseconds: 600000 }]);
    const before = (await api('GET', `/flags/default/${f.key}`)).body._version;
    // The guarded rule is the rollout's while it runs.
    const human = await api('PATCH', `/flags/default/${f.key}`, { environmentKey: 'production',
      instructions: [{ kind: 'updateFallthroughVariationOrRollout', variationId: f.test }] }, SEMANTIC);
    assert.equal(human.status, 409, JSON.stringify(human.body));
    assert.match(human.body.message, new RegExp(`guarded_rollout_active.*${id}`));
    // The Cron watchdog (run on demand) finds the rollout's alarm set and leaves it.
    const cron = await fetch(`${ctx.base}/__scheduled?cron=*/5+*+*+*+*`);
    assert.equal(cron.status, 200, await cron.text());
    // 10 % errors in the control, 20 % in the test variation.
    const tracked = await traffic(f, 1000, (arm, k) => (arm === 0 ? k % 10 === 0 : k % 5 === 0));
    assert.ok(tracked[0] > 300 && tracked[1] > 300, `both arms tracked: ${tracked}`);
    const rolled = await until('the rollback', async () => {
      const r = await api('GET', path(f, id));
      return { done: r.body.status === 'rolledBack', value: r.body };
    });
    assert.deepEqual(conforms(doc, 'MeasuredRollout', rolled), []);
    assert.equal(rolled.endReason, 'regression');
    const m = rolled.metrics[0];
    assert.equal(m.status, 'regressed');
    assert.ok(m.last.eValue >= m.last.eThreshold || m.last.bound > 0, JSON.stringify(m));
    const flagNow = (await api('GET', `/flags/default/${f.key}`)).body;
    assert.deepEqual(flagNow.environments.production.fallthrough, { variation: 0 });
    assert.equal(flagNow._version, before + 1, 'one write rolled it back');
    // LaunchDarkly's flag-list filter finds it by its rollout's status.
    const listed = async (status) => (await api('GET', `/flags/default?filter=guardedRollout:${status},filterEnv:production`)).body.items.map((x) => x.key);
    assert.ok((await listed('rolledBack')).includes(f.key));
    assert.ok(!(await listed('monitoring')).includes(f.key));
    // Every SDK reader sees it: the SDK serves the control to everyone again.
    await until('the SDK serves the control', async () => {
      const values = await Promise.all(Array.from({ length: 20 }, () => client.variation(f.key, { kind: 'user', key: uid('after') }, 'none')));
      return { done: values.every((v) => v === 'old'), value: values };
    }, 15_000);
    // One audit entry of the rollback, POSTed once, signed as LaunchDarkly signs.
    const entries = await until('the rollback webhook', async () => {
      const mine = hooks.got.map((h) => ({ ...h, entry: JSON.parse(h.body) })).filter((h) => h.entry.measuredRollout?._id === id);
      return { done: mine.some((h) => h.entry.measuredRollout.transition === 'rolledBack'), value: mine };
    }, 15_000);
    const back = entries.filter((h) => h.entry.measuredRollout.transition === 'rolledBack');
    assert.equal(back.length, 1, 'one webhook for the rollback');
    const [{ headers, body, entry }] = back;
    assert.equal(headers['x-ld-signature'], createHmac('sha256', SECRET).update(body).digest('hex'));
    assert.equal(entry.accesses[0].action, 'stopMeasuredRolloutOnFlagFallthrough');
    assert.equal(entry.accesses[0].resource, `proj/default:env/production:flag/${f.key}`);
    assert.equal(entry.previousVersion, before);
    assert.equal(entry.currentVersion, before + 1);
    assert.match(entry.comment, /^Automatic rollback: checkout-error regressed at stage 1/);
    const events = (await api('GET', `${path(f, id)}/events`)).body;
    assert.deepEqual(conforms(doc, 'MeasuredRolloutEvents', events), []);
    assert.deepEqual(events.items.map((e) => e.kind), ['started', 'rolledBack']);
    assert.ok(events.deliveries.some((d) => d.seq === 2 && d.status === 200), JSON.stringify(events.deliveries));
    const series = (await api('GET', `${path(f, id)}/series`)).body;
    assert.deepEqual(conforms(doc, 'MeasuredRolloutSeries', series), []);
    assert.ok(series.items.length >= 1);
  });

  it('keeps checking after a missed alarm: the Cron watchdog re-arms the rollout object', async () => {
    const f = await flag();
    const id = await start(f, [{ rolloutWeight: 50000, monitoringWindowMilliseconds: 600000 }]);
    const checks = async () => (await api('GET', `${path(f, id)}/series`)).body.totalCount;
    await until('the first checks', async () => ({ done: (await checks()) >= 2, value: await checks() }), 30_000);
    // Lose the alarm (a test hook). A check already running when it is dropped sets the next one
    // again (the alarm is set before the work), so drop it until three intervals pass without a check.
    let stopped = false;
    for (let attempt = 0; attempt < 5 && !stopped; attempt++) {
      const dropped = await fetch(`${ctx.base}/_fault/drop-rollout-alarm/default/production/${f.key}`, { method: 'POST' });
      assert.equal(dropped.status, 204, await dropped.text());
      const before = await checks();
      await new Promise((r) => setTimeout(r, 3_500));
      stopped = (await checks()) === before;
    }
    assert.ok(stopped, 'no check runs while the alarm is missing');
    const still = await checks();
    assert.equal((await api('GET', path(f, id))).body.status, 'monitoring');
    const cron = await fetch(`${ctx.base}/__scheduled?cron=*/5+*+*+*+*`);
    assert.equal(cron.status, 200, await cron.text());
    await until('checks after the watchdog', async () => ({ done: (await checks()) > still, value: await checks() }), 30_000);
    const stop = await api('PATCH', `/flags/default/${f.key}`, { environmentKey: 'production',
      instructions: [{ kind: 'stopMeasuredRolloutOnFlagFallthrough', variationId: f.control }] }, SEMANTIC);
    assert.equal(stop.status, 200, JSON.stringify(stop.body));
  });

  it('advances a rollout with no effect through its stages and completes it at 100 %', async () => {
    const f = await flag();
    const id = await start(f, [
      { rolloutWeight: 25000, monitoringWindowMilliseconds: 2000, minUnitsPerArm: 30 },
      { rolloutWeight: 50000, monitoringWindowMilliseconds: 2000, minUnitsPerArm: 30 },
    ]);
    const tracked = await traffic(f, 300, (arm, k) => k % 10 === 0);
    assert.ok(tracked[0] >= 30 && tracked[1] >= 30, `both arms tracked: ${tracked}`);
    const done = await until('completion', async () => {
      const r = await api('GET', path(f, id));
      return { done: ['completed', 'rolledBack'].includes(r.body.status), value: r.body };
    });
    assert.equal(done.status, 'completed', JSON.stringify(done.events));
    assert.deepEqual(done.events.map((e) => e.kind).filter((k) => k !== 'held' && k !== 'resumed'), ['started', 'stage.advanced', 'completed']);
    const flagNow = (await api('GET', `/flags/default/${f.key}`)).body;
    assert.deepEqual(flagNow.environments.production.fallthrough, { variation: 1 });
    await until('the SDK serves the test variation', async () => {
      const v = await client.variation(f.key, { kind: 'user', key: uid('after') }, 'none');
      return { done: v === 'new', value: v };
    }, 15_000);
    // A finished rollout takes no more instructions; a reader token cannot act at all.
    const late = await api('PATCH', path(f, id), { instructions: [{ kind: 'rollBack' }] });
    assert.equal(late.status, 409, JSON.stringify(late.body));
    const reader = await request('PATCH', `${ctx.base}/api/v2${path(f, id)}`, { token: ctx.creds.API_READER_TOKEN, body: { instructions: [{ kind: 'pause' }] } });
    assert.equal(reader.status, 403);
  });
  it('holds a stage still short of units at its most duration (one stalled transition, notified), or rolls it back when told to', async () => {
    // Far more units per arm than the test sends; the stage may wait 3 s for them.
    const stage = { rolloutWeight: 25000, monitoringWindowMilliseconds: 1000, minUnitsPerArm: 1000, maxDurationMilliseconds: 3000 };
    const held = await flag();
    const heldId = await start(held, [stage]);
    await traffic(held, 20, () => false);
    const stalled = await until('the stalled transition', async () => {
      const r = await api('GET', path(held, heldId));
      return { done: r.body.events?.some((e) => e.kind === 'stalled'), value: r.body };
    });
    assert.equal(stalled.status, 'monitoring', 'hold (the default) keeps holding');
    await until('the stalled webhook', async () => {
      const mine = hooks.got.map((h) => JSON.parse(h.body)).filter((e) => e.measuredRollout?._id === heldId);
      return { done: mine.some((e) => e.measuredRollout.transition === 'stalled'), value: mine };
    }, 15_000);
    const again = (await api('GET', path(held, heldId))).body;
    assert.equal(again.events.filter((e) => e.kind === 'stalled').length, 1, 'one stalled transition per stage, however many checks');
    assert.equal((await api('PATCH', path(held, heldId), { instructions: [{ kind: 'rollBack' }] })).status, 200);

    const f = await flag();
    const id = await start(f, [stage], { onInsufficientUnits: 'rollback' });
    const before = (await api('GET', `/flags/default/${f.key}`)).body._version;
    await traffic(f, 20, () => false);
    const rolled = await until('the rollback', async () => {
      const r = await api('GET', path(f, id));
      return { done: r.body.status === 'rolledBack', value: r.body };
    });
    assert.equal(rolled.endReason, 'insufficient units');
    const flagNow = (await api('GET', `/flags/default/${f.key}`)).body;
    assert.deepEqual(flagNow.environments.production.fallthrough, { variation: 0 }, 'the rule it replaced');
    assert.equal(flagNow._version, before + 1, 'one write rolled it back');
  });
});

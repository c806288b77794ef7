// Targeting over the REST API against `wrangler dev`: a flag with rules, prerequisites and
// context targets is stored as given (rule `_id`s generated and kept), evaluated by the Worker's
// client-side route with LaunchDarkly's reasons, and what the model does not hold is refused
// with a 400 naming the field, never dropped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { post, request, uid, useWorker } from './support/worker.mjs';

const ctx = useWorker();
const api = (path) => `${ctx.base}/api/v2${path}`;
const W = () => ctx.creds.API_TOKEN;

async function evalx(context) {
  const r = await request('REPORT', `${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/context?withReasons=true`, { body: context });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

describe('targeting rules over the REST API', () => {
  it('stores rules, prerequisites and context targets, and evaluates them as LaunchDarkly does', async () => {
    const gate = { key: 'gate', clientSideAvailability: { usingEnvironmentId: true },
      environments: { production: { on: true, fallthrough: { variation: 0 }, offVariation: 1,
        rules: [{ clauses: [{ contextKind: 'user', attribute: 'key', op: 'in', values: ['blocked'] }], variation: 1 }] } } };
    assert.equal((await request('POST', api('/flags/default'), { token: W(), body: gate })).status, 201);
    const checkout = {
      key: 'new-checkout', clientSideAvailability: { usingEnvironmentId: true },
      variations: [{ value: 'old' }, { value: 'new' }, { value: 'beta' }],
      environments: { production: {
        on: true, offVariation: 0, fallthrough: { variation: 0 },
        prerequisites: [{ key: 'gate', variation: 0 }],
        contextTargets: [{ contextKind: 'org', values: ['acme'], variation: 2 }],
        rules: [
          { description: 'Germany on mobile', clauses: [
            { contextKind: 'user', attribute: 'country', op: 'in', values: ['DE'] },
            { contextKind: 'user', attribute: '/device/os', op: 'in', values: ['ios', 'android'] }], variation: 1 },
          { _id: 'staff', clauses: [{ contextKind: 'user', attribute: 'email', op: 'endsWith', values: ['@example.com'] }], variation: 2 },
        ] } },
    };
    const created = await request('POST', api('/flags/default'), { token: W(), body: checkout });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const rules = created.body.environments.production.rules;
    assert.match(rules[0]._id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a generated rule ID');
    assert.equal(rules[1]._id, 'staff', 'a given rule ID is kept');
    assert.equal(rules[0].description, 'Germany on mobile');
    const got = await request('GET', api('/flags/default/new-checkout'), { token: W() });
    assert.deepEqual(got.body.environments.production.rules, rules, 'stored as answered');

    const de = await evalx({ kind: 'user', key: 'u1', country: 'DE', device: { os: 'ios' } });
    assert.deepEqual([de['new-checkout'].value, de['new-checkout'].reason], ['new', { kind: 'RULE_MATCH', ruleIndex: 0, ruleId: rules[0]._id }]);
    const staff = await evalx({ kind: 'user', key: 'u2', email: 'ann@example.com' });
    assert.deepEqual(staff['new-checkout'].reason, { kind: 'RULE_MATCH', ruleIndex: 1, ruleId: 'staff' });
    const org = await evalx({ kind: 'multi', user: { key: 'u3' }, org: { key: 'acme' } });
    assert.deepEqual([org['new-checkout'].value, org['new-checkout'].reason], ['beta', { kind: 'TARGET_MATCH' }]);
    const blocked = await evalx({ kind: 'user', key: 'blocked', country: 'DE', device: { os: 'ios' } });
    assert.deepEqual([blocked['new-checkout'].value, blocked['new-checkout'].reason], ['old', { kind: 'PREREQUISITE_FAILED', prerequisiteKey: 'gate' }]);
    const other = await evalx({ kind: 'user', key: 'u4', country: 'FR' });
    assert.deepEqual(other['new-checkout'].reason, { kind: 'FALLTHROUGH' });

    // A JSON Patch adding a rule in front keeps the other rules' IDs and bumps the version.
    const patched = await request('PATCH', api('/flags/default/new-checkout'), { token: W(), body: [
      { op: 'add', path: '/environments/production/rules/0', value: { clauses: [{ contextKind: 'user', attribute: 'key', op: 'in', values: ['vip'] }], variation: 2 } }] });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const after = patched.body.environments.production.rules;
    assert.deepEqual(after.slice(1).map((r) => r._id), rules.map((r) => r._id));
    assert.equal(patched.body._version, created.body._version + 1);
  });

  it('refuses what the model does not hold, naming the field', async () => {
    const cases = [
      [{ rulez: [] }, /`environments.production` is invalid: unknown field `rulez`/],
      [{ rules: [{ clauses: [{ attribute: 'a', op: 'sounds like', values: ['x'] }], variation: 0 }] }, /rules\[0\]\.clauses\[0\]`\.op must be one of/],
      [{ rules: [{ clauses: [{ contextKind: 'user', attribute: '/a~2', op: 'in', values: ['x'] }], variation: 0 }] }, /is not a valid attribute reference/],
      [{ rules: [{ clauses: [{ attribute: 'a', op: 'in', values: ['x'] }], variation: 0, weight: 3 }] }, /rules\[0\]\.weight` is not a field of a rule/],
      [{ rules: [{ clauses: [{ attribute: '', op: 'segmentMatch', values: ['nowhere'] }], variation: 0 }] }, /`environments.production.rules\[0\]`: segment `nowhere` does not exist in environment `production`/],
    ];
    for (const [production, message] of cases) {
      const r = await request('POST', api('/flags/default'), { token: W(), body: { key: 'refused', environments: { production } } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.message, message);
    }
    assert.equal((await request('GET', api('/flags/default/refused'), { token: W() })).status, 404, 'nothing was stored');
  });
});

describe('segments over the REST API', () => {
  const segments = (path = '') => api(`/segments/default/production${path}`);

  it('creates, patches and deletes segments, which flags target by segmentMatch', async () => {
    const created = await request('POST', segments(), { token: W(), body: { key: 'staff', name: 'Staff', included: ['ann'],
      includedContexts: [{ contextKind: 'org', values: ['acme'] }],
      rules: [{ clauses: [{ contextKind: 'user', attribute: 'email', op: 'endsWith', values: ['@example.com'] }], weight: 100000 }] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.version, 1);
    assert.match(created.body.rules[0]._id, /^[0-9a-f-]{36}$/);
    assert.equal(created.body._links.self.href, '/api/v2/segments/default/production/staff');
    const dup = await request('POST', segments(), { token: W(), body: { key: 'staff' } });
    assert.equal(dup.status, 409, JSON.stringify(dup.body));
    const bad = await request('POST', segments(), { token: W(), body: { key: 'big', unbounded: true } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /`unbounded`: big segments are not supported/);
    const cycle = await request('POST', segments(), { token: W(), body: { key: 'loop',
      rules: [{ clauses: [{ attribute: 'segmentMatch', op: 'segmentMatch', values: ['loop'] }] }] } });
    assert.equal(cycle.status, 400);
    assert.match(cycle.body.message, /cannot name itself/);

    const flag = { key: 'staff-banner', clientSideAvailability: { usingEnvironmentId: true },
      environments: { production: { on: true, offVariation: 1, fallthrough: { variation: 1 },
        rules: [{ _id: 'staff-rule', clauses: [{ attribute: 'segmentMatch', op: 'segmentMatch', values: ['staff'] }], variation: 0 }] } } };
    assert.equal((await request('POST', api('/flags/default'), { token: W(), body: flag })).status, 201);
    const served = async (context) => (await evalx(context))['staff-banner'];
    assert.deepEqual((await served({ kind: 'user', key: 'ann' })).reason, { kind: 'RULE_MATCH', ruleIndex: 0, ruleId: 'staff-rule' });
    assert.equal((await served({ kind: 'user', key: 'bob', email: 'bob@example.com' })).variation, 0, 'by the segment rule');
    assert.equal((await served({ kind: 'multi', user: { key: 'x' }, org: { key: 'acme' } })).variation, 0, 'by the org list');
    assert.equal((await served({ kind: 'user', key: 'eve', email: 'eve@elsewhere.org' })).variation, 1);

    // Excluding bob is a JSON Patch that bumps the version; evaluation sees it at once.
    const patched = await request('PATCH', segments('/staff'), { token: W(), body: [{ op: 'add', path: '/excluded/-', value: 'bob' }] });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.version, 2);
    assert.equal((await served({ kind: 'user', key: 'bob', email: 'bob@example.com' })).variation, 1, 'excluded');
    const listed = await request('GET', segments(), { token: ctx.creds.API_READER_TOKEN });
    assert.deepEqual(listed.body.items.map((s) => s.key), ['staff']);
    assert.equal((await request('PATCH', segments('/staff'), { token: ctx.creds.API_READER_TOKEN, body: [] })).status, 403, 'readers cannot write');

    // LaunchDarkly's semantic patch, on the segment and on the flag.
    const semantic = { 'Content-Type': 'application/json; domain-model=launchdarkly.semanticpatch' };
    const added = await request('PATCH', segments('/staff'), { token: W(), headers: semantic, body: { instructions: [
      { kind: 'addIncludedTargets', values: ['carl'] }, { kind: 'removeExcludedTargets', values: ['bob'] }] } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual([added.body.version, added.body.included, added.body.excluded], [3, ['ann', 'carl'], []]);
    assert.equal((await served({ kind: 'user', key: 'carl' })).variation, 0);
    const off = await request('PATCH', api('/flags/default/staff-banner'), { token: W(), headers: semantic, body: {
      environmentKey: 'production', comment: 'pause', instructions: [{ kind: 'turnFlagOff' }] } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.deepEqual((await served({ kind: 'user', key: 'ann' })).reason, { kind: 'OFF' });
    const variationIds = off.body.variations.map((v) => v._id);
    assert.ok(variationIds.every((id) => /^[0-9a-f-]{36}$/.test(id)), `variations get IDs: ${variationIds}`);
    const targeted = await request('PATCH', api('/flags/default/staff-banner'), { token: W(), headers: semantic, body: {
      environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }, { kind: 'addTargets', values: ['eve'], variationId: variationIds[0] },
        { kind: 'updateFallthroughVariationOrRollout', rolloutWeights: { [variationIds[0]]: 0, [variationIds[1]]: 100000 } }] } });
    assert.equal(targeted.status, 200, JSON.stringify(targeted.body));
    assert.deepEqual((await served({ kind: 'user', key: 'eve' })).reason, { kind: 'TARGET_MATCH' });
    assert.equal((await served({ kind: 'user', key: 'zed' })).variation, 1, 'the fallthrough rollout');
    assert.equal((await request('PATCH', api('/flags/default/staff-banner'), { token: W(), headers: semantic, body: {
      environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }] } })).status, 200);
    const unknown = await request('PATCH', api('/flags/default/staff-banner'), { token: W(), headers: semantic, body: {
      environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }, { kind: 'launchRocket' }] } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /`instructions\[1\]\.kind`: `launchRocket` is not an instruction here/);
    assert.deepEqual((await served({ kind: 'user', key: 'ann' })).reason, { kind: 'OFF' }, 'all instructions or none');

    const inUse = await request('DELETE', segments('/staff'), { token: W() });
    assert.equal(inUse.status, 409, JSON.stringify(inUse.body));
    assert.match(inUse.body.message, /used by flag `staff-banner`/);
    assert.equal((await request('PATCH', api('/flags/default/staff-banner'), { token: W(), body: [{ op: 'remove', path: '/environments/production/rules/0' }] })).status, 200);
    assert.equal((await request('DELETE', segments('/staff'), { token: W() })).status, 204);
    assert.equal((await request('GET', segments('/staff'), { token: W() })).status, 404);
    assert.equal((await request('GET', api('/segments/default/nowhere'), { token: W() })).status, 404, 'unknown environment');
  });
});

describe('an experiment on a targeting rule', () => {
  it('counts only the units that rule served inside the experiment, exactly', async () => {
    const envPath = (path) => api(`/projects/default/environments/production${path}`);
    assert.equal((await request('POST', api('/metrics/default'), { token: W(), body: { key: 'de-buy', kind: 'custom', eventKey: 'de-buy' } })).status, 201);
    // Germany is the experiment's audience; France runs a rollout of its own that also reports
    // `inExperiment`, and so does the fallthrough: neither may count for the rule's experiment.
    const experimentRollout = (seed) => ({ rollout: { kind: 'experiment', seed, contextKind: 'user', variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } });
    const flag = { key: 'de-offer', clientSideAvailability: { usingEnvironmentId: true }, variations: [{ value: 'control' }, { value: 'offer' }],
      environments: { production: { on: true, offVariation: 0, fallthrough: experimentRollout(7),
        rules: [
          { _id: 'de', clauses: [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['DE'] }], variation: 0 },
          { _id: 'fr', clauses: [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['FR'] }], ...experimentRollout(8) },
        ] } } };
    const before = await request('POST', api('/flags/default'), { token: W(), body: flag });
    assert.equal(before.status, 201, JSON.stringify(before.body));
    const refused = await request('POST', envPath('/experiments'), { token: W(), body: { key: 'de-exp', flagKey: 'de-offer', ruleId: 'it', metrics: [{ key: 'de-buy' }] } });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(refused.body.message, /`ruleId`: flag `de-offer` has no rule `it` in environment `production` \(its rules: `de`, `fr`\)/);
    const created = await request('POST', envPath('/experiments'), { token: W(), body: { key: 'de-exp', flagKey: 'de-offer', ruleId: 'de', metrics: [{ key: 'de-buy' }] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.ruleId, 'de');
    const started = await request('PATCH', envPath('/experiments/de-exp'), { token: W(), body: { instructions: [{ kind: 'startIteration' }] } });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.currentIteration.ruleId, 'de');
    // Starting made the rule serve the experiment rollout of the treatments.
    const stored = (await request('GET', api('/flags/default/de-offer'), { token: W() })).body.environments.production;
    assert.equal(stored.rules[0].rollout.kind, 'experiment');
    assert.deepEqual(stored.rules[0].rollout.variations.map((s) => [s.variation, s.weight]), [[0, 50000], [1, 50000]]);
    assert.deepEqual(stored.rules[1], before.body.environments.production.rules[1], 'the other rule is untouched');
    assert.deepEqual(stored.fallthrough, before.body.environments.production.fallthrough, 'the fallthrough is untouched');

    // Visitors evaluate through the Worker (as the browser SDK does) and report each evaluation
    // with the reason they were given, as LaunchDarkly's SDKs do for experiment evaluations.
    const at = Date.now();
    const expected = { exposed: [0, 0], converted: [0, 0], othersConverting: 0 };
    const events = [];
    for (const country of ['DE', 'FR', 'US']) {
      for (let i = 0; i < 40; i++) {
        const context = { kind: 'user', key: uid(country), country };
        const e = (await evalx(context))['de-offer'];
        assert.equal(e.reason.inExperiment, true, `${country}: every visitor is in some experiment here`);
        assert.equal(e.reason.ruleId, { DE: 'de', FR: 'fr', US: undefined }[country]);
        events.push({ kind: 'feature', key: 'de-offer', creationDate: at, version: e.version, variation: e.variation, value: e.value, default: 'control', reason: e.reason, context });
        const converts = i % 3 === 0;
        if (converts) events.push({ kind: 'custom', key: 'de-buy', creationDate: at + 1, context });
        if (country === 'DE') {
          expected.exposed[e.variation] += 1;
          if (converts) expected.converted[e.variation] += 1;
        } else if (converts) expected.othersConverting += 1;
      }
    }
    for (let i = 0; i < events.length; i += 50) {
      const r = await post(`${ctx.base}/events/bulk/${ctx.creds.CLIENT_SIDE_ID}`, events.slice(i, i + 50));
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.deepEqual(r.body.rejected, []);
    }
    const results = await request('GET', envPath('/experiments/de-exp/results?metric=de-buy'), { token: ctx.creds.API_READER_TOKEN });
    assert.equal(results.status, 200, JSON.stringify(results.body));
    assert.equal(results.body.ruleId, 'de', 'the results say which rule ran');
    assert.deepEqual(results.body.variations.map((v) => v.exposedUnits), expected.exposed);
    assert.deepEqual(results.body.variations.map((v) => v.conversions), expected.converted);
    assert.ok(expected.exposed[0] > 0 && expected.exposed[1] > 0, `both arms served: ${expected.exposed}`);
    assert.equal(results.body.health.unexposedConversions, expected.othersConverting, 'France and the fallthrough are outside the experiment');
  });
});

// Targeting over the REST API against `wrangler dev`: a flag with rules, prerequisites and
// context targets is stored as given (rule `_id`s generated and kept), evaluated by the Worker's
// client-side route with LaunchDarkly's reasons, and what the model does not hold is refused
// with a 400 naming the field, never dropped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, useWorker } from './support/worker.mjs';

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
      [{ rules: [{ clauses: [{ attribute: '', op: 'segmentMatch', values: ['s'] }], variation: 0 }] }, /`segmentMatch` needs segments/],
    ];
    for (const [production, message] of cases) {
      const r = await request('POST', api('/flags/default'), { token: W(), body: { key: 'refused', environments: { production } } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.message, message);
    }
    assert.equal((await request('GET', api('/flags/default/refused'), { token: W() })).status, 404, 'nothing was stored');
  });
});

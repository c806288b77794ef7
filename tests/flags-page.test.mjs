// The flags page in headless Chromium against `wrangler dev`: create a segment with a rule, give a
// flag a rule on that segment, turn it on, and see the Worker serve it; a bad clause shows the
// API's message next to that clause; a reader sees everything and can change nothing.
// Screenshot: test-artifacts/flags.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useWorker, request, apiOk } from './support/worker.mjs';
import { launch, ARTIFACTS } from './support/browser.mjs';

const ctx = useWorker();
const ok = (method, path, body) => apiOk(ctx, method, path, body);

async function evalx(context) {
  const r = await request('REPORT', `${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/context?withReasons=true`, { body: context });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body['fp-banner'];
}

describe('flags page', () => {
  let browser;
  let page;
  const errors = [];
  const signIn = async (token, role) => {
    await page.goto(`${ctx.base}/flags.html`);
    await page.fill('#token', token);
    await page.click('#token-form button[type="submit"]');
    await page.locator('#role', { hasText: role }).waitFor();
  };
  before(async () => {
    await ok('POST', '/flags/default', { key: 'fp-banner', name: 'FP banner', clientSideAvailability: { usingEnvironmentId: true },
      variations: [{ value: 'plain', name: 'Plain' }, { value: 'fancy', name: 'Fancy' }],
      environments: { production: { on: false, offVariation: 0, fallthrough: { variation: 0 } } } });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => { await browser?.close(); });

  it('creates a segment, targets it from a flag rule, and the Worker serves it', async () => {
    await signIn(ctx.creds.API_TOKEN, 'writer');
    await page.click('#create-segment');
    await page.fill('#segment-name', 'FP staff');
    assert.equal(await page.inputValue('#segment-key'), 'fp-staff');
    await page.fill('#segment-included', 'ann\nbea');
    await page.click('#add-segment-rule');
    const clause = page.locator('#segment-rules tbody tr').first();
    await clause.locator('[data-part="attribute"]').fill('email');
    await clause.locator('[data-part="op"]').selectOption('endsWith');
    await clause.locator('[data-part="values"]').fill('@example.com');
    await page.click('#save-segment');
    await page.locator('#segments tr[data-key="fp-staff"]').waitFor();
    const segment = await ok('GET', '/segments/default/production/fp-staff');
    assert.deepEqual([segment.included, segment.rules[0].clauses[0].op, segment.rules[0].clauses[0].values], [['ann', 'bea'], 'endsWith', ['@example.com']]);

    await page.click('#flags tr[data-key="fp-banner"] button[aria-label="Targeting of fp-banner"]');
    await page.check('#flag-on');
    await page.click('#add-rule');
    const rule = page.locator('#rules fieldset.rule').first();
    await rule.locator('[data-part="description"]').fill('Staff see it first');
    await rule.locator('tbody [data-part="op"]').selectOption('segmentMatch');
    await rule.locator('tbody [data-part="segment"]').selectOption('fp-staff');
    await rule.locator('[data-part="variation"]').selectOption('1');
    await page.fill('#targets textarea[data-variation="1"]', 'vip');
    await page.screenshot({ path: join(ARTIFACTS, 'flags.png'), fullPage: true });
    await page.click('#save-flag');
    await page.locator('#flags tr[data-key="fp-banner"] .badge.running').waitFor();
    const flag = await ok('GET', '/flags/default/fp-banner');
    const env = flag.environments.production;
    assert.equal(env.rules[0].description, 'Staff see it first');
    assert.deepEqual(env.rules[0].clauses.map((c) => [c.op, c.values]), [['segmentMatch', ['fp-staff']]]);
    assert.deepEqual(env.targets, [{ variation: 1, contextKind: 'user', values: ['vip'] }]);
    assert.deepEqual((await evalx({ kind: 'user', key: 'cat', email: 'cat@example.com' })).reason, { kind: 'RULE_MATCH', ruleIndex: 0, ruleId: env.rules[0]._id });
    assert.equal((await evalx({ kind: 'user', key: 'vip' })).value, 'fancy');
    assert.equal((await evalx({ kind: 'user', key: 'dan', email: 'dan@elsewhere.org' })).value, 'plain');

    // Turning it off from the list is one click (LaunchDarkly's semantic patch).
    await page.click('#flags tr[data-key="fp-banner"] button[aria-label="Turn fp-banner off"]');
    await page.locator('#flags tr[data-key="fp-banner"] button[aria-label="Turn fp-banner on"]').waitFor();
    assert.deepEqual((await evalx({ kind: 'user', key: 'vip' })).reason, { kind: 'OFF' });
    // A segment a flag uses cannot be deleted: the API's message is shown in the row.
    await page.click('#segments tr[data-key="fp-staff"] button[aria-label="Delete segment fp-staff"]');
    assert.match(await page.locator('#segments tr[data-key="fp-staff"] .field-error').innerText(), /used by flag `fp-banner`/);
  });

  it('shows the API\'s message next to the clause it names, and stores nothing', async () => {
    await page.click('#flags tr[data-key="fp-banner"] button[aria-label="Targeting of fp-banner"]');
    await page.click('#add-rule');
    const bad = page.locator('#rules fieldset.rule').nth(1);
    await bad.locator('tbody [data-part="attribute"]').fill('path');
    await bad.locator('tbody [data-part="op"]').selectOption('matches');
    await bad.locator('tbody [data-part="values"]').fill('(');
    await page.click('#save-flag');
    const note = page.locator('#flag-form .field-error');
    await note.waitFor();
    assert.match(await note.innerText(), /rules\[1\]\.clauses\[0\]`\.values: `\(` is not a valid regular expression/);
    assert.equal(await bad.locator('tbody [data-part="values"]').getAttribute('aria-invalid'), 'true', 'the values of that clause are marked');
    assert.equal((await ok('GET', '/flags/default/fp-banner')).environments.production.rules.length, 1, 'nothing stored');
    await page.click('#cancel-flag');
  });

  it('is read-only for a reader token', async () => {
    await signIn(ctx.creds.API_READER_TOKEN, 'reader');
    await page.locator('#flags tr[data-key="fp-banner"]').waitFor();
    assert.equal(await page.locator('#create-segment').isVisible(), false);
    assert.equal(await page.locator('#flags tr[data-key="fp-banner"] button', { hasText: 'Turn' }).isVisible(), false);
    await page.click('#flags tr[data-key="fp-banner"] button[aria-label="Targeting of fp-banner"]');
    assert.equal(await page.locator('#flag-on').isDisabled(), true, 'the dialog\'s controls are disabled');
    assert.equal(await page.locator('#flags tr[data-key="fp-banner"] button[aria-label="Targeting of fp-banner"]').innerText(), 'View targeting');
    assert.equal(await page.locator('#save-flag').isVisible(), false);
    await page.click('#cancel-flag');
    assert.deepEqual(errors, []);
  });
});

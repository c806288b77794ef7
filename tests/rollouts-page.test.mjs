// The guarded-rollouts page in headless Chromium against `wrangler dev`: a writer starts a guarded
// rollout from the page (one 50 % stage, a lower-is-better error metric, checks every second),
// LaunchDarkly's Node server SDK sends traffic whose test arm has twice the control's errors, and
// the page shows the Worker's rollback live (status, banner, the guardrail's chart, the timeline).
// On a second flag the writer pauses and rolls back with the buttons; a reader sees no buttons.
// Screenshot: test-artifacts/rollouts.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { init } from '@launchdarkly/node-server-sdk';
import { useWorker, uid, request, apiOk, drain } from './support/worker.mjs';
import { launch, ARTIFACTS } from './support/browser.mjs';

const ctx = useWorker();
const ok = (method, path, body) => apiOk(ctx, method, path, body);
const SEMANTIC = { 'Content-Type': 'application/json; domain-model=launchdarkly.semanticpatch' };

describe('guarded rollouts page', () => {
  let browser;
  let page;
  let client;
  const errors = [];
  const signIn = async (token, role) => {
    await page.goto(`${ctx.base}/rollouts.html`);
    await page.fill('#token', token);
    await page.click('#token-form button[type="submit"]');
    await page.locator('#role', { hasText: role }).waitFor();
  };
  const flag = async (key) => ok('POST', '/flags/default', { key, name: key, variations: [{ value: 'old' }, { value: 'new' }],
    environments: { production: { on: true, offVariation: 0, fallthrough: { variation: 0 } } } });

  before(async () => {
    await ok('POST', '/metrics/default', { key: 'page-error', name: 'Page errors', kind: 'custom', eventKey: 'page-error', successCriteria: 'LowerThanBaseline' });
    await flag('rp-checkout');
    await flag('rp-banner');
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.on('pageerror', (e) => errors.push(e.message));
    client = init(ctx.creds.SDK_KEY, { baseUri: ctx.base, streamUri: ctx.base, eventsUri: ctx.base, stream: true,
      logger: { debug() {}, info() {}, warn() {}, error: (...a) => console.error(...a) } });
    await client.waitForInitialization({ timeout: 10 });
  });
  after(async () => { client?.close(); await browser?.close(); });

  it('starts a rollout from the page and shows the Worker rolling it back', async () => {
    await signIn(ctx.creds.API_TOKEN, 'writer');
    await page.click('button[aria-label="Start a guarded rollout of rp-checkout"]');
    const stages = page.locator('#stages tbody tr');
    while (await stages.count() > 1) await stages.last().locator('button').click();
    await stages.first().locator('input[aria-label="Test percent"]').fill('50');
    await stages.first().locator('input[aria-label="Least minutes"]').fill('10');
    await page.fill('#interval', '1');
    await page.check('input[aria-label="Guard with page-error"]');
    await page.click('#save');
    await page.locator('#rollout-status', { hasText: 'monitoring' }).waitFor();
    const [r] = (await ok('GET', '/projects/default/flags/rp-checkout/environments/production/measured-rollouts')).items;
    assert.deepEqual([r.stages.length, r.stages[0].rolloutWeight, r.checkIntervalSeconds, r.metrics[0].metricKey], [1, 50000, 1, 'page-error']);

    // The SDK evaluates the stage rollout; the test arm errs twice as often.
    const version = (await ok('GET', '/flags/default/rp-checkout'))._version;
    for (let i = 0; i < 100 && (await client.allFlagsState({ kind: 'user', key: 'p' })).toJSON().$flagsState['rp-checkout']?.version !== version; i += 1) {
      await new Promise((res) => setTimeout(res, 100));
    }
    const tracked = [0, 0];
    for (let i = 0; i < 1000; i += 1) {
      const user = { kind: 'user', key: uid('rp') };
      const d = await client.variationDetail('rp-checkout', user, 'none');
      if (!d.reason?.inExperiment) continue;
      tracked[d.variationIndex] += 1;
      if (tracked[d.variationIndex] % (d.variationIndex === 0 ? 10 : 5) === 0) client.track('page-error', user);
    }
    await client.flush();
    await drain(ctx.base);
    await page.locator('#rollout-status', { hasText: 'rolledBack' }).waitFor({ timeout: 60_000 });
    await page.locator('#rollout-banner', { hasText: 'Automatic rollback: page-error regressed' }).waitFor();
    await page.locator('#rollout-events tr[data-kind="rolledBack"]').waitFor();
    const figure = page.locator('#guardrails figure[data-metric="page-error"]');
    assert.equal(await figure.getAttribute('data-status'), 'regressed');
    assert.ok(await figure.locator('polyline.estimate').count() === 1, 'the difference is charted');
    assert.ok(await page.locator('#rollout-actions button[data-act="rollBack"]').isDisabled(), 'nothing to act on once rolled back');
    await page.screenshot({ path: join(ARTIFACTS, 'rollouts.png'), fullPage: true });
    const f = await ok('GET', '/flags/default/rp-checkout');
    assert.deepEqual(f.environments.production.fallthrough, { variation: 0 });
  });

  it('pauses and rolls back with the buttons, and shows a reader no buttons', async () => {
    const test = (await ok('GET', '/flags/default/rp-banner')).variations[1]._id;
    const started = await request('PATCH', `${ctx.base}/api/v2/flags/default/rp-banner`, { token: ctx.creds.API_TOKEN, headers: SEMANTIC,
      body: { environmentKey: 'production', instructions: [{ kind: 'updateFallthroughWithMeasuredRolloutV2', testVariationId: test, metrics: [{ metricKey: 'page-error' }] }] } });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    await signIn(ctx.creds.API_TOKEN, 'writer');
    await page.click('button[aria-label="Watch the guarded rollout of rp-banner"]');
    await page.locator('#rollout-stage', { hasText: 'Stage 1 of 5: 1% test / 1% tracked control' }).waitFor();
    await page.click('#rollout-actions button[data-act="pause"]');
    await page.locator('#rollout-events tr[data-kind="paused"]').waitFor();
    await page.click('#rollout-actions button[data-act="rollBack"]');
    await page.locator('#rollout-status', { hasText: 'rolledBack' }).waitFor();
    const who = await page.locator('#rollout-events tr[data-kind="rolledBack"] td').nth(3).textContent();
    assert.match(who, /^token:/);
    await signIn(ctx.creds.API_READER_TOKEN, 'reader');
    await page.click('button[aria-label="Watch the guarded rollout of rp-banner"]');
    await page.locator('#rollout-status', { hasText: 'rolledBack' }).waitFor();
    assert.equal(await page.locator('#rollout-actions').isVisible(), false);
    assert.equal(await page.locator('button[aria-label="Start a guarded rollout of rp-banner"]').isVisible(), false);
    assert.deepEqual(errors, []);
  });
});

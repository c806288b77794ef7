// The experiments page in headless Chromium against `wrangler dev`: create an experiment from a
// flag and two metrics through the dialog, start it, send events, open its results on the
// dashboard, stop it; a bad allocation shows the API's message. Screenshot:
// test-artifacts/experiments.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useWorker, request, post, drain, apiOk } from './support/worker.mjs';
import { launch, ARTIFACTS } from './support/browser.mjs';

const ctx = useWorker();
const W = () => ctx.creds.API_TOKEN;
const ok = (method, path, body) => apiOk(ctx, method, path, body);

describe('experiments page', () => {
  let browser;
  let page;
  const errors = [];
  before(async () => {
    await ok('POST', '/flags/default', { key: 'xp-flag', name: 'XP flag', variations: [{ value: 'old', name: 'Old' }, { value: 'new', name: 'New' }],
      environments: { production: { on: true, fallthrough: { variation: 0 } } } });
    await ok('POST', '/metrics/default', { key: 'xp-buy', name: 'XP buy', kind: 'custom', eventKey: 'xp-purchase' });
    await ok('POST', '/metrics/default', { key: 'xp-revenue', name: 'XP revenue', kind: 'custom', eventKey: 'xp-purchase', isNumeric: true });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${ctx.base}/experiments.html`);
    await page.fill('#token', W());
    await page.click('#token-form button[type="submit"]');
    await page.locator('#role', { hasText: 'writer' }).waitFor();
  });
  after(async () => { await browser?.close(); });

  it('refuses allocations that do not add up to 100, with the API\'s message', async () => {
    await page.click('#create');
    await page.fill('#name', 'XP bad split');
    await page.selectOption('#flag', 'xp-flag');
    await page.fill('#treatments tbody tr:nth-child(2) input[type=number]', '40');
    assert.match(await page.locator('#allocation-total').innerText(), /90%/);
    await page.check('#metric-choice tr[data-key="xp-buy"] input[type=checkbox]');
    await page.click('#save');
    await page.locator('#editor .field-error').waitFor();
    assert.match(await page.locator('#editor .field-error').innerText(), /allocations must add up to 100, not 90/);
    await page.click('#cancel');
  });

  it('runs an experiment on a targeting rule the user picks', async () => {
    await ok('POST', '/flags/default', { key: 'xp-rules', name: 'XP rules', environments: { production: { on: true, fallthrough: { variation: 0 },
      rules: [{ _id: 'de', description: 'Germany', clauses: [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['DE'] }], variation: 1 },
        { _id: 'fr', clauses: [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['FR'] }], variation: 1 }] } } });
    await page.click('#create');
    await page.fill('#name', 'XP Germany');
    await page.selectOption('#flag', 'xp-rules');
    const options = await page.locator('#rule option').allInnerTexts();
    assert.deepEqual(options, ['Fallthrough (everyone no rule serves)', 'Rule 1: Germany', 'Rule 2: country in FR']);
    await page.selectOption('#rule', 'de');
    await page.check('#metric-choice tr[data-key="xp-buy"] input[type=checkbox]');
    await page.click('#save');
    await page.locator('#experiments tr[data-key="xp-germany"]').waitFor();
    assert.match(await page.locator('#experiments tr[data-key="xp-germany"]').innerText(), /rule\s+de/);
    const e = await ok('GET', '/projects/default/environments/production/experiments/xp-germany');
    assert.equal(e.ruleId, 'de');
  });

  it('creates, starts, shows results on the dashboard, and stops an experiment', async () => {
    await page.click('#create');
    await page.fill('#name', 'XP checkout');
    await page.fill('#hypothesis', 'The new checkout sells more');
    await page.selectOption('#flag', 'xp-flag');
    await page.check('#metric-choice tr[data-key="xp-buy"] input[type=checkbox]');
    await page.check('#metric-choice tr[data-key="xp-revenue"] input[type=checkbox]');
    await page.check('#metric-choice tr[data-key="xp-revenue"] input[type=radio]');
    await page.selectOption('#analysis', 'sequential');
    await page.click('#save');
    await page.locator('#experiments tr[data-key="xp-checkout"]').waitFor();
    const e = await ok('GET', '/projects/default/environments/production/experiments/xp-checkout');
    assert.equal(e.flagKey, 'xp-flag');
    assert.equal(e.hypothesis, 'The new checkout sells more');
    assert.equal(e.analysis, 'sequential');
    assert.deepEqual(e.metrics, [{ key: 'xp-buy', primary: false }, { key: 'xp-revenue', primary: true }]);
    assert.deepEqual(e.treatments.map((t) => [t.name, t.variation, t.baseline, t.allocationPercent]), [['Old', 0, true, '50'], ['New', 1, false, '50']]);

    await page.locator('#experiments tr[data-key="xp-checkout"] button', { hasText: 'Start' }).click();
    await page.locator('#experiments tr[data-key="xp-checkout"] .badge.running').waitFor();
    const started = await ok('GET', '/projects/default/environments/production/experiments/xp-checkout');
    const t = started.currentIteration.startedAt + 1;
    const events = [];
    for (let i = 0; i < 40; i++) {
      events.push({ kind: 'feature', key: 'xp-flag', creationDate: t, variation: i % 2, contextKeys: { user: `xp-${i}` } });
      if (i % 4 < 2) events.push({ kind: 'custom', key: 'xp-purchase', creationDate: t + 1, metricValue: 10 + i, contextKeys: { user: `xp-${i}` } });
    }
    assert.equal((await post(`${ctx.base}/bulk`, events, { Authorization: ctx.creds.SDK_KEY })).status, 202);
    await drain(ctx.base);
    await page.screenshot({ path: join(ARTIFACTS, 'experiments.png'), fullPage: true });

    await page.locator('#experiments tr[data-key="xp-checkout"] a', { hasText: 'Results' }).click();
    await page.waitForFunction(() => location.pathname.startsWith('/dashboard'), null, { timeout: 10_000 }).catch(() => {});
    assert.match(page.url(), /\/dashboard(\.html)?#experiment=xp-checkout$/);
    await page.locator('#table tbody tr').nth(1).waitFor();
    assert.equal(await page.locator('#experiment').inputValue(), 'xp-checkout');
    assert.match(await page.locator('#table tbody tr').nth(0).innerText(), /Old\s+20\s+/);
    assert.match(await page.locator('#analysis-note').innerText(), /Sequential/);

    await page.goBack();
    await page.locator('#role', { hasText: 'writer' }).waitFor();
    await page.locator('#experiments tr[data-key="xp-checkout"] button', { hasText: 'Stop' }).click();
    await page.locator('#experiments tr[data-key="xp-checkout"] .badge.stopped').waitFor();
    assert.deepEqual(errors, []);
  });
});

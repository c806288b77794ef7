// The metrics page in headless Chromium against `wrangler dev`: events from LaunchDarkly's Node SDK
// and from the snippet make their keys appear in the create dialog's autocomplete with their SDK
// and context kinds; one metric of each kind is created through the dialog and found in the list
// and over the REST API with exactly the chosen fields; the API's errors appear by the field they
// name; edit (JSON Patch) and delete work; a reader token gets a read-only page.
// Screenshots: test-artifacts/metrics-*.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { init, integrations } from '@launchdarkly/node-server-sdk';
import { useWorker, request, drain } from './support/worker.mjs';
import { launch, ARTIFACTS } from './support/browser.mjs';

const ctx = useWorker();
const metric = async (key) => (await request('GET', `${ctx.base}/api/v2/metrics/default/${key}`, { token: ctx.creds.API_TOKEN })).body;

describe('metrics page', () => {
  let browser;
  let page;
  const errors = [];

  before(async () => {
    const client = init(ctx.creds.SDK_KEY, {
      updateProcessor: new integrations.TestData().getFactory(), eventsUri: ctx.base, sendEvents: true,
      logger: { debug() {}, info() {}, warn() {}, error: (...a) => console.error(...a) },
    });
    await client.waitForInitialization({ timeout: 10 });
    client.track('mp-purchase', { kind: 'multi', user: { key: 'mp-1' }, org: { key: 'acme' } }, null, 12);
    await client.flush();
    client.close();
    browser = await launch();
    const shop = await browser.newPage();
    await shop.goto(`${ctx.base}/`);
    await shop.waitForSelector('body[data-ready="true"]');
    await shop.evaluate(async () => { window.edge.track('mp-snippet-signup'); await window.edge.flush(); });
    await shop.close();
    await drain(ctx.base);
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => d.accept());
    await page.goto(`${ctx.base}/metrics.html`);
    await page.fill('#token', ctx.creds.API_TOKEN);
    await page.click('#token-form button[type="submit"]');
    await page.locator('#role', { hasText: 'writer' }).waitFor();
  });
  after(async () => { await browser?.close(); });

  /** Open the create dialog and fill the parts every metric has. */
  async function start(kind, name) {
    await page.click('#create');
    await page.locator('#editor[open]').waitFor();
    await page.check(`input[name="kind"][value="${kind}"]`);
    await page.fill('#name', name);
  }

  /** Set fields of the dialog: selector → value (a select's option is chosen, an input filled). */
  async function set(values) {
    for (const [selector, value] of Object.entries(values)) {
      const tag = await page.locator(selector).evaluate((el) => el.tagName);
      await (tag === 'SELECT' ? page.selectOption(selector, value) : page.fill(selector, value));
    }
  }

  /** Save the dialog, wait for the metric's row, and read the metric back over the REST API. */
  async function save(key) {
    await page.click('#save');
    await page.locator(`#metrics tr[data-key="${key}"]`).waitFor();
    return metric(key);
  }

  it('offers the event keys recently received, with their SDK and context kinds', async () => {
    await start('custom', 'MP purchases');
    await page.fill('#event-key', 'mp-');
    const purchase = page.locator('#suggestions li', { hasText: 'mp-purchase' });
    await purchase.waitFor();
    await page.locator('#suggestions li', { hasText: 'mp-snippet-signup' }).waitFor();
    await purchase.hover();
    const details = await page.locator('#key-details').innerText();
    assert.match(details, /production/);
    assert.match(details, /context kinds org, user/);
    assert.match(details, /NodeJSClient\/\d/);
    await page.locator('#suggestions li', { hasText: 'mp-snippet-signup' }).hover();
    assert.match(await page.locator('#key-details').innerText(), /EdgeExpSnippet\/0\.1\.0/);
    // The randomization units offered are the context kinds actually seen.
    const units = await page.locator('#randomization option').allInnerTexts();
    assert.ok(units.includes('org') && units.includes('user'), units.join(','));
    await page.screenshot({ path: join(ARTIFACTS, 'metrics-autocomplete.png') });
    await purchase.click();
    assert.equal(await page.inputValue('#event-key'), 'mp-purchase');
    await page.click('#cancel');
  });

  it('creates one metric of each kind with exactly the chosen fields', async () => {
    // Custom occurrence, randomized by org, lower is better, with details.
    await start('custom', 'MP converted');
    await set({ '#event-key': 'mp-purchase', '#randomization': 'org', '#success': 'LowerThanBaseline',
      '#tags': 'checkout, mp', '#maintainer': 'ana', '#description': 'Orgs that bought' });
    const occurrence = await save('mp-converted');
    assert.deepEqual([occurrence.kind, occurrence.eventKey, occurrence.isNumeric, occurrence.unitAggregationType, occurrence.successCriteria],
      ['custom', 'mp-purchase', false, 'average', 'LowerThanBaseline']);
    assert.deepEqual(occurrence.randomizationUnits, ['org']);
    assert.deepEqual(occurrence.tags, ['checkout', 'mp']);
    assert.equal(occurrence.maintainerId, 'ana');
    assert.equal(occurrence.description, 'Orgs that bought');

    await start('custom', 'MP purchases per user');
    await page.fill('#event-key', 'mp-purchase');
    await page.check('input[name="measure"][value="count"]');
    const count = await save('mp-purchases-per-user');
    assert.deepEqual([count.isNumeric, count.unitAggregationType], [false, 'sum']);

    await start('custom', 'MP p95 spend');
    await page.check('input[name="measure"][value="value"]');
    await set({ '#event-key': 'mp-purchase', '#unit': 'USD', '#per-unit': 'sum', '#analysis': 'percentile',
      '#percentile': '95', '#missing': 'zero' });
    const value = await save('mp-p95-spend');
    assert.deepEqual([value.isNumeric, value.unit, value.unitAggregationType, value.analysisType, value.percentileValue],
      [true, 'USD', 'sum', 'percentile', 95]);
    assert.deepEqual(value.eventDefault, { disabled: false, value: 0 });

    await start('click', 'MP buy clicks');
    await set({ '#selector': '#buy, .buy', '#urls .url-row select': 'exact', '#urls .url-row input': 'https://shop.example/' });
    const click = await save('mp-buy-clicks');
    assert.deepEqual([click.kind, click.selector, click.eventKey], ['click', '#buy, .buy', undefined]);
    assert.deepEqual(click.urls, [{ kind: 'exact', url: 'https://shop.example/' }]);

    await start('pageview', 'MP checkout views');
    await page.selectOption('#urls .url-row select', 'regex');
    await page.fill('#urls .url-row input', '/checkout/.*');
    await page.click('#add-url');
    await page.fill('#urls .url-row:nth-child(2) input', '/basket');
    await page.check('input[name="measure"][value="count"]');
    const views = await save('mp-checkout-views');
    assert.deepEqual(views.urls, [{ kind: 'regex', pattern: '/checkout/.*' }, { kind: 'substring', substring: '/basket' }]);
    assert.equal(views.unitAggregationType, 'sum');
    await page.screenshot({ path: join(ARTIFACTS, 'metrics-list.png'), fullPage: true });
  });

  it('shows the API\'s message by the field it names', async () => {
    await start('click', 'MP bad');
    await page.fill('#selector', '');
    await page.click('#save');
    const near = page.locator('#selector[aria-invalid="true"]');
    await near.waitFor();
    assert.match(await page.locator('.field-error').innerText(), /`selector` must not be empty/);
    await page.fill('#selector', '#ok');
    await page.selectOption('#urls .url-row select', 'regex');
    await page.fill('#urls .url-row input', '(a+)+$');
    await page.click('#save');
    await page.locator('#urls .url-row input[aria-invalid="true"]').waitFor();
    assert.match(await page.locator('.field-error').innerText(), /`urls\[0\]`.*repeated group contains a repetition/);
    await page.screenshot({ path: join(ARTIFACTS, 'metrics-error.png') });
    await page.click('#cancel');
  });

  it('filters, edits with JSON Patch, and deletes', async () => {
    await page.selectOption('#kind-filter', 'click');
    await page.waitForFunction(() => [...document.querySelectorAll('#metrics tbody tr')].every((r) => r.children[2].textContent === 'click'));
    await page.selectOption('#kind-filter', '');
    await page.fill('#tag-filter', 'checkout');
    await page.locator('#tag-filter').dispatchEvent('change');
    await page.waitForFunction(() => document.querySelectorAll('#metrics tbody tr').length === 1);
    await page.fill('#tag-filter', '');
    await page.locator('#tag-filter').dispatchEvent('change');

    await page.locator('#metrics tr[data-key="mp-converted"] button', { hasText: 'Edit' }).click();
    await page.fill('#name', 'MP orgs converted');
    await page.selectOption('#success', 'HigherThanBaseline');
    await page.click('#save');
    await page.locator('#metrics tr[data-key="mp-converted"] td', { hasText: 'MP orgs converted' }).waitFor();
    const edited = await metric('mp-converted');
    assert.deepEqual([edited.name, edited.successCriteria, edited._version], ['MP orgs converted', 'HigherThanBaseline', 2]);

    await page.locator('#metrics tr[data-key="mp-purchases-per-user"] button', { hasText: 'Delete' }).click();
    await page.locator('#metrics tr[data-key="mp-purchases-per-user"]').waitFor({ state: 'detached' });
    assert.equal((await request('GET', `${ctx.base}/api/v2/metrics/default/mp-purchases-per-user`, { token: ctx.creds.API_TOKEN })).status, 404);
    assert.deepEqual(errors, []);
  });

  it('is read-only for a reader token', async () => {
    const reader = await browser.newPage();
    await reader.goto(`${ctx.base}/metrics.html`);
    await reader.fill('#token', ctx.creds.API_READER_TOKEN);
    await reader.click('#token-form button[type="submit"]');
    await reader.locator('#role', { hasText: 'reader' }).waitFor();
    await reader.locator('#metrics tr[data-key="mp-converted"]').waitFor();
    assert.equal(await reader.locator('#create').isVisible(), false);
    assert.equal(await reader.locator('#metrics tr[data-key="mp-converted"] button').first().isVisible(), false);
    assert.doesNotMatch(reader.url(), /api-/, 'the token is not in the URL');
    await reader.close();
  });
});

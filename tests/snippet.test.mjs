// The Rust→wasm snippet on the demo pages, in real headless Chromium against `wrangler dev`:
// page views (load + pushState), clicks on nested elements (one event per goal per click), a goal
// link that navigates away at once (flushed with a keep-alive request), a numeric track(), and
// close. Every events request the page makes is captured with the Worker's answer, and the
// experiment results read over the REST API must show exactly this visitor's events.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useWorker, request } from './support/worker.mjs';
import { useBrowser, ARTIFACTS } from './support/browser.mjs';
import { seed } from '../scripts/seed.mjs';

const ctx = useWorker();
let chrome;

describe('snippet on the demo pages', () => {
  chrome = useBrowser(() => seed(ctx.base, ctx.creds));

  it('sends exactly the expected events and they are counted for the variation shown', async () => {
    const context = await chrome.browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    const sent = [];
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    const answers = [];
    context.on('request', (r) => {
      if (r.url().includes('/events/bulk/')) sent.push({ request: r, events: JSON.parse(r.postData() || '[]') });
    });
    context.on('response', (r) => {
      if (r.url().includes('/events/bulk/') && r.request().method() === 'POST') {
        answers.push(r.json().then((body) => ({ status: r.status(), body, id: r.request().headers()['x-launchdarkly-payload-id'] }),
          () => ({ status: r.status(), body: null, id: r.request().headers()['x-launchdarkly-payload-id'] })));
      }
    });

    await page.goto(`${ctx.base}/`);
    await page.waitForSelector('body[data-ready="true"]');
    const variation = Number(await page.locator('#variation').innerText());
    const visitor = await page.locator('#visitor').innerText();
    assert.ok([0, 1].includes(variation));
    assert.match(visitor, /^[0-9a-f]{32}$/);
    const headline = await page.locator('#headline').innerText();
    assert.equal(headline, ['Fresh coffee, roasted daily', 'Your new favourite coffee is one click away'][variation]);

    await page.click('#buy .label');              // nested inside an element matching "#buy, .buy"
    await page.click('#details');                 // pushState to /checkout/details
    await page.screenshot({ path: join(ARTIFACTS, 'demo-shop.png'), fullPage: true });
    await Promise.all([page.waitForURL('**/checkout'), page.click('#checkout-link')]); // goal link, leaves at once
    await page.waitForSelector('body[data-ready="true"]');
    await page.click('#pay');
    await page.waitForSelector('#thanks:not([hidden])');
    await page.close({ runBeforeUnload: true });
    // Every events request is answered (keep-alive requests outlive their page).
    for (let i = 0; i < 100 && answers.length < sent.length; i++) await new Promise((r) => setTimeout(r, 50));
    await context.close();

    // Every request the browser let us see was answered 202 with nothing rejected, with a
    // payload ID. (Keep-alive requests sent while a page unloads are not shown to Playwright; the
    // server-side counts below include them.)
    assert.ok(answers.length >= 1);
    for (const a of await Promise.all(answers)) {
      assert.equal(a.status, 202);
      if (a.body) assert.deepEqual(a.body.rejected, []);
      assert.ok(a.id);
    }
    assert.deepEqual(problems, []);
    const seen = sent.flatMap((x) => x.events);
    const purchase = seen.find((e) => e.kind === 'custom' && e.key === 'purchase');
    assert.ok(purchase, 'the purchase was sent by fetch (visible)');
    assert.equal(purchase.metricValue, 14.9);
    assert.deepEqual(purchase.data, { sku: 'house-500' });
    assert.equal(new URL(purchase.url).pathname, '/checkout');
    assert.ok(seen.every((e) => (e.context?.key ?? e.contextKeys?.user) === visitor), 'one visitor across both pages');

    // What the server counted, for the variation the page showed: exactly this visitor's events.
    const results = async (metric) => {
      const r = await request('GET', `${ctx.base}/api/v2/projects/default/environments/production/experiments/demo-headline-test/results?metric=${metric}`, { token: ctx.creds.API_TOKEN });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.variations;
    };
    const shown = (rows) => rows.find((v) => v.variation === variation);
    const notShown = (rows) => rows.find((v) => v.variation !== variation);
    // Count metrics make duplicates visible: 2 physical clicks on goal elements (the nested span in
    // the button, then the link) must be exactly 2 click events, not one per matching ancestor.
    let clicks;
    for (let i = 0; i < 50; i++) {
      clicks = await results('demo-buy-click');
      if (shown(clicks).mean === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(shown(clicks).exposedUnits, 1, 'one exposure: the feature event of variationDetail');
    assert.equal(shown(clicks).units, 1);
    assert.equal(shown(clicks).mean, 2, 'exactly two click events');
    assert.equal(notShown(clicks).exposedUnits, 0);
    const views = shown(await results('demo-checkout-pageviews'));
    assert.equal(views.mean, 2, 'exactly two page views: pushState to /checkout/details, then /checkout (after the redirect)');
    assert.equal(shown(await results('demo-checkout-view')).conversions, 1);
    const revenue = shown(await results('demo-revenue'));
    assert.equal(revenue.units, 1);
    assert.equal(revenue.mean, 14.9, 'one purchase of 14.90');
  });

  it('keeps an anonymous visitor\'s key (and variation) across visits', async () => {
    const context = await chrome.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${ctx.base}/`);
    await page.waitForSelector('body[data-ready="true"]');
    const first = [await page.locator('#visitor').innerText(), await page.locator('#variation').innerText()];
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.deepEqual([await page.locator('#visitor').innerText(), await page.locator('#variation').innerText()], first);
    await context.close();
  });

  it('never throws into the page on bad arguments', async () => {
    const page = await chrome.browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${ctx.base}/`);
    await page.waitForSelector('body[data-ready="true"]');
    const outcome = await page.evaluate(async () => {
      const e = window.edge;
      const out = [];
      out.push(e.variation(42, 'fallback'));
      out.push(e.variation('no-such-flag', 'fallback'));
      e.track('', null, undefined);
      e.track('ok', null, 'not a number');
      e.track(null);
      out.push(await e.identify('not a context'));
      out.push(await e.init('', {}, {}));
      out.push(e.variationDetail('no-such-flag', 1).reason.errorKind);
      return out;
    });
    assert.deepEqual(outcome, ['fallback', 'fallback', false, false, 'FLAG_NOT_FOUND']);
    assert.deepEqual(errors, []);
  });
});

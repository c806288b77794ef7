// The live events page in headless Chromium against `wrangler dev`: filtered by an experiment it
// shows only the events that count for it; kind and key filters; pause and resume; a row opens
// its payload's events. Screenshot: test-artifacts/live.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useWorker, request, post, apiOk } from './support/worker.mjs';
import { launch, ARTIFACTS } from './support/browser.mjs';

const ctx = useWorker();
const W = () => ctx.creds.API_TOKEN;
const ok = (method, path, body) => apiOk(ctx, method, path, body);
const rows = (page) => page.locator('#events tbody tr').allInnerTexts();

describe('live events page', () => {
  let browser;
  let page;
  let t;
  before(async () => {
    await ok('POST', '/flags/default', { key: 'lv-flag', variations: [{ value: 'a' }, { value: 'b' }],
      environments: { production: { on: true, fallthrough: { variation: 0 } } } });
    await ok('POST', '/metrics/default', { key: 'lv-buy', kind: 'custom', eventKey: 'lv-purchase' });
    await ok('POST', '/projects/default/environments/production/experiments', { key: 'lv-exp', flagKey: 'lv-flag', metrics: [{ key: 'lv-buy' }] });
    const started = await ok('PATCH', '/projects/default/environments/production/experiments/lv-exp', { instructions: [{ kind: 'startIteration' }] });
    t = started.currentIteration.startedAt + 1;
    // Counted: an exposure and a purchase. Not counted: another flag, another event key, and a
    // purchase from before the iteration started.
    const events = [
      { kind: 'feature', key: 'lv-flag', creationDate: t, variation: 1, contextKeys: { user: 'lv-1' } },
      { kind: 'custom', key: 'lv-purchase', creationDate: t + 1, contextKeys: { user: 'lv-1' } },
      { kind: 'feature', key: 'lv-other-flag', creationDate: t, variation: 0, contextKeys: { user: 'lv-1' } },
      { kind: 'custom', key: 'lv-noise', creationDate: t + 1, contextKeys: { user: 'lv-1' } },
      { kind: 'custom', key: 'lv-purchase', creationDate: t - 60_000, contextKeys: { user: 'lv-2' } },
    ];
    assert.equal((await post(`${ctx.base}/bulk`, events, { Authorization: ctx.creds.SDK_KEY })).status, 202);
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${ctx.base}/live.html`);
    await page.fill('#token', ctx.creds.API_READER_TOKEN);
    await page.click('#token-form button[type="submit"]');
    await page.locator('#events tbody tr').first().waitFor();
  });
  after(async () => { await browser?.close(); });

  it('shows only the events that count for the chosen experiment', async () => {
    await page.selectOption('#experiment-filter', 'lv-exp');
    const shown = await rows(page);
    assert.equal(shown.length, 2, shown.join('\n'));
    assert.match(shown.join('\n'), /feature\s+lv-flag\s+user:lv-1\s+variation 1/);
    assert.match(shown.join('\n'), /custom\s+lv-purchase\s+user:lv-1/);
    await page.screenshot({ path: join(ARTIFACTS, 'live.png'), fullPage: true });
    await page.selectOption('#experiment-filter', '');
  });

  it('filters by kind and key', async () => {
    await page.selectOption('#kind-filter', 'feature');
    await page.fill('#key-filter', 'lv-');
    const shown = await rows(page);
    assert.ok(shown.length >= 2 && shown.every((r) => /\tfeature\t/.test(r)), shown.join('\n'));
    await page.selectOption('#kind-filter', '');
    await page.fill('#key-filter', 'lv-noise');
    assert.equal((await rows(page)).length, 1);
    await page.fill('#key-filter', '');
  });

  it('pauses and resumes, and opens a payload', async () => {
    await page.click('#pause');
    assert.equal(await page.getAttribute('#pause', 'aria-pressed'), 'true');
    await post(`${ctx.base}/bulk`, [{ kind: 'custom', key: 'lv-while-paused', creationDate: Date.now(), contextKeys: { user: 'lv-3' } }], { Authorization: ctx.creds.SDK_KEY });
    await page.waitForTimeout(3000);
    assert.doesNotMatch((await rows(page)).join('\n'), /lv-while-paused/, 'paused: no update');
    await page.click('#pause');
    await page.locator('#events tbody tr', { hasText: 'lv-while-paused' }).waitFor({ timeout: 10_000 });

    await page.fill('#key-filter', 'lv-noise');
    await page.locator('#events tbody tr').first().click();
    await page.locator('#payload:not([hidden])').waitFor();
    assert.match(await page.locator('#payload-title').innerText(), /5 events accepted, 0 rejected/);
    assert.equal(await page.locator('#payload-events tbody tr').count(), 5);
  });
});

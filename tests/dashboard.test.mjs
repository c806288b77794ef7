// The results dashboard in real headless Chromium: it lists experiments, shows per-variation
// bars with intervals and the probability to beat baseline, and refreshes while events arrive.
// Screenshot: test-artifacts/dashboard.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useWorker, request, post, drain } from './support/worker.mjs';
import { launch, ARTIFACTS } from './support/browser.mjs';

const ctx = useWorker();
let browser;
const W = () => ctx.creds.API_TOKEN;
const envPath = (p) => `${ctx.base}/api/v2/projects/default/environments/production${p}`;

describe('dashboard', () => {
before(async () => {
  browser = await launch();
  const ok = async (method, url, body) => {
    const r = await request(method, url, { token: W(), body });
    assert.ok(r.status < 300, JSON.stringify(r.body));
    return r.body;
  };
  await ok('POST', `${ctx.base}/api/v2/flags/default`, { key: 'hero', variations: [{ value: 'Old' }, { value: 'New' }],
    environments: { production: { on: true, fallthrough: { rollout: { kind: 'experiment', seed: 3, variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } } } } });
  await ok('POST', `${ctx.base}/api/v2/metrics/default`, { key: 'signup', kind: 'custom', eventKey: 'signup' });
  await ok('POST', envPath('/experiments'), { key: 'hero-test', name: 'Hero headline', flagKey: 'hero', metrics: [{ key: 'signup', primary: true }] });
  const started = await ok('PATCH', envPath('/experiments/hero-test'), { instructions: [{ kind: 'startIteration' }] });
  const t = started.currentIteration.startedAt + 1;
  const events = [];
  for (let i = 0; i < 400; i++) {
    const v = i % 2;
    events.push({ kind: 'feature', key: 'hero', creationDate: t, variation: v, contextKeys: { user: `d-${i}` } });
    if (i % 10 < (v ? 4 : 2)) events.push({ kind: 'custom', key: 'signup', creationDate: t + 1, contextKeys: { user: `d-${i}` } });
  }
  for (let i = 0; i < events.length; i += 100) await post(`${ctx.base}/bulk`, events.slice(i, i + 100), { Authorization: ctx.creds.SDK_KEY });
  // A second experiment with only 30 units: below the default minimum sample of 100 per arm.
  await ok('POST', `${ctx.base}/api/v2/flags/default`, { key: 'banner', variations: [{ value: 'a' }, { value: 'b' }],
    environments: { production: { on: true, fallthrough: { variation: 0 } } } });
  await ok('POST', envPath('/experiments'), { key: 'tiny-test', name: 'Tiny banner test', flagKey: 'banner', metrics: [{ key: 'signup' }] });
  const tiny = await ok('PATCH', envPath('/experiments/tiny-test'), { instructions: [{ kind: 'startIteration' }] });
  const few = Array.from({ length: 30 }, (_, i) => ({ kind: 'feature', key: 'banner', creationDate: tiny.currentIteration.startedAt + 1, variation: i % 2, contextKeys: { user: `t-${i}` } }));
  await post(`${ctx.base}/bulk`, few, { Authorization: ctx.creds.SDK_KEY });
  await drain(ctx.base); // counts are written by the ingest queue's consumer
});

after(async () => { await browser?.close(); });

it('shows per-variation results and refreshes as events arrive', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${ctx.base}/dashboard.html#token=${ctx.creds.API_READER_TOKEN}`);
  await page.locator('#table tbody tr').nth(1).waitFor();
  assert.equal(await page.locator('#experiment').inputValue(), 'hero-test');
  const rows = await page.locator('#table tbody tr').allInnerTexts();
  assert.match(rows[0], /Variation 0\s+200\s+200\s+20\.00% \(40\)/);
  assert.match(rows[1], /Variation 1\s+200\s+200\s+40\.00% \(80\)/);
  assert.match(rows[1], /\+100\.0%/, 'relative difference shown');
  assert.equal(await page.locator('#chart rect').count(), 2, 'one bar per variation');
  assert.equal(await page.locator('#status').innerText(), 'running');
  assert.match(await page.locator('#srm').innerText(), /Sample ratio OK/);

  // More conversions arrive; the page refreshes on its own.
  const t = Date.now();
  const more = Array.from({ length: 40 }, (_, i) => ({ kind: 'custom', key: 'signup', creationDate: t, contextKeys: { user: `d-${i * 10 + 5}` } }));
  await post(`${ctx.base}/bulk`, more, { Authorization: ctx.creds.SDK_KEY });
  await page.waitForFunction(() => /\(120\)/.test(document.querySelector('#table tbody tr:nth-child(2)')?.innerText ?? ''), null, { timeout: 15_000 });
  // The live panel shows the events as they arrive.
  await page.waitForFunction(() => document.querySelectorAll('#events tbody tr[data-kind="custom"]').length > 0, null, { timeout: 15_000 });
  assert.match(await page.locator('#events tbody tr').first().innerText(), /custom\s+signup\s+user:d-/);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

it('says "not enough data yet" below the minimum sample, and shows a sequential analysis', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${ctx.base}/dashboard.html#token=${ctx.creds.API_READER_TOKEN}&experiment=tiny-test`);
  await page.locator('#table tbody tr').nth(1).waitFor();
  assert.equal(await page.locator('#experiment').inputValue(), 'tiny-test');
  assert.match(await page.locator('#table tbody tr').nth(1).innerText(), /not enough data yet/);
  assert.match(await page.locator('#analysis-note').innerText(), /Not enough data yet: each variation needs 100 units/);
  assert.doesNotMatch(await page.locator('#table tbody tr').nth(1).innerText(), /%\s*$/, 'no probability shown');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-insufficient.png'), fullPage: true });

  await page.selectOption('#experiment', 'hero-test');
  await page.selectOption('#analysis', 'sequential');
  await page.waitForFunction(() => /Sequential/.test(document.querySelector('#analysis-note')?.textContent ?? ''), null, { timeout: 10_000 });
  const heads = await page.locator('#table thead th').allInnerTexts();
  assert.ok(heads.some((h) => /always-valid interval/i.test(h)), heads.join(' | '));
  assert.ok(heads.some((h) => /^p-value$/i.test(h)), heads.join(' | '));
  assert.match(await page.locator('#analysis-note').innerText(), /valid however often you look/);
  const treatment = await page.locator('#table tbody tr').nth(1).innerText();
  assert.match(treatment, /[+-]\d+\.\d% \([+-]\d+\.\d% to [+-]\d+\.\d%\)/, 'the effect with its interval');
  assert.match(treatment, /\b(yes|no)\s*$/, 'a verdict');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-sequential.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

it('serves every page built from www/pages with the shared head, and never the sources', async () => {
  for (const name of ['index', 'checkout', 'dashboard', 'metrics', 'experiments', 'live']) {
    const page = await fetch(`${ctx.base}/${name}.html`);
    const html = await page.text();
    assert.equal(page.status, 200, name);
    assert.match(html, new RegExp(`^<!doctype html>\\n<!-- Built from www/pages/${name}.html `), name);
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>[^<]+<\/title>/, name);
    assert.doesNotMatch(html, /\{\{|<!-- layout:/, name);
    const source = await fetch(`${ctx.base}/pages/${name}.html`);
    await source.arrayBuffer();
    assert.equal(source.status, 404, `www/pages/${name}.html is not served`);
  }
});

it('explains a missing or wrong token', async () => {
  const page = await browser.newPage();
  await page.goto(`${ctx.base}/dashboard.html#token=api-wrong`);
  await page.locator('#message.error').waitFor();
  assert.match(await page.locator('#message').innerText(), /unknown API access token/);
});
});

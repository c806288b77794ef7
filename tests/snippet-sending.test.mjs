// How the Rust→wasm snippet sends events, in real headless Chromium against `wrangler dev`: a
// failed POST is retried once with the same payload ID (so the Worker counts it once), a refused
// client-side ID stops sending, and a full queue drops (and counts) the overflow and flushes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useWorker, request } from './support/worker.mjs';
import { useBrowser } from './support/browser.mjs';
import { seed } from '../scripts/seed.mjs';

const ctx = useWorker();
let chrome;

/**
 * A page on the Worker's origin with the snippet module loaded (not started) as `window.edge`,
 * its console and page errors (`log`) and the events POSTs it makes (`posts`: payload ID + events).
 * `finish()` checks that the page raised no error and closes it.
 */
async function snippetPage() {
  const log = [];
  const posts = [];
  const page = await chrome.browser.newPage();
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().includes('/events/bulk/')) {
      posts.push({ id: r.headers()['x-launchdarkly-payload-id'], events: JSON.parse(r.postData() || '[]') });
    }
  });
  await page.goto(`${ctx.base}/demo/config.json`);
  await page.evaluate(async () => {
    const mod = await import('/snippet/edge-exp.js');
    await mod.default();
    window.edge = mod;
  });
  const finish = async () => {
    assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
    await page.close();
  };
  return { page, log, posts, finish };
}

describe('snippet event sending', () => {
  chrome = useBrowser(() => seed(ctx.base, ctx.creds));

  it('retries a failed POST once with the same payload ID, and the Worker counts it once', async () => {
    const { page, log, posts, finish } = await snippetPage();
    // The first POST reaches the Worker (which accepts it) but the browser is told 503, as when a
    // proxy fails after the origin answered; the retry must be recognised as the same payload.
    const firstAnswer = [];
    await page.route('**/events/bulk/**', async (route) => {
      if (firstAnswer.length > 0) return route.continue();
      firstAnswer.push((await route.fetch()).status());
      return route.fulfill({ status: 503, body: '{"message":"upstream failed"}' });
    });
    const outcome = await page.evaluate(async (id) => {
      const e = window.edge;
      const ready = await e.init(id, { kind: 'user', key: 'retry-visitor' }, { flushInterval: 60000 });
      const variation = e.variationDetail('demo-headline', false).variationIndex;
      e.track('purchase', null, 5);
      const accepted = await e.flush();
      return { ready, variation, accepted, stats: e.stats() };
    }, ctx.creds.CLIENT_SIDE_ID);
    assert.equal(outcome.ready, true);
    assert.deepEqual(firstAnswer, [202], 'the Worker accepted the first attempt');
    assert.equal(outcome.accepted, true, 'flush() resolves true once the retry is accepted');
    assert.deepEqual(outcome.stats, { queued: 0, dropped: 0, sent: 3 });
    assert.equal(posts.length, 2, 'one attempt and exactly one retry');
    assert.ok(posts[0].id && posts[0].id === posts[1].id, 'the retry carries the same payload ID');
    assert.deepEqual(posts[0].events.map((e) => e.kind), ['identify', 'feature', 'custom']);
    assert.deepEqual(posts[1].events, posts[0].events);

    const r = await request('GET', `${ctx.base}/api/v2/projects/default/environments/production/experiments/demo-headline-test/results?metric=demo-revenue`, { token: ctx.creds.API_TOKEN });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const shown = r.body.variations.find((v) => v.variation === outcome.variation);
    assert.equal(shown.exposedUnits, 1);
    assert.equal(shown.units, 1);
    assert.equal(shown.mean, 5, 'the purchase counted once, not twice');
    await finish();
  });

  it('stops sending after the Worker refuses the client-side ID', async () => {
    const { page, log, posts, finish } = await snippetPage();
    const outcome = await page.evaluate(async () => {
      const e = window.edge;
      const ready = await e.init('no-such-client-side-id', { kind: 'user', key: 'lost' }, { flushInterval: 60000 });
      e.track('first');
      const first = await e.flush();
      e.track('second');
      const after = e.stats();
      const second = await e.flush();
      return { ready, first, after, second };
    });
    assert.equal(outcome.ready, false, 'flags could not be loaded for an unknown environment');
    assert.equal(outcome.first, false, 'the refused POST is reported');
    // The refused payload's two events, and the one tracked after it: nothing is queued any
    // more, and every event that will never be sent is counted.
    assert.deepEqual(outcome.after, { queued: 0, dropped: 3, sent: 0 }, 'nothing is queued any more; every lost event counted');
    assert.equal(outcome.second, true, 'an empty flush succeeds without a request');
    assert.equal(posts.length, 1, 'one refused POST, not retried, nothing after it');
    assert.deepEqual(posts[0].events.map((e) => e.kind + ':' + (e.key ?? '')), ['identify:', 'custom:first']);
    assert.ok(log.some((l) => l.startsWith('error:') && l.includes('events refused')), log.join('\n'));
    await finish();
  });

  it('refuses track() data that is not JSON without losing the other events of its batch', async () => {
    const { page, log, posts, finish } = await snippetPage();
    const outcome = await page.evaluate(async (id) => {
      const e = window.edge;
      await e.init(id, { kind: 'user', key: 'careless' }, { flushInterval: 60000 });
      const cyclic = { sku: 'a' };
      cyclic.self = cyclic;
      e.track('before', { n: 1 });
      e.track('cyclic', cyclic);
      e.track('bigint', { n: 10n });
      const later = { sku: 'as tracked' };
      e.track('after', later);
      later.sku = 'changed after track()';
      return { accepted: await e.flush(), stats: e.stats() };
    }, ctx.creds.CLIENT_SIDE_ID);
    assert.equal(outcome.accepted, true);
    assert.deepEqual(outcome.stats, { queued: 0, dropped: 0, sent: 3 });
    assert.equal(posts.length, 1);
    const custom = posts[0].events.filter((e) => e.kind === 'custom');
    assert.deepEqual(custom.map((e) => [e.key, e.data]), [['before', { n: 1 }], ['after', { sku: 'as tracked' }]]);
    assert.equal(log.filter((l) => l.startsWith('error:') && l.includes('track: data must be JSON')).length, 2, log.join('\n'));
    await finish();
  });

  it('drops and counts events beyond the capacity, and flushes the full queue', async () => {
    const { page, log, posts, finish } = await snippetPage();
    const outcome = await page.evaluate(async (id) => {
      const e = window.edge;
      await e.init(id, { kind: 'user', key: 'busy' }, { flushInterval: 60000, capacity: 3 });
      for (let i = 0; i < 5; i++) e.track(`burst-${i}`);
      const full = e.stats();
      // The full queue is flushed by itself (no flush() call); wait for it to be sent.
      for (let i = 0; i < 100 && e.stats().sent < 3; i++) await new Promise((r) => setTimeout(r, 20));
      return { full, later: e.stats() };
    }, ctx.creds.CLIENT_SIDE_ID);
    // init's identify event takes the first place in the queue.
    assert.deepEqual(outcome.full, { queued: 3, dropped: 3, sent: 0 });
    assert.deepEqual(outcome.later, { queued: 0, dropped: 3, sent: 3 });
    assert.equal(posts.length, 1);
    assert.deepEqual(posts[0].events.map((e) => e.kind + ':' + (e.key ?? '')), ['identify:', 'custom:burst-0', 'custom:burst-1']);
    assert.equal(log.filter((l) => l.includes('queue is full')).length, 1, 'warned once, not per event');
    await finish();
  });
});

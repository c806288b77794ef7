// The snippet loses nothing silently (real headless Chromium against `wrangler dev`): a burst of
// events followed by leaving the page, with a large and with the default capacity; storage that
// refuses what could not go before the page closed; a click inside an open shadow root; the
// snippet inside an iframe with a failed first POST. Each case asserts the experiment's exact
// counts read over the REST API, not the requests the browser made.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useWorker, request, apiOk, drain } from './support/worker.mjs';
import { useBrowser } from './support/browser.mjs';

const ctx = useWorker();
let chrome;
const FLAG = 'exit-flag';
const EXPERIMENT = 'exit-test';
const BURST = 3000;
/** One metric per case, so the cases do not share counts. */
const COUNTED = ['burst-leave', 'burst-stay', 'burst-default', 'burst-no-storage', 'burst-hidden', 'framed'];
const envPath = (p) => `/projects/default/environments/production${p}`;

/** Flag with an experiment rollout, a count metric per case and the shadow-DOM click goal. */
async function setUp() {
  await apiOk(ctx, 'POST', '/flags/default', {
    key: FLAG, clientSideAvailability: { usingEnvironmentId: true },
    variations: [{ value: 'a' }, { value: 'b' }],
    environments: { production: { on: true, fallthrough: { rollout: { kind: 'experiment', seed: 7, contextKind: 'user',
      variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } } } },
  });
  for (const key of COUNTED) {
    await apiOk(ctx, 'POST', '/metrics/default', { key, kind: 'custom', eventKey: key, unitAggregationType: 'sum' });
  }
  await apiOk(ctx, 'POST', '/metrics/default', { key: 'shadow-cta', kind: 'click', selector: 'button.cta', unitAggregationType: 'sum',
    urls: [{ kind: 'substring', substring: '/' }] });
  await apiOk(ctx, 'POST', envPath('/experiments'), { key: EXPERIMENT, flagKey: FLAG, randomizationUnit: 'user',
    metrics: [...COUNTED, 'shadow-cta'].map((key, i) => ({ key, primary: i === 0 })) });
  await apiOk(ctx, 'PATCH', envPath(`/experiments/${EXPERIMENT}`), { instructions: [{ kind: 'startIteration' }] });
}

/** The experiment's events of `metric`, over all variations, and its exposed units. */
async function counted(metric) {
  const r = await request('GET', `${ctx.base}/api/v2${envPath(`/experiments/${EXPERIMENT}/results?metric=${metric}`)}`, { token: ctx.creds.API_READER_TOKEN });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const events = r.body.variations.reduce((sum, v) => sum + Math.round(v.mean * v.units), 0);
  return { events, exposed: r.body.variations.reduce((sum, v) => sum + v.exposedUnits, 0) };
}

/**
 * Read `metric`'s count until it reaches `expected` (posts still in flight in the browser, then
 * the queue), then once more after the queue is drained: the answer must be exactly `expected`.
 */
async function countedExactly(metric, expected, deadlineMs = 30_000) {
  const deadline = Date.now() + deadlineMs;
  let seen = await counted(metric);
  while (seen.events < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    seen = await counted(metric);
  }
  await drain(ctx.base);
  return (await counted(metric)).events;
}

/** A page of the site with the snippet loaded as `window.edge` and its console in `log`. */
async function sitePage(context, path = '/demo/config.json') {
  const page = await context.newPage();
  const log = [];
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  await page.goto(`${ctx.base}${path}`);
  await loadSnippet(page);
  return { page, log };
}

async function loadSnippet(frame) {
  await frame.evaluate(async () => {
    const mod = await import('/snippet/edge-exp.js');
    await mod.default();
    window.edge = mod;
  });
}

/** In the page: init as `visitor` and one exposure to the experiment's flag. */
function start(frame, visitor, options = {}) {
  return frame.evaluate(({ id, visitor, options, flag }) => {
    const e = window.edge;
    return e.init(id, { kind: 'user', key: visitor }, { flushInterval: 60000, ...options })
      .then((ready) => { e.variation(flag, 'a'); return ready; });
  }, { id: ctx.creds.CLIENT_SIDE_ID, visitor, options, flag: FLAG });
}

/** In the page, in one task: `n` track() calls of `key`, then `then` (a function's source). */
function burst(frame, { key, n = BURST, then = '() => {}' }) {
  return frame.evaluate(({ key, n, then }) => {
    const e = window.edge;
    for (let i = 0; i < n; i++) e.track(key);
    const before = e.stats();
    // eslint-disable-next-line no-new-func
    const after = new Function(`return (${then})()`)();
    return { before, after };
  }, { key, n, then });
}

/**
 * In one task (a timer, so the evaluation returns first): `n` track() calls of `key`, the
 * figures logged, and the page left for the next page of the site, which starts the snippet.
 */
async function burstAndLeave(page, log, key, n = BURST) {
  const next = '/demo/config.json?next';
  await page.evaluate(({ key, n, next }) => {
    setTimeout(() => {
      for (let i = 0; i < n; i++) window.edge.track(key);
      console.log(`before leaving ${JSON.stringify(window.edge.stats())}`);
      location.href = next;
    }, 0);
  }, { key, n, next });
  await page.waitForURL(`**${next}`);
  const line = log.find((l) => l.startsWith('log: before leaving '));
  assert.ok(line, log.join('\n'));
  await loadSnippet(page);
  await page.evaluate((id) => window.edge.init(id, { kind: 'user', key: 'next-page' }, { flushInterval: 60000 }), ctx.creds.CLIENT_SIDE_ID);
  return JSON.parse(line.slice('log: before leaving '.length));
}

const noPageErrors = (log) => assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));

describe('the snippet loses nothing silently', () => {
  chrome = useBrowser(setUp);
  let context;
  before(async () => { context = await chrome.browser.newContext(); });

  it('delivers a 3,000-event burst in full when the visitor leaves right after it', async () => {
    const { page, log } = await sitePage(context);
    assert.equal(await start(page, 'leaver', { capacity: 10000 }), true);
    const before = await burstAndLeave(page, log, 'burst-leave');
    assert.deepEqual(before, { queued: BURST + 2, dropped: 0, sent: 0 }, 'identify, feature and the burst were queued');
    const got = await countedExactly('burst-leave', BURST);
    assert.equal(got, BURST, `every event of the burst counted once; the next page's figures ${JSON.stringify(await page.evaluate(() => window.edge.stats()))}, its outbox ${await page.evaluate(() => (localStorage.getItem('edge-exp:outbox') || '').length)} chars; console:\n${log.join('\n')}`);
    assert.ok(!log.some((l) => l.includes('could not send')), log.join('\n'));
    noPageErrors(log);
    await page.close();
  });

  it('delivers the same burst with flush() while the visitor stays', async () => {
    const { page, log } = await sitePage(context);
    await start(page, 'stayer', { capacity: 10000 });
    const out = await page.evaluate(async (n) => {
      for (let i = 0; i < n; i++) window.edge.track('burst-stay');
      return { accepted: await window.edge.flush(), stats: window.edge.stats() };
    }, BURST);
    assert.equal(out.accepted, true, 'flush() resolves true once every post is accepted');
    assert.deepEqual(out.stats, { queued: 0, dropped: 0, sent: BURST + 2 });
    assert.equal(await countedExactly('burst-stay', BURST), BURST);
    noPageErrors(log);
    await page.close();
  });

  it('with the default capacity, delivers what was queued and counts and warns about the rest', async () => {
    const { page, log } = await sitePage(context);
    await start(page, 'default-cap');
    const before = await burstAndLeave(page, log, 'burst-default');
    // identify and feature take two of the 100 places.
    assert.deepEqual(before, { queued: 100, dropped: BURST - 98, sent: 0 });
    assert.equal(log.filter((l) => l.startsWith('warning:') && l.includes('queue is full')).length, 1, log.join('\n'));
    assert.equal(await countedExactly('burst-default', 98), 98, 'every queued event counted, none twice');
    noPageErrors(log);
    await page.close();
  });

  it('counts and warns about every event that can neither go nor be kept when the page is hidden', async () => {
    const { page, log } = await sitePage(context);
    await start(page, 'no-storage', { capacity: 10000 });
    // Storage full or disabled, and the page-hide handler runs right after the burst (the page
    // itself stays, so its figures can be read).
    const { after: stats } = await burst(page, { key: 'burst-no-storage', then: `() => {
      Storage.prototype.setItem = () => { throw new DOMException('full', 'QuotaExceededError'); };
      window.dispatchEvent(new Event('pagehide'));
      return window.edge.stats();
    }` });
    assert.equal(stats.queued, 0);
    assert.ok(stats.dropped > 0 && stats.dropped < BURST, `some went with keep-alive requests, the rest was counted (${stats.dropped})`);
    assert.ok(log.some((l) => l.startsWith('warning:') && l.includes('could not send or keep events')), log.join('\n'));
    // What was not dropped was sent: the burst's events are all accounted for, exactly.
    assert.equal(await countedExactly('burst-no-storage', BURST - stats.dropped), BURST - stats.dropped);
    noPageErrors(log);
    await page.close();
  });

  it('sends what was kept when a hidden page is shown again', async () => {
    const { page, log } = await sitePage(context);
    await start(page, 'hidden', { capacity: 10000 });
    const { after: kept } = await burst(page, { key: 'burst-hidden', then: `() => {
      window.dispatchEvent(new Event('pagehide'));
      const text = localStorage.getItem('edge-exp:outbox') || '';
      document.dispatchEvent(new Event('visibilitychange')); // visible: the outbox goes now
      return { kept: text.length, after: localStorage.getItem('edge-exp:outbox'), stats: window.edge.stats() };
    }` });
    assert.ok(kept.kept > 0, 'what did not fit the keep-alive budget was kept');
    assert.equal(kept.after, null, 'and taken again when the page was shown');
    assert.equal(kept.stats.dropped, 0);
    const got = await countedExactly('burst-hidden', BURST);
    assert.equal(got, BURST, `figures ${JSON.stringify(await page.evaluate(() => window.edge.stats()))}, outbox ${await page.evaluate(() => (localStorage.getItem('edge-exp:outbox') || '').length)} chars; console:\n${log.join('\n')}`);
    noPageErrors(log);
    await page.close();
  });

  it('counts a click inside an open shadow root once', async () => {
    const { page, log } = await sitePage(context);
    await page.evaluate(() => {
      customElements.define('buy-box', class extends HTMLElement {
        constructor() {
          super();
          this.attachShadow({ mode: 'open' }).innerHTML = '<div class="wrap"><button class="cta"><span>Buy</span></button></div>';
        }
      });
      document.body.innerHTML = '<buy-box></buy-box>';
    });
    await start(page, 'shadow-clicker');
    await page.locator('buy-box button.cta span').click(); // a nested element inside the component
    const out = await page.evaluate(async () => ({ accepted: await window.edge.flush(), stats: window.edge.stats() }));
    assert.equal(out.accepted, true);
    assert.equal(await countedExactly('shadow-cta', 1), 1, 'one click, one event');
    noPageErrors(log);
    await page.close();
  });

  it('inside an iframe, retries a failed first POST and is counted once', async () => {
    const page = await context.newPage();
    const log = [];
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    let failed = 0;
    await page.route('**/events/bulk/**', async (route) => {
      if (failed > 0) return route.continue();
      failed++;
      await route.fetch(); // the Worker accepts it; the page is told it failed
      return route.fulfill({ status: 503, body: '{"message":"upstream failed"}' });
    });
    await page.goto(`${ctx.base}/demo/config.json`);
    await page.evaluate(() => new Promise((resolve) => {
      const f = document.createElement('iframe');
      f.src = '/demo/config.json?frame';
      f.onload = resolve;
      document.body.append(f);
    }));
    const frame = page.frames().find((f) => f.url().endsWith('?frame'));
    await loadSnippet(frame);
    await start(frame, 'framed');
    await burst(frame, { key: 'framed', n: 50 });
    const out = await frame.evaluate(async () => ({ accepted: await window.edge.flush(), stats: window.edge.stats() }));
    assert.equal(out.accepted, true, 'accepted on the retry');
    assert.deepEqual(out.stats, { queued: 0, dropped: 0, sent: 52 });
    assert.equal(failed, 1);
    assert.equal(await countedExactly('framed', 50), 50, 'the retry was recognised as the same payload');
    noPageErrors(log);
    await page.close();
  });
});

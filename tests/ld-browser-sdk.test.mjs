// LaunchDarkly's own browser SDK (launchdarkly-js-client-sdk 3.x, which supports goals) pointed at
// the Worker in headless Chromium: it gets the same flags as our evaluation route, loads the goals,
// tracks a click goal, and every payload it sends is accepted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../scripts/wrangler-dev.mjs';
import { useWorker, request } from './support/worker.mjs';
import { useBrowser } from './support/browser.mjs';
import { seed } from '../scripts/seed.mjs';

const ctx = useWorker();
let chrome;

describe('launchdarkly-js-client-sdk against the Worker', () => {
  chrome = useBrowser(() => seed(ctx.base, ctx.creds));

  it('gets the same flags and goals, and its events are accepted', async () => {
    const page = await chrome.browser.newPage();
    const sdk = readFileSync(join(ROOT, 'node_modules', 'launchdarkly-js-client-sdk', 'dist', 'ldclient.min.js'));
    // Both the page and the SDK are served on the Worker's origin (first-party).
    await page.route(`${ctx.base}/__ld/ldclient.min.js`, (r) => r.fulfill({ body: sdk, contentType: 'text/javascript' }));
    await page.route(`${ctx.base}/__ld/page.html`, (r) => r.fulfill({ contentType: 'text/html', body: `<!doctype html><link rel="icon" href="data:,">
      <span class="buy"><button id="buy" class="buy"><span class="label">Buy</span></button></span>
      <script src="/__ld/ldclient.min.js"></script>` }));
    const answers = [];
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      if (r.request().method() === 'POST' || path.startsWith('/sdk/')) {
        answers.push(r.text().then((text) => ({ path, status: r.status(), text, body: r.request().postData() })));
      }
    });
    await page.goto(`${ctx.base}/__ld/page.html`);
    const context = { kind: 'user', key: 'ld-browser-visitor' };
    const flags = await page.evaluate(async ({ cid, base, context }) => {
      const client = window.LDClient.initialize(cid, context, { baseUrl: base, eventsUrl: base, streamUrl: base, flushInterval: 60000 });
      await client.waitForInitialization(10);
      await client.waitUntilGoalsReady();
      window.ld = client;
      client.variation('demo-headline', 'default');
      return client.allFlags();
    }, { cid: ctx.creds.CLIENT_SIDE_ID, base: ctx.base, context });

    const ours = await request('REPORT', `${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/context`, { body: context });
    assert.deepEqual(flags, Object.fromEntries(Object.entries(ours.body).map(([k, v]) => [k, v.value])));

    await page.click('#buy .label');
    await page.evaluate(() => window.ld.flush());
    const all = await Promise.all(answers);
    const goals = all.find((a) => a.path.startsWith('/sdk/goals/'));
    assert.equal(goals?.status, 200, 'the SDK loaded the goals');
    assert.ok(JSON.parse(goals.text).some((g) => g.key === 'demo-buy-click'));
    const posts = all.filter((a) => a.path.startsWith('/events/bulk/'));
    assert.ok(posts.length >= 1);
    const events = posts.flatMap((p) => JSON.parse(p.body));
    for (const p of posts) {
      assert.equal(p.status, 202, p.text);
      assert.deepEqual(JSON.parse(p.text).rejected, []);
    }
    const clicks = events.filter((e) => e.kind === 'click' && e.key === 'demo-buy-click');
    // LaunchDarkly's SDK sends one click event per matching ancestor: 2 for this one click (the
    // snippet sends 1; see snippet.test.mjs).
    assert.equal(clicks.length, 2);
    assert.ok(events.some((e) => e.kind === 'feature' && e.key === 'demo-headline'));
    assert.ok(events.some((e) => e.kind === 'identify'));
    const diag = all.filter((a) => a.path.startsWith('/events/diagnostic/'));
    assert.ok(diag.every((d) => d.status === 202));
  });
});

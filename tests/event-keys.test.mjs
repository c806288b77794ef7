// The event-key catalogue end to end: events from LaunchDarkly's own Node SDK, from the snippet in
// headless Chromium and from the metric import API are listed by
// GET /api/v2/projects/{p}/event-keys with their SDK, context kinds, environments and counts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { init, integrations } from '@launchdarkly/node-server-sdk';
import { useWorker, request, post, drain } from './support/worker.mjs';
import { launch } from './support/browser.mjs';

const ctx = useWorker();
const keys = (query = '') => request('GET', `${ctx.base}/api/v2/projects/default/event-keys${query}`, { token: ctx.creds.API_READER_TOKEN });
const find = (body, key) => body.items.find((e) => e.key === key);

describe('event-key catalogue', () => {
  let client;
  let browser;
  before(async () => {
    client = init(ctx.creds.SDK_KEY, {
      updateProcessor: new integrations.TestData().getFactory(),
      eventsUri: ctx.base,
      sendEvents: true,
      logger: { debug() {}, info() {}, warn() {}, error: (...a) => console.error(...a) },
    });
    await client.waitForInitialization({ timeout: 10 });
    browser = await launch();
  });
  after(async () => {
    client?.close();
    await browser?.close();
  });

  it('lists keys from the Node SDK, the snippet and the import API with their SDK and context kinds', async () => {
    const sent = Date.now();
    for (let i = 0; i < 3; i++) client.track('catalog-signup', { kind: 'user', key: `cat-${i}` });
    client.track('catalog-signup', { kind: 'multi', user: { key: 'cat-9' }, org: { key: 'acme' } });
    await client.flush();

    const page = await browser.newPage();
    await page.goto(`${ctx.base}/`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.evaluate(async () => {
      window.edge.track('catalog-snippet', null, 3);
      await window.edge.flush();
    });
    await page.close();

    const imported = await post(`${ctx.base}/v2/event-data-import/default/production`,
      [{ kind: 'custom', key: 'catalog-import', creationDate: Date.now(), contextKeys: { account: 'a1' }, metricValue: 2 }],
      { Authorization: ctx.creds.API_TOKEN, 'User-Agent': 'MetricImport-acme-int/1.0', 'X-LaunchDarkly-Event-Schema': '4' });
    assert.equal(imported.status, 202, JSON.stringify(imported.body));
    // Two more payloads with the same key, sent together: whether the queue hands them to the
    // consumer in one batch or two, every event is counted.
    const more = (user) => [{ kind: 'custom', key: 'catalog-signup', creationDate: Date.now(), contextKeys: { user } }];
    const posts = await Promise.all(['cat-x', 'cat-y'].map((u) => post(`${ctx.base}/bulk`, more(u), { Authorization: ctx.creds.SDK_KEY })));
    assert.deepEqual(posts.map((p) => p.status), [202, 202]);
    await drain(ctx.base);

    const r = await keys('?search=catalog-');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const signup = find(r.body, 'catalog-signup');
    assert.ok(signup, JSON.stringify(r.body));
    assert.equal(signup.count, 6);
    assert.deepEqual(signup.kinds, ['custom']);
    assert.deepEqual(signup.environments, ['production']);
    assert.deepEqual(signup.contextKinds, ['org', 'user']);
    assert.equal(signup.sdks.length, 1, 'a plain fetch (User-Agent "node") names no SDK');
    assert.match(signup.sdks[0], /^NodeJSClient\/\d+\.\d+\.\d+$/);
    assert.ok(signup.lastSeen >= sent && signup.lastSeen <= Date.now(), 'lastSeen is the newest event\'s time');

    const snippet = find(r.body, 'catalog-snippet');
    assert.ok(snippet, JSON.stringify(r.body));
    assert.deepEqual(snippet.sdks, ['EdgeExpSnippet/0.1.0']);
    assert.deepEqual(snippet.contextKinds, ['user']);

    assert.deepEqual(find(r.body, 'catalog-import').sdks, ['MetricImport-acme-int/1.0']);
    assert.deepEqual(find(r.body, 'catalog-import').contextKinds, ['account']);
    assert.ok(r.body.items.every((e) => e.key.includes('catalog-')), 'search filters');
  });

  it('searches case-insensitively, limits, refuses bad queries and needs a token', async () => {
    const r = await keys('?search=CATALOG-S&limit=1');
    assert.equal(r.status, 200);
    assert.equal(r.body.items.length, 1);
    assert.match(r.body.items[0].key, /^catalog-s/);
    assert.equal(r.body.totalCount, 2, 'catalog-signup and catalog-snippet match; the limit shows one');
    const bad = await keys('?limit=500');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /`limit` must be an integer from 1 to 100/);
    const unknown = await keys('?sort=name');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /unknown field `sort`/);
    const anonymous = await fetch(`${ctx.base}/api/v2/projects/default/event-keys`);
    assert.equal(anonymous.status, 401);
  });
});

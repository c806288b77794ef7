// LaunchDarkly's browser streaming routes, served by the Worker's isolate (no Durable Object):
// `GET /eval/{clientSideId}/{context}` and `REPORT /eval/{clientSideId}` send a `put` of the
// context's evaluations, then a `patch` or `delete` for every evaluation a REST change alters
// (a `put` when an evaluation changes at the same flag version, as after a segment change);
// `GET /ping/{clientSideId}` sends `ping`. LaunchDarkly's own browser SDK (3.x, `streaming: true`)
// in Chromium sees a flag change on an open page.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../scripts/wrangler-dev.mjs';
import { request, useWorker } from './support/worker.mjs';
import { useBrowser } from './support/browser.mjs';
import { openStream } from './support/sse.mjs';

const ctx = useWorker();
const api = (path) => `${ctx.base}/api/v2${path}`;
const CID = () => ctx.creds.CLIENT_SIDE_ID;
const SEMANTIC = { 'Content-Type': 'application/json; domain-model=launchdarkly.semanticpatch' };
const b64 = (context) => Buffer.from(JSON.stringify(context)).toString('base64url');

async function ok(method, url, body, headers = {}) {
  const r = await request(method, url, { token: ctx.creds.API_TOKEN, body, headers });
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function evalx(context) {
  const r = await request('REPORT', `${ctx.base}/sdk/evalx/${CID()}/context`, { body: context });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** An open server-sent event stream of the Worker's (`support/sse.mjs`). */
const open = (path, init = {}) => openStream(`${ctx.base}${path}`, init);

let ready;
const setup = () => (ready ??= (async () => {
  await ok('POST', api('/segments/default/production'), { key: 'bs-beta', included: ['bs-beta-user'] });
  const vars = [{ value: 'red' }, { value: 'blue' }];
  await ok('POST', api('/flags/default'), { key: 'bs-color', variations: vars, clientSideAvailability: { usingEnvironmentId: true },
    environments: { production: { on: true, offVariation: 1, fallthrough: { variation: 0 } } } });
  await ok('POST', api('/flags/default'), { key: 'bs-beta', variations: [{ value: false }, { value: true }],
    clientSideAvailability: { usingEnvironmentId: true },
    environments: { production: { on: true, offVariation: 0, fallthrough: { variation: 0 }, rules: [
      { clauses: [{ contextKind: 'user', attribute: 'key', op: 'segmentMatch', values: ['bs-beta'] }], variation: 1 }] } } });
})());

describe('browser streaming routes (GET/REPORT /eval, GET /ping)', () => {
  const beta = { kind: 'user', key: 'bs-beta-user' };
  const other = { kind: 'user', key: 'bs-other-user' };
  let betaStream;
  let otherStream;
  before(async () => {
    await setup();
    betaStream = await open(`/eval/${CID()}/${b64(beta)}`);
    otherStream = await open(`/eval/${CID()}`, { method: 'REPORT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(other) });
  });
  after(() => { betaStream?.close(); otherStream?.close(); });

  it('opens with a put of exactly what evalx answers for the context, with the stream headers', async () => {
    for (const [stream, context] of [[betaStream, beta], [otherStream, other]]) {
      const put = await stream.next();
      assert.equal(put.event, 'put');
      assert.deepEqual(put.data, await evalx(context));
      assert.equal(stream.headers.get('cache-control'), 'no-cache');
    }
    assert.equal((await evalx(beta))['bs-beta'].value, true);
  });

  it('sends a patch with the new evaluation when a flag is turned off', async () => {
    const before = (await evalx(beta))['bs-color'];
    const changedAt = Date.now();
    await ok('PATCH', api('/flags/default/bs-color'), { environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }] }, SEMANTIC);
    for (const stream of [betaStream, otherStream]) {
      const patch = await stream.next();
      assert.equal(patch.event, 'patch', JSON.stringify(patch));
      assert.equal(patch.data.key, 'bs-color');
      assert.equal(patch.data.value, 'blue');
      assert.ok(patch.data.version > before.version, 'the SDK takes a patch only above the version it holds');
    }
    console.log(`# flag change reached both open streams in ${Date.now() - changedAt} ms`);
  });

  it('sends a put when a segment change alters an evaluation, and nothing to a context it does not alter', async () => {
    await ok('PATCH', api('/segments/default/production/bs-beta'), [{ op: 'replace', path: '/included', value: [] }]);
    const put = await betaStream.next();
    assert.equal(put.event, 'put', 'bs-beta changed at the same flag version: only a put replaces it');
    assert.equal(put.data['bs-beta'].value, false);
    assert.deepEqual(put.data, await evalx(beta));
    // The other context's evaluations did not change: its next event is the next flag change's.
    await ok('PATCH', api('/flags/default/bs-color'), { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }] }, SEMANTIC);
    const next = await otherStream.next();
    assert.equal(next.event, 'patch');
    assert.equal(next.data.key, 'bs-color');
    assert.equal(next.data.value, 'red');
    assert.equal((await betaStream.next()).data.key, 'bs-color');
  });

  it('sends a delete above the flag\'s last version when a flag is deleted', async () => {
    const held = (await evalx(other))['bs-beta'].version;
    await ok('DELETE', api('/flags/default/bs-beta'));
    const gone = await otherStream.next();
    assert.equal(gone.event, 'delete');
    assert.deepEqual(gone.data, { key: 'bs-beta', version: held + 1 });
  });

  it('the ping stream pings at once and on every change', async () => {
    const ping = await open(`/ping/${CID()}`);
    try {
      assert.equal((await ping.next()).event, 'ping');
      await ok('PATCH', api('/flags/default/bs-color'), { environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }] }, SEMANTIC);
      assert.equal((await ping.next()).event, 'ping');
    } finally {
      ping.close();
    }
  });

  it('refuses what it cannot serve with a JSON error, never a hanging stream', async () => {
    const unknown = await request('GET', `${ctx.base}/eval/no-such-id/${b64(beta)}`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.message, /client-side ID/);
    const bad = await request('GET', `${ctx.base}/eval/${CID()}/not!base64`);
    assert.equal(bad.status, 400);
    const noKey = await request('REPORT', `${ctx.base}/eval/${CID()}`, { body: { kind: 'user' } });
    assert.equal(noKey.status, 400, JSON.stringify(noKey.body));
    const post = await request('POST', `${ctx.base}/eval/${CID()}/${b64(beta)}`, { body: {} });
    assert.equal(post.status, 405);
  });
});

describe('launchdarkly-js-client-sdk streaming from the Worker in Chromium', () => {
  const chrome = useBrowser(setup);

  it('an open page sees a flag change through the stream', async () => {
    const page = await chrome.browser.newPage();
    const sdk = readFileSync(join(ROOT, 'node_modules', 'launchdarkly-js-client-sdk', 'dist', 'ldclient.min.js'));
    await page.route(`${ctx.base}/__ld/ldclient.min.js`, (r) => r.fulfill({ body: sdk, contentType: 'text/javascript' }));
    await page.route(`${ctx.base}/__ld/page.html`, (r) => r.fulfill({ contentType: 'text/html',
      body: '<!doctype html><link rel="icon" href="data:,"><script src="/__ld/ldclient.min.js"></script>' }));
    const streams = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/eval/')) streams.push(r.url()); });
    await page.goto(`${ctx.base}/__ld/page.html`);
    const context = { kind: 'user', key: 'bs-page-visitor' };
    const first = await page.evaluate(async ({ cid, base, context }) => {
      const client = window.LDClient.initialize(cid, context, { baseUrl: base, eventsUrl: base, streamUrl: base,
        streaming: true, sendEvents: false, fetchGoals: false });
      await client.waitForInitialization(10);
      window.changes = [];
      client.on('change:bs-color', (current) => window.changes.push(current));
      window.ld = client;
      return client.variation('bs-color', 'default');
    }, { cid: CID(), base: ctx.base, context });
    assert.equal(first, (await evalx(context))['bs-color'].value);
    const want = first === 'red' ? 'turnFlagOff' : 'turnFlagOn';
    const changedAt = Date.now();
    await ok('PATCH', api('/flags/default/bs-color'), { environmentKey: 'production', instructions: [{ kind: want }] }, SEMANTIC);
    const expected = (await evalx(context))['bs-color'].value;
    assert.notEqual(expected, first);
    await page.waitForFunction((v) => window.changes.includes(v), expected, { timeout: 20_000 });
    console.log(`# the open page saw the change ${Date.now() - changedAt} ms after the REST call`);
    assert.equal(await page.evaluate(() => window.ld.variation('bs-color', 'default')), expected);
    assert.ok(streams.some((u) => u.includes(`/eval/${CID()}/`)), `the SDK streamed from the Worker: ${streams}`);
    await page.close();
  });
});

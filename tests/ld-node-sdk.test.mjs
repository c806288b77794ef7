// Payloads produced by LaunchDarkly's own Node server SDK, sent to the Worker through a recording
// pass-through proxy (so the test sees each request and the Worker's answer to it). The SDK gets
// its flag from the Worker itself (streaming in one run, polling in the other), no flag files.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { init } from '@launchdarkly/node-server-sdk';
import { useWorker, uid, firstVariation, request } from './support/worker.mjs';

const ctx = useWorker();

/** A proxy to the Worker that records every exchange. */
function recordingProxy(target) {
  const exchanges = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const headers = { ...req.headers };
    // Hop-by-hop headers are the proxy's own business (and fetch refuses them).
    for (const h of ['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding']) delete headers[h];
    let r;
    try {
      r = await fetch(`${target()}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined });
    } catch (e) {
      exchanges.push({ path: req.url, error: String(e.cause ?? e) });
      res.writeHead(502).end();
      return;
    }
    const text = await r.text();
    const plain = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
    exchanges.push({ path: req.url, headers: req.headers, request: plain.toString(), status: r.status, response: text });
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') || 'application/json', date: r.headers.get('date') || '' });
    res.end(text);
  });
  return { server, exchanges };
}

for (const compression of [false, true]) {
  describe(`@launchdarkly/node-server-sdk events${compression ? ' (gzip, flags by polling)' : ' (flags by streaming)'}`, () => {
    const proxy = recordingProxy(() => ctx.base);
    let client;
    const users = Array.from({ length: 20 }, () => uid('ld'));
    const served = new Map();

    before(async () => {
      await new Promise((r) => proxy.server.listen(0, '127.0.0.1', r));
      const { port } = proxy.server.address();
      // An experiment rollout: every evaluation is "in experiment", so the SDK sends full
      // feature events (exposures) as it would for a LaunchDarkly experiment. Made once for both
      // runs (the second finds it: 409).
      const made = await request('POST', `${ctx.base}/api/v2/flags/default`, { token: ctx.creds.API_TOKEN, body: {
        key: 'sdk-experiment', variations: [{ value: false }, { value: true }],
        environments: { production: { on: true, offVariation: 0,
          fallthrough: { rollout: { kind: 'experiment', seed: 61, variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } } } } } });
      assert.ok([201, 409].includes(made.status), JSON.stringify(made.body));
      client = init(ctx.creds.SDK_KEY, {
        baseUri: ctx.base,
        streamUri: ctx.base,
        stream: !compression,
        eventsUri: `http://127.0.0.1:${port}`,
        sendEvents: true,
        enableEventCompression: compression,
        logger: { debug() {}, info() {}, warn() {}, error: (...a) => console.error(...a) },
      });
      await client.waitForInitialization({ timeout: 10 });
    });

    after(async () => {
      client?.close();
      await new Promise((r) => proxy.server.close(r));
    });

    it('sends index, feature, custom, identify and summary events that are all accepted', async () => {
      for (const key of users) {
        const detail = await client.variationDetail('sdk-experiment', { kind: 'user', key }, false);
        served.set(key, detail.variationIndex);
        client.track('purchase', { kind: 'user', key }, { sku: 'A' }, 12.5);
      }
      client.identify({ kind: 'multi', user: { key: users[0] }, org: { key: 'acme' } });
      await client.flush();

      const bulk = proxy.exchanges.filter((e) => e.path === '/bulk');
      assert.ok(bulk.length >= 1, 'the SDK posted to /bulk');
      const kinds = new Set();
      for (const e of bulk) {
        const events = JSON.parse(e.request);
        events.forEach((ev) => kinds.add(ev.kind));
        assert.equal(e.status, 202, e.response);
        const answer = JSON.parse(e.response);
        assert.deepEqual(answer.rejected, [], e.response);
        assert.equal(answer.accepted, events.length);
        assert.equal(e.headers['x-launchdarkly-event-schema'], '4');
        assert.ok(e.headers['x-launchdarkly-payload-id']);
        assert.equal(e.headers['content-encoding'], compression ? 'gzip' : undefined);
      }
      for (const k of ['index', 'feature', 'custom', 'identify', 'summary']) assert.ok(kinds.has(k), `saw ${k}`);
    });

    it('records the variation the SDK served as each context\'s first variation', async () => {
      assert.equal(served.size, users.length);
      assert.ok(new Set(served.values()).size === 2, 'both variations served');
      for (const key of users) {
        const r = await firstVariation(ctx, { flag: 'sdk-experiment', key });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.variation, served.get(key), key);
      }
    });

    it('has its diagnostic events accepted', async () => {
      const diag = proxy.exchanges.filter((e) => e.path === '/diagnostic');
      assert.ok(diag.length >= 1, 'the SDK sent diagnostic-init');
      for (const e of diag) assert.equal(e.status, 202);
    });
  });
}

// The events routes over real HTTP against `wrangler dev`: formats, validation, status codes,
// credentials, CORS, gzip, size limit and payload-ID de-duplication.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { useWorker, post, get, uid, feature, firstVariation, drain } from './support/worker.mjs';

const ctx = useWorker();
const sdk = () => ({ Authorization: ctx.creds.SDK_KEY });
const now = () => Date.now();

describe('POST /bulk (server SDKs)', () => {
  it('accepts every event kind, in both context forms', async () => {
    const t = now();
    const events = [
      { kind: 'index', creationDate: t, context: { kind: 'user', key: 'u1', name: 'Ann' } },
      { kind: 'identify', creationDate: t, context: { kind: 'multi', user: { key: 'u1' }, org: { key: 'o1' } } },
      feature('f', { kind: 'user', key: 'u1' }, 1, t),
      feature('f', { user: 'u2' }, 0, t),
      { kind: 'custom', creationDate: t, key: 'Order placed', context: { key: 'u1' }, data: { sku: 'A1' }, metricValue: 49.99 },
      { kind: 'custom', creationDate: t, key: 'signup', contextKeys: { user: 'u1', org: 'o1' } },
      { kind: 'click', creationDate: t, key: 'buy', url: 'https://shop.example/p/9', selector: '#buy', contextKeys: { user: 'u1' } },
      { kind: 'pageview', creationDate: t, key: 'checkout', url: 'https://shop.example/checkout', contextKeys: { user: 'u1' }, data: null },
      { kind: 'summary', startDate: t - 1000, endDate: t, features: { f: { default: false, contextKinds: ['user'], counters: [{ variation: 1, version: 3, value: true, count: 2 }] } } },
      { kind: 'debug', creationDate: t, key: 'f', context: { key: 'u1' } },
      { kind: 'migration_op', creationDate: t },
    ];
    const r = await post(`${ctx.base}/bulk`, events, sdk());
    assert.equal(r.status, 202);
    assert.equal(r.body.accepted, events.length);
    assert.deepEqual(r.body.rejected, []);
    assert.match(r.headers.get('date'), /GMT$/);
  });

  it('keeps the good events of a payload with bad ones and names each problem', async () => {
    const t = now();
    const key = uid();
    const r = await post(`${ctx.base}/bulk`, [
      feature('mixed', { kind: 'user', key }, 1, t),
      { kind: 'custom', creationDate: t, context: { key } },
      'not an event',
      { kind: 'teleport', creationDate: t },
      { kind: 'custom', creationDate: 'yesterday', key: 'k', context: { key } },
      { kind: 'feature', creationDate: t, key: 'f', variation: -2, context: { key } },
      { kind: 'custom', creationDate: t, key: 'k', context: { kind: 'user' } },
      { kind: 'custom', creationDate: t, key: 'k' },
      { kind: 'click', creationDate: t, key: 'k', url: 'https://a/', contextKeys: { user: key } },
      { kind: 'custom', creationDate: t, key: 'k', context: { key }, metricValue: 'lots' },
    ], sdk());
    assert.equal(r.status, 202);
    assert.equal(r.body.accepted, 1);
    assert.deepEqual(r.body.rejected, [
      { index: 1, error: '`key` is required' },
      { index: 2, error: 'event must be a JSON object' },
      { index: 3, error: 'unknown event kind `teleport`' },
      { index: 4, error: '`creationDate` must be a positive integer (Unix milliseconds)' },
      { index: 5, error: '`variation` must be a non-negative integer (variation index)' },
      { index: 6, error: '`context.key` must be a non-empty string' },
      { index: 7, error: 'event has neither `context` nor `contextKeys`' },
      { index: 8, error: '`selector` is required' },
      { index: 9, error: '`metricValue` must be a number from -1e15 to 1e15' },
    ]);
    // The good event in that payload was processed.
    const fv = await firstVariation(ctx, { flag: 'mixed', key, at: t });
    assert.deepEqual(fv.body, { variation: 1, firstSeen: t });
  });

  it('answers malformed JSON and non-arrays with 400 and a JSON error', async () => {
    let r = await post(`${ctx.base}/bulk`, '[{"kind":', sdk());
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'invalid_request');
    assert.match(r.body.message, /^body is not valid JSON/);
    r = await post(`${ctx.base}/bulk`, { kind: 'custom' }, sdk());
    assert.equal(r.status, 400);
    assert.equal(r.body.message, 'body must be a JSON array of events');
    r = await post(`${ctx.base}/bulk`, '', sdk());
    assert.equal(r.status, 400);
  });

  it('accepts a diagnostic object retried to the analytics URL', async () => {
    const r = await post(`${ctx.base}/bulk`, { kind: 'diagnostic', id: { diagnosticId: 'x' }, creationDate: now() }, sdk());
    assert.equal(r.status, 202);
    assert.equal(r.body.accepted, 0);
  });

  it('refuses missing and unknown SDK keys with 401', async () => {
    let r = await post(`${ctx.base}/bulk`, []);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'unauthorized');
    assert.match(r.body.message, /SDK key/);
    r = await post(`${ctx.base}/bulk`, [], { Authorization: 'sdk-wrong' });
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'unknown SDK key');
    // The client-side ID is not a secret and does not authenticate server SDKs.
    r = await post(`${ctx.base}/bulk`, [], { Authorization: ctx.creds.CLIENT_SIDE_ID });
    assert.equal(r.status, 401);
  });

  it('inflates gzip bodies and limits the inflated size to 1 MiB', async () => {
    const key = uid();
    const t = now();
    let r = await post(`${ctx.base}/bulk`, gzipSync(JSON.stringify([feature('gz', { user: key }, 0, t)])),
      { ...sdk(), 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 202);
    assert.equal(r.body.accepted, 1);
    assert.equal((await firstVariation(ctx, { flag: 'gz', key, at: t })).body.variation, 0);

    // 1 MiB + 1 of whitespace-padded JSON compresses to a few KB but inflates past the limit.
    const bomb = gzipSync(`[${' '.repeat(1024 * 1024)}]`);
    assert.ok(bomb.length < 20_000);
    r = await post(`${ctx.base}/bulk`, bomb, { ...sdk(), 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 413);
    assert.equal(r.body.code, 'payload_too_large');

    r = await post(`${ctx.base}/bulk`, `[${' '.repeat(1024 * 1024)}]`, sdk());
    assert.equal(r.status, 413);
    r = await post(`${ctx.base}/bulk`, 'not gzip', { ...sdk(), 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /gzip/);
    r = await post(`${ctx.base}/bulk`, '[]', { ...sdk(), 'Content-Encoding': 'br' });
    assert.equal(r.status, 415);
  });

  it('processes a payload ID once and answers its retry with the same summary', async () => {
    const key = uid();
    const t = now();
    const id = randomUUID();
    const payload = [feature('dedup', { user: key }, 1, t), { kind: 'bogus' }];
    const writes0 = (await drain(ctx.base)).exposureWrites;
    const first = await post(`${ctx.base}/bulk`, payload, { ...sdk(), 'X-LaunchDarkly-Payload-ID': id });
    assert.equal(first.status, 202);
    assert.equal(first.body.queuedMessages, 1);
    assert.equal((await drain(ctx.base)).exposureWrites - writes0, 1);
    const retry = await post(`${ctx.base}/bulk`, payload, { ...sdk(), 'X-LaunchDarkly-Payload-ID': id });
    assert.equal(retry.status, 202);
    assert.equal(retry.body.duplicate, true);
    assert.equal(retry.body.accepted, 1);
    assert.deepEqual(retry.body.rejected, first.body.rejected);
    assert.equal(retry.body.queuedMessages, undefined, 'the retry was not processed');
    // A new ID with the same content is processed, but the exposure is already known: no write.
    const again = await post(`${ctx.base}/bulk`, payload, { ...sdk(), 'X-LaunchDarkly-Payload-ID': randomUUID() });
    assert.equal(again.body.queuedMessages, 1);
    assert.equal((await drain(ctx.base)).exposureWrites - writes0, 1);
  });

  it('answers other methods with 405 and unknown paths with a JSON 404', async () => {
    let r = await get(`${ctx.base}/bulk`, sdk());
    assert.equal(r.status, 405);
    assert.equal(r.body.code, 'method_not_allowed');
    r = await get(`${ctx.base}/no/such/route`);
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'not_found');
  });
});

describe('live event feed', () => {
  it('lists the newest payloads\' events for readers, newest first', async () => {
    const key = uid();
    const t = now();
    await post(`${ctx.base}/bulk`, [feature('feed-flag', { user: key }, 1, t)], sdk());
    await post(`${ctx.base}/bulk`, [{ kind: 'custom', key: 'feed-event', creationDate: t + 1, contextKeys: { user: key }, metricValue: 3 }], sdk());
    const r = await get(`${ctx.base}/api/v2/projects/default/environments/production/events/recent?limit=2`, { Authorization: ctx.creds.API_READER_TOKEN });
    assert.equal(r.status, 200);
    assert.equal(r.body.items.length, 2);
    assert.deepEqual(r.body.items[0].events, [{ kind: 'custom', key: 'feed-event', units: [`user:${key}`], at: t + 1, value: 3 }]);
    assert.deepEqual(r.body.items[1].events, [{ kind: 'feature', key: 'feed-flag', units: [`user:${key}`], at: t, variation: 1 }]);
    assert.equal(r.body.items[0].source, 'sdk');
    assert.equal((await get(`${ctx.base}/api/v2/projects/default/environments/production/events/recent`)).status, 401);
    assert.equal((await get(`${ctx.base}/api/v2/projects/default/environments/production/events/recent?limit=500`, { Authorization: ctx.creds.API_READER_TOKEN })).status, 400);
    // A parameter the route does not take is refused, named, not ignored.
    const typo = await get(`${ctx.base}/api/v2/projects/default/environments/production/events/recent?limt=5`, { Authorization: ctx.creds.API_READER_TOKEN });
    assert.equal(typo.status, 400);
    assert.equal(typo.body.code, 'invalid_request');
    assert.match(typo.body.message, /unknown field `limt`/);
  });
});

describe('POST /events/bulk/{clientSideId} (browser SDKs)', () => {
  it('accepts events without a secret and allows CORS', async () => {
    const key = uid();
    const t = now();
    const r = await post(`${ctx.base}/events/bulk/${ctx.creds.CLIENT_SIDE_ID}`,
      [feature('browser-flag', { kind: 'user', key, anonymous: true }, 1, t),
        { kind: 'click', creationDate: t, key: 'buy', url: 'https://shop.example/', selector: '#buy', contextKeys: { user: key } }],
      { Origin: 'https://shop.example', 'X-LaunchDarkly-User-Agent': 'JSClient/3.9.5' });
    assert.equal(r.status, 202);
    assert.equal(r.body.accepted, 2);
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.equal(r.headers.get('access-control-expose-headers'), 'Date');
  });

  it('answers the CORS preflight with the LaunchDarkly headers allowed', async () => {
    const r = await fetch(`${ctx.base}/events/bulk/${ctx.creds.CLIENT_SIDE_ID}`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-launchdarkly-payload-id' },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://shop.example');
    const allowed = r.headers.get('access-control-allow-headers').toLowerCase();
    for (const h of ['content-type', 'x-launchdarkly-user-agent', 'x-launchdarkly-payload-id',
      'x-launchdarkly-wrapper', 'x-launchdarkly-event-schema', 'x-launchdarkly-tags']) {
      assert.ok(allowed.includes(h), h);
    }
    assert.match(r.headers.get('access-control-allow-methods'), /POST/);
  });

  it('answers an unknown client-side ID with 404', async () => {
    const r = await post(`${ctx.base}/events/bulk/not-an-environment`, []);
    assert.equal(r.status, 404);
    assert.match(r.body.message, /client-side ID `not-an-environment`/);
  });

  it('accepts diagnostics (object bodies) and ignores them', async () => {
    const r = await post(`${ctx.base}/events/diagnostic/${ctx.creds.CLIENT_SIDE_ID}`, { kind: 'diagnostic-init' });
    assert.equal(r.status, 202);
  });
});

describe('mobile routes', () => {
  for (const path of ['/mobile', '/mobile/events', '/mobile/events/bulk']) {
    it(`POST ${path} takes the mobile key`, async () => {
      const r = await post(`${ctx.base}${path}`, [{ kind: 'identify', creationDate: now(), context: { key: 'm1' } }], sdk());
      assert.equal(r.status, 202);
      assert.equal(r.body.accepted, 1);
    });
  }
  it('POST /mobile without a key is 401', async () => {
    assert.equal((await post(`${ctx.base}/mobile`, [])).status, 401);
  });
});

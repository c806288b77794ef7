// Metrics REST API (LaunchDarkly v2 compatible), access tokens, goals and the OpenAPI document,
// over real HTTP against `wrangler dev` (metrics live in a Durable Object per project).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useWorker, request, get, post, apiOk, drain } from './support/worker.mjs';
import { conformance, responseSchema } from './support/conformance.mjs';

const ctx = useWorker();
const W = () => ctx.creds.API_TOKEN;
const R = () => ctx.creds.API_READER_TOKEN;
const metrics = (path = '') => `${ctx.base}/api/v2/metrics/default${path}`;
let n = 0;
const key = (p = 'm') => `${p}-${process.pid}-${++n}`;

const create = (body, opts = {}) => request('POST', metrics(), { token: W(), body, ...opts });

describe('metrics: create, get, list, patch, delete', () => {
  it('creates each kind and returns the LaunchDarkly representation', async () => {
    const bodies = [
      { key: key('binary'), kind: 'custom', eventKey: 'Order placed', name: 'Orders', tags: ['checkout'] },
      { key: key('count'), kind: 'custom', eventKey: 'Order placed', unitAggregationType: 'sum' },
      { key: key('revenue'), kind: 'custom', eventKey: 'purchase', isNumeric: true, unit: 'USD', unitAggregationType: 'sum', analysisType: 'mean', eventDefault: { disabled: false, value: 0 } },
      { key: key('p90'), kind: 'custom', eventKey: 'latency', isNumeric: true, analysisType: 'percentile', percentileValue: 90, successCriteria: 'LowerThanBaseline' },
      { key: key('click'), kind: 'click', selector: '#buy', urls: [{ kind: 'substring', substring: '/product' }] },
      { key: key('pv'), kind: 'pageview', urls: [{ kind: 'canonical', url: 'https://shop.example/checkout' }, { kind: 'regex', pattern: 'shop\\.example/p/\\d+' }] },
    ];
    for (const body of bodies) {
      const r = await create(body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      for (const f of ['_id', '_versionId', 'key', 'name', 'kind', '_links', 'tags', '_creationDate', 'dataSource']) assert.ok(f in r.body, f);
      assert.equal(r.body.key, body.key);
      assert.equal(r.body._version, 1);
      assert.ok(Number.isInteger(r.body._creationDate));
      assert.equal(r.body._links.self.href, `/api/v2/metrics/default/${body.key}`);
      const again = await get(metrics(`/${body.key}`), { Authorization: R() });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, r.body);
    }
  });

  it('rejects bad metrics with 400 naming the field', async () => {
    const cases = [
      [{ kind: 'custom', eventKey: 'e' }, '`key` is required'],
      [{ key: 'bad key', kind: 'custom', eventKey: 'e' }, '`key` must start with a letter or digit'],
      [{ key: key(), kind: 'custom' }, '`eventKey` is required for custom metrics'],
      [{ key: key(), kind: 'click', urls: [{ kind: 'exact', url: 'https://a/' }] }, '`selector` is required for click metrics'],
      [{ key: key(), kind: 'pageview' }, '`urls` is required for page-view metrics'],
      [{ key: key(), kind: 'pageview', urls: [{ kind: 'regex', pattern: '([' }] }, '`urls[0]`: regex `([` is invalid'],
      [{ key: key(), kind: 'custom', eventKey: 'e', isNumeric: true, analysisType: 'percentile' }, '`percentileValue` is required'],
      [{ key: key(), kind: 'funnel' }, '`kind` must be one of `custom`, `click`, `pageview`'],
    ];
    for (const [body, message] of cases) {
      const r = await create(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.code, 'invalid_request');
      assert.ok(r.body.message.startsWith(message), `${r.body.message} vs ${message}`);
    }
    const notJson = await create('{"key":');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.message, /not valid JSON/);
  });

  it('answers 409 for a duplicate key and 404 for unknown projects and metrics', async () => {
    const body = { key: key('dup'), kind: 'custom', eventKey: 'e' };
    assert.equal((await create(body)).status, 201);
    const dup = await create(body);
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, 'conflict');
    const noProject = await request('GET', `${ctx.base}/api/v2/metrics/no-such-project`, { token: W() });
    assert.equal(noProject.status, 404);
    assert.match(noProject.body.message, /project `no-such-project` not found/);
    const noMetric = await request('GET', metrics('/nope'), { token: W() });
    assert.equal(noMetric.status, 404);
    assert.equal(noMetric.body.code, 'not_found');
    assert.equal((await request('PATCH', metrics('/nope'), { token: W(), body: [] })).status, 404);
    assert.equal((await request('DELETE', metrics('/nope'), { token: W() })).status, 404);
  });

  it('lists with filter, sort, limit, offset and links', async () => {
    const tag = `t${process.pid}x${++n}`;
    const keys = [key('list-a'), key('list-b'), key('list-c')];
    for (const [i, k] of keys.entries()) {
      assert.equal((await create({ key: k, name: `Name ${2 - i}`, kind: 'custom', eventKey: `ev-${tag}`, tags: [tag, i === 1 ? 'odd' : 'even'] })).status, 201);
    }
    let r = await request('GET', metrics(`?filter=tags:${tag}&sort=name`), { token: R() });
    assert.equal(r.status, 200);
    assert.equal(r.body.totalCount, 3);
    assert.deepEqual(r.body.items.map((m) => m.key), [keys[2], keys[1], keys[0]]);
    r = await request('GET', metrics(`?filter=tags:${tag}%2Beven&sort=-createdAt`), { token: R() });
    assert.deepEqual(r.body.items.map((m) => m.key), [keys[2], keys[0]]);
    r = await request('GET', metrics(`?filter=tags:${tag}&sort=name&limit=2&offset=0`), { token: R() });
    assert.equal(r.body.items.length, 2);
    assert.equal(r.body.totalCount, 3);
    const next = r.body._links.next.href;
    r = await request('GET', `${ctx.base}${next}`, { token: R() });
    assert.deepEqual(r.body.items.map((m) => m.key), [keys[0]]);
    assert.ok(r.body._links.prev && !r.body._links.next);
    r = await request('GET', metrics(`?filter=query:${tag.toUpperCase()},eventKind:custom`), { token: R() });
    assert.equal(r.body.totalCount, 3, 'query matches the event key, case-insensitively');
    for (const q of ['?limit=51', '?sort=color', '?filter=color:red', '?offset=x']) {
      const bad = await request('GET', metrics(q), { token: R() });
      assert.equal(bad.status, 400, q);
      assert.equal(bad.body.code, 'invalid_request');
    }
  });

  it('patches with JSON Patch, validates the whole result, and bumps _version', async () => {
    const k = key('patch');
    await create({ key: k, kind: 'custom', eventKey: 'e' });
    let r = await request('PATCH', metrics(`/${k}`), { token: W(), body: [
      { op: 'replace', path: '/name', value: 'Renamed' },
      { op: 'add', path: '/tags/-', value: 'web' },
      { op: 'add', path: '/description', value: 'what it is' },
    ] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.name, 'Renamed');
    assert.deepEqual(r.body.tags, ['web']);
    assert.equal(r.body._version, 2);
    // The {"patch": [...]} wrapper with a comment.
    r = await request('PATCH', metrics(`/${k}`), { token: W(), body: { comment: 'c', patch: [{ op: 'replace', path: '/successCriteria', value: 'LowerThanBaseline' }] } });
    assert.equal(r.status, 200);
    assert.equal(r.body._version, 3);
    // Change kind to numeric in one patch.
    r = await request('PATCH', metrics(`/${k}`), { token: W(), body: [{ op: 'replace', path: '/isNumeric', value: true }, { op: 'add', path: '/unit', value: 'ms' }] });
    assert.equal(r.status, 200);
    assert.equal(r.body.isNumeric, true);
    assert.equal(r.body.unit, 'ms');
    const cases = [
      [[{ op: 'test', path: '/name', value: 'wrong' }], 400, /patch operation 0 failed/],
      [[{ op: 'remove', path: '/eventKey' }], 400, /`eventKey` is required for custom metrics/],
      [[{ op: 'replace', path: '/key', value: 'other' }], 400, /`key` cannot be changed/],
      [[{ op: 'replace', path: '/_version', value: 99 }], 400, /`_version` is set by the server/],
      [[{ op: 'replace', path: '/kind', value: 'pageview' }], 400, /`urls` is required for page-view metrics/],
      [[{ op: 'replace', path: '/nope/deep', value: 1 }], 400, /patch operation 0 failed/],
      [[{ op: 'fly', path: '/name' }], 400, /invalid JSON Patch/],
      [{ op: 'replace' }, 400, /JSON Patch array/],
      [[{ op: 'test', path: '/_version', value: 1 }, { op: 'replace', path: '/name', value: 'x' }], 409, /at version 4, not 1/],
    ];
    for (const [patch, status, message] of cases) {
      r = await request('PATCH', metrics(`/${k}`), { token: W(), body: patch });
      assert.equal(r.status, status, JSON.stringify(patch));
      assert.match(r.body.message, message);
    }
    r = await request('GET', metrics(`/${k}`), { token: R() });
    assert.equal(r.body._version, 4, 'failed patches changed nothing');
  });

  it('never loses a racing update: same-version tests give one 409, plain patches all apply', async () => {
    const k = key('race');
    await create({ key: k, kind: 'custom', eventKey: 'e' });
    const racing = await Promise.all(['a', 'b', 'c', 'd'].map((v) => request('PATCH', metrics(`/${k}`), { token: W(), body: [
      { op: 'test', path: '/_version', value: 1 }, { op: 'add', path: '/description', value: v }] })));
    const statuses = racing.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409, 409, 409]);
    assert.ok(racing.filter((r) => r.status === 409).every((r) => r.body.code === 'optimistic_locking_error'));
    const tags = Array.from({ length: 8 }, (_, i) => `tag${i}`);
    const plain = await Promise.all(tags.map((t) => request('PATCH', metrics(`/${k}`), { token: W(), body: [{ op: 'add', path: '/tags/-', value: t }] })));
    assert.ok(plain.every((r) => r.status === 200));
    const final = await request('GET', metrics(`/${k}`), { token: R() });
    assert.deepEqual(final.body.tags, [...tags].sort(), 'every concurrent patch applied');
    assert.equal(final.body._version, 2 + tags.length);
  });

  it('deletes with 204', async () => {
    const k = key('del');
    await create({ key: k, kind: 'custom', eventKey: 'e' });
    const r = await request('DELETE', metrics(`/${k}`), { token: W() });
    assert.equal(r.status, 204);
    assert.equal((await request('GET', metrics(`/${k}`), { token: R() })).status, 404);
  });

  it('records a partner integration from its User-Agent', async () => {
    const k = key('partner');
    const r = await create({ key: k, kind: 'custom', eventKey: 'imported' }, { headers: { 'User-Agent': 'MetricImport-acme-int/2.1.0' } });
    assert.equal(r.status, 201);
    assert.deepEqual(r.body._creatorIntegration, { product: 'MetricImport', source: 'acme', version: '2.1.0' });
    const plain = await create({ key: key('plain'), kind: 'custom', eventKey: 'e' }, { headers: { 'User-Agent': 'curl/8' } });
    assert.equal(plain.body._creatorIntegration, undefined);
  });
});

describe('access tokens and roles', () => {
  it('reader tokens read; writes need a writer (403); bad tokens get 401', async () => {
    const k = key('roles');
    assert.equal((await create({ key: k, kind: 'custom', eventKey: 'e' }, { token: R() })).status, 403);
    const w = await request('POST', metrics(), { token: R(), body: { key: k, kind: 'custom', eventKey: 'e' } });
    assert.equal(w.status, 403);
    assert.equal(w.body.code, 'forbidden');
    assert.equal((await request('GET', metrics(), { token: R() })).status, 200);
    assert.equal((await request('GET', metrics(), {})).status, 401);
    assert.equal((await request('GET', metrics(), { token: 'api-nope' })).status, 401);
    assert.equal((await request('GET', metrics(), { token: `Bearer ${R()}` })).status, 200);
    assert.equal((await request('GET', metrics(), { token: ctx.creds.SDK_KEY })).status, 401);
  });

  it('creates, lists, uses and deletes tokens; the secret is shown once', async () => {
    const created = await request('POST', `${ctx.base}/api/v2/tokens`, { token: W(), body: { name: 'ci', role: 'writer' } });
    assert.equal(created.status, 201);
    const secret = created.body.token;
    assert.match(secret, /^api-[0-9a-f]{32}$/);
    const list = await request('GET', `${ctx.base}/api/v2/tokens`, { token: W() });
    const listed = list.body.items.find((t) => t._id === created.body._id);
    assert.equal(listed.role, 'writer');
    assert.equal(listed.token, `api-…${secret.slice(-4)}`, 'obfuscated after creation');
    assert.ok(list.body.items.some((t) => t._id === 'seed-writer'));
    assert.equal((await create({ key: key('by-new-token'), kind: 'custom', eventKey: 'e' }, { token: secret })).status, 201);
    assert.equal((await request('GET', `${ctx.base}/api/v2/tokens`, { token: R() })).status, 403, 'readers cannot manage tokens');
    assert.equal((await request('POST', `${ctx.base}/api/v2/tokens`, { token: W(), body: { role: 'admin' } })).status, 400);
    assert.equal((await request('DELETE', `${ctx.base}/api/v2/tokens/${created.body._id}`, { token: W() })).status, 204);
    assert.equal((await request('GET', metrics(), { token: secret })).status, 401, 'deleted token no longer works');
    assert.equal((await request('DELETE', `${ctx.base}/api/v2/tokens/${created.body._id}`, { token: W() })).status, 404);
  });
});

describe('goals for browser SDKs', () => {
  it('serves click and page-view metrics as goals with an ETag and CORS', async () => {
    const url = `${ctx.base}/sdk/goals/${ctx.creds.CLIENT_SIDE_ID}`;
    const k = key('goal');
    await create({ key: k, kind: 'click', selector: 'a.buy', urls: [{ kind: 'exact', url: 'https://shop.example/' }] });
    const r = await fetch(url, { headers: { Origin: 'https://shop.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://shop.example');
    const goals = await r.json();
    assert.deepEqual(goals.find((g) => g.key === k), { key: k, kind: 'click', selector: 'a.buy', urls: [{ kind: 'exact', url: 'https://shop.example/' }] });
    assert.ok(goals.every((g) => g.kind === 'click' || g.kind === 'pageview'), 'custom metrics are not goals');
    const etag = r.headers.get('etag');
    assert.ok(etag);
    const cached = await fetch(url, { headers: { 'If-None-Match': etag } });
    assert.equal(cached.status, 304);
    await create({ key: key('goal2'), kind: 'pageview', urls: [{ kind: 'substring', substring: '/checkout' }] });
    const changed = await fetch(url, { headers: { 'If-None-Match': etag } });
    assert.equal(changed.status, 200, 'a new goal changes the ETag');
    assert.equal((await fetch(`${ctx.base}/sdk/goals/unknown-env`)).status, 404);
  });
});

describe('OpenAPI document', () => {
  it('is served and describes every route', async () => {
    const r = await get(`${ctx.base}/api/v2/openapi.json`);
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const expected = {
      '/api/v2/metrics/{projectKey}': ['get', 'post'],
      '/api/v2/metrics/{projectKey}/{metricKey}': ['get', 'patch', 'delete'],
      '/api/v2/tokens': ['get', 'post'],
      '/api/v2/tokens/{id}': ['delete'],
      '/sdk/goals/{clientSideId}': ['get'],
      '/bulk': ['post'],
      '/events/bulk/{clientSideId}': ['post'],
      '/api/v2/projects/{projectKey}/environments/{environmentKey}/flags/{flagKey}/first-variation/{contextKind}/{contextKey}': ['get'],
      '/api/v2/flags/{projectKey}': ['get', 'post'],
      '/api/v2/flags/{projectKey}/{flagKey}': ['get', 'patch', 'delete'],
      '/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments': ['get', 'post'],
      '/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}': ['get', 'patch'],
      '/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}/results': ['get'],
      '/api/v2/projects/{projectKey}/environments/{environmentKey}/events/recent': ['get'],
      '/api/v2/projects/{projectKey}/event-keys': ['get'],
      '/sdk/evalx/{clientSideId}/contexts/{context}': ['get'],
      '/sdk/evalx/{clientSideId}/context': ['x-report'],
      '/v2/event-data-import/{projectKey}/{environmentKey}': ['post'],
      '/api/v2/ops/ingest': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const m of methods) assert.ok(r.body.paths[path]?.[m], `${m.toUpperCase()} ${path}`);
    }
  });

  // Core's tests hold what core writes to the schemas; this holds what the Worker answers (event
  // summaries, tokens, read-outs, results, evalx, errors) to the document it serves.
  it('describes what the Worker answers, field by field', async () => {
    const { body: doc } = await get(`${ctx.base}/api/v2/openapi.json`);
    const env = '/api/v2/projects/{projectKey}/environments/{environmentKey}';
    const checked = [];
    const expectConform = (path, method, r) => {
      const schema = responseSchema(doc, path, method, r.status);
      assert.ok(schema, `${method} ${path} documents no JSON body for ${r.status}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(conformance(doc, schema, r.body), [], `${method} ${path} ${r.status}: ${JSON.stringify(r.body)}`);
      checked.push(`${method} ${path} ${r.status}`);
    };
    const sdk = { Authorization: ctx.creds.SDK_KEY, 'X-LaunchDarkly-Payload-ID': `doc-${process.pid}` };
    const flag = key('doc-flag');
    await apiOk(ctx, 'POST', '/flags/default', { key: flag, clientSideAvailability: { usingEnvironmentId: true },
      environments: { production: { on: true, fallthrough: { rollout: { kind: 'experiment', variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } } } } });
    const metric = key('doc-metric');
    await apiOk(ctx, 'POST', '/metrics/default', { key: metric, kind: 'custom', eventKey: 'doc-buy', isNumeric: true, analysisType: 'percentile', percentileValue: 90 });
    const exp = key('doc-exp');
    const e = `/projects/default/environments/production/experiments/${exp}`;
    await apiOk(ctx, 'POST', '/projects/default/environments/production/experiments', { key: exp, flagKey: flag, metrics: [{ key: metric }] });
    const started = await apiOk(ctx, 'PATCH', e, { instructions: [{ kind: 'startIteration' }] });
    const at = started.currentIteration.startedAt + 1;
    const events = [{ kind: 'feature', key: flag, creationDate: at, variation: 1, value: true, contextKeys: { user: 'doc-u1' } },
      { kind: 'custom', key: 'doc-buy', creationDate: at + 1, metricValue: 3.5, contextKeys: { user: 'doc-u1' } },
      { kind: 'custom', creationDate: at }];
    expectConform('/bulk', 'post', await post(`${ctx.base}/bulk`, events, sdk));
    const duplicate = await post(`${ctx.base}/bulk`, events, sdk);
    assert.equal(duplicate.body.duplicate, true);
    expectConform('/bulk', 'post', duplicate);
    await drain(ctx.base);
    const reader = { token: R() };
    const read = async (path, url) => expectConform(path, 'get', await request('GET', `${ctx.base}${url}`, reader));
    await read(`${env}/experiments/{experimentKey}/results`, `/api/v2${e}/results`);
    await read(`${env}/flags/{flagKey}/first-variation/{contextKind}/{contextKey}`,
      `/api/v2/projects/default/environments/production/flags/${flag}/first-variation/user/doc-u1`);
    await read(`${env}/events/recent`, '/api/v2/projects/default/environments/production/events/recent');
    await read('/api/v2/projects/{projectKey}/event-keys', '/api/v2/projects/default/event-keys');
    await read('/api/v2/ops/ingest', '/api/v2/ops/ingest');
    await read('/api/v2/metrics/{projectKey}/{metricKey}', '/api/v2/metrics/default/no-such-metric');
    const writer = { token: W() };
    expectConform('/api/v2/tokens', 'get', await request('GET', `${ctx.base}/api/v2/tokens`, writer));
    const token = await request('POST', `${ctx.base}/api/v2/tokens`, { ...writer, body: { name: 'doc' } });
    expectConform('/api/v2/tokens', 'post', token);
    assert.equal((await request('DELETE', `${ctx.base}/api/v2/tokens/${token.body._id}`, writer)).status, 204);
    const cid = ctx.creds.CLIENT_SIDE_ID;
    expectConform('/sdk/goals/{clientSideId}', 'get', await get(`${ctx.base}/sdk/goals/${cid}`));
    const context = Buffer.from(JSON.stringify({ kind: 'user', key: 'doc-u2' })).toString('base64url');
    const values = await get(`${ctx.base}/sdk/evalx/${cid}/contexts/${context}?withReasons=true`);
    assert.ok(values.body[flag], JSON.stringify(values.body));
    expectConform('/sdk/evalx/{clientSideId}/contexts/{context}', 'get', values);
    assert.equal(checked.length, 12, checked.join('\n'));
    // The check finds drift: an undeclared, a missing and a mistyped field.
    const results = await request('GET', `${ctx.base}/api/v2${e}/results`, reader);
    const drifted = { ...results.body, bogus: 1, variations: [{ ...results.body.variations[0], units: 'many' }] };
    delete drifted.metric;
    const errors = conformance(doc, responseSchema(doc, `${env}/experiments/{experimentKey}/results`, 'get', 200), drifted);
    assert.ok(errors.some((m) => m.includes('bogus: not in the schema')), errors.join('\n'));
    assert.ok(errors.some((m) => m.includes('metric: required')), errors.join('\n'));
    assert.ok(errors.some((m) => m.includes('units')), errors.join('\n'));
  });

  // The document is generated from core's route table (a native test keeps the file current);
  // this holds that table to the Worker's router: every documented operation reaches a route.
  it('documents only routes the Worker serves', async () => {
    const { body: doc } = await get(`${ctx.base}/api/v2/openapi.json`);
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => [path, m === 'x-report' ? 'REPORT' : m.toUpperCase()]));
    assert.ok(operations.length >= 30, `${operations.length} operations`);
    for (const [path, method] of operations) {
      const url = ctx.base + path.replace(/\{[^}]+\}/g, 'x');
      const res = await fetch(url, { method, headers: { 'content-type': 'application/json' },
        body: ['GET', 'DELETE'].includes(method) ? undefined : '{}' });
      const text = await res.text();
      assert.notEqual(res.status, 405, `${method} ${path}: ${text}`);
      assert.ok(!text.includes('no route for'), `${method} ${path}: ${text}`);
    }
  });
});

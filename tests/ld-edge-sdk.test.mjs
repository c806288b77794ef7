// LaunchDarkly's Cloudflare server SDK (@launchdarkly/cloudflare-server-sdk) evaluates our flags
// in another Worker: ours writes `LD-Env-{clientSideId}` into the `LD_KV` namespace on every
// change; a second Worker, run by Miniflare over the same persisted namespace (as two Workers of
// one account bind one namespace id), reads it with LaunchDarkly's SDK. Its values equal evalx
// for 1,000 contexts, and a change reaches it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { ROOT } from '../scripts/wrangler-dev.mjs';
import { request, useWorker } from './support/worker.mjs';

const ctx = useWorker();
const api = (path) => `${ctx.base}/api/v2${path}`;
const FLAGS = ['edge-banner', 'edge-gated'];

/** The user's Worker: LaunchDarkly's SDK over its LD_KV binding, every flag for each context. */
const EDGE_WORKER = `
import { init } from '@launchdarkly/cloudflare-server-sdk';
export default {
  async fetch(request, env) {
    const { clientSideId, contexts, flags } = await request.json();
    const client = init(clientSideId, env.LD_KV);
    await client.waitForInitialization();
    const rows = [];
    for (const context of contexts) {
      const row = {};
      for (const key of flags) row[key] = await client.variationDetail(key, context, 'default');
      rows.push(row);
    }
    return Response.json(rows);
  },
};`;

async function ok(method, url, body) {
  const r = await request(method, url, { token: ctx.creds.API_TOKEN, body });
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function evalx(context) {
  const r = await request('REPORT', `${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/context?withReasons=true`, { body: context });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const contextFor = (i) => (i % 9 === 0
  ? { kind: 'multi', user: { key: `e-${i}`, country: 'DE' }, org: { key: `o-${i % 4}` } }
  : { kind: 'user', key: `e-${i}`, country: ['DE', 'FR', 'US'][i % 3], plan: i % 4 === 0 ? 'pro' : 'free' });

describe("LaunchDarkly's Cloudflare SDK reads the flags our Worker writes to KV", () => {
  let mf;
  const evaluate = async (contexts) => {
    const r = await mf.dispatchFetch('http://edge/', { method: 'POST', body: JSON.stringify({ clientSideId: ctx.creds.CLIENT_SIDE_ID, contexts, flags: FLAGS }) });
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  };

  before(async () => {
    await ok('POST', api('/segments/default/production'), { key: 'edge-pro', rules: [{ clauses: [{ contextKind: 'user', attribute: 'plan', op: 'in', values: ['pro'] }] }] });
    const both = { usingEnvironmentId: true, usingMobileKey: true };
    await ok('POST', api('/flags/default'), { key: 'edge-banner', variations: [{ value: 'none' }, { value: 'sale' }, { value: 'pro' }], clientSideAvailability: both,
      environments: { production: { on: true, offVariation: 0,
        rules: [{ clauses: [{ contextKind: 'user', attribute: 'key', op: 'segmentMatch', values: ['edge-pro'] }], variation: 2 }],
        fallthrough: { rollout: { kind: 'experiment', seed: 5, variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } } } } });
    await ok('POST', api('/flags/default'), { key: 'edge-gated', variations: [{ value: false }, { value: true }], clientSideAvailability: both,
      environments: { production: { on: true, offVariation: 0, prerequisites: [{ key: 'edge-banner', variation: 1 }],
        contextTargets: [{ contextKind: 'org', values: ['o-1'], variation: 1 }], fallthrough: { variation: 1 } } } });
    const bundled = await build({ stdin: { contents: EDGE_WORKER, resolveDir: ROOT, loader: 'js' }, bundle: true, format: 'esm', platform: 'neutral',
      mainFields: ['module', 'main'], conditions: ['worker', 'browser'], external: ['node:*'], write: false, logLevel: 'silent' });
    mf = new Miniflare({
      modules: true, script: bundled.outputFiles[0].text, compatibilityDate: '2024-09-23', compatibilityFlags: ['nodejs_compat'],
      kvNamespaces: { LD_KV: 'edge-exp-ld-edge' }, kvPersist: join(ctx.dir, 'v3', 'kv'),
    });
  });
  after(async () => mf?.dispose());

  /** Evaluate one context until `done` holds for its row (our Worker's copy may wait a second). */
  async function until(context, done, what) {
    const start = Date.now();
    for (;;) {
      const row = (await evaluate([context]))[0];
      if (done(row)) return Date.now() - start;
      assert.ok(Date.now() - start < 20_000, `${what} (hang guard): ${JSON.stringify(row)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('evaluates 1,000 contexts exactly as evalx does', async () => {
    // The flags were made within a second of each other: the last copy is the alarm's.
    await until({ kind: 'user', key: 'probe' }, (row) => FLAGS.every((k) => row[k].reason.errorKind !== 'FLAG_NOT_FOUND'), 'the flags reached LD_KV');
    const contexts = Array.from({ length: 1000 }, (_, i) => contextFor(i));
    const rows = await evaluate(contexts);
    const seen = new Set();
    for (let i = 0; i < contexts.length; i++) {
      const theirs = await evalx(contexts[i]);
      for (const key of FLAGS) {
        const d = rows[i][key];
        assert.deepEqual([d.value, d.variationIndex, d.reason], [theirs[key].value, theirs[key].variation, theirs[key].reason], `${key} for ${JSON.stringify(contexts[i])}`);
        seen.add(`${key}:${d.reason.kind}`);
      }
    }
    for (const reason of ['edge-banner:RULE_MATCH', 'edge-banner:FALLTHROUGH', 'edge-gated:PREREQUISITE_FAILED', 'edge-gated:TARGET_MATCH', 'edge-gated:FALLTHROUGH']) {
      assert.ok(seen.has(reason), `reached ${reason}: ${[...seen]}`);
    }
  });

  it('sees a change once our Worker has written it', async () => {
    const context = { kind: 'user', key: 'e-change', country: 'US' };
    await ok('PATCH', api('/flags/default/edge-banner'), [{ op: 'replace', path: '/environments/production/on', value: false }]);
    // KV takes one write a second per key: the copy may wait for the project's alarm.
    const waited = await until(context, (row) => row['edge-banner'].reason.kind === 'OFF', 'the change reached LD_KV');
    console.log(`edge SDK: a REST change was read from LD_KV ${waited} ms after the REST call returned`);
  });
});

// First-variation attribution end to end: exposures sent over the events routes, answers read
// back through the REST read-out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useWorker, post, uid, feature, firstVariation, drain, DAY } from './support/worker.mjs';

const ctx = useWorker();
const send = async (events) => {
  const r = await post(`${ctx.base}/bulk`, events, { Authorization: ctx.creds.SDK_KEY });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.deepEqual(r.body.rejected, []);
  return r.body;
};
const answer = async (flag, key, at, kind = 'user') => {
  const r = await firstVariation(ctx, { flag, key, at, kind });
  return r.status === 200 ? r.body.variation : r.status;
};

describe('first-variation rule', () => {
  // Day 0 of each scenario lies 100 days in the past, so the whole story is in the past.
  const day0 = Date.now() - 100 * DAY;

  it('A on day 0, B on day 50: a conversion on day 95 counts for B, on day 60 for A', async () => {
    const key = uid();
    await send([feature('checkout', { user: key }, 0, day0)]);
    await send([feature('checkout', { user: key }, 1, day0 + 50 * DAY)]);
    assert.equal(await answer('checkout', key, day0 + 95 * DAY), 1);
    assert.equal(await answer('checkout', key, day0 + 60 * DAY), 0);
    assert.equal(await answer('checkout', key, day0 + 10 * DAY), 0);
  });

  it('includes exactly 90 days and excludes one millisecond more', async () => {
    const key = uid();
    await send([feature('edge', { user: key }, 2, day0)]);
    assert.equal(await answer('edge', key, day0 + 90 * DAY), 2);
    assert.equal(await answer('edge', key, day0 + 90 * DAY + 1), 404);
    assert.equal(await answer('edge', key, day0), 2);
    assert.equal(await answer('edge', key, day0 - 1), 404, 'exposures after t do not count');
  });

  it('gives the same answers whatever order exposures arrive in', async () => {
    const inOrder = uid();
    const shuffled = uid();
    const exposures = [[0, 0], [10, 0], [5, 0], [7, 1], [30, 1], [95, 0]];
    for (const [d, v] of exposures) await send([feature('order', { user: inOrder }, v, day0 + d * DAY)]);
    for (const [d, v] of [...exposures].reverse()) await send([feature('order', { user: shuffled }, v, day0 + d * DAY)]);
    for (const d of [0, 6, 8, 92, 94, 96, 99]) {
      const t = day0 + d * DAY;
      assert.equal(await answer('order', shuffled, t), await answer('order', inOrder, t), `day ${d}`);
    }
    // Late B@7 does not displace A@5 for windows starting in (0, 5]: conversion on day 93.
    assert.equal(await answer('order', shuffled, day0 + 93 * DAY), 0);
    assert.equal(await answer('order', shuffled, day0 + 96 * DAY), 1);
  });

  it('treats each kind of a multi-kind context as its own unit', async () => {
    const user = uid('user');
    const org = uid('org');
    await send([feature('multi', { kind: 'multi', user: { key: user }, org: { key: org } }, 1, day0)]);
    await send([feature('multi', { kind: 'org', key: org }, 0, day0 - DAY)]);
    assert.equal(await answer('multi', user, day0, 'user'), 1);
    assert.equal(await answer('multi', org, day0, 'org'), 0, 'the org saw variation 0 first');
    assert.equal(await answer('multi', org, day0, 'user'), 404, 'kinds do not mix');
  });

  /** Exposure-history writes the queue consumer made for what `fn` sent. */
  const writesOf = async (fn) => {
    const before = (await drain(ctx.base)).exposureWrites;
    await fn();
    return (await drain(ctx.base)).exposureWrites - before;
  };

  it('records contextKeys exposures, and no exposure when the default was served', async () => {
    const key = uid();
    const writes = await writesOf(() => send([
      feature('keys', { user: key }, 1, day0),
      { kind: 'feature', key: 'default-served', creationDate: day0, value: false, default: false, contextKeys: { user: key } },
    ]));
    assert.equal(writes, 1);
    assert.equal(await answer('keys', key, day0), 1);
    assert.equal(await answer('default-served', key, day0), 404);
  });

  it('merges a payload\'s exposures for one unit into one write', async () => {
    const key = uid();
    assert.equal(await writesOf(() => send([0, 1, 2, 3].map((i) => feature('merge', { user: key }, 0, day0 + i)))), 1);
    const dup = await writesOf(() => send([feature('merge', { user: key }, 0, day0 + 2)]));
    assert.equal(dup, 0, 'a known exposure causes no write');
  });

  it('keeps every exposure of one unit sent in concurrent payloads', async () => {
    // Ten payloads at once, each one exposure that decides some answer: at p + 90 days, p is the
    // earliest exposure left in the window. A lost update would lose one of them.
    const key = uid();
    const points = Array.from({ length: 10 }, (_, i) => [day0 + i * DAY, i % 3]);
    await Promise.all(points.map(([at, v]) => send([feature('race', { user: key }, v, at)])));
    for (const [at, v] of points) {
      const r = await firstVariation(ctx, { flag: 'race', key, at: at + 90 * DAY });
      assert.deepEqual(r.body, { variation: v, firstSeen: at });
    }
  });

  it('writes a repeat exposure to the same variation when it comes within reach, not at once', async () => {
    // A@t1, then A now. KV's copy [A@t1] answers like [A@t1, A@now] until t1 leaves the window
    // (t1 + 90 days + 1 ms); its write is due 25 h before that (reads reach 24 h ahead), which
    // here is a few seconds from now: the history shard's alarm writes it then.
    const key = uid();
    const now = Date.now();
    // 15 s: room for the two sends and drains before the first check, on a slow machine too.
    const t1 = now + 15_000 + 25 * 3600_000 - 90 * DAY - 1;
    const before = await drain(ctx.base);
    await send([feature('repeat', { user: key }, 1, t1)]);
    await drain(ctx.base); // two consumer batches, not one
    await send([feature('repeat', { user: key }, 1, now)]);
    const after = await drain(ctx.base);
    assert.equal(after.exposureWrites - before.exposureWrites, 1, 'only the first exposure was written');
    assert.equal(after.deferredExposureWrites - before.deferredExposureWrites, 1);
    assert.deepEqual((await firstVariation(ctx, { flag: 'repeat', key, at: now })).body, { variation: 1, firstSeen: t1 });
    // Past the 24 h bound the read-out refuses; the test hook reads there to watch the write land.
    const late = t1 + 90 * DAY + 1;
    let r = await firstVariation(ctx, { flag: 'repeat', key, at: late });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /at most 24 hours ahead/);
    const ahead = { flag: 'repeat', key, at: late, headers: { 'X-Edge-Exp-Fault': 'read-ahead' } };
    r = await firstVariation(ctx, ahead);
    assert.equal(r.status, 404, 'not written yet: KV still holds [A@t1]');
    const deadline = Date.now() + 60_000;
    while (r.status === 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      r = await firstVariation(ctx, ahead);
    }
    assert.deepEqual(r.body, { variation: 1, firstSeen: now }, 'the alarm wrote the full history');
  });

  it('handles keys with any characters', async () => {
    const key = 'weird/key?with#chars:and spaces/ü';
    await send([feature('flag/with:colon', { kind: 'device', key }, 1, day0)]);
    assert.equal(await answer('flag/with:colon', key, day0, 'device'), 1);
  });
});

describe('read-out route', () => {
  it('returns firstSeen and needs an API token (reader is enough)', async () => {
    const key = uid();
    const at = Date.now() - DAY;
    await send([feature('ro', { user: key }, 1, at)]);
    let r = await firstVariation(ctx, { flag: 'ro', key, token: ctx.creds.API_READER_TOKEN });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { variation: 1, firstSeen: at });
    r = await firstVariation(ctx, { flag: 'ro', key, token: `Bearer ${ctx.creds.API_TOKEN}` });
    assert.equal(r.status, 200);
    r = await firstVariation(ctx, { flag: 'ro', key, token: null });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'unauthorized');
    r = await firstVariation(ctx, { flag: 'ro', key, token: 'api-wrong' });
    assert.equal(r.status, 401);
    r = await firstVariation(ctx, { flag: 'ro', key, token: ctx.creds.SDK_KEY });
    assert.equal(r.status, 401, 'an SDK key is not an API token');
  });

  it('explains 404s and bad parameters', async () => {
    let r = await firstVariation(ctx, { flag: 'nothing', key: uid() });
    assert.equal(r.status, 404);
    assert.match(r.body.message, /received no variation of flag `nothing`/);
    r = await firstVariation(ctx, { flag: 'f', key: 'k', env: 'staging' });
    assert.equal(r.status, 404);
    assert.match(r.body.message, /environment `staging`/);
    r = await firstVariation(ctx, { flag: 'f', key: 'k', at: 'noon' });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /`at` must be an integer/);
  });
});

// Bots kept out of experiments, end to end against `wrangler dev`. Every other test file runs
// with the bot filter off (scripts/wrangler-dev.mjs: they send from Node and headless Chromium,
// both bots by their user agent); this one turns it on for the seed environment through the REST
// API, then: a crawler's, an AI agent's, a signed agent's, a Cloudflare-verified bot's (request.cf
// set per request with Miniflare's MF-CF-Blob header) and headless Chromium's requests record
// nothing (no exposure asked for, no event counted, no first-variation record) and show up in the
// excluded counts, while the same requests with a real browser's profile are counted.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useWorker, post, request, firstVariation, uid, drain } from './support/worker.mjs';
import { useBrowser } from './support/browser.mjs';
import { openStream } from './support/sse.mjs';
import { seed } from '../scripts/seed.mjs';
import { init } from '@launchdarkly/node-server-sdk';

const ctx = useWorker();
const FILTER = '/api/v2/projects/default/environments/production/bot-filter';
const RESULTS = '/api/v2/projects/default/environments/production/experiments/demo-headline-test/results';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const GPTBOT = 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)';

/** The bots' requests: [name, headers, reason code]. */
const BOTS = [
  ['Googlebot', { 'User-Agent': GOOGLEBOT }, 'ua'],
  ['GPTBot', { 'User-Agent': GPTBOT }, 'ua'],
  ['curl', { 'User-Agent': 'curl/8.5.0' }, 'ua'],
  ['an empty user agent', { 'User-Agent': '' }, 'ua_empty'],
  ['a Web Bot Auth agent', { 'User-Agent': CHROME, 'Signature-Agent': '"https://chatgpt.com"' }, 'web_bot_auth'],
  ['a Cloudflare-verified crawler', { 'User-Agent': CHROME, 'MF-CF-Blob': JSON.stringify({ verifiedBotCategory: 'Search Engine Crawler' }) },
    'cf_verified:Search Engine Crawler'],
  ['a low Bot Management score', { 'User-Agent': CHROME, 'MF-CF-Blob': JSON.stringify({ botManagement: { score: 2, verifiedBot: false, corporateProxy: false } }) },
    'cf_score'],
];

/** How many of the bots above share each reason code. */
const perReason = () => BOTS.reduce((m, [, , reason]) => ({ ...m, [reason]: (m[reason] ?? 0) + 1 }), {});

const api = (method, path, body, token = ctx.creds.API_TOKEN) => request(method, `${ctx.base}${path}`, { token, body });
const evalx = async (key, headers) => {
  const encoded = Buffer.from(JSON.stringify({ kind: 'user', key })).toString('base64url');
  const r = await fetch(`${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/contexts/${encoded}`, { headers });
  assert.equal(r.status, 200);
  return (await r.json())['demo-headline'];
};
const events = (key, variation, at = Date.now()) => [
  { kind: 'feature', key: 'demo-headline', context: { kind: 'user', key }, creationDate: at, variation, value: 'x', default: 'd', version: 1 },
  { kind: 'pageview', key: 'demo-checkout-view', context: { kind: 'user', key }, creationDate: at + 1, url: 'https://shop.example/checkout' },
];
const results = async (metric = 'demo-checkout-view') => {
  const r = await api('GET', `${RESULTS}?metric=${metric}`, undefined, ctx.creds.API_READER_TOKEN);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.variations;
};
const total = (rows, field) => rows.reduce((n, v) => n + v[field], 0);
/** The iteration's bot exclusions (`excluded` of the results), once the queue has drained. */
const excluded = async (metric = 'demo-checkout-view') => {
  await drain(ctx.base);
  const r = await api('GET', `${RESULTS}?metric=${metric}`, undefined, ctx.creds.API_READER_TOKEN);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.excluded;
};
const byVariation = (summary, variation) => summary.byVariation.find((v) => v.variation === variation) ?? { units: 0, events: 0 };
/** A new context a person's evalx buckets into another arm than `control`, and that evaluation. */
const bucketedAwayFrom = async (control, prefix) => {
  for (let i = 0; i < 50; i++) {
    const key = uid(prefix);
    const person = await evalx(key, { 'User-Agent': CHROME });
    if (person.variation !== control) return { key, person };
  }
  assert.fail(`50 contexts all bucketed into variation ${control}`);
};
const botFigures = async () => (await api('GET', '/api/v2/ops/ingest', undefined, ctx.creds.API_READER_TOKEN)).body.bots;

describe('bot filter', () => {
  const chrome = useBrowser(() => seed(ctx.base, ctx.creds));

  before(async () => {
    const r = await api('GET', FILTER, undefined, ctx.creds.API_READER_TOKEN);
    assert.equal(r.status, 200);
    assert.equal(r.body.enabled, false, 'the test Worker starts with BOT_FILTER=off');
    const on = await api('PUT', FILTER, {});
    assert.equal(on.status, 200, JSON.stringify(on.body));
  });

  it('is configured per environment, on by default with every tier, refusing what it does not implement', async () => {
    const r = await api('GET', FILTER, undefined, ctx.creds.API_READER_TOKEN);
    assert.deepEqual(r.body, {
      enabled: true, tiers: { cloudflare: true, webBotAuth: true, userAgent: true, automation: true }, minHumanScore: 30,
      excludeVerifiedCategories: 'all', allowUserAgents: [], denyUserAgents: [],
    });
    for (const [body, named] of [[{ tiers: { snippet: true } }, 'snippet'], [{ rate: {} }, 'rate'],
      [{ excludeVerifiedCategories: ['Robots'] }, 'Robots'], [{ minHumanScore: 0 }, 'minHumanScore']]) {
      const bad = await api('PUT', FILTER, body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.match(bad.body.message, new RegExp(named));
    }
    assert.equal((await api('PUT', FILTER, {}, ctx.creds.API_READER_TOKEN)).status, 403, 'a reader cannot change it');
    assert.equal((await api('GET', '/api/v2/projects/default/environments/nope/bot-filter')).status, 404);
  });

  it('serves bots the same variation but asks their SDK to record nothing', async () => {
    const key = uid('crawled');
    const person = await evalx(key, { 'User-Agent': CHROME });
    assert.equal(person.trackEvents, true);
    assert.equal(person.reason.inExperiment, true);
    for (const [name, headers] of BOTS) {
      const bot = await evalx(key, headers);
      assert.equal(bot.variation, person.variation, `${name}: bucketed as anyone (no cloaking)`);
      assert.equal(bot.trackEvents, false, name);
      assert.equal(bot.trackReason, undefined, name);
      assert.equal(bot.reason, undefined, `${name}: no reason, so no inExperiment`);
    }
    // What their SDKs would have sent is counted as excluded, by reason and by the variation they
    // were served: one unit (the same context each time), one would-be exposure per bot.
    const summary = await excluded();
    for (const [reason, n] of Object.entries(perReason())) {
      assert.deepEqual(summary.byReason[reason], { units: 1, events: n }, reason);
    }
    assert.equal(summary.units, 1, 'one context, whatever the number of bots that asked for it');
    assert.deepEqual(byVariation(summary, person.variation), { variation: person.variation, units: 1, events: BOTS.length, share: byVariation(summary, person.variation).share });
    assert.equal(summary.conversionEvents, 0);
  });

  it("drops a bot's events before anything is written, and counts the person's", async () => {
    const before = await botFigures();
    const excludedBefore = await excluded();
    const sent = BOTS.map(([name, headers, reason]) => ({ name, reason, key: uid('bot'), headers }));
    for (const bot of sent) {
      const r = await post(`${ctx.base}/events/bulk/${ctx.creds.CLIENT_SIDE_ID}`, events(bot.key, 1),
        { ...bot.headers, 'X-LaunchDarkly-Payload-ID': uid('p') });
      assert.equal(r.status, 202, bot.name);
      assert.deepEqual({ accepted: r.body.accepted, queued: r.body.queuedMessages, excluded: r.body.excluded },
        { accepted: 0, queued: 1, excluded: { reason: bot.reason, events: 2 } }, bot.name);
    }
    const human = uid('human');
    const counted = await post(`${ctx.base}/events/bulk/${ctx.creds.CLIENT_SIDE_ID}`, events(human, 1), { 'User-Agent': CHROME });
    assert.equal(counted.body.accepted, 2);
    assert.equal(counted.body.excluded, undefined);
    // A LaunchDarkly server SDK's user agent looks like a bot's, but server routes are never classified.
    const server = uid('server');
    const sdk = await post(`${ctx.base}/bulk`, events(server, 0), { Authorization: ctx.creds.SDK_KEY, 'User-Agent': 'NodeJSClient/9.7.1' });
    assert.equal(sdk.body.accepted, 2);
    await drain(ctx.base);

    const rows = await results();
    assert.equal(total(rows, 'exposedUnits'), 2, 'the browser person and the server SDK context, no bot');
    // Each bot's exposure and conversion are reported as excluded, under its reason.
    const excludedAfter = await excluded();
    for (const [reason, n] of Object.entries(perReason())) {
      const [was, now] = [excludedBefore.byReason[reason], excludedAfter.byReason[reason]];
      assert.deepEqual({ units: now.units - was.units, events: now.events - was.events }, { units: n, events: 2 * n }, reason);
    }
    assert.equal(excludedAfter.units - excludedBefore.units, BOTS.length);
    assert.equal(excludedAfter.conversionEvents - excludedBefore.conversionEvents, BOTS.length);
    assert.equal(byVariation(excludedAfter, 1).units - byVariation(excludedBefore, 1).units, BOTS.length);
    assert.ok(excludedAfter.share > 0 && excludedAfter.share < 1, `share of exposed units: ${excludedAfter.share}`);
    assert.equal(total(rows, 'conversions'), 2);
    for (const bot of sent) {
      const fv = await firstVariation(ctx, { flag: 'demo-headline', key: bot.key });
      assert.equal(fv.status, 404, `${bot.name}: no first-variation record`);
    }
    assert.equal((await firstVariation(ctx, { flag: 'demo-headline', key: human })).body.variation, 1);
    const after = await botFigures();
    assert.equal(after.droppedEvents - before.droppedEvents, 2 * BOTS.length);
    for (const [, , reason] of BOTS) {
      assert.ok((after.byReason[reason] ?? 0) > (before.byReason[reason] ?? 0), `counted under ${reason}`);
    }
    const feed = await api('GET', '/api/v2/projects/default/environments/production/events/recent?limit=100', undefined, ctx.creds.API_READER_TOKEN);
    const keys = JSON.stringify(feed.body);
    assert.ok(keys.includes(human), 'the person is in the live feed');
    assert.ok(sent.every((b) => !keys.includes(b.key)), 'no bot is');
  });

  it('serves bots the control of an experiment that opts in, and still records nothing of them', async () => {
    const EXPERIMENT = '/api/v2/projects/default/environments/production/experiments/demo-headline-test';
    const experiment = (await api('GET', EXPERIMENT, undefined, ctx.creds.API_READER_TOKEN)).body;
    assert.deepEqual(experiment.botFilter, { serveControl: false }, 'off unless opted in');
    const control = experiment.treatments.find((t) => t.baseline).variation;
    const flag = (await api('GET', '/api/v2/flags/default/demo-headline', undefined, ctx.creds.API_READER_TOKEN)).body;
    const { key, person } = await bucketedAwayFrom(control, 'served');
    const setServeControl = async (serveControl) => {
      const r = await api('PATCH', EXPERIMENT, { instructions: [{ kind: 'updateBotFilter', value: { serveControl } }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.botFilter, { serveControl });
    };
    // Each isolate reads the setting at most 30 s late (and KV's propagation): wait for it.
    const servedWithin = async (expected, ms = 40_000) => {
      const until = Date.now() + ms;
      let bot;
      do {
        bot = await evalx(key, { 'User-Agent': GOOGLEBOT });
        if (bot.variation === expected) return bot;
        await new Promise((r) => setTimeout(r, 500));
      } while (Date.now() < until);
      assert.fail(`Googlebot still served variation ${bot.variation}, not ${expected}`);
    };
    const refused = await api('PATCH', EXPERIMENT, { instructions: [{ kind: 'updateBotFilter', value: { contextAttribute: 'bot' } }] });
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /unknown field `contextAttribute`/);

    const before = await excluded();
    const figuresBefore = await botFigures();
    await setServeControl(true);
    const bot = await servedWithin(control);
    assert.equal(bot.value, flag.variations[control].value, "the control's value");
    assert.equal(bot.trackEvents, false, 'still nothing recorded');
    assert.equal(bot.reason, undefined);
    const again = await evalx(key, { 'User-Agent': CHROME });
    assert.equal(again.variation, person.variation, 'a person is served as bucketed');
    assert.equal(again.trackEvents, true);
    // Its would-be exposures are excluded under the variation it was bucketed into, so the
    // balance check across arms still sees a filter independent of the variation.
    const after = await excluded();
    assert.ok(byVariation(after, person.variation).events > byVariation(before, person.variation).events);
    assert.equal(byVariation(after, control).events, byVariation(before, control).events);
    assert.ok((await botFigures()).servedControl > figuresBefore.servedControl);
    assert.equal((await firstVariation(ctx, { flag: 'demo-headline', key })).status, 404, 'no first-variation record for the bot');

    await setServeControl(false);
    assert.equal((await servedWithin(person.variation)).trackEvents, false);
  });

  it("follows an experiment's own bot filter in that experiment: counting a crawler, excluding a probe", async () => {
    const EXPERIMENT = '/api/v2/projects/default/environments/production/experiments/demo-headline-test';
    const PROBE = `${CHROME} EdgeExpProbe/1.0`;
    const setFilter = async (value) => {
      const r = await api('PATCH', EXPERIMENT, { instructions: [{ kind: 'updateBotFilter', value }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.botFilter;
    };
    // Each isolate reads the experiments' settings at most 30 s late (and KV's propagation).
    const trackedWithin = async (headers, expected, ms = 40_000) => {
      const until = Date.now() + ms;
      let flag;
      do {
        flag = await evalx(uid('probe'), headers);
        if (flag.trackEvents === expected) return flag;
        await new Promise((r) => setTimeout(r, 500));
      } while (Date.now() < until);
      assert.fail(`trackEvents still ${flag.trackEvents} for ${headers['User-Agent']}`);
    };
    const stored = await setFilter({ tiers: { userAgent: false }, denyUserAgents: ['EdgeExpProbe'] });
    assert.deepEqual(stored, { serveControl: false, tiers: { userAgent: false }, denyUserAgents: ['edgeexpprobe'] });
    try {
      // A crawler known only by its user agent is a person in this experiment; the environment's
      // other tiers still apply here, and its filter still applies to every other experiment.
      const crawler = await trackedWithin({ 'User-Agent': GOOGLEBOT }, true);
      assert.equal(crawler.reason.inExperiment, true);
      assert.equal((await evalx(uid('wba'), { 'User-Agent': CHROME, 'Signature-Agent': '"https://chatgpt.com"' })).trackEvents, false);
      // A browser the experiment's deny list names is a bot here only.
      const probe = await trackedWithin({ 'User-Agent': PROBE }, false);
      assert.equal(probe.reason, undefined);
      assert.equal((await evalx(uid('chrome'), { 'User-Agent': CHROME })).trackEvents, true);

      const before = { excluded: await excluded(), rows: await results() };
      const [bot, person] = [uid('counted-bot'), uid('denied-probe')];
      const fromBot = await post(`${ctx.base}/events/bulk/${ctx.creds.CLIENT_SIDE_ID}`, events(bot, 1), { 'User-Agent': GOOGLEBOT });
      assert.deepEqual(fromBot.body.excluded, { reason: 'ua', events: 2 }, "the environment's verdict");
      const fromProbe = await post(`${ctx.base}/events/bulk/${ctx.creds.CLIENT_SIDE_ID}`, events(person, 1), { 'User-Agent': PROBE });
      assert.equal(fromProbe.body.accepted, 2, 'a person for the environment');
      const after = { excluded: await excluded(), rows: await results() };
      assert.equal(total(after.rows, 'exposedUnits') - total(before.rows, 'exposedUnits'), 1, 'the crawler counted, the probe not');
      assert.equal(total(after.rows, 'conversions') - total(before.rows, 'conversions'), 1);
      assert.equal((await firstVariation(ctx, { flag: 'demo-headline', key: bot })).body.variation, 1, 'the crawler is a unit here');
      assert.equal((await firstVariation(ctx, { flag: 'demo-headline', key: person })).status, 404, 'the probe is not');
      const denied = (summary) => summary.byReason.ua_deny ?? { units: 0, events: 0 };
      assert.deepEqual({ units: denied(after.excluded).units - denied(before.excluded).units, events: denied(after.excluded).events - denied(before.excluded).events },
        { units: 1, events: 2 }, 'the probe is reported excluded, under its reason');
      assert.equal(after.excluded.byReason.ua?.events, before.excluded.byReason.ua?.events, 'the crawler is not');
    } finally {
      assert.deepEqual(await setFilter({ serveControl: false }), { serveControl: false });
    }
    await trackedWithin({ 'User-Agent': GOOGLEBOT }, false);
  });

  it("tells a bot's open stream when an experiment starts or stops serving bots its control", async () => {
    const EXPERIMENT = '/api/v2/projects/default/environments/production/experiments/demo-headline-test';
    const control = (await api('GET', EXPERIMENT, undefined, ctx.creds.API_READER_TOKEN)).body.treatments.find((t) => t.baseline).variation;
    const { key, person } = await bucketedAwayFrom(control, 'streamed');
    const encoded = Buffer.from(JSON.stringify({ kind: 'user', key })).toString('base64url');
    const stream = await openStream(`${ctx.base}/eval/${ctx.creds.CLIENT_SIDE_ID}/${encoded}`, { headers: { 'User-Agent': GOOGLEBOT } });
    // A /ping stream (LaunchDarkly's SDKs that refetch evalx on a ping) is pinged on the change too.
    const pings = await openStream(`${ctx.base}/ping/${ctx.creds.CLIENT_SIDE_ID}`, { headers: { 'User-Agent': GOOGLEBOT } });
    const set = async (serveControl) => {
      const r = await api('PATCH', EXPERIMENT, { instructions: [{ kind: 'updateBotFilter', value: { serveControl } }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    try {
      const put = await stream.next();
      assert.equal(put.event, 'put');
      assert.equal(put.data['demo-headline'].variation, person.variation, 'bucketed as anyone');
      assert.equal(put.data['demo-headline'].trackEvents, false);
      await set(true);
      // Each isolate reads the setting at most 30 s late: the stream's wake-ups see it then.
      const served = await stream.next(45_000);
      assert.equal((await pings.next()).event, 'ping', 'the first ping, on opening');
      assert.equal((await pings.next(45_000)).event, 'ping', 'pinged on the change');
      assert.equal(served.event, 'put', 'another evaluation at the same flag version: only a put replaces it');
      assert.equal(served.data['demo-headline'].variation, control);
      assert.equal(served.data['demo-headline'].trackEvents, false, 'still nothing recorded');
      await set(false);
      const back = await stream.next(45_000);
      assert.equal(back.data['demo-headline'].variation, person.variation);
    } finally {
      stream.close();
      pings.close();
    }
  });

  it('records nothing of headless Chromium on the demo shop, and counts a real browser profile', async () => {
    const beforeFigures = await botFigures();
    const visit = async ({ real = false, automationGlobal, ...options }) => {
      const context = await chrome.browser.newContext(options);
      // A person's browser: navigator.webdriver is false (Playwright's is true).
      if (real) await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false }));
      // An automation tool that hides navigator.webdriver but leaves its global behind.
      if (automationGlobal) await context.addInitScript((name) => { window[name] = () => {}; }, automationGlobal);
      const page = await context.newPage();
      const answers = [];
      let posts = 0;
      page.on('request', (r) => { if (r.url().includes('/events/bulk/') && r.method() === 'POST') posts += 1; });
      page.on('response', (r) => {
        if (r.url().includes('/events/bulk/') && r.request().method() === 'POST') answers.push(r.json());
      });
      await page.goto(`${ctx.base}/`);
      await page.waitForSelector('body[data-ready="true"]');
      const visitor = await page.locator('#visitor').innerText();
      const variation = Number(await page.locator('#variation').innerText());
      await page.click('#buy .label');
      await page.evaluate(() => window.edge.flush());
      // Every post the page made has its answer.
      for (let i = 0; i < 100 && (posts === 0 || answers.length < posts); i++) await new Promise((r) => setTimeout(r, 50));
      const bodies = await Promise.all(answers);
      await context.close();
      return { visitor, variation, answers: bodies };
    };
    const clicks = async () => {
      await drain(ctx.base);
      return results('demo-buy-click');
    };

    const before = await clicks();
    const excludedBefore = await excluded('demo-buy-click');
    const headless = await visit({});
    assert.ok(headless.answers.length >= 1, 'the page sent its events');
    for (const a of headless.answers) {
      assert.equal(a.accepted, 0);
      assert.equal(a.excluded.reason, 'ua', 'HeadlessChrome in the user agent');
    }
    const mid = await clicks();
    assert.deepEqual(mid, before, 'headless Chromium changed no count');
    const excludedMid = await excluded('demo-buy-click');
    assert.equal(excludedMid.byReason.ua.units - excludedBefore.byReason.ua.units, 1, 'the headless visitor is one excluded unit');
    assert.ok(byVariation(excludedMid, headless.variation).units > byVariation(excludedBefore, headless.variation).units, 'in the variation it was shown');
    assert.equal((await firstVariation(ctx, { flag: 'demo-headline', key: headless.visitor })).status, 404);

    // A desktop user agent under automation: the snippet says `navigator.webdriver` (wd=1).
    const driven = await visit({ userAgent: CHROME });
    assert.ok(driven.answers.length >= 1);
    for (const a of driven.answers) assert.equal(a.excluded?.reason, 'webdriver');
    assert.deepEqual(await clicks(), before, 'a webdriver page changed no count');
    const phantom = await visit({ userAgent: CHROME, real: true, automationGlobal: 'callPhantom' });
    assert.ok(phantom.answers.length >= 1);
    for (const a of phantom.answers) assert.equal(a.excluded?.reason, 'webdriver', "PhantomJS's global is an automation signal");
    assert.deepEqual(await clicks(), before, 'an automation global changed no count');
    // A real browser profile: the same, without the automation flag.
    const person = await visit({ userAgent: CHROME, real: true });
    assert.ok(person.answers.length >= 1);
    assert.ok(person.answers.every((a) => a.excluded === undefined && a.accepted >= 1));
    const after = await clicks();
    const shown = (rows) => rows.find((v) => v.variation === person.variation);
    assert.equal(shown(after).exposedUnits, shown(before).exposedUnits + 1, 'the real browser profile is counted');
    assert.equal(total(after, 'exposedUnits'), total(before, 'exposedUnits') + 1);
    assert.equal((await firstVariation(ctx, { flag: 'demo-headline', key: person.visitor })).body.variation, person.variation);
    const figures = await botFigures();
    assert.ok(figures.untrackedEvaluations > beforeFigures.untrackedEvaluations, "the headless page's evalx was untracked");
    // The dashboard reports them with the results.
    const page = await (await chrome.browser.newContext({ userAgent: CHROME })).newPage();
    await page.goto(`${ctx.base}/dashboard.html#token=${ctx.creds.API_READER_TOKEN}&experiment=demo-headline-test`);
    const shownBots = await page.locator('#bots', { hasText: /Bots excluded: \d+ units/ }).innerText();
    const summary = await excluded('demo-buy-click');
    assert.match(shownBots, new RegExp(`Bots excluded: ${summary.units} units, ${summary.events} events`));
    assert.match(shownBots, /by reason: .*ua \d+/);
    await page.context().close();
  });
  it("on server routes, records nothing of a context the environment's contextAttribute flags", async () => {
    const bad = await api('PUT', FILTER, { contextAttribute: '/device/bot' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /contextAttribute/);
    const on = await api('PUT', FILTER, { contextAttribute: 'bot' });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(on.body.contextAttribute, 'bot');
    // LaunchDarkly's own Node server SDK: its user agent is never classified; the context is.
    const client = init(ctx.creds.SDK_KEY, {
      baseUri: ctx.base, streamUri: ctx.base, eventsUri: ctx.base, stream: false, sendEvents: true,
      logger: { debug() {}, info() {}, warn() {}, error: (...a) => console.error(...a) },
    });
    try {
      await client.waitForInitialization({ timeout: 10 });
      const rowsBefore = await results();
      const before = await excluded();
      const bot = { kind: 'user', key: uid('sdk-bot'), bot: true };
      const device = { kind: 'multi', user: { key: uid('sdk-bot-user') }, device: { key: uid('d'), bot: true } };
      const person = { kind: 'user', key: uid('sdk-person'), bot: false };
      for (const c of [bot, device, person]) await client.variation('demo-headline', c, 'none');
      await client.flush();
      const after = await excluded();
      const was = before.byReason['context:bot'] ?? { units: 0, events: 0 };
      const now = after.byReason['context:bot'];
      assert.deepEqual({ units: now.units - was.units, events: now.events - was.events }, { units: 2, events: 2 },
        'the flagged user and the multi-kind context with a flagged kind, one exposure each');
      const rows = await results();
      assert.equal(total(rows, 'exposedUnits') - total(rowsBefore, 'exposedUnits'), 1, 'only the person is counted');
      assert.equal((await firstVariation(ctx, { flag: 'demo-headline', key: bot.key })).status, 404, 'no first-variation record for the bot');
      assert.equal((await firstVariation(ctx, { flag: 'demo-headline', key: person.key })).status, 200);
      // The browser route reads the same attribute from the context it evaluates.
      const encoded = Buffer.from(JSON.stringify({ kind: 'user', key: uid('flagged'), bot: true })).toString('base64url');
      const r = await fetch(`${ctx.base}/sdk/evalx/${ctx.creds.CLIENT_SIDE_ID}/contexts/${encoded}`, { headers: { 'User-Agent': CHROME } });
      assert.equal((await r.json())['demo-headline'].trackEvents, false);
    } finally {
      client.close();
      assert.equal((await api('PUT', FILTER, {})).status, 200);
    }
  });
});

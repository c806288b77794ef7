// Demo data for `npm start`. The seed environment and its credentials are written by the Worker
// itself on its first request (from .dev.vars). This adds, idempotently, a demo flag with an
// experiment rollout, metrics of each kind and a running experiment, through the public REST API.
const DEMO_FLAG = {
  key: 'demo-headline', name: 'Demo headline',
  // Served to the demo pages through the public client-side ID (off by default, as in LaunchDarkly).
  clientSideAvailability: { usingEnvironmentId: true, usingMobileKey: true },
  variations: [{ value: 'Fresh coffee, roasted daily', name: 'Control' }, { value: 'Your new favourite coffee is one click away', name: 'Bold' }],
  environments: { production: { on: true, offVariation: 0, fallthrough: { rollout: { kind: 'experiment', seed: 2026, contextKind: 'user',
    variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } } } },
};
const DEMO_METRICS = [
  { key: 'demo-buy-click', name: 'Buy clicks per visitor', kind: 'click', selector: '#buy, .buy', unitAggregationType: 'sum', urls: [{ kind: 'substring', substring: '/' }] },
  { key: 'demo-checkout-view', name: 'Reached checkout', kind: 'pageview', urls: [{ kind: 'substring', substring: '/checkout' }] },
  { key: 'demo-checkout-pageviews', name: 'Checkout page views per visitor', kind: 'pageview', unitAggregationType: 'sum', urls: [{ kind: 'substring', substring: '/checkout' }] },
  { key: 'demo-revenue', name: 'Revenue per visitor', kind: 'custom', eventKey: 'purchase', isNumeric: true, unit: 'EUR', unitAggregationType: 'sum' },
];
const DEMO_EXPERIMENT = {
  key: 'demo-headline-test', name: 'Demo: headline', flagKey: 'demo-headline', randomizationUnit: 'user',
  hypothesis: 'A bolder headline sends more visitors to checkout',
  metrics: [{ key: 'demo-checkout-view', primary: true }, { key: 'demo-buy-click' }, { key: 'demo-checkout-pageviews' }, { key: 'demo-revenue' }],
};

export async function seed(base, creds) {
  const call = async (method, path, body, token = creds.API_TOKEN, okStatuses = [200, 201, 202, 409]) => {
    const r = await fetch(`${base}${path}`, { method, headers: { Authorization: token, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
    const text = await r.text();
    if (!okStatuses.includes(r.status)) throw new Error(`seed: ${method} ${path} answered ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  await call('POST', '/bulk', [], creds.SDK_KEY, [202]);
  await call('POST', '/api/v2/flags/default', DEMO_FLAG);
  for (const m of DEMO_METRICS) await call('POST', '/api/v2/metrics/default', m);
  const env = '/api/v2/projects/default/environments/production/experiments';
  await call('POST', env, DEMO_EXPERIMENT);
  const exp = await call('GET', `${env}/${DEMO_EXPERIMENT.key}`);
  if (exp.currentIteration?.status !== 'running') {
    await call('PATCH', `${env}/${DEMO_EXPERIMENT.key}`, { instructions: [{ kind: 'startIteration' }] });
  }
  return { experiment: DEMO_EXPERIMENT.key, flag: DEMO_FLAG.key };
}

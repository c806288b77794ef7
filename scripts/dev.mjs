// `npm start`: run the Worker under `wrangler dev` on 127.0.0.1 (PORT, default 8787) with state
// persisted under .wrangler/state, seed it, and print where everything is.
import { join } from 'node:path';
import { ROOT, devVars, startWorker } from './wrangler-dev.mjs';
import { seed } from './seed.mjs';

const port = Number(process.env.PORT || 8787);
const worker = await startWorker({ port, persistTo: join(ROOT, '.wrangler', 'state'), quiet: false, vars: { BOT_FILTER: 'on' } });
const creds = devVars();
await seed(worker.base, creds);
console.log(`
Edge experimentation Worker running on ${worker.base}

  project / environment   default / production
  SDK key (server SDKs)   ${creds.SDK_KEY}
  client-side ID          ${creds.CLIENT_SIDE_ID}
  API token (writer)      ${creds.API_TOKEN}
  API token (reader)      ${creds.API_READER_TOKEN}

  server SDK events       POST ${worker.base}/bulk
  browser SDK events      POST ${worker.base}/events/bulk/${creds.CLIENT_SIDE_ID}
  demo page               ${worker.base}/
  results dashboard       ${worker.base}/dashboard.html#token=${creds.API_READER_TOKEN}
  metrics, experiments    ${worker.base}/metrics.html, ${worker.base}/experiments.html (paste a token)
  live events             ${worker.base}/live.html
  demo experiment         default / production / demo-headline-test (flag demo-headline)

Point a LaunchDarkly SDK's events URI at ${worker.base}. Ctrl-C stops.
`);
const shutdown = async () => { await worker.stop(); process.exit(0); };
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
await new Promise(() => {});

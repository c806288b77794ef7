// LaunchDarkly's generated Python REST client (`launchdarkly-api` from PyPI, in .venv, installed by
// scripts/setup.sh) creates, reads, lists, patches and deletes metrics of every kind against the Worker,
// and creates a segment with a rule and a flag with a rule on that segment.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../scripts/wrangler-dev.mjs';
import { useWorker } from './support/worker.mjs';

const ctx = useWorker();

it('launchdarkly-api drives the metrics, segments and flags routes', () => {
  const python = join(ROOT, '.venv', 'bin', 'python');
  const r = spawnSync(python, [join(ROOT, 'tests', 'python', 'ld_api_client_check.py'), ctx.base, ctx.creds.API_TOKEN, String(process.pid)], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /launchdarkly-api compatibility: OK/);
});

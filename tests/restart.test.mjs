// Restarting `wrangler dev` mid-experiment loses nothing: counts persisted by the counter shards'
// SQLite storage are read back, and counting continues exactly where it stopped (including a
// conversion arriving after the restart for a unit exposed before it).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devVars, startWorker } from '../scripts/wrangler-dev.mjs';
import { drain } from './support/worker.mjs';

const creds = devVars();

async function call(base, method, path, body, token = creds.API_TOKEN) {
  const r = await fetch(`${base}${path}`, { method, headers: { Authorization: token, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

it('keeps every count across a restart of wrangler dev', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-exp-restart-'));
  let worker = await startWorker({ persistTo: dir });
  try {
    let base = worker.base;
    const exp = '/api/v2/projects/default/environments/production/experiments';
    assert.equal((await call(base, 'POST', '/api/v2/flags/default', { key: 'rs-flag', variations: [{ value: 1 }, { value: 2 }] })).status, 201);
    assert.equal((await call(base, 'POST', '/api/v2/metrics/default', { key: 'rs-count', kind: 'custom', eventKey: 'rs-click', unitAggregationType: 'sum' })).status, 201);
    assert.equal((await call(base, 'POST', exp, { key: 'rs', flagKey: 'rs-flag', metrics: [{ key: 'rs-count' }] })).status, 201);
    const started = await call(base, 'PATCH', `${exp}/rs`, { instructions: [{ kind: 'startIteration' }] });
    const t = started.body.currentIteration.startedAt + 1;
    const send = async (events) => {
      const r = await fetch(`${base}/bulk`, { method: 'POST', headers: { Authorization: creds.SDK_KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(events) });
      assert.equal(r.status, 202);
    };
    // Before the restart: 200 units exposed, each clicks once.
    const first = [];
    for (let i = 0; i < 200; i++) {
      first.push({ kind: 'feature', key: 'rs-flag', creationDate: t, variation: i % 2, contextKeys: { user: `rs-${i}` } });
      first.push({ kind: 'custom', key: 'rs-click', creationDate: t + 1, contextKeys: { user: `rs-${i}` } });
    }
    await send(first);
    await drain(base);

    await worker.stop();
    worker = await startWorker({ persistTo: dir });
    base = worker.base;

    // After: the same units click again, and 100 new units arrive.
    const second = [];
    for (let i = 0; i < 200; i++) second.push({ kind: 'custom', key: 'rs-click', creationDate: t + 2, contextKeys: { user: `rs-${i}` } });
    for (let i = 200; i < 300; i++) second.push({ kind: 'feature', key: 'rs-flag', creationDate: t, variation: i % 2, contextKeys: { user: `rs-${i}` } });
    await send(second);
    await drain(base);
    const r = await call(base, 'GET', `${exp}/rs/results`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const row of r.body.variations) {
      assert.equal(row.exposedUnits, 150);
      assert.equal(row.units, 150);
      // 100 units with 2 clicks each, 50 with none.
      assert.equal(row.mean, 200 / 150);
    }
    // The project's records written before the restart were read back, the event-key
    // catalogue included (its sightings from both sides of the restart add up).
    const keys = await call(base, 'GET', '/api/v2/projects/default/event-keys?search=rs-click');
    assert.equal(keys.status, 200, JSON.stringify(keys.body));
    assert.equal(keys.body.items.find((k) => k.key === 'rs-click')?.count, 400, JSON.stringify(keys.body));
  } finally {
    await worker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Test support: one real `wrangler dev` per test file, with its own empty state directory.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { devVars, startWorker } from '../../scripts/wrangler-dev.mjs';

export const DAY = 24 * 60 * 60 * 1000;
const creds = devVars();

/**
 * Wait until the Worker's ingest queue has consumed every message it accepted: attribution
 * histories and experiment counts are written by the queue consumer, after the 202. Returns the
 * ingest figures (`GET /api/v2/ops/ingest`). Fails if the queue does not drain in time.
 */
export async function drain(base, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    const r = await fetch(`${base}/api/v2/ops/ingest`, { headers: { Authorization: creds.API_READER_TOKEN } });
    last = await r.json();
    if (last.consumedMessages >= last.enqueuedMessages) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the ingest queue did not drain within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** Reads of what the queue consumer writes (results, first-variation read-out) drain it first. */
const DERIVED = /\/results(\?|$)|\/first-variation\//;
const drainFor = (method, url) => (method === 'GET' && DERIVED.test(url) ? drain(new URL(url).origin) : null);

/**
 * Registers before/after hooks; the returned object is filled in once the Worker answers: `base`
 * (its URL), `creds`, `dir` (its state directory, for tests that read what it persisted).
 */
export function useWorker() {
  const ctx = { base: '', creds: devVars() };
  let worker;
  let dir;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edge-exp-test-'));
    // FAULT_INJECTION: the consumer honours `X-Edge-Exp-Fault: redeliver` (forced queue redelivery).
    worker = await startWorker({ persistTo: dir, vars: { FAULT_INJECTION: '1' } });
    ctx.base = worker.base;
    ctx.dir = dir;
  });
  after(async () => {
    await worker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return ctx;
}

/** POST JSON (or raw bytes) and return { status, headers, body } with the body parsed as JSON. */
export async function post(url, payload, headers = {}) {
  const body = typeof payload === 'string' || payload instanceof Uint8Array ? payload : JSON.stringify(payload);
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
  return { status: r.status, headers: r.headers, body: await parse(r) };
}

export async function get(url, headers = {}) {
  await drainFor('GET', url);
  const r = await fetch(url, { headers });
  return { status: r.status, headers: r.headers, body: await parse(r) };
}

async function parse(r) {
  const text = await r.text();
  try { return JSON.parse(text); } catch { return text; }
}

export const uid = (prefix = 'u') => `${prefix}-${randomUUID()}`;

export function feature(flag, contextOrKeys, variation, at) {
  const ctx = contextOrKeys.kind || contextOrKeys.key ? { context: contextOrKeys } : { contextKeys: contextOrKeys };
  return { kind: 'feature', key: flag, creationDate: at, version: 3, variation, value: variation === 1, default: false, ...ctx };
}

/** GET the first-variation read-out. */
export function firstVariation(ctx, { flag, kind = 'user', key, at, token = ctx.creds.API_TOKEN, project = 'default', env = 'production', headers = {} }) {
  const q = at === undefined ? '' : `?at=${at}`;
  return get(`${ctx.base}/api/v2/projects/${project}/environments/${env}/flags/${encodeURIComponent(flag)}/first-variation/${encodeURIComponent(kind)}/${encodeURIComponent(key)}${q}`,
    { ...headers, ...(token ? { Authorization: token } : {}) });
}

/** A JSON request with any method; returns { status, headers, body }. */
export async function request(method, url, { token, body, headers = {} } = {}) {
  await drainFor(method, url);
  const h = { ...headers };
  if (token) h.Authorization = token;
  if (body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  const r = await fetch(url, { method, headers: h, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  return { status: r.status, headers: r.headers, body: await parse(r) };
}

/** A REST call under `/api/v2` with the writer token that must succeed; its JSON body. */
export async function apiOk(ctx, method, path, body) {
  const r = await request(method, `${ctx.base}/api/v2${path}`, { token: ctx.creds.API_TOKEN, body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

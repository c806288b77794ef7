// Sizes of what ships (figures, never pass/fail): the Worker's wasm and the snippet's, raw and
// gzip (level 9, what a CDN serves), from the last build, with the peers' figures beside them as
// ratios; then, when twiggy is installed (`npm run size` installs it: `scripts/setup.sh --size`),
// where the bytes go, by crate and by function, in the Worker (its build keeps a copy with the
// name section, `target/named/{worker}/index_bg.wasm`, for this) and in the snippet.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { ROOT } from '../scripts/wrangler-dev.mjs';

const gzip = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const size = (path) => `${readFileSync(path).length} B raw, ${gzip(path)} B gzip`;
// The four Workers (README "Four Workers"), each cold-started on its own.
const WORKERS = [
  ['edge', 'the SDK and events routes and the pages: what SDK traffic cold-starts'],
  ['api', 'the REST API and the metric import'],
  ['objects', 'the projects\' and streams\' Durable Objects'],
  ['counters', 'the counting and the guarded rollouts\' Durable Objects, the queue consumer, the Cron Trigger'],
];
const wasmOf = (worker) => join(ROOT, 'build', worker, 'index_bg.wasm');
for (const [worker, what] of WORKERS) console.log(`Worker wasm, ${worker} (build/${worker}/index_bg.wasm, ${what}): ${size(wasmOf(worker))}`);
const snippet = join(ROOT, 'www', 'snippet');
const files = readdirSync(snippet).filter((n) => /\.(wasm|js)$/.test(n)).sort();
for (const name of files) console.log(`snippet ${name}: ${size(join(snippet, name))}`);

// Peers and targets (issue 30): the snippet against browser SDKs' gzip bundles, the Worker
// against the 600 KiB target and the platform's limits.
const snippetGzip = files.reduce((n, f) => n + gzip(join(snippet, f)), 0);
const peers = [['GrowthBook (minimal build)', 14_800], ['LaunchDarkly JS SDK v3', 18_200], ['Statsig', 23_000], ['LaunchDarkly JS SDK v4', 37_200]];
console.log(`snippet total ${snippetGzip} B gzip: ${peers.map(([n, b]) => `${(snippetGzip / b).toFixed(2)}x ${n} (${b} B)`).join(', ')}; target 14,000 B (${(snippetGzip / 14_000).toFixed(2)}x)`);
for (const [worker] of WORKERS) {
  const workerGzip = gzip(wasmOf(worker));
  console.log(`${worker} Worker ${workerGzip} B gzip: ${(workerGzip / (600 * 1024)).toFixed(2)}x the 600 KiB target, ${(workerGzip / (3 * 1024 * 1024)).toFixed(2)}x the free plan's 3 MB, ${(workerGzip / (10 * 1024 * 1024)).toFixed(2)}x the paid 10 MB`);
}

/** The crate an item of twiggy's list belongs to (its first path segment). */
function crateOf(name) {
  if (/subsection|^data segment|^custom section/.test(name)) return `(${name.replace(/ \[.*$/, '').replace(/\.\d+"?$/, '')})`;
  // `crate::…`, or `crate[hash]::…` (v0 symbol names, which the snippet's build-std build has).
  const m = /^<?(?:&(?:mut )?)?([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::/.exec(name);
  return m ? m[1] : '(no crate path: exported functions, imports, tables)';
}

function breakdown(label, wasm) {
  const csv = execFileSync('twiggy', ['top', '-n', '1000000', '-f', 'csv', wasm], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const rows = csv.trim().split('\n').slice(1).map((line) => {
    const at = line.lastIndexOf(',', line.lastIndexOf(',', line.lastIndexOf(',', line.lastIndexOf(',') - 1) - 1) - 1);
    return { name: line.slice(0, at).replace(/"/g, ''), bytes: Number(line.slice(at + 1).split(',')[0]) };
  }).filter((r) => Number.isFinite(r.bytes) && !/^Σ|^\.\.\. and/.test(r.name));
  const total = rows.reduce((n, r) => n + r.bytes, 0);
  if (!rows.some((r) => r.name.includes('::') && !r.name.startsWith('import '))) {
    console.log(`${label}: no name section (its build strips it): largest functions by index ${rows.slice(0, 6).map((r) => `${r.name} ${r.bytes}`).join(', ')}`);
    return;
  }
  const crates = new Map();
  for (const r of rows) crates.set(crateOf(r.name), (crates.get(crateOf(r.name)) ?? 0) + r.bytes);
  const pct = (b) => `${((100 * b) / total).toFixed(1)}%`;
  console.log(`${label}: top crates by size (twiggy, raw bytes): ${[...crates].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([c, b]) => `${c} ${b} (${pct(b)})`).join(', ')}`);
  console.log(`${label}: top functions: ${rows.filter((r) => !r.name.startsWith('(') && !/subsection|data segment/.test(r.name)).slice(0, 8).map((r) => `${r.name.replace(/\[[0-9a-f]{16}\]/g, '').slice(0, 90)} ${r.bytes}`).join('; ')}`);
}

let twiggy = false;
try { execFileSync('twiggy', ['--version'], { stdio: 'ignore' }); twiggy = true; } catch { /* not installed */ }
if (!twiggy) {
  console.log('size breakdown: twiggy is not installed (npm run size installs it)');
} else {
  for (const [worker] of WORKERS) {
    const named = join(ROOT, 'target', 'named', worker, 'index_bg.wasm');
    if (existsSync(named)) breakdown(`${worker} Worker`, named);
    else console.log(`${worker} Worker breakdown: ${named} missing (run npm run build)`);
  }
  // The same optimised module with its name section (the build keeps it outside www/).
  const namedSnippet = join(ROOT, 'target', 'named', 'snippet', 'edge-exp_bg.wasm');
  const wasm = files.find((f) => f.endsWith('.wasm'));
  if (existsSync(namedSnippet)) breakdown('snippet', namedSnippet);
  else if (wasm) breakdown('snippet', join(snippet, wasm));
}

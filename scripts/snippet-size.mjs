// Prints the snippet's size (wasm + JS glue, gzip -9) next to the gzip size of LaunchDarkly's
// browser SDK bundle (@launchdarkly/js-client-sdk, from the npm registry), and the ratio.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from './wrangler-dev.mjs';

const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const dir = join(ROOT, 'www', 'snippet');
const ours = readdirSync(dir).filter((f) => /\.(js|wasm)$/.test(f)).reduce((sum, f) => sum + gz(readFileSync(join(dir, f))), 0);
const raw = readdirSync(dir).filter((f) => /\.(js|wasm)$/.test(f)).reduce((sum, f) => sum + readFileSync(join(dir, f)).length, 0);
console.log(`snippet: ${raw} bytes raw, ${ours} bytes gzip -9 (wasm + JS glue)`);

// LaunchDarkly's bundle: the package's browser entry, fetched with `npm pack` (cached by npm).
const LD = '@launchdarkly/js-client-sdk@4.10.3';
try {
  const tmp = mkdtempSync(join(tmpdir(), 'ld-size-'));
  execFileSync('npm', ['pack', LD, '--silent', '--pack-destination', tmp], { stdio: ['ignore', 'pipe', 'ignore'] });
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  execFileSync('tar', ['xzf', join(tmp, tgz), '-C', tmp]);
  const pkg = JSON.parse(readFileSync(join(tmp, 'package', 'package.json'), 'utf8'));
  const entry = join(tmp, 'package', (pkg.browser && typeof pkg.browser === 'string') ? pkg.browser : pkg.module || pkg.main);
  if (!existsSync(entry)) throw new Error(`no bundle at ${entry}`);
  const theirs = gz(readFileSync(entry));
  console.log(`${LD} browser bundle: ${theirs} bytes gzip -9`);
  console.log(`ratio (snippet / LaunchDarkly): ${(ours / theirs).toFixed(2)}  (target <= 0.5)`);
  rmSync(tmp, { recursive: true, force: true });
} catch (e) {
  console.log(`LaunchDarkly bundle not measured: ${e.message.split('\n')[0]}`);
}

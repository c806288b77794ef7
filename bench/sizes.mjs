// Sizes of what ships (figures, never pass/fail): the Worker's wasm and the snippet's, raw and
// gzip (level 9, what a CDN serves), from the last build. Compare with the figures in the README
// to see what a change cost.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from '../scripts/wrangler-dev.mjs';

const size = (path) => {
  const bytes = readFileSync(path);
  return `${bytes.length} B raw, ${gzipSync(bytes, { level: 9 }).length} B gzip`;
};
console.log(`Worker wasm (build/index_bg.wasm): ${size(join(ROOT, 'build', 'index_bg.wasm'))}`);
const snippet = join(ROOT, 'www', 'snippet');
for (const name of readdirSync(snippet).filter((n) => /\.(wasm|js)$/.test(n)).sort()) {
  console.log(`snippet ${name}: ${size(join(snippet, name))}`);
}

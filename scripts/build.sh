#!/usr/bin/env bash
# Builds the Worker to build/ with worker-build, using the locally installed wasm-bindgen,
# esbuild and wasm-opt (worker-build would otherwise download them).
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
# Two Workers (README "Two Workers"): the full one (wrangler.toml: every route, the Durable
# Objects, the queue consumer, the Cron Trigger) to build/, and the SDK-facing edge Worker
# (wrangler.edge.toml, feature `edge`) to build/edge/.
worker-build --release
worker-build --release --out-dir build/edge --features edge
# The name section (function names, for stack traces) is 0.5 MB of the module (14 %, 116 KB
# gzip): it is stripped from what is deployed. The named modules are kept outside build/ (so
# never deployed), for symbolication and the size breakdown (bench/sizes.mjs).
mkdir -p target/named/edge
cp build/index_bg.wasm target/named/index_bg.wasm
cp build/edge/index_bg.wasm target/named/edge/index_bg.wasm
for wasm in build/index_bg.wasm build/edge/index_bg.wasm; do
  "$WASM_OPT_BIN" --strip-debug --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$wasm" -o "$wasm"
done
node scripts/build-pages.mjs
bash scripts/build-snippet.sh
printf 'worker wasm: %s bytes (full), %s bytes (edge)\n' "$(stat -c %s build/index_bg.wasm)" "$(stat -c %s build/edge/index_bg.wasm)"

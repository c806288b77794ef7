#!/usr/bin/env bash
# Builds the Worker to build/ with worker-build, using the locally installed wasm-bindgen,
# esbuild and wasm-opt (worker-build would otherwise download them).
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
worker-build --release
# The name section (function names, for stack traces) is 0.5 MB of the module (14 %, 116 KB
# gzip): it is stripped from what is deployed. The named module is kept outside build/ (so never
# deployed), for symbolication and the size breakdown (bench/sizes.mjs).
mkdir -p target/named && cp build/index_bg.wasm target/named/index_bg.wasm
"$WASM_OPT_BIN" --strip-debug --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals build/index_bg.wasm -o build/index_bg.wasm
node scripts/build-pages.mjs
bash scripts/build-snippet.sh
printf 'worker wasm: %s bytes\n' "$(stat -c %s build/index_bg.wasm 2>/dev/null || find build -name '*.wasm' -exec stat -c %s {} +)"

#!/usr/bin/env bash
# Builds the four Workers to build/{edge,api,objects,counters}/ with worker-build, using the
# locally installed wasm-bindgen, esbuild and wasm-opt (worker-build would otherwise download
# them), then the pages and the snippet.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
# Four Workers from one crate (README "Four Workers"), one feature each: the edge Worker (SDK
# routes and the queue consumer: the ingest path) and the counters Worker (the counter shards
# every conversion reaches) are built `release`, core optimised for speed; the REST and objects
# Workers use profile `small`, core size-optimised too. The two profiles share no compiled crate,
# so each has its own target directory and the two chains run side by side (a build's last step,
# LTO, is single-threaded: two of them use both cores).
role() { # role FEATURE PROFILE-ARGS...
  local feature=$1
  shift
  worker-build "$@" --out-dir "build/$feature" . --features "$feature" >"target/build-$feature.log" 2>&1 ||
    { cat "target/build-$feature.log"; echo "build of the $feature Worker failed" >&2; return 1; }
  tail -n 1 "target/build-$feature.log"
}
mkdir -p target
(role edge --release && role counters --release) &
edge=$!
(
  export CARGO_TARGET_DIR=target/small
  role api --profile small && role objects --profile small
) &
small=$!
wait "$edge" && wait "$small"
# The name section (function names, for stack traces) is ~14 % of a module: it is stripped from
# what is deployed. The named modules are kept outside build/ (so never deployed), for
# symbolication and the size breakdown (bench/sizes.mjs).
for worker in edge api objects counters; do
  mkdir -p "target/named/$worker"
  cp "build/$worker/index_bg.wasm" "target/named/$worker/index_bg.wasm"
  "$WASM_OPT_BIN" --strip-debug --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "build/$worker/index_bg.wasm" -o "build/$worker/index_bg.wasm"
  printf 'worker wasm (%s): %s bytes\n' "$worker" "$(stat -c %s "build/$worker/index_bg.wasm")"
done
node scripts/build-pages.mjs
bash scripts/build-snippet.sh

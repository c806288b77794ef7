#!/usr/bin/env bash
# Builds the browser snippet (snippet/) to www/snippet/: cargo (profile `snippet`: opt-level z for
# every crate, LTO, no_std) →
# wasm-bindgen (--target web) → wasm-opt -Oz → short import names + minified JS glue
# (scripts/shrink-snippet.mjs). Prints its gzip -9 size next to LaunchDarkly's browser SDK bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p edge-exp-snippet --target wasm32-unknown-unknown --profile snippet --quiet
out=www/snippet
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name edge-exp \
  target/wasm32-unknown-unknown/snippet/edge_exp_snippet.wasm
node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$out/edge-exp_bg.wasm" -o "$out/edge-exp_bg.wasm"
node scripts/shrink-snippet.mjs "$out" edge-exp
node scripts/snippet-size.mjs

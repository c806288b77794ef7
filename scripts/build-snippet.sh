#!/usr/bin/env bash
# Builds the browser snippet (snippet/) to www/snippet/: cargo (profile `snippet`: opt-level s for
# every crate, LTO, no_std, core and alloc rebuilt without panic text) →
# wasm-bindgen (--target web) → wasm-opt -Oz (no custom sections) → short import names + minified JS glue
# (scripts/shrink-snippet.mjs). Prints its gzip -9 size next to LaunchDarkly's browser SDK bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
# Rust's prebuilt `core` and `alloc` keep their panic paths (messages, source locations, the
# formatting they call): ~700 B of the gzip size. Rebuilt from source with panics compiled to a
# bare trap (`-Cpanic=immediate-abort`, what the snippet's panic handler does anyway), they are
# gone. That needs the toolchain's `rust-src` and two flags stable rustc keeps unstable
# (`RUSTC_BOOTSTRAP=1` allows them for this one build, in its own target directory); without
# `rust-src`, or if this rustc no longer takes the flags, the ordinary build is used and said so.
# The same build also turns off the wasm `reference-types` feature: with it, wasm-bindgen passes
# JavaScript values as `externref`s kept in a wasm-side table (an allocator for its slots and a
# shim around every export, ~850 B gzip); without it they live in the glue's small heap array and
# the wasm holds plain indices. Every browser runs either; only the size differs.
target_dir=target
if [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library/core" ] &&
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Ctarget-feature=-reference-types" \
    cargo build -p edge-exp-snippet --target wasm32-unknown-unknown --profile snippet --quiet \
    -Z build-std=core,alloc --target-dir target/snippet-std; then
  target_dir=target/snippet-std
else
  echo "snippet: built without rebuilding core/alloc (no rust-src, or the flags changed): ~1,450 B larger, over the 14,000 B target"
  cargo build -p edge-exp-snippet --target wasm32-unknown-unknown --profile snippet --quiet
fi
out=www/snippet
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name edge-exp \
  "$target_dir/wasm32-unknown-unknown/snippet/edge_exp_snippet.wasm"
# The same optimisation with the name section kept, outside www/ (never served), for the size
# breakdown (bench/sizes.mjs); names steer a few of wasm-opt's choices, so it differs from what
# ships by tens of bytes.
mkdir -p target/named/snippet
node_modules/.bin/wasm-opt -Oz -g --strip-producers --strip-target-features --enable-bulk-memory \
  --enable-nontrapping-float-to-int "$out/edge-exp_bg.wasm" -o target/named/snippet/edge-exp_bg.wasm
node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$out/edge-exp_bg.wasm" -o "$out/edge-exp_bg.wasm"
node scripts/shrink-snippet.mjs "$out" edge-exp
node scripts/snippet-size.mjs

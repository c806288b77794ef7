#!/usr/bin/env bash
# `npm test`: install what is missing, check formatting and lints, run the native tests, build the
# Worker, and run the end-to-end tests against the real `wrangler dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's start, in seconds since the run began: where CI's minutes go (its budget: README).
step() { echo "== $* (at ${SECONDS} s)"; }
bash scripts/setup.sh --browser

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The edge Worker's build (README "Four Workers"), as it is compiled for wasm: the code only a
# role build has (forwarding, the figures' chain) is behind `feature = "edge"` / `"api"`, which the
# default build above leaves out. The other roles' builds differ only in which Durable Object
# classes they export; `npm run build` compiles each (a cold clippy per role costs CI minutes).
cargo clippy -p edge-exp-worker --target wasm32-unknown-unknown --features edge --quiet -- -D warnings
# The snippet's `no_std` library as it ships (its tests link std, so lint the library alone).
(cd snippet && cargo clippy --target wasm32-unknown-unknown --quiet -- -D warnings)
step "the crawler table is current against npm isbot"
node scripts/bot-patterns.mjs --check
step "module import cycles (snippet)"
node scripts/module-cycles.mjs snippet/src
step "native tests"
cargo test --workspace --quiet
step "snippet unit tests in headless Chromium (wasm-bindgen-test)"
(cd snippet && CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test --target wasm32-unknown-unknown 2>&1 | grep -v "^\s*Compiling")
step "building the Worker and the snippet"
bash scripts/build.sh
step "end-to-end tests (wrangler dev)"
node --test --test-reporter=spec tests/*.test.mjs
echo "== done in ${SECONDS} s"

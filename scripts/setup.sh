#!/usr/bin/env bash
# Installs everything the project needs, idempotently: the wasm32 target, worker-build,
# wasm-bindgen-cli (exactly the version in Cargo.lock), npm packages, and .dev.vars.
# Nothing is downloaded from outside the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
# --browser: also install Debian's Chromium (headless browser tests; `npm test` passes it).
WANT_BROWSER=0
[ "${1:-}" = "--browser" ] && WANT_BROWSER=1
# --size: also install twiggy, for the size breakdown (`npm run size`; never needed by npm test).
if [ "${1:-}" = "--size" ] && ! command -v twiggy >/dev/null; then
  printf '\n== installing twiggy (size breakdown)\n'
  cargo install twiggy --version 0.8.0 --locked
fi

WORKER_BUILD_VERSION=0.8.7
step() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The standard library's source: the snippet's build rebuilds core and alloc without panic text
# (scripts/build-snippet.sh). Optional: without it the snippet builds ~700 B larger.
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
  step "adding the rust-src component (the snippet's smaller build)"
  rustup component add rust-src || echo "rust-src unavailable: the snippet is built the ordinary way"
fi

if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  step "installing worker-build $WORKER_BUILD_VERSION"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

# wasm-bindgen-cli must match the wasm-bindgen crate exactly. (`--locked` fails for this crate
# here on a missing locked dependency, so it is resolved fresh.)
wbg_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg_version\$"; then
  step "installing wasm-bindgen-cli $wbg_version"
  cargo install wasm-bindgen-cli --version "$wbg_version" --force
fi

if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages"
  npm ci --no-audit --no-fund
fi

if [ ! -f .dev.vars ]; then
  step "writing .dev.vars with fresh credentials"
  node -e '
    const fs = require("fs"), crypto = require("crypto");
    const text = fs.readFileSync(".dev.vars.example", "utf8")
      .replace(/random/g, () => crypto.randomBytes(12).toString("hex"));
    fs.writeFileSync(".dev.vars", text, { mode: 0o600 });'
fi

# LaunchDarkly's generated Python REST client, for the compatibility test.
LD_API_VERSION=25.0.1
if ! .venv/bin/python -c "import launchdarkly_api, sys; sys.exit(launchdarkly_api.__version__ != '$LD_API_VERSION')" 2>/dev/null; then
  step "installing launchdarkly-api $LD_API_VERSION into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "launchdarkly-api==$LD_API_VERSION"
fi

# LaunchDarkly's Python server SDK, for the flag delivery test.
LD_SERVER_SDK_VERSION=9.20.0
if ! .venv/bin/python -c "import ldclient.version as v, sys; sys.exit(v.VERSION != '$LD_SERVER_SDK_VERSION')" 2>/dev/null; then
  step "installing launchdarkly-server-sdk $LD_SERVER_SDK_VERSION into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check "launchdarkly-server-sdk==$LD_SERVER_SDK_VERSION"
fi

if [ "$WANT_BROWSER" = 1 ] && ! command -v chromium >/dev/null; then
  step "installing Debian's chromium (headless browser tests)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

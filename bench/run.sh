#!/usr/bin/env bash
# `npm run bench`: figures, never pass/fail. Load on /bulk vs the JS baseline Worker, flag
# delivery (published size, evalx rate, stream fan-out), and the instruction count of the core
# ingest path, bot classification, and the sizes of the Worker and the snippet.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
[ -f build/objects/index.js ] || bash scripts/build.sh
node bench/load.mjs
node bench/delivery.mjs
bash bench/callgrind.sh
node bench/sizes.mjs

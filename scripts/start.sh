#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run the Worker with seeded demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec node scripts/dev.mjs

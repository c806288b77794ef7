#!/usr/bin/env bash
# `npm run fuzz`: every input parser's property tests (core/tests/fuzz.rs) with FUZZ_CASES cases
# each (default 200,000 × 5 properties = 1,000,000 generated inputs), in release mode. Not part of
# `npm test` (which runs 2,000 per property). Fails if any input makes a parser panic.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${FUZZ_CASES:-200000}
PROPERTIES=$(grep -c '^    fn .*never_panic' core/tests/fuzz.rs)
start=$(date +%s)
FUZZ_CASES=$CASES cargo test --release -p edge-exp-core --test fuzz --quiet
echo "fuzz: $((CASES * PROPERTIES)) generated cases in total ($PROPERTIES properties x $CASES), no panic, $(( $(date +%s) - start )) s"

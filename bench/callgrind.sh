#!/usr/bin/env bash
# Instructions counted by callgrind, (run with N - run with 0) / N: per event on the core ingest
# path for 100-event payloads (the path tracked since the first benchmark, and the whole pipeline
# core runs today: route + consumer), per flag evaluation (core/benches/evaluate.rs), per request
# for the bot classification (core/benches/bots.rs), per guarded-rollout decision
# (core/benches/rollout.rs) and per flag change in a 1,000-flag project (core/benches/publish.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20}
# The executable of bench target $1.
bench_bin() {
  cargo bench -p edge-exp-core --bench "$1" --no-run --quiet 2>/dev/null
  cargo bench -p edge-exp-core --bench "$1" --no-run --message-format=json 2>/dev/null \
    | BENCH="$1" node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n")){try{const m=JSON.parse(l);if(m.executable&&m.target&&m.target.name===process.env.BENCH)console.log(m.executable)}catch{}}})'
}
bin=$(bench_bin ingest)
count() {
  local out; out=$(mktemp)
  MODE=$1 PAYLOADS=$N ITERS=$2 valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"; rm -f "$out"
}
# Instructions of one unit of work of bench $bin's mode $1: (run with N - run with 0) / (N * $2).
per_unit() { echo $(( ($(count "$1" "$N") - $(count "$1" 0)) / (N * $2) )); }
echo "core ingest path (parse + validate + exposure histories): $(per_unit attribution 100) instructions/event (callgrind, $N payloads x 100 events)"
echo "whole core pipeline (route: parse + pack + message JSON; consumer: decode + histories + shard batches): $(per_unit pipeline 100) instructions/event (callgrind, $N payloads x 100 events)"
bin=$(bench_bin evaluate)
echo "evaluation, one flag of 10 rules x 3 clauses (the last one first asks a 10,000-key segment), no rule matching: $(per_unit rules 1) instructions/evaluation (callgrind, $N evaluations)"
echo "evaluation, all flags of the demo environment for one context (evalx JSON): $(per_unit demo 1) instructions/evaluation (callgrind, $N evaluations)"
bin=$(bench_bin bots)
echo "bot classification of a browser request (user agent never seen: every list entry, look-around check and regex runs): $(per_unit person 1) instructions/request (callgrind, $N requests)"
echo "bot classification of a crawler's request (Googlebot, never seen): $(per_unit crawler 1) instructions/request (callgrind, $N requests)"
echo "bot classification of a user agent the isolate has seen (its cache): $(per_unit cached 1) instructions/request (callgrind, $N requests)"
echo "bot classification of that user agent with 3 running experiments overriding the filter (the environment's verdict + 3 more): $(per_unit overrides 1) instructions/request (callgrind, $N requests)"
bin=$(bench_bin rollout)
echo "guarded rollout, one decision at 16 counter shards and 3 guardrails (parse + merge the shards' aggregates, tests A and B, SRM, stage rules, the check's JSON): $(per_unit decide 1) instructions/decision (callgrind, $N decisions)"
bin=$(bench_bin publish)
echo "one REST flag change in a project of 1,000 flags (apply the patch, the environment's body and ETag from the kept fragments, the stream object's parse and events): $(per_unit change 1) instructions/change (callgrind, $N changes)"

#!/usr/bin/env bash
# Instructions per event on the core ingest path, counted by callgrind for 100-event payloads:
# (run with N payloads - run with 0) / (N * 100), for the path tracked since the first benchmark
# (parse, validate, attribution) and for the whole pipeline core runs today (route + consumer).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20}
cargo bench -p edge-exp-core --bench ingest --no-run --quiet 2>/dev/null
bin=$(cargo bench -p edge-exp-core --bench ingest --no-run --message-format=json 2>/dev/null \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n")){try{const m=JSON.parse(l);if(m.executable&&m.target&&m.target.name==="ingest")console.log(m.executable)}catch{}}})')
count() {
  local out; out=$(mktemp)
  MODE=$1 PAYLOADS=$N ITERS=$2 valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"; rm -f "$out"
}
for mode in attribution pipeline; do
  base=$(count $mode 0); full=$(count $mode "$N")
  case $mode in
    attribution) what="core ingest path (parse + validate + exposure histories)" ;;
    pipeline) what="whole core pipeline (route: parse + pack + message JSON; consumer: decode + histories + shard batches)" ;;
  esac
  echo "$what: $(( (full - base) / (N * 100) )) instructions/event (callgrind, $N payloads x 100 events)"
done

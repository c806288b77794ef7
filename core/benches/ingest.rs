//! The core ingest path for one 100-event payload, in two modes (`MODE`):
//! - `attribution` (default): parse + validate, then fold the exposures into per-unit histories —
//!   the figure tracked since the first benchmark;
//! - `pipeline`: everything core does for a payload today — the route's parse + validate +
//!   queue packing and message JSON, then the consumer's message decoding, exposure folding and an
//!   iteration's counter batch split by shard.
//!
//! Run under callgrind by `bench/callgrind.sh`, which runs it with ITERS=0 and ITERS=N and prints
//! the difference per event: an instruction count, repeatable whatever else the machine does.

use edge_exp_core::experiment::{CounterBatch, Iteration};
use edge_exp_core::queued::{pack, IngestMessage, Tags};
use edge_exp_core::{keys, parse_batch, Event, Exposure, ExposureHistory};
use std::collections::HashMap;
use std::hint::black_box;

fn payload(t: i64) -> String {
    let mut events = Vec::new();
    for i in 0..25 {
        let ctx = format!(r#"{{"kind":"user","key":"bench-{i}"}}"#);
        events.push(format!(
            r#"{{"kind":"index","creationDate":{t},"context":{ctx}}}"#
        ));
        events.push(format!(
            r#"{{"kind":"feature","creationDate":{t},"key":"bench-flag","version":1,"variation":{},"value":true,"default":false,"context":{ctx}}}"#,
            i % 2
        ));
    }
    for i in 0..49 {
        events.push(format!(
            r#"{{"kind":"custom","creationDate":{t},"key":"purchase","contextKeys":{{"user":"bench-{i}"}},"metricValue":{i}}}"#
        ));
    }
    events.push(format!(
        r#"{{"kind":"summary","startDate":{},"endDate":{t},"features":{{"bench-flag":{{"default":false,"counters":[{{"variation":1,"version":1,"value":true,"count":25}}]}}}}}}"#,
        t - 1000
    ));
    format!("[{}]", events.join(","))
}

fn ingest(body: &[u8], now: i64, histories: &mut HashMap<String, ExposureHistory>) -> usize {
    let batch = parse_batch(body, now).expect("benchmark payload is valid");
    fold(&batch.events, histories) + batch.events.len()
}

/// The route (parse, pack, message JSON) and then the consumer (decode, fold, counter batches).
fn pipeline(
    body: &[u8],
    now: i64,
    histories: &mut HashMap<String, ExposureHistory>,
    it: &Iteration,
) -> usize {
    let batch = parse_batch(body, now).expect("benchmark payload is valid");
    let bodies = pack(
        "default",
        "production",
        now,
        "p:id",
        &batch.events,
        Tags::default(),
    );
    let mut n = batch.events.len();
    for text in &bodies {
        let msg: IngestMessage = serde_json::from_str(text).expect("own message");
        let events: Vec<Event> = msg.events.iter().map(|q| q.to_event()).collect();
        n += fold(&events, histories);
        n += CounterBatch::build(it, &events).by_shard(16).len();
    }
    n
}

/// The benchmark experiment's running iteration (flag `bench-flag`, metric on `purchase`).
fn iteration() -> Iteration {
    serde_json::from_value(serde_json::json!({
        "id": 1, "status": "running", "startedAt": 1, "endedAt": null, "randomizationUnit": "user",
        "flagKey": "bench-flag", "counterShards": 16,
        "treatments": [{"name": "A", "variation": 0, "baseline": true, "allocationPercent": "50"},
                       {"name": "B", "variation": 1, "baseline": false, "allocationPercent": "50"}],
        "metrics": [{"key": "revenue", "kind": "custom", "eventKey": "purchase", "primary": true,
                     "measure": {"kind": "numeric", "aggregation": "sum", "default": 0.0},
                     "successCriteria": "HigherThanBaseline"}]
    }))
    .expect("valid iteration")
}

fn fold(events: &[Event], histories: &mut HashMap<String, ExposureHistory>) -> usize {
    let mut writes = 0;
    for event in events {
        if let Event::Feature(f) = event {
            if let Some(variation) = f.variation {
                for unit in &f.context.units {
                    let key = keys::exposure_key(
                        "default",
                        "production",
                        &f.flag_key,
                        &unit.kind,
                        &unit.key,
                    );
                    let h = histories.entry(key).or_default();
                    writes += usize::from(h.record(Exposure {
                        at: f.creation_date,
                        variation,
                    }));
                }
            }
        }
    }
    writes
}

fn main() {
    let env = |name: &str, default: i64| -> i64 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    // PAYLOADS are always built; only ITERS of them are ingested, so that building them cancels
    // out of the difference between two runs.
    let iters = env("ITERS", 1000);
    let now = 1_732_300_000_000;
    let bodies: Vec<String> = (0..env("PAYLOADS", iters).max(iters))
        .map(|i| payload(now + i))
        .collect();
    let mut histories = HashMap::new();
    let full = std::env::var("MODE").is_ok_and(|m| m == "pipeline");
    let it = iteration();
    let start = std::time::Instant::now();
    let mut total = 0;
    for body in bodies.iter().take(iters as usize) {
        let body = black_box(body.as_bytes());
        total += if full {
            pipeline(body, now + iters, &mut histories, &it)
        } else {
            ingest(body, now + iters, &mut histories)
        };
    }
    let elapsed = start.elapsed();
    if iters > 0 {
        eprintln!(
            "{iters} payloads of 100 events: {:.0} ns/event (wall clock, indicative only); checksum {total}",
            elapsed.as_nanos() as f64 / (iters as f64 * 100.0)
        );
    }
}

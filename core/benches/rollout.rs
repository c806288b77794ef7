//! One guarded-rollout decision, run under callgrind by `bench/callgrind.sh` (ITERS=0 and
//! ITERS=N; the difference per decision is printed): what the rollout's object does with the
//! counts of each check, at 16 counter shards and 3 guardrails (binary, count, numeric) — parse
//! the 16 shards' aggregates as they arrive (JSON), merge them, run `rollout::check::check`
//! (tests A and B per guardrail, SRM, multiple exposures, the stage rules) and serialise the
//! check it sends to the project's object. The calls themselves (16 Durable Object round trips,
//! at once) are I/O, not counted here.

use edge_exp_core::aggregates::{Aggregates, Moments};
use edge_exp_core::project::{Command, Project};
use edge_exp_core::rollout::check;
use serde_json::json;
use std::hint::black_box;

const NOW: i64 = 1_700_000_000_000;

fn command(v: serde_json::Value) -> Command {
    serde_json::from_value(v).expect("a command")
}

/// A project whose flag `f` is under a guarded rollout with three guardrails.
fn rollout() -> edge_exp_core::rollout::MeasuredRollout {
    let mut p = Project::default();
    let create = |op: &str, body: serde_json::Value| {
        command(json!({"op": op, "project": "p", "verb": {"verb": "create", "body": body}}))
    };
    p.apply(create("flags", json!({"key": "f", "environments": {"prod": {"on": true, "fallthrough": {"variation": 0}}}})), NOW).unwrap();
    p.apply(create("metrics", json!({"key": "errors", "kind": "custom", "eventKey": "error", "successCriteria": "LowerThanBaseline"})), NOW).unwrap();
    p.apply(create("metrics", json!({"key": "clicks", "kind": "custom", "eventKey": "click", "unitAggregationType": "sum"})), NOW).unwrap();
    p.apply(create("metrics", json!({"key": "spend", "kind": "custom", "eventKey": "spend", "isNumeric": true, "unit": "$"})), NOW).unwrap();
    let test = p.flags["f"].spec.variations[1].id.clone();
    let start = json!({"op": "flags", "project": "p", "verb": {"verb": "patch", "key": "f", "semantic": true, "body": {"environmentKey": "prod",
        "instructions": [{"kind": "updateFallthroughWithMeasuredRolloutV2", "testVariationId": test,
            "metrics": [{"metricKey": "errors"}, {"metricKey": "clicks"}, {"metricKey": "spend"}]}]}}});
    p.apply(command(start), NOW).unwrap();
    p.rollouts.values().next().unwrap().clone()
}

/// One shard's aggregates as JSON: `units` per arm with some conversions on each metric.
fn shard(seed: u64) -> String {
    let mut agg = Aggregates::default();
    for arm in [0u32, 1] {
        let units = 600 + seed * 7 + u64::from(arm) * 3;
        agg.exposed.insert(arm, units);
        for (metric, every) in [("errors", 50), ("clicks", 5), ("spend", 9)] {
            let mut m = Moments::default();
            (0..units).for_each(|i| {
                let x = if i % every == 0 {
                    1.0 + (i % 7) as f64
                } else {
                    0.0
                };
                m.add(x, x > 0.0)
            });
            agg.metrics.entry(metric.into()).or_default().insert(arm, m);
        }
    }
    serde_json::to_string(&agg).unwrap()
}

fn main() {
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let r = rollout();
    let shards: Vec<String> = (0..16).map(shard).collect();
    for i in 0..iters {
        let mut merged = Aggregates::default();
        for text in &shards {
            let agg: Aggregates = serde_json::from_str(black_box(text)).unwrap();
            merged.merge(&agg);
        }
        let c = check::check(&r, Some(&merged), NOW + i as i64 * 60_000);
        black_box(serde_json::to_string(&c).unwrap());
    }
}

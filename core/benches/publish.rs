//! One flag change in a project of 1,000 flags, run under callgrind by `bench/callgrind.sh`
//! (ITERS=0 and ITERS=N; the difference per change is printed): the CPU the project's object
//! spends on a REST flag change (the write path of `bench/delivery.mjs`) — apply the JSON Patch,
//! assemble the environment's `/sdk/latest-all` body and its ETag from the kept fragments, and
//! what the stream object does with it when streams are open (find each item's text, and the
//! events between the two publications). Storage, KV and the calls between objects are I/O, not
//! counted here.

use edge_exp_core::project::{Command, Project};
use edge_exp_core::publish;
use serde_json::json;
use std::collections::HashMap;
use std::hint::black_box;

const NOW: i64 = 1_700_000_000_000;
const FLAGS: usize = 1000;

fn command(v: serde_json::Value) -> Command {
    serde_json::from_value(v).expect("a command")
}

/// The flags of `bench/delivery.mjs`: two variations, a 50/50 fallthrough and one rule.
fn flag(i: usize) -> serde_json::Value {
    json!({"key": format!("bench-f{i}"), "variations": [{"value": "a"}, {"value": "b"}],
        "clientSideAvailability": {"usingEnvironmentId": i < 20, "usingMobileKey": true},
        "environments": {"production": {"on": true, "offVariation": 0,
            "fallthrough": {"rollout": {"variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}},
            "rules": [{"clauses": [{"contextKind": "user", "attribute": "country", "op": "in", "values": ["DE", "AT"]}], "variation": 1}]}}})
}

fn main() {
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut p = Project::default();
    for i in 0..FLAGS {
        let create =
            json!({"op": "flags", "project": "p", "verb": {"verb": "create", "body": flag(i)}});
        p.apply(command(create), NOW).unwrap();
    }
    let mut kept = publish::EnvironmentBody::default();
    let mut old = publish::RawData::parse(&p.sdk_body("production", &mut kept).0).unwrap();
    let mut tombstones = HashMap::new();
    for i in 0..iters {
        let patch = json!({"op": "flags", "project": "p", "verb": {"verb": "patch", "key": "bench-f7",
            "body": [{"op": "replace", "path": "/environments/production/offVariation", "value": i % 2}]}});
        let outcome = p.apply(command(patch), NOW).unwrap();
        kept.forget("production", &outcome.changed);
        let (body, etag) = p.sdk_body("production", &mut kept);
        black_box(etag);
        // The stream object's side: the body arrives as its request's body.
        let new = publish::RawData::parse(&body).unwrap();
        black_box(publish::stream_update(&old, &new, &mut tombstones));
        old = new;
    }
}

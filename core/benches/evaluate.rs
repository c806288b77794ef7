//! Flag evaluation cost, in two modes (`MODE`), run under callgrind by `bench/callgrind.sh`
//! (ITERS=0 and ITERS=N; the difference per evaluation is printed):
//! - `rules`: one flag with 10 rules of 3 clauses each (strings, numbers, semantic versions) whose
//!   last rule first asks a 10,000-key segment; the context matches no rule (each rule is left at
//!   its first clause that fails, as every SDK does; the segment's whole list is searched);
//! - `demo`: everything evalx does for one context in the demo environment: each flag of
//!   `scripts/seed.mjs`'s demo project (the demo flag, here as its REST body) to its evalx JSON.

use edge_exp_core::flag::{environment_data, Flag, FlagSpec};
use edge_exp_core::resource::Spec;
use edge_exp_core::targeting::{evaluate, AllData, FlagData, Segment};
use serde_json::{json, Value};
use std::hint::black_box;

fn rules_flag() -> FlagData {
    let rule = |i: usize| {
        let mut clauses = vec![
            json!({"contextKind": "user", "attribute": "country", "op": "in", "values": ["DE", "AT", format!("C{i}")]}),
            json!({"contextKind": "user", "attribute": "age", "op": "greaterThan", "values": [18 + i]}),
            json!({"contextKind": "user", "attribute": "appVersion", "op": "semVerLessThan", "values": [format!("{i}.0.0")]}),
        ];
        if i == 9 {
            clauses[0] = json!({"attribute": "", "op": "segmentMatch", "values": ["big"]});
        }
        json!({"id": format!("r{i}"), "clauses": clauses, "variation": 1})
    };
    serde_json::from_value(
        json!({"key": "bench", "on": true, "salt": "s", "variations": [false, true],
        "fallthrough": {"variation": 0}, "rules": (0..10).map(rule).collect::<Vec<_>>()}),
    )
    .unwrap()
}

const DEMO_FLAG: &str = r#"{"key": "demo-headline", "name": "Demo headline",
  "clientSideAvailability": {"usingEnvironmentId": true, "usingMobileKey": true},
  "variations": [{"value": "Fresh coffee, roasted daily"}, {"value": "Your new favourite coffee is one click away"}],
  "environments": {"production": {"on": true, "offVariation": 0, "fallthrough": {"rollout": {"kind": "experiment",
    "seed": 2026, "contextKind": "user", "variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}}}}}"#;

fn main() {
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let context = json!({"kind": "user", "key": "visitor-1", "country": "FR", "age": 12, "appVersion": "12.1.0"});
    match std::env::var("MODE").as_deref().unwrap_or("rules") {
        "demo" => {
            let spec =
                FlagSpec::from_json(&serde_json::from_str::<Value>(DEMO_FLAG).unwrap()).unwrap();
            let flags = vec![Flag::create("default", spec, 1, None)];
            for _ in 0..iters {
                let store = environment_data(&flags, "production");
                black_box(edge_exp_core::publish::evalx(
                    &store,
                    black_box(&context),
                    false,
                ));
            }
        }
        _ => {
            let flag = rules_flag();
            let included: Vec<String> = (0..10_000).map(|i| format!("member-{i}")).collect();
            let big = Segment {
                key: "big".into(),
                included,
                ..Segment::default()
            };
            let store = AllData {
                flags: Default::default(),
                segments: [("big".to_owned(), big)].into(),
            };
            for _ in 0..iters {
                black_box(evaluate(&store, &flag, black_box(&context)));
            }
        }
    }
}

//! LaunchDarkly's own evaluation cases (the facts of `launchdarkly/sdk-test-harness`'s
//! server-side-eval data files, expanded into `tests/data/ld-eval-cases.json` by
//! `scripts/ld_eval_cases.py`): every case gives the same value, variation index and reason
//! through `core::targeting` as LaunchDarkly's SDKs must.

use edge_exp_core::targeting::{evaluate, Detail, ErrorKind, FlagData, Segment, Store};
use serde_json::{json, Value};
use std::collections::HashMap;

struct Data {
    flags: HashMap<String, FlagData>,
    segments: HashMap<String, Segment>,
}

impl Store for Data {
    fn flag(&self, key: &str) -> Option<&FlagData> {
        self.flags.get(key)
    }
    fn segment(&self, key: &str) -> Option<&Segment> {
        self.segments.get(key)
    }
}

fn parse<T: serde::de::DeserializeOwned>(items: &Value) -> HashMap<String, T> {
    items
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{k}: {e}")),
            )
        })
        .collect()
}

/// The answer as the SDK gives it: the caller's default when no variation was served (an error,
/// or a flag off without an off variation).
fn answer(detail: Detail, default: &Value) -> Value {
    let value = if detail.variation.is_none() {
        default.clone()
    } else {
        detail.value
    };
    json!({"value": value, "variationIndex": detail.variation, "reason": detail.reason})
}

/// A case without a default calls the SDK's typed method for the flag's type with its zero value
/// (as the harness does with `valueType`).
fn typed_zero(flag: Option<&FlagData>) -> Value {
    match flag.and_then(|f| f.variations.first()) {
        Some(Value::Bool(_)) => json!(false),
        Some(Value::Number(_)) => json!(0),
        Some(Value::String(_)) => json!(""),
        _ => Value::Null,
    }
}

#[test]
fn every_conformance_case_evaluates_as_launchdarkly_says() {
    let table: Value = serde_json::from_str(include_str!("data/ld-eval-cases.json")).unwrap();
    let (mut checked, mut typed) = (0, 0);
    let mut failures = Vec::new();
    for suite in table["suites"].as_array().unwrap() {
        let data = Data {
            flags: parse(&suite["flags"]),
            segments: parse(&suite["segments"]),
        };
        for case in suite["evaluations"].as_array().unwrap() {
            let expect = &case["expect"];
            // Typed variation methods (boolVariation on a string flag): an SDK API, not evaluation.
            if expect["reason"]["errorKind"] == "WRONG_TYPE" {
                typed += 1;
                continue;
            }
            let flag = data.flag(case["flagKey"].as_str().unwrap());
            let default = match &case["default"] {
                Value::Null => typed_zero(flag),
                given => given.clone(),
            };
            let default = &default;
            let got = match flag {
                Some(flag) => answer(evaluate(&data, flag, &case["context"]), default),
                None => answer(Detail::error(ErrorKind::FlagNotFound), default),
            };
            checked += 1;
            let want = json!({"value": expect["value"], "variationIndex": expect["variationIndex"], "reason": expect["reason"]});
            if got != want {
                failures.push(format!(
                    "{} / {}:\n  context {}\n  want {want}\n  got  {got}",
                    suite["name"], case["name"], case["context"]
                ));
            }
        }
    }
    println!(
        "{checked} LaunchDarkly evaluation cases checked, {typed} typed-API cases not applicable"
    );
    assert!(checked > 600, "the table was read ({checked})");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

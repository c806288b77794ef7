//! Evaluate flags for contexts with `core::targeting`, for the parity test against
//! LaunchDarkly's Node server SDK (`tests/targeting-parity.test.mjs`).
//!
//! stdin: `{"flags": {key: flag}, "segments": {key: segment}, "evaluations": [{"flagKey", "context"}]}`
//! (flags and segments in LaunchDarkly's SDK data model); stdout: one JSON array of
//! `{"value", "variationIndex", "reason"}`, in order.

use edge_exp_core::targeting::{evaluate, AllData, Detail, ErrorKind, Store};
use serde_json::{json, Value};
use std::io::Read;

#[derive(serde::Deserialize)]
struct Input {
    #[serde(flatten)]
    data: AllData,
    evaluations: Vec<Evaluation>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Evaluation {
    flag_key: String,
    context: Value,
}

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).expect("stdin");
    let input: Input = serde_json::from_str(&text).expect("input JSON");
    let out: Vec<Value> = input
        .evaluations
        .iter()
        .map(|e| {
            let d = match input.data.flag(&e.flag_key) {
                Some(flag) => evaluate(&input.data, flag, &e.context),
                None => Detail::error(ErrorKind::FlagNotFound),
            };
            json!({"value": d.value, "variationIndex": d.variation, "reason": d.reason})
        })
        .collect();
    println!("{}", Value::Array(out));
}

//! LaunchDarkly's own evaluation cases (the facts of `launchdarkly/sdk-test-harness`'s
//! server-side-eval data files, expanded into `tests/data/ld-eval-cases.json` by
//! `scripts/ld_eval_cases.py`): every case gives the same value, variation index and reason
//! through `core::targeting` as LaunchDarkly's SDKs must.

use edge_exp_core::resource::Spec;
use edge_exp_core::targeting::{evaluate, AllData, Detail, ErrorKind, FlagData, Store};
use serde_json::{json, Value};
use std::collections::HashMap;

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
        let data = AllData {
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

/// A flag of the table as the REST API is given it: the SDK model's environment fields under
/// `environments.production` (rules' `id` as `_id`).
fn rest_body(flag: &Value) -> Value {
    let mut env = serde_json::Map::new();
    for field in [
        "on",
        "offVariation",
        "prerequisites",
        "targets",
        "contextTargets",
        "fallthrough",
    ] {
        if let Some(v) = flag.get(field) {
            env.insert(field.into(), v.clone());
        }
    }
    if let Some(rules) = flag.get("rules").and_then(Value::as_array) {
        let rules = rules.iter().map(|r| {
            let mut r = r.as_object().cloned().unwrap_or_default();
            if let Some(id) = r.remove("id") {
                r.insert("_id".into(), id);
            }
            Value::Object(r)
        });
        env.insert("rules".into(), Value::Array(rules.collect()));
    }
    let variations: Vec<Value> = flag["variations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| json!({"value": v}))
        .collect();
    json!({"key": flag["key"], "variations": variations, "environments": {"production": env}})
}

/// A REST command on project `p` (environment `production` for segments).
fn rest(op: &str, verb: Value) -> edge_exp_core::project::Command {
    serde_json::from_value(json!({"op": op, "project": "p", "env": "production", "verb": verb}))
        .unwrap()
}

/// A project holding what of `segments` (SDK data) the REST API accepts, created in key order.
fn project_with_segments(segments: &Value) -> edge_exp_core::project::Project {
    let mut project = edge_exp_core::project::Project::default();
    let mut keys: Vec<&String> = segments
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    for key in keys {
        let mut body = segments[key].as_object().cloned().unwrap_or_default();
        body.remove("salt");
        if let Some(Value::Array(rules)) = body.get_mut("rules") {
            for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(id) = rule.remove("id") {
                    rule.insert("_id".into(), id);
                }
            }
        }
        let _refused_or_stored =
            project.apply(rest("segments", json!({"verb": "create", "body": body})), 0);
    }
    project
}

/// Malformed data is refused by the REST API, naming the field: every flag of the table some case
/// expects `MALFORMED_FLAG` from is refused, unless what is malformed lies across flags or segments
/// (a prerequisite cycle, a segment naming itself through others): the project refuses those when
/// the second resource is stored (`core/src/project/tests.rs`).
#[test]
fn malformed_conformance_flags_are_refused_by_the_rest_api() {
    let table: Value = serde_json::from_str(include_str!("data/ld-eval-cases.json")).unwrap();
    let (mut accepted, mut refused, mut malformed) = (0, 0, 0);
    let mut wrong = Vec::new();
    for suite in table["suites"].as_array().unwrap() {
        for (key, flag) in suite["flags"].as_object().unwrap() {
            let expects_malformed = suite["evaluations"].as_array().unwrap().iter().any(|e| {
                e["flagKey"] == key.as_str()
                    && e["expect"]["reason"]["errorKind"] == "MALFORMED_FLAG"
            });
            let body = rest_body(flag);
            let outcome = edge_exp_core::flag::FlagSpec::from_json(&body).and_then(|spec| {
                // A flag naming segments is stored only if they are: through a project holding
                // the suite's segments (those the REST API accepts).
                if spec.environments.values().all(|c| {
                    c.rules.iter().all(|r| {
                        edge_exp_core::flag::segments_named(&r.clauses)
                            .next()
                            .is_none()
                    })
                }) {
                    return Ok(());
                }
                project_with_segments(&suite["segments"])
                    .apply(rest("flags", json!({"verb": "create", "body": body})), 0)
                    .map(drop)
            });
            let crosses = flag
                .get("prerequisites")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty());
            match &outcome {
                Ok(_) => accepted += 1,
                Err(e) => {
                    refused += 1;
                    assert!(
                        e.to_string().contains('`'),
                        "the refusal names the field: {e}"
                    );
                }
            }
            if expects_malformed {
                malformed += 1;
                if outcome.is_ok() && !crosses {
                    wrong.push(format!("{} / {key}: accepted {body}", suite["name"]));
                }
            }
        }
    }
    println!("{accepted} conformance flags accepted, {refused} refused ({malformed} malformed ones among them or cycles)");
    assert!(
        malformed > 10,
        "the table has malformed flags ({malformed})"
    );
    assert!(
        wrong.is_empty(),
        "malformed flags accepted:\n{}",
        wrong.join("\n")
    );
}

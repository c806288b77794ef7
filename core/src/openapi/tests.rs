use super::*;
use crate::project::test_commands::{create, in_env, rest};
use crate::project::{Outcome, Project};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const NOW: i64 = 1_700_000_000_000;

fn doc() -> Value {
    serde_json::to_value(document()).unwrap()
}

/// The committed `www/api/v2/openapi.json` is what the code generates. `UPDATE_OPENAPI=1`
/// (`npm run openapi`) rewrites it instead.
#[test]
fn the_committed_document_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(DOCUMENT_PATH);
    let generated = to_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{DOCUMENT_PATH} is stale: run `npm run openapi` and commit it"
    );
}

#[test]
fn every_reference_resolves_and_every_operation_is_unique() {
    let doc = doc();
    let mut refs = BTreeSet::new();
    collect_refs(&doc, &mut refs);
    for r in &refs {
        assert!(resolve(&doc, r).is_some(), "dangling {r}");
    }
    let mut ids = BTreeSet::new();
    for e in endpoints::all() {
        assert!(ids.insert(e.operation_id), "{} twice", e.operation_id);
        assert!(e.path.starts_with('/'), "{}", e.path);
    }
}

fn collect_refs(v: &Value, into: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                into.insert(r.clone());
            }
            o.values().for_each(|x| collect_refs(x, into));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, into)),
        _ => {}
    }
}

fn resolve<'d>(doc: &'d Value, reference: &str) -> Option<&'d Value> {
    let name = reference.strip_prefix("#/components/schemas/")?;
    doc["components"]["schemas"].get(name)
}

/// Errors of `value` against the component schema `name`: a wrong type, a missing required
/// field, or a field the schema does not declare (the document must name every field the code
/// writes).
fn conformance(doc: &Value, name: &str, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let schema = json!({"$ref": format!("#/components/schemas/{name}")});
    check(doc, &schema, value, name, true, &mut errors);
    errors
}

fn check(doc: &Value, s: &Value, v: &Value, at: &str, strict: bool, errs: &mut Vec<String>) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        match resolve(doc, r) {
            Some(target) => check(doc, target, v, at, strict, errs),
            None => errs.push(format!("{at}: dangling {r}")),
        }
        return;
    }
    if let Some(variants) = s.get("oneOf").and_then(Value::as_array) {
        let fits = variants.iter().any(|variant| {
            let mut e = Vec::new();
            check(doc, variant, v, at, strict, &mut e);
            e.is_empty()
        });
        if !fits {
            errs.push(format!("{at}: fits none of oneOf: {v}"));
        }
        return;
    }
    if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
        parts.iter().for_each(|p| check(doc, p, v, at, false, errs));
        if let (true, Some(o)) = (strict, v.as_object()) {
            let declared = declared(doc, s);
            for k in o.keys().filter(|k| !declared.contains(*k)) {
                errs.push(format!("{at}.{k}: not in the schema"));
            }
        }
        return;
    }
    check_type(s, v, at, errs);
    if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            errs.push(format!("{at}: {v} is not one of {allowed:?}"));
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            check(doc, items, x, &format!("{at}[{i}]"), true, errs);
        }
    }
    if let Some(o) = v.as_object() {
        check_object(doc, s, o, at, strict, errs);
    }
}

fn check_object(
    doc: &Value,
    s: &Value,
    o: &serde_json::Map<String, Value>,
    at: &str,
    strict: bool,
    errs: &mut Vec<String>,
) {
    let props = s.get("properties").and_then(Value::as_object);
    for r in s["required"].as_array().into_iter().flatten() {
        let key = r.as_str().unwrap_or_default();
        if !o.contains_key(key) {
            errs.push(format!("{at}.{key}: required, missing"));
        }
    }
    for (k, x) in o {
        let path = format!("{at}.{k}");
        match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
            (Some(ps), _) => check(doc, ps, x, &path, true, errs),
            (None, Some(extra)) if extra.is_object() => check(doc, extra, x, &path, true, errs),
            (None, _) if strict && props.is_some() => errs.push(format!("{path}: not in the schema")),
            _ => {}
        }
    }
}

fn check_type(s: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let fits = types.iter().any(|t| match *t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    });
    if !fits {
        errs.push(format!("{at}: {v} is not {types:?}"));
    }
}

/// Every property an `allOf` declares, through its references.
fn declared(doc: &Value, s: &Value) -> BTreeSet<String> {
    if let Some(target) = s.get("$ref").and_then(Value::as_str).and_then(|r| resolve(doc, r)) {
        return declared(doc, target);
    }
    let own = s["properties"].as_object().into_iter().flat_map(|p| p.keys().cloned());
    let parts = s["allOf"].as_array().into_iter().flatten();
    own.chain(parts.flat_map(|p| declared(doc, p))).collect()
}

fn example(name: &str) -> Value {
    doc()["components"]["schemas"][name]["example"].clone()
}


fn apply(p: &mut Project, command: Value) -> Outcome {
    let c = serde_json::from_value(command.clone()).unwrap();
    p.apply(c, NOW).unwrap_or_else(|e| panic!("{command}: {e:?}"))
}

/// A project made from the document's own request examples, with a started iteration.
fn project_from_examples() -> Project {
    let mut p = Project::default();
    apply(&mut p, create("flags", example("FlagPost")));
    let mut metric = create("metrics", example("MetricPost"));
    metric["integration"] = json!({"product": "acme", "source": "sync", "version": "1"});
    apply(&mut p, metric);
    apply(&mut p, create("metrics", json!({"key": "buy-click", "kind": "click", "selector": "#buy", "description": "d",
                 "urls": [{"kind": "substring", "substring": "/"}], "maintainerId": "me"})));
    apply(&mut p, create("metrics", json!({"key": "p95", "kind": "custom", "eventKey": "latency", "isNumeric": true,
                 "analysisType": "percentile", "percentileValue": 95, "unit": "ms"})));
    apply(&mut p, create("metrics",
        json!({"key": "visit", "kind": "pageview", "urls": [{"kind": "exact", "url": "https://a.b/"}]})));
    let production = |command| in_env("production", command);
    apply(&mut p, production(create("segments", example("SegmentPost"))));
    apply(&mut p, production(create("experiments", example("ExperimentPost"))));
    let start = json!({"verb": "patch", "key": "checkout-test", "body": example("ExperimentPatch")});
    apply(&mut p, production(rest("experiments", start)));
    p
}

/// What the code writes conforms to the document: representations, pages and errors.
#[test]
fn representations_conform_to_their_schemas() {
    let doc = doc();
    let mut p = project_from_examples();
    let production = |command| in_env("production", command);
    let reads = [
        ("MetricCollectionRep", rest("metrics", json!({"verb": "list"}))),
        ("MetricRep", rest("metrics", json!({"verb": "get", "key": "purchase"}))),
        ("FlagCollection", rest("flags", json!({"verb": "list"}))),
        ("Flag", rest("flags", json!({"verb": "get", "key": "new-checkout"}))),
        ("SegmentCollection", production(rest("segments", json!({"verb": "list"})))),
        ("Segment", production(rest("segments", json!({"verb": "get", "key": "beta-testers"})))),
        ("ExperimentCollection", production(rest("experiments", json!({"verb": "list"})))),
        ("Experiment", production(rest("experiments", json!({"verb": "get", "key": "checkout-test"})))),
    ];
    for (schema, command) in reads {
        let value = apply(&mut p, command).value;
        assert_eq!(conformance(&doc, schema, &value), Vec::<String>::new(), "{value}");
    }
    let goals = apply(&mut p, json!({"op": "goals"})).value;
    assert_eq!(goals.as_array().unwrap().len(), 2, "{goals}");
    for g in goals.as_array().unwrap() {
        assert_eq!(conformance(&doc, "Goal", g), Vec::<String>::new());
    }
    let context = example("Context");
    let values = apply(&mut p, json!({"op": "evaluate", "env": "production",
        "context": context, "with_reasons": true})).value;
    assert!(!values.as_object().unwrap().is_empty(), "{values}");
    for v in values.as_object().unwrap().values() {
        assert_eq!(conformance(&doc, "FlagValue", v), Vec::<String>::new(), "{v}");
    }
    let error = serde_json::to_value(crate::Error::not_found("metric", "m")).unwrap();
    assert_eq!(conformance(&doc, "Error", &error), Vec::<String>::new());
}

/// A guarded rollout's representations conform, before and after a check (with its health and
/// per-guardrail figures), and so does a webhook's.
#[test]
fn rollout_and_webhook_representations_conform() {
    let doc = doc();
    let mut p = project_from_examples();
    apply(&mut p, create("flags", json!({"key": "guarded", "environments": {"production": {"on": true, "fallthrough": {"variation": 0}}}})));
    let test = p.flags["guarded"].spec.variations[1].id.clone();
    let start = json!({"verb": "patch", "key": "guarded", "semantic": true, "body": {"environmentKey": "production", "instructions": [
        {"kind": "updateFallthroughWithMeasuredRolloutV2", "testVariationId": test, "metrics": [{"metricKey": "purchase"}]}]}});
    apply(&mut p, rest("flags", start));
    let list = apply(&mut p, json!({"op": "rollouts", "project": "p", "env": "production", "flag": "guarded", "verb": {"verb": "list"}})).value;
    assert_eq!(conformance(&doc, "MeasuredRolloutCollection", &list), Vec::<String>::new(), "{list}");
    let r = p.rollouts.values().next().unwrap().clone();
    let mut counts = crate::aggregates::Aggregates::default();
    counts.exposed.extend([(0, 40), (1, 40)]);
    let mut m = crate::aggregates::Moments::default();
    (0..40).for_each(|i| m.add(f64::from(u8::from(i < 4)), i < 4));
    counts.metrics.insert("purchase".into(), [(0, m), (1, m)].into());
    let check = crate::rollout::check::check(&r, Some(&counts), NOW + 60_000);
    let rep = json!(r.rep("p", Some(&check)));
    assert_eq!(conformance(&doc, "MeasuredRollout", &rep), Vec::<String>::new(), "{rep}");
    assert_eq!(rep["metrics"][0]["status"], "ok");
    let hook = crate::webhook::Webhook::from_json(&example("WebhookPost"), "w1".into(), "s".into(), NOW).unwrap();
    assert_eq!(conformance(&doc, "Webhook", &json!(hook.rep(true))), Vec::<String>::new());
    let series = json!({"items": [crate::rollout::SeriesPoint::of(&check)], "totalCount": 1});
    assert_eq!(conformance(&doc, "MeasuredRolloutSeries", &series), Vec::<String>::new(), "{series}");
}

#[test]
fn the_checker_finds_drift() {
    let doc = doc();
    let mut p = project_from_examples();
    let get = rest("metrics", json!({"verb": "get", "key": "purchase"}));
    let mut rep = apply(&mut p, get).value;
    rep["newField"] = json!(1);
    rep.as_object_mut().unwrap().remove("kind");
    rep["tags"] = json!("not a list");
    let errors = conformance(&doc, "MetricRep", &rep);
    assert!(errors.iter().any(|e| e.contains("newField: not in the schema")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("kind: required")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("tags:")), "{errors:?}");
}

/// The event example is a valid event.
#[test]
fn the_event_example_is_accepted() {
    let body = serde_json::to_vec(&json!([example("Event")])).unwrap();
    let batch = crate::parse_batch(&body, NOW).unwrap();
    assert_eq!((batch.events.len(), batch.rejected.len()), (1, 0));
}

use super::*;
use crate::flag::{Flag, FlagSpec};
use crate::project::Project;
use crate::resource::Spec;
use crate::segment::{Segment as SegmentRecord, SegmentSpec};
use launchdarkly_server_sdk_evaluation as ld;
use serde_json::json;

/// A project whose production environment uses every part of targeting: prerequisites, user and
/// context targets, rules with segment, string, number and semver clauses, a percentage rollout,
/// an experiment rollout with untracked traffic, and a segment with lists and a weighted rule.
fn project() -> Project {
    let mut p = Project::default();
    let flag = |v: Value| {
        let spec = FlagSpec::from_json(&v).unwrap();
        Flag::create("p", spec, 1, None)
    };
    let vars = json!([{"value": "control"}, {"value": "treatment"}, {"value": "other"}]);
    let base = flag(json!({"key": "base", "variations": [{"value": true}, {"value": false}],
        "clientSideAvailability": {"usingEnvironmentId": true, "usingMobileKey": true},
        "environments": {"production": {"on": true, "offVariation": 1, "fallthrough": {"rollout": {
            "variations": [{"variation": 0, "weight": 80000}, {"variation": 1, "weight": 20000}]}}}}}));
    let exp = flag(json!({"key": "exp", "variations": vars,
        "clientSideAvailability": {"usingEnvironmentId": true, "usingMobileKey": true},
        "environments": {"production": {"on": true, "offVariation": 0,
            "prerequisites": [{"key": "base", "variation": 0}],
            "targets": [{"values": ["vip-1", "vip-2"], "variation": 2}],
            "contextTargets": [{"contextKind": "org", "values": ["acme"], "variation": 1},
                               {"contextKind": "user", "values": [], "variation": 2}],
            "rules": [
                {"clauses": [{"contextKind": "user", "attribute": "key", "op": "segmentMatch", "values": ["staff"]}], "variation": 0},
                {"clauses": [{"contextKind": "user", "attribute": "country", "op": "in", "values": ["DE", "AT"]},
                             {"contextKind": "user", "attribute": "/device/os", "op": "startsWith", "values": ["iOS"]}],
                 "rollout": {"kind": "experiment", "seed": 17, "variations": [{"variation": 0, "weight": 25000},
                     {"variation": 1, "weight": 25000}, {"variation": 0, "weight": 50000, "untracked": true}]}},
                {"clauses": [{"contextKind": "user", "attribute": "age", "op": "greaterThanOrEqual", "values": [40]},
                             {"contextKind": "user", "attribute": "app", "op": "semVerLessThan", "values": ["2.0.0"], "negate": true}],
                 "variation": 2, "trackEvents": true}],
            "fallthrough": {"rollout": {"kind": "experiment", "seed": 61, "variations": [
                {"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}}}}}));
    let hidden = flag(json!({"key": "server-only", "variations": vars,
        "environments": {"production": {"on": false, "offVariation": 2, "fallthrough": {"variation": 0}}}}));
    for f in [base, exp, hidden] {
        p.flags.insert(f.spec.key.clone(), f);
    }
    let staff = SegmentSpec::from_json(&json!({"key": "staff", "included": ["u-7"], "excluded": ["u-8"],
        "includedContexts": [{"contextKind": "org", "values": ["inside"]}],
        "rules": [{"clauses": [{"contextKind": "user", "attribute": "email", "op": "endsWith", "values": ["@staff.example"]}]},
                  {"clauses": [{"contextKind": "user", "attribute": "team", "op": "in", "values": ["qa"]}], "weight": 50000}]}))
    .unwrap();
    p.segments.insert("production:staff".into(), SegmentRecord::create("p", "production", staff, 1));
    p
}

/// The i-th of many varied contexts: users with and without attributes, orgs, multi-contexts.
fn context(i: usize) -> Value {
    let countries = ["DE", "AT", "FR", "US"];
    let user = json!({"kind": "user", "key": format!("u-{i}"), "country": countries[i % 4],
        "device": {"os": if i.is_multiple_of(3) { "iOS 17" } else { "Android" }}, "age": 20 + (i % 50),
        "app": if i.is_multiple_of(2) { "1.9.3" } else { "2.1.0" },
        "email": if i.is_multiple_of(11) { format!("p{i}@staff.example") } else { format!("p{i}@mail.example") },
        "team": if i.is_multiple_of(5) { "qa" } else { "web" }});
    match i % 10 {
        0 => json!({"kind": "multi", "user": user, "org": {"key": if i.is_multiple_of(20) { "acme" } else { "inside" }}}),
        1 => json!({"kind": "user", "key": format!("vip-{}", i % 3)}),
        2 => json!({"kind": "org", "key": "acme"}),
        _ => user,
    }
}

fn published() -> (AllData, String) {
    let data = project().sdk_data("production");
    let body = latest_all(&data);
    (data, body)
}

#[test]
fn every_field_the_sdks_require_is_written() {
    let (_, body) = published();
    let v: Value = serde_json::from_str(&body).unwrap();
    let flag = v["flags"]["exp"].as_object().unwrap();
    for field in ["key", "version", "on", "targets", "contextTargets", "rules", "prerequisites", "fallthrough",
        "variations", "salt", "offVariation", "trackEvents", "trackEventsFallthrough", "clientSide",
        "clientSideAvailability", "debugEventsUntilDate", "deleted"]
    {
        assert!(flag.contains_key(field), "flag lacks `{field}`: {body}");
    }
    assert_eq!(flag["debugEventsUntilDate"], Value::Null);
    for rule in flag["rules"].as_array().unwrap() {
        assert!(rule["id"].as_str().is_some_and(|s| !s.is_empty()) && rule["trackEvents"].is_boolean(), "{rule}");
        assert!(rule["clauses"][0].get("_id").is_none(), "the REST API's clause IDs are not published");
    }
    // Integers stay integers (Python's SDK refuses 50000.0).
    assert!(body.contains(r#""weight":25000"#) && !body.contains("25000.0"), "{body}");
    let segment = v["segments"]["staff"].as_object().unwrap();
    for field in ["key", "version", "included", "excluded", "rules", "salt", "deleted"] {
        assert!(segment.contains_key(field), "segment lacks `{field}`");
    }
    assert_eq!(v["flags"]["server-only"]["clientSide"], json!(false));
    // Equal data, equal body and ETag; an empty environment still has both maps.
    assert_eq!(latest_all(&project().sdk_data("production")), body);
    assert_eq!(latest_all(&AllData::default()), r#"{"flags":{},"segments":{}}"#);
}

/// The golden test: LaunchDarkly's own Rust evaluation crate parses what we publish and
/// evaluates every flag exactly as our evaluator does, for a thousand contexts.
#[test]
fn launchdarkly_evaluates_the_published_data_as_we_do() {
    #[derive(serde::Deserialize)]
    struct LdData {
        flags: HashMap<String, ld::Flag>,
        segments: HashMap<String, ld::Segment>,
    }
    impl ld::Store for LdData {
        fn flag(&self, key: &str) -> Option<ld::Flag> {
            self.flags.get(key).cloned()
        }
        fn segment(&self, key: &str) -> Option<ld::Segment> {
            self.segments.get(key).cloned()
        }
    }
    let (data, body) = published();
    let theirs: LdData = serde_json::from_str(&body).expect("LaunchDarkly's model parses the body");
    let mut in_experiment = 0;
    for i in 0..1000 {
        let ctx = context(i);
        let ld_ctx: ld::Context = serde_json::from_value(ctx.clone()).unwrap();
        for key in ["base", "exp", "server-only"] {
            let ours = evaluate(&data, &data.flags[key], &ctx);
            let detail = ld::evaluate(&theirs, &theirs.flags[key], &ld_ctx, None);
            let value = detail.value.and_then(|v| v.as_json()).unwrap_or(Value::Null);
            assert_eq!(
                (ours.value.clone(), ours.variation.map(|v| v as isize), json!(ours.reason)),
                (value, detail.variation_index, json!(detail.reason)),
                "flag `{key}`, context {ctx}"
            );
            in_experiment += usize::from(ours.reason.in_experiment());
        }
    }
    assert!(in_experiment > 100, "the experiment rollouts were reached: {in_experiment}");
}

#[test]
fn evalx_serves_client_side_flags_from_the_published_data() {
    let (data, _) = published();
    let p = project();
    let ctx = json!({"kind": "user", "key": "u-3", "country": "FR"});
    let out = evalx(&data, &ctx, true);
    assert_eq!(out.as_object().unwrap().keys().collect::<Vec<_>>(), ["base", "exp"], "server-only is not served");
    // The project answers evalx from the same data.
    let from_project = p.clone().apply(crate::project::Command::Evaluate { env: "production".into(), context: ctx, with_reasons: true }, 1);
    assert_eq!(from_project.unwrap().value, out);
}

/// The stream object's view of the data: its published body, parsed.
fn raw(data: &AllData) -> RawData {
    RawData::parse(&latest_all(data)).unwrap()
}

#[test]
fn stream_updates_patch_delete_and_put_on_a_version_going_back() {
    let (old, _) = published();
    let mut tombstones = HashMap::new();
    assert_eq!(stream_update(&raw(&old), &raw(&old), &mut tombstones), StreamUpdate::Events(vec![]));
    let mut new = old.clone();
    let f = new.flags.get_mut("exp").unwrap();
    f.on = false;
    f.version += 1;
    new.flags.remove("base");
    let StreamUpdate::Events(events) = stream_update(&raw(&old), &raw(&new), &mut tombstones) else { panic!("events expected") };
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].starts_with("event: patch\ndata: {\"data\":{") && events[0].contains(r#""path":"/flags/exp""#));
    assert!(events[0].ends_with("}\n\n") && events[0].matches('\n').count() == 3, "one data line: {}", events[0]);
    let base_version = old.flags["base"].version;
    assert_eq!(events[1], format!("event: delete\ndata: {{\"path\":\"/flags/base\",\"version\":{}}}\n\n", base_version + 1));
    // The flag made again with a version not above its tombstone: only a put replaces it.
    let mut again = new.clone();
    again.flags.insert("base".into(), old.flags["base"].clone());
    assert_eq!(stream_update(&raw(&new), &raw(&again), &mut tombstones), StreamUpdate::Put);
    // Above the tombstone: a patch.
    again.flags.get_mut("base").unwrap().version = base_version + 2;
    assert!(matches!(stream_update(&raw(&new), &raw(&again), &mut tombstones), StreamUpdate::Events(e) if e.len() == 1));
    assert!(put_event("{}").starts_with("event: put\ndata: {\"path\":\"/\",\"data\":{}}"));
}

#[test]
fn a_publication_carries_its_etag() {
    let p = Publication::new(3, "{\"flags\":{},\"segments\":{}}".into());
    assert_eq!(p.pointer.version, 3);
    assert_eq!(p.pointer.etag, etag(&p.body));
    assert!(p.pointer.etag.starts_with('"') && p.pointer.etag.len() == 34);
    let text = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<Publication>(&text).unwrap(), p);
}

/// The body assembled from kept fragments is, after every kind of change, byte for byte the one
/// serialised whole; its ETag follows the data, not the order of the changes.
#[test]
fn the_assembled_body_is_the_serialised_one_after_every_change() {
    use crate::project::test_commands::{create, rest};
    let mut p = Project::default();
    let mut kept = EnvironmentBody::default();
    let mut run = |p: &mut Project, command: Value| {
        let outcome = p.apply(serde_json::from_value(command).unwrap(), 1).unwrap();
        kept.forget("prod", &outcome.changed);
        let (body, etag) = p.sdk_body("prod", &mut kept);
        assert_eq!(body, latest_all(&p.sdk_data("prod")));
        // A cache made afresh agrees.
        assert_eq!((body.clone(), etag.clone()), p.sdk_body("prod", &mut EnvironmentBody::default()));
        (body, etag)
    };
    let flag = |key: &str, on: bool| json!({"key": key, "variations": [{"value": 1}, {"value": 2}],
        "environments": {"prod": {"on": on, "offVariation": 0, "fallthrough": {"variation": 1}}}});
    let (_, empty) = run(&mut p, create("flags", flag("a.1", true)));
    run(&mut p, create("flags", flag("b", false)));
    run(&mut p, create("segments", json!({"key": "s", "name": "S", "included": ["u1"]})));
    let patch = |key: &str, value: bool| rest("flags", json!({"verb": "patch", "key": key,
        "body": [{"op": "replace", "path": "/environments/prod/on", "value": value}]}));
    let (_, before) = run(&mut p, patch("b", true));
    let (_, changed) = run(&mut p, patch("b", false));
    assert_ne!(before, changed);
    run(&mut p, rest("segments", json!({"verb": "patch", "key": "s", "body": [{"op": "add", "path": "/excluded/-", "value": "u2"}]})));
    run(&mut p, rest("flags", json!({"verb": "delete", "key": "b"})));
    run(&mut p, rest("segments", json!({"verb": "delete", "key": "s"})));
    let (body, etag) = run(&mut p, create("flags", flag("b", true)));
    assert!(body.starts_with(r#"{"flags":{"a.1":{"#), "{body}");
    assert_ne!(etag, empty);
    // Deleted and made again in the same millisecond with the same content: the same body and ETag.
    run(&mut p, rest("flags", json!({"verb": "delete", "key": "b"})));
    let again = run(&mut p, create("flags", flag("b", true)));
    assert_eq!(again, (body, etag));
    // Deleted and made again differently between two publications, in the same millisecond.
    let mut kept = EnvironmentBody::default();
    p.sdk_body("prod", &mut kept);
    for command in [rest("flags", json!({"verb": "delete", "key": "b"})), create("flags", flag("b", false))] {
        let outcome = p.apply(serde_json::from_value(command).unwrap(), 1).unwrap();
        kept.forget("prod", &outcome.changed);
    }
    assert_eq!(p.sdk_body("prod", &mut kept).0, latest_all(&p.sdk_data("prod")));
}

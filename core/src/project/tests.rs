use super::test_commands::{create, rest};
use super::*;
use crate::catalog::Sighting;

const NOW: i64 = 1_700_000_000_000;
const DAY: i64 = 24 * 60 * 60 * 1000;

fn run(p: &mut Project, command: Value) -> Result<Outcome, Error> {
    p.apply(serde_json::from_value(command).expect("a command"), NOW)
}

fn ok(p: &mut Project, command: Value) -> Outcome {
    run(p, command.clone()).unwrap_or_else(|e| panic!("{command}: {e:?}"))
}


/// A project with flag `f`, metric `m` and experiment `x` (not started) in environment `prod`.
fn project() -> Project {
    let mut p = Project::default();
    ok(&mut p, create("flags", json!({"key": "f"})));
    ok(&mut p, create("metrics", json!({"key": "m", "kind": "custom", "eventKey": "buy"})));
    ok(&mut p, create("experiments",
        json!({"key": "x", "flagKey": "f", "metrics": [{"key": "m", "primary": true}]})));
    p
}

fn instruct(kind: &str) -> Value {
    rest("experiments", json!({"verb": "patch", "key": "x",
        "body": {"instructions": [{"kind": kind}]}}))
}

#[test]
fn creating_names_the_records_it_changed_and_refuses_duplicates() {
    let mut p = Project::default();
    let out = ok(&mut p, create("flags", json!({"key": "f"})));
    assert_eq!(out.changed, [Record::Flag("f".into())]);
    assert_eq!(out.value["_version"], 1);
    let again = run(&mut p, create("flags", json!({"key": "f"})));
    assert_eq!(
        again.unwrap_err(),
        Error::Conflict("a flag with key `f` already exists in project `p`".into())
    );
    let bad = run(&mut p, create("metrics", json!({"key": "m", "kind": "custom"})));
    assert_eq!(bad.unwrap_err(), Error::invalid("`eventKey` is required for custom metrics"));
    assert!(p.metrics.is_empty());
}

#[test]
fn an_experiment_needs_its_flag_and_metrics_and_marks_the_metrics() {
    let mut p = Project::default();
    let experiment = |flag: &str, metric: &str| create("experiments",
        json!({"key": "x", "flagKey": flag, "metrics": [{"key": metric}]}));
    assert_eq!(
        run(&mut p, experiment("f", "m")).unwrap_err(),
        Error::invalid("flag `f` does not exist in project `p`")
    );
    ok(&mut p, create("flags", json!({"key": "f"})));
    assert_eq!(
        run(&mut p, experiment("f", "m")).unwrap_err(),
        Error::invalid("metric `m` does not exist in project `p`")
    );
    ok(&mut p, create("metrics", json!({"key": "m", "kind": "custom", "eventKey": "buy"})));
    let out = ok(&mut p, experiment("f", "m"));
    assert_eq!(out.changed, [Record::Metric("m".into()), Record::Experiment("prod:x".into())]);
    assert!(p.metrics["m"].experiments.contains("prod:x"));
    assert!(matches!(run(&mut p, experiment("f", "m")), Err(Error::Conflict(_))));
}

#[test]
fn a_running_iteration_locks_its_metric_and_flag_until_stopped() {
    let mut p = project();
    let started = ok(&mut p, instruct("startIteration"));
    assert_eq!(started.changed, [Record::Metric("m".into()), Record::Experiment("prod:x".into())]);
    assert!(p.metrics["m"].running_experiments.contains("prod:x"));
    let delete_metric = rest("metrics", json!({"verb": "delete", "key": "m"}));
    let delete_flag = rest("flags", json!({"verb": "delete", "key": "f"}));
    let retarget = rest("metrics", json!({"verb": "patch", "key": "m",
        "body": [{"op": "replace", "path": "/eventKey", "value": "other"}]}));
    for refused in [&delete_metric, &delete_flag, &retarget] {
        assert!(matches!(run(&mut p, refused.clone()), Err(Error::Conflict(_))), "{refused}");
    }
    assert!(p.flags.contains_key("f") && p.metrics["m"].spec.event_key.as_deref() == Some("buy"));
    ok(&mut p, instruct("stopIteration"));
    assert!(p.metrics["m"].running_experiments.is_empty());
    ok(&mut p, retarget);
    assert_eq!(ok(&mut p, delete_flag).changed, [Record::Flag("f".into())]);
    assert!(!p.flags.contains_key("f"));
    assert_eq!(
        run(&mut p, instruct("startIteration")).unwrap_err(),
        Error::invalid("flag `f` no longer exists")
    );
}

#[test]
fn instructions_apply_all_or_none() {
    let mut p = project();
    let patch = rest("experiments", json!({"verb": "patch", "key": "x",
        "body": {"instructions": [{"kind": "updateName", "value": "Renamed"},
                                  {"kind": "stopIteration"}]}}));
    let before = p.experiments["prod:x"].clone();
    assert!(matches!(run(&mut p, patch), Err(Error::Conflict(_))));
    assert_eq!(p.experiments["prod:x"], before);
}

#[test]
fn a_patch_that_changes_nothing_changes_no_record() {
    let mut p = project();
    let same = rest("flags", json!({"verb": "patch", "key": "f",
        "body": [{"op": "replace", "path": "/name", "value": "f"}]}));
    let out = ok(&mut p, same);
    assert!(out.changed.is_empty());
    assert_eq!(out.value["_version"], 1);
    let missing = rest("flags", json!({"verb": "patch", "key": "nope", "body": []}));
    assert_eq!(run(&mut p, missing).unwrap_err(), Error::not_found("flag", "nope"));
}

#[test]
fn routing_holds_running_iterations_and_stopped_ones_for_a_day() {
    let mut p = project();
    let routes = |p: &mut Project, env: &str, now: i64| {
        let cmd = Command::Routing { env: env.into(), sightings: Vec::new() };
        let out = p.apply(cmd, now).unwrap();
        let routing: Routing = serde_json::from_value(out.value).unwrap();
        assert_eq!(routing.flag_variations["f"], 2);
        routing.routes.len()
    };
    assert_eq!(routes(&mut p, "prod", NOW), 0);
    ok(&mut p, instruct("startIteration"));
    assert_eq!(routes(&mut p, "prod", NOW), 1);
    assert_eq!(routes(&mut p, "staging", NOW), 0);
    ok(&mut p, instruct("stopIteration"));
    assert_eq!(routes(&mut p, "prod", NOW + DAY), 1);
    assert_eq!(routes(&mut p, "prod", NOW + DAY + 1), 0);
    // Counts are final (results may be frozen) only once the last routed write has landed.
    let it = &p.experiments["prod:x"].iterations[0];
    assert!(!it.counts_final(NOW + DAY + 1));
    assert!(!it.counts_final(NOW + DAY + crate::experiment::FINAL_MARGIN_MS));
    assert!(it.counts_final(NOW + DAY + crate::experiment::FINAL_MARGIN_MS + 1));
}

#[test]
fn a_running_iteration_is_never_final() {
    let mut p = project();
    ok(&mut p, instruct("startIteration"));
    assert!(!p.experiments["prod:x"].iterations[0].counts_final(NOW + 365 * DAY));
}

#[test]
fn sightings_become_catalogue_records() {
    let mut p = Project::default();
    let sighting = Sighting {
        key: "buy".into(),
        kinds: Default::default(),
        environment: "prod".into(),
        context_kinds: Default::default(),
        sdks: Default::default(),
        count: 3,
        last_seen: NOW,
    };
    let cmd = Command::Routing { env: "prod".into(), sightings: vec![sighting.clone(), sighting] };
    let out = p.apply(cmd, NOW).unwrap();
    assert_eq!(out.changed, [Record::EventKey("buy".into())]);
    let listed = ok(&mut p, json!({"op": "eventKeys", "search": "", "limit": 10}));
    assert_eq!(listed.value["items"][0]["count"], 6);
}

#[test]
fn success_statuses_follow_the_verb() {
    let status = |command: Value| serde_json::from_value::<Command>(command).unwrap().success_status();
    assert_eq!(status(create("flags", json!({"key": "f"}))), 201);
    assert_eq!(status(rest("metrics", json!({"verb": "delete", "key": "m"}))), 204);
    assert_eq!(status(rest("experiments", json!({"verb": "list"}))), 200);
    assert_eq!(status(json!({"op": "goals"})), 200);
    let mut p = project();
    let refused = run(&mut p, rest("experiments", json!({"verb": "delete", "key": "x"})));
    assert!(matches!(refused, Err(Error::MethodNotAllowed(_))));
}

#[test]
fn a_list_refuses_a_query_parameter_its_resource_does_not_take() {
    let mut p = project();
    let list = |op: &str, query: Value| rest(op, json!({"verb": "list", "query": query}));
    let unknown = |param: &str| {
        Error::invalid(format!("unknown query parameter `{param}`: this route takes none"))
    };
    assert_eq!(run(&mut p, list("flags", json!([["limit", "5"]]))).unwrap_err(), unknown("limit"));
    assert_eq!(run(&mut p, list("experiments", json!([["env", "x"]]))).unwrap_err(), unknown("env"));
    assert_eq!(
        run(&mut p, list("metrics", json!([["colour", "red"]]))).unwrap_err(),
        Error::invalid("unknown query parameter `colour`")
    );
    let page = ok(&mut p, list("metrics", json!([["limit", "1"]])));
    assert_eq!(page.value["items"].as_array().map(Vec::len), Some(1));
}

#[test]
fn prerequisites_must_exist_never_cycle_and_keep_their_flags() {
    let mut p = Project::default();
    let with_prereq = |key: &str, on: &str| {
        json!({"key": key, "environments": {"prod": {"on": true, "prerequisites": [{"key": on, "variation": 0}]}}})
    };
    let missing = run(&mut p, create("flags", with_prereq("a", "b"))).unwrap_err();
    assert_eq!(missing, Error::invalid("`environments.prod.prerequisites[0].key`: flag `b` does not exist"));
    ok(&mut p, create("flags", json!({"key": "b"})));
    ok(&mut p, create("flags", with_prereq("a", "b")));
    ok(&mut p, create("flags", with_prereq("c", "a")));
    // b → c would close c → a → b → c.
    let patch = json!([{"op": "add", "path": "/environments", "value": {"prod": {"on": true, "prerequisites": [{"key": "c", "variation": 0}]}}}]);
    let cycle = run(&mut p, rest("flags", json!({"verb": "patch", "key": "b", "body": patch}))).unwrap_err();
    assert_eq!(cycle, Error::invalid("`environments.prod.prerequisites` would make a cycle: b → c → a → b"));
    assert!(p.flags["b"].spec.environments.is_empty(), "the refused patch changed nothing");
    let used = run(&mut p, rest("flags", json!({"verb": "delete", "key": "b"}))).unwrap_err();
    assert_eq!(used, Error::Conflict("flag `b` is a prerequisite of a: remove it there first".into()));
}

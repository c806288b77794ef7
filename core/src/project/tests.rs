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
    // The flag's fallthrough now serves the experiment rollout.
    assert_eq!(started.changed, [Record::Metric("m".into()), Record::Flag("f".into()), Record::Experiment("prod:x".into())]);
    assert_eq!(p.flags["f"].experiment_allocation("prod"), Some(vec![(0, 50_000), (1, 50_000)]));
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
    assert_eq!(
        run(&mut p, list("flags", json!([["limit", "5"]]))).unwrap_err(),
        Error::invalid("unknown query parameter `limit`: the flag list takes `filter`")
    );
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

/// A flag `r` in `prod` with a rule for Germany (`_id` `de`) and a fixed fallthrough.
fn project_with_rule() -> Project {
    let mut p = Project::default();
    ok(&mut p, create("flags", json!({"key": "r", "environments": {"prod": {"on": true, "fallthrough": {"variation": 0},
        "rules": [{"_id": "de", "clauses": [{"contextKind": "user", "attribute": "country", "op": "in", "values": ["DE"]}], "variation": 1}]}}})));
    ok(&mut p, create("metrics", json!({"key": "m", "kind": "custom", "eventKey": "buy"})));
    p
}

#[test]
fn an_experiment_on_a_rule_serves_its_rollout_there_and_keeps_the_rule() {
    let mut p = project_with_rule();
    let on_rule = |rule: &str| create("experiments", json!({"key": "x", "flagKey": "r", "ruleId": rule, "metrics": [{"key": "m"}]}));
    let missing = run(&mut p, on_rule("fr")).unwrap_err();
    assert_eq!(missing, Error::invalid("`ruleId`: flag `r` has no rule `fr` in environment `prod` (its rules: `de`)"));
    ok(&mut p, on_rule("de"));
    let out = ok(&mut p, instruct("startIteration"));
    assert!(out.changed.contains(&Record::Flag("r".into())), "{:?}", out.changed);
    assert_eq!(out.value["currentIteration"]["ruleId"], "de");
    let flag = &p.flags["r"];
    assert_eq!(flag.version, 2);
    let config = &flag.spec.environments["prod"];
    assert_eq!(config.fallthrough, crate::flag::VariationOrRollout::Fixed { variation: 0 }, "the fallthrough is untouched");
    let crate::flag::VariationOrRollout::Rollout { rollout } = &config.rules[0].serve else { panic!("a rollout") };
    assert_eq!(rollout.kind, crate::flag::RolloutKind::Experiment);
    assert_eq!(rollout.variations.iter().map(|s| (s.variation, s.weight)).collect::<Vec<_>>(), [(0, 50_000), (1, 50_000)]);
    // Evaluated: Germany is in the experiment through the rule, others fall through outside it.
    let de = flag.evaluate("prod", &json!({"kind": "user", "key": "u1", "country": "DE"}));
    assert!(matches!(&de.reason, crate::targeting::Reason::RuleMatch { rule_id, .. } if rule_id == "de") && de.reason.in_experiment());
    assert!(!flag.evaluate("prod", &json!({"kind": "user", "key": "u1", "country": "FR"})).reason.in_experiment());
    // The running experiment's rule cannot be removed; another change can be made.
    let remove = rest("flags", json!({"verb": "patch", "key": "r", "body": [{"op": "remove", "path": "/environments/prod/rules/0"}]}));
    assert!(matches!(run(&mut p, remove.clone()).unwrap_err(), Error::Conflict(m) if m.contains("used by running experiment `x`")));
    ok(&mut p, rest("flags", json!({"verb": "patch", "key": "r", "body": [{"op": "replace", "path": "/name", "value": "R"}]})));
    ok(&mut p, instruct("stopIteration"));
    ok(&mut p, remove);
    // Starting again with the rule gone is refused, and changes nothing.
    let before = p.flags["r"].clone();
    assert!(run(&mut p, instruct("startIteration")).unwrap_err().to_string().contains("has no rule `de`"));
    assert_eq!(p.flags["r"], before);
    assert_eq!(p.experiment("prod", "x").unwrap().iterations.len(), 1);
}

#[test]
fn only_the_rules_own_experiment_exposures_count() {
    use crate::event::{Event, FeatureEvent};
    use crate::experiment::CounterBatch;
    let mut p = project_with_rule();
    ok(&mut p, create("experiments", json!({"key": "x", "flagKey": "r", "ruleId": "de", "metrics": [{"key": "m"}]})));
    ok(&mut p, create("experiments", json!({"key": "y", "flagKey": "r", "metrics": [{"key": "m"}]})));
    let on_rule = p.experiments["prod:x"].clone();
    let mut rule_it = on_rule.clone();
    rule_it.start(&[p.metrics["m"].clone()], NOW).unwrap();
    let mut fall_it = p.experiments["prod:y"].clone();
    fall_it.start(&[p.metrics["m"].clone()], NOW).unwrap();
    let event = |unit: &'static str, rule: Option<&'static str>, x: Option<bool>| Event::Feature(FeatureEvent {
        creation_date: NOW + 1, flag_key: "r".into(), version: None, variation: Some(1), in_experiment: x,
        rule_id: rule.map(Into::into),
        context: crate::context::Context { units: crate::context::Units::One(crate::context::Unit::new("user", unit)) },
    });
    let events = [event("de-in", Some("de"), Some(true)), event("de-out", Some("de"), Some(false)),
        event("other-rule", Some("it"), Some(true)), event("fell", None, Some(true)), event("no-reason", None, None)];
    let units = |it: &Experiment| CounterBatch::build(it.current().unwrap(), &events).exposures.into_iter().map(|e| e.unit).collect::<Vec<_>>();
    assert_eq!(units(&rule_it), ["de-in"]);
    assert_eq!(units(&fall_it), ["fell", "no-reason"]);
}

fn segment_cmd(verb: Value) -> Value {
    json!({"op": "segments", "project": "p", "env": "prod", "verb": verb})
}

#[test]
fn segments_are_named_by_flags_and_segments_of_their_environment() {
    let mut p = Project::default();
    let flag = json!({"key": "f", "environments": {"prod": {"on": true, "fallthrough": {"variation": 1},
        "rules": [{"_id": "beta", "clauses": [{"attribute": "", "op": "segmentMatch", "values": ["testers"]}], "variation": 0}]}}});
    let missing = run(&mut p, create("flags", flag.clone())).unwrap_err();
    assert_eq!(missing, Error::invalid("`environments.prod.rules[0]`: segment `testers` does not exist in environment `prod`"));
    let testers = ok(&mut p, segment_cmd(json!({"verb": "create", "body": {"key": "testers", "included": ["ann"],
        "rules": [{"clauses": [{"contextKind": "user", "attribute": "email", "op": "endsWith", "values": ["@example.com"]}]}]}})));
    assert_eq!(testers.changed, [Record::Segment("prod:testers".into())]);
    assert_eq!((testers.value["version"].clone(), testers.value["_links"]["self"]["href"].clone()), (json!(1), json!("/api/v2/segments/p/prod/testers")));
    ok(&mut p, create("flags", flag));
    // Evaluated with the environment's segments.
    let eval = |p: &mut Project, ctx: Value| ok(p, json!({"op": "evaluate", "env": "prod", "context": ctx, "with_reasons": true})).value["f"].clone();
    let f = p.flags.get_mut("f").unwrap();
    f.spec.client_side_availability.using_environment_id = true;
    assert_eq!(eval(&mut p, json!({"key": "ann"}))["reason"], json!({"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "beta"}));
    assert_eq!(eval(&mut p, json!({"key": "bob", "email": "bob@example.com"}))["variation"], 0);
    assert_eq!(eval(&mut p, json!({"key": "eve"}))["variation"], 1);
    // Excluding a key is a patch; it bumps the version.
    let patched = ok(&mut p, segment_cmd(json!({"verb": "patch", "key": "testers", "body": [{"op": "add", "path": "/excluded/-", "value": "bob"}]})));
    assert_eq!(patched.value["version"], 2);
    assert_eq!(eval(&mut p, json!({"key": "bob", "email": "bob@example.com"}))["variation"], 1);
    // A used segment cannot be deleted; a segment of another environment is another segment.
    let delete = segment_cmd(json!({"verb": "delete", "key": "testers"}));
    assert_eq!(run(&mut p, delete.clone()).unwrap_err(),
        Error::Conflict("segment `testers` is used by flag `f` in environment `prod`: remove it there first".into()));
    let mut other_env = segment_cmd(json!({"verb": "get", "key": "testers"}));
    other_env["env"] = json!("staging");
    assert!(matches!(run(&mut p, other_env).unwrap_err(), Error::NotFound(_)));
    ok(&mut p, rest("flags", json!({"verb": "patch", "key": "f", "body": [{"op": "remove", "path": "/environments/prod/rules/0"}]})));
    assert_eq!(ok(&mut p, delete).changed, [Record::Segment("prod:testers".into())]);
    assert!(p.segments.is_empty());
}

#[test]
fn segments_never_make_a_cycle_or_nest_too_deep() {
    let mut p = Project::default();
    let naming = |key: &str, named: &str| segment_cmd(json!({"verb": "create", "body": {"key": key,
        "rules": [{"clauses": [{"attribute": "", "op": "segmentMatch", "values": [named]}]}]}}));
    ok(&mut p, segment_cmd(json!({"verb": "create", "body": {"key": "s0"}})));
    for i in 1..super::segments::MAX_SEGMENT_DEPTH {
        ok(&mut p, naming(&format!("s{i}"), &format!("s{}", i - 1)));
    }
    let too_deep = run(&mut p, naming("deep", &format!("s{}", super::segments::MAX_SEGMENT_DEPTH - 1))).unwrap_err();
    assert!(too_deep.to_string().contains("nest segments more than 10 deep"), "{too_deep}");
    // s0 naming s2 would close s2 → s1 → s0 → s2.
    let cycle = segment_cmd(json!({"verb": "patch", "key": "s0", "body": [{"op": "add", "path": "/rules", "value":
        [{"clauses": [{"attribute": "", "op": "segmentMatch", "values": ["s2"]}]}]}]}));
    assert_eq!(run(&mut p, cycle).unwrap_err(), Error::invalid("`rules` would make a cycle: s0 → s2 → s1 → s0"));
    assert!(run(&mut p, naming("me", "me")).unwrap_err().to_string().contains("cannot name itself"));
    assert_eq!(run(&mut p, segment_cmd(json!({"verb": "delete", "key": "s0"}))).unwrap_err(),
        Error::Conflict("segment `s0` is used by segment `s1` in environment `prod`: remove it there first".into()));
}

#[test]
fn semantic_patches_edit_flags_and_segments_through_the_same_checks() {
    let mut p = Project::default();
    let semantic = |op: &str, key: &str, body: Value| {
        let mut c = json!({"op": op, "project": "p", "env": "prod", "verb": {"verb": "patch", "key": key, "body": body, "semantic": true}});
        if op != "segments" {
            c.as_object_mut().unwrap().remove("env");
        }
        c
    };
    ok(&mut p, segment_cmd(json!({"verb": "create", "body": {"key": "beta"}})));
    let seg = ok(&mut p, semantic("segments", "beta", json!({"instructions": [{"kind": "addIncludedTargets", "values": ["ann"]},
        {"kind": "addRule", "ruleId": "r", "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}], "weight": 50000}]})));
    assert_eq!((seg.value["version"].clone(), seg.value["included"].clone(), seg.value["rules"][0]["_id"].clone()), (json!(2), json!(["ann"]), json!("r")));
    ok(&mut p, create("flags", json!({"key": "f"})));
    let body = json!({"environmentKey": "prod", "instructions": [{"kind": "turnFlagOn"},
        {"kind": "addRule", "ruleId": "beta", "clauses": [{"attribute": "segmentMatch", "op": "segmentMatch", "values": ["beta"]}], "variation": 0}]});
    let flag = ok(&mut p, semantic("flags", "f", body));
    assert_eq!(flag.changed, [Record::Flag("f".into())]);
    assert_eq!(p.flags["f"].version, 2);
    let e = p.flags["f"].evaluate_in("prod", &p.sdk_data("prod"), &json!({"key": "ann"}));
    assert_eq!((e.variation, e.reason.in_experiment()), (Some(0), false));
    // The result is validated like a JSON Patch's: a rule naming a missing segment is refused, and
    // a refused patch changes nothing.
    let missing = semantic("flags", "f", json!({"environmentKey": "prod", "instructions": [{"kind": "turnFlagOff"},
        {"kind": "addRule", "clauses": [{"attribute": "segmentMatch", "op": "segmentMatch", "values": ["gone"]}], "variation": 1}]}));
    assert!(run(&mut p, missing).unwrap_err().to_string().contains("segment `gone` does not exist"));
    assert!(p.flags["f"].env("prod").on);
    let metric = semantic("metrics", "m", json!({"instructions": [{"kind": "updateName", "value": "x"}]}));
    assert!(run(&mut p, metric).unwrap_err().to_string().contains("metrics take a JSON Patch"));
}

#[test]
fn bots_are_served_the_control_only_of_running_experiments_that_opted_in() {
    use crate::bots::overrides::FilterOverride;
    use crate::bots::serve_control::{BotControls, Control};
    let mut p = project_with_rule();
    let body = json!({"key": "x", "flagKey": "r", "ruleId": "de", "metrics": [{"key": "m"}], "botFilter": {"serveControl": true},
        "treatments": [{"name": "T", "variation": 0, "baseline": false, "allocationPercent": "50"},
                       {"name": "C", "variation": 1, "baseline": true, "allocationPercent": "50"}]});
    let created = ok(&mut p, create("experiments", body));
    assert_eq!(created.value["botFilter"], json!({"serveControl": true}));
    assert!(p.bot_controls("prod").is_empty(), "not running yet");
    ok(&mut p, instruct("startIteration"));
    let control = Control {
        rule: Some("de".into()),
        variation: 1,
        experiment: "x".into(),
        serve_control: true,
        filter: FilterOverride::default(),
    };
    let expected = BotControls([("r".to_owned(), vec![control])].into());
    assert_eq!(p.bot_controls("prod"), expected, "the baseline's variation, on the experiment's rule");
    assert!(p.bot_controls("staging").is_empty());
    let opt_out = rest("experiments", json!({"verb": "patch", "key": "x",
        "body": {"instructions": [{"kind": "updateBotFilter", "value": {"serveControl": false}}]}}));
    assert_eq!(ok(&mut p, opt_out).changed, [Record::Experiment("prod:x".into())], "allowed while running");
    assert!(p.bot_controls("prod").is_empty());
    // An override of the environment's filter is kept beside it (and lists the experiment even
    // without serveControl); a field the environment's filter has not is refused by name.
    let relax = rest("experiments", json!({"verb": "patch", "key": "x",
        "body": {"instructions": [{"kind": "updateBotFilter", "value": {"tiers": {"userAgent": false}}}]}}));
    ok(&mut p, relax);
    let controls = p.bot_controls("prod");
    let (experiment, o) = controls.overrides().next().expect("the override is listed");
    assert_eq!((experiment, o.tiers.and_then(|t| t.user_agent)), ("x", Some(false)));
    assert!(!controls.0["r"][0].serve_control);
    for value in [json!({"contextAttribute": "bot"}), json!({"serveControl": "yes"}), json!(true), json!({"tiers": {"all": false}})] {
        let patch = rest("experiments", json!({"verb": "patch", "key": "x",
            "body": {"instructions": [{"kind": "updateBotFilter", "value": value}]}}));
        let message = run(&mut p, patch).unwrap_err().to_string();
        assert!(message.contains("`botFilter") && message.contains("bot-filter"), "{message}");
    }
    let bad = create("experiments", json!({"key": "y", "flagKey": "r", "metrics": [{"key": "m"}], "botFilter": {"minHumanScore": 500}}));
    assert!(run(&mut p, bad).unwrap_err().to_string().contains("minHumanScore"));
}

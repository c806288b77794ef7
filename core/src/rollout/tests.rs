use super::*;
use crate::aggregates::{Aggregates, Moments};
use crate::error::Error;
use crate::project::test_commands::{create, rest};
use crate::project::{Outcome, Project, Record};
use serde_json::{json, Value};

const NOW: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn run(p: &mut Project, command: Value, now: i64) -> Result<Outcome, Error> {
    p.apply(serde_json::from_value(command).expect("a command"), now)
}

fn ok(p: &mut Project, command: Value) -> Outcome {
    run(p, command.clone(), NOW).unwrap_or_else(|e| panic!("{command}: {e:?}"))
}

/// Flag `f` (on, fallthrough: variation 0) with guardrails `errors` (binary, lower is better),
/// `clicks` (count) and `spend` (numeric).
fn project() -> Project {
    let mut p = Project::default();
    ok(&mut p, create("flags", json!({"key": "f", "environments": {"prod": {"on": true, "fallthrough": {"variation": 0}}}})));
    ok(&mut p, create("metrics", json!({"key": "errors", "kind": "custom", "eventKey": "error", "successCriteria": "LowerThanBaseline"})));
    ok(&mut p, create("metrics", json!({"key": "clicks", "kind": "custom", "eventKey": "click", "unitAggregationType": "sum"})));
    ok(&mut p, create("metrics", json!({"key": "spend", "kind": "custom", "eventKey": "spend", "isNumeric": true, "unit": "$"})));
    p
}

fn variation_id(p: &Project, i: usize) -> String {
    p.flags["f"].spec.variations[i].id.clone()
}

fn semantic(instructions: Value) -> Value {
    rest("flags", json!({"verb": "patch", "key": "f", "semantic": true, "body": {"environmentKey": "prod", "instructions": instructions}}))
}

fn start_body(p: &Project, extra: Value) -> Value {
    let mut ins = json!({"kind": "updateFallthroughWithMeasuredRolloutV2", "testVariationId": variation_id(p, 1),
        "controlVariationId": variation_id(p, 0), "randomizationUnit": "user",
        "stages": [{"rolloutWeight": 1000, "monitoringWindowMilliseconds": 10 * MIN}, {"rolloutWeight": 50000, "monitoringWindowMilliseconds": 10 * MIN}],
        "metrics": [{"metricKey": "errors", "regressionThreshold": 0, "onRegression": {"notify": true, "rollback": true}}]});
    for (k, v) in extra.as_object().unwrap() {
        ins[k] = v.clone();
    }
    semantic(json!([ins]))
}

fn started() -> (Project, MeasuredRollout) {
    let mut p = project();
    let body = start_body(&p, json!({}));
    ok(&mut p, body);
    let r = p.rollouts.values().next().unwrap().clone();
    (p, r)
}

#[test]
fn starting_serves_the_stage_rollout_and_locks_the_rule_and_metrics() {
    let mut p = project();
    let body = start_body(&p, json!({}));
    let out = ok(&mut p, body);
    let r = p.rollouts.values().next().unwrap().clone();
    let key = format!("prod:f:{}", r.id);
    for record in [Record::Flag("f".into()), Record::Rollout(key), Record::Metric("errors".into())] {
        assert!(out.changed.contains(&record), "{record:?} in {:?}", out.changed);
    }
    assert_eq!((r.status, r.control_variation, r.test_variation, r.events[0].kind.as_str()), (Status::Monitoring, 0, 1, "started"));
    let VariationOrRollout::Rollout { rollout } = &p.flags["f"].spec.environments["prod"].fallthrough else { panic!("a rollout") };
    let slots: Vec<(usize, u32, bool)> = rollout.variations.iter().map(|s| (s.variation, s.weight, s.untracked)).collect();
    assert_eq!(slots, [(1, 1000, false), (0, 49000, true), (0, 1000, false), (0, 49000, true)]);
    assert_eq!((rollout.kind, rollout.seed), (RolloutKind::Experiment, Some(r.seed)));
    assert!(p.metrics["errors"].running_experiments.contains(&format!("prod:{}", r.counter_key())));
    // Routing counts the arms under the rollout's own name, inExperiment only.
    let routing = ok(&mut p, json!({"op": "routing", "env": "prod"})).value;
    let route = routing["routes"].as_array().unwrap().iter().find(|r| r["experiment"] == json!(format!("measured-rollout:{}", p.rollouts.values().next().unwrap().id)));
    assert_eq!(route.expect("a route")["iteration"]["trackedOnly"], true);
}

#[test]
fn the_guarded_rule_is_the_rollouts_while_it_runs() {
    let (mut p, r) = started();
    let change = semantic(json!([{"kind": "updateFallthroughVariationOrRollout", "variationId": variation_id(&p, 1)}]));
    let err = run(&mut p, change, NOW).unwrap_err();
    assert!(matches!(&err, Error::Conflict(m) if m.starts_with("guarded_rollout_active") && m.contains(&r.id)), "{err:?}");
    let patch = rest("flags", json!({"verb": "patch", "key": "f", "body": [{"op": "replace", "path": "/environments/prod/fallthrough", "value": {"variation": 0}}]}));
    assert!(matches!(run(&mut p, patch, NOW).unwrap_err(), Error::Conflict(_)));
    // Another change is allowed; a second rollout and an experiment are not.
    ok(&mut p, rest("flags", json!({"verb": "patch", "key": "f", "body": [{"op": "replace", "path": "/name", "value": "F"}]})));
    let again = start_body(&p, json!({}));
    assert!(matches!(run(&mut p, again, NOW).unwrap_err(), Error::Conflict(m) if m.contains("one at a time")));
    ok(&mut p, create("experiments", json!({"key": "x", "flagKey": "f", "metrics": [{"key": "errors"}]})));
    let start = rest("experiments", json!({"verb": "patch", "key": "x", "body": {"instructions": [{"kind": "startIteration"}]}}));
    assert!(matches!(run(&mut p, start, NOW).unwrap_err(), Error::Conflict(m) if m.contains("guarded rollout")));
    assert!(matches!(run(&mut p, rest("metrics", json!({"verb": "delete", "key": "errors"})), NOW).unwrap_err(), Error::Conflict(_)));
    // Stopping with a variation archives it, serves that variation and unlocks the metric.
    let stop = semantic(json!([{"kind": "stopMeasuredRolloutOnFlagFallthrough", "variationId": variation_id(&p, 1)}]));
    ok(&mut p, stop);
    let r = &p.rollouts.values().next().unwrap();
    assert_eq!((r.status, r.iteration.ended_at.is_some()), (Status::Archived, true));
    assert_eq!(p.flags["f"].spec.environments["prod"].fallthrough, VariationOrRollout::Fixed { variation: 1 });
    assert!(p.metrics["errors"].running_experiments.is_empty());
}

#[test]
fn bad_start_fields_are_named() {
    let mut p = project();
    let cases = [
        (json!({"stages": [{"rolloutWeight": 60000, "monitoringWindowMilliseconds": 1}]}), "stages[0].rolloutWeight"),
        (json!({"stages": [{"rolloutWeight": 5000, "monitoringWindowMilliseconds": 1}, {"rolloutWeight": 1000, "monitoringWindowMilliseconds": 1}]}), "stages[1].rolloutWeight"),
        (json!({"metrics": [{"metricKey": "nope"}]}), "does not exist"),
        (json!({"metrics": [{"metricKey": "errors", "differenceType": "relative"}]}), "differenceType"),
        (json!({"testVariationId": variation_id(&p, 0)}), "must differ"),
        (json!({"controlVariationId": variation_id(&p, 1)}), "controlVariationId"),
        (json!({"alpha": 0.7}), "alpha"),
        (json!({"rolloutWeight": 1000}), "single-stage form"),
        (json!({"surprise": 1}), "unknown field `surprise`"),
        (json!({"onProgression": {"rollForward": false}}), "rollForward"),
        (json!({"stages": [{"rolloutWeight": 1000, "monitoringWindowMilliseconds": 10 * MIN, "maxDurationMilliseconds": MIN}]}), "stages[0].maxDurationMilliseconds"),
        (json!({"onInsufficientUnits": "wait"}), "unknown variant `wait`"),
    ];
    for (extra, says) in cases {
        let body = start_body(&p, extra.clone());
        let err = run(&mut p, body, NOW).unwrap_err();
        assert!(matches!(&err, Error::BadRequest(m) if m.contains(says)), "{extra}: {err:?}");
        assert!(p.rollouts.is_empty(), "a refused start changes nothing");
    }
    assert_eq!(p.flags["f"].version, 1);
}

/// Exposed units and per-metric moments for (control, test): (units, converters, Σx, Σx²).
fn counts(units: (u64, u64), errors: (u64, u64)) -> Aggregates {
    let mut agg = Aggregates::default();
    agg.exposed.insert(0, units.0);
    agg.exposed.insert(1, units.1);
    let arm = |n: u64, k: u64| {
        let mut m = Moments::default();
        (0..n).for_each(|i| m.add(if i < k { 1.0 } else { 0.0 }, i < k));
        m
    };
    agg.metrics.insert("errors".into(), [(0, arm(units.0, errors.0)), (1, arm(units.1, errors.1))].into());
    agg
}

fn apply(p: &mut Project, r: &MeasuredRollout, check: &Check, now: i64) -> Value {
    let cmd = json!({"op": "rollouts", "project": "p", "env": "prod", "flag": "f", "verb": {"verb": "apply", "id": r.id, "check": check}});
    run(p, cmd, now).unwrap().value
}

#[test]
fn a_broken_variation_is_rolled_back_to_the_rule_it_replaced() {
    let (mut p, r) = started();
    // 1 % → 50 % errors: caught after a handful of units per arm, at the first stage.
    let c = check::check(&r, Some(&counts((20, 20), (0, 10))), NOW + MIN);
    assert!(matches!(&c.decision, Decision::RollBack { metric } if metric == "errors"), "{c:?}");
    let m = &c.metrics[0];
    assert!(m.e_value.unwrap() >= m.e_threshold.unwrap() && m.regressed);
    let out = apply(&mut p, &r, &c, NOW + MIN);
    assert_eq!(out["applied"], true);
    let after = p.rollouts.values().next().unwrap().clone();
    assert_eq!((after.status, after.events.last().unwrap().kind.as_str()), (Status::RolledBack, "rolledBack"));
    assert_eq!(p.flags["f"].spec.environments["prod"].fallthrough, VariationOrRollout::Fixed { variation: 0 });
    assert_eq!(after.events.last().unwrap().flag_versions, Some((2, 3)));
    assert!(after.events.last().unwrap().comment.contains("errors regressed at stage 1"));
    let audit = after.audit_entry("p", "F", after.events.last().unwrap());
    assert_eq!(audit["accesses"][0]["action"], "stopMeasuredRolloutOnFlagFallthrough");
    assert_eq!((audit["previousVersion"].as_u64(), audit["currentVersion"].as_u64()), (Some(2), Some(3)));
    // The same check again (a retried alarm) changes nothing.
    assert_eq!(apply(&mut p, &r, &c, NOW + 2 * MIN)["applied"], false);
    assert_eq!(p.flags["f"].version, 3);
}

#[test]
fn stages_advance_on_duration_and_units_then_complete() {
    let (mut p, r) = started();
    let even = counts((150, 150), (3, 3));
    assert_eq!(check::check(&r, Some(&even), NOW + 5 * MIN).decision, Decision::Continue);
    assert_eq!(check::check(&r, Some(&counts((50, 50), (1, 1))), NOW + 11 * MIN).decision, Decision::Hold(HoldReason::InsufficientUnits));
    assert_eq!(check::check(&r, None, NOW + 11 * MIN).decision, Decision::Hold(HoldReason::DataUnavailable));
    assert_eq!(check::check(&r, Some(&counts((300, 150), (3, 3))), NOW + 11 * MIN).decision, Decision::Hold(HoldReason::Srm));
    let c = check::check(&r, Some(&even), NOW + 11 * MIN);
    assert_eq!(c.decision, Decision::Advance);
    apply(&mut p, &r, &c, NOW + 11 * MIN);
    let r = p.rollouts.values().next().unwrap().clone();
    assert_eq!(r.current_stage_index, 1);
    let VariationOrRollout::Rollout { rollout } = &p.flags["f"].spec.environments["prod"].fallthrough else { panic!() };
    assert_eq!(rollout.variations.iter().map(|s| (s.variation, s.weight)).collect::<Vec<_>>(), [(1, 50000), (0, 50000)]);
    let big = counts((5000, 5000), (50, 50));
    assert_eq!(check::check(&r, Some(&big), NOW + 15 * MIN).decision, Decision::Continue);
    let c = check::check(&r, Some(&big), NOW + 22 * MIN);
    assert_eq!(c.decision, Decision::Complete);
    apply(&mut p, &r, &c, NOW + 22 * MIN);
    let r = p.rollouts.values().next().unwrap();
    assert_eq!(r.status, Status::Completed);
    assert_eq!(p.flags["f"].spec.environments["prod"].fallthrough, VariationOrRollout::Fixed { variation: 1 });
    assert!(p.metrics["errors"].running_experiments.is_empty());
}

/// The project's rollout as it is now (a check is only applied to the revision it was made on).
fn latest(p: &Project) -> MeasuredRollout {
    p.rollouts.values().next().unwrap().clone()
}

#[test]
fn a_stage_short_of_units_stalls_once_and_holds_until_its_units_come() {
    let (mut p, r) = started();
    assert_eq!(r.stages[0].max_duration_milliseconds, 30 * MIN, "3 × its 10 min by default");
    let c = check::check(&r, Some(&counts((5, 5), (0, 0))), NOW + 20 * MIN);
    assert_eq!(c.decision, Decision::Hold(HoldReason::InsufficientUnits));
    apply(&mut p, &r, &c, NOW + 20 * MIN);
    for look in [31, 32, 40] {
        let r = latest(&p);
        let c = check::check(&r, Some(&counts((5, 5), (0, 0))), NOW + look * MIN);
        assert_eq!(c.decision, Decision::Stall);
        apply(&mut p, &r, &c, NOW + look * MIN);
    }
    let r = latest(&p);
    assert_eq!((r.status, r.hold_reason), (Status::Monitoring, Some(HoldReason::InsufficientUnits)));
    let stalled: Vec<_> = r.events.iter().filter(|e| e.kind == "stalled").collect();
    assert_eq!(stalled.len(), 1, "said once per stage: {:?}", r.events);
    assert!(stalled[0].notify && stalled[0].comment.contains("5 control / 5 test of 100 per arm"));
    let c = check::check(&r, Some(&counts((150, 150), (0, 0))), NOW + 41 * MIN);
    assert_eq!(c.decision, Decision::Advance, "a stalled stage still advances when its units come");
}

#[test]
fn on_insufficient_units_rollback_restores_the_rule_at_the_stages_most_duration() {
    let mut p = project();
    let body = start_body(&p, json!({"onInsufficientUnits": "rollback",
        "stages": [{"rolloutWeight": 1000, "monitoringWindowMilliseconds": 10 * MIN, "maxDurationMilliseconds": 15 * MIN}]}));
    ok(&mut p, body);
    let r = latest(&p);
    let c = check::check(&r, Some(&counts((5, 5), (0, 0))), NOW + 14 * MIN);
    assert_eq!(c.decision, Decision::Hold(HoldReason::InsufficientUnits));
    let c = check::check(&r, Some(&counts((5, 5), (0, 0))), NOW + 15 * MIN);
    assert_eq!(c.decision, Decision::Expire);
    assert_eq!(apply(&mut p, &r, &c, NOW + 15 * MIN)["applied"], true);
    let r = latest(&p);
    assert_eq!((r.status, r.end_reason.as_deref()), (Status::RolledBack, Some("insufficient units")));
    assert!(r.events.last().unwrap().comment.contains("did not reach 100 units per arm within 15 min"));
    assert_eq!(p.flags["f"].spec.environments["prod"].fallthrough, VariationOrRollout::Fixed { variation: 0 });
}

#[test]
fn notify_false_keeps_a_transition_off_the_webhooks() {
    let mut p = project();
    let body = start_body(&p, json!({"metrics": [{"metricKey": "errors", "onRegression": {"notify": false}}], "onProgression": {"notify": false}}));
    ok(&mut p, body);
    let r = p.rollouts.values().next().unwrap().clone();
    let c = check::check(&r, Some(&counts((150, 150), (3, 3))), NOW + 11 * MIN);
    apply(&mut p, &r, &c, NOW + 11 * MIN);
    let r = p.rollouts.values().next().unwrap().clone();
    assert_eq!((r.events[1].kind.as_str(), r.events[1].notify), ("stage.advanced", false));
    let c = check::check(&r, Some(&counts((150, 150), (0, 30))), NOW + 12 * MIN);
    apply(&mut p, &r, &c, NOW + 12 * MIN);
    let r = p.rollouts.values().next().unwrap();
    assert_eq!((r.events[2].kind.as_str(), r.events[2].notify), ("rolledBack", false));
    assert!(r.events[0].notify, "the start is sent");
}

#[test]
fn regressions_without_rollback_freeze_until_dismissed() {
    let mut p = project();
    let body = start_body(&p, json!({"metrics": [{"metricKey": "errors", "onRegression": {"rollback": false}}]}));
    ok(&mut p, body);
    let r = p.rollouts.values().next().unwrap().clone();
    let c = check::check(&r, Some(&counts((20, 20), (0, 12))), NOW + MIN);
    assert!(matches!(c.decision, Decision::Regress { .. }));
    apply(&mut p, &r, &c, NOW + MIN);
    let r = p.rollouts.values().next().unwrap().clone();
    assert_eq!(r.status, Status::Regressed);
    assert!(r.events.last().unwrap().notify, "notify defaults to true");
    assert_eq!(p.flags["f"].version, 2, "traffic frozen: the flag is not written");
    let act = |kind: &str| json!({"op": "rollouts", "project": "p", "env": "prod", "flag": "f",
        "verb": {"verb": "act", "id": r.id, "member": "ana", "body": {"instructions": [{"kind": kind, "metricKey": "errors"}]}}});
    ok(&mut p, act("dismissRegression"));
    let r = p.rollouts.values().next().unwrap().clone();
    assert_eq!((r.status, r.metrics[0].dismissed), (Status::Monitoring, true));
    assert_eq!(r.events.last().unwrap().member.as_deref(), Some("ana"));
    // The patch's own comment stands for an instruction without one.
    let pause = json!({"op": "rollouts", "project": "p", "env": "prod", "flag": "f",
        "verb": {"verb": "act", "id": r.id, "member": "ana", "body": {"comment": "on-call says wait", "instructions": [{"kind": "pause"}]}}});
    ok(&mut p, pause);
    assert_eq!(p.rollouts.values().next().unwrap().events.last().unwrap().comment, "on-call says wait");
    let resume = json!({"op": "rollouts", "project": "p", "env": "prod", "flag": "f",
        "verb": {"verb": "act", "id": r.id, "body": {"instructions": [{"kind": "resume"}]}}});
    ok(&mut p, resume);
    let r = p.rollouts.values().next().unwrap().clone();
    let c = check::check(&r, Some(&counts((20, 20), (0, 12))), NOW + 2 * MIN);
    assert_eq!(c.decision, Decision::Continue, "a dismissed regression no longer stops it");
}

#[test]
fn the_layout_tracks_equal_arms_that_never_swap_as_stages_grow() {
    let (p, r) = started();
    let mut flag = p.flags["f"].clone();
    let arm_at = |flag: &crate::flag::Flag, key: &str| {
        let d = flag.evaluate("prod", &json!({"kind": "user", "key": key}));
        (d.variation, d.reason.in_experiment())
    };
    let keys: Vec<String> = (0..20_000).map(|i| format!("user-{i}")).collect();
    let first: Vec<(Option<usize>, bool)> = keys.iter().map(|k| arm_at(&flag, k)).collect();
    let tracked = |v: &[(Option<usize>, bool)], variation| v.iter().filter(|(x, t)| *t && *x == Some(variation)).count();
    let (t, c) = (tracked(&first, 1), tracked(&first, 0));
    assert!((150..=250).contains(&t) && (150..=250).contains(&c), "1 % each: {t} / {c}");
    assert!(first.iter().all(|(v, tracked)| *tracked || *v == Some(0)), "untracked units get the control");
    // At 50 %, every tracked unit of the first stage is still in its arm.
    let mut at_half = r.clone();
    at_half.current_stage_index = 1;
    let config = flag.spec.environments.get_mut("prod").unwrap();
    config.fallthrough = at_half.serves();
    let later: Vec<(Option<usize>, bool)> = keys.iter().map(|k| arm_at(&flag, k)).collect();
    for (a, b) in first.iter().zip(&later) {
        if a.1 {
            assert_eq!(a, b);
        }
    }
    let (t, c) = (tracked(&later, 1), tracked(&later, 0));
    assert!(t.abs_diff(10_000) < 300 && c.abs_diff(10_000) < 300, "{t} / {c}");
}

/// A small deterministic generator (SplitMix64) for the simulations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A rollout with three guardrails (binary errors, count clicks, numeric spend) and one long
/// stage, so that only a regression can end it.
fn three_guardrails() -> MeasuredRollout {
    let mut p = project();
    let body = start_body(&p, json!({"stages": [{"rolloutWeight": 50000, "monitoringWindowMilliseconds": 30 * 24 * 60 * MIN}],
        "metrics": [{"metricKey": "errors"}, {"metricKey": "clicks"}, {"metricKey": "spend"}]}));
    ok(&mut p, body);
    p.rollouts.values().next().unwrap().clone()
}

/// Simulate `looks` checks, `per_look` units per arm arriving between them; per unit: an error
/// with probability `error.{0,1}`, Poisson-ish clicks, a skewed spend. The first look at which
/// the check rolled back, and whether the SRM check ever held.
fn simulate(r: &MeasuredRollout, rng: &mut Rng, looks: usize, per_look: u64, error: (f64, f64)) -> (Option<usize>, bool) {
    let mut agg = Aggregates::default();
    let mut srm = false;
    for look in 0..looks {
        {
            // Randomised 1:1 assignment: each arrival picks its arm by a coin.
            for _ in 0..2 * per_look {
                let arm = u32::from(rng.next() < 0.5);
                let rate = if arm == 0 { error.0 } else { error.1 };
                let e = f64::from(u8::from(rng.next() < rate));
                let clicks = (0..3).filter(|_| rng.next() < 0.1).count() as f64;
                let spend = if rng.next() < 0.2 { 10.0 * (1.0 - rng.next()).ln().abs() } else { 0.0 };
                *agg.exposed.entry(arm).or_default() += 1;
                for (metric, x) in [("errors", e), ("clicks", clicks), ("spend", spend)] {
                    agg.metrics.entry(metric.into()).or_default().entry(arm).or_default().add(x, x > 0.0);
                }
            }
        }
        let c = check::check(r, Some(&agg), NOW + look as i64 * MIN);
        srm |= c.health.srm;
        if matches!(c.decision, Decision::RollBack { .. }) {
            return (Some(look), srm);
        }
    }
    (None, srm)
}

// GUARDED-ROLLOUTS.md §5.11 check 2, scaled to a unit test: A/A rollouts with three guardrails
// looked at every minute; the share rolled back must stay within α = 0.05 (the error budget is
// per rollout, whatever the looks), and SRM holds are rare.
#[test]
fn aa_rollouts_roll_back_at_most_alpha_of_the_time() {
    let r = three_guardrails();
    let mut rng = Rng(7);
    let (runs, looks) = (400, 240);
    let mut rolled_back = 0;
    let mut srm = 0;
    for _ in 0..runs {
        let (back, held) = simulate(&r, &mut rng, looks, 10, (0.02, 0.02));
        rolled_back += usize::from(back.is_some());
        srm += usize::from(held);
    }
    let rate = rolled_back as f64 / runs as f64;
    println!("A/A: {rolled_back} of {runs} rollouts rolled back ({:.2} %) over {looks} looks; SRM held in {srm}", rate * 100.0);
    assert!(rate <= r.alpha, "false rollbacks {rate}");
    assert!(srm <= 2, "SRM holds {srm}");
}

// §5.11 check 3: a variation that breaks 1 % → 50 % of units is caught within a few minutes.
#[test]
fn a_break_is_caught_within_minutes() {
    let r = three_guardrails();
    let mut rng = Rng(11);
    for _ in 0..50 {
        let (back, _) = simulate(&r, &mut rng, 30, 10, (0.01, 0.5));
        assert!(back.is_some_and(|look| look <= 3), "caught at look {back:?}");
    }
}

#[test]
fn the_watchdog_rearms_missing_and_late_alarms_only() {
    assert!(alarm_missing(None, NOW, 60));
    assert!(!alarm_missing(Some(NOW + 30_000), NOW, 60), "set in the future");
    assert!(!alarm_missing(Some(NOW - 90_000), NOW, 60), "ringing late but within two intervals");
    assert!(alarm_missing(Some(NOW - 121_000), NOW, 60));
}

#[test]
fn the_flag_list_filters_by_guarded_rollout_status() {
    let (mut p, _) = started();
    ok(&mut p, create("flags", json!({"key": "other"})));
    let list = |p: &mut Project, filter: &str| -> Result<Vec<String>, Error> {
        let cmd = rest("flags", json!({"verb": "list", "query": [["filter", filter]]}));
        let out = run(p, cmd, NOW)?;
        Ok(out.value["items"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap().to_owned()).collect())
    };
    assert_eq!(list(&mut p, "guardedRollout:monitoring,filterEnv:prod").unwrap(), ["f"]);
    assert_eq!(list(&mut p, "guardedRollout:any,filterEnv:prod").unwrap(), ["f"]);
    assert!(list(&mut p, "guardedRollout:completed,filterEnv:prod").unwrap().is_empty());
    assert!(list(&mut p, "guardedRollout:monitoring,filterEnv:staging").unwrap().is_empty());
    for bad in ["guardedRollout:monitoring", "guardedRollout:nope,filterEnv:prod", "tags:x", "filterEnv:prod"] {
        assert!(matches!(list(&mut p, bad), Err(Error::BadRequest(_))), "{bad}");
    }
}

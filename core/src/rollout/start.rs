//! Starting a guarded rollout: the fields of `updateFallthroughWithMeasuredRolloutV2` and
//! `updateRulesWithMeasuredRolloutV2` (LaunchDarkly's names; unknown fields refused), checked
//! against the flag and the project's metrics, into a [`MeasuredRollout`].

use super::{Guardrail, MeasuredRollout, OnInsufficientUnits, OnRegression, Stage, Status, HALF};
use crate::error::Error;
use crate::experiment::{Iteration, IterationStatus, MetricSnapshot, Treatment};
use crate::flag::{Flag, VariationOrRollout};
use crate::metric::{AnalysisType, Metric};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The default stages: 1, 5, 10, 25 and 50 % for 30 min, 1 h, 2 h, 4 h and 16 h (≈ 24 h).
const DEFAULT_STAGES: [(u32, i64); 5] = [(1_000, 30), (5_000, 60), (10_000, 120), (25_000, 240), (50_000, 960)];
const MINUTE: i64 = 60_000;
const MAX_STAGES: usize = 20;
const MAX_GUARDRAILS: usize = 10;
const MAX_WINDOW_MS: i64 = 90 * 24 * 60 * MINUTE;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartInput {
    pub kind: String,
    #[serde(default)]
    pub rule_id: Option<String>,
    pub test_variation_id: String,
    #[serde(default)]
    pub control_variation_id: Option<String>,
    #[serde(default)]
    pub randomization_unit: Option<String>,
    #[serde(default)]
    pub stages: Option<Vec<StageInput>>,
    /// The single-stage form (LaunchDarkly's first version): one weight, one window.
    #[serde(default)]
    pub rollout_weight: Option<u32>,
    #[serde(default)]
    pub monitoring_window_milliseconds: Option<i64>,
    #[serde(default)]
    pub metrics: Option<Vec<MetricInput>>,
    #[serde(default)]
    pub metric_keys: Option<Vec<String>>,
    #[serde(default)]
    pub on_regression: Option<OnRegressionInput>,
    #[serde(default)]
    pub on_progression: Option<OnProgressionInput>,
    #[serde(default)]
    pub alpha: Option<f64>,
    #[serde(default)]
    pub check_interval_seconds: Option<u32>,
    /// `hold` (the default) or `rollback`: what a stage still short of units at its
    /// `maxDurationMilliseconds` does.
    #[serde(default)]
    pub on_insufficient_units: Option<OnInsufficientUnits>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageInput {
    pub rollout_weight: u32,
    pub monitoring_window_milliseconds: i64,
    #[serde(default)]
    pub min_units_per_arm: Option<u64>,
    #[serde(default)]
    pub max_duration_milliseconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricInput {
    pub metric_key: String,
    #[serde(default)]
    pub regression_threshold: Option<f64>,
    #[serde(default)]
    pub on_regression: Option<OnRegressionInput>,
    #[serde(default)]
    pub difference_type: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnRegressionInput {
    #[serde(default)]
    pub notify: Option<bool>,
    #[serde(default)]
    pub rollback: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnProgressionInput {
    #[serde(default)]
    pub notify: Option<bool>,
    #[serde(default)]
    pub roll_forward: Option<bool>,
}

fn invalid(at: &str, m: impl std::fmt::Display) -> Error {
    Error::invalid(format!("`{at}`: {m}"))
}

/// Where the rollout starts: its project, environment, flag (after the request's other
/// instructions), the instruction's position (for errors), the time and how many rollouts the
/// flag had (for a fresh seed).
pub struct Place<'a> {
    pub project: &'a str,
    pub env: &'a str,
    pub flag: &'a Flag,
    pub at: &'a str,
    pub now: i64,
    pub earlier: usize,
}

/// The rollout an instruction starts; the caller checks the flag has no active rollout or
/// running experiment, and makes the rule serve [`MeasuredRollout::serves`].
pub fn start(input: StartInput, place: &Place, metrics: &BTreeMap<String, Metric>) -> Result<MeasuredRollout, Error> {
    let at = place.at;
    let (control, current) = control_of(&input, place)?;
    let test = variation_index(place.flag, &input.test_variation_id, &format!("{at}.testVariationId"))?;
    if test == control {
        return Err(invalid(&format!("{at}.testVariationId"), "the test variation must differ from the control (the variation the rule serves now)"));
    }
    let unit = input.randomization_unit.clone().unwrap_or_else(|| "user".into());
    if !crate::context::valid_kind(&unit) {
        return Err(invalid(&format!("{at}.randomizationUnit"), "not a valid context kind"));
    }
    let stages = stages(&input, at)?;
    let guardrails = guardrails(&input, at)?;
    let snapshots = snapshots(&guardrails, metrics, &unit, at)?;
    let alpha = input.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(invalid(&format!("{at}.alpha"), "must be greater than 0 and less than 0.5"));
    }
    let interval = input.check_interval_seconds.unwrap_or(60);
    if !(1..=3600).contains(&interval) {
        return Err(invalid(&format!("{at}.checkIntervalSeconds"), "must be from 1 to 3600"));
    }
    if let Some(p) = &input.on_progression {
        if p.roll_forward == Some(false) {
            return Err(invalid(&format!("{at}.onProgression.rollForward"), "false is not supported: a completed rollout serves the test variation to everyone"));
        }
    }
    let seed_text = format!("{}\n{}\n{}\n{}\n{}", place.project, place.env, place.flag.spec.key, place.now, place.earlier);
    let digest = crate::credentials::digest(&seed_text);
    let seed = i64::from_str_radix(&digest[..12], 16).unwrap_or(0);
    let id = crate::flag::rules::rule_id(&format!("measured-rollout\n{seed_text}"));
    let variation_id = |i: usize| place.flag.spec.variations.get(i).map(|v| v.id.clone()).unwrap_or_default();
    let treatment = |name: &str, variation, baseline| Treatment { name: name.into(), variation, baseline, allocation_percent: "50".into() };
    let iteration = Iteration {
        id: 1,
        status: IterationStatus::Running,
        started_at: place.now,
        ended_at: None,
        treatments: vec![treatment("control", control, true), treatment("test", test, false)],
        metrics: snapshots,
        randomization_unit: unit.clone(),
        flag_key: place.flag.spec.key.clone(),
        rule_id: input.rule_id.clone(),
        counter_shards: Some(crate::aggregates::DEFAULT_SHARDS),
        tracked_only: true,
    };
    let mut rollout = MeasuredRollout {
        id,
        flag_key: place.flag.spec.key.clone(),
        environment: place.env.into(),
        rule_id: input.rule_id.clone(),
        status: Status::Monitoring,
        hold_reason: None,
        paused: false,
        seed,
        control_variation: control,
        test_variation: test,
        control_variation_id: variation_id(control),
        test_variation_id: variation_id(test),
        randomization_unit: unit,
        alpha,
        check_interval_seconds: interval,
        notify_progression: input.on_progression.as_ref().and_then(|p| p.notify).unwrap_or(true),
        current_stage_index: 0,
        stages,
        on_insufficient_units: input.on_insufficient_units.unwrap_or_default(),
        metrics: guardrails,
        iteration,
        pre_rollout_rule: current,
        creation_date: place.now,
        ended_at: None,
        end_reason: None,
        events: Vec::new(),
        revision: 0,
    };
    rollout.stages[0].started_at = Some(place.now);
    let first = super::percent(rollout.stages[0].rollout_weight);
    let keys: Vec<&str> = rollout.metrics.iter().map(|g| g.metric_key.as_str()).collect();
    rollout.record(place.now, "started", None, format!("Guarded rollout started at {first} with guardrails {}", keys.join(", ")));
    Ok(rollout)
}

/// The control: the variation the rule serves now (a guarded rollout starts from one variation,
/// which is also what the untracked traffic keeps getting); `controlVariationId` may name it.
fn control_of(input: &StartInput, place: &Place) -> Result<(usize, VariationOrRollout), Error> {
    let at = place.at;
    let config = place.flag.spec.environments.get(place.env).ok_or_else(|| invalid(at, format!("flag `{}` has no configuration in environment `{}`", place.flag.spec.key, place.env)))?;
    let serve = match &input.rule_id {
        None => &config.fallthrough,
        Some(id) => &config.rules.iter().find(|r| &r.id == id).ok_or_else(|| invalid(&format!("{at}.ruleId"), format!("flag `{}` has no rule `{id}` in environment `{}`", place.flag.spec.key, place.env)))?.serve,
    };
    let VariationOrRollout::Fixed { variation } = serve else {
        return Err(invalid(at, "the rule serves a percentage rollout: a guarded rollout starts from a rule serving one variation (its control)"));
    };
    if let Some(id) = &input.control_variation_id {
        let named = variation_index(place.flag, id, &format!("{at}.controlVariationId"))?;
        if named != *variation {
            return Err(invalid(&format!("{at}.controlVariationId"), format!("the rule serves variation {variation}, not `{id}`: the control is what the rule serves now")));
        }
    }
    Ok((*variation, serve.clone()))
}

fn variation_index(flag: &Flag, id: &str, at: &str) -> Result<usize, Error> {
    flag.spec.variations.iter().position(|v| v.id == id).ok_or_else(|| invalid(at, format!("flag `{}` has no variation `{id}`", flag.spec.key)))
}

/// The stages: `stages`, or the single-stage form, or the defaults; weights rising within
/// 1..=50,000 (the comparison needs an equal control: the last monitored stage is at most 50 %).
fn stages(input: &StartInput, at: &str) -> Result<Vec<Stage>, Error> {
    let single = (input.rollout_weight, input.monitoring_window_milliseconds);
    let given: Vec<(u32, i64, Option<u64>, Option<i64>)> = match (&input.stages, single) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return Err(invalid(at, "`rolloutWeight` and `monitoringWindowMilliseconds` are the single-stage form: with `stages`, give them per stage"))
        }
        (Some(list), _) => list.iter().map(|s| (s.rollout_weight, s.monitoring_window_milliseconds, s.min_units_per_arm, s.max_duration_milliseconds)).collect(),
        (None, (Some(w), Some(ms))) => vec![(w, ms, None, None)],
        (None, (Some(_), None) | (None, Some(_))) => return Err(invalid(at, "the single-stage form needs both `rolloutWeight` and `monitoringWindowMilliseconds`")),
        (None, (None, None)) => DEFAULT_STAGES.iter().map(|(w, min)| (*w, min * MINUTE, None, None)).collect(),
    };
    if given.is_empty() || given.len() > MAX_STAGES {
        return Err(invalid(&format!("{at}.stages"), format!("needs 1 to {MAX_STAGES} stages")));
    }
    let mut last = 0;
    given
        .into_iter()
        .enumerate()
        .map(|(i, (weight, window, min_units, max))| {
            let here = format!("{at}.stages[{i}]");
            if weight <= last || weight > HALF {
                return Err(invalid(&format!("{here}.rolloutWeight"), format!("weights rise from stage to stage within 1..={HALF} (thousandths of a percent; the rollout completes by serving the test variation to everyone after the last stage)")));
            }
            if !(0..=MAX_WINDOW_MS).contains(&window) {
                return Err(invalid(&format!("{here}.monitoringWindowMilliseconds"), "must be from 0 to 90 days"));
            }
            let max = max.unwrap_or_else(|| Stage::default_max_duration(window));
            if max < window || max > MAX_WINDOW_MS {
                return Err(invalid(&format!("{here}.maxDurationMilliseconds"), "must be at least the stage's `monitoringWindowMilliseconds` and at most 90 days"));
            }
            last = weight;
            // 100 units per arm for each percent of traffic, at most 5,000.
            let default_units = (u64::from(weight) / 10).clamp(100, 5_000);
            Ok(Stage { rollout_weight: weight, monitoring_window_milliseconds: window, min_units_per_arm: min_units.unwrap_or(default_units), max_duration_milliseconds: max, started_at: None, ended_at: None })
        })
        .collect()
}

/// The guardrails: `metrics`, or `metricKeys` with the top-level `onRegression`.
fn guardrails(input: &StartInput, at: &str) -> Result<Vec<Guardrail>, Error> {
    let top = input.on_regression;
    let on = |o: Option<OnRegressionInput>| {
        let (o, t) = (o.unwrap_or(OnRegressionInput { notify: None, rollback: None }), top);
        OnRegression {
            notify: o.notify.or(t.and_then(|t| t.notify)).unwrap_or(true),
            rollback: o.rollback.or(t.and_then(|t| t.rollback)).unwrap_or(true),
        }
    };
    let list: Vec<Guardrail> = match (&input.metrics, &input.metric_keys) {
        (Some(metrics), keys) => {
            let mut out = Vec::new();
            for (i, m) in metrics.iter().enumerate() {
                let here = format!("{at}.metrics[{i}]");
                if m.difference_type.as_deref().is_some_and(|d| d != "absolute") {
                    return Err(invalid(&format!("{here}.differenceType"), "only `absolute` is supported (the difference in the metric's unit)"));
                }
                let threshold = m.regression_threshold.unwrap_or(0.0);
                if !(threshold.is_finite() && threshold >= 0.0) {
                    return Err(invalid(&format!("{here}.regressionThreshold"), "must be a number ≥ 0 (the tolerated harm, in the metric's unit)"));
                }
                out.push(Guardrail { metric_key: m.metric_key.clone(), regression_threshold: threshold, on_regression: on(m.on_regression), dismissed: false });
            }
            if let Some(keys) = keys {
                let mut a: Vec<&str> = keys.iter().map(String::as_str).collect();
                let mut b: Vec<&str> = out.iter().map(|g| g.metric_key.as_str()).collect();
                a.sort_unstable();
                b.sort_unstable();
                if a != b {
                    return Err(invalid(&format!("{at}.metricKeys"), "must name the same metrics as `metrics`"));
                }
            }
            out
        }
        (None, Some(keys)) => keys.iter().map(|k| Guardrail { metric_key: k.clone(), regression_threshold: 0.0, on_regression: on(None), dismissed: false }).collect(),
        (None, None) => return Err(invalid(at, "`metrics` (or `metricKeys`) needs at least one guardrail metric")),
    };
    if list.is_empty() || list.len() > MAX_GUARDRAILS {
        return Err(invalid(&format!("{at}.metrics"), format!("needs 1 to {MAX_GUARDRAILS} guardrail metrics")));
    }
    for (i, g) in list.iter().enumerate() {
        if list[..i].iter().any(|h| h.metric_key == g.metric_key) {
            return Err(invalid(&format!("{at}.metrics[{i}].metricKey"), format!("`{}` is named twice", g.metric_key)));
        }
    }
    Ok(list)
}

/// The guardrails' metric definitions as counted: they must exist, measure the randomization
/// unit and be averages (LaunchDarkly refuses percentile metrics in guarded rollouts too).
fn snapshots(guardrails: &[Guardrail], metrics: &BTreeMap<String, Metric>, unit: &str, at: &str) -> Result<Vec<MetricSnapshot>, Error> {
    guardrails
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let here = format!("{at}.metrics[{i}].metricKey");
            let m = metrics.get(&g.metric_key).ok_or_else(|| invalid(&here, format!("metric `{}` does not exist", g.metric_key)))?;
            if m.spec.analysis_type == AnalysisType::Percentile {
                return Err(invalid(&here, format!("metric `{}` is a percentile metric: guardrails compare averages", g.metric_key)));
            }
            if !m.spec.randomization_units.iter().any(|u| u == unit) {
                return Err(invalid(&here, format!("metric `{}` does not measure `{unit}` units (its randomizationUnits are {:?})", g.metric_key, m.spec.randomization_units)));
            }
            Ok(MetricSnapshot::of(m, i == 0))
        })
        .collect()
}

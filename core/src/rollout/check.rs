//! One check of a guarded rollout: every guardrail's tests, the health checks, and the decision.
//!
//! Error budget: α over the whole rollout, split equally across its K guardrails (α/K each). A
//! binary or count guardrail with threshold 0 splits its share between the sequential bound on
//! the difference of means (test A) and the exact sign test on converting units (test B, which
//! catches a broken variation after a handful of units, where any CLT interval is still blind);
//! any other guardrail gives its whole share to test A. Both tests are valid at every look, so
//! P(any automatic rollback | no true regression) ≤ α however many checks are made (simulated
//! in `tests.rs`). Order of the decision: missing data holds (never advance on it); a regression
//! rolls back (or freezes, with `onRegression.rollback: false`) whatever the stage's minimums;
//! then the health holds; then pause; then the stage advances when its duration and units are met.

use super::{HoldReason, MeasuredRollout, OnInsufficientUnits};
use crate::aggregates::{Aggregates, Moments};
use crate::experiment::{Measure, MetricSnapshot};
use crate::metric::SuccessCriteria;
use crate::stats::evidence::{ln_sign_evalue, ln_srm_bayes_factor, one_sided_halfwidth};
use crate::stats::frequentist::DEFAULT_TUNING;
use crate::stats::{Difference, Effect, Sample};
use serde::{Deserialize, Serialize};

/// The sample-ratio Bayes factor at which the split is called a mismatch (always-valid).
pub const SRM_BAYES_FACTOR: f64 = 1000.0;
/// Multiple exposures hold the rollout from this share of units, and at least this many units.
pub const MULTIPLE_EXPOSURE_RATE: f64 = 0.01;
pub const MULTIPLE_EXPOSURE_UNITS: u64 = 10;
/// No tracked unit this long into a stage holds the rollout (`noTraffic`).
pub const NO_TRAFFIC_GRACE_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    Continue,
    Hold(HoldReason),
    Advance,
    Complete,
    RollBack { metric: String },
    Regress { metric: String },
    /// Still short of units at the stage's most duration: hold, saying so once.
    Stall,
    /// Still short of units at the stage's most duration, and `onInsufficientUnits: rollback`.
    Expire,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RolloutUnits))]
pub struct Units {
    pub control: u64,
    pub test: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RolloutHealth))]
pub struct Health {
    pub srm_bayes_factor: f64,
    pub srm: bool,
    pub multiple_exposures_rate: f64,
    pub multiple_exposures: bool,
    /// No tracked unit yet, past the grace period.
    pub no_traffic: bool,
    /// The counts could not be read: nothing was decided on them.
    pub data_unavailable: bool,
}

/// One guardrail at one check. The bound is the one-sided sequential bound of the difference
/// (test − control) on the harmful side; `detectableHarm` its half-width: a harm at least that
/// large beyond the threshold would now be caught.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = GuardrailCheck))]
pub struct MetricCheck {
    pub metric_key: String,
    pub n_control: u64,
    pub n_test: u64,
    pub mean_control: f64,
    pub mean_test: f64,
    pub estimate: Option<f64>,
    pub bound: Option<f64>,
    pub threshold: f64,
    pub detectable_harm: Option<f64>,
    /// Test B (binary and count guardrails with threshold 0): its e-value and the e-value that
    /// rolls back.
    pub e_value: Option<f64>,
    pub e_threshold: Option<f64>,
    pub regressed: bool,
    pub dismissed: bool,
}

impl MetricCheck {
    pub fn status(&self) -> &'static str {
        match (self.regressed, self.dismissed, self.estimate.is_some() || self.e_value.is_some()) {
            (true, false, _) => "regressed",
            (true, true, _) => "dismissed",
            (false, _, true) => "ok",
            (false, _, false) => "insufficientData",
        }
    }
}

/// A check: the revision of the rollout it was made on, its figures and its decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub at: i64,
    pub revision: u64,
    pub stage_index: usize,
    pub units: Units,
    pub metrics: Vec<MetricCheck>,
    pub health: Health,
    pub decision: Decision,
}

impl Check {
    /// What a regression decision rests on, in words (the audit entry's comment).
    pub fn explain(&self, metric: &str) -> String {
        let Some(m) = self.metrics.iter().find(|m| m.metric_key == metric) else {
            return format!("{metric} regressed");
        };
        let mut out = format!("{metric} regressed at stage {}: Δ = {}", self.stage_index + 1, num(m.estimate.unwrap_or(m.mean_test - m.mean_control)));
        if let Some(b) = m.bound {
            out += &format!(", one-sided bound {} against threshold {}", num(b), num(m.threshold));
        }
        if let (Some(e), Some(t)) = (m.e_value, m.e_threshold) {
            out += &format!("; exact test E = {} (rolls back at {})", num(e), num(t));
        }
        out + &format!("; units {} control / {} test", m.n_control, m.n_test)
    }
}

fn num(x: f64) -> String {
    format!("{}", (x * 1e6).round() / 1e6)
}

/// Check `r` at `now` on its counts (`None`: they could not be read).
pub fn check(r: &MeasuredRollout, counts: Option<&Aggregates>, now: i64) -> Check {
    let stage_index = r.current_stage_index;
    let Some(agg) = counts else {
        let health = Health { srm_bayes_factor: 1.0, srm: false, multiple_exposures_rate: 0.0, multiple_exposures: false, no_traffic: false, data_unavailable: true };
        let decision = Decision::Hold(HoldReason::DataUnavailable);
        return Check { at: now, revision: r.revision, stage_index, units: Units::default(), metrics: Vec::new(), health, decision };
    };
    let (c, t) = (r.control_variation as u32, r.test_variation as u32);
    let units = Units { control: agg.exposed(c), test: agg.exposed(t) };
    let per_metric_alpha = r.alpha / r.metrics.len().max(1) as f64;
    let metrics: Vec<MetricCheck> = r
        .metrics
        .iter()
        .filter_map(|g| {
            let snapshot = r.iteration.metrics.iter().find(|m| m.key == g.metric_key)?;
            Some(guardrail(snapshot, g, (agg.moments(&g.metric_key, c), agg.moments(&g.metric_key, t)), per_metric_alpha))
        })
        .collect();
    let health = health(r, agg, units, now);
    let decision = decide(r, &metrics, &health, units, now);
    Check { at: now, revision: r.revision, stage_index, units, metrics, health, decision }
}

fn guardrail(m: &MetricSnapshot, g: &super::Guardrail, (control, test): (Moments, Moments), alpha: f64) -> MetricCheck {
    let lower_is_better = m.success_criteria == SuccessCriteria::LowerThanBaseline;
    let exact = !matches!(m.measure, Measure::Numeric { .. }) && g.regression_threshold == 0.0;
    let alpha_a = if exact { alpha / 2.0 } else { alpha };
    // Binary metrics' variance is p(1 − p), as in results (gbstats' proportion statistic).
    let sample = |mo: &Moments| match m.measure {
        Measure::Binary => Sample::proportion(mo.n, mo.converted),
        _ => mo.sample(),
    };
    let (a, b) = (sample(&control), sample(&test));
    let mut out = MetricCheck {
        metric_key: g.metric_key.clone(),
        n_control: control.n,
        n_test: test.n,
        mean_control: a.mean,
        mean_test: b.mean,
        estimate: None,
        bound: None,
        threshold: g.regression_threshold,
        detectable_harm: None,
        e_value: None,
        e_threshold: None,
        regressed: false,
        dismissed: g.dismissed,
    };
    if let Ok(e) = Effect::of(&a, &b, Difference::Absolute) {
        let h = one_sided_halfwidth(&e, alpha_a, DEFAULT_TUNING);
        if h.is_finite() {
            let bound = if lower_is_better { e.estimate - h } else { e.estimate + h };
            out.estimate = Some(e.estimate);
            out.bound = Some(bound);
            out.detectable_harm = Some(h);
            out.regressed |= if lower_is_better { bound > g.regression_threshold } else { bound < -g.regression_threshold };
        }
    }
    if exact {
        let (harm, other) = if lower_is_better { (test.converted, control.converted) } else { (control.converted, test.converted) };
        let ln_e = ln_sign_evalue(harm, other);
        let threshold = 2.0 / alpha;
        out.e_value = Some(ln_e.exp());
        out.e_threshold = Some(threshold);
        out.regressed |= ln_e >= threshold.ln();
    }
    out
}

fn health(r: &MeasuredRollout, agg: &Aggregates, units: Units, now: i64) -> Health {
    let ln_bf = ln_srm_bayes_factor(units.test, units.control);
    let total = units.test + units.control;
    let rate = if total == 0 { 0.0 } else { agg.multi_exposed as f64 / total as f64 };
    let stage_start = r.stage().started_at.unwrap_or(r.creation_date);
    Health {
        srm_bayes_factor: ln_bf.exp(),
        srm: ln_bf >= SRM_BAYES_FACTOR.ln(),
        multiple_exposures_rate: rate,
        multiple_exposures: agg.multi_exposed >= MULTIPLE_EXPOSURE_UNITS && rate >= MULTIPLE_EXPOSURE_RATE,
        no_traffic: total == 0 && now - stage_start >= NO_TRAFFIC_GRACE_MS,
        data_unavailable: false,
    }
}

fn decide(r: &MeasuredRollout, metrics: &[MetricCheck], health: &Health, units: Units, now: i64) -> Decision {
    if let Some(m) = metrics.iter().find(|m| m.regressed && !m.dismissed) {
        let rollback = r.metrics.iter().find(|g| g.metric_key == m.metric_key).is_none_or(|g| g.on_regression.rollback);
        let metric = m.metric_key.clone();
        return if rollback { Decision::RollBack { metric } } else { Decision::Regress { metric } };
    }
    let holds = [
        (health.srm, HoldReason::Srm),
        (health.multiple_exposures, HoldReason::MultipleExposures),
        (health.no_traffic, HoldReason::NoTraffic),
        (r.paused, HoldReason::Paused),
    ];
    if let Some((_, reason)) = holds.iter().find(|(on, _)| *on) {
        return Decision::Hold(*reason);
    }
    let stage = r.stage();
    let elapsed = now - stage.started_at.unwrap_or(r.creation_date);
    if elapsed < stage.monitoring_window_milliseconds {
        return Decision::Continue;
    }
    if units.control.min(units.test) < stage.min_units_per_arm {
        if elapsed < stage.max_duration() {
            return Decision::Hold(HoldReason::InsufficientUnits);
        }
        return match r.on_insufficient_units {
            OnInsufficientUnits::Hold => Decision::Stall,
            OnInsufficientUnits::Rollback => Decision::Expire,
        };
    }
    if r.current_stage_index + 1 >= r.stages.len() {
        Decision::Complete
    } else {
        Decision::Advance
    }
}

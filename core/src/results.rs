//! Experiment results of one iteration, from its merged [`Aggregates`] (and, for percentile
//! metrics, the order statistics read from the counters): per variation the units, mean and
//! variance; per treatment one comparison with the baseline by the analysis in use; the
//! sample-ratio-mismatch check and the other health checks.
//!
//! Every metric of the iteration is analysed at once ([`compute_all`]) so that frequentist and
//! sequential p-values can be corrected across the whole family of treatments × metrics.

use crate::aggregates::Aggregates;
use crate::analysis::{Analysis, AnalysisConfig};
use crate::experiment::{Iteration, IterationStatus, Measure, MetricRef, MetricSnapshot};
use crate::metric::{MetricKind, SuccessCriteria};
use crate::stats::bayesian::{self, Prior, Risk};
use crate::stats::frequentist::{self, Frequentist};
use crate::stats::multiple::Correction;
use crate::stats::srm::{srm, Srm};
use crate::stats::{quantile, Difference, Effect, Interval, Sample, ALPHA};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod health;
pub use health::Health;

/// Order statistics of one percentile metric in one variation, read from the counters at the
/// ranks [`quantile::ranks`] gives for `n`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantileValues {
    pub n: u64,
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// (metric key, variation) → its order statistics.
pub type Quantiles = BTreeMap<(String, u32), QuantileValues>;

/// An iteration's counts once they are final ([`Iteration::counts_final`]): read from its
/// shards once, then kept and read back instead of the shards. Results are computed from it as
/// from live counts, so analysis overrides still apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenCounts {
    pub aggregates: Aggregates,
    /// `Quantiles` as a list (JSON object keys cannot be pairs).
    pub quantiles: Vec<(String, u32, QuantileValues)>,
    /// What the iteration excluded as bots (absent in copies frozen before it was counted).
    #[serde(default)]
    pub excluded: crate::bots::excluded::ExcludedCounts,
}

impl FrozenCounts {
    pub fn new(aggregates: Aggregates, quantiles: &Quantiles, excluded: crate::bots::excluded::ExcludedCounts) -> Self {
        let quantiles = quantiles
            .iter()
            .map(|((metric, variation), q)| (metric.clone(), *variation, *q))
            .collect();
        FrozenCounts {
            aggregates,
            quantiles,
            excluded,
        }
    }

    pub fn into_parts(self) -> (Aggregates, Quantiles, crate::bots::excluded::ExcludedCounts) {
        let quantiles = self
            .quantiles
            .into_iter()
            .map(|(metric, variation, q)| ((metric, variation), q))
            .collect();
        (self.aggregates, quantiles, self.excluded)
    }
}

/// What the results are computed from.
pub struct Inputs<'a> {
    pub iteration: &'a Iteration,
    pub aggregates: &'a Aggregates,
    pub quantiles: &'a Quantiles,
}

/// The analysis in use: the experiment's, with the request's overrides applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub analysis: Analysis,
    pub config: AnalysisConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ArmStatus {
    Ok,
    /// An arm compared has fewer units than `minSampleSize`.
    InsufficientData,
    /// Enough units, but no inference is defined (baseline mean 0, values that do not vary).
    NotComparable,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricInfo {
    pub key: String,
    pub kind: MetricKind,
    pub measure: Measure,
    pub success_criteria: SuccessCriteria,
    pub primary: bool,
    pub percentile: Option<u8>,
}

/// A family of p-values corrected together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Family {
    pub method: Correction,
    /// Comparisons (treatments × metrics with a p-value) in the family.
    pub comparisons: usize,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricResults {
    pub iteration_id: u32,
    pub status: IterationStatus,
    pub started_at: i64,
    #[serialize_always]
    pub ended_at: Option<i64>,
    pub analysis: Analysis,
    pub difference: Difference,
    /// `ok` when every treatment has a comparison; else the first reason one has not.
    pub analysis_status: ArmStatus,
    pub min_sample_size: u64,
    pub alpha: f64,
    pub bayesian_prior: Option<Prior>,
    pub sequential_tuning_parameter: Option<f64>,
    pub metric: MetricInfo,
    pub variations: Vec<VariationResult>,
    #[serialize_always]
    pub sample_ratio_mismatch: Option<Srm>,
    pub health: Health,
    pub multiple_comparisons: Option<Family>,
}

/// The results answer: one metric's results in one iteration, with the experiment's identity.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentResults<'a> {
    pub experiment_key: &'a str,
    pub flag_key: &'a str,
    /// The targeting rule (`_id`) the iteration ran on; null: the flag's fallthrough.
    pub rule_id: Option<&'a str>,
    /// The experiment's metrics (the results are of one of them, `metric`).
    pub metrics: &'a [MetricRef],
    /// The iteration's counter shards (null: counted by the earlier single-object layout).
    pub counter_shards: Option<u32>,
    /// The iteration stopped more than a day (its late-event window) and 15 minutes ago: its
    /// counts can no longer change, and are read from a frozen copy instead of its shards.
    pub counts_final: bool,
    /// What the iteration excluded as bots (`core::bots`): units and events, by reason and by
    /// the variation they were served.
    pub excluded: crate::bots::excluded::ExcludedSummary,
    #[serde(flatten)]
    pub results: &'a MetricResults,
}

/// A percentile of one arm with its 95% interval (order statistics).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PercentileValue {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inference {
    pub relative_difference: Option<Interval>,
    pub absolute_difference: Option<Interval>,
    /// Does the estimate go the way the metric's success criteria call better?
    pub better: Option<bool>,
    pub p_value: Option<f64>,
    pub adjusted_p_value: Option<f64>,
    /// p < α, which is exactly "the interval excludes 0".
    pub significant: Option<bool>,
    pub significant_after_adjustment: Option<bool>,
    pub probability_to_beat_baseline: Option<f64>,
    pub risk: Option<Risk>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VariationResult {
    pub variation: u32,
    pub name: String,
    pub baseline: bool,
    pub allocation_percent: String,
    pub exposed_units: u64,
    /// Units with a value for the metric.
    pub units: u64,
    pub mean: f64,
    /// The variance the analysis uses: p(1 − p) for conversion rates, else the sample variance.
    pub variance: f64,
    pub conversions: Option<u64>,
    pub conversion_rate: Option<f64>,
    pub percentile: Option<PercentileValue>,
    pub status: ArmStatus,
    pub status_reason: Option<String>,
    pub probability_to_be_best: Option<f64>,
    #[serde(flatten)]
    pub inference: Inference,
}

/// One arm's data: what is shown, and the sample the analysis compares.
struct Arm {
    variation: u32,
    display: Sample,
    converted: u64,
    analysed: Option<Sample>,
    percentile: Option<PercentileValue>,
}

fn arms(inputs: &Inputs<'_>, metric: &MetricSnapshot) -> Vec<Arm> {
    inputs
        .iteration
        .treatments
        .iter()
        .map(|t| {
            let variation = t.variation as u32;
            let moments = inputs.aggregates.moments(&metric.key, variation);
            let display = match metric.measure {
                Measure::Binary => Sample::proportion(moments.n, moments.converted),
                _ => moments.sample(),
            };
            let (analysed, percentile) = match metric.percentile {
                None => (Some(display), None),
                Some(p) => percentile_arm(inputs.quantiles.get(&(metric.key.clone(), variation)), p),
            };
            Arm {
                variation,
                display,
                converted: moments.converted,
                analysed,
                percentile,
            }
        })
        .collect()
}

fn percentile_arm(q: Option<&QuantileValues>, p: u8) -> (Option<Sample>, Option<PercentileValue>) {
    let Some(q) = q.filter(|q| q.n > 0) else {
        return (None, None);
    };
    let shown = PercentileValue {
        value: q.estimate,
        lower: q.lower,
        upper: q.upper,
    };
    let nu = f64::from(p) / 100.0;
    (quantile::sample(q.n, nu, q.estimate, q.lower, q.upper), Some(shown))
}

/// The comparison of one treatment with the baseline by the analysis in use.
fn compare(base: &Arm, arm: &Arm, s: &Settings, higher: bool) -> Result<Inference, (ArmStatus, String)> {
    let min = s.config.min_sample_size;
    let short = |a: &Arm| a.analysed.map_or(a.display.n, |x| x.n) < min;
    if short(base) || short(arm) {
        let reason = format!("fewer than {min} units in this variation or the baseline (minSampleSize)");
        return Err((ArmStatus::InsufficientData, reason));
    }
    let not_comparable = |m: &str| (ArmStatus::NotComparable, m.to_string());
    let (Some(b), Some(a)) = (base.analysed, arm.analysed) else {
        return Err(not_comparable("this percentile's interval is not defined yet (too few units, or no spread around it)"));
    };
    let effect = Effect::of(&b, &a, s.config.difference).map_err(|e| not_comparable(e.message()))?;
    let mut out = Inference::default();
    let interval = match s.analysis {
        Analysis::Bayesian => {
            let post = bayesian::posterior(&effect, s.config.bayesian_prior, higher);
            out.probability_to_beat_baseline = Some(post.chance_to_win);
            out.risk = Some(post.risk);
            post.interval
        }
        Analysis::Frequentist | Analysis::Sequential => {
            let Frequentist { interval, p_value } = match s.analysis {
                Analysis::Sequential => frequentist::sequential(&effect, s.config.sequential_tuning_parameter),
                _ => frequentist::t_test(&effect),
            };
            out.p_value = Some(p_value);
            out.significant = Some(p_value < ALPHA);
            interval
        }
    };
    out.better = Some(if higher { interval.estimate > 0.0 } else { interval.estimate < 0.0 });
    match s.config.difference {
        Difference::Relative => out.relative_difference = Some(interval),
        Difference::Absolute => out.absolute_difference = Some(interval),
    }
    Ok(out)
}

/// P(best) of every arm (Bayesian only, every row `ok` — which includes every arm having
/// `minSampleSize` units): for two arms the chance to win of the one comparison (so the two
/// figures agree); for more, Gaussian posteriors of the arms' means.
fn prob_best(arms: &[Arm], rows: &[VariationResult], higher: bool) -> Option<Vec<f64>> {
    if rows.iter().any(|r| r.status != ArmStatus::Ok) {
        return None;
    }
    if let [a, b] = rows {
        let treat = if a.baseline { b } else { a };
        let p = treat.inference.probability_to_beat_baseline?;
        return Some(if a.baseline { vec![1.0 - p, p] } else { vec![p, 1.0 - p] });
    }
    let samples: Option<Vec<Sample>> = arms.iter().map(|a| a.analysed).collect();
    bayesian::prob_best(&samples?, higher)
}

fn variation_rows(inputs: &Inputs<'_>, metric: &MetricSnapshot, s: &Settings) -> Vec<VariationResult> {
    let it = inputs.iteration;
    let higher = metric.success_criteria == SuccessCriteria::HigherThanBaseline;
    let arms = arms(inputs, metric);
    let base_index = it.treatments.iter().position(|t| t.baseline).unwrap_or(0);
    let mut rows: Vec<VariationResult> = arms
        .iter()
        .zip(&it.treatments)
        .enumerate()
        .map(|(i, (arm, t))| {
            let compared = match arms.get(base_index) {
                Some(base) if i != base_index => compare(base, arm, s, higher),
                _ if arm.display.n < s.config.min_sample_size => Err((
                    ArmStatus::InsufficientData,
                    format!("fewer than {} units (minSampleSize)", s.config.min_sample_size),
                )),
                _ => Ok(Inference::default()),
            };
            let (status, status_reason, inference) = match compared {
                Ok(inf) => (ArmStatus::Ok, None, inf),
                Err((status, reason)) => (status, Some(reason), Inference::default()),
            };
            let binary = metric.measure == Measure::Binary;
            VariationResult {
                variation: arm.variation,
                name: t.name.clone(),
                baseline: i == base_index,
                allocation_percent: t.allocation_percent.clone(),
                exposed_units: inputs.aggregates.exposed(arm.variation),
                units: arm.display.n,
                mean: arm.display.mean,
                variance: arm.display.variance,
                conversions: binary.then_some(arm.converted),
                conversion_rate: binary.then_some(arm.display.mean),
                percentile: arm.percentile,
                status,
                status_reason,
                probability_to_be_best: None,
                inference,
            }
        })
        .collect();
    if s.analysis == Analysis::Bayesian {
        if let Some(best) = prob_best(&arms, &rows, higher) {
            for (row, p) in rows.iter_mut().zip(best) {
                row.probability_to_be_best = Some(p);
            }
        }
    }
    rows
}

fn metric_results(
    inputs: &Inputs<'_>,
    metric: &MetricSnapshot,
    s: &Settings,
    srm: Option<&Srm>,
    health: &Health,
) -> MetricResults {
    let it = inputs.iteration;
    let variations = variation_rows(inputs, metric, s);
    let analysis_status = variations
        .iter()
        .map(|v| v.status)
        .find(|st| *st != ArmStatus::Ok)
        .unwrap_or(ArmStatus::Ok);
    MetricResults {
        iteration_id: it.id,
        status: it.status,
        started_at: it.started_at,
        ended_at: it.ended_at,
        analysis: s.analysis,
        difference: s.config.difference,
        analysis_status,
        min_sample_size: s.config.min_sample_size,
        alpha: ALPHA,
        bayesian_prior: s.config.bayesian_prior.filter(|_| s.analysis == Analysis::Bayesian),
        sequential_tuning_parameter: (s.analysis == Analysis::Sequential)
            .then_some(s.config.sequential_tuning_parameter),
        metric: MetricInfo {
            key: metric.key.clone(),
            kind: metric.kind,
            measure: metric.measure,
            success_criteria: metric.success_criteria,
            primary: metric.primary,
            percentile: metric.percentile,
        },
        variations,
        sample_ratio_mismatch: srm.cloned(),
        health: health.clone(),
        multiple_comparisons: None,
    }
}

fn srm_check(inputs: &Inputs<'_>) -> Option<Srm> {
    let treatments = &inputs.iteration.treatments;
    let observed: Vec<u64> = treatments
        .iter()
        .map(|t| inputs.aggregates.exposed(t.variation as u32))
        .collect();
    let weights: Vec<f64> = treatments
        .iter()
        .map(|t| t.allocation_percent.trim().parse().unwrap_or(0.0))
        .collect();
    srm(&observed, &weights)
}

/// Results of every metric of the iteration, in its metric order, with frequentist and
/// sequential p-values corrected across all treatments × metrics.
pub fn compute_all(inputs: &Inputs<'_>, s: &Settings) -> Vec<MetricResults> {
    // Per iteration, not per metric: the same for every metric's results.
    let srm = srm_check(inputs);
    let health = Health::of(inputs, srm.as_ref());
    let mut all: Vec<MetricResults> = inputs
        .iteration
        .metrics
        .iter()
        .map(|m| metric_results(inputs, m, s, srm.as_ref(), &health))
        .collect();
    if s.analysis != Analysis::Bayesian {
        correct(&mut all, s.config.multiple_comparisons);
    }
    all
}

/// Fill `adjustedPValue` and `significantAfterAdjustment` over every comparison with a p-value.
fn correct(all: &mut [MetricResults], method: Correction) {
    let raw: Vec<f64> = all
        .iter()
        .flat_map(|r| r.variations.iter().filter_map(|v| v.inference.p_value))
        .collect();
    let mut adjusted = method.adjust(&raw).into_iter();
    for r in all.iter_mut() {
        for v in r.variations.iter_mut().filter(|v| v.inference.p_value.is_some()) {
            let p = adjusted.next();
            v.inference.adjusted_p_value = p;
            v.inference.significant_after_adjustment = p.map(|p| p < ALPHA);
        }
        r.multiple_comparisons = Some(Family {
            method,
            comparisons: raw.len(),
        });
    }
}

#[cfg(test)]
mod tests;

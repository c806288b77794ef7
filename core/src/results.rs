//! Experiment results for one metric of one iteration, from its merged [`Aggregates`]: per variation, units, conversions or mean
//! and variance, the relative difference to the baseline with a 95% interval, the Bayesian
//! probabilities to beat the baseline and to be best, a frequentist two-sided p-value, and the
//! sample-ratio-mismatch check of exposed units against the allocation.

use crate::aggregates::Aggregates;
use crate::experiment::{Iteration, Measure, MetricSnapshot};
use crate::metric::SuccessCriteria;
use crate::stats::{self, Posterior, Sample};
use serde_json::{json, Value};

/// Compute the results from the iteration's merged aggregates.
pub fn compute(it: &Iteration, metric: &MetricSnapshot, agg: &Aggregates) -> Value {
    let higher_is_better = metric.success_criteria == SuccessCriteria::HigherThanBaseline;
    let binary = metric.measure == Measure::Binary;

    struct Arm {
        variation: u32,
        sample: Sample,
        converted: u64,
        posterior: Option<Posterior>,
    }
    let arms: Vec<Arm> = it
        .treatments
        .iter()
        .map(|t| {
            let variation = t.variation as u32;
            let moments = agg.moments(&metric.key, variation);
            let sample = moments.sample();
            let converted = moments.converted;
            let posterior = if binary {
                Some(Posterior::binary(sample.n, converted))
            } else {
                Posterior::of_mean(&sample)
            };
            Arm {
                variation,
                sample,
                converted,
                posterior,
            }
        })
        .collect();
    let baseline_index = it.treatments.iter().position(|t| t.baseline).unwrap_or(0);
    let Some(baseline) = arms.get(baseline_index) else {
        // No treatments (validation prevents it): nothing to compare.
        return json!({"iterationId": it.id, "status": it.status, "variations": []});
    };

    let posteriors: Option<Vec<Posterior>> = arms.iter().map(|a| a.posterior).collect();
    let best = posteriors
        .as_ref()
        .map(|p| stats::prob_best(p, higher_is_better));

    let variations: Vec<Value> = arms
        .iter()
        .zip(&it.treatments)
        .enumerate()
        .map(|(i, (arm, t))| {
            let is_baseline = i == baseline_index;
            let mut out = json!({
                "variation": arm.variation,
                "name": t.name,
                "baseline": is_baseline,
                "allocationPercent": t.allocation_percent,
                "exposedUnits": agg.exposed(arm.variation),
                "units": arm.sample.n,
                "mean": arm.sample.mean,
                "variance": arm.sample.variance,
                "probabilityToBeBest": best.as_ref().map(|b| b[i]),
            });
            if binary {
                out["conversions"] = json!(arm.converted);
                out["conversionRate"] = json!(arm.sample.mean);
            }
            if let Some(p) = arm.posterior {
                let (lower, upper) = p.interval95();
                out["credibleInterval"] = json!({"lower": lower, "upper": upper});
                out["posterior"] = json!(p);
            }
            if !is_baseline {
                let rel = stats::relative_difference(&arm.sample, &baseline.sample);
                let p_value = if binary {
                    stats::two_proportion_p_value(
                        baseline.converted,
                        baseline.sample.n,
                        arm.converted,
                        arm.sample.n,
                    )
                } else {
                    stats::welch_p_value(&baseline.sample, &arm.sample)
                };
                let beats = match (arm.posterior, baseline.posterior) {
                    (Some(a), Some(b)) => Some(stats::prob_beats(&a, &b, higher_is_better)),
                    _ => None,
                };
                out["relativeDifference"] = json!(rel);
                out["pValue"] = json!(p_value);
                out["probabilityToBeatBaseline"] = json!(beats);
                out["better"] = json!(rel.map(|r| if higher_is_better {
                    r.estimate > 0.0
                } else {
                    r.estimate < 0.0
                }));
                out["significant"] = json!(p_value.map(|p| p < 0.05));
            }
            out
        })
        .collect();

    let observed: Vec<u64> = arms.iter().map(|a| agg.exposed(a.variation)).collect();
    let weights: Vec<f64> = it
        .treatments
        .iter()
        .map(|t| t.allocation_percent.trim().parse().unwrap_or(0.0))
        .collect();
    json!({
        "iterationId": it.id,
        "status": it.status,
        "startedAt": it.started_at,
        "endedAt": it.ended_at,
        "metric": {
            "key": metric.key,
            "kind": metric.kind,
            "measure": metric.measure,
            "successCriteria": metric.success_criteria,
            "primary": metric.primary,
        },
        "variations": variations,
        "sampleRatioMismatch": stats::srm(&observed, &weights),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::Exposure;
    use crate::experiment::{Experiment, UnitLedger};
    use crate::metric::{Metric, MetricSpec};

    #[test]
    fn binary_results_from_ledgers() {
        let mut e = Experiment::from_json(
            &json!({"key":"e","flagKey":"f","metrics":[{"key":"m"}],
            "treatments":[{"name":"A","variation":0,"baseline":true,"allocationPercent":"50"},
                          {"name":"B","variation":1,"baseline":false,"allocationPercent":"50"}]}),
            "p",
            2,
            0,
        )
        .unwrap();
        let m = Metric::create(
            "p",
            MetricSpec::from_json(&json!({"key":"m","kind":"custom","eventKey":"buy"})).unwrap(),
            0,
            None,
        );
        let it = e.start(&[m], 0).unwrap().clone();
        // 1000 units per arm; 120 vs 150 converted (the SciPy reference case).
        let mut ledgers = Vec::new();
        for arm in 0..2u32 {
            for i in 0..1000 {
                let mut l = UnitLedger::default();
                l.expose(Exposure {
                    at: 10,
                    variation: arm,
                });
                if i < [120, 150][arm as usize] {
                    l.convert("m", 20, 0.0);
                    l.convert("m", 30, 0.0); // a second conversion does not count twice
                }
                ledgers.push(l);
            }
        }
        let r = compute(&it, &it.metrics[0], &Aggregates::from_ledgers(&it.metrics, &ledgers));
        let v = &r["variations"];
        assert_eq!(v[0]["conversions"], 120);
        assert_eq!(v[1]["conversions"], 150);
        assert_eq!(v[1]["units"], 1000);
        assert!((v[1]["relativeDifference"]["estimate"].as_f64().unwrap() - 0.25).abs() < 1e-12);
        assert!((v[1]["pValue"].as_f64().unwrap() - 0.049640386865).abs() < 1e-9);
        assert!((v[1]["probabilityToBeatBaseline"].as_f64().unwrap() - 0.9750678368).abs() < 1e-6);
        assert_eq!(v[1]["better"], true);
        assert_eq!(r["sampleRatioMismatch"]["mismatch"], false);
        assert_eq!(r["sampleRatioMismatch"]["pValue"], 1.0);
    }
}

use crate::resource::Spec;
use super::*;
use crate::attribution::Exposure;
use crate::experiment::{Experiment, UnitLedger};
use crate::metric::{Metric, MetricSpec};
use crate::stats::reference::close;
use serde_json::{json, Value};

fn iteration(metrics: &[Value], arms: usize) -> Iteration {
    let share = format!("{}", 100.0 / arms as f64);
    let treatments: Vec<Value> = (0..arms)
        .map(|i| json!({"name": format!("V{i}"), "variation": i, "baseline": i == 0, "allocationPercent": share}))
        .collect();
    let refs: Vec<Value> = metrics.iter().map(|m| json!({"key": m["key"]})).collect();
    let mut e = Experiment::from_json(
        &json!({"key":"e","flagKey":"f","metrics": refs, "treatments": treatments}),
        "p",
        arms,
        0,
    )
    .unwrap();
    let defs: Vec<Metric> = metrics
        .iter()
        .map(|m| Metric::create("p", MetricSpec::from_json(m).unwrap(), 0, None))
        .collect();
    e.start(&defs, 0).unwrap().clone()
}

/// Units per arm, of which the first `converted[arm]` convert on metric `m` (twice: counts once).
fn ledgers(units: &[u32], converted: &[u32], metric: &str) -> Vec<UnitLedger> {
    let mut out = Vec::new();
    for (arm, (&n, &c)) in units.iter().zip(converted).enumerate() {
        for i in 0..n {
            let mut l = UnitLedger::default();
            l.expose(Exposure { at: 10, variation: arm as u32 });
            if i < c {
                l.convert(metric, 20, 0.0);
                l.convert(metric, 30, 0.0);
            }
            out.push(l);
        }
    }
    out
}

fn run(it: &Iteration, ledgers: &[UnitLedger], analysis: Analysis, config: AnalysisConfig) -> Vec<Value> {
    let agg = Aggregates::from_ledgers(&it.metrics, ledgers);
    let inputs = Inputs { iteration: it, aggregates: &agg, quantiles: &Quantiles::new() };
    compute_all(&inputs, &Settings { analysis, config })
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

fn buy() -> Value {
    json!({"key":"m","kind":"custom","eventKey":"buy"})
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

// The case, against gbstats 0.8.0 (scripts/gbstats_reference.py, binary_100_130): the
// verdict follows the interval of the same statistic, relative or absolute.
#[test]
fn verdict_and_interval_agree() {
    let it = iteration(&[buy()], 2);
    let l = ledgers(&[1000, 1000], &[100, 130], "m");
    let rel = &run(&it, &l, Analysis::Frequentist, AnalysisConfig::default())[0];
    let v = &rel["variations"][1];
    assert_eq!(v["conversions"], 130);
    close(f(&v["relativeDifference"]["lower"]), -0.019375372265978963, 1e-9);
    close(f(&v["pValue"]), 0.06559733260262468, 1e-9);
    assert_eq!(v["significant"], false);
    assert_eq!(v["better"], true);
    assert!(v.get("probabilityToBeatBaseline").is_none(), "{v}");
    let abs_config = AnalysisConfig { difference: Difference::Absolute, ..Default::default() };
    let abs = &run(&it, &l, Analysis::Frequentist, abs_config)[0];
    let v = &abs["variations"][1];
    close(f(&v["absoluteDifference"]["lower"]), 0.0020507842909493826, 1e-9);
    close(f(&v["pValue"]), 0.03541149025749646, 1e-9);
    assert_eq!(v["significant"], true);
    assert!(v.get("relativeDifference").is_none());
    let bayes = &run(&it, &l, Analysis::Bayesian, AnalysisConfig::default())[0];
    let v = &bayes["variations"];
    close(f(&v[1]["probabilityToBeatBaseline"]), 0.9672763417294536, 1e-9);
    close(f(&v[1]["probabilityToBeBest"]), f(&v[1]["probabilityToBeatBaseline"]), 0.0);
    close(f(&v[0]["probabilityToBeBest"]), 1.0 - 0.9672763417294536, 1e-9);
    close(f(&v[1]["risk"]["treatment"]), 0.002089064858592275, 1e-9);
    assert!(v[1].get("pValue").is_none());
    let seq = &run(&it, &l, Analysis::Sequential, AnalysisConfig::default())[0];
    close(f(&seq["variations"][1]["pValue"]), 0.5622208729310174, 1e-9);
    assert_eq!(seq["sequentialTuningParameter"], 5000.0);
    assert_eq!(seq["analysis"], "sequential");
}

#[test]
fn below_the_minimum_sample_no_inference() {
    let it = iteration(&[buy()], 3);
    // Variation 2 has no units at all, variation 1 only 40.
    let l = ledgers(&[500, 40, 0], &[50, 10, 0], "m");
    let r = &run(&it, &l, Analysis::Bayesian, AnalysisConfig::default())[0];
    assert_eq!(r["analysisStatus"], "insufficient_data");
    for v in r["variations"].as_array().unwrap()[1..].iter() {
        assert_eq!(v["status"], "insufficient_data", "{v}");
        assert!(v["statusReason"].as_str().unwrap().contains("fewer than 100 units"));
        for field in ["probabilityToBeatBaseline", "probabilityToBeBest", "relativeDifference", "risk"] {
            assert!(v.get(field).is_none(), "{field} in {v}");
        }
    }
    assert_eq!(r["variations"][1]["units"], 40);
    close(f(&r["variations"][1]["mean"]), 0.25, 1e-12);
    let lower = AnalysisConfig { min_sample_size: 10, ..Default::default() };
    let r = &run(&it, &l, Analysis::Frequentist, lower)[0];
    assert_eq!(r["variations"][1]["status"], "ok");
    assert_eq!(r["variations"][2]["status"], "insufficient_data");
}

#[test]
fn zero_baseline_is_not_comparable_relative_but_is_absolute() {
    let it = iteration(&[buy()], 2);
    let l = ledgers(&[200, 200], &[0, 20], "m");
    let r = &run(&it, &l, Analysis::Frequentist, AnalysisConfig::default())[0];
    assert_eq!(r["variations"][1]["status"], "not_comparable");
    assert!(r["variations"][1]["statusReason"].as_str().unwrap().contains("baseline's mean is 0"));
}

// Two metrics × one treatment; Holm over p-values p₁ < p₂: 2p₁ and max(2p₁, p₂).
#[test]
fn p_values_corrected_across_metrics() {
    let it = iteration(&[buy(), json!({"key":"n","kind":"custom","eventKey":"sign-up"})], 2);
    let mut l = ledgers(&[1000, 1000], &[100, 130], "m");
    for (i, unit) in l.iter_mut().enumerate() {
        if i % 1000 < [100, 110][i / 1000] {
            unit.convert("n", 20, 0.0);
        }
    }
    let all = run(&it, &l, Analysis::Frequentist, AnalysisConfig::default());
    let p: Vec<f64> = all.iter().map(|r| f(&r["variations"][1]["pValue"])).collect();
    assert!(p[0] < p[1]);
    close(f(&all[0]["variations"][1]["adjustedPValue"]), (2.0 * p[0]).min(1.0), 1e-12);
    close(f(&all[1]["variations"][1]["adjustedPValue"]), (2.0 * p[0]).max(p[1]).min(1.0), 1e-12);
    assert_eq!(all[0]["multipleComparisons"], json!({"method":"holm-bonferroni","comparisons":2}));
    let bh = AnalysisConfig { multiple_comparisons: Correction::BenjaminiHochberg, ..Default::default() };
    let all = run(&it, &l, Analysis::Sequential, bh);
    assert_eq!(all[1]["multipleComparisons"]["method"], "benjamini-hochberg");
    assert!(all[0]["variations"][0].get("adjustedPValue").is_none());
}

#[test]
fn health_checks() {
    let it = iteration(&[buy(), json!({"key":"never","kind":"custom","eventKey":"nothing"})], 2);
    let mut l = ledgers(&[300, 300], &[30, 30], "m");
    // Three units also saw the other variation later; two units converted without exposure.
    for unit in l.iter_mut().take(3) {
        unit.expose(Exposure { at: 15, variation: 1 });
    }
    for _ in 0..2 {
        let mut u = UnitLedger::default();
        u.convert("m", 20, 0.0);
        l.push(u);
    }
    let r = &run(&it, &l, Analysis::Bayesian, AnalysisConfig::default())[0];
    let h = &r["health"];
    assert_eq!(h["multipleExposures"]["units"], 3);
    close(f(&h["multipleExposures"]["share"]), 3.0 / 600.0, 1e-12);
    assert_eq!(h["unexposedConversions"], 2);
    assert_eq!(h["metricsWithoutEvents"], json!(["never"]));
    assert_eq!(h["sampleRatioMismatch"], false);
    assert_eq!(h["warnings"].as_array().unwrap().len(), 3, "{h}");
    // Multi-exposed units still count in their first variation.
    assert_eq!(r["variations"][0]["exposedUnits"], 300);
}

#[test]
fn percentile_metric_uses_order_statistics() {
    let metric = json!({"key":"lat","kind":"custom","eventKey":"latency","isNumeric":true,
        "analysisType":"percentile","percentileValue":90});
    let it = iteration(&[metric], 2);
    assert_eq!(it.metrics[0].percentile, Some(90));
    let mut quantiles = Quantiles::new();
    quantiles.insert(("lat".into(), 0), QuantileValues { n: 1000, estimate: 12.5, lower: 11.9, upper: 13.4 });
    quantiles.insert(("lat".into(), 1), QuantileValues { n: 1100, estimate: 13.7, lower: 13.0, upper: 14.6 });
    let agg = Aggregates::default();
    let inputs = Inputs { iteration: &it, aggregates: &agg, quantiles: &quantiles };
    let r = compute_all(&inputs, &Settings { analysis: Analysis::Frequentist, config: AnalysisConfig::default() });
    let v = serde_json::to_value(&r[0].variations).unwrap();
    assert_eq!(v[1]["percentile"], json!({"value": 13.7, "lower": 13.0, "upper": 14.6}));
    // gbstats 0.8.0 QuantileStatistic + TwoSidedTTest ("quantile" in scripts/gbstats_reference.py).
    close(f(&v[1]["relativeDifference"]["estimate"]), 0.096, 1e-12);
    close(f(&v[1]["pValue"]), 0.040346978002935074, 1e-9);
    assert_eq!(r[0].metric.percentile, Some(90));
}

//! How an experiment's results are analysed: the analysis (`bayesian`, `frequentist`,
//! `sequential`) and its options, chosen per experiment (`analysis`, `analysisConfig` on create
//! or through the `updateAnalysis` instruction) and overridable per results request
//! (`?analysis=`, `?difference=`). Stored with the experiment, not the iteration: it changes how
//! counts are read, never what is counted.

use crate::stats::bayesian::Prior;
use crate::stats::frequentist::DEFAULT_TUNING;
use crate::stats::multiple::Correction;
use crate::stats::Difference;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Analysis {
    /// Posterior of the effect: chance to win, credible interval, risk, P(best).
    #[default]
    Bayesian,
    /// Fixed-horizon two-sided t-test: valid when read once, at the planned sample size.
    Frequentist,
    /// Always-valid intervals and p-values: valid however often results are watched.
    Sequential,
}

/// Default minimum units per arm before inferential results are shown.
pub const DEFAULT_MIN_SAMPLE: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalysisConfig {
    /// `relative` (default) or `absolute` difference from the baseline.
    #[serde(default)]
    pub difference: Difference,
    /// Units each compared arm needs before intervals, p-values and probabilities are shown.
    #[serde(default = "default_min_sample")]
    pub min_sample_size: u64,
    /// The sequential test's τ: the total sample size its intervals are tuned for.
    #[serde(default = "default_tuning")]
    pub sequential_tuning_parameter: f64,
    /// Correction of frequentist and sequential p-values across treatments × metrics.
    #[serde(default)]
    pub multiple_comparisons: Correction,
    /// A proper Gaussian prior on the relative effect; absent: flat (improper) prior.
    #[serde(default)]
    pub bayesian_prior: Option<Prior>,
}

fn default_min_sample() -> u64 {
    DEFAULT_MIN_SAMPLE
}

fn default_tuning() -> f64 {
    DEFAULT_TUNING
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            difference: Difference::default(),
            min_sample_size: DEFAULT_MIN_SAMPLE,
            sequential_tuning_parameter: DEFAULT_TUNING,
            multiple_comparisons: Correction::default(),
            bayesian_prior: None,
        }
    }
}

impl AnalysisConfig {
    /// Parse and check an `analysisConfig` JSON value; errors name the field.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        AnalysisConfig::default().with_json(v)
    }

    /// These options with those `v` sets changed (an `updateAnalysis` instruction).
    pub fn with_json(self, v: &Value) -> Result<Self, String> {
        let obj = v.as_object().ok_or("`analysisConfig` must be an object")?;
        let mut c = self;
        for (k, v) in obj {
            let bad = |what: &str| format!("`analysisConfig.{k}` must be {what}");
            match k.as_str() {
                "difference" => c.difference = parse(v).map_err(|_| bad("`relative` or `absolute`"))?,
                "minSampleSize" => {
                    c.min_sample_size = v
                        .as_u64()
                        .filter(|n| *n <= 1_000_000_000)
                        .ok_or_else(|| bad("an integer from 0 to 1000000000"))?
                }
                "sequentialTuningParameter" => {
                    c.sequential_tuning_parameter = v
                        .as_f64()
                        .filter(|t| (1.0..=1e12).contains(t))
                        .ok_or_else(|| bad("a number from 1 to 1e12"))?
                }
                "multipleComparisons" => {
                    c.multiple_comparisons = parse(v)
                        .map_err(|_| bad("`holm-bonferroni` or `benjamini-hochberg`"))?
                }
                "bayesianPrior" => {
                    c.bayesian_prior = parse::<Option<Prior>>(v)
                        .ok()
                        .filter(|p| p.is_none_or(|p| p.mean.is_finite() && p.variance > 0.0 && p.variance.is_finite()))
                        .ok_or_else(|| bad("null or {\"mean\": number, \"variance\": number > 0} (a prior on the relative effect)"))?
                }
                _ => return Err(format!("`analysisConfig.{k}` is not an option (options: difference, minSampleSize, sequentialTuningParameter, multipleComparisons, bayesianPrior)")),
            }
        }
        Ok(c)
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(v.clone())
}

/// Parse an `analysis` JSON value.
pub fn analysis_from_json(v: &Value) -> Result<Analysis, String> {
    serde_json::from_value(v.clone())
        .map_err(|_| "`analysis` must be `bayesian`, `frequentist` or `sequential`".to_string())
}

/// The query of `GET .../experiments/{key}/results`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResultsQuery {
    /// Metric key; default: the iteration's primary metric.
    pub metric: Option<String>,
    /// Iteration number; default: the latest.
    pub iteration: Option<u32>,
    /// Override the experiment's analysis.
    pub analysis: Option<Analysis>,
    /// Override the experiment's difference type.
    pub difference: Option<Difference>,
}

impl ResultsQuery {
    pub fn parse(query: &str) -> Result<Self, crate::Error> {
        crate::query::parse(query, "metric, iteration, analysis=bayesian|frequentist|sequential, difference=relative|absolute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_defaults_and_refusals() {
        let c = AnalysisConfig::from_json(&json!({})).unwrap();
        assert_eq!(c, AnalysisConfig::default());
        let c = AnalysisConfig::from_json(&json!({"difference":"absolute","minSampleSize":50,
            "multipleComparisons":"benjamini-hochberg","bayesianPrior":{"mean":0,"variance":0.09}}))
        .unwrap();
        assert_eq!(c.difference, Difference::Absolute);
        assert_eq!(c.multiple_comparisons, Correction::BenjaminiHochberg);
        for (bad, says) in [
            (json!({"minSampleSize": -1}), "`analysisConfig.minSampleSize` must be an integer"),
            (json!({"difference": "ratio"}), "`analysisConfig.difference` must be `relative` or `absolute`"),
            (json!({"alpha": 0.1}), "`analysisConfig.alpha` is not an option"),
            (json!([]), "`analysisConfig` must be an object"),
            (json!({"sequentialTuningParameter": 0}), "sequentialTuningParameter"),
            (json!({"bayesianPrior": {"mean": 0, "variance": 0}}), "bayesianPrior"),
        ] {
            let e = AnalysisConfig::from_json(&bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!(analysis_from_json(&json!("sequential")), Ok(Analysis::Sequential));
        assert!(analysis_from_json(&json!("magic")).is_err());
    }

    #[test]
    fn results_query() {
        let q = ResultsQuery::parse("metric=m&iteration=2&analysis=sequential&difference=absolute").unwrap();
        assert_eq!(q.metric.as_deref(), Some("m"));
        assert_eq!(q.iteration, Some(2));
        assert_eq!(q.analysis, Some(Analysis::Sequential));
        assert_eq!(q.difference, Some(Difference::Absolute));
        assert_eq!(ResultsQuery::parse("").unwrap(), ResultsQuery::default());
        assert!(ResultsQuery::parse("iteration=x").unwrap_err().message().contains("bad query"));
        assert!(ResultsQuery::parse("analysis=magic").is_err());
        assert!(ResultsQuery::parse("color=red").unwrap_err().message().contains("unknown field `color`"));
    }
}

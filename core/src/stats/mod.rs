//! Statistics for experiment results, after GrowthBook's `gbstats` 0.8.0 (the reference the unit
//! tests compare with). One *effect* per comparison — the relative or absolute difference of the
//! treatment's mean from the baseline's, with its delta-method variance — feeds every analysis:
//! the frequentist t-test ([`frequentist::t_test`]), the always-valid sequential test
//! ([`frequentist::sequential`]) and the Bayesian posterior of the effect
//! ([`bayesian::posterior`]). Estimate, interval and verdict therefore always agree. Formulas and
//! sources are in the README ("Statistics").

pub mod bayesian;
mod dist;
pub mod evidence;
pub mod frequentist;
pub mod multiple;
pub mod quantile;
pub mod selection;
pub mod srm;

pub use dist::{beta_reg, chi_square_sf, ln_beta, normal_cdf, normal_pdf, normal_ppf, t_ppf_upper, t_two_sided_p};

use serde::{Deserialize, Serialize};

/// x > 0, and false for NaN (the checks below must refuse NaN inputs).
pub(crate) fn positive(x: f64) -> bool {
    x > 0.0
}

/// Significance level of every interval and test: 95% intervals, verdict at p < 0.05.
pub const ALPHA: f64 = 0.05;

/// One arm's per-unit values: units, mean, and the variance gbstats uses (sample variance with
/// n − 1 for means; p(1 − p) for proportions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub n: u64,
    pub mean: f64,
    pub variance: f64,
}

impl Sample {
    /// A proportion: `x` of `n` units converted (gbstats' `ProportionStatistic`).
    pub fn proportion(n: u64, x: u64) -> Sample {
        let mean = if n == 0 { 0.0 } else { x as f64 / n as f64 };
        Sample {
            n,
            mean,
            variance: mean * (1.0 - mean),
        }
    }

    /// Squared standard error of the mean.
    pub fn se2(&self) -> f64 {
        self.variance / self.n as f64
    }
}

/// How a treatment is compared with the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Difference {
    /// (treatment − baseline) / baseline.
    #[default]
    Relative,
    /// treatment − baseline.
    Absolute,
}

/// Why a comparison has no inferential result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoEffect {
    /// The baseline's mean is 0: a relative difference is undefined.
    BaselineZero,
    /// An arm's values do not vary (or it has fewer than two units).
    ZeroVariance,
}

impl NoEffect {
    pub fn message(self) -> &'static str {
        match self {
            NoEffect::BaselineZero => {
                "the baseline's mean is 0, so a relative difference is undefined; use ?difference=absolute"
            }
            NoEffect::ZeroVariance => "an arm's values do not vary yet",
        }
    }
}

/// The data's estimate of the effect and its variance (delta method for the relative effect),
/// as gbstats' `frequentist_diff` / `frequentist_variance`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    pub difference: Difference,
    pub estimate: f64,
    pub variance: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub dof: f64,
    /// Units in both arms.
    pub units: u64,
    /// The baseline's mean (to rescale priors between relative and absolute).
    pub baseline_mean: f64,
}

impl Effect {
    pub fn of(baseline: &Sample, treatment: &Sample, difference: Difference) -> Result<Effect, NoEffect> {
        let (a, b) = (baseline, treatment);
        if difference == Difference::Relative && a.mean == 0.0 {
            return Err(NoEffect::BaselineZero);
        }
        if a.n < 2 || b.n < 2 || !positive(a.variance) || !positive(b.variance) {
            return Err(NoEffect::ZeroVariance);
        }
        let (estimate, variance) = match difference {
            Difference::Relative => (
                (b.mean - a.mean) / a.mean,
                b.se2() / (a.mean * a.mean) + a.variance * b.mean * b.mean / (a.mean.powi(4) * a.n as f64),
            ),
            Difference::Absolute => (b.mean - a.mean, b.se2() + a.se2()),
        };
        let dof = (b.se2() + a.se2()).powi(2)
            / (b.se2().powi(2) / (b.n - 1) as f64 + a.se2().powi(2) / (a.n - 1) as f64);
        if !(estimate.is_finite() && variance.is_finite() && variance > 0.0) {
            return Err(NoEffect::ZeroVariance);
        }
        Ok(Effect {
            difference,
            estimate,
            variance,
            dof,
            units: a.n + b.n,
            baseline_mean: a.mean,
        })
    }

    pub fn sd(&self) -> f64 {
        self.variance.sqrt()
    }
}

/// An estimate with a two-sided 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Interval {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    /// Does the interval exclude 0?
    pub fn excludes_zero(&self) -> bool {
        self.lower > 0.0 || self.upper < 0.0
    }
}

#[cfg(test)]
pub(crate) mod reference {
    //! Reference values from gbstats 0.8.0, printed by `scripts/gbstats_reference.py`
    //! (`python3 -m venv /tmp/gb && /tmp/gb/bin/pip install gbstats==0.8.0 &&
    //! /tmp/gb/bin/python scripts/gbstats_reference.py`). Cases are named as in the script.
    use super::Sample;

    pub fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    /// gbstats' `SampleMeanStatistic(n, sum, sum_squares)`.
    pub fn mean_stat(n: u64, sum: f64, sum_sq: f64) -> Sample {
        let nf = n as f64;
        Sample {
            n,
            mean: sum / nf,
            variance: (sum_sq - sum * sum / nf) / (nf - 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::close;
    use super::*;

    #[test]
    fn effects_and_refusals() {
        let (a, b) = (Sample::proportion(1000, 100), Sample::proportion(1000, 130));
        let e = Effect::of(&a, &b, Difference::Relative).unwrap();
        close(e.estimate, 0.3, 1e-12);
        let abs = Effect::of(&a, &b, Difference::Absolute).unwrap();
        close(abs.estimate, 0.03, 1e-12);
        close(abs.variance, 0.09 / 1000.0 + 0.1131 / 1000.0, 1e-15);
        let zero = Sample::proportion(1000, 0);
        assert_eq!(Effect::of(&zero, &b, Difference::Relative), Err(NoEffect::BaselineZero));
        assert_eq!(Effect::of(&zero, &b, Difference::Absolute), Err(NoEffect::ZeroVariance));
        assert_eq!(
            Effect::of(&Sample::proportion(1, 1), &b, Difference::Absolute),
            Err(NoEffect::ZeroVariance)
        );
        assert_eq!(Sample::proportion(0, 0).mean, 0.0);
    }
}

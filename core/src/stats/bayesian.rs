//! The Bayesian analysis of an [`Effect`], as gbstats' `EffectBayesianABTest`: a Gaussian
//! posterior of the effect itself (flat improper prior by default, or a proper Gaussian prior),
//! from which the chance to win, the 95% credible interval and the risk follow. P(best) for more
//! than two arms compares Gaussian posteriors of the arms' means.

use super::{dist, positive, Difference, Effect, Interval, Sample, ALPHA};
use serde::{Deserialize, Serialize};

/// A proper Gaussian prior on the *relative* effect (gbstats' `GaussianPrior`, prior type
/// "relative"); rescaled by the baseline mean for absolute differences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prior {
    pub mean: f64,
    pub variance: f64,
}

/// Expected loss of shipping each arm, in the effect's unit (gbstats' `risk`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Risk {
    pub baseline: f64,
    pub treatment: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bayesian {
    /// Posterior mean of the effect with its 95% credible interval.
    pub interval: Interval,
    /// Posterior standard deviation of the effect.
    pub sd: f64,
    /// P(the treatment is better than the baseline).
    pub chance_to_win: f64,
    pub risk: Risk,
}

/// The posterior of the effect. `higher_is_better = false` is gbstats' `inverse`.
pub fn posterior(e: &Effect, prior: Option<Prior>, higher_is_better: bool) -> Bayesian {
    let prior = prior.map(|p| match e.difference {
        Difference::Relative => p,
        Difference::Absolute => Prior {
            mean: p.mean * e.baseline_mean.abs(),
            variance: p.variance * e.baseline_mean * e.baseline_mean,
        },
    });
    let (mean, precision) = match prior {
        Some(p) if p.variance > 0.0 => {
            let precision = 1.0 / e.variance + 1.0 / p.variance;
            ((e.estimate / e.variance + p.mean / p.variance) / precision, precision)
        }
        _ => (e.estimate, 1.0 / e.variance),
    };
    let sd = (1.0 / precision).sqrt();
    let z = dist::normal_ppf(1.0 - ALPHA / 2.0);
    let p_positive = dist::normal_cdf(mean / sd);
    let (gain, loss) = risks(mean, sd);
    Bayesian {
        interval: Interval {
            estimate: mean,
            lower: mean - z * sd,
            upper: mean + z * sd,
        },
        sd,
        chance_to_win: if higher_is_better { p_positive } else { 1.0 - p_positive },
        risk: if higher_is_better {
            Risk { baseline: gain, treatment: loss }
        } else {
            Risk { baseline: loss, treatment: gain }
        },
    }
}

/// For an effect ~ N(μ, σ²): E[max(effect, 0)] and E[max(−effect, 0)], the expected loss of
/// keeping the baseline and of shipping the treatment when higher is better (gbstats' `get_risk`,
/// its truncated-normal means in closed form).
fn risks(mu: f64, sigma: f64) -> (f64, f64) {
    let b = -mu / sigma;
    let (cdf, pdf) = (dist::normal_cdf(b), dist::normal_pdf(b));
    let gain = mu * (1.0 - cdf) + sigma * pdf;
    let loss = sigma * pdf - mu * cdf;
    (gain.max(0.0), loss.max(0.0))
}

/// P(each arm has the best mean), from Gaussian posteriors N(mean, variance / n) of the arms'
/// means under a flat prior: ∫ φᵢ(x) Πⱼ≠ᵢ Φⱼ(x) dx by Simpson's rule (for "lower is better",
/// 1 − Φⱼ). Arms with fewer than two units make the whole answer `None`.
pub fn prob_best(arms: &[Sample], higher_is_better: bool) -> Option<Vec<f64>> {
    let posts: Vec<(f64, f64)> = arms
        .iter()
        .map(|s| (s.n >= 2).then(|| (s.mean, s.se2().sqrt().max(1e-12))))
        .collect::<Option<_>>()?;
    let lo = posts.iter().map(|(m, s)| m - 12.0 * s).fold(f64::INFINITY, f64::min);
    let hi = posts.iter().map(|(m, s)| m + 12.0 * s).fold(f64::NEG_INFINITY, f64::max);
    let raw: Vec<f64> = (0..posts.len())
        .map(|i| {
            let density = |x: f64| {
                let (m, s) = posts[i];
                let others: f64 = posts
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (mj, sj))| {
                        let c = dist::normal_cdf((x - mj) / sj);
                        if higher_is_better { c } else { 1.0 - c }
                    })
                    .product();
                dist::normal_pdf((x - m) / s) / s * others
            };
            simpson(density, lo, hi, 4000)
        })
        .collect();
    let total: f64 = raw.iter().sum();
    (total > 0.0).then(|| raw.iter().map(|p| (p / total).clamp(0.0, 1.0)).collect())
}

/// Simpson's rule over [lo, hi] with `n` (even) intervals.
fn simpson(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> f64 {
    if !positive(hi - lo) {
        return 0.0;
    }
    let h = (hi - lo) / n as f64;
    let inner: f64 = (1..n)
        .map(|i| if i % 2 == 1 { 4.0 } else { 2.0 } * f(lo + i as f64 * h))
        .sum();
    (f(lo) + f(hi) + inner) * h / 3.0
}

#[cfg(test)]
mod tests {
    use super::super::reference::{close, mean_stat};
    use super::*;

    fn check(b: Bayesian, expected: f64, ci: [f64; 2], ctw: f64, risk: [f64; 2]) {
        close(b.interval.estimate, expected, 1e-12);
        close(b.interval.lower, ci[0], 1e-9);
        close(b.interval.upper, ci[1], 1e-9);
        close(b.chance_to_win, ctw, 1e-9);
        close(b.risk.baseline, risk[0], 1e-9);
        close(b.risk.treatment, risk[1], 1e-9);
    }

    fn effect(a: Sample, b: Sample, d: Difference) -> Effect {
        Effect::of(&a, &b, d).unwrap()
    }

    // gbstats 0.8.0, scripts/gbstats_reference.py, cases binary_100_130 and mean_metric.
    #[test]
    fn flat_prior_matches_gbstats() {
        let (a, b) = (Sample::proportion(1000, 100), Sample::proportion(1000, 130));
        check(
            posterior(&effect(a, b, Difference::Relative), None, true),
            0.3,
            [-0.019179397713587232, 0.6191793977135871],
            0.9672763417294536,
            [0.30208906485859227, 0.002089064858592275],
        );
        check(
            posterior(&effect(a, b, Difference::Absolute), None, true),
            0.03,
            [0.0020679344393763587, 0.057932065560623636],
            0.9823573398747536,
            [0.030090899520195405, 9.08995201954058e-05],
        );
        let (a, b) = (mean_stat(120, 1224.0, 13620.0), mean_stat(130, 1430.0, 17230.0));
        check(
            posterior(&effect(a, b, Difference::Absolute), None, true),
            0.8000000000000007,
            [-0.005593448039164839, 1.605593448039166],
            0.9741939706743659,
            [0.8040246067461834, 0.004024606746182714],
        );
    }

    // Case binary_prior_inverse: prior N(0, 0.09) on the relative effect, lower is better.
    #[test]
    fn proper_prior_and_lower_is_better_match_gbstats() {
        let (a, b) = (Sample::proportion(1000, 100), Sample::proportion(1000, 130));
        let prior = Some(Prior { mean: 0.0, variance: 0.09 });
        check(
            posterior(&effect(a, b, Difference::Relative), prior, false),
            0.2317198764160659,
            [-0.048794980420210465, 0.5122347332523423],
            0.05272015741121627,
            [0.003180023234719617, 0.2348998996507855],
        );
        check(
            posterior(&effect(a, b, Difference::Absolute), prior, false),
            0.024476475387544192,
            [-0.0007535022247166616, 0.04970645299980504],
            0.028622924288958407,
            [0.00014177169114996444, 0.024618247078694155],
        );
    }

    // Independent check of P(best): for two arms it is Φ((m₁ − m₀) / √(se₀² + se₁²)).
    #[test]
    fn prob_best_two_arms_is_closed_form() {
        let (a, b) = (mean_stat(120, 1224.0, 13620.0), mean_stat(130, 1430.0, 17230.0));
        let p = prob_best(&[a, b], true).unwrap();
        let z = (b.mean - a.mean) / (a.se2() + b.se2()).sqrt();
        close(p[1], dist::normal_cdf(z), 1e-7);
        close(p[0] + p[1], 1.0, 1e-12);
        let low = prob_best(&[a, b], false).unwrap();
        close(low[1], 1.0 - dist::normal_cdf(z), 1e-7);
        assert_eq!(prob_best(&[a, Sample::proportion(1, 1)], true), None);
    }

    #[test]
    fn prob_best_three_arms_sums_to_one_and_orders() {
        let arms = [
            Sample::proportion(2005, 220),
            Sample::proportion(2010, 241),
            Sample::proportion(1985, 262),
        ];
        let p = prob_best(&arms, true).unwrap();
        close(p.iter().sum::<f64>(), 1.0, 1e-12);
        // SciPy quad of the same integral ("prob_best_three_arms" in scripts/gbstats_reference.py).
        let want = [0.00887864387407963, 0.12228448624978783, 0.8688368698761326];
        for (got, want) in p.iter().zip(want) {
            close(*got, want, 1e-7);
        }
    }
}

//! Statistics for experiment results. Deterministic (no sampling): special functions by series
//! and continued fractions, posterior probabilities by numerical integration. Formulas are in the
//! README; unit tests compare against values computed independently with SciPy.

use serde::Serialize;

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// ln Γ(x), Lanczos approximation (g = 7, n = 9), x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized lower incomplete gamma P(a, x).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x < a + 1.0 {
        // Series.
        let mut sum = 1.0 / a;
        let mut term = sum;
        let mut ap = a;
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (sum.ln() - x + a * x.ln() - ln_gamma(a)).exp()
    } else {
        1.0 - gamma_q_cf(a, x)
    }
}

/// Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else if x < a + 1.0 {
        1.0 - gamma_p(a, x)
    } else {
        gamma_q_cf(a, x)
    }
}

/// One step of the modified Lentz algorithm for a continued fraction b0 + a1/(b1 + a2/(b2 + …)):
/// updates `c` and `d` with term (a, b) and returns the factor to multiply the estimate by.
fn lentz(a: f64, b: f64, c: &mut f64, d: &mut f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    *d = 1.0 / guard(b + a * *d);
    *c = guard(b + a / *c);
    *d * *c
}

// Continued fraction for Q(a, x).
fn gamma_q_cf(a: f64, x: f64) -> f64 {
    let b0 = x + 1.0 - a;
    let mut c = 1.0 / 1e-300;
    let mut d = 1.0 / b0;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        let del = lentz(an, b0 + 2.0 * i as f64, &mut c, &mut d);
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x + a * x.ln() - ln_gamma(a)).exp() * h
}

/// Standard normal CDF Φ(x), through erfc(x) = Q(1/2, x²).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let erfc_abs = gamma_q(0.5, z * z);
    if z >= 0.0 {
        1.0 - 0.5 * erfc_abs
    } else {
        0.5 * erfc_abs
    }
}

pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Regularized incomplete beta I_x(a, b).
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

// Continued fraction for the incomplete beta.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    // First term (Numerical Recipes' betacf): c = 1, d = 1 / (1 − (a+b)x/(a+1)).
    let first = 1.0 - qab * x / qap;
    let mut c = 1.0;
    let mut d = 1.0 / if first.abs() < 1e-300 { 1e-300 } else { first };
    let mut h = d;
    for m in 1..10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        h *= lentz(
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            1.0,
            &mut c,
            &mut d,
        );
        let del = lentz(
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            1.0,
            &mut c,
            &mut d,
        );
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// Two-sided p-value of Student's t with `df` degrees of freedom.
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    beta_inc(df / 2.0, 0.5, df / (df + t * t))
}

/// Chi-square survival function P(X ≥ x) with `df` degrees of freedom.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, x / 2.0)
}

/// Per-variation sample of per-unit values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub n: u64,
    pub mean: f64,
    /// Sample variance (n − 1 denominator); 0 for n < 2.
    pub variance: f64,
}

impl Sample {
    /// Exact two-pass mean and variance.
    pub fn of(values: &[f64]) -> Sample {
        let n = values.len();
        if n == 0 {
            return Sample {
                n: 0,
                mean: 0.0,
                variance: 0.0,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let variance = if n < 2 {
            0.0
        } else {
            values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64
        };
        Sample {
            n: n as u64,
            mean,
            variance,
        }
    }

    fn se2(&self) -> f64 {
        self.variance / self.n as f64
    }
}

/// Welch's two-sided t-test of equal means.
pub fn welch_p_value(a: &Sample, b: &Sample) -> Option<f64> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let (va, vb) = (a.se2(), b.se2());
    let se2 = va + vb;
    if se2 <= 0.0 {
        return None;
    }
    let t = (b.mean - a.mean) / se2.sqrt();
    let df = se2 * se2 / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    Some(t_two_sided_p(t, df))
}

/// Pooled two-proportion z-test, two-sided.
pub fn two_proportion_p_value(x0: u64, n0: u64, x1: u64, n1: u64) -> Option<f64> {
    if n0 == 0 || n1 == 0 {
        return None;
    }
    let p = (x0 + x1) as f64 / (n0 + n1) as f64;
    let se = (p * (1.0 - p) * (1.0 / n0 as f64 + 1.0 / n1 as f64)).sqrt();
    if se <= 0.0 {
        return None;
    }
    let z = (x1 as f64 / n1 as f64 - x0 as f64 / n0 as f64) / se;
    Some(2.0 * (1.0 - normal_cdf(z.abs())))
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Relative difference of means (treatment / baseline − 1) with a 95% interval (delta method).
pub fn relative_difference(treatment: &Sample, baseline: &Sample) -> Option<Interval> {
    if treatment.n == 0 || baseline.n == 0 || baseline.mean == 0.0 {
        return None;
    }
    let (m1, m0) = (treatment.mean, baseline.mean);
    let estimate = m1 / m0 - 1.0;
    let var = treatment.se2() / (m0 * m0) + m1 * m1 * baseline.se2() / (m0 * m0 * m0 * m0);
    let half = Z95 * var.sqrt();
    Some(Interval {
        estimate,
        lower: estimate - half,
        upper: estimate + half,
    })
}

/// A posterior distribution of a variation's mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Posterior {
    /// Conversion rate with a uniform Beta(1, 1) prior.
    Beta { alpha: f64, beta: f64 },
    /// Mean with a flat prior: N(sample mean, variance / n).
    Normal { mean: f64, sd: f64 },
}

impl Posterior {
    pub fn binary(n: u64, converted: u64) -> Posterior {
        Posterior::Beta {
            alpha: 1.0 + converted as f64,
            beta: 1.0 + (n - converted.min(n)) as f64,
        }
    }

    pub fn of_mean(s: &Sample) -> Option<Posterior> {
        (s.n >= 2).then(|| Posterior::Normal {
            mean: s.mean,
            sd: s.se2().sqrt().max(1e-12),
        })
    }

    pub fn mean(&self) -> f64 {
        match *self {
            Posterior::Beta { alpha, beta } => alpha / (alpha + beta),
            Posterior::Normal { mean, .. } => mean,
        }
    }

    pub fn sd(&self) -> f64 {
        match *self {
            Posterior::Beta { alpha, beta } => {
                let s = alpha + beta;
                (alpha * beta / (s * s * (s + 1.0))).sqrt()
            }
            Posterior::Normal { sd, .. } => sd,
        }
    }

    pub fn pdf(&self, x: f64) -> f64 {
        match *self {
            Posterior::Beta { alpha, beta } => {
                if x <= 0.0 || x >= 1.0 {
                    return 0.0;
                }
                ((alpha - 1.0) * x.ln() + (beta - 1.0) * (1.0 - x).ln() + ln_gamma(alpha + beta)
                    - ln_gamma(alpha)
                    - ln_gamma(beta))
                .exp()
            }
            Posterior::Normal { mean, sd } => normal_pdf((x - mean) / sd) / sd,
        }
    }

    pub fn cdf(&self, x: f64) -> f64 {
        match *self {
            Posterior::Beta { alpha, beta } => beta_inc(alpha, beta, x),
            Posterior::Normal { mean, sd } => normal_cdf((x - mean) / sd),
        }
    }

    /// A 95% credible interval (normal approximation; clamped to [0, 1] for a rate).
    pub fn interval95(&self) -> (f64, f64) {
        let (lo, hi) = (self.mean() - Z95 * self.sd(), self.mean() + Z95 * self.sd());
        match self {
            Posterior::Beta { .. } => (lo.max(0.0), hi.min(1.0)),
            Posterior::Normal { .. } => (lo, hi),
        }
    }

    /// A range holding all but a negligible part of the mass.
    fn support(&self) -> (f64, f64) {
        let (m, s) = (self.mean(), self.sd());
        match self {
            Posterior::Beta { .. } => ((m - 12.0 * s).max(0.0), (m + 12.0 * s).min(1.0)),
            Posterior::Normal { .. } => (m - 12.0 * s, m + 12.0 * s),
        }
    }
}

/// Simpson's rule over [lo, hi] with `n` (even) intervals.
fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> f64 {
    if hi <= lo {
        return 0.0;
    }
    let h = (hi - lo) / n as f64;
    let mut sum = f(lo) + f(hi);
    for i in 1..n {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(lo + i as f64 * h);
    }
    sum * h / 3.0
}

const STEPS: usize = 4000;

/// For each posterior, the probability that its mean is the best: the highest when
/// `higher_is_better`, else the lowest.
pub fn prob_best(posteriors: &[Posterior], higher_is_better: bool) -> Vec<f64> {
    let (lo, hi) = posteriors
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            let (a, b) = p.support();
            (lo.min(a), hi.max(b))
        });
    let raw: Vec<f64> = (0..posteriors.len())
        .map(|i| {
            integrate(
                |x| {
                    let others: f64 = posteriors
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, p)| {
                            if higher_is_better {
                                p.cdf(x)
                            } else {
                                1.0 - p.cdf(x)
                            }
                        })
                        .product();
                    posteriors[i].pdf(x) * others
                },
                lo,
                hi,
                STEPS,
            )
        })
        .collect();
    // Numerical error leaves the total a hair off 1; normalise.
    let total: f64 = raw.iter().sum();
    raw.iter()
        .map(|p| {
            if total > 0.0 {
                (p / total).clamp(0.0, 1.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// P(treatment better than baseline).
pub fn prob_beats(treatment: &Posterior, baseline: &Posterior, higher_is_better: bool) -> f64 {
    prob_best(&[*treatment, *baseline], higher_is_better)[0]
}

/// Sample-ratio-mismatch check: chi-square goodness of fit of observed units against the
/// configured allocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Srm {
    pub chi_square: f64,
    pub p_value: f64,
    pub expected: Vec<f64>,
    pub observed: Vec<u64>,
    /// p < 0.001.
    pub mismatch: bool,
}

pub const SRM_THRESHOLD: f64 = 0.001;

pub fn srm(observed: &[u64], weights: &[f64]) -> Option<Srm> {
    let n: u64 = observed.iter().sum();
    let total_w: f64 = weights.iter().sum();
    if observed.len() < 2 || observed.len() != weights.len() || n == 0 || total_w <= 0.0 {
        return None;
    }
    let expected: Vec<f64> = weights.iter().map(|w| n as f64 * w / total_w).collect();
    let chi_square: f64 = observed
        .iter()
        .zip(&expected)
        .map(|(&o, &e)| {
            if e > 0.0 {
                (o as f64 - e).powi(2) / e
            } else {
                0.0
            }
        })
        .sum();
    let p_value = chi_square_sf(chi_square, (observed.len() - 1) as f64);
    Some(Srm {
        chi_square,
        p_value,
        expected,
        observed: observed.to_vec(),
        mismatch: p_value < SRM_THRESHOLD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    // Reference values: SciPy 1.x (norm.cdf, t.sf, betainc, chi2.sf, ttest_ind_from_stats,
    // chisquare, and quad integration of Beta densities).
    #[test]
    fn special_functions_match_scipy() {
        close(normal_cdf(1.2345), 0.891491676637, 1e-10);
        close(normal_cdf(-1.2345), 1.0 - 0.891491676637, 1e-10);
        close(t_two_sided_p(2.1, 7.5), 0.071237071458, 1e-9);
        close(beta_inc(2.5, 3.5, 0.4), 0.486904191526, 1e-10);
        close(chi_square_sf(7.3, 2.0), 0.025991128779, 1e-10);
        close(chi_square_sf(12.5, 3.0), 0.005852662593, 1e-10);
        close(ln_gamma(5.0), 24f64.ln(), 1e-12);
        close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-12);
    }

    #[test]
    fn welch_matches_scipy() {
        let a = Sample {
            n: 120,
            mean: 10.2,
            variance: 3.1 * 3.1,
        };
        let b = Sample {
            n: 130,
            mean: 11.0,
            variance: 3.4 * 3.4,
        };
        close(welch_p_value(&a, &b).unwrap(), 0.052786884577, 1e-9);
        assert_eq!(
            welch_p_value(
                &Sample {
                    n: 1,
                    mean: 1.0,
                    variance: 0.0
                },
                &b
            ),
            None
        );
    }

    #[test]
    fn two_proportions_match_scipy() {
        close(
            two_proportion_p_value(120, 1000, 150, 1000).unwrap(),
            0.049640386865,
            1e-9,
        );
        assert_eq!(two_proportion_p_value(0, 10, 0, 10), None);
    }

    #[test]
    fn bayesian_probabilities_match_integration() {
        let a = Posterior::binary(1000, 120);
        let b = Posterior::binary(1000, 150);
        let c = Posterior::binary(1000, 135);
        close(prob_beats(&b, &a, true), 0.9750678368, 1e-6);
        close(prob_beats(&b, &a, false), 1.0 - 0.9750678368, 1e-6);
        let best = prob_best(&[a, b, c], true);
        close(best[0], 0.0146247071, 1e-6);
        close(best[1], 0.8205437045, 1e-6);
        close(best[2], 0.1648315884, 1e-6);
        let na = Posterior::of_mean(&Sample {
            n: 120,
            mean: 10.2,
            variance: 3.1 * 3.1,
        })
        .unwrap();
        let nb = Posterior::of_mean(&Sample {
            n: 130,
            mean: 11.0,
            variance: 3.4 * 3.4,
        })
        .unwrap();
        close(prob_beats(&nb, &na, true), 0.974171435919, 1e-7);
    }

    #[test]
    fn srm_matches_scipy_chisquare() {
        let s = srm(&[5000, 5200], &[50.0, 50.0]).unwrap();
        close(s.chi_square, 3.9215686274509802, 1e-10);
        close(s.p_value, 0.0476703806561615, 1e-10);
        assert!(!s.mismatch);
        let s3 = srm(&[3300, 3300, 3500], &[1.0, 1.0, 1.0]).unwrap();
        close(s3.p_value, 0.019055566038180392, 1e-9);
        assert!(srm(&[5000, 6000], &[50.0, 50.0]).unwrap().mismatch);
    }

    #[test]
    fn samples_and_relative_difference() {
        let s = Sample::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((s.n, s.mean), (4, 2.5));
        close(s.variance, 5.0 / 3.0, 1e-12);
        // Hand computation: m1 = 0.15, m0 = 0.12 → +25%; var = v1/(n1 m0²) + m1² v0/(n0 m0⁴).
        let base = Sample {
            n: 1000,
            mean: 0.12,
            variance: 0.12 * 0.88 * 1000.0 / 999.0,
        };
        let treat = Sample {
            n: 1000,
            mean: 0.15,
            variance: 0.15 * 0.85 * 1000.0 / 999.0,
        };
        let r = relative_difference(&treat, &base).unwrap();
        close(r.estimate, 0.25, 1e-12);
        let var =
            treat.variance / 1000.0 / 0.0144 + 0.0225 * base.variance / 1000.0 / (0.0144 * 0.0144);
        close(r.upper - r.estimate, Z95 * var.sqrt(), 1e-12);
        assert_eq!(
            relative_difference(
                &treat,
                &Sample {
                    n: 5,
                    mean: 0.0,
                    variance: 0.0
                }
            ),
            None
        );
    }
}

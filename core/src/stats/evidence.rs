//! Tests that stay valid however often they are looked at, for guarded rollouts (which look every
//! minute and must not roll back more often than α over the whole rollout):
//!
//! - [`one_sided_halfwidth`]: gbstats' one-sided sequential confidence sequence on a difference of
//!   means (`SequentialOneSidedTreatment{Lesser,Greater}TTest`, Waudby-Smith et al. 2023,
//!   arXiv:2103.06476v7 eq. 134, ρ from eq. 161 with 2α). Asymptotic: it relies on the CLT.
//! - [`ln_sign_evalue`]: an exact e-process on converting units. Under 1:1 randomisation and no
//!   harm, each unit that converts is in the harm arm with probability ≤ ½; the one-sided Beta(1,1)
//!   mixture of the likelihood ratio against ½ is `E = 2^(a+b+1) · B(a+1, b+1) · P(θ > ½ | a, b)`.
//!   Every factor has expectation ≤ 1 under any θ ≤ ½, so P(sup E ≥ 1/α) ≤ α by Ville's
//!   inequality, with no CLT: valid from the first unit (Lindon & Malek, NeurIPS 2022).
//! - [`ln_srm_bayes_factor`]: the same mixture, two-sided, against a 1:1 split of exposed units:
//!   an always-valid sample-ratio check.

use super::{dist, Effect};
use std::f64::consts::LN_2;

/// The half-width h of the one-sided (1 − α) confidence sequence of `e`'s estimate: the bound is
/// `estimate + h` (treatment lesser) or `estimate − h` (treatment greater). `tuning` is gbstats'
/// `sequential_tuning_parameter` (the total units at which the sequence is narrowest).
pub fn one_sided_halfwidth(e: &Effect, alpha: f64, tuning: f64) -> f64 {
    let n = e.units as f64;
    let l = -2.0 * (2.0 * alpha).ln();
    let rho2 = (l + (l + 1.0).ln()) / tuning;
    let s2 = e.variance * n;
    let nr2p1 = n * rho2 + 1.0;
    (s2 * 2.0 * nr2p1 / (n * n * rho2) * (1.0 + nr2p1.sqrt() / (2.0 * alpha)).ln()).sqrt()
}

/// ln E of the exact sign test: `harm` converting units in the arm a harm would show in (the test
/// arm for a lower-is-better metric), `other` in the other arm. 0 when there is no unit.
pub fn ln_sign_evalue(harm: u64, other: u64) -> f64 {
    let (a, b) = (harm as f64, other as f64);
    // P(θ > ½) under Beta(a+1, b+1) is 1 − I_½(a+1, b+1) = I_½(b+1, a+1), without cancellation.
    let tail = dist::beta_reg(b + 1.0, a + 1.0, 0.5);
    (a + b + 1.0) * LN_2 + dist::ln_beta(a + 1.0, b + 1.0) + tail.ln()
}

/// ln of the Bayes factor against a 1:1 split of `n_test` and `n_control` units (Beta(1,1)
/// mixture): 0 with no unit, large when the split is far from even.
pub fn ln_srm_bayes_factor(n_test: u64, n_control: u64) -> f64 {
    let (t, c) = (n_test as f64, n_control as f64);
    (t + c) * LN_2 + dist::ln_beta(t + 1.0, c + 1.0)
}

#[cfg(test)]
mod tests {
    use super::super::reference::{close, mean_stat};
    use super::super::{Difference, Sample};
    use super::*;

    fn effect(a: Sample, b: Sample) -> Effect {
        Effect::of(&a, &b, Difference::Absolute).unwrap()
    }

    // The exact test's thresholds of GUARDED-ROLLOUTS.md §5.4 (E ≥ 120): with no control
    // converter, 10 test converters roll back and 9 do not; with 1, 13 and not 12.
    #[test]
    fn sign_test_thresholds() {
        let t = 120f64.ln();
        assert!(ln_sign_evalue(10, 0) >= t && ln_sign_evalue(9, 0) < t);
        assert!(ln_sign_evalue(13, 1) >= t && ln_sign_evalue(12, 1) < t);
        assert!(ln_sign_evalue(23, 5) >= t && ln_sign_evalue(22, 5) < t);
        // 2^11 · B(11, 1) · (1 − 2^-11) = (2^11 − 1) / 11.
        close(ln_sign_evalue(10, 0), (2047f64 / 11.0).ln(), 1e-12);
        close(ln_sign_evalue(0, 0), 0.0, 1e-12);
        // Evidence against harm shrinks E towards 0, never below.
        close(ln_sign_evalue(0, 50), -(51f64.ln()), 1e-12);
        // The thresholds of the table at more converters (scipy's betaln and betainc agree).
        assert!(ln_sign_evalue(49, 20) >= t && ln_sign_evalue(48, 20) < t);
        assert!(ln_sign_evalue(159, 100) >= t && ln_sign_evalue(158, 100) < t);
        assert!(ln_sign_evalue(1_000_000, 1_000_000).is_finite());
    }

    #[test]
    fn srm_bayes_factor() {
        close(ln_srm_bayes_factor(0, 0), 0.0, 1e-12);
        // Even splits give evidence for 1:1 (BF < 1); 60:40 of 1,000 is past 1,000.
        assert!(ln_srm_bayes_factor(500, 500) < 0.0);
        assert!(ln_srm_bayes_factor(600, 400) > 1000f64.ln());
        assert!(ln_srm_bayes_factor(530, 470) < 1000f64.ln());
    }

    // gbstats at growthbook@8f1db445 (packages/stats), cases one_sided_* printed by
    // scripts/gbstats_reference.py: the bound of SequentialOneSidedTreatmentLesserTTest (upper)
    // and of the Greater test (lower) with difference_type absolute.
    #[test]
    fn one_sided_bound_matches_gbstats() {
        let p = Sample::proportion;
        let m = |n: u64, mean: f64, var: f64| {
            let n_f = n as f64;
            mean_stat(n, n_f * mean, n_f * (mean * mean + var))
        };
        let cases = [
            (p(25, 2), p(25, 6), 0.05, 1.0736036003348621, -0.7536036003348623),
            (p(250, 10), p(250, 20), 0.0083, 0.128570626939889, -0.048570626939889),
            (p(25000, 250), p(25000, 300), 0.025, 0.0050257154145363445, -0.0010257154145363449),
            (mean_stat(250, 300.0, 900.0), mean_stat(250, 360.0, 1200.0), 0.0167, 0.7991322841078253, -0.31913228410782535),
            (m(25000, 120.0, 400.0), m(25000, 121.0, 420.0), 0.05, 1.541286044512303, 0.458713955487697),
        ];
        for (a, b, alpha, upper, lower) in cases {
            let e = effect(a, b);
            let h = one_sided_halfwidth(&e, alpha, 5000.0);
            close(e.estimate + h, upper, 1e-9);
            close(e.estimate - h, lower, 1e-9);
        }
    }
}

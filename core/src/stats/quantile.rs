//! Percentile metrics: the ν-quantile of the per-unit values per arm, with the variance of
//! gbstats' order-statistic `QuantileStatistic` (n* = n: the bounds are exact order statistics,
//! not a precomputed grid). The estimate is the order statistic x₍⌈νn⌉₎; the bounds are the order
//! statistics at ranks ⌈n(ν ∓ z√(ν(1 − ν)/n))⌉, clamped to 1..n (a distribution-free 95% interval of
//! the quantile); Var = (n − 1) ((upper − lower) / 2z)², floored at 1e-5 from 100 units on.
//! The resulting [`Sample`] (mean = the quantile) goes through the same [`super::Effect`] as means.

use super::{dist, positive, Sample, ALPHA};

/// The 1-based ranks, among an arm's n sorted values, of the estimate and its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranks {
    pub estimate: u64,
    pub lower: u64,
    pub upper: u64,
}

pub fn ranks(n: u64, nu: f64) -> Option<Ranks> {
    if n == 0 || !(nu > 0.0 && nu < 1.0) {
        return None;
    }
    let nf = n as f64;
    let z = dist::normal_ppf(1.0 - ALPHA / 2.0);
    let half = z * (nu * (1.0 - nu) / nf).sqrt();
    let rank = |q: f64| ((nf * q).ceil() as u64).clamp(1, n);
    Some(Ranks {
        estimate: rank(nu),
        lower: rank(nu - half),
        upper: rank(nu + half),
    })
}

/// The arm's statistic from the order statistics at [`ranks`], or `None` when gbstats would find
/// it has no usable variance (too few units for the interval to lie inside the data).
pub fn sample(n: u64, nu: f64, estimate: f64, lower: f64, upper: f64) -> Option<Sample> {
    let z = dist::normal_ppf(1.0 - ALPHA / 2.0);
    let nf = n as f64;
    if nf <= z * z * nu / (1.0 - nu) || nf <= z * z * (1.0 - nu) / nu {
        return None;
    }
    let init = (nf - 1.0) * ((upper - lower) / (2.0 * z)).powi(2);
    if !positive(init) && n < 1000 {
        return None;
    }
    let variance = if n < 100 { init } else { init.max(1e-5) };
    Some(Sample {
        n,
        mean: estimate,
        variance,
    })
}

#[cfg(test)]
mod tests {
    use super::super::reference::close;
    use super::super::{frequentist, Difference, Effect};
    use super::*;

    #[test]
    fn ranks_of_p90() {
        let r = ranks(1000, 0.9).unwrap();
        // 1.96 √(0.09 / 1000) = 0.018594: ranks ⌈981.4⌉ and ⌈918.6⌉.
        assert_eq!(r, Ranks { estimate: 900, lower: 882, upper: 919 });
        assert_eq!(ranks(1, 0.5).unwrap(), Ranks { estimate: 1, lower: 1, upper: 1 });
        assert_eq!(ranks(0, 0.5), None);
    }

    // gbstats 0.8.0 QuantileStatistic(n = n_star, nu = 0.9, …) and TwoSidedTTest
    // (scripts/gbstats_reference.py, "quantile").
    #[test]
    fn variance_and_test_match_gbstats() {
        let a = sample(1000, 0.9, 12.5, 11.9, 13.4).unwrap();
        let b = sample(1100, 0.9, 13.7, 13.0, 14.6).unwrap();
        close(a.variance, 146.28231779365052, 1e-9);
        close(b.variance, 183.09710785157068, 1e-9);
        let f = frequentist::t_test(&Effect::of(&a, &b, Difference::Relative).unwrap());
        close(f.interval.estimate, 0.09599999999999995, 1e-12);
        close(f.interval.lower, 0.004228288504856362, 1e-9);
        close(f.interval.upper, 0.18777171149514355, 1e-9);
        close(f.p_value, 0.040346978002935074, 1e-9);
        assert_eq!(sample(30, 0.9, 1.0, 1.0, 2.0), None);
        assert_eq!(sample(500, 0.5, 1.0, 1.0, 1.0), None);
    }
}

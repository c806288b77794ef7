//! Frequentist analyses of an [`Effect`]: the fixed-horizon two-sided t-test and the always-valid
//! sequential test. Each answers the estimate, the 95% interval and the p-value of one statistic,
//! so `p < 0.05` exactly when the interval excludes 0 (up to rounding at the boundary).

use super::{dist, Effect, Interval, ALPHA};
use serde::Serialize;

/// The sequential test's default tuning parameter (gbstats' `sequential_tuning_parameter`): the
/// total sample size at which its intervals are narrowest relative to fixed-horizon ones.
pub const DEFAULT_TUNING: f64 = 5000.0;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Frequentist {
    pub interval: Interval,
    pub p_value: f64,
}

/// gbstats' `TwoSidedTTest`: t = estimate / sd with Welch–Satterthwaite degrees of freedom;
/// p = 2 (1 − F_t(|t|)); interval = estimate ± t_{1−α/2} · sd.
pub fn t_test(e: &Effect) -> Frequentist {
    let sd = e.sd();
    let width = dist::t_ppf_upper(1.0 - ALPHA / 2.0, e.dof) * sd;
    Frequentist {
        interval: Interval {
            estimate: e.estimate,
            lower: e.estimate - width,
            upper: e.estimate + width,
        },
        p_value: dist::t_two_sided_p(e.estimate / sd, e.dof),
    }
}

/// gbstats' `SequentialTwoSidedTTest`: the asymptotic confidence sequence of Waudby-Smith et al.
/// (2023, arXiv:2103.06476v7, eq. 9 and 155, ρ from eq. 161). Valid however often it is looked at.
///
/// With N units, s² = N · Var(effect), ρ² = (−2 ln α + ln(−2 ln α + 1)) / τ:
/// half-width = s · √(2 (Nρ² + 1) ln(√(Nρ² + 1) / α) / (Nρ)²);
/// p = min(1, 1 / e), e = exp(ρ² N estimate² / (2 Var · (Nρ² + 1))) / √(Nρ² + 1).
pub fn sequential(e: &Effect, tuning: f64) -> Frequentist {
    let n = e.units as f64;
    let rho2 = (-2.0 * ALPHA.ln() + (-2.0 * ALPHA.ln() + 1.0).ln()) / tuning;
    let s2 = e.variance * n;
    let nr2p1 = n * rho2 + 1.0;
    let width = s2.sqrt() * (2.0 * nr2p1 * (nr2p1.sqrt() / ALPHA).ln() / (n * n * rho2)).sqrt();
    let st2 = e.estimate * e.estimate * n / e.variance;
    // ln of the e-value, so that huge effects do not overflow before the min.
    let ln_evalue = rho2 * st2 / (2.0 * nr2p1) - 0.5 * nr2p1.ln();
    Frequentist {
        interval: Interval {
            estimate: e.estimate,
            lower: e.estimate - width,
            upper: e.estimate + width,
        },
        p_value: (-ln_evalue).exp().min(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{close, mean_stat};
    use super::super::{Difference, Sample};
    use super::*;

    fn check(f: Frequentist, estimate: f64, ci: [f64; 2], p: f64) {
        close(f.interval.estimate, estimate, 1e-12);
        close(f.interval.lower, ci[0], 1e-9);
        close(f.interval.upper, ci[1], 1e-9);
        close(f.p_value, p, 1e-9);
    }

    fn effect(a: Sample, b: Sample, d: Difference) -> Effect {
        Effect::of(&a, &b, d).unwrap()
    }

    // gbstats 0.8.0, case binary_100_130 of scripts/gbstats_reference.py (the case):
    // the relative test does not reject, the absolute one does, and each interval agrees with its
    // own p-value.
    #[test]
    fn binary_matches_gbstats() {
        let (a, b) = (Sample::proportion(1000, 100), Sample::proportion(1000, 130));
        let rel = t_test(&effect(a, b, Difference::Relative));
        check(rel, 0.3, [-0.019375372265978963, 0.6193753722659789], 0.06559733260262468);
        assert!(!rel.interval.excludes_zero() && rel.p_value > ALPHA);
        let abs = t_test(&effect(a, b, Difference::Absolute));
        check(abs, 0.03, [0.0020507842909493826, 0.057949215709050615], 0.03541149025749646);
        assert!(abs.interval.excludes_zero() && abs.p_value < ALPHA);
        check(
            sequential(&effect(a, b, Difference::Relative), DEFAULT_TUNING),
            0.3,
            [-0.20870625018398686, 0.8087062501839868],
            0.5622208729310174,
        );
        check(
            sequential(&effect(a, b, Difference::Absolute), DEFAULT_TUNING),
            0.03,
            [-0.014517962102267787, 0.07451796210226778],
            0.37893150758579747,
        );
    }

    // Case mean_metric.
    #[test]
    fn means_match_gbstats() {
        let a = mean_stat(120, 1224.0, 13620.0);
        let b = mean_stat(130, 1430.0, 17230.0);
        check(
            t_test(&effect(a, b, Difference::Relative)),
            0.07843137254901968,
            [-0.003923594664100805, 0.16078633976214016],
            0.061865680528601974,
        );
        check(
            t_test(&effect(a, b, Difference::Absolute)),
            0.8000000000000007,
            [-0.009545452015551792, 1.6095454520155532],
            0.0527417841430895,
        );
        check(
            sequential(&effect(a, b, Difference::Relative), DEFAULT_TUNING),
            0.07843137254901968,
            [-0.11887784068848721, 0.27574058578652655],
            0.7170111050910019,
        );
    }

    // Cases three_arm_1, three_arm_2 (one baseline of 2005 units, 220 conversions).
    #[test]
    fn three_arms_match_gbstats() {
        let base = Sample::proportion(2005, 220);
        let v2 = Sample::proportion(1985, 262);
        check(
            t_test(&effect(base, Sample::proportion(2010, 241), Difference::Relative)),
            0.09272953414744464,
            [-0.09524407716977265, 0.2807031454646619],
            0.3335200366094815,
        );
        check(
            t_test(&effect(base, v2, Difference::Relative)),
            0.2029081749484772,
            [0.00058575554143947, 0.40523059435551495],
            0.04934071581515398,
        );
        check(
            t_test(&effect(base, v2, Difference::Absolute)),
            0.022264238647713208,
            [0.0020373055174057776, 0.04249117177802064],
            0.03098498226253521,
        );
        check(
            sequential(&effect(base, v2, Difference::Absolute), DEFAULT_TUNING),
            0.022264238647713208,
            [-0.009104082479309106, 0.05363255977473552],
            0.3624670554246168,
        );
    }

    // Case sequential_tuning_1000.
    #[test]
    fn sequential_tuning_matches_gbstats() {
        let (a, b) = (Sample::proportion(5000, 500), Sample::proportion(5000, 560));
        check(
            sequential(&effect(a, b, Difference::Relative), 1000.0),
            0.11999999999999997,
            [-0.09126088631736196, 0.3312608863173619],
            1.0,
        );
        check(
            sequential(&effect(a, b, Difference::Absolute), 1000.0),
            0.011999999999999997,
            [-0.007954695339529992, 0.031954695339529986],
            1.0,
        );
    }

    #[test]
    fn huge_effects_do_not_overflow() {
        let (a, b) = (Sample::proportion(1_000_000, 1000), Sample::proportion(1_000_000, 900_000));
        let s = sequential(&effect(a, b, Difference::Relative), DEFAULT_TUNING);
        assert!(s.p_value < 1e-200 && s.p_value.is_finite(), "{}", s.p_value);
        assert!(t_test(&effect(a, b, Difference::Relative)).p_value < 1e-100);
    }
}

//! The distribution functions the analyses need, over `statrs`' special functions. Every input is
//! checked first: statrs panics on arguments outside a function's domain, and these never do
//! (they answer NaN, which the callers treat as "no result").

use super::positive;
use statrs::function::{beta, erf, gamma};
use std::f64::consts::SQRT_2;

/// Standard normal CDF Φ(x).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erf::erfc(-x / SQRT_2)
}

/// Standard normal density φ(x).
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal quantile Φ⁻¹(p), p in (0, 1).
pub fn normal_ppf(p: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    -SQRT_2 * erf::erfc_inv(2.0 * p)
}

/// Two-sided tail of Student's t: P(|T| ≥ |t|) with `dof` degrees of freedom (infinite: normal).
pub fn t_two_sided_p(t: f64, dof: f64) -> f64 {
    if t.is_nan() || !positive(dof) {
        return f64::NAN;
    }
    if dof.is_infinite() {
        return erf::erfc(t.abs() / SQRT_2);
    }
    if t.is_infinite() {
        return 0.0;
    }
    beta::checked_beta_reg(dof / 2.0, 0.5, dof / (dof + t * t)).unwrap_or(f64::NAN)
}

/// Student's t quantile for p in [0.5, 1): the t with P(T ≤ t) = p.
pub fn t_ppf_upper(p: f64, dof: f64) -> f64 {
    if !(0.5..1.0).contains(&p) || !positive(dof) {
        return f64::NAN;
    }
    if dof.is_infinite() || dof > 1e10 {
        return normal_ppf(p);
    }
    // P(|T| ≥ t) = I_{ν/(ν+t²)}(ν/2, 1/2) = 2(1 − p); invert the regularized incomplete beta.
    let y = beta::inv_beta_reg(dof / 2.0, 0.5, 2.0 * (1.0 - p));
    (dof * (1.0 - y) / y).sqrt()
}

/// Chi-square survival function P(X ≥ x) with `df` degrees of freedom.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    if !positive(df) || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    gamma::checked_gamma_ur(df / 2.0, x / 2.0).unwrap_or(f64::NAN)
}

/// ln B(a, b), a, b > 0.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    if !(positive(a) && positive(b)) {
        return f64::NAN;
    }
    beta::ln_beta(a, b)
}

/// The regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1].
pub fn beta_reg(a: f64, b: f64, x: f64) -> f64 {
    if !(positive(a) && positive(b) && (0.0..=1.0).contains(&x)) {
        return f64::NAN;
    }
    beta::checked_beta_reg(a, b, x).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    // Reference values: SciPy 1.17.1 (norm.cdf, norm.ppf, t.sf, t.ppf, chi2.sf).
    #[test]
    fn match_scipy() {
        close(normal_cdf(1.2345), 0.891491676637, 1e-10);
        close(normal_cdf(-1.2345), 1.0 - 0.891491676637, 1e-10);
        close(normal_ppf(0.975), 1.959963984540054, 1e-12);
        close(normal_ppf(0.025), -1.959963984540054, 1e-12);
        close(t_two_sided_p(2.1, 7.5), 0.071237071458, 1e-9);
        close(t_ppf_upper(0.975, 7.5), 2.333039626864974, 1e-9);
        close(t_ppf_upper(0.975, 1998.0), 1.9611520148367054, 1e-9);
        close(chi_square_sf(7.3, 2.0), 0.025991128779, 1e-10);
        close(chi_square_sf(12.5, 3.0), 0.005852662593, 1e-10);
    }

    #[test]
    fn never_panic_outside_the_domain() {
        for x in [f64::NAN, f64::INFINITY, -1.0, 0.0, 2.0] {
            let _ = (normal_ppf(x), t_two_sided_p(x, x), t_ppf_upper(x, x), chi_square_sf(x, x));
        }
        assert!(normal_ppf(1.0).is_nan());
        assert_eq!(t_two_sided_p(f64::INFINITY, 10.0), 0.0);
    }
}

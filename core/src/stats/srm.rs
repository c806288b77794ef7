//! Sample-ratio mismatch: a chi-square goodness-of-fit test of the units observed per variation
//! against the configured allocation (as gbstats' `check_srm`).

use super::{dist, positive};
use serde::{Deserialize, Serialize};

/// Below this p-value the split is reported as a mismatch.
pub const SRM_THRESHOLD: f64 = 0.001;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Srm {
    pub chi_square: f64,
    pub p_value: f64,
    pub expected: Vec<f64>,
    pub observed: Vec<u64>,
    /// p < [`SRM_THRESHOLD`].
    pub mismatch: bool,
}

pub fn srm(observed: &[u64], weights: &[f64]) -> Option<Srm> {
    let n: u64 = observed.iter().sum();
    let total_w: f64 = weights.iter().sum();
    if observed.len() < 2 || observed.len() != weights.len() || n == 0 || !positive(total_w) {
        return None;
    }
    let expected: Vec<f64> = weights.iter().map(|w| n as f64 * w / total_w).collect();
    let chi_square: f64 = observed
        .iter()
        .zip(&expected)
        .filter(|(_, &e)| e > 0.0)
        .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
        .sum();
    let p_value = dist::chi_square_sf(chi_square, (observed.len() - 1) as f64);
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
    use super::super::reference::close;
    use super::*;

    // gbstats' check_srm (scripts/gbstats_reference.py, "srm").
    #[test]
    fn matches_gbstats() {
        let s = srm(&[5000, 5200], &[50.0, 50.0]).unwrap();
        close(s.chi_square, 3.9215686274509802, 1e-10);
        close(s.p_value, 0.0476703806561615, 1e-10);
        assert!(!s.mismatch);
        close(srm(&[3300, 3300, 3500], &[1.0, 1.0, 1.0]).unwrap().p_value, 0.019055566038179643, 1e-10);
        assert!(srm(&[5000, 6000], &[50.0, 50.0]).unwrap().mismatch);
        assert_eq!(srm(&[0, 0], &[50.0, 50.0]), None);
    }
}

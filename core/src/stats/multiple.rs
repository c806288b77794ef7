//! Multiple-comparison corrections of p-values across a family of comparisons (every treatment ×
//! metric of an iteration): Holm–Bonferroni (controls the family-wise error rate) and
//! Benjamini–Hochberg (controls the false discovery rate). Both return adjusted p-values in the
//! input's order, to compare with the same α as the raw ones.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Correction {
    #[default]
    HolmBonferroni,
    BenjaminiHochberg,
}

impl Correction {
    pub fn adjust(self, p: &[f64]) -> Vec<f64> {
        match self {
            Correction::HolmBonferroni => holm(p),
            Correction::BenjaminiHochberg => benjamini_hochberg(p),
        }
    }
}

/// Indices of `p` in ascending order of p-value (NaN last).
fn ascending(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    order
}

/// Holm (1979): the k-th smallest (k = 1..m) becomes max over j ≤ k of min(1, (m − j + 1) p₍ⱼ₎).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (k, &i) in ascending(p).iter().enumerate() {
        running = running.max(((m - k) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// Benjamini & Hochberg (1995): the k-th smallest becomes min over j ≥ k of min(1, m p₍ⱼ₎ / j).
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut out = vec![0.0; m];
    let mut running: f64 = 1.0;
    for (k, &i) in ascending(p).iter().enumerate().rev() {
        running = running.min((m as f64 * p[i] / (k + 1) as f64).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn benjamini_hochberg_matches_scipy() {
        // scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.005, 0.2], method="bh"),
        // printed by scripts/gbstats_reference.py.
        assert_close(
            &benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005, 0.2]),
            &[0.025, 0.05, 0.05, 0.025, 0.2],
        );
    }

    #[test]
    fn holm_by_hand() {
        // Sorted 0.005, 0.01, 0.03, 0.04, 0.2 → ×5, ×4, ×3, ×2, ×1 = 0.025, 0.04, 0.09, 0.08, 0.2,
        // made monotone: 0.025, 0.04, 0.09, 0.09, 0.2.
        assert_close(
            &holm(&[0.01, 0.04, 0.03, 0.005, 0.2]),
            &[0.04, 0.09, 0.09, 0.025, 0.2],
        );
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn adjusted_never_below_raw() {
        let p = [0.001, 0.5, 0.04, 0.04, 0.3, 0.02];
        for c in [Correction::HolmBonferroni, Correction::BenjaminiHochberg] {
            for (a, r) in c.adjust(&p).iter().zip(p) {
                assert!(*a >= r && *a <= 1.0);
            }
        }
    }
}

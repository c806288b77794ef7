//! Health checks of an iteration, as LaunchDarkly shows them beside results: sample-ratio
//! mismatch, units exposed to more than one variation, conversions from units never exposed,
//! and metrics that have received no events.

use super::Inputs;
use crate::stats::srm::Srm;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MultipleExposures {
    /// Exposed units that received more than one variation (counted in their first).
    pub units: u64,
    /// Their share of all exposed units.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub sample_ratio_mismatch: bool,
    pub multiple_exposures: MultipleExposures,
    /// Conversion events (of the iteration's metrics) from units never exposed in it: they count
    /// for no variation.
    pub unexposed_conversions: u64,
    /// Metrics of the iteration no exposed unit has an event for.
    pub metrics_without_events: Vec<String>,
    /// One sentence per problem found, for people.
    pub warnings: Vec<String>,
}

impl Health {
    /// The checks, given the iteration's sample-ratio-mismatch test.
    pub fn of(inputs: &Inputs<'_>, srm: Option<&Srm>) -> Health {
        let agg = inputs.aggregates;
        let exposed: u64 = agg.exposed.values().sum();
        let share = if exposed == 0 { 0.0 } else { agg.multi_exposed as f64 / exposed as f64 };
        let metrics_without_events: Vec<String> = inputs
            .iteration
            .metrics
            .iter()
            .filter(|m| agg.metrics.get(&m.key).is_none_or(|arms| arms.values().all(|a| a.with_events == 0)))
            .map(|m| m.key.clone())
            .collect();
        let mut warnings = Vec::new();
        if let Some(s) = srm.filter(|s| s.mismatch) {
            warnings.push(format!(
                "sample ratio mismatch: observed {:?} units against the allocation (p = {:.2e}); check for lost exposures before trusting results",
                s.observed, s.p_value
            ));
        }
        if agg.multi_exposed > 0 {
            warnings.push(format!(
                "{} exposed units ({:.2}%) received more than one variation; each counts in its first",
                agg.multi_exposed,
                100.0 * share
            ));
        }
        if agg.unexposed_conversions > 0 {
            warnings.push(format!(
                "{} conversion events came from units never exposed in this iteration and count for no variation",
                agg.unexposed_conversions
            ));
        }
        for m in &metrics_without_events {
            warnings.push(format!("metric `{m}` has received no events from exposed units; check its event key"));
        }
        Health {
            sample_ratio_mismatch: srm.is_some_and(|s| s.mismatch),
            multiple_exposures: MultipleExposures { units: agg.multi_exposed, share },
            unexposed_conversions: agg.unexposed_conversions,
            metrics_without_events,
            warnings,
        }
    }
}

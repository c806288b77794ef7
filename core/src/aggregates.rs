//! Running aggregates of an iteration's counts: what the results need, kept exact as units change.
//!
//! Results need, per (metric, variation), the number of units with a value, how many of them
//! converted, Σx and Σx² of their values, and per variation the number of exposed units. These are
//! sufficient statistics: they merge by addition, so an iteration's counts can be spread over
//! shards (by a hash of the unit, [`shard_of`]) and merged in O(shards × metrics × variations).
//!
//! A unit's value can change after it was counted: a late exposure may change its first variation,
//! or make one of its conversions count or stop counting. [`apply_to_unit`] therefore removes the
//! unit's old contribution and adds its new one, computed from its ledger before and after the
//! events. Any order of arrival yields the same aggregates as [`Aggregates::from_ledgers`] over
//! the final ledgers (property-tested below): counts exactly, sums to rounding, which compensated
//! summation ([`Sum`]) keeps at the level of a fresh sum.

use crate::attribution::Exposure;
use crate::experiment::{MetricSnapshot, UnitLedger};
use crate::stats::Sample;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default number of counter shards of an iteration.
pub const DEFAULT_SHARDS: u32 = 16;
/// Most shards an experiment may ask for.
pub const MAX_SHARDS: u32 = 64;

/// The shard (0..`shards`) that counts `unit`: [`crate::keys::fnv1a64`] of the unit key.
pub fn shard_of(unit: &str, shards: u32) -> u32 {
    (crate::keys::fnv1a64(unit.as_bytes()) % u64::from(shards.max(1))) as u32
}

/// A float sum with Neumaier compensation. Adding a value and later its negation returns the sum
/// to within an ulp or so of where it was, so a running sum matches a sum computed afresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sum {
    pub hi: f64,
    pub lo: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.hi + x;
        if self.hi.abs() >= x.abs() {
            self.lo += (self.hi - t) + x;
        } else {
            self.lo += (x - t) + self.hi;
        }
        self.hi = t;
    }

    pub fn value(&self) -> f64 {
        self.hi + self.lo
    }

    pub fn merge(&mut self, other: &Sum) {
        self.add(other.hi);
        self.add(other.lo);
    }
}

/// Sufficient statistics of the per-unit values of one metric in one variation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Units with a value.
    pub n: u64,
    /// Units whose value is > 0 (converted units, for binary metrics).
    pub converted: u64,
    /// Units with at least one counted event (a health check: metrics with no events).
    #[serde(default)]
    pub with_events: u64,
    pub sum: Sum,
    pub sum_sq: Sum,
}

impl Moments {
    /// Add a unit's value; `events`: whether it has counted events (not only a default value).
    pub fn add(&mut self, x: f64, events: bool) {
        self.n += 1;
        self.converted += u64::from(x > 0.0);
        self.with_events += u64::from(events);
        self.sum.add(x);
        self.sum_sq.add(x * x);
    }

    /// Remove a value added before.
    pub fn remove(&mut self, x: f64, events: bool) {
        self.n = self.n.saturating_sub(1);
        self.converted = self.converted.saturating_sub(u64::from(x > 0.0));
        self.with_events = self.with_events.saturating_sub(u64::from(events));
        self.sum.add(-x);
        self.sum_sq.add(-(x * x));
    }

    pub fn merge(&mut self, other: &Moments) {
        self.n += other.n;
        self.converted += other.converted;
        self.with_events += other.with_events;
        self.sum.merge(&other.sum);
        self.sum_sq.merge(&other.sum_sq);
    }

    /// Mean and sample variance (n − 1 denominator; 0 below two units).
    pub fn sample(&self) -> Sample {
        if self.n == 0 {
            return Sample {
                n: 0,
                mean: 0.0,
                variance: 0.0,
            };
        }
        let n = self.n as f64;
        let (sum, sum_sq) = (self.sum.value(), self.sum_sq.value());
        let mean = sum / n;
        let variance = if self.n < 2 {
            0.0
        } else {
            ((sum_sq - sum * mean) / (n - 1.0)).max(0.0)
        };
        Sample {
            n: self.n,
            mean,
            variance,
        }
    }
}

/// The aggregates of an iteration (or of one shard of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregates {
    /// Variation → units whose first exposure in the iteration was to it.
    pub exposed: BTreeMap<u32, u64>,
    /// Metric key → variation → moments of the units' values.
    pub metrics: BTreeMap<String, BTreeMap<u32, Moments>>,
    /// Exposed units that received more than one variation in the iteration (a health check).
    #[serde(default)]
    pub multi_exposed: u64,
    /// Conversion events of units never exposed in the iteration (a health check).
    #[serde(default)]
    pub unexposed_conversions: u64,
}

impl Aggregates {
    /// From scratch: every unit's current value. The reference the running aggregates must equal.
    pub fn from_ledgers<'a>(
        metrics: &[MetricSnapshot],
        ledgers: impl IntoIterator<Item = &'a UnitLedger>,
    ) -> Aggregates {
        let mut agg = Aggregates::default();
        let all: Vec<&MetricSnapshot> = metrics.iter().collect();
        for ledger in ledgers {
            agg.add(&contribution(ledger, &all));
        }
        agg
    }

    pub fn moments(&self, metric: &str, variation: u32) -> Moments {
        self.metrics
            .get(metric)
            .and_then(|m| m.get(&variation))
            .copied()
            .unwrap_or_default()
    }

    fn moments_mut(&mut self, metric: &str, variation: u32) -> &mut Moments {
        if !self.metrics.contains_key(metric) {
            self.metrics.insert(metric.to_owned(), BTreeMap::new());
        }
        self.metrics
            .get_mut(metric)
            .expect("inserted above")
            .entry(variation)
            .or_default()
    }

    pub fn exposed(&self, variation: u32) -> u64 {
        self.exposed.get(&variation).copied().unwrap_or(0)
    }

    /// Add another shard's aggregates.
    pub fn merge(&mut self, other: &Aggregates) {
        for (v, n) in &other.exposed {
            *self.exposed.entry(*v).or_default() += n;
        }
        self.multi_exposed += other.multi_exposed;
        self.unexposed_conversions += other.unexposed_conversions;
        for (metric, arms) in &other.metrics {
            for (v, m) in arms {
                self.moments_mut(metric, *v).merge(m);
            }
        }
    }

    /// Remove one unit's contribution (as computed by [`contribution`]).
    fn remove(&mut self, c: &Contribution) {
        let Some(variation) = c.variation else {
            self.unexposed_conversions = self.unexposed_conversions.saturating_sub(c.unexposed_conversions);
            return;
        };
        if let Some(n) = self.exposed.get_mut(&variation) {
            *n = n.saturating_sub(1);
        }
        self.multi_exposed = self.multi_exposed.saturating_sub(u64::from(c.mixed));
        for (metric, x, events) in &c.values {
            self.moments_mut(metric, variation).remove(*x, *events);
        }
    }

    fn add(&mut self, c: &Contribution) {
        let Some(variation) = c.variation else {
            self.unexposed_conversions += c.unexposed_conversions;
            return;
        };
        *self.exposed.entry(variation).or_default() += 1;
        self.multi_exposed += u64::from(c.mixed);
        for (metric, x, events) in &c.values {
            self.moments_mut(metric, variation).add(*x, *events);
        }
    }
}

/// What one unit adds to the aggregates, for some of the metrics.
#[derive(Debug, Clone, PartialEq)]
struct Contribution {
    variation: Option<u32>,
    /// Exposed to more than one variation.
    mixed: bool,
    /// Never exposed: its conversion events of these metrics.
    unexposed_conversions: u64,
    /// (metric, value, has counted events).
    values: Vec<(String, f64, bool)>,
}

fn contribution(ledger: &UnitLedger, metrics: &[&MetricSnapshot]) -> Contribution {
    let variation = ledger.variation();
    let Some(first) = variation else {
        let unexposed_conversions = metrics
            .iter()
            .map(|m| ledger.conversions.get(&m.key).map_or(0, Vec::len) as u64)
            .sum();
        return Contribution { variation, mixed: false, unexposed_conversions, values: Vec::new() };
    };
    let values = metrics
        .iter()
        .filter_map(|m| {
            let counted = ledger.counted_values(&m.key);
            ledger.value_of(m, &counted).map(|x| (m.key.clone(), x, !counted.is_empty()))
        })
        .collect();
    Contribution {
        variation,
        mixed: ledger.exposures.points().any(|e| e.variation != first),
        unexposed_conversions: 0,
        values,
    }
}

/// One unit's new events for an iteration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitEvents {
    pub exposures: Vec<Exposure>,
    /// (metric key, time, value).
    pub conversions: Vec<(String, i64, f64)>,
}

/// What changed in a unit's ledger, so that only that is written back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerChange {
    pub exposures: bool,
    /// Metrics whose conversion list changed.
    pub metrics: Vec<String>,
}

impl LedgerChange {
    pub fn is_empty(&self) -> bool {
        !self.exposures && self.metrics.is_empty()
    }
}

/// Apply one unit's events to its ledger and keep `agg` exact: remove the unit's old contribution
/// to every metric its events can change, apply the events, add the new contribution.
///
/// A new exposure can change the unit's variation and which conversions count, so it touches
/// every metric; a conversion touches only its own metric.
pub fn apply_to_unit(
    ledger: &mut UnitLedger,
    metrics: &[MetricSnapshot],
    events: &UnitEvents,
    agg: &mut Aggregates,
) -> LedgerChange {
    let new_exposures: Vec<Exposure> = events
        .exposures
        .iter()
        .filter(|e| !ledger.exposures.points().any(|p| p == **e))
        .copied()
        .collect();
    let exposures_change = !new_exposures.is_empty();
    let touched: Vec<&MetricSnapshot> = metrics
        .iter()
        .filter(|m| exposures_change || events.conversions.iter().any(|(k, _, _)| *k == m.key))
        .collect();
    // A unit's exposure count as "exposed" is part of its contribution even with no metric.
    let before = contribution(ledger, &touched);
    let mut change = LedgerChange::default();
    for e in new_exposures {
        change.exposures |= ledger.expose(e);
    }
    for (metric, at, value) in &events.conversions {
        if touched.iter().any(|m| m.key == *metric) {
            ledger.convert(metric, *at, *value);
            if !change.metrics.contains(metric) {
                change.metrics.push(metric.clone());
            }
        }
    }
    let after = contribution(ledger, &touched);
    if before != after {
        agg.remove(&before);
        agg.add(&after);
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Measure;
    use crate::metric::{MetricKind, SuccessCriteria, UnitAggregation};
    use proptest::prelude::*;

    fn snapshot(key: &str, measure: Measure) -> MetricSnapshot {
        MetricSnapshot {
            key: key.into(),
            kind: MetricKind::Custom,
            event_key: key.into(),
            measure,
            success_criteria: SuccessCriteria::HigherThanBaseline,
            primary: false,
            percentile: None,
        }
    }

    fn metrics() -> Vec<MetricSnapshot> {
        vec![
            snapshot("b", Measure::Binary),
            snapshot("c", Measure::Count),
            snapshot(
                "avg",
                Measure::Numeric {
                    aggregation: UnitAggregation::Average,
                    default: Some(0.0),
                },
            ),
            snapshot(
                "sum",
                Measure::Numeric {
                    aggregation: UnitAggregation::Sum,
                    default: None,
                },
            ),
        ]
    }

    #[derive(Debug, Clone)]
    enum Ev {
        Expose(usize, i64, u32),
        Convert(usize, usize, i64, f64),
    }

    const DAY: i64 = 24 * 60 * 60 * 1000;

    fn event() -> impl Strategy<Value = Ev> {
        prop_oneof![
            (0..6usize, 0..200i64, 0..3u32).prop_map(|(u, d, v)| Ev::Expose(u, d * DAY, v)),
            (0..6usize, 0..4usize, 0..200i64, -1e6..1e6f64)
                .prop_map(|(u, m, d, x)| Ev::Convert(u, m, d * DAY, x)),
        ]
    }

    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-12 * scale.max(1.0)
    }

    /// Running aggregates equal a from-scratch computation for any events in any order and any
    /// grouping into batches: counts exactly, sums to 1e-12 of Σ|x|.
    fn check(events: Vec<Ev>, batch: usize) -> Result<(), TestCaseError> {
        let ms = metrics();
        let mut ledgers: BTreeMap<usize, UnitLedger> = BTreeMap::new();
        let mut agg = Aggregates::default();
        let mut scale = 0.0f64;
        for chunk in events.chunks(batch.max(1)) {
            let mut per_unit: BTreeMap<usize, UnitEvents> = BTreeMap::new();
            for e in chunk {
                match *e {
                    Ev::Expose(u, at, variation) => per_unit
                        .entry(u)
                        .or_default()
                        .exposures
                        .push(Exposure { at, variation }),
                    Ev::Convert(u, m, at, x) => {
                        scale += x.abs() + x * x;
                        per_unit
                            .entry(u)
                            .or_default()
                            .conversions
                            .push((ms[m].key.clone(), at, x))
                    }
                }
            }
            for (u, evs) in per_unit {
                apply_to_unit(ledgers.entry(u).or_default(), &ms, &evs, &mut agg);
            }
        }
        let fresh = Aggregates::from_ledgers(&ms, ledgers.values());
        prop_assert_eq!(
            agg.exposed.iter().filter(|(_, n)| **n > 0).collect::<Vec<_>>(),
            fresh.exposed.iter().collect::<Vec<_>>()
        );
        for m in &ms {
            for v in 0..3 {
                let (a, b) = (agg.moments(&m.key, v), fresh.moments(&m.key, v));
                prop_assert_eq!((a.n, a.converted), (b.n, b.converted), "{} {}", m.key, v);
                prop_assert!(close(a.sum.value(), b.sum.value(), scale));
                prop_assert!(close(a.sum_sq.value(), b.sum_sq.value(), scale));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn running_equals_from_scratch(events in prop::collection::vec(event(), 0..60), batch in 1..8usize) {
            check(events, batch)?;
        }

        #[test]
        fn order_does_not_matter(events in prop::collection::vec(event(), 0..40), seed in any::<u64>()) {
            // Same events, reversed and rotated: the from-scratch reference is order-free.
            let mut shuffled = events.clone();
            shuffled.reverse();
            let k = (seed as usize) % shuffled.len().max(1);
            shuffled.rotate_left(k);
            check(shuffled, 3)?;
        }
    }

    #[test]
    fn late_exposure_moves_a_unit_and_its_conversions() {
        let ms = metrics();
        let mut ledger = UnitLedger::default();
        let mut agg = Aggregates::default();
        let evs = |x: Vec<Exposure>, c: Vec<(&str, i64, f64)>| UnitEvents {
            exposures: x,
            conversions: c.into_iter().map(|(k, t, v)| (k.into(), t, v)).collect(),
        };
        // A conversion before any exposure: nothing counted.
        apply_to_unit(&mut ledger, &ms, &evs(vec![], vec![("b", 20, 1.0)]), &mut agg);
        assert_eq!(agg.exposed(1), 0);
        // Exposure to B at 10: the unit is in B and converted.
        let change = apply_to_unit(
            &mut ledger,
            &ms,
            &evs(vec![Exposure { at: 10, variation: 1 }], vec![]),
            &mut agg,
        );
        assert!(change.exposures);
        assert_eq!((agg.exposed(1), agg.moments("b", 1).converted), (1, 1));
        // A late exposure to A at 5: the unit moves to A with its conversion.
        apply_to_unit(
            &mut ledger,
            &ms,
            &evs(vec![Exposure { at: 5, variation: 0 }], vec![]),
            &mut agg,
        );
        assert_eq!((agg.exposed(0), agg.exposed(1)), (1, 0));
        assert_eq!(agg.moments("b", 0).converted, 1);
        assert_eq!(agg.moments("b", 1).n, 0);
        // A duplicate exposure changes nothing.
        let change = apply_to_unit(
            &mut ledger,
            &ms,
            &evs(vec![Exposure { at: 5, variation: 0 }], vec![]),
            &mut agg,
        );
        assert!(change.is_empty());
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("user-1", 16), shard_of("user-1", 16));
        let mut counts = [0u32; 16];
        for i in 0..16_000 {
            counts[shard_of(&format!("user-{i}"), 16) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
        assert_eq!(shard_of("anything", 1), 0);
    }

    #[test]
    fn merge_adds_shards() {
        let mut a = Aggregates::default();
        a.moments_mut("m", 0).add(2.0, true);
        a.exposed.insert(0, 1);
        let mut b = Aggregates::default();
        b.moments_mut("m", 0).add(4.0, true);
        b.exposed.insert(0, 1);
        a.merge(&b);
        let s = a.moments("m", 0).sample();
        assert_eq!((s.n, s.mean, s.variance, a.exposed(0)), (2, 3.0, 2.0, 2));
    }
}

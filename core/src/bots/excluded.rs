//! What an iteration excluded as bots, by reason and by the variation each bot would have been
//! counted in: events, and distinct units. Counted by the counter shards from the bots' own
//! messages (nothing of a bot is attributed or stored per unit: a shard keeps one row per reason
//! and variation), merged over shards for the results.
//!
//! Units are counted with [`UnitSketch`]: exact up to [`EXACT_UNITS`] distinct units per row
//! (each as a 64-bit hash), then a HyperLogLog of 2^[`PRECISION`] registers (about 1.6 % standard
//! error; merging is exact). A row's memory is bounded whatever the number of bots.

use crate::experiment::CounterBatch;
use crate::queued::QueuedEvent;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Distinct units a sketch keeps exactly before it becomes a HyperLogLog.
pub const EXACT_UNITS: usize = 256;
/// log2 of the HyperLogLog's registers.
pub const PRECISION: u32 = 12;
const REGISTERS: usize = 1 << PRECISION;

/// Distinct units, exact while few, estimated past [`EXACT_UNITS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UnitSketch {
    Exact(BTreeSet<u64>),
    /// One register per bucket: the longest run of leading zeros seen, plus one.
    Registers(#[serde(with = "hex_bytes")] Vec<u8>),
}

mod hex_bytes {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl Default for UnitSketch {
    fn default() -> Self {
        UnitSketch::Exact(BTreeSet::new())
    }
}

/// A unit key's 64-bit hash (SHA-256's first 8 bytes: stable across versions and platforms).
pub fn unit_hash(unit: &str) -> u64 {
    let digest = Sha256::digest(unit.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

impl UnitSketch {
    pub fn insert(&mut self, hash: u64) {
        match self {
            UnitSketch::Exact(set) => {
                set.insert(hash);
                if set.len() > EXACT_UNITS {
                    let mut registers = vec![0u8; REGISTERS];
                    for h in set.iter() {
                        register(&mut registers, *h);
                    }
                    *self = UnitSketch::Registers(registers);
                }
            }
            UnitSketch::Registers(r) => register(r, hash),
        }
    }

    pub fn merge(&mut self, other: &UnitSketch) {
        match other {
            UnitSketch::Exact(set) => set.iter().for_each(|h| self.insert(*h)),
            UnitSketch::Registers(theirs) => {
                if let UnitSketch::Exact(set) = self {
                    let mut registers = vec![0u8; REGISTERS];
                    set.iter().for_each(|h| register(&mut registers, *h));
                    *self = UnitSketch::Registers(registers);
                }
                if let UnitSketch::Registers(mine) = self {
                    mine.resize(REGISTERS, 0);
                    for (m, t) in mine.iter_mut().zip(theirs) {
                        *m = (*m).max(*t);
                    }
                }
            }
        }
    }

    /// The number of distinct units (exact while the sketch is exact).
    pub fn count(&self) -> u64 {
        match self {
            UnitSketch::Exact(set) => set.len() as u64,
            UnitSketch::Registers(r) => estimate(r),
        }
    }
}

fn register(registers: &mut [u8], hash: u64) {
    let index = (hash >> (64 - PRECISION)) as usize;
    let rest = hash << PRECISION;
    let rank = (rest.leading_zeros().min(64 - PRECISION) + 1) as u8;
    if let Some(r) = registers.get_mut(index) {
        *r = (*r).max(rank);
    }
}

/// HyperLogLog's estimate, with the small-range (linear counting) correction.
fn estimate(registers: &[u8]) -> u64 {
    let m = registers.len() as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
    let raw = alpha * m * m / sum;
    let zeros = registers.iter().filter(|r| **r == 0).count();
    let value = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
    value.round() as u64
}

/// One row: a reason and the variation the bots would have been counted in (`None`: a
/// conversion, whose variation is not known without attribution, which bots never get).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub events: u64,
    pub units: UnitSketch,
}

/// What an iteration (or one shard of it) excluded: reason → variation → tally. The variation
/// is its index in decimal, or [`CONVERSION`] for conversions (their variation is unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExcludedCounts(pub BTreeMap<String, BTreeMap<String, Tally>>);

/// The row of conversions.
pub const CONVERSION: &str = "conversion";

/// What a bot's message holds for one iteration: its exposures (variation known) and its
/// conversions of the iteration's metrics, by unit hash (the shard of the unit counts them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExcludedPart {
    pub reason: String,
    /// (variation or `None` for a conversion, unit hash). The hashes travel as hex text: a
    /// Durable Object's command is parsed by JavaScript, whose numbers lose a u64's low bits.
    #[serde(with = "hex_hashes")]
    pub items: Vec<(Option<usize>, u64)>,
}

mod hex_hashes {
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<S: Serializer>(items: &[(Option<usize>, u64)], s: S) -> Result<S::Ok, S::Error> {
        let text: Vec<(Option<usize>, String)> = items.iter().map(|(v, h)| (*v, format!("{h:016x}"))).collect();
        text.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Option<usize>, u64)>, D::Error> {
        let text: Vec<(Option<usize>, String)> = Vec::deserialize(d)?;
        text.into_iter().map(|(v, h)| u64::from_str_radix(&h, 16).map(|h| (v, h)).map_err(D::Error::custom)).collect()
    }
}

impl ExcludedPart {
    /// What would have counted for the iteration (`CounterBatch::build`'s selection), as
    /// exclusions.
    pub fn of(reason: &str, batch: CounterBatch) -> ExcludedPart {
        let exposures = batch.exposures.into_iter().map(|e| (Some(e.variation as usize), unit_hash(&e.unit)));
        let conversions = batch.conversions.into_iter().map(|c| (None, unit_hash(&c.unit)));
        ExcludedPart { reason: reason.to_owned(), items: exposures.chain(conversions).collect() }
    }
}

/// The exposure a bot's evaluation would have made its SDK send (an evaluation in an
/// experiment, before [`super::untracked`]), in queued form: what the iterations exclude for it.
/// A bot's SDK sends none, so it is known only here. `units`: `queued::units` of the context.
pub fn would_be_exposure(
    key: &str,
    flag: &serde_json::Value,
    units: &[(String, String)],
    now: i64,
) -> Option<QueuedEvent> {
    let reason = flag.get("reason")?;
    if reason.get("inExperiment")?.as_bool() != Some(true) {
        return None;
    }
    Some(QueuedEvent::Feature {
        k: key.to_owned(),
        t: now,
        v: u32::try_from(flag.get("variation")?.as_u64()?).ok()?,
        x: Some(true),
        r: reason.get("ruleId").and_then(|r| r.as_str()).map(str::to_owned),
        u: units.to_vec(),
    })
}

impl ExcludedCounts {
    pub fn add(&mut self, part: &ExcludedPart) {
        let rows = self.0.entry(part.reason.clone()).or_default();
        for (variation, unit) in &part.items {
            let key = variation.map_or_else(|| CONVERSION.to_owned(), |v| v.to_string());
            let tally = rows.entry(key).or_default();
            tally.events += 1;
            tally.units.insert(*unit);
        }
    }

    pub fn merge(&mut self, other: &ExcludedCounts) {
        for (reason, rows) in &other.0 {
            let mine = self.0.entry(reason.clone()).or_default();
            for (variation, tally) in rows {
                let t = mine.entry(variation.clone()).or_default();
                t.events += tally.events;
                t.units.merge(&tally.units);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The results' summary, against the iteration's exposed units (included) per variation.
    /// The summary, against the included exposed units per variation (`exposed`) and the
    /// treatments' allocation (`weights`, per variation) for the balance check.
    pub fn summary(&self, exposed: &BTreeMap<usize, u64>, weights: &BTreeMap<usize, f64>) -> ExcludedSummary {
        let mut all = UnitSketch::default();
        let mut events = 0;
        let mut by_reason = BTreeMap::new();
        let mut by_variation: BTreeMap<usize, (UnitSketch, u64)> = BTreeMap::new();
        let mut conversions = 0;
        for (reason, rows) in &self.0 {
            let mut units = UnitSketch::default();
            let mut reason_events = 0;
            for (variation, tally) in rows {
                units.merge(&tally.units);
                reason_events += tally.events;
                match variation.parse::<usize>() {
                    Ok(v) => {
                        let row = by_variation.entry(v).or_default();
                        row.0.merge(&tally.units);
                        row.1 += tally.events;
                    }
                    Err(_) => conversions += tally.events,
                }
            }
            all.merge(&units);
            events += reason_events;
            by_reason.insert(reason.clone(), ExcludedFigures { units: units.count(), events: reason_events });
        }
        let exposed_units: u64 = exposed.values().sum();
        let by_variation = by_variation
            .into_iter()
            .map(|(variation, (units, events))| {
                let units = units.count();
                let included = exposed.get(&variation).copied().unwrap_or(0);
                ExcludedVariation { variation, units, events, share: share(units, included) }
            })
            .collect::<Vec<_>>();
        let exposed_bots: u64 = by_variation.iter().map(|v| v.units).sum();
        let share = share(exposed_bots, exposed_units);
        let health = ExcludedHealth::of(share, &by_variation, weights);
        ExcludedSummary { units: all.count(), events, conversion_events: conversions, share, by_reason, by_variation, health }
    }
}

fn share(excluded: u64, included: u64) -> f64 {
    let total = excluded + included;
    if total == 0 { 0.0 } else { excluded as f64 / total as f64 }
}

/// An iteration's exclusions in its results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExcludedSummary {
    /// Distinct bot units excluded (exact up to 256 per reason and variation, then estimated
    /// within about 1.6 %).
    pub units: u64,
    /// Events excluded: the exposures and metric conversions the iteration would have counted.
    pub events: u64,
    /// Of those, conversions (their variation is unknown: bots are never attributed).
    pub conversion_events: u64,
    /// Excluded exposed units / (excluded + included exposed units).
    pub share: f64,
    pub by_reason: BTreeMap<String, ExcludedFigures>,
    /// By the variation the bots were served (and would have been counted in).
    pub by_variation: Vec<ExcludedVariation>,
    pub health: ExcludedHealth,
}

/// Above this share of exposed units excluded, the results warn (`highShare`): the audience the
/// experiment measures is much smaller than the traffic it got.
pub const HIGH_SHARE: f64 = 0.25;

/// Health checks on an iteration's exclusions: their share, and whether they fall on the arms as
/// the allocation does (a bot filter that excludes one arm's units more than another's biases the
/// comparison: a chi-square test of the excluded units per variation against the allocation,
/// mismatch at p < 0.001, as the sample-ratio check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ExcludedHealth))]
pub struct ExcludedHealth {
    pub high_share: bool,
    /// The balance test; null with fewer than two variations or no excluded exposed unit.
    pub balance: Option<crate::stats::srm::Srm>,
    pub unbalanced: bool,
}

impl ExcludedHealth {
    fn of(share: f64, by_variation: &[ExcludedVariation], weights: &BTreeMap<usize, f64>) -> Self {
        let observed: Vec<u64> = weights.keys().map(|v| by_variation.iter().find(|x| x.variation == *v).map_or(0, |x| x.units)).collect();
        let w: Vec<f64> = weights.values().copied().collect();
        let balance = crate::stats::srm::srm(&observed, &w);
        ExcludedHealth { high_share: share > HIGH_SHARE, unbalanced: balance.as_ref().is_some_and(|b| b.mismatch), balance }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExcludedFigures {
    pub units: u64,
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExcludedVariation {
    pub variation: usize,
    pub units: u64,
    pub events: u64,
    /// Excluded / (excluded + included) exposed units of this variation.
    pub share: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sketch_is_exact_while_small_and_close_after() {
        let mut s = UnitSketch::default();
        for i in 0..EXACT_UNITS as u64 {
            s.insert(unit_hash(&format!("u{i}")));
            s.insert(unit_hash(&format!("u{i}")));
        }
        assert_eq!(s.count(), EXACT_UNITS as u64);
        assert!(matches!(s, UnitSketch::Exact(_)));
        for n in [1_000u64, 10_000, 100_000] {
            let mut s = UnitSketch::default();
            (0..n).for_each(|i| s.insert(unit_hash(&format!("bot-{i}"))));
            let error = (s.count() as f64 - n as f64).abs() / n as f64;
            assert!(error < 0.05, "{n}: estimated {}", s.count());
        }
    }

    #[test]
    fn merging_sketches_counts_the_union() {
        let (mut a, mut b, mut both) = (UnitSketch::default(), UnitSketch::default(), UnitSketch::default());
        for i in 0..3_000u64 {
            let h = unit_hash(&format!("u{i}"));
            if i < 2_000 { a.insert(h) }
            if i >= 1_000 { b.insert(h) }
            both.insert(h);
        }
        let mut small = UnitSketch::default();
        small.insert(unit_hash("u1"));
        small.insert(unit_hash("new"));
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged, both, "register-wise max is the union's sketch");
        let mut exact = small.clone();
        exact.merge(&small);
        assert_eq!(exact.count(), 2);
        merged.merge(&small);
        assert!((merged.count() as i64 - 3_001).abs() < 150);
        let json = serde_json::to_string(&merged).unwrap();
        assert_eq!(serde_json::from_str::<UnitSketch>(&json).unwrap(), merged);
    }

    #[test]
    fn a_bots_evalx_would_have_exposed_it_to_the_experiments_it_is_in() {
        let flags = serde_json::json!({
            "exp": {"value": true, "variation": 1, "trackEvents": true, "reason": {"kind": "RULE_MATCH", "ruleId": "r1", "inExperiment": true}},
            "plain": {"value": 1, "variation": 0, "trackEvents": false},
            "outside": {"value": 1, "variation": 0, "reason": {"kind": "FALLTHROUGH"}}
        });
        let json = serde_json::json!({"kind": "user", "key": "bot-1"});
        let context = crate::Context::from_context(&json).unwrap();
        let units = crate::queued::units(&context);
        let out: Vec<QueuedEvent> = flags.as_object().unwrap().iter().filter_map(|(k, f)| would_be_exposure(k, f, &units, 7)).collect();
        assert_eq!(out, vec![QueuedEvent::Feature {
            k: "exp".into(), t: 7, v: 1, x: Some(true), r: Some("r1".into()), u: vec![("user".into(), "bot-1".into())],
        }]);
    }

    #[test]
    fn the_summary_counts_by_reason_and_variation_against_the_included_units() {
        let mut c = ExcludedCounts::default();
        c.add(&ExcludedPart { reason: "ua".into(), items: vec![(Some(0), 1), (Some(0), 1), (Some(1), 2), (None, 2)] });
        let mut other = ExcludedCounts::default();
        other.add(&ExcludedPart { reason: "cf_score".into(), items: vec![(Some(1), 3)] });
        other.add(&ExcludedPart { reason: "ua".into(), items: vec![(Some(1), 4)] });
        c.merge(&other);
        let s = c.summary(&BTreeMap::from([(0, 9), (1, 6)]), &BTreeMap::from([(0, 50.0), (1, 50.0)]));
        assert_eq!((s.units, s.events, s.conversion_events), (4, 6, 1));
        assert_eq!(s.by_reason["ua"], ExcludedFigures { units: 3, events: 5 });
        assert_eq!(s.by_reason["cf_score"], ExcludedFigures { units: 1, events: 1 });
        assert_eq!(s.by_variation, vec![
            ExcludedVariation { variation: 0, units: 1, events: 2, share: 0.1 },
            ExcludedVariation { variation: 1, units: 3, events: 3, share: 1.0 / 3.0 },
        ]);
        assert!((s.share - 4.0 / 19.0).abs() < 1e-12);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(serde_json::from_value::<ExcludedCounts>(json).unwrap(), c);
    }

    #[test]
    fn health_flags_a_high_share_and_exclusions_falling_on_one_arm() {
        let mut c = ExcludedCounts::default();
        let part = |v: usize, n: u64| ExcludedPart { reason: "ua".into(), items: (0..n).map(|i| (Some(v), unit_hash(&format!("{v}-{i}")))).collect() };
        c.add(&part(0, 10));
        c.add(&part(1, 90));
        let even = BTreeMap::from([(0, 50.0), (1, 50.0)]);
        let s = c.summary(&BTreeMap::from([(0, 1000), (1, 1000)]), &even);
        assert!(s.health.unbalanced && !s.health.high_share, "{:?}", s.health);
        let mut d = ExcludedCounts::default();
        d.add(&part(0, 400));
        d.add(&part(1, 410));
        let s = d.summary(&BTreeMap::from([(0, 1000), (1, 1000)]), &even);
        assert!(!s.health.unbalanced && s.health.high_share, "{:?}", s.health);
        assert!(ExcludedCounts::default().summary(&BTreeMap::new(), &even).health.balance.is_none());
    }

    #[test]
    fn parts_keep_their_hashes_through_javascript_numbers() {
        let part = ExcludedPart { reason: "ua".into(), items: vec![(Some(1), u64::MAX - 1), (None, 7)] };
        let text = serde_json::to_string(&part).unwrap();
        assert_eq!(text, r#"{"reason":"ua","items":[[1,"fffffffffffffffe"],[null,"0000000000000007"]]}"#);
        assert_eq!(serde_json::from_str::<ExcludedPart>(&text).unwrap(), part);
    }
}

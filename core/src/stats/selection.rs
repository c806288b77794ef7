//! Exact order statistics of values spread over shards, in two reads whatever the number of units.
//!
//! Each shard keeps, per (metric, variation), how many of its values fall in each *bucket*: a
//! value's bucket is its IEEE-754 bit pattern with the low mantissa bits dropped
//! ([`BUCKETS_PER_OCTAVE`] buckets per power of two, each about 4.4% wide), so buckets are ordered
//! like the values and each bucket's value range is exact ([`bucket`], [`range`]). The shards'
//! bucket counts locate the bucket holding a rank and the values below it ([`locate`]); that
//! bucket's distinct values with their multiplicities settle the rank ([`pick`]). The cost is
//! the number of buckets plus the distinct values of one bucket, not the number of units: a run
//! of equal values is one entry however long it is.

use std::collections::BTreeMap;

/// Mantissa bits a bucket keeps: 2⁴ = 16 buckets per power of two.
const KEPT_BITS: u32 = 4;
pub const BUCKETS_PER_OCTAVE: u32 = 1 << KEPT_BITS;
const SHIFT: u32 = 52 - KEPT_BITS;

/// The bucket of `x`: 0 for zero, ±(1 + the top bits of |x|) by sign, so `x < y` implies
/// `bucket(x) <= bucket(y)`. (Values are finite: metric values are bounded at ingest.)
pub fn bucket(x: f64) -> i64 {
    if x == 0.0 || x.is_nan() {
        return 0;
    }
    let magnitude = (x.abs().to_bits() >> SHIFT) as i64 + 1;
    if x > 0.0 {
        magnitude
    } else {
        -magnitude
    }
}

/// The smallest and largest `f64` of bucket `b` (both included): exactly the values whose
/// [`bucket`] is `b`, for a range query on the stored values.
pub fn range(b: i64) -> (f64, f64) {
    let m = b.unsigned_abs();
    if m == 0 {
        return (0.0, 0.0);
    }
    let low = f64::from_bits(((m - 1) << SHIFT).max(1));
    let high = f64::from_bits((m << SHIFT) - 1);
    if b > 0 {
        (low, high)
    } else {
        (-high, -low)
    }
}

/// Where a rank falls: its bucket, and how many values lie in lower buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub bucket: i64,
    pub below: u64,
}

/// The bucket holding the `rank`-th smallest value (1-based) of all shards, from each shard's
/// (bucket, count) pairs; `None` when there are fewer values than `rank`.
pub fn locate(shards: &[Vec<(i64, u64)>], rank: u64) -> Option<Located> {
    let mut totals: BTreeMap<i64, u64> = BTreeMap::new();
    for (b, n) in shards.iter().flatten() {
        *totals.entry(*b).or_default() += n;
    }
    let mut below = 0u64;
    for (bucket, n) in totals {
        if rank > below && rank <= below + n {
            return Some(Located { bucket, below });
        }
        below += n;
    }
    None
}

/// The `rank`-th smallest value (1-based) of one bucket, from each shard's distinct values in it
/// with their counts; `None` when the bucket holds fewer values.
pub fn pick(shards: &[Vec<(f64, u64)>], rank: u64) -> Option<f64> {
    let mut values: Vec<(f64, u64)> = shards.iter().flatten().copied().collect();
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut seen = 0u64;
    for (value, n) in values {
        seen += n;
        if rank <= seen && rank > 0 {
            return Some(value);
        }
    }
    None
}

/// Where one unit's value of a percentile metric counts: its variation and value, or nowhere.
pub type Point = Option<(u32, f64)>;

/// The changes to a shard's bucket counts when units' points move from `before` to `after`, by
/// (metric, variation, bucket), zero changes left out.
pub fn bucket_deltas<'a>(
    moves: impl IntoIterator<Item = (&'a str, Point, Point)>,
) -> BTreeMap<(String, u32, i64), i64> {
    let mut out: BTreeMap<(String, u32, i64), i64> = BTreeMap::new();
    for (metric, before, after) in moves {
        for (point, sign) in [(before, -1), (after, 1)] {
            if let Some((variation, x)) = point {
                *out.entry((metric.to_owned(), variation, bucket(x))).or_default() += sign;
            }
        }
    }
    out.retain(|_, n| *n != 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A shard's bucket counts, and its distinct values with counts by bucket.
    type ShardView = (Vec<(i64, u64)>, BTreeMap<i64, Vec<(f64, u64)>>);

    /// What a shard stores for one arm.
    fn shard_view(values: &[f64]) -> ShardView {
        let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
        let mut distinct: BTreeMap<i64, Vec<(f64, u64)>> = BTreeMap::new();
        for &x in values {
            *counts.entry(bucket(x)).or_default() += 1;
            let list = distinct.entry(bucket(x)).or_default();
            match list.iter_mut().find(|(v, _)| *v == x) {
                Some(entry) => entry.1 += 1,
                None => list.push((x, 1)),
            }
        }
        (counts.into_iter().collect(), distinct)
    }

    /// The two reads of the results route: locate, then pick within the located bucket.
    fn order_statistic(shards: &[Vec<f64>], rank: u64) -> Option<f64> {
        let views: Vec<_> = shards.iter().map(|s| shard_view(s)).collect();
        let counts: Vec<Vec<(i64, u64)>> = views.iter().map(|v| v.0.clone()).collect();
        let at = locate(&counts, rank)?;
        let inside: Vec<Vec<(f64, u64)>> = views
            .iter()
            .map(|v| v.1.get(&at.bucket).cloned().unwrap_or_default())
            .collect();
        pick(&inside, rank - at.below)
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-50i32..50).prop_map(f64::from),
            (-1e15f64..1e15),
            (-1e-3f64..1e-3),
            prop::sample::select(vec![0.0, -0.0, 1.0, 1.0625, 1.0624999999999998, 5e-324, -5e-324, 1e15, -1e15]),
        ]
    }

    proptest! {
        // Any values (ties, signs, zeros, subnormals), any split over shards: the exact order
        // statistic of the whole, at every rank.
        #[test]
        fn equals_the_sorted_whole(values in prop::collection::vec((0usize..8, value()), 1..300), q in 0.0f64..1.0) {
            let mut shards = vec![Vec::new(); 8];
            for (s, v) in &values {
                shards[*s].push(*v);
            }
            let mut all: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
            all.sort_by(f64::total_cmp);
            let rank = ((q * all.len() as f64).ceil() as u64).clamp(1, all.len() as u64);
            let got = order_statistic(&shards, rank).unwrap();
            // -0.0 and 0.0 are one value (SQL compares them equal).
            prop_assert_eq!(got, all[rank as usize - 1]);
        }

        // Buckets are ordered like values, and a bucket's range holds exactly its values.
        #[test]
        fn buckets_follow_the_order(x in value(), y in value()) {
            let (lo, hi) = (x.min(y), x.max(y));
            prop_assert!(bucket(lo) <= bucket(hi));
            let (a, b) = range(bucket(x));
            prop_assert!(a <= x && x <= b, "{} not in [{}, {}]", x, a, b);
            prop_assert_eq!(bucket(a), bucket(x));
            prop_assert_eq!(bucket(b), bucket(x));
        }
    }

    #[test]
    fn moves_change_the_counts_of_both_buckets() {
        let d = bucket_deltas([
            ("p90", Some((0, 10.0)), Some((0, 20.0))),
            ("p90", None, Some((1, 10.0))),
            ("p90", Some((1, 5.0)), Some((1, 5.0))),
            ("p50", Some((0, 1.0)), None),
        ]);
        let b = |m: &str, v: u32, x: f64| (m.to_owned(), v, bucket(x));
        assert_eq!(
            d.into_iter().collect::<Vec<_>>(),
            vec![(b("p50", 0, 1.0), -1), (b("p90", 0, 10.0), -1), (b("p90", 0, 20.0), 1), (b("p90", 1, 10.0), 1)]
        );
    }

    #[test]
    fn bucket_edges_are_exact() {
        // 1.0 and 1.0625 = 1 + 1/16 open consecutive buckets; the float just below 1.0625 closes
        // the first.
        assert_eq!(bucket(1.0624999999999998), bucket(1.0));
        assert_eq!(bucket(1.0625), bucket(1.0) + 1);
        assert_eq!(range(bucket(1.0)), (1.0, 1.0624999999999998));
        assert_eq!(range(bucket(-1.0)), (-1.0624999999999998, -1.0));
        assert_eq!((bucket(0.0), bucket(-0.0)), (0, 0));
        assert_eq!(range(0), (0.0, 0.0));
        assert!(bucket(5e-324) > 0 && range(bucket(5e-324)).0 == 5e-324);
    }

    #[test]
    fn a_long_run_of_equal_values_is_one_entry() {
        // 90% of 40,000 units share one value: the bucket holding the median lists 1 value.
        let mut shards = vec![Vec::new(); 16];
        for u in 0..40_000u64 {
            let x = if u % 10 == 0 { (u % 7) as f64 + 100.0 } else { 49.99 };
            shards[crate::aggregates::shard_of(&format!("u{u}"), 16) as usize].push(x);
        }
        let views: Vec<_> = shards.iter().map(|s| shard_view(s)).collect();
        let counts: Vec<Vec<(i64, u64)>> = views.iter().map(|v| v.0.clone()).collect();
        let at = locate(&counts, 20_000).unwrap();
        let inside: Vec<Vec<(f64, u64)>> =
            views.iter().map(|v| v.1.get(&at.bucket).cloned().unwrap_or_default()).collect();
        assert!(inside.iter().all(|s| s.len() == 1), "{inside:?}");
        assert_eq!(pick(&inside, 20_000 - at.below), Some(49.99));
        assert_eq!(locate(&counts, 40_001), None);
    }
}

//! Exact order statistics of values spread over shards, without gathering them all.
//!
//! Units are spread over shards by a hash, so each shard's values are a random sample of the
//! whole: the global r-th smallest value lies near each shard's local rank r·nᵢ/N. A shard sends
//! a window of its sorted values around that rank ([`plan`]); [`select`] merges the windows and
//! answers the r-th value only when every shard's window provably brackets it, so the answer is
//! exact or absent (then the caller asks again with wider windows, up to the whole shard).

/// Which of a shard's sorted values to read: `limit` values from 0-based `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: u64,
    pub limit: u64,
}

/// A shard's answer: its number of values and the sorted values of its window.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardValues {
    pub n: u64,
    pub offset: u64,
    pub values: Vec<f64>,
}

/// Windows, one per shard (by its count of values), covering global ranks `lo..=hi` (1-based)
/// with a margin of `widen` × (√nᵢ + 10) local ranks; `widen` = `u64::MAX` reads everything.
pub fn plan(counts: &[u64], lo: u64, hi: u64, widen: u64) -> Vec<Window> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&n| {
            if total == 0 || n == 0 {
                return Window { offset: 0, limit: 0 };
            }
            let share = |r: u64| (r as f64 * n as f64 / total as f64) as u64;
            let margin = widen.saturating_mul((n as f64).sqrt() as u64 + 10);
            let offset = share(lo).saturating_sub(margin);
            let end = share(hi).saturating_add(margin).saturating_add(1).min(n);
            Window { offset, limit: end.saturating_sub(offset) }
        })
        .collect()
}

/// The value that is the `rank`-th smallest if every window is where it should be; to be proven
/// by [`select`]'s bracketing or by exact counts ([`confirms`]).
pub fn candidate(shards: &[ShardValues], rank: u64) -> Option<f64> {
    let mut merged: Vec<f64> = shards.iter().flat_map(|s| s.values.iter().copied()).collect();
    merged.sort_by(f64::total_cmp);
    let below: u64 = shards.iter().map(|s| s.offset).sum();
    let k = rank.checked_sub(below)?.checked_sub(1)?;
    merged.get(usize::try_from(k).ok()?).copied()
}

/// Does `v` hold rank `rank`, given each shard's exact counts of values `< v` and `<= v`?
/// (Settles ties, which windows inside a run of equal values cannot.)
pub fn confirms(counts: &[(u64, u64)], rank: u64) -> bool {
    let lt: u64 = counts.iter().map(|c| c.0).sum();
    let le: u64 = counts.iter().map(|c| c.1).sum();
    lt < rank && rank <= le
}

/// The global `rank`-th smallest value (1-based), if the windows prove it.
pub fn select(shards: &[ShardValues], rank: u64) -> Option<f64> {
    let v = candidate(shards, rank)?;
    let (mut lt, mut le) = (0u64, 0u64);
    for s in shards {
        let end = s.offset + s.values.len() as u64;
        let low_ok = s.offset == 0 || s.values.first().is_some_and(|&f| f < v);
        let high_ok = end == s.n || s.values.last().is_some_and(|&l| v < l);
        if s.n > 0 && !(low_ok && high_ok) {
            return None;
        }
        lt += s.offset + s.values.iter().filter(|&&x| x < v).count() as u64;
        le += s.offset + s.values.iter().filter(|&&x| x <= v).count() as u64;
    }
    (lt < rank && rank <= le).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn answer(shards: &[Vec<f64>], windows: &[Window]) -> Vec<ShardValues> {
        shards
            .iter()
            .zip(windows)
            .map(|(s, w)| ShardValues {
                n: s.len() as u64,
                offset: w.offset,
                values: s.iter().skip(w.offset as usize).take(w.limit as usize).copied().collect(),
            })
            .collect()
    }

    /// Select by widening rounds, with the count check, as the results route does.
    fn order_statistic(shards: &[Vec<f64>], rank: u64) -> f64 {
        let counts: Vec<u64> = shards.iter().map(|s| s.len() as u64).collect();
        for widen in [1, 4, u64::MAX] {
            let got = answer(shards, &plan(&counts, rank, rank, widen));
            if let Some(v) = select(&got, rank) {
                return v;
            }
            if let Some(v) = candidate(&got, rank) {
                let exact: Vec<(u64, u64)> = shards
                    .iter()
                    .map(|s| {
                        let lt = s.iter().filter(|&&x| x < v).count() as u64;
                        (lt, s.iter().filter(|&&x| x <= v).count() as u64)
                    })
                    .collect();
                if confirms(&exact, rank) {
                    return v;
                }
            }
        }
        panic!("reading everything must prove the answer");
    }

    proptest! {
        // Any split (even a skewed one), duplicates included: the exact order statistic.
        #[test]
        fn equals_the_sorted_whole(
            values in prop::collection::vec((0u32..8, 0i32..50), 1..400),
            q in 0.0f64..1.0,
        ) {
            let mut shards = vec![Vec::new(); 8];
            for (s, v) in &values {
                shards[*s as usize].push(f64::from(*v));
            }
            for s in &mut shards {
                s.sort_by(f64::total_cmp);
            }
            let mut all: Vec<f64> = values.iter().map(|(_, v)| f64::from(*v)).collect();
            all.sort_by(f64::total_cmp);
            let rank = ((q * all.len() as f64).ceil() as u64).clamp(1, all.len() as u64);
            prop_assert_eq!(order_statistic(&shards, rank), all[rank as usize - 1]);
        }
    }

    #[test]
    fn ties_are_settled_by_counts() {
        // 90% zeros: every window sits inside the run of zeros, which only counts can settle.
        let mut shards = vec![Vec::new(); 4];
        for u in 0..4000u64 {
            let x = if u % 10 == 0 { (u % 7) as f64 + 1.0 } else { 0.0 };
            shards[(u % 4) as usize].push(x);
        }
        for s in &mut shards {
            s.sort_by(f64::total_cmp);
        }
        let counts: Vec<u64> = shards.iter().map(|s| s.len() as u64).collect();
        let got = answer(&shards, &plan(&counts, 2000, 2000, 1));
        assert_eq!(select(&got, 2000), None, "windows alone cannot prove it");
        assert_eq!(candidate(&got, 2000), Some(0.0));
        assert!(confirms(&[(0, 900), (0, 900), (0, 900), (0, 900)], 2000));
        assert!(!confirms(&[(0, 400), (0, 400), (0, 400), (0, 400)], 2000));
    }

    #[test]
    fn hashed_split_needs_one_round() {
        // 16 shards by a hash of the unit: the first, narrow windows already prove the answer.
        let mut shards = vec![Vec::new(); 16];
        for u in 0..20_000u64 {
            let x = (u * 7919 % 10_007) as f64 / 10.0;
            shards[crate::aggregates::shard_of(&format!("u{u}"), 16) as usize].push(x);
        }
        for s in &mut shards {
            s.sort_by(f64::total_cmp);
        }
        let counts: Vec<u64> = shards.iter().map(|s| s.len() as u64).collect();
        let w = plan(&counts, 17_900, 18_100, 1);
        let read: u64 = w.iter().map(|w| w.limit).sum();
        assert!(read < 20_000 / 4, "read {read}");
        let mut all: Vec<f64> = shards.iter().flatten().copied().collect();
        all.sort_by(f64::total_cmp);
        let got = answer(&shards, &w);
        for rank in [17_900, 18_000, 18_100] {
            assert_eq!(select(&got, rank), Some(all[rank as usize - 1]));
        }
    }
}

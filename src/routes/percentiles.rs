//! Order statistics of an iteration's percentile metrics, read from its counter shards, exact
//! (`core::stats::selection`): the shards' bucket counts, read with their aggregates, locate the
//! bucket of each rank; one more read of those buckets' distinct values settles it. Two reads of
//! the shards whatever the number of units.

use crate::error::ApiError;
use crate::store::shards::{self, Arm, BucketPick, BucketValues, ShardCommand, ShardSummary};
use edge_exp_core::experiment::Iteration;
use edge_exp_core::results::{QuantileValues, Quantiles};
use edge_exp_core::stats::quantile;
use edge_exp_core::stats::selection::{locate, pick};
use worker::Env;

/// Rounds of (bucket counts, bucket values) before an arm whose counts keep moving under the
/// reads (events arriving) is left out of the results (`not_comparable`) rather than guessed.
const ATTEMPTS: usize = 3;

/// The arms of the iteration's percentile metrics, with their percentiles.
pub fn arms(it: &Iteration) -> Vec<(Arm, u8)> {
    let mut out = Vec::new();
    for m in &it.metrics {
        let Some(p) = m.percentile else { continue };
        for t in &it.treatments {
            let arm = Arm {
                metric: m.key.clone(),
                variation: t.variation as u32,
            };
            out.push((arm, p));
        }
    }
    out
}

/// The order statistics of every percentile arm, from the shards' summaries (their bucket
/// counts listed in `arms` order).
pub async fn read(
    env: &Env,
    objects: &[String],
    arms: &[(Arm, u8)],
    summaries: &[ShardSummary],
) -> Result<Quantiles, ApiError> {
    let mut out = Quantiles::new();
    let mut pending: Vec<usize> = (0..arms.len()).collect();
    let mut counts: Vec<Vec<Vec<(i64, u64)>>> = (0..arms.len())
        .map(|i| summaries.iter().map(arm_buckets(i)).collect())
        .collect();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 && !pending.is_empty() {
            let again = recount(env, objects, arms, &pending).await?;
            for (&i, per_shard) in pending.iter().zip(again) {
                counts[i] = per_shard;
            }
        }
        let settled = settle(env, objects, arms, &pending, &counts).await?;
        pending.retain(|i| !settled.iter().any(|(j, _)| j == i));
        for (i, q) in settled {
            let arm = &arms[i].0;
            out.insert((arm.metric.clone(), arm.variation), q);
        }
        if pending.is_empty() {
            break;
        }
    }
    Ok(out)
}

/// Bucket counts of arm `i` in a shard's summary (none if the shard did not answer for it).
fn arm_buckets(i: usize) -> impl Fn(&ShardSummary) -> Vec<(i64, u64)> {
    move |summary| summary.buckets.get(i).cloned().unwrap_or_default()
}

/// The pending arms' bucket counts read again, per arm then per shard.
async fn recount(
    env: &Env,
    objects: &[String],
    arms: &[(Arm, u8)],
    pending: &[usize],
) -> Result<Vec<Vec<Vec<(i64, u64)>>>, ApiError> {
    let asked: Vec<Arm> = pending.iter().map(|&i| arms[i].0.clone()).collect();
    let summaries: Vec<ShardSummary> = shards::call_each(env, objects, |_| ShardCommand::Summary {
        arms: asked.clone(),
    })
    .await?;
    Ok((0..pending.len())
        .map(|k| summaries.iter().map(arm_buckets(k)).collect())
        .collect())
}

/// One rank of one arm: which bucket holds it and the rank within the whole.
struct Wanted {
    arm: usize,
    rank: u64,
    pick: usize,
}

/// Locate each pending arm's three ranks, read the buckets holding them, and return the arms
/// whose every rank the bucket values settle (those whose counts moved in between are not).
async fn settle(
    env: &Env,
    objects: &[String],
    arms: &[(Arm, u8)],
    pending: &[usize],
    counts: &[Vec<Vec<(i64, u64)>>],
) -> Result<Vec<(usize, QuantileValues)>, ApiError> {
    let mut picks: Vec<BucketPick> = Vec::new();
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut totals = Vec::new();
    for &i in pending {
        let total: u64 = counts[i].iter().flatten().map(|(_, n)| n).sum();
        let Some(r) = quantile::ranks(total, f64::from(arms[i].1) / 100.0) else {
            continue; // no values: the arm has no order statistics
        };
        totals.push((i, total));
        for rank in [r.estimate, r.lower, r.upper] {
            let Some(at) = locate(&counts[i], rank) else {
                continue;
            };
            let pick = BucketPick {
                arm: arms[i].0.clone(),
                bucket: at.bucket,
            };
            let index = match picks
                .iter()
                .position(|p| p.arm == pick.arm && p.bucket == pick.bucket)
            {
                Some(index) => index,
                None => {
                    picks.push(pick);
                    picks.len() - 1
                }
            };
            wanted.push(Wanted {
                arm: i,
                rank,
                pick: index,
            });
        }
    }
    if picks.is_empty() {
        return Ok(Vec::new());
    }
    let replies: Vec<Vec<BucketValues>> =
        shards::call_each(env, objects, |_| ShardCommand::Bucket {
            picks: picks.clone(),
        })
        .await?;
    Ok(totals
        .into_iter()
        .filter_map(|(i, n)| {
            let mut found = wanted
                .iter()
                .filter(|w| w.arm == i)
                .map(|w| value_at(&replies, w.pick, w.rank));
            let (estimate, lower, upper) = (found.next()??, found.next()??, found.next()??);
            Some((
                i,
                QuantileValues {
                    n,
                    estimate,
                    lower,
                    upper,
                },
            ))
        })
        .collect())
}

/// The value of global rank `rank` from every shard's reply for one bucket, when the replies
/// agree with themselves and the rank falls in that bucket as they count it now.
fn value_at(replies: &[Vec<BucketValues>], pick_index: usize, rank: u64) -> Option<f64> {
    let per_shard: Vec<&BucketValues> = replies
        .iter()
        .map(|r| r.get(pick_index))
        .collect::<Option<_>>()?;
    let consistent = per_shard
        .iter()
        .all(|b| b.values.iter().map(|(_, n)| n).sum::<u64>() == b.inside);
    let below: u64 = per_shard.iter().map(|b| b.below).sum();
    let inside: u64 = per_shard.iter().map(|b| b.inside).sum();
    if !consistent || rank <= below || rank > below + inside {
        return None;
    }
    let values: Vec<Vec<(f64, u64)>> = per_shard.iter().map(|b| b.values.clone()).collect();
    pick(&values, rank - below)
}

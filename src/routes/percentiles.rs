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
        if attempt > 0 {
            let again = recount(env, objects, arms, &pending).await?;
            for (&i, per_shard) in pending.iter().zip(again) {
                counts[i] = per_shard;
            }
        }
        let settled = settle(env, objects, arms, &pending, &counts).await?;
        pending.retain(|i| !settled.iter().any(|(j, _)| j == i));
        for (i, q) in settled {
            let arm = &arms[i].0;
            if let Some(q) = q {
                out.insert((arm.metric.clone(), arm.variation), q);
            }
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

/// One rank of one arm, and which of the buckets to read holds it.
struct Wanted {
    arm: usize,
    rank: u64,
    pick: usize,
}

/// What one round reads: the buckets holding the pending arms' ranks, each once.
#[derive(Default)]
struct Plan {
    picks: Vec<BucketPick>,
    wanted: Vec<Wanted>,
    /// The arms with values, and their number of values.
    totals: Vec<(usize, u64)>,
    /// The arms with no values: no order statistics.
    empty: Vec<usize>,
}

fn plan(arms: &[(Arm, u8)], pending: &[usize], counts: &[Vec<Vec<(i64, u64)>>]) -> Plan {
    let mut plan = Plan::default();
    for &i in pending {
        let total: u64 = counts[i].iter().flatten().map(|(_, n)| n).sum();
        let Some(r) = quantile::ranks(total, f64::from(arms[i].1) / 100.0) else {
            plan.empty.push(i);
            continue;
        };
        // All three ranks or none: `settle` reads an arm's values in rank order. (Ranks lie
        // within 1..=total, so each is located; an arm that were not would stay pending.)
        let located: Option<Vec<(u64, i64)>> = [r.estimate, r.lower, r.upper]
            .into_iter()
            .map(|rank| locate(&counts[i], rank).map(|at| (rank, at.bucket)))
            .collect();
        let Some(located) = located else { continue };
        plan.totals.push((i, total));
        for (rank, bucket) in located {
            let pick = BucketPick {
                arm: arms[i].0.clone(),
                bucket,
            };
            let known = plan
                .picks
                .iter()
                .position(|p| p.arm == pick.arm && p.bucket == pick.bucket);
            let index = known.unwrap_or_else(|| {
                plan.picks.push(pick);
                plan.picks.len() - 1
            });
            plan.wanted.push(Wanted {
                arm: i,
                rank,
                pick: index,
            });
        }
    }
    plan
}

/// Locate each pending arm's three ranks, read the buckets holding them, and return the arms
/// settled: with their order statistics when the bucket values settle every rank, with none when
/// the arm has no values; arms whose counts moved in between are not returned.
async fn settle(
    env: &Env,
    objects: &[String],
    arms: &[(Arm, u8)],
    pending: &[usize],
    counts: &[Vec<Vec<(i64, u64)>>],
) -> Result<Vec<(usize, Option<QuantileValues>)>, ApiError> {
    let plan = plan(arms, pending, counts);
    let mut settled: Vec<(usize, Option<QuantileValues>)> =
        plan.empty.iter().map(|&i| (i, None)).collect();
    if plan.picks.is_empty() {
        return Ok(settled);
    }
    let replies: Vec<Vec<BucketValues>> =
        shards::call_each(env, objects, |_| ShardCommand::Bucket {
            picks: plan.picks.clone(),
        })
        .await?;
    settled.extend(plan.totals.iter().filter_map(|&(i, n)| {
        let mut found = plan
            .wanted
            .iter()
            .filter(|w| w.arm == i)
            .map(|w| value_at(&replies, w.pick, w.rank));
        let (estimate, lower, upper) = (found.next()??, found.next()??, found.next()??);
        let q = QuantileValues {
            n,
            estimate,
            lower,
            upper,
        };
        Some((i, Some(q)))
    }));
    Ok(settled)
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

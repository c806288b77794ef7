//! Order statistics of an iteration's percentile metrics, read from its counter shards: exact
//! (`core::stats::selection`), reading windows of each shard's sorted values rather than all
//! of them; usually one round, widening only when a window does not bracket the answer.

use crate::error::ApiError;
use crate::store::shards::{self, ShardCommand, ValuesWindow};
use edge_exp_core::aggregates::Aggregates;
use edge_exp_core::experiment::Iteration;
use edge_exp_core::results::{QuantileValues, Quantiles};
use edge_exp_core::stats::quantile::{self, Ranks};
use edge_exp_core::stats::selection::{plan, select, ShardValues, Window};
use futures_util::future::try_join_all;
use worker::Env;

/// One arm of one percentile metric.
struct Target {
    metric: String,
    variation: u32,
    counts: Vec<u64>,
    total: u64,
    ranks: Ranks,
}

fn targets(it: &Iteration, per_shard: &[Aggregates]) -> Vec<Target> {
    let mut out = Vec::new();
    for m in &it.metrics {
        let Some(p) = m.percentile else { continue };
        for t in &it.treatments {
            let variation = t.variation as u32;
            let counts: Vec<u64> = per_shard
                .iter()
                .map(|a| a.moments(&m.key, variation).n)
                .collect();
            let total = counts.iter().sum();
            if let Some(ranks) = quantile::ranks(total, f64::from(p) / 100.0) {
                out.push(Target {
                    metric: m.key.clone(),
                    variation,
                    counts,
                    total,
                    ranks,
                });
            }
        }
    }
    out
}

/// The order statistics of every percentile metric × variation of the iteration.
pub async fn read(
    env: &Env,
    objects: &[String],
    it: &Iteration,
    per_shard: &[Aggregates],
) -> Result<Quantiles, ApiError> {
    let mut pending = targets(it, per_shard);
    let mut out = Quantiles::new();
    for widen in [1, 4, u64::MAX] {
        if pending.is_empty() {
            break;
        }
        let plans: Vec<Vec<Window>> = pending
            .iter()
            .map(|t| plan(&t.counts, t.ranks.lower, t.ranks.upper, widen))
            .collect();
        let replies = fetch(env, objects, &pending, &plans).await?;
        let mut unproven = Vec::new();
        for (j, t) in pending.into_iter().enumerate() {
            let shards: Vec<ShardValues> = replies
                .iter()
                .zip(&plans[j])
                .map(|(reply, w)| {
                    let (n, values) = reply.get(j).cloned().unwrap_or_default();
                    ShardValues {
                        n,
                        offset: w.offset,
                        values,
                    }
                })
                .collect();
            let pick = |rank| select(&shards, rank);
            match (
                pick(t.ranks.estimate),
                pick(t.ranks.lower),
                pick(t.ranks.upper),
            ) {
                (Some(estimate), Some(lower), Some(upper)) => {
                    let q = QuantileValues {
                        n: t.total,
                        estimate,
                        lower,
                        upper,
                    };
                    out.insert((t.metric, t.variation), q);
                }
                _ => unproven.push(t),
            }
        }
        pending = unproven;
    }
    // Still unproven after reading everything: the counts moved under us (events arriving);
    // those arms are left out and the results say so rather than guess.
    Ok(out)
}

/// One call per shard with its window of every pending target; replies in shard order.
async fn fetch(
    env: &Env,
    objects: &[String],
    pending: &[Target],
    plans: &[Vec<Window>],
) -> Result<Vec<Vec<(u64, Vec<f64>)>>, ApiError> {
    let calls = objects.iter().enumerate().map(|(i, object)| {
        let windows: Vec<ValuesWindow> = pending
            .iter()
            .zip(plans)
            .map(|(t, p)| ValuesWindow {
                metric: t.metric.clone(),
                variation: t.variation,
                offset: p[i].offset,
                limit: p[i].limit,
            })
            .collect();
        async move { shards::call(env, object, &ShardCommand::Values { windows }).await }
    });
    try_join_all(calls)
        .await?
        .into_iter()
        .map(|body| Ok(serde_json::from_value(body)?))
        .collect()
}

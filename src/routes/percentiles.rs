//! Order statistics of an iteration's percentile metrics, read from its counter shards: exact
//! (`core::stats::selection`), reading windows of each shard's sorted values rather than all
//! of them. A rank the windows cannot bracket (a run of equal values) is settled by exact counts
//! below and up to the candidate; failing that, the windows widen, up to whole shards.

use crate::error::ApiError;
use crate::store::shards::{self, ShardCommand, ValueProbe, ValuesWindow};
use edge_exp_core::aggregates::Aggregates;
use edge_exp_core::experiment::Iteration;
use edge_exp_core::results::{QuantileValues, Quantiles};
use edge_exp_core::stats::quantile::{self, Ranks};
use edge_exp_core::stats::selection::{candidate, confirms, plan, select, ShardValues, Window};
use worker::Env;

/// One arm of one percentile metric, and what is known of its three order statistics.
struct Target {
    metric: String,
    variation: u32,
    counts: Vec<u64>,
    total: u64,
    ranks: Ranks,
    /// Estimate, lower, upper, once proven.
    found: [Option<f64>; 3],
}

impl Target {
    fn ranks(&self) -> [u64; 3] {
        [self.ranks.estimate, self.ranks.lower, self.ranks.upper]
    }
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
                let (metric, found) = (m.key.clone(), [None; 3]);
                out.push(Target {
                    metric,
                    variation,
                    counts,
                    total,
                    ranks,
                    found,
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
        round(env, objects, &mut pending, widen).await?;
        let (done, rest): (Vec<Target>, Vec<Target>) = pending
            .into_iter()
            .partition(|t| t.found.iter().all(Option::is_some));
        for t in done {
            if let [Some(estimate), Some(lower), Some(upper)] = t.found {
                let q = QuantileValues {
                    n: t.total,
                    estimate,
                    lower,
                    upper,
                };
                out.insert((t.metric, t.variation), q);
            }
        }
        pending = rest;
    }
    // Still unproven after reading everything: the counts moved under us (events arriving);
    // those arms are left out (`not_comparable`) rather than guessed.
    Ok(out)
}

/// Read windows; prove what they bracket; settle the other ranks' candidates by exact counts.
async fn round(
    env: &Env,
    objects: &[String],
    pending: &mut [Target],
    widen: u64,
) -> Result<(), ApiError> {
    let plans: Vec<Vec<Window>> = pending
        .iter()
        .map(|t| plan(&t.counts, t.ranks.lower, t.ranks.upper, widen))
        .collect();
    let windows = |i: usize| -> Vec<ValuesWindow> {
        pending
            .iter()
            .zip(&plans)
            .map(|(t, p)| ValuesWindow {
                metric: t.metric.clone(),
                variation: t.variation,
                offset: p[i].offset,
                limit: p[i].limit,
            })
            .collect()
    };
    let replies: Vec<Vec<(u64, Vec<f64>)>> =
        shards::call_each(env, objects, |i| ShardCommand::Values {
            windows: windows(i),
        })
        .await?;
    let mut probes: Vec<(usize, usize, ValueProbe)> = Vec::new();
    for (j, t) in pending.iter_mut().enumerate() {
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
        for (k, rank) in t.ranks().into_iter().enumerate() {
            t.found[k] = t.found[k].or_else(|| select(&shards, rank));
            if let (None, Some(value)) = (t.found[k], candidate(&shards, rank)) {
                let probe = ValueProbe {
                    metric: t.metric.clone(),
                    variation: t.variation,
                    value,
                };
                probes.push((j, k, probe));
            }
        }
    }
    if probes.is_empty() {
        return Ok(());
    }
    let list: Vec<ValueProbe> = probes.iter().map(|p| p.2.clone()).collect();
    let counts: Vec<Vec<(u64, u64)>> = shards::call_each(env, objects, |_| ShardCommand::Counts {
        probes: list.clone(),
    })
    .await?;
    for (p, (j, k, probe)) in probes.into_iter().enumerate() {
        let exact: Vec<(u64, u64)> = counts.iter().filter_map(|c| c.get(p).copied()).collect();
        let t = &mut pending[j];
        if exact.len() == objects.len() && confirms(&exact, t.ranks()[k]) {
            t.found[k] = Some(probe.value);
        }
    }
    Ok(())
}

//! `/api/v2/projects/{p}/environments/{e}/experiments[/{key}[/results]]`: experiments, their
//! iterations (semantic-patch instructions `startIteration` / `stopIteration`) and results.

use crate::error::ApiError;
use crate::http::{header, json_of, now_ms, with_header, Timing};
use crate::routes::percentiles;
use crate::routes::rest::{authorize, require_environment, resource, Scope};
use crate::store::counters::{self, CounterCommand, ExperimentCounter};
use crate::store::projects::ProjectStore;
use crate::store::shards::{self, Arm, ShardCommand, ShardSummary};
use crate::store::{frozen, ObjectClass};
use edge_exp_core::aggregates::Aggregates;
use edge_exp_core::analysis::{AnalysisConfig, ResultsQuery};
use edge_exp_core::bots::excluded::ExcludedCounts;
use edge_exp_core::experiment::{Experiment, Iteration, MetricSnapshot};
use edge_exp_core::project::Command;
use edge_exp_core::results::{self, ExperimentResults, FrozenCounts, Inputs, Quantiles, Settings};
use edge_exp_core::Error;
use worker::{Env, Method, Request, Response};

/// The collection (`key` absent: list, create) or one experiment (get; patch with
/// semantic-patch instructions). Experiments are not deleted (LaunchDarkly archives them).
pub async fn route(
    req: &mut Request,
    env: &Env,
    (project, env_key): (&str, &str),
    key: Option<&str>,
) -> Result<Response, ApiError> {
    let place = (Scope::Environment(project, env_key), key);
    let (project, env_key) = (project.to_owned(), env_key.to_owned());
    resource(req, env, place, &[Method::Patch], |verb| {
        Command::Experiments {
            project,
            env: env_key,
            verb,
        }
    })
    .await
}

/// `GET .../experiments/{key}/results?metric=&iteration=&analysis=&difference=`; defaults: the
/// primary metric, the latest iteration, the experiment's analysis settings.
pub async fn results(
    req: &Request,
    env: &Env,
    project: &str,
    env_key: &str,
    key: &str,
) -> Result<Response, ApiError> {
    let mut timing = Timing::start();
    authorize(req, env, &[]).await?;
    require_environment(env, project, env_key).await?;
    timing.mark("auth");
    let query = ResultsQuery::parse(&crate::http::query(req))?;
    let command = Command::ExperimentData {
        env: env_key.into(),
        key: key.into(),
    };
    let experiment: Experiment = ProjectStore::call(env, project, &command).await?;
    timing.mark("experiment");
    let (iteration, metric) = pick(&experiment, &query)?;
    let now = clock(req, env);
    let place = (project, env_key, key);
    let ((aggregates, quantiles, excluded), source) =
        final_or_live_counts(env, place, iteration, now, &mut timing).await?;
    let settings = Settings {
        analysis: query.analysis.unwrap_or(experiment.analysis),
        config: AnalysisConfig {
            difference: query
                .difference
                .unwrap_or(experiment.analysis_config.difference),
            ..experiment.analysis_config
        },
    };
    let inputs = Inputs {
        iteration,
        aggregates: &aggregates,
        quantiles: &quantiles,
    };
    let all = results::compute_all(&inputs, &settings);
    let position = iteration.metrics.iter().position(|m| m.key == metric.key);
    let mine = position
        .and_then(|i| all.get(i))
        .ok_or_else(|| ApiError::internal("results of the metric were not computed"))?;
    let exposed = mine
        .variations
        .iter()
        .map(|v| (v.variation as usize, v.exposed_units))
        .collect();
    let weights = iteration
        .treatments
        .iter()
        .map(|t| {
            (
                t.variation,
                t.allocation_percent.trim().parse().unwrap_or(0.0),
            )
        })
        .collect();
    let out = ExperimentResults {
        excluded: excluded.summary(&exposed, &weights),
        experiment_key: key,
        flag_key: &experiment.flag_key,
        rule_id: iteration.rule_id.as_deref(),
        metrics: &experiment.metrics,
        counter_shards: iteration.counter_shards,
        counts_final: iteration.counts_final(now),
        results: mine,
    };
    timing.mark("compute");
    let resp = with_header(json_of(200, &out)?, "X-Edge-Exp-Counts", source);
    Ok(with_header(resp, "Server-Timing", &timing.header()))
}

/// Now, or with fault injection on (tests only) the `X-Edge-Exp-Now` header's Unix ms: the
/// tests' way to be a day after an iteration stopped.
fn clock(req: &Request, env: &Env) -> i64 {
    let test_now = || header(req, "X-Edge-Exp-Now")?.parse().ok();
    crate::ingest::fault_injection(env)
        .then(test_now)
        .flatten()
        .unwrap_or_else(now_ms)
}

/// The iteration's counts, and where they were read: from its shards (`shards`) or, once they
/// are final, from their frozen copy (`frozen`), which the first read after that writes.
async fn final_or_live_counts(
    env: &Env,
    (project, env_key, key): (&str, &str, &str),
    iteration: &Iteration,
    now: i64,
    timing: &mut Timing,
) -> Result<(Counts, &'static str), ApiError> {
    if !iteration.counts_final(now) {
        let live = counts(env, project, env_key, key, iteration, timing).await?;
        return Ok((live, "shards"));
    }
    let id = iteration.id.to_string();
    let place = [project, env_key, key, id.as_str()];
    if let Some(kept) = frozen::load(env, place).await? {
        timing.mark("frozen");
        return Ok((kept.into_parts(), "frozen"));
    }
    let (aggregates, quantiles, excluded) =
        counts(env, project, env_key, key, iteration, timing).await?;
    let kept = FrozenCounts::new(aggregates, &quantiles, excluded);
    // The copy only saves later reads: two first reads racing (KV takes one write per key per
    // second) or a failed write must not fail the answer, which the shards' counts give anyway.
    if let Err(ApiError(e)) = frozen::keep(env, place, &kept).await {
        worker::console_error!("frozen counts of `{key}` iteration {id} not kept: {e}");
    }
    Ok((kept.into_parts(), "shards"))
}

/// The iteration and metric a results query asks for (defaults: the latest, the primary).
fn pick<'a>(
    experiment: &'a Experiment,
    query: &ResultsQuery,
) -> Result<(&'a Iteration, &'a MetricSnapshot), ApiError> {
    let iteration = match query.iteration {
        None => experiment.current(),
        Some(id) => experiment.iterations.iter().find(|i| i.id == id),
    }
    .ok_or_else(|| {
        ApiError(Error::NotFound(format!(
            "experiment `{}` has no such iteration (start one first)",
            experiment.key
        )))
    })?;
    let metric = match &query.metric {
        Some(m) => iteration
            .metrics
            .iter()
            .find(|s| s.key == *m)
            .ok_or_else(|| {
                ApiError(Error::NotFound(format!(
                    "metric `{m}` is not in iteration {}",
                    iteration.id
                )))
            })?,
        None => iteration
            .metrics
            .iter()
            .find(|m| m.primary)
            .ok_or_else(|| ApiError(Error::BadRequest("the iteration has no metrics".into())))?,
    };
    Ok((iteration, metric))
}

/// An iteration's merged aggregates, its percentile metrics' order statistics and its bots'
/// exclusions.
type Counts = (Aggregates, Quantiles, ExcludedCounts);

/// The iteration's merged aggregates, its percentile metrics' order statistics and what its
/// shards excluded as bots.
async fn counts(
    env: &Env,
    project: &str,
    env_key: &str,
    key: &str,
    iteration: &Iteration,
    timing: &mut Timing,
) -> Result<Counts, ApiError> {
    let Some(k) = iteration.counter_shards else {
        // Iterations counted by the earlier single-object layout are read from it (they predate
        // percentile metrics: their snapshots have none).
        let object = counters::name(project, env_key, key, iteration.id);
        let command = CounterCommand::Aggregates {
            iteration: iteration.clone(),
        };
        let agg = ExperimentCounter::call(env, &object, &command).await?;
        timing.mark("aggregates");
        return Ok((agg, Quantiles::new(), ExcludedCounts::default()));
    };
    let objects: Vec<String> = (0..k)
        .map(|shard| shards::name(project, env_key, key, iteration.id, shard))
        .collect();
    // Every shard's aggregates, and its bucket counts of the percentile metrics' values:
    // O(shards × metrics × variations (× buckets)), whatever the units.
    let arms = percentiles::arms(iteration);
    let asked: Vec<Arm> = arms.iter().map(|(arm, _)| arm.clone()).collect();
    let summaries: Vec<ShardSummary> =
        shards::call_each(env, &objects, |_| ShardCommand::Summary {
            arms: asked.clone(),
        })
        .await?;
    timing.mark("aggregates");
    let quantiles = percentiles::read(env, &objects, &arms, &summaries).await?;
    timing.mark("percentiles");
    let mut merged = Aggregates::default();
    let mut excluded = ExcludedCounts::default();
    for s in &summaries {
        merged.merge(&s.aggregates);
        excluded.merge(&s.excluded);
    }
    Ok((merged, quantiles, excluded))
}

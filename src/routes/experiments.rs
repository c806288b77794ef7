//! `/api/v2/projects/{p}/environments/{e}/experiments[/{key}[/results]]`: experiments, their
//! iterations (semantic-patch instructions `startIteration` / `stopIteration`) and results.

use crate::error::ApiError;
use crate::http::{json, now_ms};
use crate::routes::body;
use crate::routes::rest::{authorize, reply, require_environment};
use crate::store::counters::{self, CounterCommand};
use crate::store::projects::{self, Command};
use crate::store::shards::{self, ShardCommand};
use edge_exp_core::aggregates::Aggregates;
use edge_exp_core::experiment::Experiment;
use edge_exp_core::results;
use futures_util::future::try_join_all;
use serde_json::json;
use worker::{Env, Method, Request, Response};

pub async fn collection(
    req: &mut Request,
    env: &Env,
    project: &str,
    env_key: &str,
) -> Result<Response, ApiError> {
    let method = authorize(req, env, &[Method::Post]).await?;
    require_environment(env, project, env_key).await?;
    let command = if method == Method::Get {
        Command::ExperimentList {
            project: project.into(),
            env: env_key.into(),
        }
    } else {
        Command::ExperimentCreate {
            project: project.into(),
            env: env_key.into(),
            body: body::json(req).await?,
            now: now_ms(),
        }
    };
    Ok(reply(projects::call(env, project, &command).await?))
}

pub async fn item(
    req: &mut Request,
    env: &Env,
    project: &str,
    env_key: &str,
    key: &str,
) -> Result<Response, ApiError> {
    let method = authorize(req, env, &[Method::Patch]).await?;
    require_environment(env, project, env_key).await?;
    let command = if method == Method::Get {
        Command::ExperimentGet {
            project: project.into(),
            env: env_key.into(),
            key: key.into(),
        }
    } else {
        Command::ExperimentPatch {
            project: project.into(),
            env: env_key.into(),
            key: key.into(),
            body: body::json(req).await?,
            now: now_ms(),
        }
    };
    Ok(reply(projects::call(env, project, &command).await?))
}

/// `GET .../experiments/{key}/results?metric={metricKey}&iteration={id}`; defaults: the primary
/// metric and the latest iteration.
pub async fn results(
    req: &Request,
    env: &Env,
    project: &str,
    env_key: &str,
    key: &str,
) -> Result<Response, ApiError> {
    authorize(req, env, &[]).await?;
    require_environment(env, project, env_key).await?;
    let experiment: Experiment = serde_json::from_value(
        projects::call_ok(
            env,
            project,
            &Command::ExperimentData {
                env: env_key.into(),
                key: key.into(),
            },
        )
        .await?,
    )?;
    let pairs = body::query_pairs(req)?;
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let iteration = match param("iteration") {
        None => experiment.current().cloned(),
        Some(v) => {
            let id: u32 = v.parse().map_err(|_| {
                ApiError::BadRequest(format!(
                    "`iteration` must be an iteration number, got `{v}`"
                ))
            })?;
            experiment.iterations.iter().find(|i| i.id == id).cloned()
        }
    }
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "experiment `{key}` has no such iteration (start one first)"
        ))
    })?;
    let metric = match param("metric") {
        Some(m) => m,
        None => iteration
            .metrics
            .iter()
            .find(|m| m.primary)
            .map(|m| m.key.clone())
            .ok_or_else(|| ApiError::BadRequest("the iteration has no metrics".into()))?,
    };
    let mut out = match iteration.counter_shards {
        Some(shards) => {
            let snapshot = iteration
                .metrics
                .iter()
                .find(|m| m.key == metric)
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "metric `{metric}` is not in iteration {}",
                        iteration.id
                    ))
                })?;
            let agg = merged_aggregates(env, project, env_key, key, iteration.id, shards).await?;
            let mut out = results::compute(&iteration, snapshot, &agg);
            out["counterShards"] = json!(shards);
            out
        }
        // Iterations counted by the earlier single-object layout are read from it.
        None => {
            let object = counters::name(project, env_key, key, iteration.id);
            counters::call(env, &object, &CounterCommand::Results { iteration, metric }).await?
        }
    };
    out["experimentKey"] = json!(key);
    out["flagKey"] = json!(experiment.flag_key);
    out["metrics"] = json!(experiment.metrics);
    Ok(json(200, &out))
}

/// Every shard's aggregates, added up: O(shards × metrics × variations), whatever the units.
async fn merged_aggregates(
    env: &Env,
    project: &str,
    env_key: &str,
    experiment: &str,
    iteration: u32,
    shards: u32,
) -> Result<Aggregates, ApiError> {
    let calls = (0..shards).map(|shard| {
        let object = shards::name(project, env_key, experiment, iteration, shard);
        async move { shards::call(env, &object, &ShardCommand::Aggregates).await }
    });
    let mut merged = Aggregates::default();
    for body in try_join_all(calls).await? {
        merged.merge(&serde_json::from_value(body)?);
    }
    Ok(merged)
}

//! `/api/v2/projects/{p}/flags/{f}/environments/{e}/measured-rollouts[/{id}[/series|/events]]`
//! (the path of LaunchDarkly's `DependentMeasuredRolloutRep._links.self`): a flag's guarded
//! rollouts, each with its latest check (kept by its `GuardedRollout` object), the series of its
//! checks, its transitions with their webhook deliveries, and `PATCH` with a human's semantic
//! patch (`pause`, `resume`, `advanceStage`, `rollBack`, `dismissRegression`). Rollouts start and
//! stop by the flag's own semantic patch (`core::project::rollouts`).

use crate::error::ApiError;
use crate::http::{json, json_of};
use crate::routes::rest::{authorize, require_environment};
use crate::routes::{auth, body};
use crate::store::config::Role;
use crate::store::projects::ProjectStore;
use crate::store::rollouts::{self, GuardedRollout, RolloutCommand};
use crate::store::ObjectClass;
use edge_exp_core::project::rollouts::RolloutVerb;
use edge_exp_core::project::Command;
use edge_exp_core::rollout::{Check, Delivery, MeasuredRollout, SeriesPoint};
use edge_exp_core::Error;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

/// Which flag's rollouts: project, environment, flag.
pub type Place<'a> = (&'a str, &'a str, &'a str);

#[derive(Deserialize)]
struct Watched {
    last: Option<Check>,
    series: Vec<SeriesPoint>,
    deliveries: Vec<Delivery>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    rollout: MeasuredRollout,
}

pub async fn route(
    req: &mut Request,
    env: &Env,
    place: Place<'_>,
    rest: &[&str],
) -> Result<Response, ApiError> {
    let (project, env_key, flag) = place;
    let method = authorize(req, env, &[Method::Patch]).await?;
    body::no_query(req)?;
    require_environment(env, project, env_key).await?;
    let command = |verb| Command::Rollouts {
        project: project.into(),
        env: env_key.into(),
        flag: flag.into(),
        verb,
    };
    match (rest, method) {
        ([], Method::Get) => {
            let list: Value = ProjectStore::call(env, project, &command(RolloutVerb::List)).await?;
            Ok(json(200, &list))
        }
        ([id], Method::Get) => {
            let (rollout, watched) = read(env, place, id).await?;
            json_of(200, &rollout.rep(project, watched.last.as_ref()))
        }
        ([id, "series"], Method::Get) => {
            let (_, watched) = read(env, place, id).await?;
            Ok(json(
                200,
                &json!({"items": watched.series, "totalCount": watched.series.len()}),
            ))
        }
        ([id, "events"], Method::Get) => {
            let (rollout, watched) = read(env, place, id).await?;
            Ok(json(
                200,
                &json!({"items": rollout.events, "totalCount": rollout.events.len(), "deliveries": watched.deliveries}),
            ))
        }
        ([id], Method::Patch) => {
            let token = auth::api_token(req, env, Role::Writer).await?;
            let verb = RolloutVerb::Act {
                id: (*id).into(),
                body: body::json(req).await?,
                member: Some(format!("token:{}", token.id)),
            };
            let value: Value = ProjectStore::call(env, project, &command(verb)).await?;
            Ok(json(200, &value))
        }
        ([_, ..], _) if rest.len() <= 2 => Err(ApiError::method_not_allowed()),
        _ => Err(ApiError(Error::NotFound(
            "no such guarded-rollout route".into(),
        ))),
    }
}

/// The stored rollout and what its object keeps of it.
async fn read(
    env: &Env,
    (project, env_key, flag): Place<'_>,
    id: &str,
) -> Result<(MeasuredRollout, Watched), ApiError> {
    let verb = RolloutVerb::Data { id: id.into() };
    let command = Command::Rollouts {
        project: project.into(),
        env: env_key.into(),
        flag: flag.into(),
        verb,
    };
    let data: Data = ProjectStore::call(env, project, &command).await?;
    let name = rollouts::name(project, env_key, flag);
    let watched: Watched =
        GuardedRollout::call(env, &name, &RolloutCommand::Read { id: id.into() }).await?;
    Ok((data.rollout, watched))
}

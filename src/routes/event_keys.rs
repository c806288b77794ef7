//! `GET /api/v2/projects/{projectKey}/event-keys?search=&limit=` (reader): the custom event keys
//! and goal keys the project received in the last 30 days, with their environments, context
//! kinds, SDKs, event count and last sighting (`core::catalog`) — for choosing a metric's event key.

use crate::error::ApiError;
use crate::http::now_ms;
use crate::routes::rest::{authorize, reply, require_project};
use crate::store::projects::{self, Command};
use edge_exp_core::catalog::Query;
use worker::{Env, Request, Response};

pub async fn list(req: &Request, env: &Env, project: &str) -> Result<Response, ApiError> {
    authorize(req, env, &[]).await?;
    require_project(env, project).await?;
    let url = req.url()?;
    let query = Query::parse(url.query().unwrap_or("")).map_err(ApiError::BadRequest)?;
    let command = Command::EventKeys {
        limit: query.limit(),
        search: query.search,
        now: now_ms(),
    };
    Ok(reply(projects::call(env, project, &command).await?))
}

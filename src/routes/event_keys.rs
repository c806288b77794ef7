//! `GET /api/v2/projects/{projectKey}/event-keys?search=&limit=` (reader): the custom event keys
//! and goal keys the project received in the last 30 days, with their environments, context
//! kinds, SDKs, event count and last sighting (`core::catalog`) — for choosing a metric's event key.

use crate::error::ApiError;
use crate::routes::rest::{authorize, require_project, run};
use edge_exp_core::catalog::Query;
use edge_exp_core::project::Command;
use worker::{Env, Request, Response};

pub async fn list(req: &Request, env: &Env, project: &str) -> Result<Response, ApiError> {
    authorize(req, env, &[]).await?;
    require_project(env, project).await?;
    let query = Query::parse(&crate::http::query(req))?;
    let command = Command::EventKeys {
        limit: query.limit(),
        search: query.search,
    };
    run(env, project, command).await
}

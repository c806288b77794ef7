//! `/api/v2/flags/{projectKey}[/{flagKey}]`: flags CRUD (JSON Patch updates), rules in
//! `core::flag` and `core::project`, stored in the project's Durable Object.

use crate::error::ApiError;
use crate::routes::rest::{resource, Scope};
use edge_exp_core::project::Command;
use worker::{Env, Method, Request, Response};

/// The collection (`key` absent: list, create) or one flag (get, patch, delete).
pub async fn route(
    req: &mut Request,
    env: &Env,
    project: &str,
    key: Option<&str>,
) -> Result<Response, ApiError> {
    let writes = [Method::Patch, Method::Delete];
    let place = (Scope::Project(project), key);
    let project = project.to_owned();
    resource(req, env, place, &writes, |verb| Command::Flags {
        project,
        verb,
    })
    .await
}

//! What every REST resource route shares: the role a method needs, the existence checks, and
//! turning a Durable Object's reply into a response.

use crate::error::ApiError;
use crate::http::{empty, json};
use crate::routes::auth;
use crate::store::config::{self, Role};
use crate::store::projects::Reply;
use worker::{Env, Method, Request, Response};

/// Authorise `req` for its method: `GET` needs a reader token, the `writes` methods a writer
/// token; any other method is 405.
pub async fn authorize(req: &Request, env: &Env, writes: &[Method]) -> Result<Method, ApiError> {
    let method = req.method();
    let role = if method == Method::Get {
        Role::Reader
    } else if writes.contains(&method) {
        Role::Writer
    } else {
        return Err(ApiError::MethodNotAllowed);
    };
    auth::api_token(req, env, role).await?;
    Ok(method)
}

pub async fn require_project(env: &Env, project: &str) -> Result<(), ApiError> {
    if config::project_exists(env, project).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("project `{project}` not found")))
    }
}

pub async fn require_environment(env: &Env, project: &str, env_key: &str) -> Result<(), ApiError> {
    if config::environment_exists(env, project, env_key).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "environment `{env_key}` in project `{project}` not found"
        )))
    }
}

/// A Durable Object's reply as a response (204 without a body).
pub fn reply(r: Reply) -> Response {
    if r.status == 204 {
        empty(204)
    } else {
        json(r.status, &r.body)
    }
}

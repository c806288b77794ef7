//! What every REST resource route shares: the role a method needs, the existence checks, and
//! turning a Durable Object's reply into a response.

use crate::error::ApiError;
use crate::http::{empty, json};
use crate::routes::auth;
use crate::store::config::{self, Role};
use crate::store::projects;
use edge_exp_core::project::Command;
use edge_exp_core::Error;
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
        return Err(ApiError::method_not_allowed());
    };
    auth::api_token(req, env, role).await?;
    Ok(method)
}

pub async fn require_project(env: &Env, project: &str) -> Result<(), ApiError> {
    if config::project_exists(env, project).await? {
        Ok(())
    } else {
        Err(ApiError(Error::NotFound(format!(
            "project `{project}` not found"
        ))))
    }
}

pub async fn require_environment(env: &Env, project: &str, env_key: &str) -> Result<(), ApiError> {
    if config::environment_exists(env, project, env_key).await? {
        Ok(())
    } else {
        Err(ApiError(Error::NotFound(format!(
            "environment `{env_key}` in project `{project}` not found"
        ))))
    }
}

/// Run a command on the project's object and answer with its result: 201 for a create, 204
/// without a body for a delete, 200 otherwise.
pub async fn run(env: &Env, project: &str, command: Command) -> Result<Response, ApiError> {
    let status = match command {
        Command::MetricCreate { .. }
        | Command::FlagCreate { .. }
        | Command::ExperimentCreate { .. } => 201,
        Command::MetricDelete { .. } | Command::FlagDelete { .. } => 204,
        _ => 200,
    };
    let value: serde_json::Value = projects::call(env, project, &command).await?;
    Ok(if status == 204 {
        empty(204)
    } else {
        json(status, &value)
    })
}

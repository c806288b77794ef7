//! `/api/v2/flags/{projectKey}[/{flagKey}]`: flags CRUD (JSON Patch updates), rules in
//! `core::flag`, stored in the project's Durable Object.

use crate::error::ApiError;
use crate::http::{empty, json, now_ms};
use crate::routes::{auth, body, metrics::require_project};
use crate::store::config::Role;
use crate::store::projects::{self, Command, Reply};
use worker::{Env, Method, Request, Response};

fn reply(r: Reply) -> Response {
    if r.status == 204 {
        empty(204)
    } else {
        json(r.status, &r.body)
    }
}

pub async fn collection(req: &mut Request, env: &Env, project: &str) -> Result<Response, ApiError> {
    let method = req.method();
    let role = match method {
        Method::Get => Role::Reader,
        Method::Post => Role::Writer,
        _ => return Err(ApiError::MethodNotAllowed),
    };
    auth::api_token(req, env, role).await?;
    require_project(env, project).await?;
    let command = if method == Method::Get {
        Command::FlagList {
            project: project.into(),
        }
    } else {
        Command::FlagCreate {
            project: project.into(),
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
    key: &str,
) -> Result<Response, ApiError> {
    let method = req.method();
    let role = match method {
        Method::Get => Role::Reader,
        Method::Patch | Method::Delete => Role::Writer,
        _ => return Err(ApiError::MethodNotAllowed),
    };
    auth::api_token(req, env, role).await?;
    require_project(env, project).await?;
    let command = match method {
        Method::Get => Command::FlagGet {
            project: project.into(),
            key: key.into(),
        },
        Method::Patch => Command::FlagPatch {
            project: project.into(),
            key: key.into(),
            patch: body::json(req).await?,
        },
        _ => Command::FlagDelete { key: key.into() },
    };
    Ok(reply(projects::call(env, project, &command).await?))
}

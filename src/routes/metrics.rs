//! `/api/v2/metrics/{projectKey}[/{metricKey}]`: LaunchDarkly-compatible metrics CRUD. The rules
//! live in `core::metric`; the project's Durable Object applies them one request at a time.

use crate::error::ApiError;
use crate::http::{empty, header, json, now_ms};
use crate::routes::{auth, body};
use crate::store::config::{self, Role};
use crate::store::projects::{self, Command, Reply};
use edge_exp_core::metric::Integration;
use worker::{Env, Method, Request, Response};

pub async fn require_project(env: &Env, project: &str) -> Result<(), ApiError> {
    if config::project_exists(env, project).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("project `{project}` not found")))
    }
}

fn reply(r: Reply) -> Response {
    if r.status == 204 {
        empty(204)
    } else {
        json(r.status, &r.body)
    }
}

/// `GET` (list) and `POST` (create) on `/api/v2/metrics/{projectKey}`.
pub async fn collection(req: &mut Request, env: &Env, project: &str) -> Result<Response, ApiError> {
    let command = match req.method() {
        Method::Get => {
            auth::api_token(req, env, Role::Reader).await?;
            require_project(env, project).await?;
            Command::MetricList {
                project: project.into(),
                pairs: body::query_pairs(req)?,
            }
        }
        Method::Post => {
            auth::api_token(req, env, Role::Writer).await?;
            require_project(env, project).await?;
            Command::MetricCreate {
                project: project.into(),
                body: body::json(req).await?,
                now: now_ms(),
                integration: header(req, "User-Agent")
                    .as_deref()
                    .and_then(Integration::from_user_agent),
            }
        }
        _ => return Err(ApiError::MethodNotAllowed),
    };
    Ok(reply(projects::call(env, project, &command).await?))
}

/// `GET`, `PATCH` and `DELETE` on `/api/v2/metrics/{projectKey}/{metricKey}`.
pub async fn item(
    req: &mut Request,
    env: &Env,
    project: &str,
    key: &str,
) -> Result<Response, ApiError> {
    let method = req.method();
    let needed = match method {
        Method::Get => Role::Reader,
        Method::Patch | Method::Delete => Role::Writer,
        _ => return Err(ApiError::MethodNotAllowed),
    };
    auth::api_token(req, env, needed).await?;
    require_project(env, project).await?;
    let command = match method {
        Method::Get => Command::MetricGet {
            project: project.into(),
            key: key.into(),
        },
        Method::Patch => Command::MetricPatch {
            project: project.into(),
            key: key.into(),
            patch: body::json(req).await?,
            now: now_ms(),
        },
        _ => Command::MetricDelete { key: key.into() },
    };
    Ok(reply(projects::call(env, project, &command).await?))
}

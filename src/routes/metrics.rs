//! `/api/v2/metrics/{projectKey}[/{metricKey}]`: LaunchDarkly-compatible metrics CRUD. The rules
//! live in `core::metric`; the project's Durable Object applies them one request at a time.

use crate::error::ApiError;
use crate::http::{header, now_ms};
use crate::routes::body;
use crate::routes::rest::{authorize, reply, require_project};
use crate::store::projects::{self, Command};
use edge_exp_core::metric::Integration;
use worker::{Env, Method, Request, Response};

/// `GET` (list) and `POST` (create) on `/api/v2/metrics/{projectKey}`.
pub async fn collection(req: &mut Request, env: &Env, project: &str) -> Result<Response, ApiError> {
    let method = authorize(req, env, &[Method::Post]).await?;
    require_project(env, project).await?;
    let command = if method == Method::Get {
        Command::MetricList {
            project: project.into(),
            pairs: body::query_pairs(req)?,
        }
    } else {
        Command::MetricCreate {
            project: project.into(),
            body: body::json(req).await?,
            now: now_ms(),
            integration: header(req, "User-Agent")
                .as_deref()
                .and_then(Integration::from_user_agent),
        }
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
    let method = authorize(req, env, &[Method::Patch, Method::Delete]).await?;
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

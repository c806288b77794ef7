//! `/api/v2/metrics/{projectKey}[/{metricKey}]`: LaunchDarkly-compatible metrics CRUD. The rules
//! live in `core::metric`; the project's Durable Object applies them one request at a time.

use crate::error::ApiError;
use crate::http::header;
use crate::routes::body;
use crate::routes::rest::{authorize, require_project, run};
use edge_exp_core::metric::Integration;
use edge_exp_core::project::Command;
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
            integration: header(req, "User-Agent")
                .as_deref()
                .and_then(Integration::from_user_agent),
        }
    };
    run(env, project, command).await
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
        },
        _ => Command::MetricDelete { key: key.into() },
    };
    run(env, project, command).await
}

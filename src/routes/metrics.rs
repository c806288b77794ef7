//! `/api/v2/metrics/{projectKey}[/{metricKey}]`: LaunchDarkly-compatible metrics CRUD. The rules
//! live in `core::metric` and `core::project`; the project's Durable Object applies them one
//! request at a time.

use crate::error::ApiError;
use crate::http::header;
use crate::routes::rest::{resource, Scope};
use edge_exp_core::metric::Integration;
use edge_exp_core::project::Command;
use worker::{Env, Method, Request, Response};

/// The collection (`key` absent: list with LaunchDarkly's filter/sort/paging, create) or one
/// metric (get, patch, delete). A partner integration creating a metric is recorded from its
/// User-Agent.
pub async fn route(
    req: &mut Request,
    env: &Env,
    project: &str,
    key: Option<&str>,
) -> Result<Response, ApiError> {
    let integration = header(req, "User-Agent")
        .as_deref()
        .and_then(Integration::from_user_agent);
    let writes = [Method::Patch, Method::Delete];
    let place = (Scope::Project(project), key);
    let project = project.to_owned();
    resource(req, env, place, &writes, |verb| Command::Metrics {
        project,
        verb,
        integration,
    })
    .await
}

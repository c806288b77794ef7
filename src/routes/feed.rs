//! `GET /api/v2/projects/{p}/environments/{e}/events/recent?limit=N` (reader): the newest
//! payloads the environment accepted in the last hour, each with its first events — the
//! dashboard's live panel.

use crate::error::ApiError;
use crate::http::json_of;
use crate::routes::rest::{authorize, require_environment};
use crate::store::feed;
use edge_exp_core::feed::FeedPage;
use edge_exp_core::query::FeedQuery;
use worker::{Env, Request, Response};

pub async fn recent(
    req: &Request,
    env: &Env,
    project: &str,
    env_key: &str,
) -> Result<Response, ApiError> {
    authorize(req, env, &[]).await?;
    require_environment(env, project, env_key).await?;
    let limit = FeedQuery::limit(&crate::http::query(req))?;
    let items = feed::recent(env, project, env_key, limit).await?;
    json_of(200, &FeedPage { items })
}

//! Read-out of the first-variation rule, for tests and debugging, from KV's copy of the history
//! (exact for any `at` up to a day ahead: `core::attribution::copy`):
//! `GET /api/v2/projects/{p}/environments/{e}/flags/{flag}/first-variation/{kind}/{key}?at=ms`.

use crate::error::ApiError;
use crate::http::{json_of, now_ms};
use crate::routes::auth;
use crate::store::{self, config::Role, exposures};
use edge_exp_core::attribution::FirstVariation;
use edge_exp_core::keys;
use edge_exp_core::query::AttributionQuery;
use edge_exp_core::Error;
use worker::{Env, Request, Response};

pub struct Query<'a> {
    pub project: &'a str,
    pub env: &'a str,
    pub flag: &'a str,
    pub kind: &'a str,
    pub key: &'a str,
}

pub async fn first_variation(req: &Request, env: &Env, q: Query<'_>) -> Result<Response, ApiError> {
    auth::api_token(req, env, Role::Reader).await?;
    let query = &crate::http::query(req);
    let at = match crate::ingest::fault_requested(req, env, "read-ahead") {
        true => AttributionQuery::any_at(query, now_ms())?,
        false => AttributionQuery::at(query, now_ms())?,
    };
    crate::routes::rest::require_environment(env, q.project, q.env).await?;
    let store = store::kv(env, store::ATTRIBUTION_KV)?;
    let history = exposures::load(
        &store,
        &keys::exposure_key(q.project, q.env, q.flag, q.kind, q.key),
    )
    .await?;
    match history.first_variation(at) {
        Some(e) => json_of(200, &FirstVariation::from(e)),
        None => Err(ApiError(Error::NotFound(format!(
            "context `{}` of kind `{}` received no variation of flag `{}` in the 90 days before {at}",
            q.key, q.kind, q.flag
        )))),
    }
}

//! Browser SDK routes (public client-side ID, CORS), answered in the isolate from the published
//! documents (`store::published`), with no Durable Object on the path:
//! - `GET /sdk/goals/{clientSideId}` — the project's click and page-view metrics as goals, in the
//!   format LaunchDarkly's browser SDK fetches; an ETag over the body, 304 on `If-None-Match`.
//! - `GET /sdk/evalx/{clientSideId}/contexts/{base64url(context)}` and
//!   `REPORT /sdk/evalx/{clientSideId}/context` — every flag evaluated for the context; for a
//!   bot's request (`crate::bots`), with nothing asking the SDK to send an exposure.

use crate::error::ApiError;
use crate::http::{json, json_with_etag};
use crate::routes::auth;
use crate::routes::body;
use crate::store::published::{self, Doc};
use base64::Engine;
use edge_exp_core::query::EvalxQuery;
use edge_exp_core::Context;
use edge_exp_core::Error;
use worker::{Env, Method, Request, Response};

/// The context of a browser SDK request. `encoded`: the base64url context of the GET form;
/// `None` for REPORT, whose body is the context.
pub async fn context_of(
    req: &mut Request,
    encoded: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    let context: serde_json::Value = match (req.method(), encoded) {
        (Method::Get, Some(encoded)) => {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded.trim_end_matches('='))
                .or_else(|_| base64::engine::general_purpose::STANDARD.decode(encoded))
                .map_err(|_| {
                    ApiError(Error::BadRequest(
                        "the context in the path is not base64url".into(),
                    ))
                })?;
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError(Error::BadRequest(format!(
                    "the context in the path is not JSON: {e}"
                )))
            })?
        }
        (Method::Report, None) => body::json(req).await?,
        _ => return Err(ApiError::method_not_allowed()),
    };
    Context::from_context(&context)
        .map_err(|e| ApiError(Error::BadRequest(format!("invalid context: {e}"))))?;
    Ok(context)
}

/// Evaluate every flag for a context (`context_of`).
pub async fn evalx(
    req: &mut Request,
    env: &Env,
    client_side_id: &str,
    encoded: Option<&str>,
) -> Result<Response, ApiError> {
    let context = context_of(req, encoded).await?;
    let tenant = auth::client_side_id(env, client_side_id).await?;
    let with_reasons = EvalxQuery::parse(&crate::http::query(req))?.with_reasons;
    let classified = crate::bots::classify(req, env, &tenant, Some(&context)).await?;
    let data = published::read(env, &Doc::sdk(&tenant)).await?;
    let mut flags = edge_exp_core::publish::evalx_map(&data.data, &context, with_reasons);
    if classified.any_bot() {
        // A bot's evaluations (in their experiment) are bucketed as anyone's (or served the
        // control where an experiment opted in); nothing of them recorded, their exposures
        // counted as exclusions.
        let at = (&classified, Some(&context));
        crate::bots::untrack(env, (&tenant, &data.data), at, &mut flags, with_reasons).await?;
    }
    Ok(json(200, &serde_json::Value::Object(flags)))
}

pub async fn goals(req: &Request, env: &Env, client_side_id: &str) -> Result<Response, ApiError> {
    if req.method() != Method::Get {
        return Err(ApiError::method_not_allowed());
    }
    let tenant = auth::client_side_id(env, client_side_id).await?;
    let goals = published::read(
        env,
        &Doc::Goals {
            project: tenant.project,
        },
    )
    .await?;
    let mut resp = json_with_etag(req, &goals.pointer.etag, &goals.body);
    resp.headers_mut()
        .set("Cache-Control", "public, max-age=0, must-revalidate")?;
    Ok(resp)
}

//! LaunchDarkly's server-side flag delivery (the SDKs' "FDv1" protocol), served from the
//! environment's published data (`store::published`), never from the project's object:
//! - `GET /sdk/latest-all` — `{"flags", "segments"}`, with an ETag (`If-None-Match` → 304);
//! - `GET /sdk/latest-flags/{key}`, `GET /sdk/latest-segments/{key}` — one item;
//! - `GET /all` — the server-sent event stream (`store::streams`);
//! - `/sdk/poll`, `/sdk/stream` — LaunchDarkly's newer protocol: 503 with `x-ld-fd-fallback`, on
//!   which those SDKs fall back to the routes above.
//!
//! Authorisation is the SDK key. An unknown key is 401; anything else that goes wrong for a
//! valid key is 503, which every SDK retries (a 403 or 404 would make most stop for good).

use crate::error::ApiError;
use crate::http::{header, json, json_with_etag};
use crate::routes::auth;
use crate::store::config::Tenant;
use crate::store::published::{self, Cached, Doc};
use crate::store::streams;
use edge_exp_core::Error;
use std::rc::Rc;
use worker::{Env, Method, Request, Response};

/// Which item route.
pub enum Item {
    Flag,
    Segment,
}

/// A failure for a valid key: retryable, never a reason for the SDK to give up.
fn transient(e: ApiError) -> ApiError {
    match e.0 {
        Error::Unauthorized(_) | Error::MethodNotAllowed(_) | Error::BadRequest(_) => e,
        other => {
            worker::console_error!("server SDK route failed: {other}");
            ApiError::unavailable("the environment's flag data is not available right now; retry")
        }
    }
}

/// The SDK key's environment and its published data.
async fn published_data(req: &Request, env: &Env) -> Result<(Tenant, Rc<Cached>), ApiError> {
    if req.method() != Method::Get {
        return Err(ApiError::method_not_allowed());
    }
    refuse_filter(req)?;
    let tenant = auth::sdk_key(req, env).await?;
    let doc = published::read(env, &Doc::sdk(&tenant))
        .await
        .map_err(transient)?;
    Ok((tenant, doc))
}

/// LaunchDarkly's payload filters (`?filter=`) select part of an environment; there are none
/// here, so a filter is refused rather than answered with everything.
fn refuse_filter(req: &Request) -> Result<(), ApiError> {
    let query = crate::http::query(req);
    match form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "filter") {
        Some((_, key)) => Err(ApiError(Error::BadRequest(format!(
            "payload filter `{key}` is not supported: remove `payloadFilterKey` from the SDK's configuration"
        )))),
        None => Ok(()),
    }
}

pub async fn latest_all(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let (_, doc) = published_data(req, env).await.map_err(transient)?;
    let mut resp = json_with_etag(req, &doc.pointer.etag, &doc.body);
    if resp.status_code() == 200
        && header(req, "Accept-Encoding").is_some_and(|v| v.contains("gzip"))
    {
        // The runtime compresses a body whose response names an encoding.
        resp.headers_mut().set("Content-Encoding", "gzip")?;
    }
    Ok(resp)
}

pub async fn latest_item(
    req: &Request,
    env: &Env,
    item: Item,
    key: &str,
) -> Result<Response, ApiError> {
    let (_, doc) = published_data(req, env).await.map_err(transient)?;
    let found = match item {
        Item::Flag => doc.data.flags.get(key).map(serde_json::to_value),
        Item::Segment => doc.data.segments.get(key).map(serde_json::to_value),
    };
    match found {
        Some(value) => Ok(json(200, &value?)),
        None => Err(ApiError(Error::NotFound(format!(
            "no flag or segment `{key}` in this environment"
        )))),
    }
}

/// `GET /all`: the environment's stream.
pub async fn stream_all(req: &Request, env: &Env) -> Result<Response, ApiError> {
    if req.method() != Method::Get {
        return Err(ApiError::method_not_allowed());
    }
    refuse_filter(req)?;
    let tenant = auth::sdk_key(req, env).await.map_err(transient)?;
    streams::connect(env, &tenant).await.map_err(transient)
}

/// LaunchDarkly's newer delivery protocol is not served: the header tells those SDKs to use
/// the routes above instead, for their lifetime.
pub fn fdv2_fallback() -> Result<Response, ApiError> {
    let mut resp = json(
        503,
        &serde_json::json!({"code": "service_unavailable",
            "message": "this server speaks LaunchDarkly's FDv1 protocol (/sdk/latest-all, /all): fall back to it"}),
    );
    resp.headers_mut().set("x-ld-fd-fallback", "true")?;
    Ok(resp)
}

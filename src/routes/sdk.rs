//! Browser SDK routes: `GET /sdk/goals/{clientSideId}` — the environment's click and page-view
//! metrics as goals, in the format LaunchDarkly's browser SDK fetches. Cacheable: an ETag over the
//! body, and 304 for a matching `If-None-Match`.

use crate::error::ApiError;
use crate::http::{empty, header, json};
use crate::routes::auth;
use crate::store::projects::{self, Command};
use edge_exp_core::credentials::digest;
use worker::{Env, Method, Request, Response};

pub async fn goals(req: &Request, env: &Env, client_side_id: &str) -> Result<Response, ApiError> {
    if req.method() != Method::Get {
        return Err(ApiError::MethodNotAllowed);
    }
    let tenant = auth::client_side_id(env, client_side_id).await?;
    let reply = projects::call(env, &tenant.project, &Command::Goals).await?;
    if reply.status != 200 {
        return Ok(json(reply.status, &reply.body));
    }
    let etag = format!("\"{}\"", &digest(&reply.body.to_string())[..32]);
    let mut resp =
        if header(req, "If-None-Match").is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
            empty(304)
        } else {
            json(200, &reply.body)
        };
    let headers = resp.headers_mut();
    headers.set("ETag", &etag)?;
    headers.set("Cache-Control", "public, max-age=0, must-revalidate")?;
    Ok(resp)
}

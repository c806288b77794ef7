//! Credential checks for the SDK and REST routes.

use crate::error::ApiError;
use crate::http::header;
use crate::store::config::{self, Role, Tenant, TokenRecord};
use edge_exp_core::credentials::from_authorization;
use edge_exp_core::Error;
use worker::{Env, Request};

/// Server and mobile SDKs: `Authorization: <SDK key>`.
pub async fn sdk_key(req: &Request, env: &Env) -> Result<Tenant, ApiError> {
    let key = credential(req, "the environment's SDK key")?;
    config::tenant_by_sdk_key(env, &key)
        .await?
        .ok_or_else(|| ApiError(Error::Unauthorized("unknown SDK key".into())))
}

/// Browser SDKs: the public client-side ID in the path.
pub async fn client_side_id(env: &Env, id: &str) -> Result<Tenant, ApiError> {
    config::tenant_by_client_side_id(env, id)
        .await?
        .ok_or_else(|| ApiError(Error::NotFound(format!("unknown client-side ID `{id}`"))))
}

/// REST API: an access token with at least `needed` role.
pub async fn api_token(req: &Request, env: &Env, needed: Role) -> Result<TokenRecord, ApiError> {
    let secret = credential(req, "an API access token")?;
    let token = config::token(env, &secret)
        .await?
        .ok_or_else(|| ApiError(Error::Unauthorized("unknown API access token".into())))?;
    if needed == Role::Writer && token.role != Role::Writer {
        return Err(ApiError(Error::Forbidden(
            "this access token is read-only; a writer token is required".into(),
        )));
    }
    Ok(token)
}

/// The credential in `Authorization` (bare, or after a scheme such as `Bearer`); `expected` names
/// it in the error when it is missing.
fn credential(req: &Request, expected: &str) -> Result<String, ApiError> {
    let value = header(req, "Authorization").ok_or_else(|| {
        ApiError(Error::Unauthorized(format!(
            "missing Authorization header: send {expected}"
        )))
    })?;
    from_authorization(&value)
        .map(str::to_owned)
        .ok_or_else(|| ApiError(Error::Unauthorized("empty Authorization header".into())))
}

//! `/api/v2/webhooks[/{id}]` (LaunchDarkly's shape): create, list, get and delete the webhooks
//! guarded-rollout transitions are POSTed to. Writer tokens only: a webhook holds a secret.
//! The secret is answered once, at creation.

use crate::error::ApiError;
use crate::http::{empty, json_of};
use crate::routes::{auth, body};
use crate::store::config::Role;
use crate::store::webhooks;
use edge_exp_core::resource::link;
use edge_exp_core::Error;
use serde_json::json;
use worker::{Env, Method, Request, Response};

pub async fn collection(req: &mut Request, env: &Env) -> Result<Response, ApiError> {
    auth::api_token(req, env, Role::Writer).await?;
    body::no_query(req)?;
    match req.method() {
        Method::Get => {
            let hooks = webhooks::list(env).await?;
            let items: Vec<_> = hooks.iter().map(|w| w.rep(false)).collect();
            json_of(
                200,
                &json!({"items": items, "totalCount": items.len(), "_links": {"self": link("/api/v2/webhooks")}}),
            )
        }
        Method::Post => {
            let hook = webhooks::create(env, &body::json(req).await?).await?;
            json_of(201, &hook.rep(true))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

pub async fn item(req: &Request, env: &Env, id: &str) -> Result<Response, ApiError> {
    auth::api_token(req, env, Role::Writer).await?;
    body::no_query(req)?;
    let missing = || ApiError(Error::NotFound(format!("webhook `{id}` not found")));
    match req.method() {
        Method::Get => json_of(
            200,
            &webhooks::get(env, id)
                .await?
                .ok_or_else(missing)?
                .rep(false),
        ),
        Method::Delete if webhooks::delete(env, id).await? => Ok(empty(204)),
        Method::Delete => Err(missing()),
        _ => Err(ApiError::method_not_allowed()),
    }
}

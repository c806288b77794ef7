//! `/api/v2/tokens[/{id}]`: access tokens (writer only). A token's secret is shown once, at
//! creation; only its SHA-256 digest is kept.

use crate::error::ApiError;
use crate::http::{empty, json, json_of};
use crate::routes::{auth, body};
use crate::store::config::{self, Role};
use edge_exp_core::resource::link;
use edge_exp_core::token::TokenPost;
use edge_exp_core::Error;
use serde_json::json;
use worker::{Env, Method, Request, Response};

pub async fn collection(req: &mut Request, env: &Env) -> Result<Response, ApiError> {
    auth::api_token(req, env, Role::Writer).await?;
    body::no_query(req)?;
    match req.method() {
        Method::Get => {
            let tokens = config::list_tokens(env).await?;
            let items: Vec<_> = tokens.iter().map(|t| t.rep(None)).collect();
            let page = json!({
                "items": items,
                "totalCount": items.len(),
                "_links": {"self": link("/api/v2/tokens")},
            });
            Ok(json(200, &page))
        }
        Method::Post => {
            let post = TokenPost::from_json(&body::json(req).await?)?;
            let (info, secret) = config::create_token(env, post).await?;
            json_of(201, &info.rep(Some(&secret)))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

pub async fn item(req: &Request, env: &Env, id: &str) -> Result<Response, ApiError> {
    if req.method() != Method::Delete {
        return Err(ApiError::method_not_allowed());
    }
    auth::api_token(req, env, Role::Writer).await?;
    body::no_query(req)?;
    if config::delete_token(env, id).await? {
        Ok(empty(204))
    } else {
        Err(ApiError(Error::NotFound(format!(
            "access token `{id}` not found"
        ))))
    }
}

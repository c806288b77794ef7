//! `/api/v2/tokens[/{id}]`: access tokens (writer only). A token's secret is shown once, at
//! creation; only its SHA-256 digest is kept.

use crate::error::ApiError;
use crate::http::{empty, json};
use crate::routes::{auth, body};
use crate::store::config::{self, Role};
use edge_exp_core::resource::link;
use edge_exp_core::Error;
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

pub async fn collection(req: &mut Request, env: &Env) -> Result<Response, ApiError> {
    auth::api_token(req, env, Role::Writer).await?;
    body::no_query(req)?;
    match req.method() {
        Method::Get => {
            let items: Vec<Value> = config::list_tokens(env)
                .await?
                .iter()
                .map(|t| t.to_rep(None))
                .collect();
            Ok(json(
                200,
                &json!({
                    "items": items,
                    "totalCount": items.len(),
                    "_links": {"self": link("/api/v2/tokens")},
                }),
            ))
        }
        Method::Post => {
            let body = body::json(req).await?;
            let obj = body
                .as_object()
                .ok_or_else(|| ApiError(Error::BadRequest("body must be a JSON object".into())))?;
            let name = match obj.get("name") {
                None | Some(Value::Null) => "API token".to_owned(),
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                Some(_) => {
                    return Err(ApiError(Error::BadRequest(
                        "`name` must be a non-empty string".into(),
                    )))
                }
            };
            let role = match obj.get("role").and_then(Value::as_str) {
                None if obj.get("role").is_none_or(Value::is_null) => Role::Reader,
                Some("reader") => Role::Reader,
                Some("writer") => Role::Writer,
                _ => {
                    return Err(ApiError(Error::BadRequest(
                        "`role` must be `reader` or `writer`".into(),
                    )))
                }
            };
            let (info, secret) = config::create_token(env, &name, role).await?;
            Ok(json(201, &info.to_rep(Some(&secret))))
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

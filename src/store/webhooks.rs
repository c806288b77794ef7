//! Webhooks in `CONFIG` KV: `webhook:{id}` → `core::webhook::Webhook` (with its secret). Listed
//! by prefix; KV's eventual consistency means a new webhook may miss a transition made within a
//! minute of its creation in another location (deliveries are made by the rollout's object).

use super::{kv, parse_stored, random_hex, CONFIG_KV, MAX_KV_KEY_BYTES};
use crate::error::ApiError;
use crate::http::now_ms;
use edge_exp_core::webhook::Webhook;
use serde_json::Value;
use worker::Env;

const PREFIX: &str = "webhook:";

pub async fn create(env: &Env, body: &Value) -> Result<Webhook, ApiError> {
    let hook = Webhook::from_json(body, random_hex(12)?, random_hex(24)?, now_ms())?;
    let text = serde_json::to_string(&hook)?;
    kv(env, CONFIG_KV)?
        .put(&format!("{PREFIX}{}", hook.id), text)?
        .execute()
        .await?;
    Ok(hook)
}

pub async fn list(env: &Env) -> Result<Vec<Webhook>, ApiError> {
    let store = kv(env, CONFIG_KV)?;
    let mut hooks = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list = store.list().prefix(PREFIX.into());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        for key in page.keys {
            if let Some(text) = store.get(&key.name).text().await? {
                hooks.extend(parse_stored::<Webhook>(&key.name, &text));
            }
        }
        match page.cursor {
            Some(c) if !page.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    hooks.sort_by(|a, b| a.creation_date.cmp(&b.creation_date).then(a.id.cmp(&b.id)));
    Ok(hooks)
}

pub async fn get(env: &Env, id: &str) -> Result<Option<Webhook>, ApiError> {
    if id.len() + PREFIX.len() > MAX_KV_KEY_BYTES {
        return Ok(None);
    }
    let key = format!("{PREFIX}{id}");
    let text = kv(env, CONFIG_KV)?.get(&key).text().await?;
    Ok(text.and_then(|t| parse_stored(&key, &t)))
}

/// Delete a webhook; false if there was none.
pub async fn delete(env: &Env, id: &str) -> Result<bool, ApiError> {
    if get(env, id).await?.is_none() {
        return Ok(false);
    }
    kv(env, CONFIG_KV)?.delete(&format!("{PREFIX}{id}")).await?;
    Ok(true)
}

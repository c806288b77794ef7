//! Exposure histories in KV: one key per (environment, flag, context kind, context key), holding
//! the `edge_exp_core::ExposureHistory` for that unit and expiring with its attribution window.

use super::kv_expiration;
use crate::error::ApiError;
use edge_exp_core::{Exposure, ExposureHistory};
use worker::KvStore;

pub async fn load(store: &KvStore, key: &str) -> Result<ExposureHistory, ApiError> {
    match store.get(key).text().await? {
        None => Ok(ExposureHistory::new()),
        // A record that does not parse is from an incompatible version: start it afresh rather
        // than fail every event of that unit.
        Some(text) => Ok(serde_json::from_str(&text).unwrap_or_default()),
    }
}

/// Apply `exposures` to the stored history; write back only if something changed.
/// Returns whether a write happened.
pub async fn record(
    store: &KvStore,
    key: &str,
    exposures: &[Exposure],
    now_ms: i64,
) -> Result<bool, ApiError> {
    let mut history = load(store, key).await?;
    let changed = exposures
        .iter()
        .fold(false, |changed, e| history.record(*e) | changed);
    if !changed {
        return Ok(false);
    }
    let Some(expires_at) = history.expires_at() else {
        return Ok(false);
    };
    store
        .put(key, serde_json::to_string(&history)?)?
        .expiration(kv_expiration(expires_at, now_ms))
        .execute()
        .await?;
    Ok(true)
}

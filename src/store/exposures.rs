//! Exposure histories in KV: one key per (environment, flag, context kind, context key), holding
//! the `edge_exp_core::ExposureHistory` for that unit and expiring with its attribution window.

use super::kv_expiration;
use crate::error::ApiError;
use edge_exp_core::{Exposure, ExposureHistory};
use futures_util::{stream, StreamExt, TryStreamExt};
use worker::KvStore;

pub async fn load(store: &KvStore, key: &str) -> Result<ExposureHistory, ApiError> {
    Ok(parse(key, store.get(key).text().await?))
}

// A record that does not parse is from an incompatible version: start it afresh (logged and
// counted) rather than fail every event of that unit.
fn parse(key: &str, stored: Option<String>) -> ExposureHistory {
    stored
        .and_then(|text| super::parse_stored(key, &text))
        .unwrap_or_default()
}

/// Most keys one KV bulk read may ask for.
pub const BULK_READ_KEYS: usize = 100;
/// How many KV writes of one payload run at once.
const WRITE_CONCURRENCY: usize = 64;

/// Apply each key's exposures to its stored history, reading histories with bulk reads and
/// writing back only those that changed. Returns the number of writes.
pub async fn record_all(
    store: &KvStore,
    groups: Vec<(String, Vec<Exposure>)>,
    now_ms: i64,
) -> Result<usize, ApiError> {
    let mut changed: Vec<(String, ExposureHistory)> = Vec::new();
    for chunk in groups.chunks(BULK_READ_KEYS) {
        let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
        let mut stored = store.get_bulk(&keys).text().await?;
        for (key, exposures) in chunk {
            let mut history = parse(key, stored.remove(key).flatten());
            let any = exposures
                .iter()
                .fold(false, |any, e| history.record(*e) | any);
            if any {
                changed.push((key.clone(), history));
            }
        }
    }
    let writes = changed.len();
    stream::iter(changed)
        .map(|(key, history)| async move { write(store, &key, &history, now_ms).await })
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(writes)
}

async fn write(
    store: &KvStore,
    key: &str,
    history: &ExposureHistory,
    now_ms: i64,
) -> Result<(), ApiError> {
    let Some(expires_at) = history.expires_at() else {
        return Ok(());
    };
    store
        .put(key, serde_json::to_string(history)?)?
        .expiration(kv_expiration(expires_at, now_ms))
        .execute()
        .await?;
    Ok(())
}

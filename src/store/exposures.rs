//! Exposure histories in KV: one key per (environment, flag, context kind, context key), holding
//! the `edge_exp_core::ExposureHistory` for that unit and expiring with its attribution window.

use super::kv_batch::{put_all, Put};
use super::{kv, kv_expiration, ATTRIBUTION_KV};
use crate::error::ApiError;
use edge_exp_core::{Exposure, ExposureHistory};
use worker::{Env, KvStore};

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
/// Apply each key's exposures to its stored history, reading histories with bulk reads and
/// writing back only those that changed (all writes behind one await: `kv_batch`). Returns the
/// number of writes.
pub async fn record_all(
    env: &Env,
    groups: Vec<(String, Vec<Exposure>)>,
    now_ms: i64,
) -> Result<usize, ApiError> {
    let store = kv(env, ATTRIBUTION_KV)?;
    let mut puts = Vec::new();
    for chunk in groups.chunks(BULK_READ_KEYS) {
        let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
        let mut stored = store.get_bulk(&keys).text().await?;
        for (key, exposures) in chunk {
            let mut history = parse(key, stored.remove(key).flatten());
            let any = exposures
                .iter()
                .fold(false, |any, e| history.record(*e) | any);
            let Some(expires_at) = history.expires_at().filter(|_| any) else {
                continue;
            };
            puts.push(Put {
                key: key.clone(),
                value: serde_json::to_string(&history)?,
                expiration: kv_expiration(expires_at, now_ms),
            });
        }
    }
    let writes = puts.len();
    put_all(env, ATTRIBUTION_KV, puts).await?;
    Ok(writes)
}

//! Exposure histories in KV: one key per (environment, flag, context kind, context key), holding
//! KV's copy of the `edge_exp_core::ExposureHistory` for that unit and expiring with its
//! attribution window. Written only by the key's history shard (`store::histories`); read by the
//! first-variation read-out, and by a history shard seeding a key it has not seen.

use super::{kv, ATTRIBUTION_KV};
use crate::error::ApiError;
use edge_exp_core::ExposureHistory;
use std::collections::BTreeMap;
use worker::{Env, KvStore};

/// Most keys one KV bulk read may ask for.
pub const BULK_READ_KEYS: usize = 100;

pub async fn load(store: &KvStore, key: &str) -> Result<ExposureHistory, ApiError> {
    Ok(parse(key, store.get(key).text().await?))
}

/// The stored histories of `keys` (absent keys: empty), with bulk reads; and how many reads.
pub async fn load_all(
    env: &Env,
    keys: &[&str],
) -> Result<(BTreeMap<String, ExposureHistory>, u64), ApiError> {
    let store = kv(env, ATTRIBUTION_KV)?;
    let mut histories = BTreeMap::new();
    let mut reads = 0;
    for chunk in keys.chunks(BULK_READ_KEYS) {
        let mut stored = store.get_bulk(chunk).text().await?;
        reads += 1;
        for key in chunk {
            histories.insert((*key).to_owned(), parse(key, stored.remove(*key).flatten()));
        }
    }
    Ok((histories, reads))
}

// A record that does not parse is from an incompatible version: start it afresh (logged and
// counted) rather than fail every event of that unit.
fn parse(key: &str, stored: Option<String>) -> ExposureHistory {
    stored
        .and_then(|text| super::parse_stored(key, &text))
        .unwrap_or_default()
}

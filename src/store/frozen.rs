//! Frozen counts in KV: an iteration's merged shard counts once they are final
//! (`Iteration::counts_final`), written by the first results request after that and read by
//! every later one instead of the iteration's shards. They never change, so KV's eventual
//! consistency and edge caching are harmless; they are kept for a year.

use super::{kv, parse_stored, RESULTS_KV};
use crate::error::ApiError;
use edge_exp_core::keys::frozen_key;
use edge_exp_core::results::FrozenCounts;
use worker::Env;

const KEEP_SECONDS: u64 = 365 * 24 * 60 * 60;

/// The frozen counts of an iteration, if they were kept.
pub async fn load(env: &Env, place: [&str; 4]) -> Result<Option<FrozenCounts>, ApiError> {
    let key = frozen_key(place);
    let text = kv(env, RESULTS_KV)?.get(&key).text().await?;
    Ok(text.and_then(|t| parse_stored(&key, &t)))
}

pub async fn keep(env: &Env, place: [&str; 4], counts: &FrozenCounts) -> Result<(), ApiError> {
    kv(env, RESULTS_KV)?
        .put(&frozen_key(place), serde_json::to_string(counts)?)?
        .expiration_ttl(KEEP_SECONDS)
        .execute()
        .await?;
    Ok(())
}

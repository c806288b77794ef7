//! The live event feed in KV: one entry per accepted payload (its first events, summarised by
//! `core::feed`), listed newest first, expiring after an hour. For the dashboard's live panel;
//! counting never reads it.

use super::{kv, random_hex, FEED_KV};
use crate::error::ApiError;
use crate::store::config::Tenant;
use edge_exp_core::feed::{self, FeedEntry};
use worker::Env;

const FEED_TTL_SECONDS: u64 = 60 * 60;
/// Events kept per payload entry: all of an SDK's usual flush (the live page shows a payload's
/// events on click); larger payloads keep their first 200 (the entry says how many were accepted).
pub const ITEMS_PER_ENTRY: usize = 200;

/// Store one entry (keyed by its time, newest first).
pub async fn record(env: &Env, tenant: &Tenant, entry: &FeedEntry<'_>) -> Result<(), ApiError> {
    let key = feed::entry_key(&tenant.project, &tenant.env, entry.at, &random_hex(6)?);
    // Serialised straight from the typed entry: building a JSON tree of its items first took
    // about 40% of the events route's CPU (profiled under load).
    let text = serde_json::to_string(entry)?;
    kv(env, FEED_KV)?
        .put(&key, text)?
        .expiration_ttl(FEED_TTL_SECONDS)
        .execute()
        .await?;
    Ok(())
}

/// The newest `limit` entries of an environment's feed.
pub async fn recent(
    env: &Env,
    project: &str,
    env_key: &str,
    limit: u64,
) -> Result<Vec<FeedEntry<'static>>, ApiError> {
    let store = kv(env, FEED_KV)?;
    let page = store
        .list()
        .prefix(feed::prefix(project, env_key))
        .limit(limit)
        .execute()
        .await?;
    let keys: Vec<String> = page.keys.into_iter().map(|k| k.name).collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut values = store.get_bulk(&keys).text().await?;
    Ok(keys
        .iter()
        .filter_map(|k| Some((k, values.remove(k).flatten()?)))
        .filter_map(|(k, text)| super::parse_stored(k, &text))
        .collect())
}

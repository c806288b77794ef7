//! Payload-ID de-duplication: SDKs retry a failed post once with the same
//! `X-LaunchDarkly-Payload-ID`, so a payload seen in the last 24 h is acknowledged, not reprocessed.
//! The stored value is the summary first returned, so the retry gets the same answer.

use crate::error::ApiError;
use worker::KvStore;

pub const PAYLOAD_TTL_SECONDS: u64 = 24 * 60 * 60;

pub async fn seen(store: &KvStore, key: &str) -> Result<Option<String>, ApiError> {
    Ok(store.get(key).text().await?)
}

pub async fn remember(store: &KvStore, key: &str, summary: &str) -> Result<(), ApiError> {
    store
        .put(key, summary)?
        .expiration_ttl(PAYLOAD_TTL_SECONDS)
        .execute()
        .await?;
    Ok(())
}

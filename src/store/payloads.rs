//! Payload-ID de-duplication: SDKs retry a failed post once with the same
//! `X-LaunchDarkly-Payload-ID`, so a payload seen in the last 24 h is acknowledged, not reprocessed.
//! The stored value is the summary first returned, so the retry gets the same answer, with a
//! fingerprint of the body: a payload ID reused for a different body is processed as a new
//! payload (a client bug must not lose events), not answered as a retry.

use crate::error::ApiError;
use edge_exp_core::event::EventsAccepted;
use serde::{Deserialize, Serialize};
use worker::KvStore;

pub const PAYLOAD_TTL_SECONDS: u64 = 24 * 60 * 60;

/// What was answered for a payload ID, and a fingerprint of the body it came with.
#[derive(Debug, Serialize, Deserialize)]
pub struct Seen {
    /// `None` for records written before fingerprints (they count as the same body).
    #[serde(default)]
    pub body: Option<String>,
    pub summary: EventsAccepted,
}

/// The record of a payload ID. One that does not parse is logged and counted as
/// [`super::parse_stored`] says and the payload is processed as new: the queue's message IDs
/// still keep its events from being counted twice.
pub async fn seen(store: &KvStore, key: &str) -> Result<Option<Seen>, ApiError> {
    let Some(text) = store.get(key).text().await? else {
        return Ok(None);
    };
    if let Ok(seen) = serde_json::from_str::<Seen>(&text) {
        return Ok(Some(seen));
    }
    // Earlier records hold the bare summary.
    Ok(super::parse_stored(key, &text).map(|summary| Seen {
        body: None,
        summary,
    }))
}

pub async fn remember(store: &KvStore, key: &str, seen: &Seen) -> Result<(), ApiError> {
    store
        .put(key, serde_json::to_string(seen)?)?
        .expiration_ttl(PAYLOAD_TTL_SECONDS)
        .execute()
        .await?;
    Ok(())
}

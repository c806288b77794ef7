//! One events payload and its ID (a leaf: actions carry batches to their retry).

use crate::js;
use alloc::string::String;

/// A UUID v4 for `X-LaunchDarkly-Payload-ID`.
pub fn payload_id() -> String {
    let mut b = js::random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = js::hex(&b);
    let mut id = String::with_capacity(36);
    for (i, c) in h.chars().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            id.push('-');
        }
        id.push(c);
    }
    id
}

/// One events payload: where it goes, its JSON, its ID (the same on every attempt, so the Worker
/// counts it once however often it arrives).
#[derive(Clone)]
pub struct Batch {
    pub url: String,
    pub body: String,
    pub id: String,
    pub events: u32,
    /// Posted as a keep-alive request (it outlives the page).
    pub keepalive: bool,
    pub retried: bool,
    /// The number of its latest attempt (each post is a new one): the answer to an earlier
    /// attempt finds no batch and decides nothing.
    pub attempt: u32,
}

impl Batch {
    pub fn new(url: String, body: String, events: u32, id: String) -> Self {
        Batch {
            url,
            body,
            id,
            events,
            keepalive: false,
            retried: false,
            attempt: 0,
        }
    }
}

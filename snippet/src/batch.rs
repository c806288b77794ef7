//! One events payload and its ID (a leaf: actions carry batches to their retry).

use crate::js;
use alloc::string::String;
use wasm_bindgen::prelude::*;

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

/// One events payload: where it goes, its JSON, its ID (the same on the retry).
#[derive(Clone)]
pub struct Batch {
    pub url: String,
    pub body: JsValue,
    pub id: String,
    pub events: u32,
    pub keepalive: bool,
    pub retried: bool,
}

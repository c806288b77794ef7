//! One events payload and its ID (a leaf: actions carry batches to their retry).

use crate::js;
use alloc::string::String;
use wasm_bindgen::JsValue;

/// A UUID v4 for `X-LaunchDarkly-Payload-ID`: the hex of 4-2-2-2-6 bytes joined by `-` (a
/// `chars()` loop over the hex would bring UTF-8 decoding into the wasm: 150 B gzip).
pub fn payload_id() -> String {
    let mut b = js::random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut id = String::with_capacity(36);
    for (i, group) in [&b[..4], &b[4..6], &b[6..8], &b[8..10], &b[10..]]
        .iter()
        .enumerate()
    {
        if i > 0 {
            id.push('-');
        }
        id.push_str(&js::hex(group));
    }
    id
}

/// One events payload: where it goes, its JSON, its ID (the same on every attempt, so the Worker
/// counts it once however often it arrives). JavaScript strings: they only pass through.
#[derive(Clone)]
pub struct Batch {
    pub url: JsValue,
    pub body: JsValue,
    pub id: JsValue,
    /// The body's UTF-8 size (what it takes of the keep-alive budget).
    pub bytes: usize,
    pub events: u32,
    /// Posted as a keep-alive request (it outlives the page).
    pub keepalive: bool,
    pub retried: bool,
    /// The number of its latest attempt (each post is a new one): the answer to an earlier
    /// attempt finds no batch and decides nothing.
    pub attempt: u32,
}

impl Batch {
    pub fn new(url: JsValue, body: JsValue, events: u32, id: JsValue) -> Self {
        Batch {
            bytes: js::utf8_len(&body),
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

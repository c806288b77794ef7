//! One events payload and its ID (a leaf: actions carry batches to their retry).

use crate::js;
use wasm_bindgen::JsValue;

/// A UUID v4 for `X-LaunchDarkly-Payload-ID`.
pub fn payload_id() -> JsValue {
    js::random_id(true)
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

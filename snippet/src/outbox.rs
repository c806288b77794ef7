//! Payloads a page could not send before it went away, kept in `localStorage` and posted by the
//! next page of the site that starts the snippet (same payload IDs: the Worker counts a payload
//! once even if the page's own request did get through after all).
//!
//! Stored as JSON, `[[url, id, events, body], …]`, read and written by the browser's `JSON`.
//! Another tab of the site leaving at the same moment can overwrite what this one appended
//! (`localStorage` has no compare-and-set); a visitor who never comes back never sends it.

use crate::batch::Batch;
use crate::js;
use js_sys::{Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const SLOT: &str = "edge-exp:outbox";

/// What is kept, as an array (empty if nothing is, or it does not parse).
fn stored(storage: &JsValue) -> Array {
    let kept = js::json_parse(&js::call_str(storage, "getItem", SLOT));
    if Array::is_array(&kept) {
        kept.unchecked_into()
    } else {
        Array::new()
    }
}

/// Append payloads to the outbox. `false` if storage refused them (none, full, or disabled).
pub fn keep(batches: &[Batch]) -> bool {
    let storage = js::storage();
    let kept = stored(&storage);
    for b in batches {
        let entry = Array::of4(&b.url, &b.id, &JsValue::from(b.events), &b.body);
        kept.push(&entry);
    }
    JSON::stringify(&kept).is_ok_and(|text| js::tried_value(&storage, "setItem", SLOT, &text))
}

/// Take (and clear) what earlier pages kept, handing each payload to `send`.
pub fn take(send: impl Fn(Batch)) {
    let storage = js::storage();
    let kept = stored(&storage);
    js::call_str(&storage, "removeItem", SLOT);
    for entry in kept.iter() {
        // Indexing works on any value: an entry that is not an array yields no strings.
        let entry: &Array = entry.unchecked_ref();
        let (url, id, body) = (entry.get(0), entry.get(1), entry.get(3));
        if url.is_string() && id.is_string() && body.is_string() {
            let events = entry.get(2).as_f64().unwrap_or(0.0) as u32;
            send(Batch::new(url, body, events, id));
        }
    }
}

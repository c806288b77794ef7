//! Fetches: requests (keep-alive when asked), and JSON fetches that answer `null` on any failure.

use crate::action::{callback, Action};
use crate::js::{self, resolved, set, set_str, PromiseExt};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{RequestInit, Response};

pub fn request(
    method: &str,
    body: Option<&JsValue>,
    headers: &JsValue,
    keepalive: bool,
) -> RequestInit {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        init.set_body(b);
    }
    init.set_headers(headers);
    if keepalive {
        // web-sys has no setter for it; RequestInit is a plain JS dictionary.
        set(&init, "keepalive", &JsValue::TRUE);
    }
    init
}

pub fn fetch(url: &str, init: &RequestInit) -> Promise {
    match js::window() {
        Some(w) => w.fetch_with_str_and_init(url, init),
        None => resolved(&JsValue::NULL),
    }
}

/// Fetch JSON (GET, or REPORT with a body): a promise of the JSON, or `null` on any failure.
pub fn fetch_json(method: &str, url: &str, body: Option<&JsValue>) -> Promise {
    let headers = js::object();
    if body.is_some() {
        set_str(&headers, "Content-Type", "application/json");
    }
    fetch(url, &request(method, body, &headers, false))
        .then_call(&callback(Action::Json, 0))
        .catch_call(&callback(Action::Null, 0))
}

/// A response's JSON (a promise) if it is a successful response, else `null`.
pub fn json_of(response: &JsValue) -> JsValue {
    if !response.is_object() {
        return JsValue::NULL;
    }
    let response: &Response = response.unchecked_ref();
    match response.json() {
        Ok(json) if response.ok() => json.into(),
        _ => JsValue::NULL,
    }
}

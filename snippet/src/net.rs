//! Fetches: requests (keep-alive when asked), and JSON fetches that answer `null` on any failure.

use crate::action::{callback, Action};
use crate::js::{self, call, get, resolved, set, set_str, PromiseExt};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A fetch's options (`RequestInit`, a plain dictionary).
pub fn request(
    method: &str,
    body: Option<&JsValue>,
    headers: &JsValue,
    keepalive: bool,
) -> JsValue {
    let init = js::object();
    set_str(&init, "method", method);
    if let Some(b) = body {
        set(&init, "body", b);
    }
    set(&init, "headers", headers);
    if keepalive {
        set(&init, "keepalive", &JsValue::TRUE);
    }
    init
}

/// `fetch(url, init)`: a promise of the `Response` (resolved with `undefined` outside a window).
pub fn fetch(url: &JsValue, init: &JsValue) -> Promise {
    let answer = call(&js::window(), "fetch", url, init);
    if answer.is_undefined() {
        resolved(&answer)
    } else {
        answer.unchecked_into()
    }
}

/// Fetch JSON (GET, or REPORT with a body): a promise of the JSON, or `null` on any failure.
pub fn fetch_json(method: &str, url: &JsValue, body: Option<&JsValue>) -> Promise {
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
    if !get(response, "ok").is_truthy() {
        return JsValue::NULL;
    }
    let json = call(response, "json", &JsValue::UNDEFINED, &JsValue::UNDEFINED);
    if json.is_undefined() {
        JsValue::NULL
    } else {
        json
    }
}

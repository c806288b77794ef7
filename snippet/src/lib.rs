//! The browser snippet: LaunchDarkly-style experimentation in a page, from Rust compiled to wasm.
//!
//! `init(clientSideId, context, options)` evaluates the flags (`REPORT /sdk/evalx/...`) and loads
//! the goals (`GET /sdk/goals/...`); `variation` / `variationDetail` / `allFlags` read flags and
//! send `feature` events for experiment flags; `track` sends `custom` events; page views and clicks
//! on goals are tracked automatically, including single-page navigation. Events are queued and
//! sent in batches with an `X-LaunchDarkly-Payload-ID` (retried once), and flushed with a
//! keep-alive request when the page is hidden or left, so a click that navigates loses nothing.
//!
//! Nothing here throws into the page: bad arguments log a console error and are ignored.
//! URL matching is `edge_exp_core::matcher`, shared with the Worker.

// The page runs the snippet on one thread, which `AssumeSingleThreaded` requires.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has no threads.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

mod goals;
mod send;
mod state;
#[cfg(all(test, target_arch = "wasm32"))]
mod tests;

use js_sys::{Object, Promise, Reflect};
use state::{with_state, Options, State};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

// No `format!` anywhere in the snippet: it would pull Rust's formatting machinery into the wasm.

/// Concatenate string pieces.
pub(crate) fn cat(parts: &[&str]) -> String {
    parts.concat()
}

pub(crate) fn console_error(msg: &str) {
    web_sys::console::error_1(&JsValue::from_str(&cat(&["[edge-exp] ", msg])));
}

pub(crate) fn console_warn(msg: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&cat(&["[edge-exp] ", msg])));
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

pub(crate) fn now() -> f64 {
    js_sys::Date::now()
}

/// Start the client. Resolves to `true` once flags and goals are loaded, `false` on bad arguments
/// or if the server could not be reached (flag reads then return their defaults).
#[wasm_bindgen]
pub fn init(client_side_id: JsValue, context: JsValue, options: JsValue) -> Promise {
    future_to_promise(async move {
        let Some(id) = client_side_id.as_string().filter(|s| !s.is_empty()) else {
            console_error("init: clientSideId must be a non-empty string");
            return Ok(JsValue::FALSE);
        };
        let Some(context) = state::prepare_context(&context) else {
            return Ok(JsValue::FALSE);
        };
        let options = Options::from_js(&options);
        let fresh = State::new(id, context, options);
        if !state::install(fresh) {
            console_error("init: already initialised (call close() first)");
            return Ok(JsValue::FALSE);
        }
        let ok = state::load_flags_and_goals().await;
        goals::start();
        state::queue_identify();
        send::start_timer();
        Ok(JsValue::from_bool(ok))
    })
}

/// A flag's value for the current context, or `default`. Sends a `feature` event for flags that
/// track events (experiments).
#[wasm_bindgen]
pub fn variation(flag_key: JsValue, default: JsValue) -> JsValue {
    let detail = variation_detail(flag_key, default.clone());
    let value = get(&detail, "value");
    if value.is_undefined() {
        default
    } else {
        value
    }
}

/// `{value, variationIndex, reason}` for a flag.
#[wasm_bindgen(js_name = variationDetail)]
pub fn variation_detail(flag_key: JsValue, default: JsValue) -> JsValue {
    let out: JsValue = Object::new().into();
    set(&out, "value", &default);
    set(&out, "variationIndex", &JsValue::NULL);
    set(&out, "reason", &JsValue::NULL);
    let Some(key) = flag_key.as_string() else {
        console_error("variation: flagKey must be a string");
        return out;
    };
    with_state(|s| {
        let flag = get(&s.flags, &key);
        if flag.is_undefined() || flag.is_null() {
            set(&out, "reason", &state::error_reason("FLAG_NOT_FOUND"));
            s.queue_feature_event(&key, &JsValue::UNDEFINED, &default);
            return;
        }
        set(&out, "value", &get(&flag, "value"));
        set(&out, "variationIndex", &get(&flag, "variation"));
        set(&out, "reason", &get(&flag, "reason"));
        s.queue_feature_event(&key, &flag, &default);
    });
    out
}

/// Every flag's value. Sends `feature` events for tracked flags unless `sendEventsOnAllFlags` is
/// false.
#[wasm_bindgen(js_name = allFlags)]
pub fn all_flags() -> JsValue {
    let out: JsValue = Object::new().into();
    with_state(|s| {
        let keys = Object::keys(&Object::from(s.flags.clone()));
        for key in keys.iter().filter_map(|k| k.as_string()) {
            let flag = get(&s.flags, &key);
            set(&out, &key, &get(&flag, "value"));
            if s.options.send_events_on_all_flags {
                s.queue_feature_event(&key, &flag, &JsValue::NULL);
            }
        }
    });
    out
}

/// Send a `custom` event (`data` any JSON, `metricValue` a number for numeric metrics).
#[wasm_bindgen]
pub fn track(event_key: JsValue, data: JsValue, metric_value: JsValue) {
    let Some(key) = event_key.as_string().filter(|k| !k.is_empty()) else {
        console_error("track: eventKey must be a non-empty string");
        return;
    };
    if !metric_value.is_undefined()
        && !metric_value.is_null()
        && metric_value.as_f64().is_none_or(|v| !v.is_finite())
    {
        console_error("track: metricValue must be a finite number");
        return;
    }
    with_state(|s| s.queue_custom(&key, &data, &metric_value));
}

/// Switch to another context: re-evaluates flags. Resolves to `true` when done.
#[wasm_bindgen]
pub fn identify(context: JsValue) -> Promise {
    future_to_promise(async move {
        let Some(context) = state::prepare_context(&context) else {
            return Ok(JsValue::FALSE);
        };
        if with_state(|s| s.context = context).is_none() {
            console_error("identify: call init() first");
            return Ok(JsValue::FALSE);
        }
        let ok = state::load_flags().await;
        state::queue_identify();
        Ok(JsValue::from_bool(ok))
    })
}

/// Send the queued events now. Resolves to `true` if they were accepted.
#[wasm_bindgen]
pub fn flush() -> Promise {
    future_to_promise(async move { Ok(JsValue::from_bool(send::flush(false).await)) })
}

/// Flush (with a keep-alive request) and stop: no more events, listeners inert.
#[wasm_bindgen]
pub fn close() -> Promise {
    future_to_promise(async move {
        let ok = send::flush(true).await;
        state::uninstall();
        Ok(JsValue::from_bool(ok))
    })
}

/// Counters for diagnostics: `{queued, dropped, sent}`.
#[wasm_bindgen]
pub fn stats() -> JsValue {
    let out: JsValue = Object::new().into();
    with_state(|s| {
        set(&out, "queued", &JsValue::from(s.queue.len() as u32));
        set(&out, "dropped", &JsValue::from(s.dropped));
        set(&out, "sent", &JsValue::from(s.sent));
    });
    out
}

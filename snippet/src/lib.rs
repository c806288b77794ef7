//! The browser snippet: LaunchDarkly-style experimentation in a page, from Rust compiled to wasm.
//!
//! `init(clientSideId, context, options)` evaluates the flags (`REPORT /sdk/evalx/...`) and loads
//! the goals (`GET /sdk/goals/...`); `variation` / `variationDetail` / `allFlags` read flags and
//! send `feature` events for experiment flags; `track` sends `custom` events; page views and clicks
//! on goals are tracked automatically, including single-page navigation. Events are queued and
//! sent in batches with an `X-LaunchDarkly-Payload-ID` (retried once) as keep-alive requests
//! while they fit the page's budget; when the page is hidden or left, what it still owes goes with
//! keep-alive requests or is kept for the next page (`send`, `outbox`), so nothing is lost silently.
//!
//! Nothing here throws into the page: bad arguments log a console error and are ignored.
//! URL matching is `edge_exp_core::matcher`, shared with the Worker.
//!
//! Built for size (every visitor downloads it): `no_std` on wasm (no formatting or unwinding
//! machinery), no async runtime (JavaScript promises are chained with [`action::callback`]
//! functions instead of Rust futures and closures), JavaScript objects for events (the browser's
//! own `JSON.stringify` instead of serde).

#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

// The page runs the snippet on one thread, which `AssumeSingleThreaded` requires.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has no threads.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// Nothing here panics on input (every JavaScript value is checked, every call that can throw is
/// caught); if something did, trap rather than ship Rust's panic-formatting machinery.
#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

mod action;
mod batch;
mod dispatch;
mod goals;
mod js;
mod net;
mod outbox;
mod send;
mod state;
#[cfg(all(test, target_arch = "wasm32"))]
mod tests;

use action::{callback, Action};
use js::{error, get, resolved, set, PromiseExt};
use js_sys::{Array, Object, Promise};
use state::{with_state, Options, State};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Start the client. Resolves to `true` once flags and goals are loaded, `false` on bad arguments
/// or if the server could not be reached (flag reads then return their defaults).
#[wasm_bindgen]
pub fn init(client_side_id: JsValue, context: JsValue, options: JsValue) -> Promise {
    if !client_side_id.is_string() || js::is(&client_side_id, "") {
        error("init: clientSideId must be a non-empty string");
        return resolved(&JsValue::FALSE);
    }
    let Some(context) = state::prepare_context(&context) else {
        return resolved(&JsValue::FALSE);
    };
    let fresh = State::new(client_side_id, context, Options::from_js(&options));
    let goals_url = fresh.url(&fresh.options.base_url, "/sdk/goals/", "");
    if !state::install(fresh) {
        error("init: already initialised (call close() first)");
        return resolved(&JsValue::FALSE);
    }
    // What an earlier page of the site could not send before it went away.
    send::send_outbox();
    let loads = Array::of2(
        &state::load_flags(),
        &net::fetch_json("GET", &goals_url, None),
    );
    js::all(&loads).then_call(&callback(Action::Loaded, 0))
}

/// A flag's value for the current context, or `default`. Sends a `feature` event for flags that
/// track events (experiments).
#[wasm_bindgen]
pub fn variation(flag_key: JsValue, default: JsValue) -> JsValue {
    let value = get(&variation_detail(flag_key, default.clone()), "value");
    if value.is_undefined() {
        default
    } else {
        value
    }
}

/// `{value, variationIndex, reason}` for a flag.
#[wasm_bindgen(js_name = variationDetail)]
pub fn variation_detail(flag_key: JsValue, default: JsValue) -> JsValue {
    let out = js::object();
    set(&out, "value", &default);
    set(&out, "variationIndex", &JsValue::NULL);
    set(&out, "reason", &JsValue::NULL);
    if !flag_key.is_string() {
        error("variation: flagKey must be a string");
        return out;
    }
    let key = &flag_key;
    with_state(|s| {
        let flag = js::get_key(&s.flags, key);
        if !flag.is_object() {
            set(&out, "reason", &state::error_reason("FLAG_NOT_FOUND"));
            s.queue_feature_event(key, &JsValue::UNDEFINED, &default);
            return;
        }
        set(&out, "value", &get(&flag, "value"));
        set(&out, "variationIndex", &get(&flag, "variation"));
        set(&out, "reason", &get(&flag, "reason"));
        s.queue_feature_event(key, &flag, &default);
    });
    out
}

/// Every flag's value. Sends `feature` events for tracked flags unless `sendEventsOnAllFlags` is
/// false.
#[wasm_bindgen(js_name = allFlags)]
pub fn all_flags() -> JsValue {
    let out = js::object();
    with_state(|s| {
        let keys = Object::keys(s.flags.unchecked_ref::<Object>());
        for key in (0..keys.length()).map(|i| keys.get(i)) {
            let flag = js::get_key(&s.flags, &key);
            js::set_key(&out, &key, &get(&flag, "value"));
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
    if !event_key.is_string() || js::is(&event_key, "") {
        error("track: eventKey must be a non-empty string");
        return;
    }
    if !metric_value.is_undefined()
        && !metric_value.is_null()
        && metric_value.as_f64().is_none_or(|v| !v.is_finite())
    {
        error("track: metricValue must be a finite number");
        return;
    }
    // A copy taken now: what is sent is `data` as it was, and a value `JSON.stringify` rejects
    // (a cycle, a BigInt) is refused here instead of failing the whole batch it would join.
    let copy = if data.is_undefined() || data.is_null() {
        JsValue::UNDEFINED
    } else {
        let copy = js::json_copy(&data);
        if copy.is_undefined() {
            error("track: data must be JSON (no cycles or BigInt)");
            return;
        }
        copy
    };
    with_state(|s| s.queue_custom(&event_key, &copy, &metric_value));
}

/// Switch to another context: re-evaluates flags. Resolves to `true` when done.
#[wasm_bindgen]
pub fn identify(context: JsValue) -> Promise {
    let Some(context) = state::prepare_context(&context) else {
        return resolved(&JsValue::FALSE);
    };
    if with_state(|s| s.context = context).is_none() {
        error("identify: call init() first");
        return resolved(&JsValue::FALSE);
    }
    state::load_flags().then_call(&callback(Action::Identified, 0))
}

/// Send the queued events now. Resolves to `true` if they were accepted.
#[wasm_bindgen]
pub fn flush() -> Promise {
    send::flush()
}

/// Send what is queued (keep-alive as far as the budget allows) and stop: no more events,
/// listeners inert. Resolves to `true` if the last events were accepted.
#[wasm_bindgen]
pub fn close() -> Promise {
    let last = send::flush();
    state::uninstall();
    last
}

/// Counters for diagnostics: `{queued, dropped, sent}`.
#[wasm_bindgen]
pub fn stats() -> JsValue {
    let out = js::object();
    with_state(|s| {
        set(&out, "queued", &JsValue::from(s.queue.len() as u32));
        set(&out, "dropped", &JsValue::from(s.dropped));
        set(&out, "sent", &JsValue::from(s.sent));
    });
    out
}

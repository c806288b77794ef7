//! Sending: batched event posts with a payload ID and one retry, the flush timer,
//! and the keep-alive flush when the page is hidden or left.

use crate::action::{self, callback, Action};
use crate::batch::{payload_id, Batch};
use crate::js::{self, error, resolved, set_str, warn, PromiseExt};
use crate::net::{fetch, request};
use crate::state::with_state;
use js_sys::{JsString, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Response;

/// Keep-alive requests may carry at most 64 KiB in flight; larger bodies go by `sendBeacon`.
const KEEPALIVE_LIMIT: u32 = 60_000;

const SDK_QUERY: &str = concat!("?sdk=EdgeExpSnippet/", env!("CARGO_PKG_VERSION"));

/// Take the queue as a payload. `Err(answer)` when there is nothing to post: `false` without a
/// client, `true` when the queue is empty.
fn take_batch(keepalive: bool) -> Result<Batch, bool> {
    let taken = with_state(|s| {
        // `sdk` names the snippet in the event-key catalogue (a beacon cannot set headers).
        let url = js::cat(&[&s.url(&s.options.events_url, "/events/bulk/"), SDK_QUERY]);
        (url, core::mem::replace(&mut s.queue, js_sys::Array::new()))
    });
    let Some((url, events)) = taken else {
        return Err(false);
    };
    if events.length() == 0 {
        return Err(true);
    }
    let body = JSON::stringify(&events).map_err(|_| false)?;
    Ok(Batch {
        url,
        body: body.into(),
        id: payload_id(),
        events: events.length(),
        keepalive,
        retried: false,
    })
}

/// Post a payload: a promise of `true` once accepted, `false` once given up.
pub fn post(batch: Batch) -> Promise {
    let headers = js::object();
    set_str(&headers, "Content-Type", "application/json");
    set_str(&headers, "X-LaunchDarkly-Event-Schema", "4");
    set_str(&headers, "X-LaunchDarkly-Payload-ID", &batch.id);
    let init = request("POST", Some(&batch.body), &headers, batch.keepalive);
    fetch(&batch.url, &init)
        .catch_call(&callback(Action::Null))
        .then_call(&callback(Action::Posted(batch)))
}

/// What to do with the answer to a post (a `Response`, or `null` after a network error).
pub fn answered(batch: &Batch, response: &JsValue) -> JsValue {
    let status = if response.is_object() {
        response.unchecked_ref::<Response>().status()
    } else {
        0
    };
    match status {
        200..=299 => {
            with_state(|s| s.sent += batch.events);
            JsValue::TRUE
        }
        // LaunchDarkly's rule: retry network errors, 5xx, 400, 408 and 429 once (after a second,
        // with the same payload ID); stop on other 4xx. Not while the page is going away.
        0 | 400 | 408 | 429 | 500.. if !batch.retried && !batch.keepalive => {
            let mut again = batch.clone();
            again.retried = true;
            action::then(&action::sleep(1000), Action::Resend(again)).into()
        }
        0 | 400 | 408 | 429 | 500.. => {
            warn("could not send events (dropped after one retry)");
            JsValue::FALSE
        }
        _ => {
            error(
                "events refused (HTTP 4xx): check the client-side ID; no more events will be sent",
            );
            with_state(|s| s.disabled = true);
            JsValue::FALSE
        }
    }
}

/// Send everything queued (`keepalive`: a request that outlives the page, no retry).
pub fn flush(keepalive: bool) -> Promise {
    match take_batch(keepalive) {
        Ok(batch) => post(batch),
        Err(answer) => resolved(&JsValue::from_bool(answer)),
    }
}

/// `pagehide`, or `visibilitychange` to hidden: send the queue right now, inside the event
/// handler, with a keep-alive request (or `navigator.sendBeacon` for a body too large for one).
/// The page may be going away, so there is no one to retry.
pub fn leaving(event: &JsValue) {
    let Some(window) = js::window() else { return };
    let hidden = window.document().is_some_and(|d| d.hidden());
    if !hidden && event.unchecked_ref::<web_sys::Event>().type_() != "pagehide" {
        return;
    }
    let Ok(batch) = take_batch(true) else { return };
    if batch.body.unchecked_ref::<JsString>().length() <= KEEPALIVE_LIMIT {
        let _ = post(batch);
        return;
    }
    let body = batch.body.as_string();
    if window
        .navigator()
        .send_beacon_with_opt_str(&batch.url, body.as_deref())
        .unwrap_or(false)
    {
        with_state(|s| s.sent += batch.events);
    }
}

/// Flush every `flushInterval`.
pub fn start_timer() {
    let Some(window) = js::window() else { return };
    let Some(interval) = with_state(|s| s.options.flush_interval_ms) else {
        return;
    };
    let handle = window
        .set_interval_with_callback_and_timeout_and_arguments_0(&callback(Action::Flush), interval)
        .ok();
    with_state(|s| s.timer = handle);
}

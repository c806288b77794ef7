//! Sending: batched event posts with a payload ID and one retry, the flush timer, and delivery
//! when the page is hidden or left.
//!
//! Every post goes as a keep-alive request when its body fits what is left of the page's 64 KiB
//! keep-alive budget (the page may not outlive any flush), else as an ordinary request, which a
//! page exit would cancel. When the page is hidden or left, what it still owes (the queue,
//! ordinary posts in flight, posts waiting for their retry) goes with keep-alive requests as far
//! as the budget allows; the rest is kept in `localStorage` for the next page (`outbox`), and
//! only what storage refuses is dropped, counted in `stats().dropped` and warned about.

use crate::action::{self, callback, Action};
use crate::batch::{payload_id, Batch};
use crate::js::{self, error, resolved, set_str, warn, PromiseExt};
use crate::net::{fetch, request};
use crate::outbox;
use crate::state::{with_state, FLUSH_BYTES, KEEPALIVE_BUDGET};
use alloc::string::String;
use alloc::vec::Vec;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Response;

const SDK_QUERY: &str = concat!("?sdk=EdgeExpSnippet/", env!("CARGO_PKG_VERSION"));

/// Take the queue as payloads of at most [`FLUSH_BYTES`] each (an event larger than that goes
/// alone). `None` without a client.
pub(crate) fn take_batches() -> Option<Vec<Batch>> {
    with_state(|s| {
        s.flush_due = false;
        s.queued_bytes = 0;
        // `sdk` names the snippet in the event-key catalogue.
        let url = js::cat(&[&s.url(&s.options.events_url, "/events/bulk/"), SDK_QUERY]);
        let queue = core::mem::take(&mut s.queue);
        let mut batches = Vec::new();
        let mut body = String::new();
        let mut events = 0;
        for (i, event) in queue.iter().enumerate() {
            body.push(if events == 0 { '[' } else { ',' });
            body.push_str(event);
            events += 1;
            let next_fits = queue
                .get(i + 1)
                .is_some_and(|e| body.len() + e.len() + 2 <= FLUSH_BYTES);
            if !next_fits {
                body.push(']');
                let body = core::mem::take(&mut body);
                batches.push(Batch::new(url.clone(), body, events, payload_id()));
                events = 0;
            }
        }
        batches
    })
}

/// Post a payload, with keep-alive if it fits the budget (else it is owed until answered): a
/// promise of `true` once accepted, `false` once given up.
pub fn post(mut batch: Batch) -> Promise {
    with_state(|s| {
        batch.keepalive = s.reserve_keepalive(batch.body.len());
        if !batch.keepalive {
            s.owed.push(batch.clone());
        }
    });
    let headers = js::object();
    set_str(&headers, "Content-Type", "application/json");
    set_str(&headers, "X-LaunchDarkly-Event-Schema", "4");
    set_str(&headers, "X-LaunchDarkly-Payload-ID", &batch.id);
    let body = JsValue::from_str(&batch.body);
    let init = request("POST", Some(&body), &headers, batch.keepalive);
    fetch(&batch.url, &init)
        .catch_call(&callback(Action::Null))
        .then_call(&callback(Action::Posted(batch)))
}

/// The retry of a payload, unless the page handed it on meanwhile.
pub fn resend(batch: &Batch) -> JsValue {
    if with_state(|s| s.settle(batch)) == Some(true) {
        post(batch.clone()).into()
    } else {
        JsValue::FALSE
    }
}

/// What to do with the answer to a post (a `Response`, or `null` after a network error).
pub fn answered(batch: &Batch, response: &JsValue) -> JsValue {
    let status = if response.is_object() {
        response.unchecked_ref::<Response>().status()
    } else {
        0
    };
    let ok = (200..300).contains(&status);
    let decides = with_state(|s| {
        if batch.keepalive {
            s.keepalive_bytes = s.keepalive_bytes.saturating_sub(batch.body.len());
            true
        } else {
            s.settle(batch)
        }
    });
    // An ordinary post handed on at exit (posted again or kept): that copy decides.
    if decides != Some(true) {
        return JsValue::from_bool(ok);
    }
    match status {
        200..=299 => {
            with_state(|s| s.sent += batch.events);
        }
        // LaunchDarkly's rule: retry network errors, 5xx, 400, 408 and 429 once (after a second,
        // with the same payload ID); stop on other 4xx. The payload is owed while it waits.
        0 | 400 | 408 | 429 | 500.. if !batch.retried => {
            let mut again = batch.clone();
            again.retried = true;
            with_state(|s| s.owed.push(again.clone()));
            return action::then(&action::sleep(1000), Action::Resend(again)).into();
        }
        0 | 400 | 408 | 429 | 500.. => {
            warn("could not send events (dropped after one retry)");
            with_state(|s| s.dropped += batch.events);
        }
        _ => {
            error(
                "events refused (HTTP 4xx): check the client-side ID; no more events will be sent",
            );
            with_state(|s| {
                s.dropped += batch.events;
                s.disabled = true;
            });
        }
    }
    JsValue::from_bool(ok)
}

/// Send everything queued: a promise of `true` once every payload is accepted (`true` at once
/// when nothing is queued, `false` without a client).
pub fn flush() -> Promise {
    let Some(batches) = take_batches() else {
        return resolved(&JsValue::FALSE);
    };
    let posts = Array::new();
    for batch in batches {
        posts.push(&post(batch));
    }
    js::all(&posts).then_call(&callback(Action::Every))
}

/// Post what earlier pages kept for this one.
pub fn send_outbox() {
    outbox::take(|batch| {
        let _ = post(batch);
    });
}

/// `pagehide`, or `visibilitychange`: when the page is hidden or left, hand on everything it
/// still owes inside the event handler; when it is shown again, send what was kept meanwhile.
pub fn leaving(event: &JsValue) {
    let Some(window) = js::window() else { return };
    let hidden = window.document().is_some_and(|d| d.hidden());
    if !hidden && event.unchecked_ref::<web_sys::Event>().type_() != "pagehide" {
        send_outbox();
        return;
    }
    let owed = with_state(|s| core::mem::take(&mut s.owed));
    let (Some(mut owed), Some(queued)) = (owed, take_batches()) else {
        return;
    };
    owed.extend(queued);
    let mut kept = Vec::new();
    for batch in owed {
        let fits = with_state(|s| s.keepalive_bytes + batch.body.len() <= KEEPALIVE_BUDGET);
        if fits == Some(true) {
            let _ = post(batch);
        } else {
            kept.push(batch);
        }
    }
    if !kept.is_empty() && !outbox::keep(&kept) {
        warn("could not send or keep events on leaving (counted in stats().dropped)");
        with_state(|s| s.dropped += kept.iter().map(|b| b.events).sum::<u32>());
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

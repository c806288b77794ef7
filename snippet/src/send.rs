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
use crate::js::{self, error, resolved, set, set_str, warn, PromiseExt};
use crate::net::{fetch, request};
use crate::outbox;
use crate::state::{with_state, FLUSH_BYTES, KEEPALIVE_BUDGET};
use alloc::vec::Vec;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;

/// The events URL's query: `sdk` names the snippet in the event-key catalogue.
macro_rules! sdk_query {
    () => {
        concat!("?sdk=EdgeExpSnippet/", env!("CARGO_PKG_VERSION"))
    };
}
const SDK_QUERY: &str = sdk_query!();
/// The same from an automated page (`State::webdriver`).
const SDK_QUERY_AUTOMATED: &str = concat!(sdk_query!(), "&wd=1");

/// Take the queue as payloads of at most [`FLUSH_BYTES`] each (an event larger than that goes
/// alone). `None` without a client.
pub(crate) fn take_batches() -> Option<Vec<Batch>> {
    with_state(|s| {
        s.flush_due = false;
        s.queued_bytes = 0;
        let query = if s.webdriver {
            SDK_QUERY_AUTOMATED
        } else {
            SDK_QUERY
        };
        let url = s.url(&s.options.events_url, "/events/bulk/", query);
        let queue = core::mem::take(&mut s.queue);
        let mut batches = Vec::new();
        let mut texts = Array::new();
        // The body's size: `[`, the events, a `,` between two, `]`.
        let mut bytes = 1;
        for (i, (text, size)) in queue.iter().enumerate() {
            texts.push(text);
            bytes += size + 1;
            let next_fits = queue
                .get(i + 1)
                .is_some_and(|(_, next)| bytes + next < FLUSH_BYTES);
            if !next_fits {
                let events = texts.length();
                let body = js::json_array(&core::mem::replace(&mut texts, Array::new()));
                let id = payload_id();
                batches.push(Batch::new(url.clone(), body, events, id));
                bytes = 1;
            }
        }
        batches
    })
}

/// Post a payload, with keep-alive if it fits the budget (else it is owed until answered): a
/// promise of `true` once accepted, `false` once given up.
pub fn post(mut batch: Batch) -> Promise {
    let attempt = with_state(|s| {
        batch.keepalive = s.reserve_keepalive(batch.bytes);
        s.attempts += 1;
        s.attempts
    })
    .unwrap_or(0);
    batch.attempt = attempt;
    let headers = js::object();
    set_str(&headers, "Content-Type", "application/json");
    set_str(&headers, "X-LaunchDarkly-Event-Schema", "4");
    set(&headers, "X-LaunchDarkly-Payload-ID", &batch.id);
    let init = request("POST", Some(&batch.body), &headers, batch.keepalive);
    let answer = fetch(&batch.url, &init)
        .catch_call(&callback(Action::Null, 0))
        .then_call(&callback(Action::Posted, attempt));
    with_state(|s| s.posts.push(batch));
    answer
}

/// The retry of the payload whose attempt `attempt` failed, unless the page handed it on
/// meanwhile.
pub fn resend(attempt: u32) -> JsValue {
    match with_state(|s| s.take_post(attempt)).flatten() {
        Some(batch) => post(batch).into(),
        None => JsValue::FALSE,
    }
}

/// What to do with the answer to attempt `attempt` (a `Response`, or `null` after a network
/// error).
pub fn answered(attempt: u32, response: &JsValue) -> JsValue {
    // `undefined` (no status) after a network error.
    let status = js::get(response, "status").as_f64().map_or(0, |s| s as u16);
    let ok = (200..300).contains(&status);
    // `None`: handed on at exit (that copy decides), or the client is gone.
    let retry = with_state(|s| {
        let mut batch = s.take_post(attempt)?;
        if batch.keepalive {
            s.keepalive_bytes = s.keepalive_bytes.saturating_sub(batch.bytes);
        }
        match status {
            200..=299 => s.sent += batch.events,
            // LaunchDarkly's rule: retry network errors, 5xx, 400, 408 and 429 once (after a
            // second, with the same payload ID); stop on other 4xx. It is owed while it waits.
            0 | 400 | 408 | 429 | 500.. if !batch.retried => {
                batch.retried = true;
                batch.keepalive = false;
                s.posts.push(batch);
                return Some(attempt);
            }
            0 | 400 | 408 | 429 | 500.. => {
                warn("could not send events (dropped after one retry)");
                s.dropped += batch.events;
            }
            _ => {
                error("events refused (HTTP 4xx): check the client-side ID; no more events will be sent");
                s.dropped += batch.events;
                s.disabled = true;
            }
        }
        None
    })
    .flatten();
    match retry {
        Some(n) => action::then(&action::sleep(1000), Action::Resend, n).into(),
        None => JsValue::from_bool(ok),
    }
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
    js::all(&posts).then_call(&callback(Action::Every, 0))
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
    let hidden = js::get(&js::get(&js::window(), "document"), "hidden").is_truthy();
    if !hidden && !js::is(&js::get(event, "type"), "pagehide") {
        send_outbox();
        return;
    }
    // What is not posted with keep-alive: ordinary posts in flight, posts waiting for a retry.
    let owed = with_state(|s| {
        let (owed, kept): (Vec<Batch>, Vec<Batch>) = core::mem::take(&mut s.posts)
            .into_iter()
            .partition(|b| !b.keepalive);
        s.posts = kept;
        owed
    });
    let (Some(mut owed), Some(queued)) = (owed, take_batches()) else {
        return;
    };
    owed.extend(queued);
    let mut kept = Vec::new();
    for batch in owed {
        let fits = with_state(|s| s.keepalive_bytes + batch.bytes <= KEEPALIVE_BUDGET);
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
    let Some(interval) = with_state(|s| s.options.flush_interval_ms) else {
        return;
    };
    let handle = js::timer("setInterval", &callback(Action::Flush, 0), interval);
    with_state(|s| s.timer = handle);
}

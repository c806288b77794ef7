//! Sending: JSON fetches, batched event posts with a payload ID and one retry, the flush timer,
//! and the keep-alive flush when the page is hidden or left.

use crate::state::with_state;
use crate::{console_error, console_warn};
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

fn request(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
    keepalive: bool,
) -> Option<Request> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        init.set_body(&JsValue::from_str(b));
    }
    let h = web_sys::Headers::new().ok()?;
    for (k, v) in headers {
        h.set(k, v).ok()?;
    }
    init.set_headers(&h);
    if keepalive {
        // web-sys has no setter for it; RequestInit is a plain JS dictionary.
        crate::set(&init, "keepalive", &JsValue::TRUE);
    }
    Request::new_with_str_and_init(url, &init).ok()
}

async fn fetch(req: &Request) -> Option<Response> {
    let window = web_sys::window()?;
    JsFuture::from(window.fetch_with_request(req))
        .await
        .ok()?
        .dyn_into::<Response>()
        .ok()
}

/// Fetch JSON (GET or REPORT). `None` on any failure.
pub async fn fetch_json(method: &str, url: &str, body: Option<&str>) -> Option<JsValue> {
    let req = request(
        method,
        url,
        body,
        &[("Content-Type", "application/json")],
        false,
    )?;
    let resp = fetch(&req).await?;
    if !resp.ok() {
        return None;
    }
    JsFuture::from(resp.json().ok()?).await.ok()
}

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

fn payload_id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::getrandom(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40; // UUID v4
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::hex(&b);
    let part = |from: usize, to: usize| h.get(from..to).unwrap_or("");
    crate::cat(&[
        part(0, 8),
        "-",
        part(8, 12),
        "-",
        part(12, 16),
        "-",
        part(16, 20),
        "-",
        part(20, 32),
    ])
}

#[cfg(all(test, target_arch = "wasm32"))]
pub fn payload_id_for_tests() -> String {
    payload_id()
}

enum Outcome {
    Accepted,
    Retry,
    Refused(u16),
}

async fn post_once(url: &str, body: &str, id: &str, keepalive: bool) -> Outcome {
    let headers = [
        ("Content-Type", "application/json"),
        ("X-LaunchDarkly-Event-Schema", "4"),
        ("X-LaunchDarkly-Payload-ID", id),
    ];
    let Some(req) = request("POST", url, Some(body), &headers, keepalive) else {
        return Outcome::Retry;
    };
    match fetch(&req).await {
        None => Outcome::Retry,
        Some(r) if r.status() < 300 => Outcome::Accepted,
        // LaunchDarkly's rule: retry network errors, 5xx, 400, 408 and 429; stop on other 4xx.
        Some(r) if matches!(r.status(), 400 | 408 | 429) || r.status() >= 500 => Outcome::Retry,
        Some(r) => Outcome::Refused(r.status()),
    }
}

/// Take the queue as a payload: (events URL, JSON body, number of events). `None` when there is
/// no client; `n == 0` when there is nothing to send.
fn take_batch() -> Option<(String, String, u32)> {
    let (url, events) = with_state(|s| {
        let url = crate::cat(&[&s.options.events_url, "/events/bulk/", &s.client_side_id]);
        (url, std::mem::take(&mut s.queue))
    })?;
    if events.is_empty() {
        return Some((url, String::new(), 0));
    }
    let n = events.len() as u32;
    let array: Array = events.into_iter().collect();
    let body = js_sys::JSON::stringify(&array).ok()?.as_string()?;
    Some((url, body, n))
}

/// Send everything queued. `unloading`: a keep-alive request, no retry (the page is going away).
pub async fn flush(unloading: bool) -> bool {
    let Some((url, body, n)) = take_batch() else {
        return false;
    };
    if n == 0 {
        return true;
    }
    let id = payload_id();
    let mut outcome = post_once(&url, &body, &id, unloading).await;
    if matches!(outcome, Outcome::Retry) && !unloading {
        sleep(1000).await;
        outcome = post_once(&url, &body, &id, false).await;
    }
    match outcome {
        Outcome::Accepted => {
            with_state(|s| s.sent += n);
            true
        }
        Outcome::Retry => {
            console_warn("could not send events (dropped after one retry)");
            false
        }
        Outcome::Refused(status) => {
            let _ = status;
            console_error(
                "events refused (HTTP 4xx): check the client-side ID; no more events will be sent",
            );
            with_state(|s| s.disabled = true);
            false
        }
    }
}

/// Send the queue right now, inside the current event handler, with a keep-alive request that
/// outlives the page (or `navigator.sendBeacon` if `fetch` is refused). Fire and forget: the page
/// is going away, so there is no one to retry.
fn flush_while_leaving() {
    let Some((url, body, n)) = take_batch() else {
        return;
    };
    if n == 0 {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let id = payload_id();
    let headers = [
        ("Content-Type", "application/json"),
        ("X-LaunchDarkly-Event-Schema", "4"),
        ("X-LaunchDarkly-Payload-ID", id.as_str()),
    ];
    let started = request("POST", &url, Some(&body), &headers, true).is_some_and(|req| {
        // The promise is dropped: the request itself carries on after the page is gone.
        let _ = window.fetch_with_request(&req);
        true
    });
    let sent = started
        || window
            .navigator()
            .send_beacon_with_opt_str(&url, Some(&body))
            .unwrap_or(false);
    if sent {
        with_state(|s| s.sent += n);
    }
}

fn flush_in_background(unloading: bool) {
    wasm_bindgen_futures::spawn_local(async move {
        flush(unloading).await;
    });
}

/// Flush every `flushInterval`, and with a keep-alive request when the page is hidden or left.
pub fn start_timer() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let interval = with_state(|s| s.options.flush_interval_ms).unwrap_or(5000);
    let tick = Closure::<dyn FnMut()>::new(|| flush_in_background(false));
    let handle = window
        .set_interval_with_callback_and_timeout_and_arguments_0(
            tick.as_ref().unchecked_ref(),
            interval,
        )
        .ok();
    tick.forget();
    with_state(|s| s.timer = handle);

    let leaving = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| {
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden);
        if e.type_() == "pagehide" || hidden {
            flush_while_leaving();
        }
    });
    let _ = window.add_event_listener_with_callback("pagehide", leaving.as_ref().unchecked_ref());
    if let Some(d) = window.document() {
        let _ = d
            .add_event_listener_with_callback("visibilitychange", leaving.as_ref().unchecked_ref());
    }
    leaving.forget();
}

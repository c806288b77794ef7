//! Response helpers: JSON bodies, the `Date` header SDKs read, and CORS for browser routes.

use crate::error::ApiError;
use edge_exp_core::Error;
use std::time::{Duration, UNIX_EPOCH};
use worker::{Headers, Request, Response};

/// Current time in Unix ms, from the JS clock (std's clock is unavailable on wasm32).
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// Headers browsers may send on SDK routes (LaunchDarkly's list, as its relay allows).
const CORS_ALLOW_HEADERS: &str = "Content-Type, Content-Encoding, X-LaunchDarkly-User-Agent, \
X-LaunchDarkly-Payload-ID, X-LaunchDarkly-Wrapper, X-LaunchDarkly-Event-Schema, X-LaunchDarkly-Tags";

pub fn json(status: u16, body: &serde_json::Value) -> Response {
    json_text(status, body.to_string().into_bytes())
}

/// A typed answer as JSON, serialised straight from the type (no JSON tree built first).
pub fn json_of<T: serde::Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    Ok(json_text(status, serde_json::to_vec(body)?))
}

/// A published JSON document under its ETag: 304 when `If-None-Match` names it, else the body.
pub fn json_with_etag(req: &Request, etag: &str, body: &str) -> Response {
    let matches =
        header(req, "If-None-Match").is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if matches {
        empty(304)
    } else {
        json_text(200, body.as_bytes().to_vec())
    };
    set(resp.headers_mut(), "ETag", etag);
    resp
}

fn json_text(status: u16, text: Vec<u8>) -> Response {
    let mut resp = Response::builder().with_status(status).fixed(text);
    set(resp.headers_mut(), "Content-Type", "application/json");
    resp
}

/// The one place errors become responses. An internal error's detail (storage and runtime
/// messages) goes to the log under a request ID; the client gets only that ID.
pub fn error(e: &ApiError) -> Response {
    let ApiError(Error::Internal(detail)) = e else {
        return json(e.status(), &e.body());
    };
    let id = crate::store::random_hex(8).unwrap_or_else(|_| "unavailable".into());
    worker::console_error!("internal error, request id {id}: {detail}");
    let body = serde_json::json!({
        "code": "internal_error",
        "message": format!("internal error (request id {id}); retry later"),
    });
    let mut resp = json(500, &body);
    set(resp.headers_mut(), "X-Request-Id", &id);
    resp
}

pub fn empty(status: u16) -> Response {
    Response::builder().with_status(status).empty()
}

fn set(headers: &mut Headers, name: &str, value: &str) {
    // Header names and values here are static ASCII, so this cannot fail; ignore rather than panic.
    let _ = headers.set(name, value);
}

/// Add `Date` (LaunchDarkly SDKs read it as the server clock).
pub fn with_date(mut resp: Response) -> Response {
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(now_ms().max(0) as u64));
    set(resp.headers_mut(), "Date", &date);
    resp
}

pub fn with_header(mut resp: Response, name: &str, value: &str) -> Response {
    set(resp.headers_mut(), name, value);
    resp
}

/// Add CORS headers for a browser route, echoing the caller's origin.
pub fn with_cors(req: &Request, mut resp: Response) -> Response {
    let origin = req
        .headers()
        .get("Origin")
        .ok()
        .flatten()
        .unwrap_or_else(|| "*".into());
    let h = resp.headers_mut();
    set(h, "Access-Control-Allow-Origin", &origin);
    set(
        h,
        "Access-Control-Allow-Methods",
        "GET, POST, REPORT, OPTIONS",
    );
    set(h, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
    set(h, "Access-Control-Expose-Headers", "Date");
    set(h, "Access-Control-Max-Age", "300");
    set(h, "Vary", "Origin");
    resp
}

/// The query of a request's URL (after `?`, before any `#`), as the runtime gave it. Read from the
/// URL's text rather than through `Request::url()`: the `url` crate's parser links the IDNA
/// tables (host names), which nothing else needs, into every Worker.
pub fn query(req: &Request) -> String {
    query_of(&req.inner().url()).to_owned()
}

fn query_of(url: &str) -> &str {
    let url = url.split('#').next().unwrap_or_default();
    url.split_once('?').map_or("", |(_, query)| query)
}

/// A request header as a string, if present and readable.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Where a request's time went, as a `Server-Timing` header (shown by browsers' developer tools;
/// the scale benchmark prints it). The Workers clock moves only across I/O, so each phase is
/// measured around its storage calls.
pub struct Timing {
    last: i64,
    phases: Vec<(&'static str, i64)>,
}

impl Timing {
    pub fn start() -> Timing {
        Timing {
            last: now_ms(),
            phases: Vec::new(),
        }
    }

    /// End the current phase, naming it.
    pub fn mark(&mut self, phase: &'static str) {
        let now = now_ms();
        self.phases.push((phase, now - self.last));
        self.last = now;
    }

    pub fn header(&self) -> String {
        let phases = self
            .phases
            .iter()
            .map(|(name, ms)| format!("{name};dur={ms}"));
        phases.collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::query_of;

    #[test]
    fn the_query_is_between_the_question_mark_and_the_fragment() {
        assert_eq!(
            query_of("https://x.test/sdk/evalx?withReasons=true"),
            "withReasons=true"
        );
        assert_eq!(query_of("https://x.test/a?b=1&c=%3F#frag?x"), "b=1&c=%3F");
        assert_eq!(query_of("https://x.test/a#frag?x=1"), "");
        assert_eq!(query_of("https://x.test/a"), "");
        assert_eq!(query_of("https://x.test/a?"), "");
    }
}

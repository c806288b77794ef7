//! JSON request bodies for the REST routes.

use crate::error::ApiError;
use crate::http::header;
use edge_exp_core::Error;
use edge_exp_core::{decode_body, BodyError, MAX_BODY_BYTES};
use futures_util::StreamExt;
use serde_json::Value;
use worker::Request;

/// Most raw (possibly gzipped) bytes any route reads: the inflated limit plus gzip's overhead.
pub const MAX_RAW_BODY_BYTES: usize = MAX_BODY_BYTES + 64 * 1024;

/// The request body, read as a stream and refused (413) as soon as it passes `limit` bytes: an
/// oversized body, chunked or not, is never held whole. A request without a body reads as empty.
pub async fn read_limited(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = header(req, "Content-Length").and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(refused(0));
    }
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > limit {
            return Err(refused(out.len() + chunk.len()));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The 413 for a body refused after reading `read` bytes of it, counted in the ingest figures
/// (`refusedBodies`, `maxRefusedBodyBytesRead`) so tests and operators can see it stopped early.
fn refused(read: usize) -> ApiError {
    crate::ingest::STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.refused_bodies += 1;
        s.max_refused_body_bytes_read = s.max_refused_body_bytes_read.max(read as u64);
    });
    BodyError::TooLarge.into()
}

pub async fn json(req: &mut Request) -> Result<Value, ApiError> {
    let raw = read_limited(req, MAX_RAW_BODY_BYTES).await?;
    let bytes = decode_body(raw, header(req, "Content-Encoding").as_deref())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError(Error::BadRequest(
            "body is empty: send JSON".into(),
        )));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError(Error::BadRequest(format!("body is not valid JSON: {e}"))))
}

/// Refuse a query string on a route that takes none (naming its first parameter).
pub fn no_query(req: &Request) -> Result<(), ApiError> {
    Ok(edge_exp_core::query::none(&query_pairs(req)?)?)
}

/// The decoded query pairs of a request.
pub fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    Ok(form_urlencoded::parse(crate::http::query(req).as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

//! JSON request bodies for the REST routes.

use crate::error::ApiError;
use crate::http::header;
use edge_exp_core::decode_body;
use serde_json::Value;
use worker::Request;

pub async fn json(req: &mut Request) -> Result<Value, ApiError> {
    let raw = req.bytes().await?;
    let bytes = decode_body(raw, header(req, "Content-Encoding").as_deref())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("body is empty: send JSON".into()));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))
}

/// The decoded query pairs of a request.
pub fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    Ok(req
        .url()?
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

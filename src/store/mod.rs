//! Storage adapters over Workers KV. Each module owns one kind of record.

pub mod config;
pub mod counters;
pub mod exposures;
pub mod feed;
pub mod payloads;
pub mod projects;
pub mod shards;

use crate::error::ApiError;
use serde::Serialize;
use worker::{Env, KvStore, Method, Request, RequestInit};

/// Tenancy and credentials (projects, environments, hashed keys and tokens).
pub const CONFIG_KV: &str = "CONFIG";
/// Exposure histories for first-variation attribution.
pub const ATTRIBUTION_KV: &str = "ATTRIBUTION";
/// Payload IDs already processed (24 h).
pub const PAYLOADS_KV: &str = "PAYLOADS";
/// The live event feed (one short-lived entry per payload).
pub const FEED_KV: &str = "FEED";
/// KV's limit on key length: longer keys are refused by KV, so lookups check it first.
pub const MAX_KV_KEY_BYTES: usize = 512;

/// Random lowercase hex from the runtime's CSPRNG.
pub fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf)
        .map_err(|e| ApiError::Internal(format!("no random source: {e}")))?;
    Ok(hex::encode(buf))
}

pub fn kv(env: &Env, binding: &str) -> Result<KvStore, ApiError> {
    env.kv(binding)
        .map_err(|e| ApiError::Internal(format!("KV binding `{binding}` is missing: {e}")))
}

/// KV `expiration` is absolute Unix seconds and must be at least 60 s in the future.
pub fn kv_expiration(expires_at_ms: i64, now_ms: i64) -> u64 {
    let min = now_ms / 1000 + 61;
    (expires_at_ms / 1000 + 1).max(min).max(0) as u64
}

/// Send a JSON command to the Durable Object `name` of namespace `binding`; returns the status and
/// JSON body it answered.
pub async fn call_object(
    env: &Env,
    binding: &str,
    name: &str,
    command: &impl Serialize,
) -> Result<(u16, serde_json::Value), ApiError> {
    let stub = env
        .durable_object(binding)?
        .id_from_name(name)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(serde_json::to_string(command)?.into()));
    let mut resp = stub
        .fetch_with_request(Request::new_with_init("https://object/command", &init)?)
        .await?;
    Ok((resp.status_code(), resp.json().await?))
}

/// [`call_object`], turning an answer other than 2xx into the error it carries.
pub async fn call_object_ok(
    env: &Env,
    binding: &str,
    name: &str,
    command: &impl Serialize,
) -> Result<serde_json::Value, ApiError> {
    let (status, body) = call_object(env, binding, name, command).await?;
    if status < 300 {
        Ok(body)
    } else {
        Err(ApiError::from_reply(status, &body))
    }
}

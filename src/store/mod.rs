//! Storage adapters over Workers KV. Each module owns one kind of record.

pub mod config;
pub mod counters;
pub mod exposures;
pub mod payloads;
pub mod projects;

use crate::error::ApiError;
use worker::{Env, KvStore};

/// Tenancy and credentials (projects, environments, hashed keys and tokens).
pub const CONFIG_KV: &str = "CONFIG";
/// Exposure histories for first-variation attribution.
pub const ATTRIBUTION_KV: &str = "ATTRIBUTION";
/// Payload IDs already processed (24 h).
pub const PAYLOADS_KV: &str = "PAYLOADS";

pub fn kv(env: &Env, binding: &str) -> Result<KvStore, ApiError> {
    env.kv(binding)
        .map_err(|e| ApiError::Internal(format!("KV binding `{binding}` is missing: {e}")))
}

/// KV `expiration` is absolute Unix seconds and must be at least 60 s in the future.
pub fn kv_expiration(expires_at_ms: i64, now_ms: i64) -> u64 {
    let min = now_ms / 1000 + 61;
    (expires_at_ms / 1000 + 1).max(min).max(0) as u64
}

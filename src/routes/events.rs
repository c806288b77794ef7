//! The analytics events routes (`/bulk`, `/events/bulk/{id}`, `/mobile/...`).
//!
//! Body → decode (gzip, 1 MiB) → payload-ID check → `core::parse_batch` (bad events reported, good
//! ones kept) → exposures merged per unit and flag → one KV write per changed history → 202 with
//! `{"accepted": n, "rejected": [...]}`.

use crate::error::ApiError;
use crate::http::{header, json, now_ms};
use crate::store::{self, config::Tenant, exposures, feed, payloads};
use edge_exp_core::event::ConversionKind;
use edge_exp_core::{
    decode_body, keys, parse_batch, parse_batch_with, Event, Exposure, MAX_BODY_BYTES,
};
use serde_json::json;
use std::collections::BTreeMap;
use worker::{Env, Request, Response};

/// Where a payload comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// LaunchDarkly SDKs (any event kind).
    Sdk,
    /// The metric import API: `custom` events from a data pipeline.
    Import,
}

pub async fn ingest(
    req: &mut Request,
    env: &Env,
    tenant: &Tenant,
    source: Source,
) -> Result<Response, ApiError> {
    // Refuse obviously oversized bodies before reading them (gzip can only grow a little).
    let declared = header(req, "Content-Length").and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES + 64 * 1024) {
        return Err(edge_exp_core::BodyError::TooLarge.into());
    }
    let raw = req.bytes().await?;
    let body = decode_body(raw, header(req, "Content-Encoding").as_deref())?;

    let now = now_ms();
    let payloads_kv = store::kv(env, store::PAYLOADS_KV)?;
    let payload_id = header(req, "X-LaunchDarkly-Payload-ID")
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty());
    let payload_key = payload_id
        .as_deref()
        .map(|id| keys::payload_key(&tenant.project, &tenant.env, id));
    if let Some(key) = &payload_key {
        if let Some(summary) = payloads::seen(&payloads_kv, key).await? {
            let mut previous: serde_json::Value =
                serde_json::from_str(&summary).unwrap_or_else(|_| json!({}));
            previous["duplicate"] = json!(true);
            return Ok(json(202, &previous));
        }
    }

    let batch = match source {
        Source::Sdk => parse_batch(&body, now)?,
        Source::Import => parse_batch_with(&body, now, |e| match e {
            Event::Conversion(c) if c.kind == ConversionKind::Custom => Ok(()),
            _ => Err("only `custom` events can be imported".into()),
        })?,
    };
    let writes = record_exposures(env, tenant, &batch.events, now).await?;
    let iterations =
        crate::counting::record(env, tenant, &batch.events, payload_id.as_deref(), now).await?;

    let summary = json!({
        "accepted": batch.events.len(),
        "rejected": batch.rejected,
    });
    let source = if source == Source::Import {
        "import"
    } else {
        "sdk"
    };
    let items = edge_exp_core::feed::summarize(&batch.events, feed::ITEMS_PER_ENTRY);
    if !items.is_empty() || !batch.rejected.is_empty() {
        feed::record(
            env,
            tenant,
            now,
            source,
            batch.events.len(),
            batch.rejected.len(),
            items,
        )
        .await?;
    }
    if let Some(key) = &payload_key {
        payloads::remember(&payloads_kv, key, &summary.to_string()).await?;
    }
    let mut body = summary;
    body["exposureWrites"] = json!(writes);
    body["experimentIterations"] = json!(iterations);
    Ok(json(202, &body))
}

/// Record every exposure (feature event with a variation) in its unit's history.
/// All of a payload's exposures for one (unit, flag) are merged into one read and at most one write.
async fn record_exposures(
    env: &Env,
    tenant: &Tenant,
    events: &[Event],
    now: i64,
) -> Result<usize, ApiError> {
    let mut by_key: BTreeMap<String, Vec<Exposure>> = BTreeMap::new();
    for event in events {
        let Event::Feature(f) = event else { continue };
        let Some(variation) = f.variation else {
            continue; // the default was served: not an exposure to a variation
        };
        for unit in &f.context.units {
            let key = keys::exposure_key(
                &tenant.project,
                &tenant.env,
                &f.flag_key,
                &unit.kind,
                &unit.key,
            );
            by_key.entry(key).or_default().push(Exposure {
                at: f.creation_date,
                variation,
            });
        }
    }
    if by_key.is_empty() {
        return Ok(0);
    }
    let store = store::kv(env, store::ATTRIBUTION_KV)?;
    exposures::record_all(&store, by_key.into_iter().collect(), now).await
}

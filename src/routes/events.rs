//! The analytics events routes (`/bulk`, `/events/bulk/{id}`, `/mobile/...`).
//!
//! Body → decode (gzip, 1 MiB) → payload-ID check → `core::parse_batch` (bad events reported, good
//! ones kept) → the counted events onto the ingest queue (`crate::ingest`) → 202 with
//! `{"accepted": n, "rejected": [...], "queuedMessages": m}`. Attribution histories and counts
//! are written by the queue consumer. A bot's browser payload (`crate::bots`) is answered
//! `{"accepted": 0, ..., "excluded": {"reason", "events"}}`: its events are queued as
//! exclusions only, and nothing is written in KV.

use crate::error::ApiError;
use crate::http::{header, json_of, now_ms};
use crate::ingest;
use crate::store::{self, config::Tenant, feed, payloads};
use edge_exp_core::bots::{BotReason, Excluded};
use edge_exp_core::catalog;
use edge_exp_core::event::{Batch, ConversionKind, EventsAccepted};
use edge_exp_core::feed::FeedEntry;
use edge_exp_core::query::EventsQuery;
use edge_exp_core::queued::{check_size, Tags};
use edge_exp_core::{decode_body, keys, parse_batch_with, Event};
use std::collections::BTreeMap;
use worker::{Env, Request, Response};

/// Where a payload comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// LaunchDarkly server and mobile SDKs (any event kind), with the SDK key.
    Sdk,
    /// Browsers (snippet, LaunchDarkly's JS SDK), with the public client-side ID.
    Browser,
    /// The metric import API: `custom` events from a data pipeline.
    Import,
}

impl Source {
    /// The route class: payload IDs and feed entries are kept apart per class.
    fn class(self) -> &'static str {
        match self {
            Source::Sdk => "sdk",
            Source::Browser => "browser",
            Source::Import => "import",
        }
    }
}

/// The sending SDK, for the event-key catalogue (`catalog::sdk_of`): headers, or the `sdk` query
/// parameter the snippet sets (beacons cannot carry headers).
fn sdk(req: &Request) -> Option<String> {
    let query = EventsQuery::sdk(&crate::http::query(req));
    catalog::sdk_of(
        header(req, "X-LaunchDarkly-User-Agent").as_deref(),
        header(req, "User-Agent").as_deref(),
        query.as_deref(),
    )
}

pub async fn ingest(
    req: &mut Request,
    env: &Env,
    tenant: &Tenant,
    source: Source,
) -> Result<Response, ApiError> {
    // Read as a stream and stop past the limit (gzip can only grow a little).
    let raw =
        crate::routes::body::read_limited(req, crate::routes::body::MAX_RAW_BODY_BYTES).await?;
    let body = decode_body(raw, header(req, "Content-Encoding").as_deref())?;

    let now = now_ms();
    let payload_id = header(req, "X-LaunchDarkly-Payload-ID")
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty());
    let payload_key = payload_id
        .as_deref()
        .map(|id| keys::payload_key(&tenant.project, &tenant.env, source.class(), id));
    let digest = keys::body_digest(&body);
    // The message ID the counters de-duplicate by: an SDK's retry gets the same one.
    let message_id = match &payload_key {
        Some(key) => format!("{key}:{digest}"),
        None => format!("r:{}", store::random_hex(16)?),
    };
    // Before any KV access: a bot's payload touches no store at all. Experiments with a bot
    // filter of their own that sees it otherwise are named in its messages (`overrides`): the
    // consumer counts it there, or excludes it there only.
    let mut overrides = BTreeMap::new();
    if source == Source::Browser {
        let classified = crate::bots::classify(req, env, tenant, None).await?;
        overrides = classified.verdict.codes();
        if let Some(reason) = &classified.verdict.env {
            let batch = parse(&body, now, source)?;
            let bot = (reason, &overrides);
            return excluded(env, tenant, (&message_id, now), &batch, bot).await;
        }
    }
    let payloads_kv = store::kv(env, store::PAYLOADS_KV)?;
    if let Some(previous) = retried(&payloads_kv, payload_key.as_deref(), &digest).await? {
        return json_of(202, &previous);
    }

    let batch = parse(&body, now, source)?;
    let (batch, excluded) =
        exclude_flagged(env, tenant, (&message_id, now), &body, source, batch).await?;
    // Counting and attribution happen in the queue consumer; 202 only once the queue has them.
    let redeliver = ingest::fault_requested(req, env, "redeliver");
    let sdk = sdk(req);
    let tags = Tags {
        redeliver,
        sdk: sdk.as_deref(),
        excluded: None,
        bots: Some(&overrides),
    };
    let queued = ingest::enqueue(env, tenant, (&message_id, now), &batch.events, tags).await?;

    record_feed(env, tenant, now, source, &batch).await?;
    let summary = EventsAccepted {
        accepted: batch.events.len() as u64,
        rejected: batch.rejected,
        queued_messages: None,
        duplicate: None,
        excluded,
    };
    if let Some(key) = &payload_key {
        let seen = payloads::Seen {
            body: Some(digest),
            summary: summary.clone(),
        };
        payloads::remember(&payloads_kv, key, &seen).await?;
    }
    let answer = EventsAccepted {
        queued_messages: Some(queued as u64),
        ..summary
    };
    json_of(202, &answer)
}

/// The answer to a bot's payload: its bad events reported as for anyone; its valid ones queued
/// as exclusions only (counted per iteration by reason and variation, never attributed or
/// counted; except in the experiments whose own filter counts it, `overrides`); nothing
/// remembered or put in the feed: no KV write for a bot.
async fn excluded(
    env: &Env,
    tenant: &Tenant,
    (message_id, now): (&str, i64),
    batch: &Batch<'_>,
    (reason, overrides): (&BotReason, &BTreeMap<String, Option<String>>),
) -> Result<Response, ApiError> {
    crate::bots::dropped(batch.events.len());
    let code = reason.to_string();
    let tags = Tags {
        excluded: Some(&code),
        bots: Some(overrides),
        ..Tags::default()
    };
    let queued = ingest::enqueue(env, tenant, (message_id, now), &batch.events, tags).await?;
    let answer = EventsAccepted {
        accepted: 0,
        rejected: batch.rejected.clone(),
        queued_messages: Some(queued as u64),
        duplicate: None,
        excluded: Some(Excluded {
            reason: code,
            events: batch.events.len() as u64,
        }),
    };
    json_of(202, &answer)
}

/// The events of contexts the environment's `contextAttribute` flags as bots' (server, mobile
/// and browser payloads alike; the metric import is the operator's own), queued as exclusions
/// under their own message ID; the rest go on. What the answer says of them, if any.
async fn exclude_flagged<'a>(
    env: &Env,
    tenant: &Tenant,
    (message_id, now): (&str, i64),
    body: &[u8],
    source: Source,
    batch: Batch<'a>,
) -> Result<(Batch<'a>, Option<Excluded>), ApiError> {
    if source == Source::Import {
        return Ok((batch, None));
    }
    let (kept, bots, reason) = crate::bots::flagged(env, tenant, body, batch).await?;
    let Some(reason) = reason else {
        return Ok((kept, None));
    };
    let code = reason.to_string();
    let tags = Tags {
        excluded: Some(&code),
        ..Tags::default()
    };
    let id = format!("{message_id}:bots");
    ingest::enqueue(env, tenant, (&id, now), &bots, tags).await?;
    let excluded = Excluded {
        reason: code,
        events: bots.len() as u64,
    };
    Ok((kept, Some(excluded)))
}

/// The payload's events; those the queue cannot carry are refused one by one, like any other bad
/// event (and the import route takes only `custom` events).
fn parse<'a>(body: &'a [u8], now: i64, source: Source) -> Result<Batch<'a>, ApiError> {
    Ok(match source {
        Source::Sdk | Source::Browser => parse_batch_with(body, now, check_size)?,
        Source::Import => parse_batch_with(body, now, |e| match e {
            Event::Conversion(c) if c.kind == ConversionKind::Custom => check_size(e),
            _ => Err("only `custom` events can be imported".into()),
        })?,
    })
}

/// The payload's entry in the live feed (none for a payload with nothing to show).
async fn record_feed(
    env: &Env,
    tenant: &Tenant,
    now: i64,
    source: Source,
    batch: &Batch<'_>,
) -> Result<(), ApiError> {
    let events = edge_exp_core::feed::summarize(&batch.events, feed::ITEMS_PER_ENTRY);
    if events.is_empty() && batch.rejected.is_empty() {
        return Ok(());
    }
    let entry = FeedEntry {
        at: now,
        source: source.class().into(),
        accepted: batch.events.len(),
        rejected: batch.rejected.len(),
        events,
    };
    feed::record(env, tenant, &entry).await
}

/// The first answer to this payload, when it is the SDK's retry: the same payload ID (in this
/// route class) and the same body. Another body under the same ID is processed as a new payload.
async fn retried(
    payloads_kv: &worker::KvStore,
    payload_key: Option<&str>,
    digest: &str,
) -> Result<Option<EventsAccepted>, ApiError> {
    let Some(key) = payload_key else {
        return Ok(None);
    };
    let Some(seen) = payloads::seen(payloads_kv, key).await? else {
        return Ok(None);
    };
    if seen.body.as_deref().is_some_and(|b| b != digest) {
        return Ok(None);
    }
    Ok(Some(EventsAccepted {
        duplicate: Some(true),
        ..seen.summary
    }))
}

//! The ingest pipeline behind the events routes: a Cloudflare Queue between the route and the
//! counters, so no single object sits on a payload's path.
//!
//! - The route ([`enqueue`]) validates the payload, packs the events that count into messages
//!   (`core::queued::pack`) and answers 202 only once the queue has them: an accepted payload is
//!   never lost (a failed send answers 500 and the SDK retries with the same payload ID).
//! - The consumer ([`consume`]) takes batches of messages. Per (project, environment) in a batch
//!   it sends each exposure to its key's history shard (`store::histories`: the single writer of
//!   that history and its KV copy), asks the project for routing **once**, builds each
//!   iteration's counts (`core::CounterBatch::build`) and sends each counter shard one call with
//!   every message's part. Message IDs make redelivery harmless: each counter shard records them
//!   in the same transaction as their counts; a history ignores an exposure it already has.
//! - Routing is asked when the batch is consumed, which is after the payload was accepted, so an
//!   iteration started before an event arrived is always known (no cache can be stale).
//!
//! Per-invocation platform limits (1,000 KV operations; 50 subrequests on the free plan) hold by
//! construction: messages carry at most `MAX_EXPOSURE_KEYS` exposure keys and a batch at most
//! `CONSUMER_BATCH` messages, so a history shard's call (an invocation of its own, where the KV
//! operations happen) touches at most 800 keys. Every invocation's operations are counted in
//! [`STATS`] and served
//! by `GET /api/v2/ops/ingest`, which is how the tests check the limits and wait for the queue.

use crate::error::ApiError;
use crate::http::now_ms;
use crate::store::config::Tenant;
use crate::store::counters::{self, CounterCommand, ExperimentCounter};
use crate::store::histories::{self, HistoryCommand, HistoryShard, Recorded, HISTORY_SHARDS};
use crate::store::projects::ProjectStore;
use crate::store::shards::{self, CounterShard, ShardCommand};
use crate::store::ObjectClass;
use edge_exp_core::aggregates::shard_of;
use edge_exp_core::bots::excluded::ExcludedPart;
use edge_exp_core::catalog;
use edge_exp_core::experiment::CounterBatch;
use edge_exp_core::project::{Command, Route, Routing};
use edge_exp_core::queued::{pack, pack_queued, IngestMessage, QueuedEvent, Tags};
use edge_exp_core::{keys, Event, Exposure};
use futures_util::future::{try_join, try_join_all, LocalBoxFuture};
use futures_util::FutureExt;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use worker::{
    Env, MessageBatch, MessageBuilder, MessageExt, QueueContentType, QueueRetryOptionsBuilder,
    SendMessage,
};

pub const QUEUE_BINDING: &str = "EVENTS_QUEUE";
/// A send batch holds at most 100 messages and 256 KB.
const SEND_BATCH_MESSAGES: usize = 100;
const SEND_BATCH_BYTES: usize = 240 * 1024;
/// Delay before a failed message is delivered again.
const RETRY_DELAY_SECONDS: u32 = 2;

pub use edge_exp_core::queued::IngestStats;

thread_local! {
    pub static STATS: RefCell<IngestStats> = RefCell::new(IngestStats::default());
    /// Messages the test hook has already sent back once (see `IngestMessage::redeliver`).
    static REDELIVERED: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
}

/// Is the fault-injection test hook on? Only with `FAULT_INJECTION = "1"` (tests pass it to
/// `wrangler dev`); never set in wrangler.toml.
pub fn fault_injection(env: &Env) -> bool {
    env.var("FAULT_INJECTION")
        .is_ok_and(|v| v.to_string() == "1")
}

/// Does this request ask for the test fault `fault` (`X-Edge-Exp-Fault`), with the hook on?
pub fn fault_requested(req: &worker::Request, env: &Env, fault: &str) -> bool {
    fault_injection(env) && crate::http::header(req, "X-Edge-Exp-Fault").as_deref() == Some(fault)
}

/// The test hook: send a counted message back once, as a failed acknowledgement would.
fn redeliver_once(msg: &IngestMessage) -> bool {
    msg.redeliver && REDELIVERED.with(|r| r.borrow_mut().insert(msg.id.clone()))
}

pub fn stats() -> IngestStats {
    let mut stats = STATS.with(|s| s.borrow().clone());
    stats.wasm_memory_bytes = wasm_memory_bytes();
    stats.skipped_records = crate::store::skipped_records();
    stats.flag_reads = crate::store::published::figures();
    stats
}

#[cfg(target_arch = "wasm32")]
fn wasm_memory_bytes() -> u64 {
    core::arch::wasm32::memory_size(0) as u64 * 65_536
}

#[cfg(not(target_arch = "wasm32"))]
fn wasm_memory_bytes() -> u64 {
    0
}

/// Operations of one consumer invocation.
#[derive(Debug, Default)]
struct Ops {
    subrequests: u64,
}

/// Queue the payload's counted events. Returns the number of messages.
pub async fn enqueue(
    env: &Env,
    tenant: &Tenant,
    (id, now): (&str, i64),
    events: &[Event<'_>],
    tags: Tags<'_>,
) -> Result<usize, ApiError> {
    send(
        env,
        pack(&tenant.project, &tenant.env, now, id, events, tags),
    )
    .await
}

/// Queue events already in their queued form (a bot's would-be exposures at evalx).
pub async fn enqueue_queued(
    env: &Env,
    tenant: &Tenant,
    (id, now): (&str, i64),
    events: Vec<QueuedEvent>,
    tags: Tags<'_>,
) -> Result<usize, ApiError> {
    send(
        env,
        pack_queued(&tenant.project, &tenant.env, now, id, events, tags),
    )
    .await
}

/// Send message bodies to the queue, in batches within its limits.
async fn send(env: &Env, mut bodies: Vec<String>) -> Result<usize, ApiError> {
    let count = bodies.len();
    if count == 0 {
        return Ok(0);
    }
    let queue = env.queue(QUEUE_BINDING)?;
    while !bodies.is_empty() {
        let (mut n, mut bytes) = (0, 0);
        while n < bodies.len()
            && n < SEND_BATCH_MESSAGES
            && (n == 0 || bytes + bodies[n].len() <= SEND_BATCH_BYTES)
        {
            bytes += bodies[n].len();
            n += 1;
        }
        // Text, not JSON: the body is already JSON, and re-encoding it would escape every quote.
        let batch: Vec<SendMessage<String>> = bodies
            .drain(..n)
            .map(|b| {
                MessageBuilder::new(b)
                    .content_type(QueueContentType::Text)
                    .build()
            })
            .collect();
        queue.send_batch(batch).await?;
    }
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.enqueued_messages += count as u64;
        s.enqueued_payloads += 1;
    });
    Ok(count)
}

/// The queue consumer. Never fails as a whole: a group that fails is retried, the rest acked.
pub async fn consume(batch: MessageBatch<String>, env: &Env) {
    let mut ops = Ops::default();
    let messages = match batch.messages() {
        Ok(m) => m,
        Err(e) => {
            worker::console_error!("ingest: batch does not decode ({e}); retrying it");
            batch.retry_all();
            return;
        }
    };
    let mut groups: BTreeMap<(String, String), Vec<(usize, IngestMessage)>> = BTreeMap::new();
    for (i, m) in messages.iter().enumerate() {
        match serde_json::from_str::<IngestMessage>(m.body()) {
            Ok(msg) => groups
                .entry((msg.project.clone(), msg.env.clone()))
                .or_default()
                .push((i, msg)),
            Err(e) => {
                // Written by this code's own `enqueue`: a body that never parses cannot succeed.
                worker::console_error!(
                    "ingest: dropping message {} that does not parse: {e}",
                    m.id()
                );
                m.ack();
            }
        }
    }
    for ((project, env_key), group) in groups {
        let tenant = Tenant {
            project,
            env: env_key,
        };
        let msgs: Vec<&IngestMessage> = group.iter().map(|(_, m)| m).collect();
        let outcome = process(env, &tenant, &msgs, &mut ops).await;
        settle(&messages, &group, outcome);
    }
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.invocations += 1;
        s.max_subrequests = s.max_subrequests.max(ops.subrequests);
    });
}

/// Acknowledge a group's messages once it is counted, else send them back for a retry.
fn settle(
    messages: &[worker::Message<String>],
    group: &[(usize, IngestMessage)],
    outcome: Result<(), ApiError>,
) {
    if let Err(e) = &outcome {
        worker::console_error!("ingest: {} messages will be retried: {:?}", group.len(), e);
    }
    let (mut acked, mut retried) = (0u64, 0u64);
    for (i, msg) in group {
        if outcome.is_ok() && !redeliver_once(msg) {
            messages[*i].ack();
            acked += 1;
        } else {
            messages[*i].retry_with_options(
                &QueueRetryOptionsBuilder::new()
                    .with_delay_seconds(RETRY_DELAY_SECONDS)
                    .build(),
            );
            retried += 1;
        }
    }
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.consumed_messages += acked;
        s.retried_messages += retried;
        // The code only: an internal error's detail (storage, runtime) stays in the log.
        if let Err(e) = &outcome {
            s.last_error = Some(e.0.code().to_owned());
        }
    });
}

async fn process(
    env: &Env,
    tenant: &Tenant,
    msgs: &[&IngestMessage],
    ops: &mut Ops,
) -> Result<(), ApiError> {
    let mut events: Vec<Vec<Event>> = msgs
        .iter()
        .map(|m| m.events.iter().map(|q| q.to_event()).collect())
        .collect();
    if events.iter().all(Vec::is_empty) {
        return Ok(());
    }
    let now = now_ms();
    ops.subrequests += 1;
    // A bot's messages (`excluded`) are routed like any, but counted only as exclusions: no
    // history, no count, no catalogue sighting; except in the experiments whose own bot filter
    // counts them (`IngestMessage::bots`), and the other way round.
    let command = Command::Routing {
        env: tenant.env.clone(),
        sightings: msgs
            .iter()
            .zip(&events)
            .filter(|(m, _)| m.excluded.is_none())
            .flat_map(|(m, evs)| catalog::sightings(evs, &tenant.env, m.sdk.as_deref()))
            .collect(),
    };
    let routing: Routing = ProjectStore::call(env, &tenant.project, &command).await?;
    drop_unknown_variations(&mut events, &routing.flag_variations);
    let mut calls: Vec<CounterCall<'_>> = Vec::new();
    for route in &routing.routes {
        let (mut counted_msgs, mut counted_events, mut bots) = (Vec::new(), Vec::new(), Vec::new());
        for (m, evs) in msgs.iter().zip(&events) {
            match m.bot_reason(&route.experiment) {
                None => {
                    counted_msgs.push(*m);
                    counted_events.push(evs.as_slice());
                }
                Some(reason) => bots.push((*m, reason, evs.as_slice())),
            }
        }
        calls.extend(counter_calls(
            env,
            tenant,
            route,
            &counted_msgs,
            &counted_events,
            now,
        ));
        calls.extend(exclusion_calls(env, tenant, route, &bots, now));
    }
    let history = history_events(msgs, &events, &routing.routes);
    ops.subrequests += calls.len() as u64;
    // The history shards and the counter shards are independent (counter shards attribute from
    // their own rows) and both idempotent under a retry, so their calls overlap.
    let (_, replies) = try_join(
        record_exposures(env, tenant, history, ops),
        try_join_all(calls),
    )
    .await?;
    let duplicates: u64 = replies
        .iter()
        .filter_map(|r| r.get("duplicates")?.as_u64())
        .sum();
    STATS.with(|s| s.borrow_mut().duplicate_parts += duplicates);
    Ok(())
}

/// A bot message: the message, its reason code, its events.
type BotMessage<'m, 'e> = (&'m IngestMessage, &'m str, &'e [Event<'m>]);

/// The exposures to keep in the first-variation histories: a flag's where some experiment on
/// it counts the message (by its own bot filter or the environment's), and, for a flag no
/// experiment runs on, a person's (for the environment). A bot's never.
fn history_events<'e, 'm>(
    msgs: &[&IngestMessage],
    events: &'e [Vec<Event<'m>>],
    routes: &[Route],
) -> Vec<&'e Event<'m>> {
    let mut kept = Vec::new();
    for (m, evs) in msgs.iter().zip(events) {
        if m.excluded.is_some() && m.bots.is_empty() {
            continue;
        }
        kept.extend(evs.iter().filter(|e| {
            let Event::Feature(f) = e else { return false };
            let mut on_flag = routes
                .iter()
                .filter(|r| r.iteration.flag_key == f.flag_key.as_ref())
                .peekable();
            if on_flag.peek().is_none() {
                return m.excluded.is_none();
            }
            on_flag.any(|r| m.bot_reason(&r.experiment).is_none())
        }));
    }
    kept
}

/// The exclusion calls for one iteration: what would have counted for it (`CounterBatch::build`)
/// of each bot message, one call per shard of the units. Iterations counted by the earlier
/// single-object layout get none (they predate bot exclusion).
fn exclusion_calls<'a>(
    env: &'a Env,
    tenant: &Tenant,
    route: &Route,
    bots: &[BotMessage<'_, '_>],
    now: i64,
) -> Vec<CounterCall<'a>> {
    let it = &route.iteration;
    let Some(k) = it.counter_shards else {
        return Vec::new();
    };
    let mut parts: BTreeMap<u32, Vec<(String, ExcludedPart)>> = BTreeMap::new();
    for (m, reason, evs) in bots {
        for (shard, part) in CounterBatch::build(it, evs).by_shard(k) {
            let part = ExcludedPart::of(reason, part);
            parts.entry(shard).or_default().push((m.id.clone(), part));
        }
    }
    let (project, env_key, experiment) = (&tenant.project, &tenant.env, &route.experiment);
    parts
        .into_iter()
        .map(|(shard, parts)| {
            let object = shards::name(project, env_key, experiment, it.id, shard);
            let command = ShardCommand::Exclude { parts, now };
            async move { CounterShard::call(env, &object, &command).await }.boxed_local()
        })
        .collect()
}

type CounterCall<'a> = LocalBoxFuture<'a, Result<serde_json::Value, ApiError>>;

/// The counter calls for one iteration: one per shard with every message's part for it, or,
/// for iterations counted by the earlier single-object layout, one per message to that object.
fn counter_calls<'a>(
    env: &'a Env,
    tenant: &Tenant,
    route: &Route,
    msgs: &[&IngestMessage],
    events: &[&[Event<'_>]],
    now: i64,
) -> Vec<CounterCall<'a>> {
    let it = &route.iteration;
    let (project, env_key, experiment) = (&tenant.project, &tenant.env, &route.experiment);
    let Some(k) = it.counter_shards else {
        return msgs
            .iter()
            .zip(events)
            .map(|(m, evs)| (m, CounterBatch::build(it, evs)))
            .filter(|(_, batch)| !batch.is_empty())
            .map(|(m, batch)| {
                let object = counters::name(project, env_key, experiment, it.id);
                let command = CounterCommand::Record {
                    payload_id: Some(m.id.clone()),
                    batch,
                    now,
                };
                async move { ExperimentCounter::call(env, &object, &command).await }.boxed_local()
            })
            .collect();
    };
    let mut parts: BTreeMap<u32, Vec<(String, CounterBatch)>> = BTreeMap::new();
    for (m, evs) in msgs.iter().zip(events) {
        for (shard, part) in CounterBatch::build(it, evs).by_shard(k) {
            parts.entry(shard).or_default().push((m.id.clone(), part));
        }
    }
    parts
        .into_iter()
        .map(|(shard, parts)| {
            let object = shards::name(project, env_key, experiment, it.id, shard);
            let command = ShardCommand::Record {
                iteration: it.clone(),
                parts,
                now,
            };
            async move { CounterShard::call(env, &object, &command).await }.boxed_local()
        })
        .collect()
}

/// Drop feature events whose variation index the flag does not have, when the flag is ours (a
/// flag we do not know may live in LaunchDarkly: its events are kept). Counted, not answered:
/// the payload was accepted before the consumer could know.
fn drop_unknown_variations(events: &mut [Vec<Event>], flags: &BTreeMap<String, usize>) {
    let mut dropped = 0u64;
    for list in events.iter_mut() {
        list.retain(|e| {
            let Event::Feature(f) = e else { return true };
            let known = match (f.variation, flags.get(f.flag_key.as_ref())) {
                (Some(v), Some(&n)) => (v as usize) < n,
                _ => true,
            };
            dropped += u64::from(!known);
            known
        });
    }
    STATS.with(|s| s.borrow_mut().unknown_variations += dropped);
}

/// Every exposure (a feature event that served a variation) to its key's history shard, which
/// owns the history and its KV copy (`store::histories`): one call per shard with all its keys.
async fn record_exposures(
    env: &Env,
    tenant: &Tenant,
    events: Vec<&Event<'_>>,
    ops: &mut Ops,
) -> Result<(), ApiError> {
    let mut by_shard: BTreeMap<u32, BTreeMap<String, Vec<Exposure>>> = BTreeMap::new();
    for event in events {
        let Event::Feature(f) = event else { continue };
        let Some(variation) = f.variation else {
            continue;
        };
        for unit in &f.context.units {
            let key = keys::exposure_key(
                &tenant.project,
                &tenant.env,
                &f.flag_key,
                &unit.kind,
                &unit.key,
            );
            by_shard
                .entry(shard_of(&key, HISTORY_SHARDS))
                .or_default()
                .entry(key)
                .or_default()
                .push(Exposure {
                    at: f.creation_date,
                    variation,
                });
        }
    }
    ops.subrequests += by_shard.len() as u64;
    let calls = by_shard.into_iter().map(|(shard, entries)| async move {
        let object = histories::name(&tenant.project, &tenant.env, shard);
        let command = HistoryCommand::Record {
            entries: entries.into_iter().collect(),
        };
        HistoryShard::call::<Recorded>(env, &object, &command).await
    });
    let replies = try_join_all(calls).await?;
    // Each object call is an invocation of its own, with its own KV operations.
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        for r in &replies {
            s.exposure_writes += r.kv_writes;
            s.deferred_exposure_writes += r.deferred;
            s.max_kv_operations = s.max_kv_operations.max(r.kv_reads + r.kv_writes);
        }
    });
    Ok(())
}

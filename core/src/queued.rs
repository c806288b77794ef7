//! What the events route puts on the ingest queue, and how a payload is cut into messages.
//!
//! The route validates a payload, keeps the events that can change counts or attribution
//! (feature events that served a variation, and conversions), and packs them into messages small
//! enough for the queue and for one consumer invocation's platform limits: at most
//! [`MAX_MESSAGE_BYTES`] of JSON and at most [`MAX_EXPOSURE_KEYS`] (unit, flag) exposure keys, so a
//! consumer batch of [`CONSUMER_BATCH`] messages stays under 1,000 KV operations. Each message has
//! an ID derived from the payload ID (or a random one) and its position, so a redelivered message
//! or a retried payload is recognised by the counters and counted once.

use crate::context::{Context, Unit};
use std::borrow::Cow;
use std::collections::BTreeMap;
use crate::event::{ConversionEvent, ConversionKind, Event, FeatureEvent};
use serde::{Deserialize, Serialize};

/// Largest message JSON (the queue takes 128 KB; the rest is headroom).
pub const MAX_MESSAGE_BYTES: usize = 96 * 1024;
/// Most distinct exposure keys one message may need written.
pub const MAX_EXPOSURE_KEYS: usize = 80;
/// Messages per consumer invocation (`max_batch_size` in wrangler.toml): 10 × 80 KV writes plus
/// at most one bulk read per 100 keys stays under the platform's 1,000 KV operations.
pub const CONSUMER_BATCH: usize = 10;
/// Largest event the queue carries (keys and context keys): bigger ones are refused one by one.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;

/// What this isolate's ingest pipeline has done (figures for tests, benchmarks and operators).
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestStats {
    pub enqueued_messages: u64,
    pub enqueued_payloads: u64,
    pub consumed_messages: u64,
    pub retried_messages: u64,
    pub invocations: u64,
    /// KV writes of exposure histories made for this isolate's consumer (by the history shards).
    pub exposure_writes: u64,
    /// Histories that changed but whose KV copy answers every readable time the same: written
    /// later by their shard's alarm, when the difference comes within reach.
    pub deferred_exposure_writes: u64,
    /// Message parts a counter had already counted (queue redeliveries, racing retries).
    pub duplicate_parts: u64,
    /// Feature events dropped because their variation index does not exist on our flag.
    pub unknown_variations: u64,
    /// The most KV operations of one invocation: a consumer batch or a history shard's call.
    pub max_kv_operations: u64,
    pub max_subrequests: u64,
    /// The error code of the last failed group (details are logged, never served).
    pub last_error: Option<String>,
    /// Stored records this isolate skipped because they did not parse (each one is logged).
    pub skipped_records: u64,
    /// Request bodies refused for size by this isolate (declared or streamed past the limit).
    pub refused_bodies: u64,
    /// The most bytes this isolate read of one refused body before refusing it (at most the
    /// limit plus one chunk: an oversized body is never read whole).
    pub max_refused_body_bytes_read: u64,
    /// This isolate's wasm linear memory (the Worker's and its objects' Rust heap), in bytes.
    pub wasm_memory_bytes: u64,
    /// How this isolate's reads of published flag data (evalx, goals, server SDK routes) were
    /// answered.
    pub flag_reads: FlagReads,
    /// What the bot filter did on this isolate's browser requests.
    pub bots: crate::bots::BotCounts,
}

/// Reads of published documents by one isolate.
#[derive(Debug, Default, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlagReads {
    /// Answered from the isolate's copy.
    pub cached_reads: u64,
    /// Pointer reads from KV (revalidations).
    pub pointer_reads: u64,
    /// Bodies read from KV and parsed.
    pub body_reads: u64,
    /// Reads that asked the project's Durable Object (a document never published).
    pub object_calls: u64,
}

/// One event as queued: only what attribution and counting read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "e")]
pub enum QueuedEvent {
    #[serde(rename = "f")]
    Feature {
        k: String,
        t: i64,
        v: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        x: Option<bool>,
        /// The rule that served it (`reason.ruleId` of a `RULE_MATCH`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r: Option<String>,
        u: Vec<(String, String)>,
    },
    #[serde(rename = "c")]
    Conversion {
        c: ConversionKind,
        k: String,
        t: i64,
        u: Vec<(String, String)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        m: Option<f64>,
    },
}

pub fn units(c: &Context) -> Vec<(String, String)> {
    c.units
        .iter()
        .map(|u| (u.kind.to_string(), u.key.to_string()))
        .collect()
}

fn context(u: &[(String, String)]) -> Context<'_> {
    Context {
        units: u
            .iter()
            .map(|(kind, key)| Unit::new(kind.as_str(), key.as_str()))
            .collect(),
    }
}

impl QueuedEvent {
    /// The queued form of an event, or `None` for events that change no count or history.
    pub fn of(event: &Event) -> Option<QueuedEvent> {
        match event {
            Event::Feature(f) => f.variation.map(|v| QueuedEvent::Feature {
                k: f.flag_key.to_string(),
                t: f.creation_date,
                v,
                x: f.in_experiment,
                r: f.rule_id.as_deref().map(str::to_owned),
                u: units(&f.context),
            }),
            Event::Conversion(c) => Some(QueuedEvent::Conversion {
                c: c.kind,
                k: c.key.to_string(),
                t: c.creation_date,
                u: units(&c.context),
                m: c.metric_value,
            }),
            _ => None,
        }
    }

    pub fn to_event(&self) -> Event<'_> {
        match self {
            QueuedEvent::Feature { k, t, v, x, r, u } => Event::Feature(FeatureEvent {
                creation_date: *t,
                flag_key: k.into(),
                version: None,
                variation: Some(*v),
                in_experiment: *x,
                rule_id: r.as_deref().map(Cow::Borrowed),
                context: context(u),
            }),
            QueuedEvent::Conversion { c, k, t, u, m } => Event::Conversion(ConversionEvent {
                kind: *c,
                creation_date: *t,
                key: k.into(),
                context: context(u),
                metric_value: *m,
                url: None,
                selector: None,
            }),
        }
    }

    /// Exposure keys this event may write: one per unit of a feature event.
    fn exposure_keys(&self) -> usize {
        match self {
            QueuedEvent::Feature { u, .. } => u.len(),
            QueuedEvent::Conversion { .. } => 0,
        }
    }
}

/// Refuse an event too large to queue (checked per event, so the rest of its payload is kept).
pub fn check_size(event: &Event) -> Result<(), String> {
    let size = |c: &Context| -> usize { c.units.iter().map(|u| u.kind.len() + u.key.len()).sum() };
    let bytes = match event {
        Event::Feature(f) => f.flag_key.len() + size(&f.context),
        Event::Conversion(c) => c.key.len() + size(&c.context),
        _ => 0,
    };
    if bytes > MAX_EVENT_BYTES {
        Err(format!(
            "event keys and context keys add up to {bytes} bytes; at most {MAX_EVENT_BYTES} can be counted"
        ))
    } else {
        Ok(())
    }
}

/// One queue message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestMessage {
    /// `{payload or random id}:{index}`: the counters' de-duplication key.
    pub id: String,
    pub project: String,
    pub env: String,
    /// When the route accepted the payload (Unix ms).
    pub received: i64,
    pub events: Vec<QueuedEvent>,
    /// The SDK that sent the payload (`catalog::sdk_of`), for the event-key catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<String>,
    /// Test hook (only with the Worker's `FAULT_INJECTION` var): the consumer retries this message
    /// once after counting it, so the counters see a real queue redelivery.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redeliver: bool,
    /// A bot's events (`core::bots`), with the reason code: counted as exclusions only (no
    /// history, no count, no catalogue sighting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    /// Experiments whose own bot filter sees the request otherwise than `excluded` says
    /// (`core::bots::overrides`): experiment key → reason code, or `None` where it is counted as a
    /// person's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bots: BTreeMap<String, Option<String>>,
}

impl IngestMessage {
    /// The reason code under which this message is a bot's in `experiment` (`None`: counted).
    pub fn bot_reason(&self, experiment: &str) -> Option<&str> {
        match self.bots.get(experiment) {
            Some(own) => own.as_deref(),
            None => self.excluded.as_deref(),
        }
    }
}

/// A message being written: its JSON text so far (open `events` array) and its exposure keys.
struct Open {
    text: String,
    keys: usize,
}

impl Open {
    /// Would `event` (JSON of `len` bytes, `keys` exposure keys) still fit, with its comma and
    /// the closing `]}`?
    fn fits(&self, len: usize, keys: usize) -> bool {
        self.text.len() + len + 3 <= MAX_MESSAGE_BYTES && self.keys + keys <= MAX_EXPOSURE_KEYS
    }

    fn push(&mut self, event: &str, keys: usize) {
        if !self.text.ends_with('[') {
            self.text.push(',');
        }
        self.text.push_str(event);
        self.keys += keys;
    }

    fn finish(mut self) -> String {
        self.text.push_str("]}");
        self.text
    }
}

/// Cut a payload's events into messages within [`MAX_MESSAGE_BYTES`] and [`MAX_EXPOSURE_KEYS`],
/// as the JSON text of [`IngestMessage`]s ready to send: each event is serialised once. The same
/// events always give the same messages (so a retried payload gets the same IDs).
/// What a payload's messages say besides their events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tags<'a> {
    /// The test hook (`IngestMessage::redeliver`).
    pub redeliver: bool,
    /// The sending SDK (`IngestMessage::sdk`).
    pub sdk: Option<&'a str>,
    /// A bot's payload: the reason code (`IngestMessage::excluded`).
    pub excluded: Option<&'a str>,
    /// The experiments' own verdicts (`IngestMessage::bots`).
    pub bots: Option<&'a BTreeMap<String, Option<String>>>,
}

pub fn pack(project: &str, env: &str, received: i64, id: &str, events: &[Event], tags: Tags) -> Vec<String> {
    pack_queued(project, env, received, id, events.iter().filter_map(QueuedEvent::of), tags)
}

/// [`pack`] for events already in their queued form.
pub fn pack_queued(
    project: &str,
    env: &str,
    received: i64,
    id: &str,
    events: impl IntoIterator<Item = QueuedEvent>,
    tags: Tags,
) -> Vec<String> {
    // Serialising a string or a `QueuedEvent` cannot fail.
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let (project, env) = (quote(project), quote(env));
    let redeliver = if tags.redeliver { r#","redeliver":true"# } else { "" };
    let sdk = tags.sdk.map(|s| format!(r#","sdk":{}"#, quote(s))).unwrap_or_default();
    let excluded = tags.excluded.map(|r| format!(r#","excluded":{}"#, quote(r))).unwrap_or_default();
    let bots = match tags.bots.filter(|b| !b.is_empty()) {
        Some(b) => format!(r#","bots":{}"#, serde_json::to_string(b).unwrap_or_default()),
        None => String::new(),
    };
    let mut out: Vec<String> = Vec::new();
    let mut open: Option<Open> = None;
    for q in events {
        let event = serde_json::to_string(&q).unwrap_or_default();
        let keys = q.exposure_keys();
        if !open.as_ref().is_some_and(|o| o.fits(event.len(), keys)) {
            out.extend(open.take().map(Open::finish));
            let message_id = quote(&format!("{id}:{}", out.len()));
            open = Some(Open {
                text: format!(
                    r#"{{"id":{message_id},"project":{project},"env":{env},"received":{received}{redeliver}{sdk}{excluded}{bots},"events":["#
                ),
                keys: 0,
            });
        }
        if let Some(o) = open.as_mut() {
            o.push(&event, keys);
        }
    }
    out.extend(open.map(Open::finish));
    out
}

/// Add one isolate's figures (`IngestStats` as JSON) to another's: counts add up (maps of
/// counts key by key), `max…` figures take the larger, and a text (`lastError`) is kept unless
/// absent. Each Worker in front answers `ops/ingest` with its own figures added to those behind it.
pub fn add_figures(into: &mut serde_json::Value, other: &serde_json::Value) {
    use serde_json::Value;
    let (Value::Object(into), Value::Object(other)) = (into, other) else { return };
    for (key, theirs) in other {
        let Some(mine) = into.get_mut(key) else {
            into.insert(key.clone(), theirs.clone());
            continue;
        };
        match (mine.as_u64(), theirs.as_u64()) {
            (Some(a), Some(b)) => *mine = (if key.starts_with("max") { a.max(b) } else { a + b }).into(),
            _ if mine.is_object() => add_figures(mine, theirs),
            _ if mine.is_null() => *mine = theirs.clone(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_batch;
    use serde_json::json;

    fn events(n: usize) -> Vec<Event<'static>> {
        let mut body = Vec::new();
        for i in 0..n {
            body.push(json!({"kind":"feature","key":"f","creationDate":1000,"variation":i % 2,"context":{"kind":"multi","user":{"key":format!("u{i}")},"org":{"key":"o"}}}));
            body.push(json!({"kind":"custom","key":"buy","creationDate":1000,"metricValue":1.5,"contextKeys":{"user":format!("u{i}")}}));
            body.push(json!({"kind":"index","creationDate":1000,"context":{"key":format!("u{i}")}}));
        }
        parse_batch(json!(body).to_string().as_bytes(), 2000)
            .unwrap()
            .into_owned()
            .events
    }

    #[test]
    fn round_trip_keeps_what_counts() {
        let evs = events(3);
        let queued: Vec<QueuedEvent> = evs.iter().filter_map(QueuedEvent::of).collect();
        assert_eq!(queued.len(), 6, "index events are not queued");
        let back: Vec<Event> = queued.iter().map(QueuedEvent::to_event).collect();
        let json = serde_json::to_string(&queued).unwrap();
        let again: Vec<QueuedEvent> = serde_json::from_str(&json).unwrap();
        assert_eq!(again, queued);
        match (&back[0], &evs[0]) {
            (Event::Feature(a), Event::Feature(b)) => {
                assert_eq!((&a.flag_key, a.variation, &a.context), (&b.flag_key, b.variation, &b.context));
            }
            _ => panic!("feature expected"),
        }
    }

    #[test]
    fn messages_respect_key_and_byte_limits() {
        let evs = events(1000);
        let texts = pack("p", "e", 5, "id", &evs, Tags::default());
        let msgs: Vec<IngestMessage> = texts
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect();
        let total: usize = msgs.iter().map(|m| m.events.len()).sum();
        assert_eq!(total, 2000, "every counted event is in exactly one message");
        for (i, (m, text)) in msgs.iter().zip(&texts).enumerate() {
            assert_eq!((m.id.as_str(), m.project.as_str(), m.env.as_str(), m.received), (format!("id:{i}").as_str(), "p", "e", 5));
            assert!(!m.redeliver);
            let keys: usize = m.events.iter().map(QueuedEvent::exposure_keys).sum();
            assert!(keys <= MAX_EXPOSURE_KEYS);
            assert!(text.len() <= MAX_MESSAGE_BYTES);
        }
        assert_eq!(pack("p", "e", 5, "id", &evs, Tags::default()), texts, "deterministic");
        assert!(pack("p", "e", 5, "id", &[], Tags::default()).is_empty());
        let marked: IngestMessage =
            serde_json::from_str(&pack("p\"q", "e", 5, "id", &evs[..3], Tags { redeliver: true, sdk: Some("NodeJSClient/9.1"), excluded: None, bots: None })[0]).unwrap();
        assert!(marked.redeliver);
        assert_eq!(marked.sdk.as_deref(), Some("NodeJSClient/9.1"));
        assert_eq!(marked.project, "p\"q", "names are escaped");
        assert_eq!(marked.events.len(), 2);
        let overrides: BTreeMap<String, Option<String>> = [("e1".to_owned(), None), ("e2".to_owned(), Some("ua_deny".to_owned()))].into();
        let tags = Tags { excluded: Some("ua"), bots: Some(&overrides), ..Tags::default() };
        let bot: IngestMessage = serde_json::from_str(&pack("p", "e", 5, "id", &evs[..1], tags)[0]).unwrap();
        assert_eq!(bot.bots, overrides);
        assert_eq!((bot.bot_reason("e1"), bot.bot_reason("e2"), bot.bot_reason("e3")), (None, Some("ua_deny"), Some("ua")));
    }

    #[test]
    fn oversized_events_are_refused_alone() {
        let big = "k".repeat(MAX_EVENT_BYTES + 1);
        let body = json!([{"kind":"custom","key":big,"creationDate":1,"contextKeys":{"user":"u"}}]).to_string();
        let ev = &parse_batch(body.as_bytes(), 10).unwrap().events[0];
        assert!(check_size(ev).unwrap_err().contains("at most 32768"));
        assert!(check_size(&events(1)[0]).is_ok());
    }

    #[test]
    fn figures_of_two_isolates_add_up() {
        let mut full = serde_json::json!({"enqueuedMessages": 2, "maxKvOperations": 9, "lastError": null,
            "bots": {"botRequests": 1, "byReason": {"ua": 1}}});
        let edge = serde_json::json!({"enqueuedMessages": 5, "maxKvOperations": 4, "lastError": "kv",
            "bots": {"botRequests": 3, "byReason": {"ua": 2, "cf_score": 1}}, "refusedBodies": 1});
        add_figures(&mut full, &edge);
        assert_eq!(full, serde_json::json!({"enqueuedMessages": 7, "maxKvOperations": 9, "lastError": "kv",
            "bots": {"botRequests": 4, "byReason": {"ua": 3, "cf_score": 1}}, "refusedBodies": 1}));
    }
}

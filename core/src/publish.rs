//! An environment's flag data as it is published to LaunchDarkly's SDKs: the one serialiser of
//! the `/sdk/latest-all` body (which is also the `put` of the `/all` stream and the value of
//! LaunchDarkly's edge SDKs' `LD-Env-{clientSideId}` KV key), its ETag, the stream's events
//! between two publications, and client-side evaluation (evalx) over the published data, so that
//! every reader evaluates exactly what the SDKs are sent.

pub mod client_stream;
mod fragments;

pub use fragments::{EnvironmentBody, Fragments, Stamp};

use crate::targeting::reason::Reason;
use crate::targeting::{evaluate, AllData, FlagData, Segment, Store};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// What the publisher keeps about one publication, and what readers compare to their copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// Grows with every publication of the project (one writer: the project's object).
    pub version: u64,
    /// An ETag over the body (quoted, as the header carries it).
    pub etag: String,
}

/// A publication: its pointer and the body readers are sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    #[serde(flatten)]
    pub pointer: Pointer,
    pub body: String,
}

impl Publication {
    pub fn new(version: u64, body: String) -> Publication {
        Publication { pointer: Pointer { version, etag: etag(&body) }, body }
    }
}

/// The quoted ETag of a body: its content, so equal bodies always match.
pub fn etag(body: &str) -> String {
    format!("\"{}\"", &crate::credentials::digest(body)[..32])
}

#[derive(Serialize)]
struct Body<'a> {
    flags: BTreeMap<&'a str, &'a FlagData>,
    segments: BTreeMap<&'a str, &'a Segment>,
}

/// The `/sdk/latest-all` body: `{"flags": {…}, "segments": {…}}`, both always present (the SDKs
/// index both), keys sorted so that equal data gives an equal body and ETag.
pub fn latest_all(data: &AllData) -> String {
    let body = Body {
        flags: data.flags.iter().map(|(k, f)| (k.as_str(), f)).collect(),
        segments: data.segments.iter().map(|(k, s)| (k.as_str(), s)).collect(),
    };
    serde_json::to_string(&body).unwrap_or_else(|_| r#"{"flags":{},"segments":{}}"#.into())
}

/// One server-sent event, its data on one line (the SDKs read one `data:` line per event).
fn sse(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// The stream's first event on every connection: the whole environment.
pub fn put_event(body: &str) -> String {
    format!("event: put\ndata: {{\"path\":\"/\",\"data\":{body}}}\n\n")
}

/// What the stream object keeps of a publication: each flag and segment as its JSON text.
/// Finding each item's bounds costs a fraction of decoding the data model, and equal items have
/// equal text (one serialiser writes the body, and the model holds no unordered map).
#[derive(Debug, Default, Deserialize)]
pub struct RawData {
    #[serde(default)]
    flags: HashMap<String, Box<RawValue>>,
    #[serde(default)]
    segments: HashMap<String, Box<RawValue>>,
}

impl RawData {
    pub fn parse(body: &str) -> serde_json::Result<RawData> {
        serde_json::from_str(body)
    }
}

/// What a stream that was sent `old` must be sent for it to hold `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamUpdate {
    /// `patch` and `delete` events, in order (empty: nothing changed).
    Events(Vec<String>),
    /// A version went backwards (a key deleted and made again): only a new `put` replaces what
    /// the SDKs hold, since they ignore a patch whose version is not above their tombstone's.
    Put,
}

/// The events between two publications. `tombstones`: the version each deleted key was last sent
/// with on these streams (`delete` events carry it), kept by the caller for the streams' life.
pub fn stream_update(old: &RawData, new: &RawData, tombstones: &mut HashMap<String, u64>) -> StreamUpdate {
    let mut events = Vec::new();
    let flags = changes("flags", &old.flags, &new.flags, tombstones, &mut events);
    let segments = changes("segments", &old.segments, &new.segments, tombstones, &mut events);
    if flags && segments {
        StreamUpdate::Events(events)
    } else {
        StreamUpdate::Put
    }
}

/// An item's `version` (0 if it has none: then any version is above it).
fn version(item: &RawValue) -> u64 {
    #[derive(Deserialize)]
    struct Versioned {
        #[serde(default)]
        version: u64,
    }
    serde_json::from_str::<Versioned>(item.get()).map_or(0, |v| v.version)
}

/// Patches and deletes of one kind; `false` if only a `put` can carry the change.
fn changes(
    kind: &str,
    old: &HashMap<String, Box<RawValue>>,
    new: &HashMap<String, Box<RawValue>>,
    tombstones: &mut HashMap<String, u64>,
    events: &mut Vec<String>,
) -> bool {
    let mut keys: Vec<&String> = new.keys().collect();
    keys.sort();
    for key in keys {
        let item = &new[key];
        let path = format!("/{kind}/{key}");
        let floor = match old.get(key) {
            Some(before) if before.get() == item.get() => continue,
            Some(before) => Some(version(before)),
            None => tombstones.get(&path).copied(),
        };
        if floor.is_some_and(|v| version(item) <= v) {
            return false;
        }
        tombstones.remove(&path);
        // The keys in order, as a JSON map writes them.
        let path_json = serde_json::to_string(&path).unwrap_or_default();
        events.push(format!("event: patch\ndata: {{\"data\":{},\"path\":{path_json}}}\n\n", item.get()));
    }
    let mut gone: Vec<(&String, &Box<RawValue>)> = old.iter().filter(|(k, _)| !new.contains_key(*k)).collect();
    gone.sort_by_key(|(k, _)| *k);
    for (key, item) in gone {
        let path = format!("/{kind}/{key}");
        let deleted = version(item) + 1;
        tombstones.insert(path.clone(), deleted);
        events.push(sse("delete", &json!({"path": path, "version": deleted})));
    }
    true
}

/// The per-flag object of LaunchDarkly's client-side evaluation (evalx): value, variation,
/// versions, whether the SDK sends a full event (always for an experiment exposure), and the
/// reason when asked for or when the evaluation is in an experiment.
pub fn client_flag(store: &impl Store, flag: &FlagData, context: &Value, with_reasons: bool) -> Value {
    let e = evaluate(store, flag, context);
    let in_experiment = e.reason.in_experiment();
    let rule_tracks = match &e.reason {
        Reason::RuleMatch { rule_index, .. } => flag.rules.get(*rule_index).is_some_and(|r| r.track_events),
        _ => false,
    };
    let track_events = flag.track_events
        || in_experiment
        || rule_tracks
        || (flag.track_events_fallthrough && matches!(e.reason, Reason::Fallthrough { .. }));
    let mut out = json!({
        "value": e.value,
        "variation": e.variation,
        "version": flag.version,
        "flagVersion": flag.version,
        "trackEvents": track_events,
    });
    if in_experiment {
        out["trackReason"] = json!(true);
    }
    if with_reasons || in_experiment {
        out["reason"] = json!(e.reason);
    }
    out
}

/// evalx: every flag available to the public client-side ID, evaluated for a context.
pub fn evalx(data: &AllData, context: &Value, with_reasons: bool) -> Value {
    Value::Object(evalx_map(data, context, with_reasons))
}

/// evalx as a map of flag key to its evaluation (what a browser stream compares).
pub fn evalx_map(data: &AllData, context: &Value, with_reasons: bool) -> serde_json::Map<String, Value> {
    data.flags
        .values()
        .filter(|f| f.client_side_availability.using_environment_id)
        .map(|f| (f.key.clone(), client_flag(data, f, context, with_reasons)))
        .collect()
}

#[cfg(test)]
mod tests;

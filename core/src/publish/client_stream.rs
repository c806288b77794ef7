//! What an open browser stream (LaunchDarkly's client-side `GET /eval/{clientSideId}/{context}`)
//! is sent: a `put` of every flag evaluated for its context when it opens, then, whenever the
//! environment's published data changes, a `patch` for each flag whose evaluation changed and a
//! `delete` for each flag that went away.
//!
//! LaunchDarkly's browser SDKs take a `patch` only when its `version` is above the one they
//! hold. A flag's evaluation can change while its version does not (a segment or prerequisite it
//! depends on changed), so such a change is sent as a new `put`, which the SDKs always take.
//!
//! A stream keeps only a fingerprint and a version per flag, not the evaluations, so that
//! thousands of open pages fit in one isolate.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What one stream last sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStream {
    sent: BTreeMap<String, Sent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    fingerprint: u64,
    version: u64,
}

/// An SSE event, its data on one line.
fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// FNV-1a over the flag's JSON: equal evaluations give equal fingerprints.
fn fingerprint(flag: &Value) -> u64 {
    flag.to_string().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn version(flag: &Value) -> u64 {
    flag.get("version").and_then(Value::as_u64).unwrap_or(0)
}

impl ClientStream {
    /// A stream that opens holding `flags` (an evalx map), and its first event.
    pub fn open(flags: &Map<String, Value>) -> (ClientStream, String) {
        let mut stream = ClientStream::default();
        let put = stream.put(flags);
        (stream, put)
    }

    fn put(&mut self, flags: &Map<String, Value>) -> String {
        self.sent = flags
            .iter()
            .map(|(k, f)| (k.clone(), Sent { fingerprint: fingerprint(f), version: version(f) }))
            .collect();
        event("put", &Value::Object(flags.clone()))
    }

    /// The events that bring the stream from what it holds to `flags` (empty if no evaluation
    /// changed).
    pub fn update(&mut self, flags: &Map<String, Value>) -> Vec<String> {
        let mut events = Vec::new();
        for (key, flag) in flags {
            let fingerprint = fingerprint(flag);
            match self.sent.get(key) {
                Some(s) if s.fingerprint == fingerprint => continue,
                Some(s) if version(flag) <= s.version => return vec![self.put(flags)],
                _ => {}
            }
            let mut patch = flag.clone();
            patch["key"] = json!(key);
            events.push(event("patch", &patch));
            self.sent.insert(key.clone(), Sent { fingerprint, version: version(flag) });
        }
        let gone: Vec<String> = self.sent.keys().filter(|k| !flags.contains_key(*k)).cloned().collect();
        for key in gone {
            if let Some(s) = self.sent.remove(&key) {
                events.push(event("delete", &json!({"key": key, "version": s.version + 1})));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn data(e: &str) -> Value {
        let line = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn opens_with_a_put_of_every_flag() {
        let start = flags(json!({"a": {"value": true, "version": 1}, "b": {"value": 2, "version": 4}}));
        let (_, put) = ClientStream::open(&start);
        assert!(put.starts_with("event: put\n"));
        assert_eq!(data(&put), Value::Object(start));
    }

    #[test]
    fn a_changed_flag_is_patched_with_its_key_and_nothing_else_is_sent() {
        let (mut s, _) = ClientStream::open(&flags(json!({"a": {"value": true, "version": 1}, "b": {"value": 1, "version": 1}})));
        assert!(s.update(&flags(json!({"a": {"value": true, "version": 1}, "b": {"value": 1, "version": 1}}))).is_empty());
        let events = s.update(&flags(json!({"a": {"value": false, "version": 2}, "b": {"value": 1, "version": 1}})));
        assert_eq!(events.len(), 1);
        assert!(events[0].starts_with("event: patch\n"));
        assert_eq!(data(&events[0]), json!({"key": "a", "value": false, "version": 2}));
        // Sent once: the same evaluation again sends nothing.
        assert!(s.update(&flags(json!({"a": {"value": false, "version": 2}, "b": {"value": 1, "version": 1}}))).is_empty());
    }

    #[test]
    fn new_flags_are_patched_and_removed_ones_deleted_above_their_version() {
        let (mut s, _) = ClientStream::open(&flags(json!({"a": {"value": 1, "version": 3}})));
        let events = s.update(&flags(json!({"b": {"value": 2, "version": 1}})));
        assert_eq!(events.len(), 2);
        assert_eq!(data(&events[0]), json!({"key": "b", "value": 2, "version": 1}));
        assert!(events[1].starts_with("event: delete\n"));
        assert_eq!(data(&events[1]), json!({"key": "a", "version": 4}));
    }

    #[test]
    fn an_evaluation_that_changed_at_the_same_version_is_a_new_put() {
        // A segment change: the flag's value for this context changes, its version does not, and
        // the SDKs would ignore a patch at that version.
        let (mut s, _) = ClientStream::open(&flags(json!({"a": {"value": "x", "version": 5}})));
        let next = flags(json!({"a": {"value": "y", "version": 5}}));
        let events = s.update(&next);
        assert_eq!(events.len(), 1);
        assert!(events[0].starts_with("event: put\n"));
        assert_eq!(data(&events[0]), Value::Object(next.clone()));
        assert!(s.update(&next).is_empty());
    }
}

//! The opt-in for routes whose user agent says nothing (server and mobile SDKs, whose every
//! request looks like a bot's): the operator names a context attribute (`contextAttribute`,
//! e.g. `bot`), and a context with that attribute `true` — in any kind of a multi-kind context —
//! is a bot's. Its evaluations record nothing and its events are excluded, reason
//! `context:<attribute>`.
//!
//! Only events carrying a full `context` can be read this way (feature and index events, and
//! custom events of SDKs that inline contexts); an event with only `contextKeys` cannot. That is
//! enough to keep a bot out of results: a unit's conversions count only for a variation it was
//! exposed to, and a flagged unit's exposures never are recorded.

use crate::event::{Batch, Event};
use crate::raw::{self, RawObject};
use crate::Error;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeSet;

/// Longest attribute name accepted.
const MAX_ATTRIBUTE_BYTES: usize = 100;

/// Check an operator's attribute name: a top-level attribute, not one LaunchDarkly reserves.
pub fn check_attribute(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.len() > MAX_ATTRIBUTE_BYTES {
        return Err(Error::invalid(format!(
            "`contextAttribute` must be a non-blank attribute name of at most {MAX_ATTRIBUTE_BYTES} bytes"
        )));
    }
    if name.starts_with('/') {
        return Err(Error::invalid(
            "`contextAttribute` names a top-level attribute; attribute references (`/a/b`) are not supported",
        ));
    }
    if matches!(name, "kind" | "key" | "_meta" | "anonymous" | "name") {
        return Err(Error::invalid(format!(
            "`contextAttribute` cannot be `{name}`: name a boolean attribute such as `bot`"
        )));
    }
    Ok(())
}

/// Does a context (as JSON) say it is a bot's: `attribute` is `true` in it, or in any kind of a
/// multi-kind context?
pub fn context_says_bot(context: &Value, attribute: &str) -> bool {
    let is_true = |o: &Value| o.get(attribute).and_then(Value::as_bool) == Some(true);
    match context.get("kind").and_then(Value::as_str) {
        Some("multi") => context
            .as_object()
            .is_some_and(|kinds| kinds.iter().any(|(k, c)| k != "kind" && is_true(c))),
        _ => is_true(context),
    }
}

/// For each element of an events payload's array, in order: does its `context` say it is a
/// bot's? An element that cannot be read is `false` (it is rejected by the parser anyway).
pub fn flagged_items(text: &str, attribute: &str) -> Vec<bool> {
    let items: Vec<Option<&RawValue>> = match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(items) => items.into_iter().map(Some).collect(),
        Err(_) => raw::split_array(text)
            .unwrap_or_default()
            .into_iter()
            .map(|p| serde_json::from_str(p).ok())
            .collect(),
    };
    items.into_iter().map(|i| i.is_some_and(|i| item_says_bot(i, attribute))).collect()
}

fn item_says_bot(item: &RawValue, attribute: &str) -> bool {
    let Some(context) = RawObject::parse(item).and_then(|e| e.get("context")).and_then(RawObject::parse) else {
        return false;
    };
    let is_true = |o: &RawObject| o.get(attribute).and_then(raw::as_bool) == Some(true);
    match context.get("kind").and_then(raw::as_str).as_deref() {
        Some("multi") => context
            .members()
            .into_iter()
            .any(|(k, c)| k != "kind" && RawObject::parse(c).is_some_and(|c| is_true(&c))),
        _ => is_true(&context),
    }
}

/// Split a parsed payload by [`flagged_items`] on the same text: (the events kept, those of
/// flagged elements). The batch's events are its elements in order, less the rejected ones.
pub fn split_off<'a>(batch: Batch<'a>, flagged: &[bool]) -> (Batch<'a>, Vec<Event<'a>>) {
    let rejected: BTreeSet<usize> = batch.rejected.iter().map(|r| r.index).collect();
    let mut index = (0..).filter(|i| !rejected.contains(i));
    let (mut kept, mut bots) = (Vec::new(), Vec::new());
    for event in batch.events {
        let i = index.next().unwrap_or(usize::MAX);
        if flagged.get(i).copied().unwrap_or(false) {
            bots.push(event);
        } else {
            kept.push(event);
        }
    }
    (Batch { events: kept, rejected: batch.rejected }, bots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_batch_with;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000_000;

    fn feature(key: &str, context: Value) -> Value {
        json!({"kind": "feature", "creationDate": NOW, "key": "f", "version": 1, "variation": 0,
               "value": true, "context": context, "_k": key})
    }

    #[test]
    fn a_flagged_context_in_any_kind_is_a_bot() {
        assert!(context_says_bot(&json!({"kind": "user", "key": "a", "bot": true}), "bot"));
        assert!(!context_says_bot(&json!({"kind": "user", "key": "a", "bot": "true"}), "bot"), "only the boolean");
        assert!(!context_says_bot(&json!({"kind": "user", "key": "a"}), "bot"));
        let multi = json!({"kind": "multi", "user": {"key": "a"}, "device": {"key": "d", "bot": true}});
        assert!(context_says_bot(&multi, "bot"));
        assert!(!context_says_bot(&multi, "crawler"));
    }

    #[test]
    fn a_payload_splits_by_its_elements_contexts_around_rejected_ones() {
        let payload = json!([
            feature("a", json!({"kind": "user", "key": "a"})),
            {"kind": "feature"},
            feature("b", json!({"kind": "user", "key": "b", "bot": true})),
            {"kind": "custom", "creationDate": NOW, "key": "buy", "contextKeys": {"user": "b"}},
            feature("c", json!({"kind": "multi", "user": {"key": "c"}, "org": {"key": "o", "bot": true}})),
        ])
        .to_string();
        let flagged = flagged_items(&payload, "bot");
        assert_eq!(flagged, [false, false, true, false, true]);
        let batch = parse_batch_with(payload.as_bytes(), NOW, |_| Ok(())).unwrap();
        assert_eq!((batch.events.len(), batch.rejected.len()), (4, 1));
        let (kept, bots) = split_off(batch, &flagged);
        assert_eq!((kept.events.len(), kept.rejected.len(), bots.len()), (2, 1, 2));
        let unit = |e: &Event| match e {
            Event::Feature(f) => f.context.units.iter().find(|u| u.kind == "user").map(|u| u.key.to_string()),
            _ => None,
        };
        assert_eq!(bots.iter().map(unit).collect::<Vec<_>>(), [Some("b".into()), Some("c".into())]);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_attribute("bot").is_ok());
        for bad in ["", " ", "/a/b", "key", "kind"] {
            assert!(check_attribute(bad).is_err(), "{bad:?}");
        }
    }
}

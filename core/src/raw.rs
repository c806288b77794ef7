//! Lazy, borrowing JSON access for the ingest path.
//!
//! A payload is split into its events as raw text, and an event object into its members as raw
//! text ([`RawObject`]); only the members a rule asks for are decoded, into borrowed strings where
//! the JSON has no escapes. Members nobody reads (`value`, `default`, `data`, context attributes,
//! summary counters' values) are scanned once and never built into a tree. Semantics follow
//! `serde_json::Value`: a repeated member counts with its last value, `null` reads as absent where
//! the caller asks for a present value.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Number;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// A JSON object as its members' names and raw values, in document order.
#[derive(Debug, Default)]
pub struct RawObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

#[derive(serde::Deserialize)]
struct Name<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members<'de>(PhantomData<&'de ()>);
        impl<'de> Visitor<'de> for Members<'de> {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Name(name)) = map.next_key()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((name, value));
                }
                Ok(RawObject(members))
            }
        }
        d.deserialize_map(Members(PhantomData))
    }
}

impl<'a> RawObject<'a> {
    /// The object in `raw`, or `None` when it is not an object.
    pub fn parse(raw: &'a RawValue) -> Option<RawObject<'a>> {
        if !raw.get().starts_with('{') {
            return None;
        }
        serde_json::from_str(raw.get()).ok()
    }

    /// A member's raw value (the last one, if the name repeats), `null` included.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// A member's raw value, `null` read as absent.
    pub fn present(&self, name: &str) -> Option<&'a RawValue> {
        self.get(name).filter(|v| !is_null(v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The members by name, each name once with its last value, sorted by name (as
    /// `serde_json::Map` iterates).
    pub fn members(&self) -> BTreeMap<&str, &'a RawValue> {
        self.0.iter().map(|(k, v)| (k.as_ref(), *v)).collect()
    }
}

pub fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// A JSON string, borrowed when it has no escapes.
pub fn as_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(text) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

pub fn as_number(raw: &RawValue) -> Option<Number> {
    let first = raw.get().as_bytes().first()?;
    if !(first.is_ascii_digit() || *first == b'-') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

pub fn as_f64(raw: &RawValue) -> Option<f64> {
    as_number(raw)?.as_f64()
}

pub fn as_bool(raw: &RawValue) -> Option<bool> {
    match raw.get() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The elements of a JSON array, or `None` when it is not an array.
pub fn as_array(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if !raw.get().starts_with('[') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// An integer: an integer literal, or a float with no fractional part (Go SDKs write timestamps
/// through float64).
pub fn as_integer(raw: &RawValue) -> Option<i64> {
    let n = as_number(raw)?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // 2^63 as f64; anything at or beyond it does not fit an i64.
    (f.fract() == 0.0 && f.abs() < 9.223_372_036_854_776e18).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> &RawValue {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn members_are_raw_and_the_last_repeat_wins() {
        let text = r#"{"a": 1, "b": {"x": [1, 2]}, "a": "two", "n": null}"#;
        let obj = RawObject::parse(raw(text)).unwrap();
        assert_eq!(obj.get("a").map(RawValue::get), Some(r#""two""#));
        assert_eq!(obj.get("b").map(RawValue::get), Some(r#"{"x": [1, 2]}"#));
        assert!(obj.get("n").is_some() && obj.present("n").is_none());
        assert_eq!(obj.members().keys().copied().collect::<Vec<_>>(), ["a", "b", "n"]);
        assert!(RawObject::parse(raw("[1]")).is_none());
    }

    #[test]
    fn typed_reads() {
        assert!(matches!(as_str(raw(r#""plain""#)), Some(Cow::Borrowed("plain"))));
        assert_eq!(as_str(raw(r#""tab\tand \u00e9""#)).as_deref(), Some("tab\tand é"));
        assert_eq!(as_str(raw("5")), None);
        assert_eq!(as_integer(raw("1.7323e12")), Some(1_732_300_000_000));
        assert_eq!(as_integer(raw("1.5")), None);
        assert_eq!(as_integer(raw(r#""5""#)), None);
        assert_eq!(as_f64(raw("-2.5")), Some(-2.5));
        assert_eq!(as_bool(raw("true")), Some(true));
        assert_eq!(as_array(raw("[1, {}]")).map(|a| a.len()), Some(2));
    }
}

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
        Err(_) => serde_json::from_str::<String>(text)
            .or_else(|e| {
                // Half an emoji from a browser (`"\ud83d"`) reads as U+FFFD.
                let repaired = replace_lone_surrogates(text).ok_or(e)?;
                serde_json::from_str::<String>(&repaired)
            })
            .ok()
            .map(Cow::Owned),
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

/// The elements of a JSON array as text, found by structure alone (brackets, braces, strings and
/// escapes) without decoding them: an element that is not valid JSON costs only itself. `None`
/// when `text` is not an array or its structure does not close.
pub fn split_array(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut i = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    if bytes[i] != b'[' {
        return None;
    }
    i += 1;
    let (mut out, mut start, mut depth, mut in_string) = (Vec::new(), i, 0usize, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth > 0 => depth -= 1,
                b',' | b']' if depth == 0 => {
                    let element = text.get(start..i)?.trim();
                    if !element.is_empty() || b == b',' || !out.is_empty() {
                        out.push(element);
                    }
                    if b == b']' {
                        return text.get(i + 1..)?.trim().is_empty().then_some(out);
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// `text` with every lone UTF-16 surrogate escape (`\ud83d` without its pair, as a browser's
/// `JSON.stringify` writes for half an emoji) replaced by `\ufffd`; `None` when there is none.
pub fn replace_lone_surrogates(text: &str) -> Option<String> {
    let hex = |s: &str| u16::from_str_radix(s, 16).ok();
    let escape_at = |s: &str, i: usize| -> Option<u16> {
        (s.get(i..i + 2)? == "\\u").then_some(())?;
        hex(s.get(i + 2..i + 6)?)
    };
    let (mut out, mut changed, mut i, mut in_string) = (String::with_capacity(text.len()), false, 0, false);
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next()?;
        if in_string && c == '\\' {
            match escape_at(text, i) {
                Some(u @ 0xD800..=0xDBFF)
                    if matches!(escape_at(text, i + 6), Some(0xDC00..=0xDFFF)) =>
                {
                    let _ = u;
                    out.push_str(&text[i..i + 12]);
                    i += 12;
                }
                Some(0xD800..=0xDFFF) => {
                    out.push_str("\\ufffd");
                    changed = true;
                    i += 6;
                }
                _ => {
                    // Any other escape: copy it and the character it escapes.
                    let next = rest[1..].chars().next().map_or(0, char::len_utf8);
                    out.push_str(&rest[..1 + next]);
                    i += 1 + next;
                }
            }
            continue;
        }
        if c == '"' {
            in_string = !in_string;
        }
        out.push(c);
        i += c.len_utf8();
    }
    changed.then_some(out)
}

#[cfg(test)]
mod split_tests {
    use super::*;

    #[test]
    fn splits_by_structure() {
        assert_eq!(
            split_array(r#" [ {"a":"],\"}"}, [1,[2]], bad json here , 3 ] "#),
            Some(vec![r#"{"a":"],\"}"}"#, "[1,[2]]", "bad json here", "3"])
        );
        assert_eq!(split_array("[]"), Some(vec![]));
        assert_eq!(split_array("[1,]"), Some(vec!["1", ""]));
        assert_eq!(split_array("{}"), None);
        assert_eq!(split_array("[1"), None);
        assert_eq!(split_array("[1] x"), None);
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(
            replace_lone_surrogates(r#"{"k":"a\ud83d","p":"\ud83d\ude00","q":"\\ud83d","l":"\udc00"}"#).as_deref(),
            Some(r#"{"k":"a\ufffd","p":"\ud83d\ude00","q":"\\ud83d","l":"\ufffd"}"#)
        );
        assert_eq!(replace_lone_surrogates(r#"{"k":"fine é \n"}"#), None);
    }
}

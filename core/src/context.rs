//! LaunchDarkly contexts as they arrive in events: a full `context` (single or multi-kind)
//! or a `contextKeys` map. For experimentation only the (kind, key) pairs matter: each
//! context kind is its own randomization unit.

use crate::raw::{self, RawObject};
use serde_json::value::RawValue;
use serde_json::Value;
use smallvec::SmallVec;
use std::borrow::Cow;
use thiserror::Error;

/// One randomization unit: a context kind and that kind's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit {
    /// `user`, the kind of nearly every unit, is not allocated per event.
    pub kind: Cow<'static, str>,
    pub key: String,
}

impl Unit {
    pub fn new(kind: &str, key: impl Into<String>) -> Unit {
        let kind = match kind {
            "user" => Cow::Borrowed("user"),
            other => Cow::Owned(other.to_owned()),
        };
        Unit {
            kind,
            key: key.into(),
        }
    }
}

/// A context's units: nearly always one, kept inline (no allocation per event).
pub type Units = SmallVec<[Unit; 1]>;

/// The units of one event's context, in the order they were given, with no duplicate kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub units: Units,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ContextError {
    #[error("`context` must be a JSON object")]
    NotAnObject,
    #[error("`contextKeys` must be a JSON object mapping context kind to key")]
    KeysNotAnObject,
    #[error("`contextKeys` is empty")]
    NoKeys,
    #[error("context kind `{0}` is invalid: use letters, digits, '.', '_' or '-', and not `kind` or `multi`")]
    InvalidKind(String),
    #[error("`{0}` must be a non-empty string")]
    InvalidKey(String),
    #[error("multi-kind context has no kinds")]
    EmptyMulti,
    #[error("multi-kind context entry `{0}` must be a JSON object")]
    MultiEntryNotAnObject(String),
}

/// A kind is valid per LaunchDarkly's rule: `[A-Za-z0-9._-]+`, and not the reserved words.
pub fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind != "kind"
        && kind != "multi"
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn unit(kind: &str, key: Option<&RawValue>, key_field: String) -> Result<Unit, ContextError> {
    if !valid_kind(kind) {
        return Err(ContextError::InvalidKind(kind.to_owned()));
    }
    match key.and_then(raw::as_str) {
        Some(k) if !k.is_empty() => Ok(Unit::new(kind, k)),
        _ => Err(ContextError::InvalidKey(key_field)),
    }
}

/// The raw text of a JSON value (for the `Value` entry points; the ingest path reads raw text).
fn reparse(value: &Value) -> Option<Box<RawValue>> {
    RawValue::from_string(value.to_string()).ok()
}

impl Context {
    /// Parse a full LaunchDarkly context object. A missing `kind` means `user` (old SDKs).
    pub fn from_context(value: &Value) -> Result<Self, ContextError> {
        let raw = reparse(value).ok_or(ContextError::NotAnObject)?;
        Self::from_raw_context(&raw)
    }

    /// [`Context::from_context`] on raw JSON: only `kind`, `key` and the kinds' keys are read.
    pub fn from_raw_context(value: &RawValue) -> Result<Self, ContextError> {
        let obj = RawObject::parse(value).ok_or(ContextError::NotAnObject)?;
        let Some(kind) = obj.get("kind") else {
            return Ok(Context {
                units: smallvec::smallvec![unit("user", obj.get("key"), "context.key".into())?],
            });
        };
        match raw::as_str(kind) {
            Some(k) if k == "multi" => Self::from_multi(&obj),
            Some(k) => Ok(Context {
                units: smallvec::smallvec![unit(&k, obj.get("key"), "context.key".into())?],
            }),
            None => Err(ContextError::InvalidKind(kind.get().to_owned())),
        }
    }

    fn from_multi(obj: &RawObject) -> Result<Self, ContextError> {
        let mut units = Units::new();
        for (kind, entry) in obj.members().into_iter().filter(|(k, _)| *k != "kind") {
            let entry = RawObject::parse(entry)
                .ok_or_else(|| ContextError::MultiEntryNotAnObject(kind.to_owned()))?;
            units.push(unit(kind, entry.get("key"), format!("context.{kind}.key"))?);
        }
        if units.is_empty() {
            return Err(ContextError::EmptyMulti);
        }
        Ok(Context { units })
    }

    /// Parse a `contextKeys` map (kind → key), as click/pageview events and older SDKs send.
    pub fn from_context_keys(value: &Value) -> Result<Self, ContextError> {
        let raw = reparse(value).ok_or(ContextError::KeysNotAnObject)?;
        Self::from_raw_context_keys(&raw)
    }

    /// [`Context::from_context_keys`] on raw JSON.
    pub fn from_raw_context_keys(value: &RawValue) -> Result<Self, ContextError> {
        let obj = RawObject::parse(value).ok_or(ContextError::KeysNotAnObject)?;
        if obj.is_empty() {
            return Err(ContextError::NoKeys);
        }
        let units = obj
            .members()
            .into_iter()
            .map(|(kind, key)| unit(kind, Some(key), format!("contextKeys.{kind}")))
            .collect::<Result<Units, _>>()?;
        Ok(Context { units })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(c: &Context) -> Vec<(&str, &str)> {
        c.units
            .iter()
            .map(|u| (u.kind.as_ref(), u.key.as_str()))
            .collect()
    }

    #[test]
    fn single_context_with_and_without_kind() {
        let c = Context::from_context(&json!({"kind":"org","key":"o1","name":"x"})).unwrap();
        assert_eq!(keys(&c), [("org", "o1")]);
        let c = Context::from_context(&json!({"key":"u1"})).unwrap();
        assert_eq!(keys(&c), [("user", "u1")]);
    }

    #[test]
    fn multi_context_gives_one_unit_per_kind() {
        let c = Context::from_context(
            &json!({"kind":"multi","user":{"key":"u1"},"org":{"key":"o1","name":"Acme"}}),
        )
        .unwrap();
        let mut k = keys(&c);
        k.sort();
        assert_eq!(k, [("org", "o1"), ("user", "u1")]);
    }

    #[test]
    fn context_keys_map() {
        let c = Context::from_context_keys(&json!({"user":"u1","device":"d9"})).unwrap();
        assert_eq!(c.units.len(), 2);
    }

    #[test]
    fn bad_contexts_name_their_problem() {
        assert_eq!(
            Context::from_context(&json!({"kind":"user"})),
            Err(ContextError::InvalidKey("context.key".into()))
        );
        assert_eq!(
            Context::from_context(&json!({"kind":"user","key":""})),
            Err(ContextError::InvalidKey("context.key".into()))
        );
        assert_eq!(
            Context::from_context(&json!({"kind":"us er","key":"a"})),
            Err(ContextError::InvalidKind("us er".into()))
        );
        assert_eq!(
            Context::from_context(&json!({"kind":"multi"})),
            Err(ContextError::EmptyMulti)
        );
        assert_eq!(
            Context::from_context(&json!({"kind":"multi","user":"u1"})),
            Err(ContextError::MultiEntryNotAnObject("user".into()))
        );
        assert_eq!(
            Context::from_context(&json!({"kind":"multi","multi":{"key":"x"}})),
            Err(ContextError::InvalidKind("multi".into()))
        );
        assert_eq!(
            Context::from_context_keys(&json!({})),
            Err(ContextError::NoKeys)
        );
        assert_eq!(
            Context::from_context_keys(&json!({"user":5})),
            Err(ContextError::InvalidKey("contextKeys.user".into()))
        );
        assert_eq!(
            Context::from_context(&json!([1])),
            Err(ContextError::NotAnObject)
        );
    }
}

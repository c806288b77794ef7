//! LaunchDarkly contexts as they arrive in events: a full `context` (single or multi-kind)
//! or a `contextKeys` map. For experimentation only the (kind, key) pairs matter: each
//! context kind is its own randomization unit.

use crate::raw::{self, RawObject};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use thiserror::Error;

/// One randomization unit: a context kind and that kind's key, borrowed from the payload's text
/// where the JSON has no escapes (nothing is allocated per event for them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit<'a> {
    pub kind: Cow<'a, str>,
    pub key: Cow<'a, str>,
}

impl<'a> Unit<'a> {
    pub fn new(kind: impl Into<Cow<'a, str>>, key: impl Into<Cow<'a, str>>) -> Self {
        Unit {
            kind: kind.into(),
            key: key.into(),
        }
    }

    /// The unit with its own copies of its strings.
    pub fn into_owned<'b>(self) -> Unit<'b> {
        Unit::new(self.kind.into_owned(), self.key.into_owned())
    }
}

/// A context's units: nearly always one, kept inline (no allocation per event). Read as a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Units<'a> {
    One(Unit<'a>),
    Many(Vec<Unit<'a>>),
}

impl<'a> std::ops::Deref for Units<'a> {
    type Target = [Unit<'a>];
    fn deref(&self) -> &[Unit<'a>] {
        match self {
            Units::One(unit) => std::slice::from_ref(unit),
            Units::Many(units) => units,
        }
    }
}

impl<'a> FromIterator<Unit<'a>> for Units<'a> {
    fn from_iter<I: IntoIterator<Item = Unit<'a>>>(iter: I) -> Self {
        let mut iter = iter.into_iter();
        match (iter.next(), iter.next()) {
            (None, _) => Units::Many(Vec::new()),
            (Some(one), None) => Units::One(one),
            (Some(a), Some(b)) => Units::Many([a, b].into_iter().chain(iter).collect()),
        }
    }
}

impl<'s, 'a> IntoIterator for &'s Units<'a> {
    type Item = &'s Unit<'a>;
    type IntoIter = std::slice::Iter<'s, Unit<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for Units<'a> {
    type Item = Unit<'a>;
    type IntoIter = std::vec::IntoIter<Unit<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        match self {
            Units::One(unit) => vec![unit].into_iter(),
            Units::Many(units) => units.into_iter(),
        }
    }
}

/// The units of one event's context, in the order they were given, with no duplicate kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context<'a> {
    pub units: Units<'a>,
}

impl Context<'_> {
    pub fn into_owned<'b>(self) -> Context<'b> {
        Context {
            units: match self.units {
                Units::One(unit) => Units::One(unit.into_owned()),
                Units::Many(units) => Units::Many(units.into_iter().map(Unit::into_owned).collect()),
            },
        }
    }
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

fn unit<'a>(
    kind: Cow<'a, str>,
    key: Option<&'a RawValue>,
    key_field: String,
) -> Result<Unit<'a>, ContextError> {
    if !valid_kind(&kind) {
        return Err(ContextError::InvalidKind(kind.into_owned()));
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

impl<'a> Context<'a> {
    /// Parse a full LaunchDarkly context object. A missing `kind` means `user` (old SDKs).
    pub fn from_context(value: &Value) -> Result<Context<'static>, ContextError> {
        let raw = reparse(value).ok_or(ContextError::NotAnObject)?;
        Context::from_raw_context(&raw).map(Context::into_owned)
    }

    /// [`Context::from_context`] on raw JSON: only `kind`, `key` and the kinds' keys are read.
    pub fn from_raw_context(value: &'a RawValue) -> Result<Self, ContextError> {
        let obj = RawObject::parse(value).ok_or(ContextError::NotAnObject)?;
        let Some(kind) = obj.get("kind") else {
            return Ok(Context {
                units: Units::One(unit("user".into(), obj.get("key"), "context.key".into())?),
            });
        };
        match raw::as_str(kind) {
            Some(k) if k == "multi" => Self::from_multi(&obj),
            Some(k) => Ok(Context {
                units: Units::One(unit(k, obj.get("key"), "context.key".into())?),
            }),
            None => Err(ContextError::InvalidKind(kind.get().to_owned())),
        }
    }

    fn from_multi(obj: &RawObject<'a>) -> Result<Self, ContextError> {
        let mut units = Vec::new();
        for (kind, entry) in obj.members().into_iter().filter(|(k, _)| *k != "kind") {
            let entry = RawObject::parse(entry)
                .ok_or_else(|| ContextError::MultiEntryNotAnObject(kind.to_owned()))?;
            let field = format!("context.{kind}.key");
            units.push(unit(kind.to_owned().into(), entry.get("key"), field)?);
        }
        if units.is_empty() {
            return Err(ContextError::EmptyMulti);
        }
        Ok(Context {
            units: units.into_iter().collect(),
        })
    }

    /// Parse a `contextKeys` map (kind → key), as click/pageview events and older SDKs send.
    pub fn from_context_keys(value: &Value) -> Result<Context<'static>, ContextError> {
        let raw = reparse(value).ok_or(ContextError::KeysNotAnObject)?;
        Context::from_raw_context_keys(&raw).map(Context::into_owned)
    }

    /// [`Context::from_context_keys`] on raw JSON.
    pub fn from_raw_context_keys(value: &'a RawValue) -> Result<Self, ContextError> {
        let obj = RawObject::parse(value).ok_or(ContextError::KeysNotAnObject)?;
        if obj.is_empty() {
            return Err(ContextError::NoKeys);
        }
        let units = obj
            .members()
            .into_iter()
            .map(|(kind, key)| {
                let field = format!("contextKeys.{kind}");
                unit(kind.to_owned().into(), Some(key), field)
            })
            .collect::<Result<Units, _>>()?;
        Ok(Context { units })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys<'a>(c: &'a Context) -> Vec<(&'a str, &'a str)> {
        c.units
            .iter()
            .map(|u| (u.kind.as_ref(), u.key.as_ref()))
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

//! Contexts as evaluation reads them: one attribute map per kind. Accepts single-kind contexts
//! (`{"kind": "org", "key": …}`), multi-kind (`{"kind": "multi", "user": {…}, "org": {…}}`) and
//! the older user shape without `kind` (`{"key": …, "custom": {…}}`: custom attributes become
//! top-level ones, built-in ones win), as LaunchDarkly's SDKs do.

use super::reason::ErrorKind;
use crate::context::valid_kind;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One individual context: its kind and its attributes (incl. `key`).
type Part<'a> = (Cow<'a, str>, Cow<'a, Map<String, Value>>);

/// A valid context: its individual contexts.
#[derive(Debug, Clone)]
pub struct EvalContext<'a> {
    parts: Vec<Part<'a>>,
}

/// Built-in attributes of the older user shape, copied over its custom ones.
const LEGACY_BUILT_INS: [&str; 8] = [
    "name",
    "ip",
    "firstName",
    "lastName",
    "email",
    "avatar",
    "country",
    "anonymous",
];

impl<'a> EvalContext<'a> {
    /// Read a context; an invalid one (no key, bad kind, not an object) is `USER_NOT_SPECIFIED`.
    pub fn parse(value: &'a Value) -> Result<Self, ErrorKind> {
        let obj = value.as_object().ok_or(ErrorKind::UserNotSpecified)?;
        match obj.get("kind") {
            None | Some(Value::Null) => Self::legacy(obj),
            Some(Value::String(kind)) if kind == "multi" => Self::multi(obj),
            Some(Value::String(kind)) => {
                let ok = valid_kind(kind) && non_empty_key(obj);
                ok.then(|| EvalContext {
                    parts: vec![(Cow::Borrowed(kind.as_str()), Cow::Borrowed(obj))],
                })
                .ok_or(ErrorKind::UserNotSpecified)
            }
            Some(_) => Err(ErrorKind::UserNotSpecified),
        }
    }

    fn multi(obj: &'a Map<String, Value>) -> Result<Self, ErrorKind> {
        let mut parts = Vec::new();
        for (kind, part) in obj.iter().filter(|(k, _)| k.as_str() != "kind") {
            let attrs = part.as_object().ok_or(ErrorKind::UserNotSpecified)?;
            if !valid_kind(kind) || !non_empty_key(attrs) {
                return Err(ErrorKind::UserNotSpecified);
            }
            parts.push((Cow::Borrowed(kind.as_str()), Cow::Borrowed(attrs)));
        }
        if parts.is_empty() {
            return Err(ErrorKind::UserNotSpecified);
        }
        Ok(EvalContext { parts })
    }

    /// The user shape before contexts: any key that is not null is used as a string.
    fn legacy(obj: &'a Map<String, Value>) -> Result<Self, ErrorKind> {
        let key = match obj.get("key") {
            None | Some(Value::Null) => return Err(ErrorKind::UserNotSpecified),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let mut attrs = obj
            .get("custom")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for name in LEGACY_BUILT_INS {
            if let Some(v) = obj.get(name).filter(|v| !v.is_null()) {
                attrs.insert(name.to_owned(), v.clone());
            }
        }
        attrs.insert("key".into(), Value::String(key));
        attrs.insert("kind".into(), Value::String("user".into()));
        Ok(EvalContext {
            parts: vec![(Cow::Borrowed("user"), Cow::Owned(attrs))],
        })
    }

    /// The attributes of the individual context of `kind`, if the context has that kind.
    pub fn of_kind(&self, kind: &str) -> Option<&Map<String, Value>> {
        self.parts
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, attrs)| attrs.as_ref())
    }

    /// The key of the individual context of `kind`.
    pub fn key(&self, kind: &str) -> Option<&str> {
        self.of_kind(kind)?.get("key")?.as_str()
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|(k, _)| k.as_ref())
    }
}

fn non_empty_key(attrs: &Map<String, Value>) -> bool {
    attrs
        .get("key")
        .and_then(Value::as_str)
        .is_some_and(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let single = json!({"kind": "org", "key": "o1", "plan": "pro"});
        let c = EvalContext::parse(&single).unwrap();
        assert_eq!(c.key("org"), Some("o1"));
        assert!(c.of_kind("user").is_none());
        let multi = json!({"kind": "multi", "user": {"key": "u"}, "org": {"key": "o"}});
        let c = EvalContext::parse(&multi).unwrap();
        assert_eq!(c.kinds().collect::<Vec<_>>(), ["org", "user"]);
        let legacy = json!({"key": 7, "name": "N", "custom": {"name": "custom", "tier": 2}});
        let c = EvalContext::parse(&legacy).unwrap();
        let user = c.of_kind("user").unwrap();
        assert_eq!((user["key"].clone(), user["name"].clone(), user["tier"].clone()), (json!("7"), json!("N"), json!(2)));
    }

    #[test]
    fn invalid_contexts() {
        for bad in [
            json!("u"),
            json!({"kind": "user"}),
            json!({"kind": "user", "key": ""}),
            json!({"kind": "kind", "key": "k"}),
            json!({"kind": "us er", "key": "k"}),
            json!({"kind": "multi"}),
            json!({"kind": "multi", "user": {"key": ""}}),
            json!({"name": "no key"}),
        ] {
            assert_eq!(EvalContext::parse(&bad).unwrap_err(), ErrorKind::UserNotSpecified, "{bad}");
        }
    }
}

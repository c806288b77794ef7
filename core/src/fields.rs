//! The one validator of JSON bodies' fields (metrics, flags, experiments): typed access whose
//! errors name the field and say what it must be. `null` means absent; every string is held to
//! `core::limits`.

use crate::error::Error;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The key rule for every resource: starts with a letter or digit, then letters, digits, `.`,
/// `_` or `-`; at most 256 characters.
pub fn valid_key(key: &str) -> bool {
    key.len() <= 256
        && key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub const KEY_RULE: &str = "must start with a letter or digit and contain only letters, digits, '.', '_' or '-' (at most 256 characters)";

fn invalid(m: impl Into<String>) -> Error {
    Error::invalid(m)
}

/// A JSON object's fields.
pub struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The body as an object, or the error every route gives for anything else.
    pub fn of(body: &'a Value) -> Result<Self, Error> {
        body.as_object()
            .map(Fields)
            .ok_or_else(|| invalid("body must be a JSON object"))
    }

    pub fn get(&self, f: &str) -> Option<&'a Value> {
        self.0.get(f).filter(|v| !v.is_null())
    }

    pub fn string(&self, f: &str) -> Result<Option<String>, Error> {
        match self.get(f) {
            None => Ok(None),
            Some(Value::String(s)) => {
                crate::limits::check(f, s).map_err(invalid)?;
                Ok(Some(s.clone()))
            }
            Some(_) => Err(invalid(format!("`{f}` must be a string"))),
        }
    }

    pub fn non_empty(&self, f: &str) -> Result<Option<String>, Error> {
        match self.string(f)? {
            Some(s) if s.trim().is_empty() => Err(invalid(format!("`{f}` must not be empty"))),
            other => Ok(other),
        }
    }

    /// A resource key: required, and held to [`KEY_RULE`].
    pub fn key(&self, f: &str) -> Result<String, Error> {
        let key = self
            .string(f)?
            .ok_or_else(|| invalid(format!("`{f}` is required")))?;
        if valid_key(&key) {
            Ok(key)
        } else {
            Err(invalid(format!("`{f}` {KEY_RULE}")))
        }
    }

    pub fn boolean(&self, f: &str) -> Result<Option<bool>, Error> {
        match self.get(f) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(format!("`{f}` must be true or false"))),
        }
    }

    /// An array of strings; `tags` are held to the tag limits, anything else to the field limit.
    pub fn strings(&self, f: &str) -> Result<Option<Vec<String>>, Error> {
        let shape = || invalid(format!("`{f}` must be an array of strings"));
        let Some(v) = self.get(f) else {
            return Ok(None);
        };
        let items: Vec<String> = v
            .as_array()
            .ok_or_else(shape)?
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(shape))
            .collect::<Result<_, _>>()?;
        match f {
            "tags" => crate::limits::check_tags(&items),
            _ => items.iter().try_for_each(|s| crate::limits::check(f, s)),
        }
        .map_err(invalid)?;
        Ok(Some(items))
    }

    /// An enum field, with the accepted values in the message.
    pub fn choice<T: for<'de> Deserialize<'de>>(
        &self,
        f: &str,
        allowed: &str,
    ) -> Result<Option<T>, Error> {
        self.typed(f, &format!("one of {allowed}"))
    }

    /// Any structured field, decoded by serde; `shape` says what it must look like.
    pub fn typed<T: for<'de> Deserialize<'de>>(
        &self,
        f: &str,
        shape: &str,
    ) -> Result<Option<T>, Error> {
        match self.get(f) {
            None => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|_| invalid(format!("`{f}` must be {shape}, got {v}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_name_the_field() {
        let body = json!({"key": "bad key", "n": 3, "tags": ["a", 1], "flag": "x", "null": null});
        let f = Fields::of(&body).unwrap();
        assert!(f.key("key").unwrap_err().message().starts_with("`key` must start"));
        assert_eq!(f.string("n").unwrap_err().message(), "`n` must be a string");
        assert_eq!(
            f.strings("tags").unwrap_err().message(),
            "`tags` must be an array of strings"
        );
        assert_eq!(f.boolean("flag").unwrap_err().message(), "`flag` must be true or false");
        assert_eq!(f.string("null").unwrap(), None);
        assert_eq!(f.key("missing").unwrap_err().message(), "`missing` is required");
        assert!(Fields::of(&json!([1])).is_err());
        let long = "k".repeat(257);
        assert!(!valid_key(&long) && valid_key("a.b_c-1") && !valid_key("-a"));
    }

    #[test]
    fn typed_fields_say_their_shape() {
        let body = json!({"n": "x"});
        let e = Fields::of(&body).unwrap().typed::<u32>("n", "a count").unwrap_err();
        assert_eq!(e.message(), "`n` must be a count, got \"x\"");
    }
}

//! Attribute references: `name` (a literal attribute name) or `/a/b` (a path into nested
//! objects, `~1` for `/` and `~0` for `~` in a component), as LaunchDarkly defines them. Data
//! written before contexts existed (a clause without `contextKind`) names attributes literally.

use serde_json::{Map, Value};

/// A parsed reference: its path components, or invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeRef {
    components: Vec<String>,
}

impl AttributeRef {
    /// Parse `text` as a reference (`literal`: the whole text is one attribute name). `None` when
    /// it is invalid: empty, `/`, an empty component, a bad escape, or under `_meta`.
    pub fn parse(text: &str, literal: bool) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        if literal || !text.starts_with('/') {
            return Some(AttributeRef {
                components: vec![text.to_owned()],
            });
        }
        let mut components = Vec::new();
        for raw in text[1..].split('/') {
            components.push(unescape(raw)?);
        }
        if components.first().is_some_and(|c| c == "_meta") {
            return None;
        }
        Some(AttributeRef { components })
    }

    /// The reference `kind` (the context's kinds, not an attribute).
    pub fn is_kind(&self) -> bool {
        self.components.len() == 1 && self.components[0] == "kind"
    }

    /// The value at this path in one context's attributes. `anonymous` is `false` when absent;
    /// only objects are walked into (an array or a scalar on the way means no value).
    pub fn get<'a>(&self, attributes: &'a Map<String, Value>) -> Option<&'a Value> {
        if self.components.len() == 1 && self.components[0] == "anonymous" {
            return Some(match attributes.get("anonymous") {
                Some(Value::Bool(true)) => &Value::Bool(true),
                _ => &Value::Bool(false),
            });
        }
        let (first, rest) = self.components.split_first()?;
        let mut current = attributes.get(first)?;
        for component in rest {
            current = current.as_object()?.get(component)?;
        }
        Some(current)
    }
}

/// One path component with `~1` → `/` and `~0` → `~`; any other `~` sequence is invalid.
fn unescape(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(reference: &str, literal: bool, attrs: Value) -> Option<Value> {
        let r = AttributeRef::parse(reference, literal)?;
        r.get(attrs.as_object().unwrap()).cloned()
    }

    #[test]
    fn plain_names_paths_and_escapes() {
        let attrs = json!({"a": {"b/c": {"d~e": 1}}, "x/y": 2, "/lit": 3});
        assert_eq!(get("/a/b~1c/d~0e", false, attrs.clone()), Some(json!(1)));
        assert_eq!(get("x/y", false, attrs.clone()), Some(json!(2)), "no slash prefix: a name");
        assert_eq!(get("/lit", true, attrs.clone()), Some(json!(3)), "literal");
        assert_eq!(get("/a/missing", false, attrs.clone()), None);
        assert_eq!(get("anonymous", false, attrs), Some(json!(false)));
    }

    #[test]
    fn invalid_references() {
        for bad in ["", "/", "//a", "/a//b", "/a/", "/a~2", "/a~", "/_meta/x"] {
            assert!(AttributeRef::parse(bad, false).is_none(), "{bad}");
        }
        assert!(AttributeRef::parse("", true).is_none());
        assert!(AttributeRef::parse("~", false).is_some(), "a literal name may hold ~");
    }
}

//! Clause operators and how each compares a context value with a clause value, as LaunchDarkly's
//! SDKs do: `in` is strict equality of strings, numbers and booleans; string operators need two
//! strings (case-sensitive); numeric ones two numbers; dates are Unix ms or RFC 3339; semantic
//! versions as `semver.rs` reads them; `matches` is a regular expression search in a linear-time
//! engine (`regex-lite`: no catastrophic backtracking on any pattern). A value of the wrong type
//! never matches.

use super::date;
use super::semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Op {
    In,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    LessThan,
    LessThanOrEqual,
    GreaterThan,
    GreaterThanOrEqual,
    Before,
    After,
    SemVerEqual,
    SemVerLessThan,
    SemVerGreaterThan,
    SegmentMatch,
    /// An operator this server does not know (refused by the REST API; never matches).
    #[serde(other)]
    Unknown,
}

impl Op {
    /// Every operator a clause may use, as the API names them.
    pub const ALL: [&'static str; 15] = [
        "in", "startsWith", "endsWith", "contains", "matches", "lessThan", "lessThanOrEqual",
        "greaterThan", "greaterThanOrEqual", "before", "after", "semVerEqual", "semVerLessThan",
        "semVerGreaterThan", "segmentMatch",
    ];

    /// Does the context value `a` match the clause value `b`?
    pub fn matches(self, a: &Value, b: &Value) -> bool {
        use Value::{Number, String as S};
        match (self, a, b) {
            (Op::In, _, _) => strictly_equal(a, b),
            (Op::StartsWith, S(a), S(b)) => a.starts_with(b.as_str()),
            (Op::EndsWith, S(a), S(b)) => a.ends_with(b.as_str()),
            (Op::Contains, S(a), S(b)) => a.contains(b.as_str()),
            (Op::Matches, S(a), S(pattern)) => regex_search(pattern, a),
            (Op::LessThan, Number(_), Number(_)) => num(a) < num(b),
            (Op::LessThanOrEqual, Number(_), Number(_)) => num(a) <= num(b),
            (Op::GreaterThan, Number(_), Number(_)) => num(a) > num(b),
            (Op::GreaterThanOrEqual, Number(_), Number(_)) => num(a) >= num(b),
            (Op::Before, _, _) => dates(a, b).is_some_and(|(a, b)| a < b),
            (Op::After, _, _) => dates(a, b).is_some_and(|(a, b)| a > b),
            (Op::SemVerEqual, _, _) => versions(a, b).is_some_and(|(a, b)| a == b),
            (Op::SemVerLessThan, _, _) => versions(a, b).is_some_and(|(a, b)| a < b),
            (Op::SemVerGreaterThan, _, _) => versions(a, b).is_some_and(|(a, b)| a > b),
            _ => false,
        }
    }
}

/// JavaScript's `===` on JSON values: objects and arrays are never equal to another value.
fn strictly_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(_), Value::Number(_)) => num(a) == num(b),
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn dates(a: &Value, b: &Value) -> Option<(f64, f64)> {
    Some((date::millis(a)?, date::millis(b)?))
}

fn versions(a: &Value, b: &Value) -> Option<(Version, Version)> {
    Some((Version::parse(a.as_str()?)?, Version::parse(b.as_str()?)?))
}

/// A search for `pattern` in `text`; a pattern the engine refuses matches nothing.
fn regex_search(pattern: &str, text: &str) -> bool {
    regex_lite::Regex::new(pattern).is_ok_and(|re| re.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operators_on_their_types_only() {
        assert!(Op::In.matches(&json!(1), &json!(1.0)));
        assert!(!Op::In.matches(&json!("1"), &json!(1)));
        assert!(!Op::In.matches(&json!([1]), &json!([1])), "arrays are never ===");
        assert!(Op::StartsWith.matches(&json!("prefixabc"), &json!("prefix")));
        assert!(!Op::StartsWith.matches(&json!(99), &json!("99")));
        assert!(Op::Matches.matches(&json!("matchThisName"), &json!("^[A-Za-z]+")));
        assert!(!Op::Matches.matches(&json!("x"), &json!("(")), "a bad pattern matches nothing");
        assert!(Op::LessThan.matches(&json!(1), &json!(1.5)));
        assert!(!Op::LessThan.matches(&json!("1"), &json!(2)));
        assert!(Op::Before.matches(&json!("2017-12-06T00:00:00.000-07:00"), &json!(1512543600001u64)));
        assert!(Op::SemVerLessThan.matches(&json!("2.0.0-rc"), &json!("2")));
        assert!(!Op::SemVerEqual.matches(&json!("v2"), &json!("2")));
        let unknown: Op = serde_json::from_value(json!("sounds like")).unwrap();
        assert_eq!(unknown, Op::Unknown);
        assert!(!Op::Unknown.matches(&json!("a"), &json!("a")));
    }
}

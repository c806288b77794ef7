//! URL matchers of click and page-view metrics ("goals"), with the semantics LaunchDarkly's
//! browser SDK applies to `location.href`. Shared by the Worker (validation, goals route) and the
//! browser snippet, so the rules are written once.
//!
//! Built without `std` too (see the crate docs): only `alloc` here, and serde, validation and
//! the `regex_lite` search come with the `std` feature.

use alloc::{borrow::Cow, string::String, vec::Vec};
#[cfg(feature = "std")]
use serde::{Deserialize, Serialize};

/// A wire type shared with the snippet: serde with the `std` feature (`$serde` its serde
/// options), its OpenAPI schema with `openapi`.
macro_rules! wire_type {
    (serde($($serde:tt)*) $item:item) => {
        #[cfg_attr(feature = "std", derive(Serialize, Deserialize), serde($($serde)*))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        $item
    };
}

wire_type! { serde(tag = "kind", rename_all = "lowercase")
/// One URL matcher, as in LaunchDarkly's goals JSON and metric `urls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlMatcher {
    /// The whole href equals `url`, allowing one trailing `/`.
    Exact { url: String },
    /// The href without query string and fragment equals `url`, allowing one trailing `/`.
    Canonical { url: String },
    /// `substring` occurs in the href without its query string (and without its fragment,
    /// unless the fragment contains `/`, as hash-routed apps use).
    Substring { substring: String },
    /// `pattern` (unanchored search) matches that same href.
    Regex { pattern: String },
}
}

#[cfg(feature = "std")]
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MatcherError {
    #[error("`{0}` is required for a `{1}` URL matcher")]
    Missing(&'static str, &'static str),
    #[error("regex `{pattern}` is invalid: {reason}")]
    BadRegex { pattern: String, reason: String },
}

impl UrlMatcher {
    #[cfg(feature = "std")]
    /// Check the matcher is usable (non-empty fields, compilable regex).
    pub fn validate(&self) -> Result<(), MatcherError> {
        match self {
            UrlMatcher::Exact { url } if url.is_empty() => {
                Err(MatcherError::Missing("url", "exact"))
            }
            UrlMatcher::Canonical { url } if url.is_empty() => {
                Err(MatcherError::Missing("url", "canonical"))
            }
            UrlMatcher::Substring { substring } if substring.is_empty() => {
                Err(MatcherError::Missing("substring", "substring"))
            }
            UrlMatcher::Regex { pattern } if pattern.is_empty() => {
                Err(MatcherError::Missing("pattern", "regex"))
            }
            UrlMatcher::Regex { pattern } => {
                regex_lite::Regex::new(pattern).map_err(|e| MatcherError::BadRegex {
                    pattern: pattern.clone(),
                    reason: e.to_string(),
                })?;
                if nested_quantifier(pattern) {
                    return Err(MatcherError::BadRegex {
                        pattern: pattern.clone(),
                        reason: "a repeated group contains a repetition (like `(a+)+`): visitors' \
                                 browsers run regexes with backtracking and can take exponential \
                                 time on it; rewrite it without nesting"
                            .into(),
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Does `pattern` repeat a group that itself contains a repetition (`(a+)+`, `(?:x*y)*`,
/// `(a{2,})+`)? Such patterns backtrack exponentially in JavaScript's `RegExp`, which runs URL
/// matchers in visitors' browsers. Character classes and escapes are skipped; `?` after a group
/// (at most once) is not a repetition.
#[cfg(feature = "std")]
pub fn nested_quantifier(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    let mut groups: Vec<bool> = vec![false]; // per open group: contains a repetition?
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => {
                // Skip the class (a `]` right after `[` or `[^` is literal).
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < b.len() && b[i] != b']' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' => {
                groups.push(false);
                if b.get(i + 1) == Some(&b'?') {
                    i += 2; // `(?:`, `(?=`, `(?!`, `(?<…>`: not a quantifier
                }
            }
            b')' if groups.len() > 1 => {
                let inner = groups.pop().unwrap_or(false);
                let repeated = matches!(b.get(i + 1), Some(b'*' | b'+' | b'{'));
                if inner && repeated {
                    return true;
                }
                if let Some(outer) = groups.last_mut() {
                    *outer |= inner || repeated;
                }
            }
            b'*' | b'+' | b'{' => {
                if let Some(current) = groups.last_mut() {
                    *current = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

impl UrlMatcher {
    /// Does this matcher match the page at `href`? (Regexes with `regex_lite`.)
    #[cfg(feature = "std")]
    pub fn matches(&self, href: &str) -> bool {
        self.matches_with(href, |pattern, text| {
            regex_lite::Regex::new(pattern)
                .map(|re| re.is_match(text))
                .unwrap_or(false)
        })
    }

    /// [`matches`](Self::matches) with the regex search supplied by the caller: the browser
    /// snippet uses the page's own JavaScript `RegExp`, as LaunchDarkly's SDK does.
    pub fn matches_with(&self, href: &str, regex_search: impl Fn(&str, &str) -> bool) -> bool {
        let parts = Href::split(href);
        match self {
            UrlMatcher::Exact { url } => equal_allowing_slash(href, url),
            UrlMatcher::Canonical { url } => equal_allowing_slash(&parts.canonical(false), url),
            UrlMatcher::Substring { substring } => contains(&parts.canonical(true), substring),
            UrlMatcher::Regex { pattern } => regex_search(pattern, &parts.canonical(true)),
        }
    }
}

// The string helpers below work on bytes, with `str::get` rather than `str` patterns or index
// slicing: the same results for these ASCII delimiters, and no panic paths (with their
// formatting code) in the browser snippet's wasm.

/// `href` equals `url` or `url` + "/".
fn equal_allowing_slash(href: &str, url: &str) -> bool {
    href == url
        || (href.as_bytes().last() == Some(&b'/') && href.get(..href.len() - 1) == Some(url))
}

/// Does `haystack` contain `needle`? (A byte-window search: URLs are short.)
fn contains(haystack: &str, needle: &str) -> bool {
    let needle = needle.as_bytes();
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|window| window == needle)
}

/// `s` split around the first `delimiter` (an ASCII byte), without it.
fn split_at_byte(s: &str, delimiter: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == delimiter)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// An href split into base (scheme..path) and fragment (after `#`); the query string is dropped.
struct Href<'a> {
    base: &'a str,
    fragment: Option<&'a str>,
}

impl<'a> Href<'a> {
    fn split(href: &'a str) -> Self {
        let (before_hash, fragment) = match split_at_byte(href, b'#') {
            Some((before, fragment)) => (before, Some(fragment)),
            None => (href, None),
        };
        let base = split_at_byte(before_hash, b'?').map_or(before_hash, |(b, _)| b);
        Href { base, fragment }
    }

    /// The href without query string, and without the fragment unless `keep_path_fragment` and
    /// the fragment contains `/`.
    fn canonical(&self, keep_path_fragment: bool) -> Cow<'a, str> {
        match self.fragment {
            Some(fragment) if keep_path_fragment && fragment.bytes().any(|b| b == b'/') => {
                let mut s = String::with_capacity(self.base.len() + 1 + fragment.len());
                s.push_str(self.base);
                s.push('#');
                s.push_str(fragment);
                Cow::Owned(s)
            }
            _ => Cow::Borrowed(self.base),
        }
    }
}

wire_type! { serde(rename_all = "camelCase")
/// A goal as LaunchDarkly's browser SDK fetches it from `/sdk/goals/{clientSideId}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub key: String,
    pub kind: GoalKind,
    pub urls: Vec<UrlMatcher>,
    #[cfg_attr(
        feature = "std",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub selector: Option<String>,
}
}

wire_type! { serde(rename_all = "lowercase")
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoalKind {
    Click,
    Pageview,
}
}

impl Goal {
    /// Does the page at `href` match any of this goal's URLs? (No URLs: never.)
    #[cfg(feature = "std")]
    pub fn matches_page(&self, href: &str) -> bool {
        self.urls.iter().any(|m| m.matches(href))
    }

    /// [`matches_page`](Self::matches_page) with a caller-supplied regex search.
    pub fn matches_page_with(&self, href: &str, regex_search: impl Fn(&str, &str) -> bool) -> bool {
        self.urls
            .iter()
            .any(|m| m.matches_with(href, &regex_search))
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: serde_json::Value) -> UrlMatcher {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn exact_compares_the_whole_href() {
        let x = m(json!({"kind":"exact","url":"https://shop.example/product/9?x=1"}));
        assert!(x.matches("https://shop.example/product/9?x=1"));
        assert!(!x.matches("https://shop.example/product/9"));
        let x = m(json!({"kind":"exact","url":"https://shop.example/cart"}));
        assert!(x.matches("https://shop.example/cart/"));
        assert!(!x.matches("https://shop.example/cart//"));
        assert!(!x.matches("https://shop.example/cart#top"));
    }

    #[test]
    fn canonical_ignores_query_and_fragment() {
        let c = m(json!({"kind":"canonical","url":"https://shop.example/product"}));
        assert!(c.matches("https://shop.example/product?ref=ad#reviews"));
        assert!(c.matches("https://shop.example/product/"));
        assert!(c.matches("https://shop.example/product#/a/b"));
        assert!(!c.matches("https://shop.example/product/9"));
    }

    #[test]
    fn substring_keeps_path_like_fragments() {
        let s = m(json!({"kind":"substring","substring":"/cart/2"}));
        assert!(s.matches("https://app.example/#/cart/2"));
        let q = m(json!({"kind":"substring","substring":"step=3"}));
        assert!(
            !q.matches("https://shop.example/cart?step=3"),
            "query string is dropped"
        );
        let f = m(json!({"kind":"substring","substring":"reviews"}));
        assert!(
            !f.matches("https://shop.example/p#reviews"),
            "plain fragment is dropped"
        );
    }

    #[test]
    fn regex_is_an_unanchored_search() {
        let r = m(json!({"kind":"regex","pattern":r"shop\.example/p/\d+"}));
        assert!(r.matches("https://shop.example/p/42?x"));
        assert!(!r.matches("https://shop.example/p/x"));
        assert!(
            !r.matches("https://shop.example/?u=shop.example/p/1"),
            "query ignored"
        );
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(
            m(json!({"kind":"exact","url":""})).validate(),
            Err(MatcherError::Missing("url", "exact"))
        );
        let bad = m(json!({"kind":"regex","pattern":"(unclosed"})).validate();
        assert!(matches!(bad, Err(MatcherError::BadRegex { .. })));
        assert!(m(json!({"kind":"regex","pattern":"a+"})).validate().is_ok());
        assert!(serde_json::from_value::<UrlMatcher>(json!({"kind":"glob","url":"x"})).is_err());
    }

    #[test]
    fn goals_serialise_in_the_sdk_format() {
        let g = Goal {
            key: "buy".into(),
            kind: GoalKind::Click,
            urls: vec![UrlMatcher::Substring {
                substring: "/p/".into(),
            }],
            selector: Some("#buy".into()),
        };
        assert_eq!(
            serde_json::to_value(&g).unwrap(),
            json!({"key":"buy","kind":"click","urls":[{"kind":"substring","substring":"/p/"}],"selector":"#buy"})
        );
        assert!(g.matches_page("https://a/p/1"));
    }

    // The helpers above are byte-based so the snippet's `no_std` build has no panicking string
    // paths; they must agree with the `str` methods they stand in for, on any Unicode input.
    proptest::proptest! {
        #[test]
        fn contains_agrees_with_str_contains(h in "\\PC{0,24}", n in "\\PC{0,4}") {
            proptest::prop_assert_eq!(contains(&h, &n), h.contains(n.as_str()));
        }

        #[test]
        fn split_at_byte_agrees_with_split_once(s in "[a-z/?#é]{0,16}") {
            proptest::prop_assert_eq!(split_at_byte(&s, b'#'), s.split_once('#'));
        }

        #[test]
        fn equal_allowing_slash_agrees_with_strip_suffix(h in "[a/é]{0,6}", u in "[a/é]{0,6}") {
            let expected = h == u || h.strip_suffix('/') == Some(u.as_str());
            proptest::prop_assert_eq!(equal_allowing_slash(&h, &u), expected);
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod risky_regex_tests {
    use super::nested_quantifier;

    #[test]
    fn nested_repetitions_are_found() {
        for risky in [
            "(a+)+$", "^(a*)*b", "(?:x*y)*", "((ab)+)+", "(a{2,})+", "(\\d+)*x",
        ] {
            assert!(nested_quantifier(risky), "{risky}");
        }
        for safe in [
            "^https://shop\\.example/(cart|checkout)/?$",
            "(a+)?",
            "[(a+)+]",
            "\\(a+\\)+",
            "a+b+c*",
            "(abc)+",
            "/products/\\d+",
            "(?:www\\.)?example\\.com",
        ] {
            assert!(!nested_quantifier(safe), "{safe}");
        }
    }
}

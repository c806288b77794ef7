//! API access tokens: what a create body may say, what is kept of a token (never its secret,
//! only its digest and last four characters), and how the tokens API shows one.

use crate::credentials;
use crate::error::Error;
use crate::fields::Fields;
use crate::resource::{link, Link};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a token may do: readers read, writers also change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = TokenRole))]
pub enum Role {
    Reader,
    Writer,
}

/// A create body: `name` (default "API token") and `role` (default `reader`).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenPost {
    pub name: String,
    pub role: Role,
}

impl TokenPost {
    pub fn from_json(body: &Value) -> Result<Self, Error> {
        let b = Fields::of(body)?;
        Ok(TokenPost {
            name: b.non_empty("name")?.unwrap_or_else(|| "API token".into()),
            role: b.choice("role", "`reader`, `writer`")?.unwrap_or(Role::Reader),
        })
    }
}

/// What is kept of a token under its ID. `hint` is the secret's last four characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub creation_date: i64,
    pub hint: String,
    pub digest: String,
}

impl TokenInfo {
    pub fn new(id: String, post: TokenPost, secret: &str, now: i64) -> Self {
        let skip = secret.chars().count().saturating_sub(4);
        TokenInfo {
            id,
            name: post.name,
            role: post.role,
            creation_date: now,
            hint: secret.chars().skip(skip).collect(),
            digest: credentials::digest(secret),
        }
    }

    /// The representation; `secret` only at creation, otherwise obfuscated.
    pub fn rep(&self, secret: Option<&str>) -> TokenRep<'_> {
        TokenRep {
            id: &self.id,
            name: &self.name,
            role: self.role,
            creation_date: self.creation_date,
            token: secret.map_or_else(|| format!("api-…{}", self.hint), str::to_owned),
            links: BTreeMap::from([("self", link(format!("/api/v2/tokens/{}", self.id)))]),
        }
    }
}

/// An access token as the tokens API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Token))]
pub struct TokenRep<'a> {
    #[serde(rename = "_id")]
    pub id: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub creation_date: i64,
    /// The secret at creation; obfuscated afterwards.
    pub token: String,
    #[serde(rename = "_links")]
    pub links: BTreeMap<&'static str, Link>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_create_body_takes_defaults_and_names_bad_fields() {
        let post = |v: Value| TokenPost::from_json(&v);
        let default = post(json!({})).unwrap();
        assert_eq!((default.name.as_str(), default.role), ("API token", Role::Reader));
        let ci = post(json!({"name": "CI", "role": "writer"})).unwrap();
        assert_eq!((ci.name.as_str(), ci.role), ("CI", Role::Writer));
        let message = |v: Value| post(v).unwrap_err().message().to_owned();
        assert_eq!(message(json!({"name": " "})), "`name` must not be empty");
        assert!(message(json!({"role": "admin"})).starts_with("`role` must be one of `reader`, `writer`"));
        assert!(message(json!({"name": "x".repeat(100_000)})).contains("`name`"));
        assert_eq!(message(json!([])), "body must be a JSON object");
    }

    #[test]
    fn the_secret_is_shown_once_and_never_kept() {
        let post = TokenPost { name: "CI".into(), role: Role::Writer };
        let info = TokenInfo::new("t1".into(), post, "api-0123456789abcdef", 7);
        assert_eq!(info.hint, "cdef");
        assert!(credentials::matches("api-0123456789abcdef", &info.digest));
        assert!(!serde_json::to_string(&info).unwrap().contains("0123456789"));
        assert_eq!(info.rep(Some("api-0123456789abcdef")).token, "api-0123456789abcdef");
        let shown = serde_json::to_value(info.rep(None)).unwrap();
        assert_eq!(shown["token"], "api-…cdef");
        assert_eq!(shown["_links"]["self"]["href"], "/api/v2/tokens/t1");
        assert_eq!(shown["creationDate"], 7);
    }
}

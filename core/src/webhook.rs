//! Webhooks (`/api/v2/webhooks`, LaunchDarkly's shape): where guarded-rollout transitions are
//! POSTed, each body an audit entry, signed `X-LD-Signature: hex(HMAC-SHA256(secret, body))`
//! as LaunchDarkly signs its webhooks, so receivers written for LaunchDarkly verify ours as they are.

use crate::error::Error;
use crate::fields::Fields;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

/// A webhook as stored (with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub name: Option<String>,
    pub secret: String,
    pub sign: bool,
    pub on: bool,
    pub tags: Vec<String>,
    pub creation_date: i64,
}

impl Webhook {
    /// Validate `POST /api/v2/webhooks`: `url` (http or https) required; `sign` and `on`
    /// default to true; `secret` is generated (`generated`) when signing and none is given.
    /// `statements` (LaunchDarkly's resource filters) are refused: every transition is sent.
    pub fn from_json(body: &Value, id: String, generated: String, now: i64) -> Result<Self, Error> {
        let b = Fields::of(body)?;
        if let Some(other) = body.as_object().and_then(|o| o.keys().find(|k| !matches!(k.as_str(), "url" | "name" | "secret" | "sign" | "on" | "tags" | "statements"))) {
            return Err(Error::invalid(format!("`{other}` is not a field of a webhook (url, name, secret, sign, on, tags)")));
        }
        if body.get("statements").is_some_and(|s| s.as_array().is_none_or(|a| !a.is_empty())) {
            return Err(Error::invalid("`statements` (resource filters) are not supported: a webhook receives every guarded-rollout transition"));
        }
        let url = b.non_empty("url")?.ok_or_else(|| Error::invalid("`url` is required"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
            return Err(Error::invalid("`url` must be an http(s) URL of at most 2048 characters"));
        }
        let sign = b.boolean("sign")?.unwrap_or(true);
        let secret = b.non_empty("secret")?.unwrap_or(generated);
        Ok(Webhook {
            id,
            url,
            name: b.string("name")?,
            secret,
            sign,
            on: b.boolean("on")?.unwrap_or(true),
            tags: b.strings("tags")?.unwrap_or_default(),
            creation_date: now,
        })
    }

    /// The representation; the secret only at creation (`with_secret`).
    pub fn rep(&self, with_secret: bool) -> WebhookRep<'_> {
        WebhookRep {
            id: &self.id,
            links: [("self", crate::resource::link(format!("/api/v2/webhooks/{}", self.id)))].into(),
            url: &self.url,
            name: self.name.as_deref(),
            sign: self.sign,
            on: self.on,
            tags: &self.tags,
            statements: Vec::new(),
            creation_date: self.creation_date,
            secret: with_secret.then_some(self.secret.as_str()),
        }
    }

    /// The `X-LD-Signature` of `body`, if the webhook signs.
    pub fn signature(&self, body: &str) -> Option<String> {
        self.sign.then(|| sign(&self.secret, body))
    }
}

/// A webhook as the REST API answers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Webhook))]
pub struct WebhookRep<'a> {
    #[serde(rename = "_id")]
    pub id: &'a str,
    #[serde(rename = "_links")]
    pub links: std::collections::BTreeMap<&'static str, crate::resource::Link>,
    pub url: &'a str,
    pub name: Option<&'a str>,
    pub sign: bool,
    pub on: bool,
    pub tags: &'a [String],
    /// Always empty: every guarded-rollout transition is sent.
    pub statements: Vec<Value>,
    #[serde(rename = "_creationDate")]
    pub creation_date: i64,
    /// Only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
}

/// hex(HMAC-SHA256(secret, body)).
pub fn sign(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // RFC 4231, test case 2.
    #[test]
    fn signs_as_hmac_sha256() {
        assert_eq!(sign("Jefe", "what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn validates_the_post() {
        let w = Webhook::from_json(&json!({"url": "http://127.0.0.1:9/h"}), "id".into(), "gen".into(), 1).unwrap();
        assert_eq!((w.sign, w.on, w.secret.as_str()), (true, true, "gen"));
        assert!(json!(w.rep(false)).get("secret").is_none() && json!(w.rep(true))["secret"] == "gen");
        for (body, says) in [(json!({}), "`url` is required"), (json!({"url": "ftp://x"}), "http(s)"),
            (json!({"url": "http://x", "statements": [{"resources": ["proj/*"]}]}), "statements"), (json!({"url": "http://x", "colour": 1}), "`colour`")] {
            let e = Webhook::from_json(&body, "id".into(), "g".into(), 1).unwrap_err();
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
    }
}

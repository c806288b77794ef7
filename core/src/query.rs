//! Typed query strings, decoded by `serde_urlencoded`. REST routes refuse a parameter they do not
//! know (naming it) rather than ignore it; SDK routes accept what LaunchDarkly's SDKs may add and
//! read only their own parameters. (The metrics list keeps its own parser, `metric::ListQuery`:
//! LaunchDarkly's `filter` syntax, repeated keys and paging links.)

use crate::error::Error;
use crate::event::MAX_FUTURE_SKEW_MS;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Decode `query` (without `?`) into `T`; `params` lists what the route takes, for the message.
pub fn parse<T: DeserializeOwned>(query: &str, params: &str) -> Result<T, Error> {
    serde_urlencoded::from_str(query)
        .map_err(|e| Error::invalid(format!("bad query: {e} (parameters: {params})")))
}

/// A route that takes no query parameter refuses the first one it is given.
pub fn none(pairs: &[(String, String)]) -> Result<(), Error> {
    match pairs.first() {
        None => Ok(()),
        Some((k, _)) => Err(Error::invalid(format!(
            "unknown query parameter `{k}`: this route takes none"
        ))),
    }
}

/// `GET .../events/recent?limit=` (1–100, default 20).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    // Text, so that a bad value's message names the parameter.
    limit: Option<String>,
}

impl FeedQuery {
    pub fn limit(query: &str) -> Result<u64, Error> {
        let q: FeedQuery = parse(query, "limit")?;
        match q.limit.map(|l| l.parse::<u64>()) {
            None => Ok(20),
            Some(Ok(l)) if (1..=100).contains(&l) => Ok(l),
            Some(_) => Err(Error::invalid("`limit` must be an integer from 1 to 100")),
        }
    }
}

/// `GET .../first-variation/{kind}/{key}?at=` (Unix ms; default: now).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AttributionQuery {
    at: Option<String>,
}

impl AttributionQuery {
    /// The `at` parameter (default: `now`). KV's copy of a history is exact up to a day ahead
    /// (`attribution::copy`), as far as events may be dated ahead, so a later `at` is refused.
    pub fn at(query: &str, now: i64) -> Result<i64, Error> {
        let at = Self::any_at(query, now)?;
        if at > now.saturating_add(MAX_FUTURE_SKEW_MS) {
            return Err(Error::invalid(format!(
                "`at` may be at most 24 hours ahead (events are accepted up to 24 hours ahead), got {at}"
            )));
        }
        Ok(at)
    }

    /// `at` without the one-day bound: for the fault-injection test hook that watches a
    /// deferred KV write land.
    pub fn any_at(query: &str, now: i64) -> Result<i64, Error> {
        let q: AttributionQuery = parse(query, "at")?;
        let Some(v) = q.at else { return Ok(now) };
        v.parse::<i64>().map_err(|_| {
            Error::invalid(format!("`at` must be an integer (Unix milliseconds), got `{v}`"))
        })
    }
}

/// The evalx routes' `?withReasons=true|false` (other SDK parameters are LaunchDarkly's).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EvalxQuery {
    #[serde(default)]
    pub with_reasons: bool,
    /// The snippet's automation signal (`wd=1`, `navigator.webdriver`), read by the bot filter.
    #[serde(default)]
    pub wd: Option<u8>,
}

impl EvalxQuery {
    pub fn parse(query: &str) -> Result<Self, Error> {
        parse(query, "withReasons=true|false, wd=1")
    }
}

/// Did the snippet say its page runs under automation (`wd=1` in the query)?
pub fn automation(query: &str) -> bool {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).is_ok_and(|pairs| pairs.iter().any(|(k, v)| k == "wd" && v == "1"))
}

/// The events routes' `?sdk=` (the snippet names itself there: beacons cannot set headers).
#[derive(Debug, Deserialize, PartialEq)]
pub struct EventsQuery {
    pub sdk: Option<String>,
}

impl EventsQuery {
    /// A query that does not decode names no SDK (the events themselves are what counts).
    pub fn sdk(query: &str) -> Option<String> {
        parse::<EventsQuery>(query, "sdk").ok()?.sdk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_queries_refuse_what_they_do_not_know() {
        assert_eq!(FeedQuery::limit(""), Ok(20));
        assert_eq!(FeedQuery::limit("limit=7"), Ok(7));
        assert!(FeedQuery::limit("limit=0").unwrap_err().message().contains("1 to 100"));
        assert!(FeedQuery::limit("limit=x").unwrap_err().message().starts_with("`limit` must be"));
        assert!(FeedQuery::limit("lmit=5").unwrap_err().message().contains("lmit"));
        assert_eq!(AttributionQuery::at("at=5", 100), Ok(5));
        assert_eq!(AttributionQuery::at("", 100), Ok(100));
        assert!(AttributionQuery::at("at=soon", 100).unwrap_err().message().starts_with("`at` must be"));
        let ahead = format!("at={}", 100 + MAX_FUTURE_SKEW_MS + 1);
        assert!(AttributionQuery::at(&ahead, 100).unwrap_err().message().contains("24 hours ahead"));
    }

    #[test]
    fn sdk_queries_read_their_own_parameters() {
        assert!(EvalxQuery::parse("withReasons=true&h=abc").unwrap().with_reasons);
        assert!(!EvalxQuery::parse("").unwrap().with_reasons);
        assert!(EvalxQuery::parse("withReasons=maybe").is_err());
        assert_eq!(EventsQuery::sdk("sdk=EdgeExpSnippet%2F0.1.0&x=1").as_deref(), Some("EdgeExpSnippet/0.1.0"));
        assert_eq!(EventsQuery::sdk(""), None);
    }
}

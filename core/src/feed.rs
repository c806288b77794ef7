//! The live event feed: a compact, display-ready summary of what a payload contained, for the
//! dashboard's "live events" panel.

use crate::event::Event;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// One event as the feed shows it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedItem {
    // Borrowed when summarised (no allocation on the events route), owned when read back.
    /// `feature`, `custom`, `click`, `pageview`, `identify` or `index`.
    pub kind: Cow<'static, str>,
    pub key: Option<String>,
    /// `kind:key` of each unit, e.g. `user:u1`.
    pub units: Vec<String>,
    pub at: i64,
    pub variation: Option<u32>,
    pub value: Option<f64>,
}

/// One feed entry: what one accepted payload contained (its first events, summarised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedEntry<'a> {
    /// Unix milliseconds.
    pub at: i64,
    /// The route class: `sdk`, `browser` or `import`.
    pub source: Cow<'a, str>,
    pub accepted: usize,
    pub rejected: usize,
    /// Its first events.
    pub events: Vec<FeedItem>,
}

/// The feed route's answer: entries, newest first.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedPage<'a> {
    pub items: Vec<FeedEntry<'a>>,
}

/// At most `limit` items, in payload order; summaries and ignored kinds are left out.
pub fn summarize(events: &[Event], limit: usize) -> Vec<FeedItem> {
    let units = |c: &crate::context::Context| {
        c.units
            .iter()
            .map(|u| [u.kind.as_ref(), ":", u.key.as_ref()].concat())
            .collect()
    };
    events
        .iter()
        .filter_map(|e| {
            Some(match e {
                Event::Feature(f) => FeedItem {
                    kind: Cow::Borrowed("feature"),
                    key: Some(f.flag_key.to_string()),
                    units: units(&f.context),
                    at: f.creation_date,
                    variation: f.variation,
                    value: None,
                },
                Event::Conversion(c) => FeedItem {
                    kind: Cow::Borrowed(c.kind.as_str()),
                    key: Some(c.key.to_string()),
                    units: units(&c.context),
                    at: c.creation_date,
                    variation: None,
                    value: c.metric_value,
                },
                Event::Identify {
                    creation_date,
                    context,
                } => FeedItem {
                    kind: Cow::Borrowed("identify"),
                    key: None,
                    units: units(context),
                    at: *creation_date,
                    variation: None,
                    value: None,
                },
                Event::Index {
                    creation_date,
                    context,
                } => FeedItem {
                    kind: Cow::Borrowed("index"),
                    key: None,
                    units: units(context),
                    at: *creation_date,
                    variation: None,
                    value: None,
                },
                Event::Summary(_) | Event::Ignored { .. } => return None,
            })
        })
        .take(limit)
        .collect()
}

/// KV key of a feed entry: newest first when listed (reverse time), unique per payload.
pub fn entry_key(project: &str, env: &str, now_ms: i64, unique: &str) -> String {
    let reverse = i64::MAX - now_ms.max(0);
    [
        &prefix(project, env),
        &format!("{reverse:019}"),
        ":",
        unique,
    ]
    .concat()
}

/// The listing prefix of an environment's feed.
pub fn prefix(project: &str, env: &str) -> String {
    // Project and environment keys cannot contain ':' (key rule), so this is unambiguous.
    ["f:", project, ":", env, ":"].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_batch;
    use serde_json::json;

    #[test]
    fn summarizes_in_order_and_bounds_the_list() {
        let body = json!([
            {"kind":"feature","key":"f","creationDate":5,"variation":1,"context":{"kind":"multi","user":{"key":"u"},"org":{"key":"o"}}},
            {"kind":"summary","startDate":1,"endDate":2,"features":{}},
            {"kind":"custom","key":"buy","creationDate":6,"metricValue":2.5,"contextKeys":{"user":"u"}},
            {"kind":"click","key":"b","creationDate":7,"url":"https://a/","selector":"#b","contextKeys":{"user":"u"}}
        ]).to_string();
        let events = parse_batch(body.as_bytes(), 10).unwrap().events;
        let items = summarize(&events, 2);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].kind, "feature");
        assert_eq!(items[0].variation, Some(1));
        let mut units = items[0].units.clone();
        units.sort();
        assert_eq!(units, ["org:o", "user:u"]);
        assert_eq!((items[1].kind.as_ref(), items[1].value), ("custom", Some(2.5)));
        // What the events route stores is what the feed route reads back and answers.
        let entry = FeedEntry {
            at: 10,
            source: Cow::Borrowed("sdk"),
            accepted: 3,
            rejected: 0,
            events: items,
        };
        let stored = serde_json::to_string(&entry).unwrap();
        let read: FeedEntry<'static> = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, entry);
        assert_eq!(serde_json::to_string(&read).unwrap(), stored);
    }

    #[test]
    fn newer_entries_sort_first() {
        let older = entry_key("p", "e", 1_000, "a");
        let newer = entry_key("p", "e", 2_000, "a");
        assert!(newer < older);
        assert!(newer.starts_with(&prefix("p", "e")));
    }
}

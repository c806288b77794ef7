//! The event-key catalogue: which custom event keys and goal (click / page-view) keys a project
//! has recently received, from which environments, context kinds and SDKs — what a user needs to
//! see when creating a metric, so that a metric whose event key no site sends is caught at once.
//!
//! It costs no storage write per event: the ingest consumer folds a whole batch into
//! [`Sighting`]s (one per key) and the project's object merges them into its entries in one
//! write per batch. Entries are bounded ([`MAX_ENTRIES`], [`MAX_VALUES`] per set) and only those
//! seen in the last [`WINDOW_MS`] are listed.

use crate::event::{ConversionKind, Event};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Keys are listed when seen within the last 30 days.
pub const WINDOW_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Most keys a project keeps (the least recently seen go first).
pub const MAX_ENTRIES: usize = 1000;
/// Most environments, context kinds or SDKs kept per key.
pub const MAX_VALUES: usize = 20;
/// Longest SDK identifier kept (`Name/version`).
const MAX_SDK_BYTES: usize = 64;

/// What one batch saw of one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sighting {
    pub key: String,
    pub kinds: BTreeSet<ConversionKind>,
    pub environment: String,
    pub context_kinds: BTreeSet<String>,
    pub sdks: BTreeSet<String>,
    pub count: u64,
    pub last_seen: i64,
}

/// One key of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EventKey))]
pub struct Entry {
    pub key: String,
    /// `custom`, `click`, `pageview`.
    pub kinds: BTreeSet<ConversionKind>,
    pub environments: BTreeSet<String>,
    pub context_kinds: BTreeSet<String>,
    pub sdks: BTreeSet<String>,
    /// Events received (since the key was first kept).
    pub count: u64,
    pub last_seen: i64,
}

/// The SDK that sent a payload: the first `Name/version` token of `X-LaunchDarkly-User-Agent`,
/// else of `User-Agent` unless it is a browser's (`Mozilla/…`), else the route's own `sdk` query
/// parameter (the snippet's way: browsers' beacons cannot set headers).
pub fn sdk_of(ld_user_agent: Option<&str>, user_agent: Option<&str>, query: Option<&str>) -> Option<String> {
    let first = |s: &str| s.split_whitespace().next().map(str::to_owned);
    let token = ld_user_agent
        .and_then(first)
        .or_else(|| user_agent.and_then(first).filter(|t| !t.starts_with("Mozilla/")))
        .or_else(|| query.and_then(first))?;
    let ok = token.len() <= MAX_SDK_BYTES
        && token.contains('/')
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+@".contains(&b));
    ok.then_some(token)
}

/// One sighting per conversion key among a batch's events of one environment.
pub fn sightings<'a, 'e: 'a>(
    events: impl IntoIterator<Item = &'a Event<'e>>,
    environment: &str,
    sdk: Option<&str>,
) -> Vec<Sighting> {
    let mut by_key: BTreeMap<&str, Sighting> = BTreeMap::new();
    for e in events {
        let Event::Conversion(c) = e else { continue };
        let s = by_key.entry(c.key.as_ref()).or_insert_with(|| Sighting {
            key: c.key.to_string(),
            kinds: BTreeSet::new(),
            environment: environment.to_owned(),
            context_kinds: BTreeSet::new(),
            sdks: sdk.map(str::to_owned).into_iter().collect(),
            count: 0,
            last_seen: i64::MIN,
        });
        s.kinds.insert(c.kind);
        bounded_extend(&mut s.context_kinds, c.context.units.iter().map(|u| u.kind.to_string()));
        s.count += 1;
        s.last_seen = s.last_seen.max(c.creation_date);
    }
    by_key.into_values().collect()
}

fn bounded_extend(set: &mut BTreeSet<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if set.len() >= MAX_VALUES {
            return;
        }
        set.insert(item);
    }
}

impl Entry {
    pub fn new(key: &str) -> Entry {
        Entry {
            key: key.to_owned(),
            kinds: BTreeSet::new(),
            environments: BTreeSet::new(),
            context_kinds: BTreeSet::new(),
            sdks: BTreeSet::new(),
            count: 0,
            last_seen: i64::MIN,
        }
    }

    pub fn absorb(&mut self, s: &Sighting) {
        self.kinds.extend(s.kinds.iter().copied());
        bounded_extend(&mut self.environments, [s.environment.clone()]);
        bounded_extend(&mut self.context_kinds, s.context_kinds.iter().cloned());
        bounded_extend(&mut self.sdks, s.sdks.iter().cloned());
        self.count = self.count.saturating_add(s.count);
        self.last_seen = self.last_seen.max(s.last_seen);
    }
}

/// The entries a batch's sightings change: each key's stored entry (`stored`) with every sighting
/// of that key absorbed — a batch can hold several (one per message).
pub fn fold(stored: impl Fn(&str) -> Option<Entry>, sightings: &[Sighting]) -> BTreeMap<String, Entry> {
    let mut changed: BTreeMap<String, Entry> = BTreeMap::new();
    for s in sightings {
        changed
            .entry(s.key.clone())
            .or_insert_with(|| stored(&s.key).unwrap_or_else(|| Entry::new(&s.key)))
            .absorb(s);
    }
    changed
}

/// The keys to drop so that at most [`MAX_ENTRIES`] remain: the least recently seen.
pub fn evictions(entries: &BTreeMap<String, Entry>) -> Vec<String> {
    let excess = entries.len().saturating_sub(MAX_ENTRIES);
    let mut by_age: Vec<&Entry> = entries.values().collect();
    by_age.sort_by_key(|e| (e.last_seen, e.key.clone()));
    by_age.into_iter().take(excess).map(|e| e.key.clone()).collect()
}

/// Entries seen in the last 30 days whose key contains `search` (case-insensitive), most recently
/// seen first, at most `limit`; and how many matched in all.
pub fn list<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    search: &str,
    limit: usize,
    now: i64,
) -> (Vec<&'a Entry>, usize) {
    let needle = search.to_lowercase();
    let mut out: Vec<&Entry> = entries
        .into_iter()
        .filter(|e| e.last_seen >= now - WINDOW_MS)
        .filter(|e| e.key.to_lowercase().contains(&needle))
        .collect();
    out.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.key.cmp(&b.key)));
    let total = out.len();
    out.truncate(limit);
    (out, total)
}

/// The query of `GET /api/v2/projects/{p}/event-keys`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Substring of the key, case-insensitive; empty: every key.
    #[serde(default)]
    pub search: String,
    /// 1–100, default 50.
    pub limit: Option<usize>,
}

impl Query {
    pub fn parse(query: &str) -> Result<Query, crate::Error> {
        let q: Query = crate::query::parse(query, "search, limit")?;
        match q.limit {
            Some(l) if !(1..=100).contains(&l) => Err(crate::Error::invalid("`limit` must be an integer from 1 to 100")),
            _ => Ok(q),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(50)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_batch;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn query() {
        let q = Query::parse("search=buy&limit=5").unwrap();
        assert_eq!((q.search.as_str(), q.limit()), ("buy", 5));
        assert_eq!(Query::parse("").unwrap().limit(), 50);
        assert!(Query::parse("limit=0").unwrap_err().message().contains("from 1 to 100"));
        assert!(Query::parse("color=red").unwrap_err().message().contains("unknown field `color`"));
    }

    #[test]
    fn sdk_identity() {
        assert_eq!(sdk_of(Some("NodeJSClient/9.13.7"), Some("node"), None).as_deref(), Some("NodeJSClient/9.13.7"));
        assert_eq!(sdk_of(None, Some("JSClient/3.9.5 extra"), None).as_deref(), Some("JSClient/3.9.5"));
        assert_eq!(sdk_of(None, Some("Mozilla/5.0 (X11)"), Some("EdgeExpSnippet/0.1.0")).as_deref(), Some("EdgeExpSnippet/0.1.0"));
        assert_eq!(sdk_of(None, Some("Mozilla/5.0 (X11)"), None), None);
        assert_eq!(sdk_of(Some("<script>/1"), None, None), None);
        assert_eq!(sdk_of(Some(&format!("A/{}", "1".repeat(70))), None, None), None);
    }

    #[test]
    fn sightings_fold_a_batch_and_entries_merge_them() {
        let body = json!([
            {"kind":"custom","key":"buy","creationDate":NOW - 5,"contextKeys":{"user":"u1"}},
            {"kind":"custom","key":"buy","creationDate":NOW - 1,"context":{"kind":"multi","user":{"key":"u2"},"org":{"key":"o"}}},
            {"kind":"click","key":"cta","creationDate":NOW,"url":"https://a/","selector":"#b","contextKeys":{"user":"u1"}},
            {"kind":"feature","key":"flag","creationDate":NOW,"variation":1,"contextKeys":{"user":"u1"}}
        ])
        .to_string();
        let events = parse_batch(body.as_bytes(), NOW).unwrap().events;
        let seen = sightings(&events, "production", Some("NodeJSClient/9.13.7"));
        assert_eq!(seen.len(), 2, "feature events are not event keys");
        let buy = &seen[0];
        assert_eq!((buy.key.as_str(), buy.count, buy.last_seen), ("buy", 2, NOW - 1));
        assert_eq!(buy.context_kinds, ["org".to_string(), "user".to_string()].into());
        let mut e = Entry::new("buy");
        e.absorb(buy);
        e.absorb(&Sighting { environment: "staging".into(), sdks: ["JSClient/3.9.5".into()].into(), ..buy.clone() });
        assert_eq!(e.count, 4);
        assert_eq!(e.environments.len(), 2);
        assert_eq!(e.sdks.len(), 2);
    }

    #[test]
    fn a_batch_with_the_same_key_in_two_messages_keeps_both() {
        let one = |sdk: &str, count: u64, at: i64| Sighting {
            key: "buy".into(),
            kinds: [ConversionKind::Custom].into(),
            environment: "production".into(),
            context_kinds: ["user".to_string()].into(),
            sdks: [sdk.to_string()].into(),
            count,
            last_seen: at,
        };
        let mut stored = Entry::new("buy");
        stored.count = 10;
        let changed = fold(|k| (k == "buy").then(|| stored.clone()), &[one("A/1", 2, NOW), one("B/2", 3, NOW + 5)]);
        let e = &changed["buy"];
        assert_eq!((e.count, e.last_seen, e.sdks.len()), (15, NOW + 5, 2));
    }

    #[test]
    fn listing_searches_orders_and_forgets_old_keys() {
        let mut entries = BTreeMap::new();
        for (key, age) in [("checkout-complete", 10), ("Checkout-start", 5), ("signup", 1), ("old-checkout", WINDOW_MS + 1)] {
            let mut e = Entry::new(key);
            e.last_seen = NOW - age;
            entries.insert(key.to_string(), e);
        }
        let (found, total) = list(entries.values(), "CHECKOUT", 10, NOW);
        let keys: Vec<&str> = found.iter().map(|e| e.key.as_str()).collect();
        assert_eq!((keys, total), (vec!["Checkout-start", "checkout-complete"], 2));
        let (first, total) = list(entries.values(), "", 1, NOW);
        assert_eq!((first[0].key.as_str(), total), ("signup", 3), "the total counts past the limit");
        for i in 0..MAX_ENTRIES {
            let mut e = Entry::new(&format!("k{i}"));
            e.last_seen = NOW;
            entries.insert(e.key.clone(), e);
        }
        let gone = evictions(&entries);
        assert_eq!(gone.len(), 4);
        assert!(gone.contains(&"old-checkout".to_string()));
    }
}

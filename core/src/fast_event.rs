//! One-pass decoding of well-formed events: typed structs with borrowed strings, no JSON tree.
//!
//! [`decode`] accepts only events that the careful path (`event::parse_raw_event`) accepts, and
//! gives exactly the same `Event`; anything else — a wrong type, a missing field, a repeated
//! member, an invalid context, a float timestamp — returns `None`, and the careful path decides
//! and words the error. Valid events, nearly all of them, are read once.

use crate::context::{valid_kind, Context, Unit};
use crate::event::{
    ConversionEvent, ConversionKind, Event, FeatureEvent, SummaryEvent, MAX_FUTURE_SKEW_MS,
    MAX_METRIC_VALUE,
};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

type Str<'a> = Cow<'a, str>;

#[derive(Deserialize)]
struct Fast<'a> {
    #[serde(borrow)]
    kind: Str<'a>,
    #[serde(rename = "creationDate", default)]
    creation_date: Option<i64>,
    #[serde(borrow, default)]
    key: Option<Str<'a>>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    variation: Option<u32>,
    #[serde(default)]
    reason: Option<Reason>,
    #[serde(borrow, default)]
    context: Option<FastContext<'a>>,
    #[serde(rename = "contextKeys", borrow, default)]
    context_keys: Option<BTreeMap<Str<'a>, Str<'a>>>,
    #[serde(rename = "metricValue", default)]
    metric_value: Option<f64>,
    #[serde(borrow, default)]
    url: Option<Str<'a>>,
    #[serde(borrow, default)]
    selector: Option<Str<'a>>,
    #[serde(rename = "startDate", default)]
    start_date: Option<i64>,
    #[serde(rename = "endDate", default)]
    end_date: Option<i64>,
    #[serde(borrow, default)]
    features: Option<BTreeMap<Str<'a>, Flag>>,
}

#[derive(Deserialize)]
struct Reason {
    #[serde(rename = "inExperiment", default)]
    in_experiment: Option<bool>,
}

#[derive(Deserialize)]
struct Flag {
    counters: Vec<Counter>,
}

#[derive(Deserialize)]
struct Counter {
    count: u64,
}

#[derive(Deserialize)]
struct KindEntry<'a> {
    #[serde(borrow)]
    key: Str<'a>,
}

/// A `context` object: its `kind` and `key`, and every other member as raw text (attributes of a
/// single-kind context are skipped over; the entries of a multi-kind one are read after).
#[derive(Default)]
struct FastContext<'a> {
    kind: Option<Str<'a>>,
    key: Option<Str<'a>>,
    others: BTreeMap<Str<'a>, &'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for FastContext<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FastContext<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a context object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                #[derive(Deserialize)]
                struct Name<'a>(#[serde(borrow)] Str<'a>);
                #[derive(Deserialize)]
                struct Text<'a>(#[serde(borrow)] Str<'a>);
                let mut c = FastContext::default();
                while let Some(Name(name)) = map.next_key()? {
                    match name.as_ref() {
                        "kind" => c.kind = Some(map.next_value::<Text>()?.0),
                        "key" => c.key = Some(map.next_value::<Text>()?.0),
                        _ => {
                            c.others.insert(name, map.next_value()?);
                        }
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn unit(kind: &str, key: &str) -> Option<Unit> {
    (valid_kind(kind) && !key.is_empty()).then(|| Unit {
        kind: kind.to_owned(),
        key: key.to_owned(),
    })
}

impl FastContext<'_> {
    fn context(&self) -> Option<Context> {
        let kind = self.kind.as_deref().unwrap_or("user");
        if kind != "multi" {
            return Some(Context {
                units: vec![unit(kind, self.key.as_deref()?)?],
            });
        }
        // A multi-kind context's own `key` is just another (invalid) kind entry.
        if self.key.is_some() || self.others.is_empty() {
            return None;
        }
        let units = self
            .others
            .iter()
            .map(|(kind, entry)| {
                let entry: KindEntry = serde_json::from_str(entry.get()).ok()?;
                unit(kind, &entry.key)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Context { units })
    }
}

impl Fast<'_> {
    fn timestamp(value: Option<i64>, now_ms: i64) -> Option<i64> {
        value.filter(|ms| *ms > 0 && *ms <= now_ms.saturating_add(MAX_FUTURE_SKEW_MS))
    }

    fn context(&self) -> Option<Context> {
        match (&self.context, &self.context_keys) {
            (Some(c), _) => c.context(),
            (None, Some(keys)) if !keys.is_empty() => Some(Context {
                units: keys
                    .iter()
                    .map(|(kind, key)| unit(kind, key))
                    .collect::<Option<Vec<_>>>()?,
            }),
            _ => None,
        }
    }

    fn key(&self) -> Option<String> {
        self.key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
    }

    fn required(s: &Option<Str>) -> Option<String> {
        s.as_deref().filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn conversion(&self, kind: ConversionKind, now_ms: i64) -> Option<Event> {
        let (url, selector) = match kind {
            ConversionKind::Custom => (self.url.as_deref().map(str::to_owned), None),
            ConversionKind::Pageview => (Some(Self::required(&self.url)?), None),
            ConversionKind::Click => (
                Some(Self::required(&self.url)?),
                Some(Self::required(&self.selector)?),
            ),
        };
        Some(Event::Conversion(ConversionEvent {
            kind,
            creation_date: Self::timestamp(self.creation_date, now_ms)?,
            key: self.key()?,
            context: self.context()?,
            metric_value: match self.metric_value {
                Some(v) if v.abs() > MAX_METRIC_VALUE => return None,
                v => v,
            },
            url,
            selector,
        }))
    }

    fn summary(&self, now_ms: i64) -> Option<Event> {
        let start_date = Self::timestamp(self.start_date, now_ms)?;
        let end_date = Self::timestamp(self.end_date, now_ms)?;
        let evaluations = self
            .features
            .as_ref()?
            .values()
            .flat_map(|f| &f.counters)
            .fold(0u64, |sum, c| sum.saturating_add(c.count));
        (end_date >= start_date).then_some(Event::Summary(SummaryEvent {
            start_date,
            end_date,
            evaluations,
        }))
    }
}

/// The event in `item`, when it is well-formed; `None` leaves it to the careful path.
pub fn decode(item: &RawValue, now_ms: i64) -> Option<Event> {
    let f: Fast = serde_json::from_str(item.get()).ok()?;
    let date = |d| Fast::timestamp(d, now_ms);
    Some(match f.kind.as_ref() {
        "feature" => Event::Feature(FeatureEvent {
            creation_date: date(f.creation_date)?,
            flag_key: f.key()?,
            version: f.version,
            variation: f.variation,
            in_experiment: f
                .reason
                .as_ref()
                .map(|r| r.in_experiment.unwrap_or(false)),
            context: f.context()?,
        }),
        "custom" => f.conversion(ConversionKind::Custom, now_ms)?,
        "click" => f.conversion(ConversionKind::Click, now_ms)?,
        "pageview" => f.conversion(ConversionKind::Pageview, now_ms)?,
        "identify" => Event::Identify {
            creation_date: date(f.creation_date)?,
            context: f.context()?,
        },
        "index" => Event::Index {
            creation_date: date(f.creation_date)?,
            context: f.context()?,
        },
        "summary" => f.summary(now_ms)?,
        "debug" | "migration_op" | "click_pageview" | "diagnostic" | "diagnostic-init" => {
            Event::Ignored {
                kind: f.kind.into_owned(),
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_raw_event;
    use proptest::prelude::*;

    const NOW: i64 = 1_732_300_000_000;

    /// Valid events of every kind, as member lists.
    fn bases() -> Vec<Vec<(&'static str, &'static str)>> {
        let t = "1732300000000";
        vec![
            vec![("kind", "\"feature\""), ("creationDate", t), ("key", "\"f\""), ("version", "3"), ("variation", "1"),
                 ("value", "true"), ("reason", r#"{"kind":"FALLTHROUGH","inExperiment":true}"#), ("context", r#"{"kind":"user","key":"u","name":"x"}"#)],
            vec![("kind", "\"feature\""), ("creationDate", t), ("key", "\"f\""), ("contextKeys", r#"{"user":"u","org":"o"}"#)],
            vec![("kind", "\"custom\""), ("creationDate", t), ("key", "\"buy\""), ("metricValue", "2.5"), ("url", "\"\""), ("contextKeys", r#"{"user":"u"}"#)],
            vec![("kind", "\"click\""), ("creationDate", t), ("key", "\"g\""), ("url", "\"https://a/\""), ("selector", "\"b\""),
                 ("context", r#"{"kind":"multi","user":{"key":"u"},"org":{"key":"o","n":1}}"#)],
            vec![("kind", "\"pageview\""), ("creationDate", t), ("key", "\"g\""), ("url", "\"https://a/\""), ("context", r#"{"key":"u"}"#)],
            vec![("kind", "\"identify\""), ("creationDate", t), ("context", r#"{"key":"u"}"#)],
            vec![("kind", "\"index\""), ("creationDate", t), ("context", r#"{"kind":"org","key":"o"}"#)],
            vec![("kind", "\"summary\""), ("startDate", "1732299990000"), ("endDate", t),
                 ("features", r#"{"f":{"counters":[{"count":3},{"count":4,"value":true}]}}"#)],
            vec![("kind", "\"debug\""), ("creationDate", "\"whenever\"")],
        ]
    }

    /// Replacement values, valid and not: right and wrong types, nulls, edge values, contexts.
    fn value() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "null", "0", "-1", "1", "1.0", "1.5", "\"\"", "\"x\"", "\"a\\u00e9\"", "true", "[]", "{}",
            "1732300000000", "1.7323e12", "1832300000000", "99999999999999999999", "4294967296",
            "1e15", "-1e15", "1.0000001e15", "1e300",
            "\"feature\"", "\"custom\"", "\"click\"", "\"bogus\"",
            r#"{"key":"u1"}"#, r#"{"kind":"multi","user":{"key":"u"},"key":"k"}"#,
            r#"{"kind":"multi","user":"u"}"#, r#"{"kind":"multi"}"#, r#"{"kind":"us er","key":"u"}"#,
            r#"{"kind":"user","key":""}"#, r#"{"key":"a","key":"b"}"#, r#"{"kind":5,"key":"u"}"#,
            r#"{"kind":"multi","multi":{"key":"x"}}"#, r#"{"user":5}"#, r#"{"user":"a","user":"b"}"#,
            r#"{"bad kind":"x"}"#, r#"{"f":{"counters":[{"count":-1}]}}"#, r#"{"f":{}}"#,
            r#"{"f":{"counters":[{"count":2.0}]}}"#, r#"{"inExperiment":"yes"}"#, r#"{"inExperiment":false}"#,
        ])
    }

    fn name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "kind", "creationDate", "startDate", "endDate", "key", "version", "variation", "reason",
            "metricValue", "url", "selector", "context", "contextKeys", "features", "data",
        ])
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Replace(usize, &'static str),
        Remove(usize),
        Add(&'static str, &'static str),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (0..10usize, value()).prop_map(|(i, v)| Edit::Replace(i, v)),
            (0..10usize).prop_map(Edit::Remove),
            (name(), value()).prop_map(|(n, v)| Edit::Add(n, v)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20000))]
        /// The fast path accepts only what the careful path accepts, and gives the same event.
        #[test]
        fn agrees_with_the_careful_path(base in 0..9usize, edits in prop::collection::vec(edit(), 0..3)) {
            let mut members = bases()[base].clone();
            for e in edits {
                match e {
                    Edit::Replace(i, v) => if let Some(m) = members.get_mut(i) { m.1 = v },
                    Edit::Remove(i) => if i < members.len() { members.remove(i); },
                    Edit::Add(n, v) => members.push((n, v)),
                }
            }
            let text = format!("{{{}}}", members.iter().map(|(n, v)| format!("\"{n}\":{v}")).collect::<Vec<_>>().join(","));
            let raw: &RawValue = serde_json::from_str(&text).unwrap();
            if let Some(fast) = decode(raw, NOW) {
                prop_assert_eq!(Ok(fast), parse_raw_event(raw, NOW), "{}", text);
            }
        }
    }

    #[test]
    fn typical_events_take_the_fast_path() {
        for text in [
            r#"{"kind":"feature","creationDate":1732300000000,"key":"f","version":3,"variation":1,"value":{"a":[1]},"default":false,"reason":{"kind":"FALLTHROUGH","inExperiment":true},"context":{"kind":"user","key":"u","name":"N","custom":{"x":1}}}"#,
            r#"{"kind":"custom","creationDate":1732300000000,"key":"buy","contextKeys":{"user":"u"},"metricValue":9.5,"data":{"deep":[{}]}}"#,
            r##"{"kind":"click","creationDate":1732300000000,"key":"g","url":"https://a/","selector":"#b","context":{"kind":"multi","user":{"key":"u"},"org":{"key":"o"}}}"##,
            r#"{"kind":"summary","startDate":1732299999000,"endDate":1732300000000,"features":{"f":{"default":false,"counters":[{"variation":1,"version":1,"value":true,"count":25}]}}}"#,
        ] {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            let fast = decode(raw, NOW);
            assert!(fast.is_some(), "{text}");
            assert_eq!(Ok(fast.unwrap()), parse_raw_event(raw, NOW));
        }
    }
}

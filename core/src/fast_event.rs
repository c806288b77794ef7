//! One-pass decoding of well-formed events: typed structs with borrowed strings, no JSON tree.
//!
//! [`decode`] accepts only events that the careful path (`event::parse_raw_event`) accepts, and
//! gives exactly the same `Event`; anything else — a wrong type, a missing field, a repeated
//! member, an invalid context, a float timestamp — returns `None`, and the careful path decides
//! and words the error. Valid events, nearly all of them, are read once.

use crate::context::{valid_kind, Context, Unit, Units};
use crate::event::{
    ConversionEvent, ConversionKind, Event, FeatureEvent, SummaryEvent, MAX_FUTURE_SKEW_MS,
    MAX_METRIC_VALUE,
};
use serde::de::{Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

type Str<'a> = Cow<'a, str>;

#[derive(Deserialize)]
struct Fast<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(rename = "creationDate", default)]
    creation_date: Option<i64>,
    #[serde(borrow, default)]
    key: Option<Text<'a>>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    variation: Option<u32>,
    #[serde(borrow, default)]
    reason: Option<Reason<'a>>,
    #[serde(borrow, default)]
    context: Option<FastContext<'a>>,
    #[serde(rename = "contextKeys", borrow, default)]
    context_keys: Option<ContextKeys<'a>>,
    #[serde(rename = "metricValue", default)]
    metric_value: Option<f64>,
    #[serde(borrow, default)]
    url: Option<Text<'a>>,
    #[serde(borrow, default)]
    selector: Option<Text<'a>>,
    #[serde(rename = "startDate", default)]
    start_date: Option<i64>,
    #[serde(rename = "endDate", default)]
    end_date: Option<i64>,
    #[serde(borrow, default)]
    features: Option<BTreeMap<Text<'a>, Flag>>,
}

#[derive(Deserialize)]
struct Reason<'a> {
    #[serde(borrow, default)]
    kind: Option<Text<'a>>,
    #[serde(rename = "inExperiment", default)]
    in_experiment: Option<bool>,
    #[serde(rename = "ruleId", borrow, default)]
    rule_id: Option<Text<'a>>,
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
    key: Cow<'a, str>,
}

/// A `context` object: its `kind` and `key`, and for a multi-kind one every other member as raw
/// text (its entries are read after). A single-kind context's attributes are skipped over.
#[derive(Default)]
struct FastContext<'a> {
    kind: Option<Str<'a>>,
    key: Option<Str<'a>>,
    others: BTreeMap<Str<'a>, &'a RawValue>,
    /// `kind` given twice: left to the careful path (the last one counts there, and the members
    /// skipped before it was known may be entries).
    kind_repeated: bool,
}

/// A JSON string, borrowed from the text when it has no escapes. serde's derive borrows a field
/// written literally `Cow<'a, str>` (not through an alias), and never one inside an `Option` or
/// a map: hence this wrapper, and no `Str` alias on derived fields.
#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// An object read member by member into `Self` (a hand-written visitor, shared).
trait Members<'de>: Default {
    const WHAT: &'static str;
    fn member<A: MapAccess<'de>>(&mut self, name: Cow<'de, str>, map: &mut A)
        -> Result<(), A::Error>;
}

struct MembersVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Members<'de>> Visitor<'de> for MembersVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::WHAT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(Text(name)) = map.next_key()? {
            out.member(name, &mut map)?;
        }
        Ok(out)
    }
}

impl<'de: 'a, 'a> Members<'de> for FastContext<'a> {
    const WHAT: &'static str = "a context object";
    fn member<A: MapAccess<'de>>(&mut self, name: Str<'de>, map: &mut A) -> Result<(), A::Error> {
        match name.as_ref() {
            "kind" => {
                self.kind_repeated |= self.kind.is_some();
                self.kind = Some(map.next_value::<Text>()?.0);
            }
            "key" => self.key = Some(map.next_value::<Text>()?.0),
            _ if self.kind.as_deref().is_some_and(|k| k != "multi") => {
                map.next_value::<IgnoredAny>()?;
            }
            _ => {
                self.others.insert(name, map.next_value()?);
            }
        }
        Ok(())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FastContext<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

/// A `contextKeys` object (kind → key) as given; nearly always one entry, kept inline.
#[derive(Default)]
struct ContextKeys<'a> {
    first: Option<(Str<'a>, Str<'a>)>,
    rest: Vec<(Str<'a>, Str<'a>)>,
}

impl<'de: 'a, 'a> Members<'de> for ContextKeys<'a> {
    const WHAT: &'static str = "a contextKeys object";
    fn member<A: MapAccess<'de>>(&mut self, kind: Str<'de>, map: &mut A) -> Result<(), A::Error> {
        let entry = (kind, map.next_value::<Text>()?.0);
        match self.first {
            None => self.first = Some(entry),
            Some(_) => self.rest.push(entry),
        }
        Ok(())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ContextKeys<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

impl<'a> ContextKeys<'a> {
    /// The units, as the careful path gives them: sorted by kind, a repeated kind's last key.
    fn units(self) -> Option<Units<'a>> {
        let first = self.first?;
        if self.rest.is_empty() {
            return Some(Units::One(unit(first.0, first.1)?));
        }
        let by_kind: BTreeMap<_, _> = std::iter::once(first).chain(self.rest).collect();
        by_kind.into_iter().map(|(kind, key)| unit(kind, key)).collect()
    }
}

fn unit<'a>(kind: Str<'a>, key: Str<'a>) -> Option<Unit<'a>> {
    (valid_kind(&kind) && !key.is_empty()).then(|| Unit::new(kind, key))
}

impl<'a> FastContext<'a> {
    fn context(self) -> Option<Context<'a>> {
        if self.kind_repeated {
            return None;
        }
        let kind = self.kind.unwrap_or(Cow::Borrowed("user"));
        if kind != "multi" {
            return Some(Context {
                units: Units::One(unit(kind, self.key?)?),
            });
        }
        // A multi-kind context's own `key` is just another (invalid) kind entry.
        if self.key.is_some() || self.others.is_empty() {
            return None;
        }
        let units = self
            .others
            .into_iter()
            .map(|(kind, entry)| {
                let entry: KindEntry<'a> = serde_json::from_str(entry.get()).ok()?;
                unit(kind, entry.key)
            })
            .collect::<Option<Units>>()?;
        Some(Context { units })
    }
}

impl<'a> Fast<'a> {
    fn timestamp(value: Option<i64>, now_ms: i64) -> Option<i64> {
        value.filter(|ms| *ms > 0 && *ms <= now_ms.saturating_add(MAX_FUTURE_SKEW_MS))
    }

    fn context(&mut self) -> Option<Context<'a>> {
        match (self.context.take(), self.context_keys.take()) {
            (Some(c), _) => c.context(),
            (None, Some(keys)) => Some(Context {
                units: keys.units()?,
            }),
            _ => None,
        }
    }

    /// A string member that must be present and not empty.
    fn required(s: Option<Text<'a>>) -> Option<Str<'a>> {
        s.map(|t| t.0).filter(|v| !v.is_empty())
    }

    fn conversion(mut self, kind: ConversionKind, now_ms: i64) -> Option<Event<'a>> {
        let (url, selector) = match kind {
            ConversionKind::Custom => (self.url.take().map(|t| t.0), None),
            ConversionKind::Pageview => (Some(Self::required(self.url.take())?), None),
            ConversionKind::Click => (
                Some(Self::required(self.url.take())?),
                Some(Self::required(self.selector.take())?),
            ),
        };
        Some(Event::Conversion(ConversionEvent {
            kind,
            creation_date: Self::timestamp(self.creation_date, now_ms)?,
            key: Self::required(self.key.take())?,
            context: self.context()?,
            metric_value: match self.metric_value {
                Some(v) if v.abs() > MAX_METRIC_VALUE => return None,
                v => v,
            },
            url,
            selector,
        }))
    }

    fn summary(&self, now_ms: i64) -> Option<Event<'a>> {
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
pub fn decode(item: &RawValue, now_ms: i64) -> Option<Event<'_>> {
    serde_json::from_str::<Fast>(item.get()).ok()?.event(now_ms)
}

/// Every event of a payload in one pass over its text, when all of them are well-formed (nearly
/// every payload); `None` when one is not, and the payload is then read event by event.
pub fn decode_all(text: &str, now_ms: i64) -> Option<Vec<Event<'_>>> {
    let mut de = serde_json::Deserializer::from_str(text);
    // Room for the events the text can hold at ~128 bytes each (typical SDK events are longer),
    // so a payload's list is rarely grown and copied.
    let capacity = (text.len() / 128).clamp(16, 10_000);
    let events = de.deserialize_seq(Events { capacity, now_ms }).ok()?;
    de.end().ok()?;
    Some(events)
}

/// Decodes a JSON array of events, converting each as it is read; the first event that is not
/// well-formed stops the pass.
struct Events {
    capacity: usize,
    now_ms: i64,
}

impl<'de> Visitor<'de> for Events {
    type Value = Vec<Event<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of well-formed events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(self.capacity));
        while let Some(fast) = seq.next_element::<Fast>()? {
            let event = fast.event(self.now_ms);
            events.push(event.ok_or_else(|| A::Error::custom("not well-formed"))?);
        }
        Ok(events)
    }
}

impl<'a> Fast<'a> {
    fn event(mut self, now_ms: i64) -> Option<Event<'a>> {
        let date = |d| Fast::timestamp(d, now_ms);
        Some(match self.kind.as_ref() {
            "feature" => Event::Feature(FeatureEvent {
                creation_date: date(self.creation_date)?,
                flag_key: Self::required(self.key.take())?,
                version: self.version,
                variation: self.variation,
                in_experiment: self
                    .reason
                    .as_ref()
                    .map(|r| r.in_experiment.unwrap_or(false)),
                rule_id: self
                    .reason
                    .as_mut()
                    .filter(|r| r.kind.as_ref().is_some_and(|k| k.0 == "RULE_MATCH"))
                    .and_then(|r| r.rule_id.take())
                    .map(|t| t.0),
                context: self.context()?,
            }),
            "custom" => self.conversion(ConversionKind::Custom, now_ms)?,
            "click" => self.conversion(ConversionKind::Click, now_ms)?,
            "pageview" => self.conversion(ConversionKind::Pageview, now_ms)?,
            "identify" => Event::Identify {
                creation_date: date(self.creation_date)?,
                context: self.context()?,
            },
            "index" => Event::Index {
                creation_date: date(self.creation_date)?,
                context: self.context()?,
            },
            "summary" => self.summary(now_ms)?,
            "debug" | "migration_op" | "click_pageview" | "diagnostic" | "diagnostic-init" => {
                Event::Ignored {
                    kind: self.kind.into_owned(),
                }
            }
            _ => return None,
        })
    }
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
            vec![("kind", "\"feature\""), ("creationDate", t), ("key", "\"f\""), ("variation", "0"),
                 ("reason", r#"{"kind":"RULE_MATCH","ruleIndex":0,"ruleId":"de","inExperiment":true}"#), ("context", r#"{"key":"u"}"#)],
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
            r#"{"kind":"RULE_MATCH","ruleId":"r1"}"#, r#"{"kind":"FALLTHROUGH","ruleId":"r1"}"#, r#"{"kind":"RULE_MATCH","ruleId":7}"#,
            r#"{"kind":"RULE_MATCH","ruleId":"a","ruleId":"b","inExperiment":true}"#, r#"{"kind":"RULE_MATCH","ruleId":"d\u00e9"}"#,
            r#"{"kind":"user","org":{"key":"o"},"kind":"multi","user":{"key":"u"}}"#,
            r#"{"kind":"multi","user":{"key":"u"},"kind":"user","key":"k"}"#,
            r#"{"name":"n","kind":"org","key":"o","attrs":[1,{"kind":"multi"}]}"#,
            r#"{"org":{"key":"o"},"kind":"multi","user":{"key":"u"}}"#,
            r#"{"user":"u","org":"o","device":"d","org":"p"}"#, r#"{"user":"u","org":""}"#,
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

    /// One event's text: a base event with edits applied.
    fn event_text(base: usize, edits: Vec<Edit>) -> String {
        let mut members = bases()[base].clone();
        for e in edits {
            match e {
                Edit::Replace(i, v) => if let Some(m) = members.get_mut(i) { m.1 = v },
                Edit::Remove(i) => if i < members.len() { members.remove(i); },
                Edit::Add(n, v) => members.push((n, v)),
            }
        }
        format!("{{{}}}", members.iter().map(|(n, v)| format!("\"{n}\":{v}")).collect::<Vec<_>>().join(","))
    }

    fn edited_event() -> impl Strategy<Value = String> {
        (0..9usize, prop::collection::vec(edit(), 0..3)).prop_map(|(b, e)| event_text(b, e))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20000))]
        /// The fast path accepts only what the careful path accepts, and gives the same event.
        #[test]
        fn agrees_with_the_careful_path(text in edited_event()) {
            let raw: &RawValue = serde_json::from_str(&text).unwrap();
            if let Some(fast) = decode(raw, NOW) {
                prop_assert_eq!(Ok(fast), parse_raw_event(raw, NOW), "{}", text);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        /// A payload read in one pass gives, event for event, what the careful path gives; when
        /// one event is not well-formed the pass gives up (and the payload is read event by event).
        #[test]
        fn one_pass_agrees_event_by_event(events in prop::collection::vec(edited_event(), 0..6)) {
            let text = format!("[{}]", events.join(","));
            let items: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
            match decode_all(&text, NOW) {
                Some(all) => {
                    prop_assert_eq!(all.len(), items.len());
                    for (event, item) in all.into_iter().zip(items) {
                        prop_assert_eq!(Ok(event), parse_raw_event(item, NOW), "{}", text);
                    }
                }
                None => prop_assert!(items.iter().any(|i| decode(i, NOW).is_none()), "{}", text),
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
            let payload = format!(" [ {text} , {text} ] ");
            assert_eq!(decode_all(&payload, NOW).map(|all| all.len()), Some(2), "{payload}");
        }
        assert_eq!(decode_all("[]", NOW), Some(vec![]));
        // Strings without escapes are borrowed from the payload, not copied.
        let text = r#"[{"kind":"custom","creationDate":1732300000000,"key":"buy","url":"https://a/","contextKeys":{"user":"u"}},
                       {"kind":"feature","creationDate":1732300000000,"key":"f","variation":0,"context":{"kind":"org","key":"o","x":1}}]"#;
        let all = decode_all(text, NOW).unwrap();
        let borrowed = |s: &Cow<str>| matches!(s, Cow::Borrowed(_));
        let Event::Conversion(c) = &all[0] else { panic!("{all:?}") };
        assert!(borrowed(&c.key) && c.url.as_ref().is_some_and(borrowed));
        let Event::Feature(f) = &all[1] else { panic!("{all:?}") };
        assert!(borrowed(&f.flag_key));
        for unit in c.context.units.iter().chain(f.context.units.iter()) {
            assert!(borrowed(&unit.kind) && borrowed(&unit.key), "{unit:?}");
        }
        let escaped = decode_all(r#"[{"kind":"index","creationDate":1,"context":{"key":"a\u00e9"}}]"#, NOW).unwrap();
        let Event::Index { context, .. } = &escaped[0] else { panic!() };
        assert_eq!(context.units[0].key, "aé");
        for not_one_pass in [r#"{"kind":"diagnostic"}"#, "[1]", "[{}] x", r#"[{"kind":"custom"}]"#] {
            assert_eq!(decode_all(not_one_pass, NOW), None, "{not_one_pass}");
        }
    }
}

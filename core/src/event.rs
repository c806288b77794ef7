//! LaunchDarkly analytics events (schema 4) → typed events.
//!
//! A payload is validated event by event: a bad event is reported with its index and reason and
//! never causes the good events of the same payload to be lost.

use crate::context::{Context, ContextError};
use crate::raw::{self, RawObject};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use thiserror::Error;

/// Largest `metricValue` magnitude: beyond it a value is refused (per event), so sums of squares
/// over millions of units stay finite and precise.
pub const MAX_METRIC_VALUE: f64 = 1e15;

/// How far in the future a `creationDate` may be (client clock skew) before it is rejected.
pub const MAX_FUTURE_SKEW_MS: i64 = 24 * 60 * 60 * 1000;

/// The one kind of a conversion: what a conversion event was, and what a metric counts
/// (`metric::MetricKind` is this enum). A new kind is a new variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConversionKind {
    Custom,
    Click,
    Pageview,
}

impl ConversionKind {
    /// The LaunchDarkly event `kind` (and metric `kind`) naming it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversionKind::Custom => "custom",
            ConversionKind::Click => "click",
            ConversionKind::Pageview => "pageview",
        }
    }
}

/// A flag evaluation the SDK reported in full (the only events that create exposures).
///
/// Events borrow their strings from the payload's text where the JSON has no escapes: decoding
/// a payload allocates nothing per string ([`Event::into_owned`] detaches one).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureEvent<'a> {
    pub creation_date: i64,
    pub flag_key: Cow<'a, str>,
    pub version: Option<i64>,
    /// Absent when the SDK served the default (flag not found, error): no exposure then.
    pub variation: Option<u32>,
    /// `reason.inExperiment`, when the SDK sent a reason.
    pub in_experiment: Option<bool>,
    /// `reason.ruleId` when the reason is `RULE_MATCH`: which targeting rule served the unit
    /// (an experiment on a rule counts only its own rule's exposures).
    pub rule_id: Option<Cow<'a, str>>,
    pub context: Context<'a>,
}

/// A `custom`, `click` or `pageview` event: something a metric can count.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionEvent<'a> {
    pub kind: ConversionKind,
    pub creation_date: i64,
    /// Event key for `custom`; goal (metric) key for `click`/`pageview`.
    pub key: Cow<'a, str>,
    pub context: Context<'a>,
    pub metric_value: Option<f64>,
    pub url: Option<Cow<'a, str>>,
    pub selector: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SummaryEvent {
    pub start_date: i64,
    pub end_date: i64,
    /// Total evaluations counted in the summary, over all flags and counters.
    pub evaluations: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    Feature(FeatureEvent<'a>),
    Conversion(ConversionEvent<'a>),
    Identify {
        creation_date: i64,
        context: Context<'a>,
    },
    Index {
        creation_date: i64,
        context: Context<'a>,
    },
    Summary(SummaryEvent),
    /// Kinds we accept and deliberately do not process (`debug`, `migration_op`, ...).
    Ignored {
        kind: String,
    },
}

/// Why one event was rejected.
#[derive(Debug, Error, PartialEq)]
pub enum EventError {
    #[error("event must be a JSON object")]
    NotAnObject,
    #[error("`kind` is missing or not a string")]
    MissingKind,
    #[error("unknown event kind `{0}`")]
    UnknownKind(String),
    #[error("`{0}` is required")]
    Missing(&'static str),
    #[error("`{field}` must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("`{0}` is more than 24 hours in the future")]
    InTheFuture(&'static str),
    #[error("`endDate` is before `startDate`")]
    EndBeforeStart,
    #[error("event has neither `context` nor `contextKeys`")]
    NoContext,
    #[error(transparent)]
    Context(#[from] ContextError),
}

/// One rejected event of a payload, as reported to the sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectedEvent {
    pub index: usize,
    pub error: String,
}

/// What an events request did: its answer, kept under its payload ID so that the SDK's retry
/// gets the same one.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventsAccepted {
    /// Valid events kept.
    pub accepted: u64,
    /// Events refused, each with its index in the payload and the reason.
    pub rejected: Vec<RejectedEvent>,
    /// Messages put on the ingest queue; attribution and counts are written by its consumer.
    /// Absent on the answer to a duplicate (nothing was queued again).
    #[serde(default)]
    pub queued_messages: Option<u64>,
    /// The payload ID was seen with the same body: the first answer, not counted again.
    #[serde(default)]
    pub duplicate: Option<bool>,
    /// The request came from a bot (`core::bots`): its valid events were dropped, none counted.
    #[serde(default)]
    pub excluded: Option<crate::bots::Excluded>,
}

/// The outcome of parsing one payload.
#[derive(Debug, Default, PartialEq)]
pub struct Batch<'a> {
    pub events: Vec<Event<'a>>,
    pub rejected: Vec<RejectedEvent>,
}

impl Batch<'_> {
    pub fn into_owned<'b>(self) -> Batch<'b> {
        Batch {
            events: self.events.into_iter().map(Event::into_owned).collect(),
            rejected: self.rejected,
        }
    }
}

impl Event<'_> {
    /// The event with its own copies of the strings it borrowed.
    pub fn into_owned<'b>(self) -> Event<'b> {
        let own = |s: Cow<str>| Cow::Owned(s.into_owned());
        match self {
            Event::Feature(f) => Event::Feature(FeatureEvent {
                flag_key: own(f.flag_key),
                context: f.context.into_owned(),
                rule_id: f.rule_id.map(own),
                ..f
            }),
            Event::Conversion(c) => Event::Conversion(ConversionEvent {
                key: own(c.key),
                context: c.context.into_owned(),
                url: c.url.map(own),
                selector: c.selector.map(own),
                ..c
            }),
            Event::Identify {
                creation_date,
                context,
            } => Event::Identify {
                creation_date,
                context: context.into_owned(),
            },
            Event::Index {
                creation_date,
                context,
            } => Event::Index {
                creation_date,
                context: context.into_owned(),
            },
            Event::Summary(s) => Event::Summary(s),
            Event::Ignored { kind } => Event::Ignored { kind },
        }
    }
}

/// Why a whole payload was refused (nothing in it is processed).
#[derive(Debug, Error, PartialEq)]
pub enum BatchError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("body must be a JSON array of events")]
    NotAnArray,
}

/// Parse a payload. `now_ms` bounds how far in the future timestamps may be.
///
/// A single diagnostic object (LaunchDarkly's JS SDK retries failed diagnostics to the analytics
/// URL) is accepted as an empty batch.
pub fn parse_batch(body: &[u8], now_ms: i64) -> Result<Batch<'_>, BatchError> {
    parse_batch_with(body, now_ms, |_| Ok(()))
}

/// [`parse_batch`], with `accept` refusing some valid events (with a reason), e.g. the metric
/// import API takes only `custom` events.
///
/// A payload whose events are all well-formed (nearly all) is decoded in one pass into typed
/// fields with borrowed strings (`crate::fast_event`). Otherwise the body is split into its events
/// as raw text; each is decoded alone, or, when it is not well-formed, member by member to name
/// its problem ([`parse_raw_event`]). No JSON tree is built.
pub fn parse_batch_with(
    body: &[u8],
    now_ms: i64,
    accept: impl Fn(&Event) -> Result<(), String>,
) -> Result<Batch<'_>, BatchError> {
    // Invalid UTF-8 reads as U+FFFD, so it costs at most the event that carries it (and the
    // events own their strings, as the repaired text is gone after this call). Valid bodies
    // (nearly all) take the faster validating check rather than the lossy scan.
    match std::str::from_utf8(body) {
        Ok(text) => parse_text(text, now_ms, accept),
        Err(_) => parse_text(&String::from_utf8_lossy(body), now_ms, accept).map(Batch::into_owned),
    }
}

fn parse_text<'a>(
    text: &'a str,
    now_ms: i64,
    accept: impl Fn(&Event) -> Result<(), String>,
) -> Result<Batch<'a>, BatchError> {
    let mut batch = Batch::default();
    if let Some(events) = crate::fast_event::decode_all(text, now_ms) {
        batch.events = events;
        let mut index = 0;
        batch.events.retain(|event| {
            let accepted = accept(event).map_err(|error| RejectedEvent { index, error });
            index += 1;
            accepted.map_err(|r| batch.rejected.push(r)).is_ok()
        });
        return Ok(batch);
    }
    for (index, event) in decode_each(text, now_ms)?.into_iter().enumerate() {
        match event.and_then(|event| accept(&event).map(|()| event)) {
            Ok(event) => batch.events.push(event),
            Err(error) => batch.rejected.push(RejectedEvent { index, error }),
        }
    }
    Ok(batch)
}

/// The payload's events read one by one: each well-formed one in one pass, the others member by
/// member by the careful path, which words their problem.
fn decode_each(text: &str, now_ms: i64) -> Result<Vec<Result<Event<'_>, String>>, BatchError> {
    Ok(split(text)?
        .into_iter()
        .map(|item| {
            item.and_then(|item| {
                crate::fast_event::decode(item, now_ms)
                    .map_or_else(|| parse_raw_event(item, now_ms), Ok)
                    .map_err(|e| e.to_string())
            })
        })
        .collect())
}

/// The payload's events as raw JSON, each or its own syntax error. One pass when the whole body
/// is valid; otherwise the array is split by structure and each element parsed alone, so a
/// malformed element (or one nested too deep) is rejected with its index and the rest are kept.
fn split(text: &str) -> Result<Vec<Result<&RawValue, String>>, BatchError> {
    if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) {
        return Ok(items.into_iter().map(Ok).collect());
    }
    if let Some(parts) = raw::split_array(text) {
        return Ok(parts
            .into_iter()
            .map(|p| {
                serde_json::from_str::<&RawValue>(p)
                    .map_err(|e| format!("event is not valid JSON: {e}"))
            })
            .collect());
    }
    let top: &RawValue = serde_json::from_str(text).map_err(|e| BatchError::Json(e.to_string()))?;
    if is_diagnostic(top) {
        Ok(Vec::new())
    } else {
        Err(BatchError::NotAnArray)
    }
}

fn is_diagnostic(top: &RawValue) -> bool {
    RawObject::parse(top)
        .and_then(|o| o.get("kind").and_then(raw::as_str).map(|k| k.starts_with("diagnostic")))
        .unwrap_or(false)
}

/// Parse and validate one event given as a JSON value.
pub fn parse_event(value: &Value, now_ms: i64) -> Result<Event<'static>, EventError> {
    let text = value.to_string();
    let raw: &RawValue = serde_json::from_str(&text).map_err(|_| EventError::NotAnObject)?;
    parse_raw_event(raw, now_ms).map(Event::into_owned)
}

/// Parse and validate one event given as raw JSON text.
pub fn parse_raw_event(item: &RawValue, now_ms: i64) -> Result<Event<'_>, EventError> {
    let obj = RawObject::parse(item).ok_or(EventError::NotAnObject)?;
    let kind = obj
        .get("kind")
        .and_then(raw::as_str)
        .ok_or(EventError::MissingKind)?;
    let f = Fields { obj: &obj, now_ms };
    Ok(match kind.as_ref() {
        "feature" => {
            let reason = f.present("reason").map(RawObject::parse);
            let member = |name: &str| reason.as_ref().and_then(|r| r.as_ref()?.get(name));
            let rule_match = member("kind").and_then(raw::as_str).is_some_and(|k| k == "RULE_MATCH");
            Event::Feature(FeatureEvent {
                creation_date: f.creation_date()?,
                flag_key: f.required_str("key")?,
                version: f.optional_int("version")?,
                variation: f.optional_variation()?,
                in_experiment: reason.as_ref().map(|_| member("inExperiment").and_then(raw::as_bool).unwrap_or(false)),
                rule_id: member("ruleId").and_then(raw::as_str).filter(|_| rule_match),
                context: f.context()?,
            })
        }
        "custom" => f.conversion(ConversionKind::Custom)?,
        "click" => f.conversion(ConversionKind::Click)?,
        "pageview" => f.conversion(ConversionKind::Pageview)?,
        "identify" => Event::Identify {
            creation_date: f.creation_date()?,
            context: f.context()?,
        },
        "index" => Event::Index {
            creation_date: f.creation_date()?,
            context: f.context()?,
        },
        "summary" => Event::Summary(f.summary()?),
        "debug" | "migration_op" | "click_pageview" | "diagnostic" | "diagnostic-init" => {
            Event::Ignored {
                kind: kind.into_owned(),
            }
        }
        _ => return Err(EventError::UnknownKind(kind.into_owned())),
    })
}

/// Field accessors that turn an event object's raw members into typed values with precise errors.
struct Fields<'o, 'a> {
    obj: &'o RawObject<'a>,
    now_ms: i64,
}

impl<'a> Fields<'_, 'a> {
    fn present(&self, field: &str) -> Option<&'a RawValue> {
        self.obj.present(field)
    }

    fn required_str(&self, field: &'static str) -> Result<Cow<'a, str>, EventError> {
        let v = self.present(field).ok_or(EventError::Missing(field))?;
        match raw::as_str(v) {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(EventError::WrongType {
                field,
                expected: "a non-empty string",
            }),
        }
    }

    fn optional_str(&self, field: &'static str) -> Result<Option<Cow<'a, str>>, EventError> {
        self.present(field)
            .map(|v| {
                raw::as_str(v).ok_or(EventError::WrongType {
                        field,
                        expected: "a string",
                    })
            })
            .transpose()
    }

    fn optional_int(&self, field: &'static str) -> Result<Option<i64>, EventError> {
        self.present(field)
            .map(|v| {
                raw::as_integer(v).ok_or(EventError::WrongType {
                    field,
                    expected: "an integer",
                })
            })
            .transpose()
    }

    fn optional_variation(&self) -> Result<Option<u32>, EventError> {
        self.present("variation")
            .map(|v| {
                raw::as_integer(v)
                    .and_then(|i| u32::try_from(i).ok())
                    .ok_or(EventError::WrongType {
                        field: "variation",
                        expected: "a non-negative integer (variation index)",
                    })
            })
            .transpose()
    }

    /// A Unix-millisecond timestamp: a positive integer, not more than a day ahead of `now`.
    fn timestamp(&self, field: &'static str) -> Result<i64, EventError> {
        let v = self.present(field).ok_or(EventError::Missing(field))?;
        let ms = raw::as_integer(v)
            .filter(|ms| *ms > 0)
            .ok_or(EventError::WrongType {
                field,
                expected: "a positive integer (Unix milliseconds)",
            })?;
        if ms > self.now_ms.saturating_add(MAX_FUTURE_SKEW_MS) {
            return Err(EventError::InTheFuture(field));
        }
        Ok(ms)
    }

    fn creation_date(&self) -> Result<i64, EventError> {
        self.timestamp("creationDate")
    }

    /// `context` is preferred; `contextKeys` is accepted on every kind.
    fn context(&self) -> Result<Context<'a>, EventError> {
        if let Some(c) = self.present("context") {
            return Ok(Context::from_raw_context(c)?);
        }
        if let Some(k) = self.present("contextKeys") {
            return Ok(Context::from_raw_context_keys(k)?);
        }
        Err(EventError::NoContext)
    }

    fn conversion(&self, kind: ConversionKind) -> Result<Event<'a>, EventError> {
        let metric_value = match self.present("metricValue") {
            None => None,
            Some(v) => Some(
                raw::as_f64(v)
                    .filter(|f| f.abs() <= MAX_METRIC_VALUE)
                    .ok_or(EventError::WrongType {
                        field: "metricValue",
                        expected: "a number from -1e15 to 1e15",
                    })?,
            ),
        };
        let (url, selector) = match kind {
            ConversionKind::Custom => (self.optional_str("url")?, None),
            ConversionKind::Pageview => (Some(self.required_str("url")?), None),
            ConversionKind::Click => (
                Some(self.required_str("url")?),
                Some(self.required_str("selector")?),
            ),
        };
        Ok(Event::Conversion(ConversionEvent {
            kind,
            creation_date: self.creation_date()?,
            key: self.required_str("key")?,
            context: self.context()?,
            metric_value,
            url,
            selector,
        }))
    }

    fn summary(&self) -> Result<SummaryEvent, EventError> {
        let start_date = self.timestamp("startDate")?;
        let end_date = self.timestamp("endDate")?;
        if end_date < start_date {
            return Err(EventError::EndBeforeStart);
        }
        let features = match self.present("features") {
            None => return Err(EventError::Missing("features")),
            Some(v) => RawObject::parse(v).ok_or(EventError::WrongType {
                field: "features",
                expected: "an object keyed by flag key",
            })?,
        };
        let mut evaluations: u64 = 0;
        for flag in features.members().values() {
            let counters = RawObject::parse(flag)
                .and_then(|f| f.get("counters"))
                .and_then(raw::as_array)
                .ok_or_else(bad_counters)?;
            for counter in counters {
                let count = RawObject::parse(counter)
                    .and_then(|c| c.get("count"))
                    .and_then(raw::as_integer)
                    .and_then(|c| u64::try_from(c).ok())
                    .ok_or_else(bad_counters)?;
                evaluations = evaluations.saturating_add(count);
            }
        }
        Ok(SummaryEvent {
            start_date,
            end_date,
            evaluations,
        })
    }
}

fn bad_counters() -> EventError {
    EventError::WrongType {
        field: "features",
        expected: "flag entries with `counters`: [{count: non-negative integer, ...}]",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_broken_element_costs_only_itself() {
        let ok = format!(r#"{{"kind":"custom","key":"ok","creationDate":{NOW},"contextKeys":{{"user":"u"}}}}"#);
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let mut body = Vec::new();
        body.extend_from_slice(b"[");
        body.extend_from_slice(ok.as_bytes());
        body.extend_from_slice(br#",{"kind":"custom" "key":"missing comma"},"#);
        // Half an emoji in the event key, as a browser's JSON.stringify writes it.
        body.extend_from_slice(
            format!(r#"{{"kind":"custom","key":"a\ud83d","creationDate":{NOW},"contextKeys":{{"user":"u"}}}},"#).as_bytes(),
        );
        // Invalid UTF-8 in a context key.
        body.extend_from_slice(format!(r#"{{"kind":"custom","key":"b","creationDate":{NOW},"contextKeys":{{"user":"u"#).as_bytes());
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(br#""}},"#);
        body.extend_from_slice(
            format!(r#"{{"kind":"custom","key":"deep","creationDate":{NOW},"contextKeys":{{"user":"u"}},"data":{deep}}},"#).as_bytes(),
        );
        body.extend_from_slice(ok.as_bytes());
        body.extend_from_slice(b"]");
        let batch = parse_batch(&body, NOW).unwrap();
        let keys: Vec<String> = batch
            .events
            .iter()
            .map(|e| match e {
                Event::Conversion(c) => format!("{}/{}", c.key, c.context.units[0].key),
                _ => String::new(),
            })
            .collect();
        // `data` nested 200 deep is skipped over, never built: that event is kept.
        assert_eq!(
            keys,
            ["ok/u", "a\u{fffd}/u", "b/u\u{fffd}\u{fffd}", "deep/u", "ok/u"]
        );
        let rejected: Vec<usize> = batch.rejected.iter().map(|r| r.index).collect();
        assert_eq!(rejected, [1], "{:?}", batch.rejected);
        assert!(batch.rejected[0].error.starts_with("event is not valid JSON"));
        // Not an array at all, or unbalanced: the whole body is refused, as before.
        assert!(matches!(parse_batch(br#"[{"kind":"#, NOW), Err(BatchError::Json(_))));
        assert!(matches!(parse_batch(b"{}", NOW), Err(BatchError::NotAnArray)));
    }

    const NOW: i64 = 1_732_300_000_000;

    fn parse(v: Value) -> Result<Event<'static>, EventError> {
        parse_event(&v, NOW)
    }

    #[test]
    fn feature_event_with_variation() {
        let e = parse(
            json!({"kind":"feature","creationDate":NOW,"key":"f","version":12,
            "context":{"kind":"user","key":"u-1"},"variation":1,"value":true,"default":false}),
        )
        .unwrap();
        let Event::Feature(f) = e else { panic!() };
        assert_eq!(f.variation, Some(1));
        assert_eq!(f.version, Some(12));
        assert_eq!(f.context.units[0].key, "u-1");
    }

    #[test]
    fn feature_event_served_default_has_no_variation() {
        let e = parse(
            json!({"kind":"feature","creationDate":NOW,"key":"f","variation":null,
            "contextKeys":{"user":"u"},"value":false,"default":false}),
        )
        .unwrap();
        let Event::Feature(f) = e else { panic!() };
        assert_eq!(f.variation, None);
    }

    #[test]
    fn go_style_float_timestamps_are_accepted() {
        let e = parse(json!({"kind":"identify","creationDate":1.7323e12,"context":{"key":"u"}}));
        assert!(matches!(
            e,
            Ok(Event::Identify {
                creation_date: 1_732_300_000_000,
                ..
            })
        ));
    }

    #[test]
    fn conversions_of_each_kind() {
        let c = parse(
            json!({"kind":"custom","creationDate":NOW,"key":"Order placed",
            "context":{"key":"u"},"metricValue":49.5,"data":{"x":1},"url":"https://a/"}),
        )
        .unwrap();
        let Event::Conversion(c) = c else { panic!() };
        assert_eq!(c.kind, ConversionKind::Custom);
        assert_eq!(c.metric_value, Some(49.5));
        let click = parse(
            json!({"kind":"click","creationDate":NOW,"key":"buy","url":"https://a/",
            "selector":"#buy","contextKeys":{"user":"u"}}),
        )
        .unwrap();
        assert!(matches!(
            click,
            Event::Conversion(ConversionEvent {
                kind: ConversionKind::Click,
                ..
            })
        ));
        let pv = parse(
            json!({"kind":"pageview","creationDate":NOW,"key":"p","url":"https://a/",
            "contextKeys":{"user":"u"},"data":null}),
        )
        .unwrap();
        assert!(matches!(
            pv,
            Event::Conversion(ConversionEvent {
                kind: ConversionKind::Pageview,
                ..
            })
        ));
    }

    #[test]
    fn summary_counts_evaluations() {
        let s = parse(json!({"kind":"summary","startDate":NOW-9000,"endDate":NOW,
            "features":{"f":{"default":false,"contextKinds":["user"],
              "counters":[{"variation":1,"version":12,"value":true,"count":7},
                          {"value":false,"count":1,"unknown":true}]}}}))
        .unwrap();
        assert_eq!(
            s,
            Event::Summary(SummaryEvent {
                start_date: NOW - 9000,
                end_date: NOW,
                evaluations: 8
            })
        );
    }

    #[test]
    fn each_error_names_the_problem() {
        let cases = [
            (json!(5), "event must be a JSON object"),
            (
                json!({"creationDate":NOW}),
                "`kind` is missing or not a string",
            ),
            (json!({"kind":"bogus"}), "unknown event kind `bogus`"),
            (
                json!({"kind":"custom","key":"k","context":{"key":"u"}}),
                "`creationDate` is required",
            ),
            (
                json!({"kind":"custom","creationDate":"yesterday","key":"k","context":{"key":"u"}}),
                "`creationDate` must be a positive integer (Unix milliseconds)",
            ),
            (
                json!({"kind":"custom","creationDate":NOW+MAX_FUTURE_SKEW_MS+1,"key":"k","context":{"key":"u"}}),
                "`creationDate` is more than 24 hours in the future",
            ),
            (
                json!({"kind":"custom","creationDate":NOW,"context":{"key":"u"}}),
                "`key` is required",
            ),
            (
                json!({"kind":"custom","creationDate":NOW,"key":"k"}),
                "event has neither `context` nor `contextKeys`",
            ),
            (
                json!({"kind":"custom","creationDate":NOW,"key":"k","context":{"key":"u"},"metricValue":"5"}),
                "`metricValue` must be a number from -1e15 to 1e15",
            ),
            (
                json!({"kind":"feature","creationDate":NOW,"key":"f","variation":-1,"context":{"key":"u"}}),
                "`variation` must be a non-negative integer (variation index)",
            ),
            (
                json!({"kind":"click","creationDate":NOW,"key":"b","url":"https://a/","contextKeys":{"user":"u"}}),
                "`selector` is required",
            ),
            (
                json!({"kind":"summary","startDate":NOW,"endDate":NOW-1,"features":{}}),
                "`endDate` is before `startDate`",
            ),
            (
                json!({"kind":"identify","creationDate":NOW,"context":{"kind":"user"}}),
                "`context.key` must be a non-empty string",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                parse(input.clone()).unwrap_err().to_string(),
                message,
                "{input}"
            );
        }
    }

    #[test]
    fn batch_keeps_good_events_and_reports_bad_ones() {
        let body = json!([
            {"kind":"identify","creationDate":NOW,"context":{"key":"u"}},
            {"kind":"nope"},
            {"kind":"debug","creationDate":NOW},
            {"kind":"custom","creationDate":NOW,"key":"k","contextKeys":{"user":"u"}}
        ])
        .to_string();
        let batch = parse_batch(body.as_bytes(), NOW).unwrap();
        assert_eq!(batch.events.len(), 3);
        assert_eq!(
            batch.rejected,
            [RejectedEvent {
                index: 1,
                error: "unknown event kind `nope`".into()
            }]
        );
    }

    #[test]
    fn whole_payload_errors() {
        assert!(matches!(
            parse_batch(b"{not json", NOW),
            Err(BatchError::Json(_))
        ));
        assert_eq!(parse_batch(b"{\"a\":1}", NOW), Err(BatchError::NotAnArray));
        assert!(parse_batch(b"", NOW)
            .unwrap_err()
            .to_string()
            .starts_with("body is not valid JSON"));
        // A diagnostic object retried to the analytics URL is accepted and ignored.
        let diag = br#"{"kind":"diagnostic","id":{"diagnosticId":"x"},"creationDate":1}"#;
        assert_eq!(parse_batch(diag, NOW), Ok(Batch::default()));
        // Deep nesting is an error, not a stack overflow.
        let deep = "[".repeat(100_000);
        assert!(parse_batch(deep.as_bytes(), NOW).is_err());
    }

    #[test]
    fn an_events_answer_reads_back_from_its_stored_summary() {
        // Stored summaries carry neither `queuedMessages` nor `duplicate`; earlier ones are bare.
        let stored = r#"{"accepted":2,"rejected":[{"index":1,"error":"`kind` is required"}]}"#;
        let summary: EventsAccepted = serde_json::from_str(stored).unwrap();
        assert_eq!((summary.accepted, summary.rejected.len()), (2, 1));
        assert_eq!(serde_json::to_string(&summary).unwrap(), stored);
        let retry = EventsAccepted {
            duplicate: Some(true),
            ..summary
        };
        let answer = serde_json::to_value(&retry).unwrap();
        assert_eq!(answer["duplicate"], true);
        assert!(answer.get("queuedMessages").is_none());
    }
}

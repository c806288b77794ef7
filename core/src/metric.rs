//! Metrics, LaunchDarkly REST v2 compatible: validation of what users send, the stored model, the
//! representation clients expect (`MetricRep`), JSON Patch, and list filtering/sorting/paging.
//!
//! Kinds: `custom` (an event key sent by `track()`), `click` and `pageview` (URL matchers, and for
//! clicks a CSS selector). Custom metrics are either conversions (`isNumeric: false`; per unit
//! `unitAggregationType: average` = binary occurrence, `sum` = count of events) or numeric
//! (`isNumeric: true`; per-unit `average` or `sum` of values, analysed by `mean` or `percentile`).

use crate::context::valid_kind;
use crate::matcher::{Goal, GoalKind, UrlMatcher};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use crate::error::Error;
use crate::fields::{Fields, KEY_RULE};
use crate::fields::valid_key;
use crate::resource::{link, Resource, Spec};

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(msg)
}

/// What a metric counts: the conversion kind of its events (one enum for both).
pub use crate::event::ConversionKind as MetricKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SuccessCriteria {
    HigherThanBaseline,
    LowerThanBaseline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UnitAggregation {
    Average,
    Sum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AnalysisType {
    Mean,
    Percentile,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventDefault {
    pub disabled: bool,
    pub value: f64,
}

/// What a metric measures, as users set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSpec {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: MetricKind,
    pub event_key: Option<String>,
    pub is_numeric: bool,
    pub unit: Option<String>,
    pub urls: Vec<UrlMatcher>,
    pub selector: Option<String>,
    pub success_criteria: SuccessCriteria,
    pub randomization_units: Vec<String>,
    pub unit_aggregation_type: UnitAggregation,
    pub analysis_type: AnalysisType,
    pub percentile_value: Option<u8>,
    pub event_default: EventDefault,
    pub tags: Vec<String>,
    pub maintainer_id: Option<String>,
}

/// The partner integration that created a metric, from a `{product}-{source}-int/{version}`
/// User-Agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Integration {
    pub product: String,
    pub source: String,
    pub version: String,
}

impl Integration {
    pub fn from_user_agent(ua: &str) -> Option<Self> {
        let token = ua.split_whitespace().next()?;
        let (name, version) = token.split_once('/')?;
        let name = name.strip_suffix("-int")?;
        let (product, source) = name.split_once('-')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        (ok(product) && ok(source) && ok(version)).then(|| Integration {
            product: product.into(),
            source: source.into(),
            version: version.into(),
        })
    }
}

/// A stored metric: the spec plus what the server keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub spec: MetricSpec,
    pub id: String,
    pub version: u64,
    pub creation_date: i64,
    pub last_modified: i64,
    pub creator_integration: Option<Integration>,
    /// Experiments using this metric, and those of them running now.
    pub experiments: BTreeSet<String>,
    pub running_experiments: BTreeSet<String>,
}

/// Fields the server sets; a patch may not change them.
const SERVER_FIELDS: &[&str] = &[
    "_id",
    "_versionId",
    "_version",
    "_creationDate",
    "_links",
    "lastModified",
    "experimentCount",
    "activeExperimentCount",
    "dataSource",
    "_creatorIntegration",
    "isActive",
    "archived",
];

impl Spec for MetricSpec {
    fn key(&self) -> &str {
        &self.key
    }

    /// Validate a metric as sent to `POST /api/v2/metrics/{projectKey}` (or as it stands after a
    /// patch). Unknown fields are ignored; `null` means absent.
    fn from_json(value: &Value) -> Result<Self, Error> {
        crate::resource::check_size(value)?;
        let b = Fields::of(value)?;

        let key = b.key("key")?;
        let kind: MetricKind = b
            .choice("kind", "`custom`, `click`, `pageview`")?
            .ok_or_else(|| invalid("`kind` is required (`custom`, `click` or `pageview`)"))?;
        let name = b.non_empty("name")?.unwrap_or_else(|| key.clone());
        if name.chars().count() > 256 {
            return Err(invalid("`name` must be at most 256 characters"));
        }

        let event_key = b.non_empty("eventKey")?;
        let is_numeric = b.boolean("isNumeric")?.unwrap_or(false);
        let selector = b.non_empty("selector")?;
        let urls = parse_urls(b.get("urls"))?;
        check_kind_fields(kind, &event_key, &selector, &urls, is_numeric)?;

        let unit_aggregation_type = b
            .choice("unitAggregationType", "`average`, `sum`")?
            .unwrap_or(UnitAggregation::Average);
        let numeric = Numeric::from_fields(&b, is_numeric)?;
        let success_criteria = b
            .choice(
                "successCriteria",
                "`HigherThanBaseline`, `LowerThanBaseline`",
            )?
            .unwrap_or(SuccessCriteria::HigherThanBaseline);
        let randomization_units = randomization_units(&b)?;
        let mut tags = b.strings("tags")?.unwrap_or_default();
        if let Some(bad) = tags.iter().find(|t| !valid_key(t)) {
            return Err(invalid(format!("tag `{bad}` {KEY_RULE}")));
        }
        tags.sort();
        tags.dedup();

        Ok(MetricSpec {
            key,
            name,
            description: b.string("description")?,
            kind,
            event_key,
            is_numeric,
            unit: numeric.unit,
            urls,
            selector,
            success_criteria,
            randomization_units,
            unit_aggregation_type,
            analysis_type: numeric.analysis_type,
            percentile_value: numeric.percentile_value,
            event_default: numeric.event_default,
            tags,
            maintainer_id: b.string("maintainerId")?,
        })
    }
}

/// Which of `eventKey`, `selector`, `urls` and `isNumeric` a metric of `kind` needs or refuses.
fn check_kind_fields(
    kind: MetricKind,
    event_key: &Option<String>,
    selector: &Option<String>,
    urls: &[UrlMatcher],
    is_numeric: bool,
) -> Result<(), Error> {
    match kind {
        MetricKind::Custom => {
            if event_key.is_none() {
                return Err(invalid("`eventKey` is required for custom metrics"));
            }
            if selector.is_some() {
                return Err(invalid("`selector` applies only to click metrics"));
            }
            if !urls.is_empty() {
                return Err(invalid("`urls` apply only to click and page-view metrics"));
            }
        }
        MetricKind::Click | MetricKind::Pageview => {
            let kind_name = if kind == MetricKind::Click {
                "click"
            } else {
                "page-view"
            };
            if urls.is_empty() {
                return Err(invalid(format!(
                    "`urls` is required for {kind_name} metrics (at least one URL matcher)"
                )));
            }
            if kind == MetricKind::Click && selector.is_none() {
                return Err(invalid("`selector` is required for click metrics"));
            }
            if kind == MetricKind::Pageview && selector.is_some() {
                return Err(invalid("`selector` applies only to click metrics"));
            }
            if event_key.is_some() {
                return Err(invalid("`eventKey` applies only to custom metrics"));
            }
            if is_numeric {
                return Err(invalid("`isNumeric` applies only to custom metrics"));
            }
        }
    }
    Ok(())
}

/// The fields of numeric metrics, refused on conversion metrics.
struct Numeric {
    analysis_type: AnalysisType,
    percentile_value: Option<u8>,
    unit: Option<String>,
    event_default: EventDefault,
}

impl Numeric {
    fn from_fields(b: &Fields, is_numeric: bool) -> Result<Self, Error> {
        let analysis_type = b
            .choice("analysisType", "`mean`, `percentile`")?
            .unwrap_or(AnalysisType::Mean);
        let percentile_value = match b.get("percentileValue") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|p| (1..=99).contains(p))
                    .map(|p| p as u8)
                    // The 0th and 100th (min and max) have no distribution-free interval.
                    .ok_or_else(|| invalid("`percentileValue` must be an integer from 1 to 99"))?,
            ),
        };
        let unit = b.string("unit")?;
        let event_default = parse_event_default(b.get("eventDefault"))?;
        if is_numeric {
            match (analysis_type, percentile_value) {
                (AnalysisType::Percentile, None) => {
                    return Err(invalid(
                        "`percentileValue` is required when `analysisType` is `percentile`",
                    ))
                }
                (AnalysisType::Mean, Some(_)) => {
                    return Err(invalid(
                        "`percentileValue` applies only when `analysisType` is `percentile`",
                    ))
                }
                _ => {}
            }
        } else {
            for (field, set) in [
                ("unit", unit.is_some()),
                ("percentileValue", percentile_value.is_some()),
                ("eventDefault", b.get("eventDefault").is_some()),
                (
                    "analysisType` `percentile",
                    analysis_type == AnalysisType::Percentile,
                ),
            ] {
                if set {
                    return Err(invalid(format!(
                        "`{field}` applies only to numeric metrics (`isNumeric: true`)"
                    )));
                }
            }
        }
        Ok(Numeric {
            analysis_type,
            percentile_value,
            unit: if is_numeric { unit } else { None },
            event_default,
        })
    }
}

/// `randomizationUnits` (or LaunchDarkly's older `analysisUnits`; default `user`).
fn randomization_units(b: &Fields) -> Result<Vec<String>, Error> {
    let randomization_units = match b.strings("randomizationUnits")? {
        Some(u) => u,
        None => b
            .strings("analysisUnits")?
            .unwrap_or_else(|| vec!["user".into()]),
    };
    if randomization_units.is_empty() {
        return Err(invalid(
            "`randomizationUnits` must name at least one context kind",
        ));
    }
    if let Some(bad) = randomization_units.iter().find(|k| !valid_kind(k)) {
        return Err(invalid(format!(
            "`randomizationUnits` entry `{bad}` is not a valid context kind"
        )));
    }
    Ok(randomization_units)
}

fn parse_urls(value: Option<&Value>) -> Result<Vec<UrlMatcher>, Error> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| invalid("`urls` must be an array of URL matchers"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let matcher: UrlMatcher = serde_json::from_value(item.clone()).map_err(|_| {
                invalid(format!(
                    "`urls[{i}]` must be {{\"kind\": \"exact\"|\"canonical\", \"url\": ...}}, \
                     {{\"kind\": \"substring\", \"substring\": ...}} or {{\"kind\": \"regex\", \"pattern\": ...}}"
                ))
            })?;
            matcher
                .validate()
                .map_err(|e| invalid(format!("`urls[{i}]`: {e}")))?;
            Ok(matcher)
        })
        .collect()
}

fn parse_event_default(value: Option<&Value>) -> Result<EventDefault, Error> {
    let Some(value) = value else {
        return Ok(EventDefault {
            disabled: false,
            value: 0.0,
        });
    };
    let b = Fields::of(value).map_err(|_| {
        invalid("`eventDefault` must be an object {\"disabled\": bool, \"value\": number}")
    })?;
    let disabled = b
        .boolean("disabled")
        .map_err(|_| invalid("`eventDefault.disabled` must be true or false"))?;
    let value = match b.get("value") {
        None => 0.0,
        Some(v) => v
            .as_f64()
            .ok_or_else(|| invalid("`eventDefault.value` must be a number"))?,
    };
    Ok(EventDefault {
        disabled: disabled.unwrap_or(false),
        value,
    })
}

/// RFC 3339 UTC timestamp with milliseconds, for `lastModified.date`.
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Metric {
    /// A new metric. The ID is derived from project, key and creation time: stable and unique
    /// without a random source.
    pub fn create(
        project: &str,
        spec: MetricSpec,
        now_ms: i64,
        creator_integration: Option<Integration>,
    ) -> Self {
        let id = crate::credentials::digest(&format!("metric\n{project}\n{}\n{now_ms}", spec.key))
            [..24]
            .to_owned();
        Metric {
            spec,
            id,
            version: 1,
            creation_date: now_ms,
            last_modified: now_ms,
            creator_integration,
            experiments: BTreeSet::new(),
            running_experiments: BTreeSet::new(),
        }
    }

    /// May this metric be deleted?
    pub fn check_deletable(&self) -> Result<(), Error> {
        if self.running_experiments.is_empty() {
            Ok(())
        } else {
            Err(Error::Conflict(format!(
                "metric `{}` is used by a running experiment ({}): stop it first",
                self.spec.key,
                self.running_list()
            )))
        }
    }

    fn running_list(&self) -> String {
        self.running_experiments
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The metric as a browser goal, for click and page-view metrics.
    pub fn goal(&self) -> Option<Goal> {
        let kind = match self.spec.kind {
            MetricKind::Click => GoalKind::Click,
            MetricKind::Pageview => GoalKind::Pageview,
            MetricKind::Custom => return None,
        };
        Some(Goal {
            key: self.spec.key.clone(),
            kind,
            urls: self.spec.urls.clone(),
            selector: self.spec.selector.clone(),
        })
    }
}

/// How to sort a metric list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Name,
    CreatedAt,
}

/// A parsed `GET /api/v2/metrics/{projectKey}` query.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub limit: usize,
    pub offset: usize,
    pub sort: SortField,
    pub descending: bool,
    pub query: Option<String>,
    pub tags: Vec<String>,
    pub kinds: Vec<MetricKind>,
    pub is_numeric: Option<bool>,
    pub event_key: Option<String>,
    pub maintainer_ids: Vec<String>,
    /// The original query pairs (other than offset), for `_links`.
    pairs: Vec<(String, String)>,
}

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 50;

impl ListQuery {
    /// Parse decoded query pairs. `filter` is comma-separated `field:value` terms; multiple values
    /// in one term are joined by `+` (or a space, which is what `+` decodes to).
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, Error> {
        let mut q = ListQuery {
            limit: DEFAULT_LIMIT,
            offset: 0,
            sort: SortField::CreatedAt,
            descending: true,
            query: None,
            tags: Vec::new(),
            kinds: Vec::new(),
            is_numeric: None,
            event_key: None,
            maintainer_ids: Vec::new(),
            pairs: pairs
                .iter()
                .filter(|(k, _)| k != "offset")
                .cloned()
                .collect(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => {
                    q.limit = v
                        .parse()
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| {
                            invalid(format!("`limit` must be an integer from 1 to {MAX_LIMIT}"))
                        })?
                }
                "offset" => {
                    q.offset = v
                        .parse()
                        .map_err(|_| invalid("`offset` must be a non-negative integer"))?
                }
                "sort" => {
                    let (desc, field) = match v.strip_prefix('-') {
                        Some(f) => (true, f),
                        None => (false, v.as_str()),
                    };
                    q.sort = match field {
                        "name" => SortField::Name,
                        "createdAt" | "creationDate" => SortField::CreatedAt,
                        _ => {
                            return Err(invalid(format!(
                                "`sort` must be `name` or `createdAt` (prefix `-` for descending), got `{v}`"
                            )))
                        }
                    };
                    q.descending = desc;
                }
                "filter" => q.add_filter(v)?,
                // LaunchDarkly's list expands only `experimentCount`, which every metric here
                // always carries; anything else is refused rather than ignored.
                "expand" => {
                    let unknown = v.split(',').map(str::trim).find(|e| *e != "experimentCount");
                    if let Some(e) = unknown {
                        return Err(invalid(format!(
                            "`expand` of the metrics list takes only `experimentCount` (always included), got `{e}`"
                        )));
                    }
                }
                other => return Err(invalid(format!("unknown query parameter `{other}`"))),
            }
        }
        Ok(q)
    }

    fn add_filter(&mut self, filter: &str) -> Result<(), Error> {
        for term in filter.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value) = term
                .split_once(':')
                .ok_or_else(|| invalid(format!("filter term `{term}` must be `field:value`")))?;
            let values = || -> Vec<String> {
                value
                    .split(['+', ' '])
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            match field.trim() {
                "query" => self.query = Some(value.trim().to_lowercase()),
                "tags" => self.tags.extend(values()),
                "kind" | "eventKind" => {
                    for v in values() {
                        self.kinds.push(serde_json::from_value(json!(v)).map_err(|_| {
                            invalid(format!("filter `{field}` must be `custom`, `click` or `pageview`, got `{v}`"))
                        })?);
                    }
                }
                "isNumeric" => {
                    self.is_numeric = Some(value.trim().parse().map_err(|_| {
                        invalid("filter `isNumeric` must be `true` or `false`")
                    })?)
                }
                "eventKey" => self.event_key = Some(value.to_owned()),
                "maintainerIds" => self.maintainer_ids.extend(values()),
                other => {
                    return Err(invalid(format!(
                        "unknown filter field `{other}` (use query, tags, eventKind, isNumeric, eventKey, maintainerIds)"
                    )))
                }
            }
        }
        Ok(())
    }

    fn keeps(&self, m: &Metric) -> bool {
        let s = &m.spec;
        let text_match = |q: &str| {
            [
                Some(&s.key),
                Some(&s.name),
                s.event_key.as_ref(),
                s.description.as_ref(),
            ]
            .into_iter()
            .flatten()
            .any(|t| t.to_lowercase().contains(q))
        };
        self.query.as_deref().is_none_or(text_match)
            && self.tags.iter().all(|t| s.tags.contains(t))
            && (self.kinds.is_empty() || self.kinds.contains(&s.kind))
            && self.is_numeric.is_none_or(|n| n == s.is_numeric)
            && self
                .event_key
                .as_ref()
                .is_none_or(|k| s.event_key.as_ref() == Some(k))
            && (self.maintainer_ids.is_empty()
                || s.maintainer_id
                    .as_ref()
                    .is_some_and(|m| self.maintainer_ids.contains(m)))
    }

    /// Filter, sort and page `metrics`; returns the page and the filtered total.
    pub fn apply<'a>(
        &self,
        metrics: impl IntoIterator<Item = &'a Metric>,
    ) -> (Vec<&'a Metric>, usize) {
        let mut kept: Vec<&Metric> = metrics.into_iter().filter(|m| self.keeps(m)).collect();
        kept.sort_by(|a, b| {
            let order = match self.sort {
                SortField::Name => a.spec.name.to_lowercase().cmp(&b.spec.name.to_lowercase()),
                SortField::CreatedAt => a.creation_date.cmp(&b.creation_date),
            }
            .then_with(|| a.spec.key.cmp(&b.spec.key));
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        let total = kept.len();
        let page = kept
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        (page, total)
    }

    /// `_links` of a page: self, first, last, and prev/next where they exist.
    pub fn links(&self, base: &str, total: usize) -> Value {
        let href = |offset: usize| {
            let mut pairs = self.pairs.clone();
            pairs.push(("offset".into(), offset.to_string()));
            let query: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            link(format!("{base}?{}", query.join("&")))
        };
        let last = if total == 0 {
            0
        } else {
            (total - 1) / self.limit * self.limit
        };
        let mut links = BTreeMap::from([
            ("self", href(self.offset)),
            ("first", href(0)),
            ("last", href(last)),
        ]);
        if self.offset + self.limit < total {
            links.insert("next", href(self.offset + self.limit));
        }
        if self.offset > 0 {
            links.insert("prev", href(self.offset.saturating_sub(self.limit)));
        }
        json!(links)
    }
}

/// Percent-encode a query component (RFC 3986 unreserved characters kept).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b',') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Resource for Metric {
    const KIND: &'static str = "metric";
    const SERVER_FIELDS: &'static [&'static str] = SERVER_FIELDS;
    type Spec = MetricSpec;
    type Rep<'a> = MetricRep<'a>;

    fn version(&self) -> u64 {
        self.version
    }
    fn spec(&self) -> &MetricSpec {
        &self.spec
    }
    fn rep(&self, project: &str) -> MetricRep<'_> {
        MetricRep::of(self, project)
    }
    fn revised(&self, spec: MetricSpec, now: i64) -> Self {
        Metric {
            spec,
            version: self.version + 1,
            last_modified: now,
            ..self.clone()
        }
    }
    /// A running experiment locks the metric's kind and event key.
    fn check_change(&self, next: &MetricSpec) -> Result<(), Error> {
        if self.running_experiments.is_empty()
            || (next.kind == self.spec.kind && next.event_key == self.spec.event_key)
        {
            return Ok(());
        }
        Err(Error::Conflict(format!(
            "metric `{}` is used by a running experiment ({}): its kind and event key cannot change",
            self.spec.key,
            self.running_list()
        )))
    }
}

mod rep;
pub use rep::{DataSource, LastModified, MetricRep};

#[cfg(test)]
mod tests;

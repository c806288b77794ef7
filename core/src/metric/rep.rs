//! The `MetricRep` LaunchDarkly's clients read: the stored metric with what the server sets, and
//! each kind-specific field only for its kind (absent, not null, for the others).

use super::{
    rfc3339, AnalysisType, EventDefault, Integration, Metric, MetricKind, SuccessCriteria,
    UnitAggregation,
};
use crate::matcher::UrlMatcher;
use crate::resource::{item_links, Link};
use std::collections::BTreeMap;
use serde::Serialize;

/// The metric's data source (always the Worker's events).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataSource {
    pub key: &'static str,
    #[serde(rename = "_name")]
    pub name: &'static str,
}

/// When a resource last changed.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastModified {
    /// RFC 3339.
    pub date: String,
}

/// A metric as LaunchDarkly's clients read it. Kind-specific fields are present only for their
/// kind.
#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = MetricRep))]
pub struct MetricRep<'a> {
    #[serde(rename = "_id")]
    pub id: &'a str,
    #[serde(rename = "_versionId")]
    pub version_id: String,
    #[serde(rename = "_version")]
    pub version: u64,
    pub key: &'a str,
    pub name: &'a str,
    pub kind: MetricKind,
    #[serde(rename = "_links")]
    pub links: BTreeMap<&'static str, Link>,
    pub tags: &'a [String],
    #[serde(rename = "_creationDate")]
    pub creation_date: i64,
    pub last_modified: LastModified,
    pub success_criteria: SuccessCriteria,
    pub randomization_units: &'a [String],
    pub experiment_count: u64,
    pub active_experiment_count: u64,
    pub is_active: bool,
    pub archived: bool,
    pub data_source: DataSource,
    pub unit_aggregation_type: UnitAggregation,
    pub description: Option<&'a str>,
    pub maintainer_id: Option<&'a str>,
    /// Set when created with a partner User-Agent `{product}-{source}-int/{version}`.
    #[serde(rename = "_creatorIntegration")]
    pub creator_integration: Option<&'a Integration>,
    pub event_key: Option<&'a str>,
    pub is_numeric: Option<bool>,
    pub analysis_type: Option<AnalysisType>,
    pub event_default: Option<EventDefault>,
    pub unit: Option<&'a str>,
    pub percentile_value: Option<u8>,
    pub urls: Option<&'a [UrlMatcher]>,
    pub selector: Option<&'a str>,
}

impl<'a> MetricRep<'a> {
    /// The representation of `metric` in `project`.
    pub fn of(metric: &'a Metric, project: &str) -> Self {
        let (m, s) = (metric, &metric.spec);
        let custom = s.kind == MetricKind::Custom;
        let numeric = custom && s.is_numeric;
        MetricRep {
            id: &m.id,
            version_id: format!("{}-{}", m.id, m.version),
            version: m.version,
            key: &s.key,
            name: &s.name,
            kind: s.kind,
            links: item_links(format!("/api/v2/metrics/{project}"), &s.key),
            tags: &s.tags,
            creation_date: m.creation_date,
            last_modified: LastModified {
                date: rfc3339(m.last_modified),
            },
            success_criteria: s.success_criteria,
            randomization_units: &s.randomization_units,
            experiment_count: m.experiments.len() as u64,
            active_experiment_count: m.running_experiments.len() as u64,
            is_active: true,
            archived: false,
            data_source: DataSource {
                key: "edge",
                name: "Edge events",
            },
            unit_aggregation_type: s.unit_aggregation_type,
            description: s.description.as_deref(),
            maintainer_id: s.maintainer_id.as_deref(),
            creator_integration: m.creator_integration.as_ref(),
            event_key: s.event_key.as_deref().filter(|_| custom),
            is_numeric: custom.then_some(s.is_numeric),
            analysis_type: numeric.then_some(s.analysis_type),
            event_default: numeric.then_some(s.event_default),
            unit: s.unit.as_deref().filter(|_| numeric),
            percentile_value: s.percentile_value.filter(|_| numeric),
            urls: (!custom).then_some(s.urls.as_slice()),
            selector: s.selector.as_deref().filter(|_| s.kind == MetricKind::Click),
        }
    }
}

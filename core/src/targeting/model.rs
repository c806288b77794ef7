//! Flags and segments in LaunchDarkly's SDK data model: what `/sdk/latest-all` serves and what
//! evaluation reads. Absent fields take the SDKs' defaults; what a valid flag cannot hold (an
//! unknown operator, a missing fallthrough) is still read, so that evaluation can answer it as the
//! SDKs do (an error or a non-match); the REST API refuses such data before it is stored.

use super::operators::Op;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A flag as the SDKs read it. Serialised in the order and with every field LaunchDarkly's
/// own writer emits (the strictest SDK, Rust's, refuses a payload missing any of them), which is
/// what `/sdk/latest-all`, the `/all` stream and the edge SDKs' KV value carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FlagData {
    pub key: String,
    #[serde(default)]
    pub on: bool,
    #[serde(default)]
    pub prerequisites: Vec<Prerequisite>,
    #[serde(default)]
    pub targets: Vec<Target>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_targets: Vec<Target>,
    #[serde(default)]
    pub rules: Vec<FlagRule>,
    #[serde(default)]
    pub fallthrough: VariationOrRollout,
    #[serde(default)]
    pub off_variation: Option<i64>,
    #[serde(default)]
    pub variations: Vec<Value>,
    #[serde(default)]
    pub client_side_availability: ClientSide,
    /// The older form of `clientSideAvailability.usingEnvironmentId` (SDKs read either).
    #[serde(default)]
    pub client_side: bool,
    #[serde(default)]
    pub salt: String,
    #[serde(default)]
    pub track_events: bool,
    #[serde(default)]
    pub track_events_fallthrough: bool,
    /// Never set here (no debug events); written as `null`, which the SDKs require.
    #[serde(default)]
    pub debug_events_until_date: Option<u64>,
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub deleted: bool,
}

/// Which client-side credentials may evaluate a flag, as the SDKs read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClientSide {
    #[serde(default)]
    pub using_mobile_key: bool,
    #[serde(default)]
    pub using_environment_id: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prerequisite {
    pub key: String,
    pub variation: i64,
}

/// Individual targets: context keys of one kind served one variation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    #[serde(default)]
    pub values: Vec<String>,
    pub variation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_kind: Option<String>,
}

/// A fixed variation or a rollout: what a rule or the fallthrough serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VariationOrRollout {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RolloutKind {
    #[default]
    Rollout,
    Experiment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rollout {
    #[serde(default)]
    pub kind: RolloutKind,
    #[serde(default)]
    pub variations: Vec<WeightedVariation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeightedVariation {
    pub variation: i64,
    pub weight: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untracked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlagRule {
    #[serde(flatten)]
    pub serve: VariationOrRollout,
    /// Stable ID (the REST API generates it); evaluation reasons name it.
    #[serde(default, rename = "id", alias = "_id")]
    pub id: String,
    /// `None` (absent): the rule matches nothing, as in LaunchDarkly's SDKs.
    #[serde(default)]
    pub clauses: Option<Vec<Clause>>,
    #[serde(default)]
    pub track_events: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Clause {
    /// The REST API's stable ID of the clause (generated; LaunchDarkly's semantic patch names
    /// clauses by it); evaluation does not read it.
    #[serde(rename = "_id", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Absent in data written before contexts: then `attribute` is a literal name of a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_kind: Option<String>,
    #[serde(default)]
    pub attribute: String,
    pub op: Op,
    #[serde(default)]
    pub values: Vec<Value>,
    #[serde(default)]
    pub negate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub key: String,
    #[serde(default)]
    pub included: Vec<String>,
    #[serde(default)]
    pub excluded: Vec<String>,
    #[serde(default)]
    pub included_contexts: Vec<SegmentTarget>,
    #[serde(default)]
    pub excluded_contexts: Vec<SegmentTarget>,
    #[serde(default)]
    pub salt: String,
    #[serde(default)]
    pub rules: Vec<SegmentRule>,
    /// Big segments (a separate store) are refused by the REST API: always `false` here.
    #[serde(default)]
    pub unbounded: bool,
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentTarget {
    pub context_kind: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentRule {
    #[serde(default, rename = "id", alias = "_id")]
    pub id: String,
    #[serde(default)]
    pub clauses: Option<Vec<Clause>>,
    /// Matching contexts are in the segment only within this share (of 100000), by bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_context_kind: Option<String>,
}

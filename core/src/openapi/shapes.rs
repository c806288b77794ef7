//! Wire shapes the server reads field by field (LaunchDarkly's lenient bodies) or still builds
//! with `json!` (list pages), declared here so that their schemas are derived like the rest;
//! every answer with a type of its own takes its schema from that type. Each shape here is held
//! to the code by a test in `openapi/tests.rs`: representations made by the real code must
//! conform to these schemas (no undeclared field, every required one present), and each request
//! example must be accepted by the real parser.

use crate::analysis::{Analysis, AnalysisConfig};
use crate::catalog::Entry;
use crate::event::ConversionKind;
use crate::experiment::{ExperimentRep, MetricRef, Treatment};
use crate::resource::Link;
use crate::token::{Role, TokenRep};
use crate::flag::{ClientSideAvailability, EnvironmentConfig, FlagRep, Reason, Variation};
use crate::metric::{AnalysisType, EventDefault, MetricRep, SuccessCriteria, UnitAggregation};
use crate::matcher::UrlMatcher;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// LaunchDarkly's REST error body.
#[derive(Serialize, ToSchema)]
#[schema(as = Error, example = json!({"code": "invalid_request", "message": "`kind` is required"}))]
pub struct ErrorBody {
    /// `invalid_request` (400), `unauthorized` (401), `forbidden` (403), `not_found` (404),
    /// `method_not_allowed` (405), `conflict` or `optimistic_locking_error` (409),
    /// `payload_too_large` (413), `unsupported_media_type` (415), `internal_error` (500), `service_unavailable` (503).
    pub code: String,
    /// What is wrong, naming the field or resource.
    pub message: String,
}

/// The kinds of analytics events (schema 4). `debug`, `migration_op` and `click_pageview` are
/// accepted and ignored.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Feature,
    Custom,
    Click,
    Pageview,
    Identify,
    Index,
    Summary,
    Debug,
    MigrationOp,
    ClickPageview,
}

/// A LaunchDarkly analytics event (schema 4). The context comes as `context` or `contextKeys`;
/// `creationDate` is required except on summaries. Each event is validated on its own: a bad one
/// is reported in `rejected` and the others are kept.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"kind": "custom", "creationDate": 1700000000000_i64,
    "key": "purchase", "context": {"kind": "user", "key": "u1"}, "metricValue": 14.9}))]
pub struct Event {
    pub kind: EventKind,
    /// Unix milliseconds.
    pub creation_date: Option<i64>,
    /// The flag key (feature), event key (custom) or goal key (click, page view).
    pub key: Option<String>,
    /// Feature events: the index of the variation served.
    pub variation: Option<u32>,
    /// Feature events: the value served.
    pub value: Option<Value>,
    /// Feature events: the flag's version.
    pub version: Option<u64>,
    /// The evaluation context (single- or multi-kind).
    pub context: Option<Value>,
    /// `kind → key` of the context, instead of `context`.
    pub context_keys: Option<BTreeMap<String, String>>,
    /// Custom events: the numeric value numeric metrics read.
    pub metric_value: Option<f64>,
    /// Click and page-view events: the page.
    pub url: Option<String>,
    /// Click events: the CSS selector clicked.
    pub selector: Option<String>,
    /// Summary events: the period and counters.
    pub start_date: Option<i64>,
    pub end_date: Option<i64>,
    pub features: Option<Value>,
}

/// An evaluation context: single-kind `{"kind", "key", ...attributes}` (no `kind`: `user`), or
/// multi-kind `{"kind": "multi", "<kind>": {"key", ...}, ...}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"kind": "user", "key": "u1", "country": "de"}))]
pub struct Context {
    pub kind: Option<String>,
    pub key: Option<String>,
}

/// A metric as created: only `key` and `kind` are required; the rest takes LaunchDarkly's
/// defaults. Custom metrics need `eventKey`; click and page-view metrics need `urls` (and click
/// metrics a `selector`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"key": "purchase", "name": "Purchase", "kind": "custom",
    "eventKey": "purchase", "isNumeric": true, "unitAggregationType": "sum"}))]
pub struct MetricPost {
    /// Letters, digits, `.`, `_`, `-`; at most 256 characters.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")]
    pub key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub kind: ConversionKind,
    pub event_key: Option<String>,
    pub is_numeric: Option<bool>,
    pub unit: Option<String>,
    pub urls: Option<Vec<UrlMatcher>>,
    pub selector: Option<String>,
    pub success_criteria: Option<SuccessCriteria>,
    pub randomization_units: Option<Vec<String>>,
    /// Conversion metrics: `average` = converted or not, `sum` = count of events. Numeric
    /// metrics: the per-unit average or sum of `metricValue`.
    pub unit_aggregation_type: Option<UnitAggregation>,
    pub analysis_type: Option<AnalysisType>,
    /// With `analysisType: percentile`: 1 to 99.
    #[schema(minimum = 1, maximum = 99)]
    pub percentile_value: Option<u8>,
    /// Numeric metrics: the value of a unit with no event (`disabled`: leave it out).
    pub event_default: Option<EventDefault>,
    pub tags: Option<Vec<String>>,
    pub maintainer_id: Option<String>,
}

/// `{items, totalCount, _links}`: one page of a resource's list.
macro_rules! page {
    ($(#[$doc:meta])* $name:ident of $item:ty) => {
        $(#[$doc])*
        #[derive(Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub items: Vec<$item>,
            pub total_count: u64,
            #[serde(rename = "_links")]
            pub links: BTreeMap<String, Link>,
        }
    };
}

page!(
    /// A page of metrics.
    MetricCollectionRep of MetricRep<'static>
);
page!(
    /// A page of flags.
    FlagCollection of FlagRep<'static>
);
page!(TokenCollection of TokenRep<'static>);
page!(
    /// A flag's guarded rollouts in one environment, oldest first.
    MeasuredRolloutCollection of crate::rollout::MeasuredRolloutRep<'static>
);
page!(
    /// The registered webhooks (secrets never shown after creation).
    WebhookCollection of crate::webhook::WebhookRep<'static>
);

/// A guarded rollout's checks, oldest first (one point per check, two days at most).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasuredRolloutSeries {
    pub items: Vec<crate::rollout::SeriesPoint>,
    pub total_count: u64,
}

/// A guarded rollout's transitions, and the latest webhook deliveries of them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasuredRolloutEvents {
    pub items: Vec<crate::rollout::Transition>,
    pub total_count: u64,
    pub deliveries: Vec<crate::rollout::Delivery>,
}

/// A human's semantic patch on a guarded rollout: `pause`, `resume`, `advanceStage`, `rollBack`,
/// `dismissRegression` (`metricKey`), each with an optional `comment`. All apply or none.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"instructions": [{"kind": "pause", "comment": "waiting for the on-call"}]}))]
pub struct MeasuredRolloutPatch {
    pub comment: Option<String>,
    pub instructions: Vec<BTreeMap<String, Value>>,
}

/// A webhook as created (LaunchDarkly's fields): `url` required; `sign` and `on` default to
/// true; `secret` generated when signing and none is given; `statements` must be empty.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"url": "https://hooks.example.com/ld", "name": "on-call", "sign": true, "on": true}))]
pub struct WebhookPost {
    pub url: String,
    pub name: Option<String>,
    pub secret: Option<String>,
    pub sign: Option<bool>,
    pub on: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub statements: Option<Vec<Value>>,
}

/// One operation of a JSON Patch (RFC 6902). The body is an array of them, or
/// `{"comment", "patch"}`. A `test` of `/_version` that fails is a 409.
#[derive(Serialize, ToSchema)]
pub struct PatchOperation {
    pub op: PatchOp,
    /// A JSON Pointer into the representation.
    pub path: String,
    /// `move` and `copy`: where from.
    pub from: Option<String>,
    pub value: Option<Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

/// A flag as created: only `key` is required. New flags have two boolean variations, are off in
/// every environment and are not served to the public client-side ID.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"key": "new-checkout", "name": "New checkout",
    "variations": [{"value": false}, {"value": true}],
    "clientSideAvailability": {"usingEnvironmentId": true},
    "environments": {"production": {"on": true, "fallthrough": {"rollout": {"kind": "experiment",
        "variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}}}}}))]
pub struct FlagPost {
    pub key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub variations: Option<Vec<Variation>>,
    /// Targeting per environment key.
    pub environments: Option<BTreeMap<String, EnvironmentConfig>>,
    pub client_side_availability: Option<ClientSideAvailability>,
}

/// A segment as created (in one environment). LaunchDarkly's clients send `key`, `name`,
/// `description`, `tags` and `unbounded: false`; the lists and rules may be given too, or added
/// later by a JSON Patch.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"key": "beta-testers", "name": "Beta testers", "included": ["user-1"],
    "rules": [{"clauses": [{"contextKind": "user", "attribute": "email", "op": "endsWith", "values": ["@example.com"]}]}]}))]
pub struct SegmentPost {
    pub key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Must be false (or absent): big segments are not held here.
    pub unbounded: Option<bool>,
    /// At most 10,000 keys per list.
    pub included: Option<Vec<String>>,
    pub excluded: Option<Vec<String>>,
    pub included_contexts: Option<Vec<crate::targeting::model::SegmentTarget>>,
    pub excluded_contexts: Option<Vec<crate::targeting::model::SegmentTarget>>,
    pub rules: Option<Vec<crate::segment::SegmentRule>>,
}

/// LaunchDarkly's semantic patch of a flag: instructions applied in order, all or none; the
/// result is validated as a JSON Patch's is. With `environmentKey`: `turnFlagOn`, `turnFlagOff`;
/// `addRule` (`clauses`, what it serves, `description`?, `ruleId`?, `beforeRuleId`?,
/// `trackEvents`?), `removeRule` (`ruleId`), `reorderRules` (`ruleIds`),
/// `updateRuleVariationOrRollout` (`ruleId`, what it serves), `addClauses` (`ruleId`, `clauses`),
/// `removeClauses` (`ruleId`, `clauseIds`), `updateClause` (`ruleId`, `clauseId`, `clause`),
/// `updateRuleDescription` (`ruleId`, `description`); `addTargets`, `removeTargets` (`values`,
/// `variationId`, `contextKind`? default `user`); `addPrerequisite`, `updatePrerequisite` (`key`,
/// the prerequisite flag's `variationId`), `removePrerequisite` (`key`);
/// `updateFallthroughVariationOrRollout` (what it serves); `updateOffVariation` (`variationId`).
/// Without: `updateName`, `updateDescription` (`value`). What an instruction serves:
/// `variationId` (a variation's `_id`), or `rolloutWeights` (`{variationId: weight}`, total
/// 100000) with `rolloutBucketBy`? and `rolloutContextKind`?; a `variation` index is taken in
/// place of any `variationId`. Anything else is a 400 naming it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"environmentKey": "production", "instructions": [{"kind": "turnFlagOn"}]}))]
pub struct FlagSemanticPatch {
    /// Required by the instructions that change an environment.
    pub environment_key: Option<String>,
    pub comment: Option<String>,
    pub instructions: Vec<BTreeMap<String, Value>>,
}

/// LaunchDarkly's semantic patch of a segment: `addIncludedTargets`, `removeIncludedTargets`,
/// `addExcludedTargets`, `removeExcludedTargets` (`values`, `contextKind`? default `user`);
/// `addRule` (`clauses`, `weight`?, `bucketBy`?, `rolloutContextKind`?, `description`?, `ruleId`?,
/// `beforeRuleId`?), `removeRule`, `reorderRules`, `addClauses`, `updateRuleDescription`,
/// `updateName`, `updateDescription`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"instructions": [{"kind": "addIncludedTargets", "values": ["user-2"]}]}))]
pub struct SegmentSemanticPatch {
    pub comment: Option<String>,
    pub instructions: Vec<BTreeMap<String, Value>>,
}

/// The segments of an environment.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentCollection {
    pub items: Vec<crate::segment::SegmentRep<'static>>,
    pub total_count: u64,
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, Link>,
}

/// An experiment as created.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"key": "checkout-test", "name": "Checkout test",
    "flagKey": "new-checkout", "metrics": [{"key": "purchase", "primary": true}],
    "analysis": "frequentist"}))]
pub struct ExperimentPost {
    pub key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub hypothesis: Option<String>,
    pub flag_key: String,
    /// The flag's targeting rule (its `_id` in this environment) the experiment runs on; absent:
    /// the fallthrough. Starting an iteration makes that rule serve the experiment rollout of the
    /// treatments; only exposures that rule served inside the experiment count.
    pub rule_id: Option<String>,
    /// The context kind that is randomised (default `user`).
    pub randomization_unit: Option<String>,
    /// Default: every variation of the flag, the first the baseline, equal allocations.
    pub treatments: Option<Vec<Treatment>>,
    /// At least one; the first is primary unless one says `primary`.
    pub metrics: Vec<MetricRef>,
    /// Counter shards for this experiment's iterations (units are spread over them by a hash of
    /// the unit key), 1 to 64, default 16; kept with each iteration when it starts.
    #[schema(minimum = 1, maximum = 64)]
    pub counter_shards: Option<u32>,
    /// How results are analysed (default `bayesian`); a results request may override it.
    pub analysis: Option<Analysis>,
    pub analysis_config: Option<AnalysisConfig>,
}

/// The experiments of an environment (LaunchDarkly names the count `total_count` here).
#[derive(Serialize, ToSchema)]
pub struct ExperimentCollection {
    pub items: Vec<ExperimentRep<'static>>,
    pub total_count: u64,
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, Link>,
}

/// A semantic patch of an experiment: instructions applied all or none.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"instructions": [{"kind": "startIteration"}]}))]
pub struct ExperimentPatch {
    pub instructions: Vec<Instruction>,
}

/// `startIteration`, `stopIteration`, `updateName` and `updateDescription` (with a text
/// `value`), `updateAnalysis` (with `analysis` and/or `analysisConfig`), `updateBotFilter` (with
/// `value`: `{"serveControl": bool}`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Instruction {
    pub kind: String,
    #[schema(value_type = Option<serde_json::Value>)]
    pub value: Option<String>,
    pub analysis: Option<Analysis>,
    pub analysis_config: Option<AnalysisConfig>,
}

/// A token as created: `role` defaults to `reader`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "CI", "role": "writer"}))]
pub struct TokenPost {
    pub name: Option<String>,
    pub role: Option<Role>,
}

/// A custom event key or goal key received in the last 30 days.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventKeyPage {
    pub items: Vec<Entry>,
    pub total_count: u64,
}

/// One flag's value for the context (client-side evaluation).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagValue {
    pub value: Value,
    /// The variation index; null when the flag served its fallback.
    pub variation: Option<u32>,
    pub version: u64,
    pub flag_version: u64,
    pub track_events: bool,
    /// Set when the evaluation is part of an experiment.
    pub track_reason: Option<bool>,
    /// With `withReasons=true`.
    pub reason: Option<Reason>,
}

//! Experiments: a flag, its treatments (variations, one the baseline, with an allocation), a
//! randomization unit and metrics. Iterations are started and stopped; each has its own window,
//! its own metric snapshot and its own counts.
//!
//! Counting happens per unit in a [`UnitLedger`]: the unit's exposures (first-variation rule)
//! and its conversion events per metric. A unit belongs to the variation of its first exposure in
//! the iteration; a conversion at `t` counts for it when the first variation the unit received in
//! the 90 days before `t` is that variation. Per-unit values then follow the metric's measure.

use crate::aggregates::{shard_of, UnitEvents, DEFAULT_SHARDS, MAX_SHARDS};
use crate::analysis::{analysis_from_json, Analysis, AnalysisConfig};
use crate::attribution::{Exposure, ExposureHistory};
use crate::bots::overrides::FilterOverride;
use crate::context::valid_kind;
use crate::event::Event;
use crate::metric::{
    AnalysisType, Metric, MetricKind, SuccessCriteria, UnitAggregation,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use crate::error::Error;
use crate::resource::{as_json, item_links, link, Link};
use crate::fields::Fields;

fn invalid(m: impl Into<String>) -> Error {
    Error::invalid(m)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Treatment {
    pub name: String,
    pub variation: usize,
    pub baseline: bool,
    /// Percent of experiment traffic, as a string like LaunchDarkly's API ("50").
    pub allocation_percent: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricRef {
    pub key: String,
    #[serde(default)]
    pub primary: bool,
}

/// How a metric turns a unit's events into one number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Measure {
    /// 1 if the unit converted at least once, else 0.
    Binary,
    /// Number of events.
    Count,
    /// Average or sum of `metricValue`s; units with no event get `default` (or are left out).
    Numeric {
        aggregation: UnitAggregation,
        default: Option<f64>,
    },
}

/// What an iteration keeps of a metric when it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricSnapshot {
    pub key: String,
    pub kind: MetricKind,
    /// The event key for custom metrics; the metric (goal) key for click and page-view metrics.
    pub event_key: String,
    pub measure: Measure,
    pub success_criteria: SuccessCriteria,
    pub primary: bool,
    /// For `analysisType: percentile` metrics, the percentile analysed (1..99); absent: the mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<u8>,
}

impl MetricSnapshot {
    pub fn of(metric: &Metric, primary: bool) -> Self {
        let s = &metric.spec;
        let measure = if s.is_numeric {
            Measure::Numeric {
                aggregation: s.unit_aggregation_type,
                default: (!s.event_default.disabled).then_some(s.event_default.value),
            }
        } else if s.unit_aggregation_type == UnitAggregation::Sum {
            // Conversion metrics of any kind: `sum` counts events per unit (clicks, page views).
            Measure::Count
        } else {
            Measure::Binary
        };
        MetricSnapshot {
            key: s.key.clone(),
            kind: s.kind,
            event_key: s.event_key.clone().unwrap_or_else(|| s.key.clone()),
            measure,
            success_criteria: s.success_criteria,
            primary,
            percentile: match s.analysis_type {
                AnalysisType::Percentile => s.percentile_value,
                AnalysisType::Mean => None,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum IterationStatus {
    Running,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Iteration {
    pub id: u32,
    pub status: IterationStatus,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub treatments: Vec<Treatment>,
    pub metrics: Vec<MetricSnapshot>,
    pub randomization_unit: String,
    pub flag_key: String,
    /// The targeting rule (`_id`) the iteration runs on; absent: the flag's fallthrough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// How many counter shards count this iteration (chosen at its start, kept with it). Absent on
    /// iterations counted by the earlier single-object layout (`ExperimentCounter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_shards: Option<u32>,
    /// Count only evaluations the SDK marked `inExperiment` (a guarded rollout's arms: its
    /// untracked slots serve the control too), on the fallthrough as on a rule.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tracked_only: bool,
}

/// How long after an iteration stops events are still routed to it: events created inside its
/// window may arrive late (SDK buffers, offline mobile clients, queue retries).
pub const LATE_EVENTS_MS: i64 = 24 * 60 * 60 * 1000;

/// After the late-event window, how long a write routed just before it closed may still land (a
/// queue consumer invocation runs at most 15 minutes).
pub const FINAL_MARGIN_MS: i64 = 15 * 60 * 1000;

impl Iteration {
    /// Is an event at `t` inside this iteration's window?
    pub fn contains(&self, t: i64) -> bool {
        t >= self.started_at && self.ended_at.is_none_or(|end| t <= end)
    }

    /// Was the evaluation of `f` one this iteration's experiment made? On a rule: that rule served
    /// it inside the experiment (`RULE_MATCH` with its `ruleId`, `inExperiment: true`). On the
    /// fallthrough: no rule served it and the SDK did not say it was outside the experiment (an
    /// event without a reason counts, as it always has).
    pub fn served(&self, f: &crate::event::FeatureEvent) -> bool {
        match &self.rule_id {
            Some(rule) => f.rule_id.as_deref() == Some(rule.as_str()) && f.in_experiment == Some(true),
            None if self.tracked_only => f.rule_id.is_none() && f.in_experiment == Some(true),
            None => f.rule_id.is_none() && f.in_experiment != Some(false),
        }
    }

    /// Are events routed to this iteration at `now`? While it runs, and for [`LATE_EVENTS_MS`]
    /// after it stops.
    pub fn routed(&self, now: i64) -> bool {
        self.ended_at.is_none_or(|end| now - end <= LATE_EVENTS_MS)
    }

    /// Can the iteration's counts no longer change at `now`? Once it is no longer routed and the
    /// last routed write has landed: its results may then be frozen.
    pub fn counts_final(&self, now: i64) -> bool {
        self.ended_at
            .is_some_and(|end| now - end > LATE_EVENTS_MS + FINAL_MARGIN_MS)
    }
}

// Stored under the names the REST representation uses, so that one definition serves both
// (`ExperimentRep` adds what the server derives); records stored under the earlier names
// (`environment`, `creationDate`) still read.
/// An experiment's own fields, as stored and as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ExperimentFields))]
pub struct Experiment {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub hypothesis: Option<String>,
    #[serde(rename = "environmentKey", alias = "environment")]
    pub environment: String,
    pub flag_key: String,
    /// The flag's targeting rule (`_id` in this environment) the experiment runs on; absent: the
    /// fallthrough (LaunchDarkly's `iteration.flags.{flagKey}.ruleId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    pub randomization_unit: String,
    pub treatments: Vec<Treatment>,
    pub metrics: Vec<MetricRef>,
    #[serde(rename = "_creationDate", alias = "creationDate")]
    pub creation_date: i64,
    pub iterations: Vec<Iteration>,
    /// Counter shards for new iterations: `counterShards` on create, 1..=64, default 16.
    #[serde(default = "default_shards")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub counter_shards: u32,
    /// How results are analysed (`analysis` on create or `updateAnalysis`; default Bayesian).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub analysis: Analysis,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub analysis_config: AnalysisConfig,
    /// What bots are served in this experiment (`botFilter` on create, `updateBotFilter`); who is
    /// a bot is the environment's filter.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub bot_filter: ExperimentBotFilter,
}

/// An experiment's own bot setting: whether bots are served the control, and where who is a bot
/// differs from the environment's filter ([`FilterOverride`]). Whatever it says, nothing of
/// a request that is a bot's in this experiment is recorded in it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentBotFilter {
    /// Serve a bot the baseline treatment's variation instead of its bucket's (an opt-in: a
    /// crawler then indexes the control; by search engines' rules serving crawlers other content
    /// than people is cloaking, the site owner's call). Off: bots are bucketed as anyone.
    #[serde(default)]
    pub serve_control: bool,
    /// The environment's filter fields this experiment replaces (`enabled`, `tiers`,
    /// `minHumanScore`, `excludeVerifiedCategories`, `allowUserAgents`, `denyUserAgents`).
    #[serde(flatten)]
    pub filter: FilterOverride,
}

impl ExperimentBotFilter {
    /// `botFilter` of a create body or the `value` of `updateBotFilter` (it replaces the whole
    /// setting); an unknown field is refused by name.
    pub fn from_json(v: &Value) -> Result<Self, Error> {
        let shape = "an experiment's bot filter is {\"serveControl\": bool} and any of the environment filter's `enabled`, `tiers`, `minHumanScore`, `excludeVerifiedCategories`, `allowUserAgents`, `denyUserAgents` (see PUT .../environments/{env}/bot-filter)";
        let Some(fields) = v.as_object() else {
            return Err(invalid(format!("`botFilter` must be an object: {shape}")));
        };
        let mut fields = fields.clone();
        let serve_control = match fields.remove("serveControl") {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(invalid(format!("`botFilter.serveControl` must be a boolean: {shape}"))),
        };
        let filter = FilterOverride::parse(fields).map_err(|e| invalid(format!("{}; {shape}", e.message())))?;
        Ok(ExperimentBotFilter { serve_control, filter })
    }
}

fn default_shards() -> u32 {
    DEFAULT_SHARDS
}

/// The fields of `POST .../experiments`; any other is refused by name, never ignored.
const CREATE_FIELDS: [&str; 13] = [
    "key",
    "name",
    "description",
    "hypothesis",
    "flagKey",
    "ruleId",
    "randomizationUnit",
    "treatments",
    "metrics",
    "counterShards",
    "analysis",
    "analysisConfig",
    "botFilter",
];

impl Experiment {
    /// Validate `POST .../experiments`. `variations` is the flag's number of variations.
    pub fn from_json(
        body: &Value,
        environment: &str,
        variations: usize,
        now: i64,
    ) -> Result<Self, Error> {
        let b = Fields::of(body)?;
        if let Some(unknown) = body
            .as_object()
            .and_then(|o| o.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())))
        {
            return Err(invalid(format!(
                "unknown field `{unknown}`: an experiment is created with {}",
                CREATE_FIELDS.map(|f| format!("`{f}`")).join(", ")
            )));
        }
        let get = |f: &str| b.get(f);
        let string = |f: &str| b.string(f);
        let key = b.key("key")?;
        let flag_key = string("flagKey")?.ok_or_else(|| invalid("`flagKey` is required"))?;
        let randomization_unit = string("randomizationUnit")?.unwrap_or_else(|| "user".into());
        if !valid_kind(&randomization_unit) {
            return Err(invalid("`randomizationUnit` is not a valid context kind"));
        }
        let treatments = parse_treatments(get("treatments"), variations, &flag_key)?;
        let metrics: Vec<MetricRef> = match get("metrics") {
            None => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| invalid("`metrics` must be [{\"key\", \"primary\": bool}]"))?,
        };
        if metrics.is_empty() {
            return Err(invalid("`metrics` needs at least one metric"));
        }
        let counter_shards = match get("counterShards") {
            None => DEFAULT_SHARDS,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=u64::from(MAX_SHARDS)).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| {
                    invalid(format!(
                        "`counterShards` must be an integer from 1 to {MAX_SHARDS}"
                    ))
                })?,
        };
        if metrics.iter().filter(|m| m.primary).count() > 1 {
            return Err(invalid("at most one metric can be primary"));
        }
        let (analysis, analysis_config) = parse_analysis(get("analysis"), get("analysisConfig"))?;
        let bot_filter = get("botFilter").map(ExperimentBotFilter::from_json).transpose()?;
        Ok(Experiment {
            key,
            name: string("name")?.unwrap_or_default(),
            description: string("description")?,
            hypothesis: string("hypothesis")?,
            environment: environment.into(),
            flag_key,
            rule_id: string("ruleId")?,
            randomization_unit,
            treatments,
            metrics,
            creation_date: now,
            iterations: Vec::new(),
            counter_shards,
            analysis: analysis.unwrap_or_default(),
            analysis_config: analysis_config.unwrap_or_default(),
            bot_filter: bot_filter.unwrap_or_default(),
        })
    }

    /// The baseline treatment's variation (what `serveControl` serves a bot).
    pub fn control(&self) -> Option<usize> {
        self.treatments.iter().find(|t| t.baseline).map(|t| t.variation)
    }

    pub fn current(&self) -> Option<&Iteration> {
        self.iterations.last()
    }

    pub fn running(&self) -> Option<&Iteration> {
        self.current()
            .filter(|i| i.status == IterationStatus::Running)
    }

    /// Start a new iteration with these metric definitions (one per `metrics` entry, in order).
    pub fn start(&mut self, metrics: &[Metric], now: i64) -> Result<&Iteration, Error> {
        if self.running().is_some() {
            return Err(Error::Conflict(format!(
                "experiment `{}` already has a running iteration",
                self.key
            )));
        }
        let mut snapshots = Vec::new();
        for (r, m) in self.metrics.iter().zip(metrics) {
            if !m
                .spec
                .randomization_units
                .contains(&self.randomization_unit)
            {
                return Err(invalid(format!(
                    "metric `{}` does not measure `{}` units (its randomizationUnits are {:?})",
                    r.key, self.randomization_unit, m.spec.randomization_units
                )));
            }
            snapshots.push(MetricSnapshot::of(m, r.primary));
        }
        if snapshots.iter().all(|s| !s.primary) {
            if let Some(first) = snapshots.first_mut() {
                first.primary = true;
            }
        }
        let id = self.iterations.last().map_or(1, |i| i.id + 1);
        self.iterations.push(Iteration {
            id,
            status: IterationStatus::Running,
            started_at: now,
            ended_at: None,
            treatments: self.treatments.clone(),
            metrics: snapshots,
            randomization_unit: self.randomization_unit.clone(),
            flag_key: self.flag_key.clone(),
            rule_id: self.rule_id.clone(),
            counter_shards: Some(self.counter_shards),
            tracked_only: false,
        });
        Ok(self.iterations.last().expect("just pushed"))
    }

    /// The experiment rollout of the treatments: (variation, weight of 100000), the weights
    /// rounded from `allocationPercent` with the last one taking what rounding left.
    pub fn rollout_weights(&self) -> Vec<(usize, u32)> {
        let mut left: i64 = 100_000;
        let n = self.treatments.len();
        self.treatments
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let pct: f64 = t.allocation_percent.trim().parse().unwrap_or(0.0);
                let w = if i + 1 == n { left } else { ((pct * 1000.0).round() as i64).clamp(0, left) };
                left -= w;
                (t.variation, w.max(0) as u32)
            })
            .collect()
    }

    /// Apply an `updateAnalysis` instruction.
    pub fn update_analysis(
        &mut self,
        analysis: Option<Analysis>,
        config: Option<&Value>,
    ) -> Result<(), Error> {
        if let Some(c) = config {
            self.analysis_config = self.analysis_config.with_json(c).map_err(invalid)?;
        }
        if let Some(a) = analysis {
            self.analysis = a;
        }
        Ok(())
    }

    pub fn stop(&mut self, now: i64) -> Result<(), Error> {
        let key = self.key.clone();
        let it = self
            .iterations
            .last_mut()
            .filter(|i| i.status == IterationStatus::Running)
            .ok_or_else(|| {
                Error::Conflict(format!("experiment `{key}` has no running iteration"))
            })?;
        it.status = IterationStatus::Stopped;
        it.ended_at = Some(now.max(it.started_at));
        Ok(())
    }

    /// The representation the REST API answers.
    pub fn rep(&self, project: &str) -> ExperimentRep<'_> {
        let base = format!(
            "/api/v2/projects/{project}/environments/{}/experiments",
            self.environment
        );
        let results = link(format!("{base}/{}/results", self.key));
        let mut links = item_links(base, &self.key);
        links.insert("results", results);
        ExperimentRep {
            experiment: self,
            maintainer_id: "edge",
            links,
            current_iteration: self.current(),
        }
    }

    pub fn to_rep(&self, project: &str) -> Value {
        as_json(self.rep(project))
    }
}

/// An experiment as the REST API answers it: its stored fields and what the server derives.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Experiment))]
pub struct ExperimentRep<'a> {
    #[serde(flatten)]
    pub experiment: &'a Experiment,
    #[serde(rename = "_maintainerId")]
    pub maintainer_id: &'static str,
    #[serde(rename = "_links")]
    pub links: BTreeMap<&'static str, Link>,
    /// The running iteration, else the latest; null before the first start.
    pub current_iteration: Option<&'a Iteration>,
}

/// The instructions of `PATCH .../experiments/{key}` (LaunchDarkly semantic patch).
#[derive(Debug, Clone, PartialEq)]
pub enum Instruction {
    StartIteration,
    StopIteration,
    UpdateName(String),
    UpdateDescription(String),
    /// Change the analysis and/or its options (allowed while running: it changes how counts are
    /// read, not what is counted).
    /// The options given are changed, the others kept.
    UpdateAnalysis(Option<Analysis>, Option<Value>),
    /// Change what bots are served (allowed while running: nothing of a bot is counted).
    UpdateBotFilter(ExperimentBotFilter),
}

/// `treatments`: at least two, one baseline, distinct existing variations, allocations adding up
/// to 100. Absent: every variation, evenly, the first the baseline.
fn parse_treatments(
    given: Option<&Value>,
    variations: usize,
    flag_key: &str,
) -> Result<Vec<Treatment>, Error> {
    let treatments: Vec<Treatment> = match given {
        None => {
            let share = 100.0 / variations as f64;
            (0..variations)
                .map(|i| Treatment {
                    name: format!("Variation {i}"),
                    variation: i,
                    baseline: i == 0,
                    allocation_percent: format!("{share}"),
                })
                .collect()
        }
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
            invalid("`treatments` must be [{\"name\", \"variation\": index, \"baseline\": bool, \"allocationPercent\": \"50\"}]")
        })?,
    };
    if treatments.len() < 2 {
        return Err(invalid("`treatments` needs at least two treatments"));
    }
    if treatments.iter().filter(|t| t.baseline).count() != 1 {
        return Err(invalid("exactly one treatment must be the baseline"));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0.0;
    for t in &treatments {
        if t.variation >= variations {
            return Err(invalid(format!(
                "treatment `{}`: variation {} does not exist on flag `{flag_key}`",
                t.name, t.variation
            )));
        }
        if !seen.insert(t.variation) {
            return Err(invalid(format!(
                "variation {} is in two treatments",
                t.variation
            )));
        }
        let pct: f64 = t.allocation_percent.trim().parse().ok().filter(|p: &f64| *p > 0.0 && *p <= 100.0).ok_or_else(|| {
            invalid(format!("treatment `{}`: `allocationPercent` must be a number in (0, 100], as a string", t.name))
        })?;
        total += pct;
    }
    if (total - 100.0).abs() > 0.01 {
        return Err(invalid(format!(
            "treatment allocations must add up to 100, not {total}"
        )));
    }
    Ok(treatments)
}

/// `analysis` and `analysisConfig` of a body or an `updateAnalysis` instruction.
fn parse_analysis(
    analysis: Option<&Value>,
    config: Option<&Value>,
) -> Result<(Option<Analysis>, Option<AnalysisConfig>), Error> {
    let analysis = analysis.map(analysis_from_json).transpose().map_err(invalid)?;
    let config = config.map(AnalysisConfig::from_json).transpose().map_err(invalid)?;
    Ok((analysis, config))
}

pub fn parse_instructions(body: &Value) -> Result<Vec<Instruction>, Error> {
    let list = body
        .get("instructions")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("body must be {\"instructions\": [{\"kind\": \"startIteration\" | \"stopIteration\" | \"updateName\" | \"updateDescription\" | \"updateAnalysis\" | \"updateBotFilter\"}]}"))?;
    if list.is_empty() {
        return Err(invalid("`instructions` is empty"));
    }
    list.iter()
        .enumerate()
        .map(|(i, ins)| {
            // A text `value`, within the cap of the field it sets.
            let value = |field: &str| -> Result<String, Error> {
                let kind = if field == "name" { "updateName" } else { "updateDescription" };
                let v = ins.get("value").and_then(Value::as_str).ok_or_else(|| {
                    invalid(format!("instruction {i}: `{kind}` needs a string `value`"))
                })?;
                crate::limits::check(field, v).map_err(|e| invalid(format!("instruction {i}: {e}")))?;
                Ok(v.to_owned())
            };
            match ins.get("kind").and_then(Value::as_str) {
                Some("startIteration") => Ok(Instruction::StartIteration),
                Some("stopIteration") => Ok(Instruction::StopIteration),
                Some("updateName") => value("name").map(Instruction::UpdateName),
                Some("updateDescription") => value("description").map(Instruction::UpdateDescription),
                Some("updateAnalysis") => {
                    let config = ins.get("analysisConfig").cloned();
                    let (a, c) = parse_analysis(ins.get("analysis"), config.as_ref())
                        .map_err(|e| invalid(format!("instruction {i}: {e}")))?;
                    if a.is_none() && c.is_none() {
                        return Err(invalid(format!(
                            "instruction {i}: `updateAnalysis` needs `analysis` and/or `analysisConfig`"
                        )));
                    }
                    Ok(Instruction::UpdateAnalysis(a, config))
                }
                Some("updateBotFilter") => {
                    let value = ins.get("value").ok_or_else(|| {
                        invalid(format!("instruction {i}: `updateBotFilter` needs a `value`: {{\"serveControl\": bool, …the environment filter fields it overrides}}"))
                    })?;
                    ExperimentBotFilter::from_json(value)
                        .map(Instruction::UpdateBotFilter)
                        .map_err(|e| invalid(format!("instruction {i}: {e}")))
                }
                Some(other) => Err(invalid(format!("instruction {i}: unknown kind `{other}`"))),
                None => Err(invalid(format!("instruction {i}: `kind` is required"))),
            }
        })
        .collect()
}

/// An exposure of one unit, for an iteration's counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitExposure {
    pub unit: String,
    pub at: i64,
    pub variation: u32,
}

/// A conversion of one unit for one metric, for an iteration's counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitConversion {
    pub unit: String,
    pub metric: String,
    pub at: i64,
    pub value: f64,
}

/// What one payload contributes to one iteration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterBatch {
    pub exposures: Vec<UnitExposure>,
    pub conversions: Vec<UnitConversion>,
}

impl CounterBatch {
    /// Select the events that count for `it`: inside its window, for its randomization unit;
    /// exposures to its flag's treatment variations (not those the SDK marked as outside the
    /// experiment); conversions matching its metrics (custom by event key, click/page-view by
    /// goal key; numeric metrics need a `metricValue`).
    pub fn build(it: &Iteration, events: &[Event]) -> CounterBatch {
        let mut batch = CounterBatch::default();
        let unit_key = |c: &crate::context::Context| {
            c.units
                .iter()
                .find(|u| u.kind == it.randomization_unit)
                .map(|u| u.key.to_string())
        };
        for event in events {
            match event {
                Event::Feature(f) if f.flag_key == it.flag_key && it.contains(f.creation_date) => {
                    let (Some(variation), Some(unit)) = (f.variation, unit_key(&f.context)) else {
                        continue;
                    };
                    let treatment = it
                        .treatments
                        .iter()
                        .any(|t| t.variation == variation as usize);
                    if treatment && it.served(f) {
                        batch.exposures.push(UnitExposure {
                            unit,
                            at: f.creation_date,
                            variation,
                        });
                    }
                }
                Event::Conversion(c) if it.contains(c.creation_date) => {
                    let Some(unit) = unit_key(&c.context) else {
                        continue;
                    };
                    for m in &it.metrics {
                        if m.kind != c.kind || m.event_key != c.key {
                            continue;
                        }
                        let value = match (m.measure, c.metric_value) {
                            (Measure::Numeric { .. }, None) => continue,
                            (_, v) => v.unwrap_or(1.0),
                        };
                        batch.conversions.push(UnitConversion {
                            unit: unit.clone(),
                            metric: m.key.clone(),
                            at: c.creation_date,
                            value,
                        });
                    }
                }
                _ => {}
            }
        }
        batch
    }

    pub fn is_empty(&self) -> bool {
        self.exposures.is_empty() && self.conversions.is_empty()
    }

    /// Split by counter shard ([`shard_of`] the unit); empty shards are left out.
    pub fn by_shard(self, shards: u32) -> BTreeMap<u32, CounterBatch> {
        let mut out: BTreeMap<u32, CounterBatch> = BTreeMap::new();
        for e in self.exposures {
            out.entry(shard_of(&e.unit, shards))
                .or_default()
                .exposures
                .push(e);
        }
        for c in self.conversions {
            out.entry(shard_of(&c.unit, shards))
                .or_default()
                .conversions
                .push(c);
        }
        out
    }

    /// Add another batch's events.
    pub fn extend(&mut self, other: CounterBatch) {
        self.exposures.extend(other.exposures);
        self.conversions.extend(other.conversions);
    }

    /// The events grouped per unit, for [`crate::aggregates::apply_to_unit`].
    pub fn per_unit(&self) -> BTreeMap<&str, UnitEvents> {
        let mut out: BTreeMap<&str, UnitEvents> = BTreeMap::new();
        for e in &self.exposures {
            out.entry(e.unit.as_str())
                .or_default()
                .exposures
                .push(Exposure {
                    at: e.at,
                    variation: e.variation,
                });
        }
        for c in &self.conversions {
            out.entry(c.unit.as_str())
                .or_default()
                .conversions
                .push((c.metric.clone(), c.at, c.value));
        }
        out
    }
}

/// One unit's record in an iteration: its exposures and its conversion events per metric.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitLedger {
    #[serde(rename = "x")]
    pub exposures: ExposureHistory,
    /// metric key → (time, value) of each conversion event.
    #[serde(rename = "c", default)]
    pub conversions: BTreeMap<String, Vec<(i64, f64)>>,
}

impl UnitLedger {
    /// The variation this unit is counted in: that of its first exposure in the iteration.
    pub fn variation(&self) -> Option<u32> {
        self.exposures.points().next().map(|e| e.variation)
    }

    pub fn expose(&mut self, e: Exposure) -> bool {
        self.exposures.record(e)
    }

    pub fn convert(&mut self, metric: &str, at: i64, value: f64) {
        self.conversions
            .entry(metric.to_owned())
            .or_default()
            .push((at, value));
    }

    /// The values of the unit's conversions of `metric` that count for its variation (empty when
    /// it is not exposed).
    pub fn counted_values(&self, metric: &str) -> Vec<f64> {
        let Some(variation) = self.variation() else {
            return Vec::new();
        };
        self.conversions
            .get(metric)
            .into_iter()
            .flatten()
            .filter(|(at, _)| {
                self.exposures
                    .first_variation(*at)
                    .is_some_and(|e| e.variation == variation)
            })
            .map(|(_, v)| *v)
            .collect()
    }

    /// The unit's value for a metric, or `None` when it is left out (not exposed, or a numeric
    /// metric with no event and defaulting disabled).
    pub fn value(&self, metric: &MetricSnapshot) -> Option<f64> {
        self.value_of(metric, &self.counted_values(&metric.key))
    }

    /// [`Self::value`] from the already computed [`Self::counted_values`].
    pub fn value_of(&self, metric: &MetricSnapshot, counted: &[f64]) -> Option<f64> {
        self.variation()?;
        match metric.measure {
            Measure::Binary => Some(if counted.is_empty() { 0.0 } else { 1.0 }),
            Measure::Count => Some(counted.len() as f64),
            Measure::Numeric {
                aggregation,
                default,
            } => {
                if counted.is_empty() {
                    return default;
                }
                let sum: f64 = counted.iter().sum();
                Some(match aggregation {
                    UnitAggregation::Sum => sum,
                    UnitAggregation::Average => sum / counted.len() as f64,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Spec;
    use serde_json::json;
    use crate::metric::{Metric, MetricSpec};

    fn metric(v: Value) -> Metric {
        Metric::create("p", MetricSpec::from_json(&v).unwrap(), 1, None)
    }

    fn experiment() -> Experiment {
        Experiment::from_json(
            &json!({"key":"e1","flagKey":"f","metrics":[{"key":"m"}],
            "treatments":[{"name":"A","variation":0,"baseline":true,"allocationPercent":"50"},
                          {"name":"B","variation":1,"baseline":false,"allocationPercent":"50"}]}),
            "production",
            2,
            10,
        )
        .unwrap()
    }

    #[test]
    fn stored_as_represented_and_earlier_records_still_read() {
        let mut e = experiment();
        let m = metric(json!({"key":"m","kind":"custom","eventKey":"buy"}));
        e.start(&[m], 20).unwrap();
        let stored = serde_json::to_value(&e).unwrap();
        let rep = e.to_rep("p");
        // Every stored field is answered under the same name; the rep adds only derived fields.
        for (name, value) in stored.as_object().unwrap() {
            assert_eq!(rep.get(name), Some(value), "{name}");
        }
        let mut added: Vec<&str> = rep.as_object().unwrap().keys().map(String::as_str).collect();
        added.retain(|k| stored.get(k).is_none());
        assert_eq!(added, ["_links", "_maintainerId", "currentIteration"]);
        assert_eq!(rep["currentIteration"], stored["iterations"][0]);
        assert_eq!(
            rep["_links"]["self"]["href"],
            "/api/v2/projects/p/environments/production/experiments/e1"
        );
        // A record written before the rename (`environment`, `creationDate`) reads the same.
        let mut earlier = stored.as_object().unwrap().clone();
        let env = earlier.remove("environmentKey").unwrap();
        let created = earlier.remove("_creationDate").unwrap();
        earlier.insert("environment".into(), env);
        earlier.insert("creationDate".into(), created);
        let read: Experiment = serde_json::from_value(Value::Object(earlier)).unwrap();
        assert_eq!(read, e);
    }

    #[test]
    fn validation() {
        let e = |v: Value| {
            Experiment::from_json(&v, "p", 2, 0)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(e(json!({"flagKey":"f"})), "`key` is required");
        // An option we do not implement is refused by name, never ignored.
        let unknown = e(json!({"key":"k","flagKey":"f","metrics":[{"key":"m"}],"holdoutId":"h"}));
        assert!(unknown.starts_with("unknown field `holdoutId`") && unknown.contains("`botFilter`"), "{unknown}");
        assert_eq!(e(json!({"key":"k"})), "`flagKey` is required");
        assert_eq!(
            e(json!({"key":"k","flagKey":"f"})),
            "`metrics` needs at least one metric"
        );
        assert!(e(json!({"key":"k","flagKey":"f","metrics":[{"key":"m"}],"treatments":[
            {"name":"A","variation":0,"baseline":true,"allocationPercent":"50"},{"name":"B","variation":5,"baseline":false,"allocationPercent":"50"}]}))
            .contains("variation 5 does not exist"));
        assert!(e(json!({"key":"k","flagKey":"f","metrics":[{"key":"m"}],"treatments":[
            {"name":"A","variation":0,"baseline":true,"allocationPercent":"60"},{"name":"B","variation":1,"baseline":false,"allocationPercent":"50"}]}))
            .contains("add up to 100"));
        assert_eq!(
            e(
                json!({"key":"k","flagKey":"f","metrics":[{"key":"m"}],"treatments":[
            {"name":"A","variation":0,"baseline":false,"allocationPercent":"50"},{"name":"B","variation":1,"baseline":false,"allocationPercent":"50"}]})
            ),
            "exactly one treatment must be the baseline"
        );
        // Default treatments: every variation, equal split, variation 0 the baseline.
        let d = Experiment::from_json(
            &json!({"key":"k","flagKey":"f","metrics":[{"key":"m"}]}),
            "p",
            2,
            0,
        )
        .unwrap();
        assert_eq!(d.treatments.len(), 2);
        assert!(d.treatments[0].baseline);
    }

    #[test]
    fn iterations_start_and_stop() {
        let mut e = experiment();
        let m = metric(json!({"key":"m","kind":"custom","eventKey":"buy"}));
        let it = e.start(std::slice::from_ref(&m), 100).unwrap();
        assert_eq!(
            (it.id, it.status, it.started_at),
            (1, IterationStatus::Running, 100)
        );
        assert!(it.metrics[0].primary, "the only metric is primary");
        assert!(matches!(
            e.start(std::slice::from_ref(&m), 101),
            Err(Error::Conflict(_))
        ));
        e.stop(200).unwrap();
        assert!(e.stop(201).is_err());
        let it = &e.iterations[0];
        assert!(it.contains(100) && it.contains(200) && !it.contains(201) && !it.contains(99));
        assert_eq!(e.start(&[m], 300).unwrap().id, 2);
        let wrong_unit = metric(
            json!({"key":"m","kind":"custom","eventKey":"buy","randomizationUnits":["org"]}),
        );
        let mut e2 = experiment();
        assert!(e2
            .start(&[wrong_unit], 1)
            .unwrap_err()
            .to_string()
            .contains("does not measure `user` units"));
    }

    #[test]
    fn instructions() {
        assert_eq!(
            parse_instructions(&json!({"instructions":[{"kind":"startIteration"}]})).unwrap(),
            [Instruction::StartIteration]
        );
        assert!(
            parse_instructions(&json!({"instructions":[{"kind":"explode"}]}))
                .unwrap_err()
                .to_string()
                .contains("unknown kind `explode`")
        );
        assert!(parse_instructions(&json!([])).is_err());
    }

    #[test]
    fn counter_batches_select_what_counts() {
        let mut e = experiment();
        let m = metric(json!({"key":"m","kind":"custom","eventKey":"buy","isNumeric":true}));
        let click = metric(
            json!({"key":"c","kind":"click","selector":"#b","urls":[{"kind":"substring","substring":"/"}]}),
        );
        e.metrics.push(MetricRef {
            key: "c".into(),
            primary: false,
        });
        let it = e.start(&[m, click], 100).unwrap().clone();
        let body = json!([
            {"kind":"feature","key":"f","creationDate":150,"variation":1,"context":{"key":"u1"}},
            {"kind":"feature","key":"f","creationDate":150,"variation":1,"context":{"key":"u2"},"reason":{"kind":"TARGET_MATCH"}},
            {"kind":"feature","key":"f","creationDate":50,"variation":0,"context":{"key":"early"}},
            {"kind":"feature","key":"other","creationDate":150,"variation":0,"context":{"key":"u1"}},
            {"kind":"feature","key":"f","creationDate":150,"variation":0,"context":{"kind":"org","key":"o"}},
            {"kind":"custom","key":"buy","creationDate":160,"metricValue":9.5,"contextKeys":{"user":"u1"}},
            {"kind":"custom","key":"buy","creationDate":160,"contextKeys":{"user":"u1"}},
            {"kind":"click","key":"c","creationDate":170,"url":"https://a/","selector":"#b","contextKeys":{"user":"u1"}},
            {"kind":"pageview","key":"c","creationDate":170,"url":"https://a/","contextKeys":{"user":"u1"}}
        ]).to_string();
        let events = crate::event::parse_batch(body.as_bytes(), 1000)
            .unwrap()
            .events;
        let b = CounterBatch::build(&it, &events);
        assert_eq!(
            b.exposures,
            [UnitExposure {
                unit: "u1".into(),
                at: 150,
                variation: 1
            }]
        );
        assert_eq!(
            b.conversions,
            [
                UnitConversion {
                    unit: "u1".into(),
                    metric: "m".into(),
                    at: 160,
                    value: 9.5
                },
                UnitConversion {
                    unit: "u1".into(),
                    metric: "c".into(),
                    at: 170,
                    value: 1.0
                },
            ]
        );
    }

    #[test]
    fn measures() {
        let snap = |v: Value| MetricSnapshot::of(&metric(v), true);
        let binary = snap(json!({"key":"b","kind":"custom","eventKey":"buy"}));
        let count =
            snap(json!({"key":"c","kind":"custom","eventKey":"buy","unitAggregationType":"sum"}));
        let avg = snap(json!({"key":"a","kind":"custom","eventKey":"buy","isNumeric":true}));
        let sum_no_default = snap(
            json!({"key":"s","kind":"custom","eventKey":"buy","isNumeric":true,"unitAggregationType":"sum","eventDefault":{"disabled":true}}),
        );
        let click = snap(
            json!({"key":"k","kind":"click","selector":"#b","urls":[{"kind":"substring","substring":"/"}]}),
        );
        assert_eq!(binary.measure, Measure::Binary);
        assert_eq!(count.measure, Measure::Count);
        assert_eq!(click.measure, Measure::Binary);
        let click_count = snap(
            json!({"key":"k","kind":"click","selector":"#b","unitAggregationType":"sum","urls":[{"kind":"substring","substring":"/"}]}),
        );
        assert_eq!(click_count.measure, Measure::Count);
        assert_eq!(click.event_key, "k", "goals are keyed by metric key");

        let mut u = UnitLedger::default();
        assert_eq!(u.value(&binary), None, "not exposed: not counted");
        u.convert("b", 5, 0.0); // before the exposure: does not count
        u.expose(Exposure {
            at: 10,
            variation: 1,
        });
        assert_eq!(u.value(&binary), Some(0.0));
        assert_eq!(u.value(&sum_no_default), None);
        assert_eq!(u.value(&avg), Some(0.0), "default value 0");
        for (t, v) in [(20, 10.0), (30, 20.0)] {
            for m in ["b", "c", "a", "s"] {
                u.convert(m, t, v);
            }
        }
        assert_eq!(u.value(&binary), Some(1.0));
        assert_eq!(u.value(&count), Some(2.0));
        assert_eq!(u.value(&avg), Some(15.0));
        assert_eq!(u.value(&sum_no_default), Some(30.0));
        assert_eq!(u.variation(), Some(1));
    }
}

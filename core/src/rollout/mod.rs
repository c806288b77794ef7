//! Guarded rollouts (LaunchDarkly's "measured rollouts"): one rule of a flag (its fallthrough or
//! a targeting rule) moves from its control variation to a test variation in stages, while
//! guardrail metrics are compared between the two every check; a regression rolls the rule back
//! to exactly what it served before.
//!
//! Traffic at a stage of weight p ≤ 50 %: buckets `[0, p)` get the test variation and
//! `[50 %, 50 % + p)` the control, both tracked (`inExperiment`); every other bucket gets the
//! control untracked. As p grows no unit moves between the two tracked arms, so the tracked
//! split is 1:1 at every moment and the stages pool without bias. This is an experiment rollout
//! LaunchDarkly's SDKs evaluate as they are (repeated variations, `untracked` slots), with a seed
//! of its own. After the last stage the rule serves the test variation to everyone.
//!
//! The rollout's counts are an [`Iteration`] over the two arms, counted like an experiment's by
//! the ingest pipeline under [`MeasuredRollout::counter_key`]. What is decided at each check is
//! [`check::check`]'s; how a decision changes the rollout and the rule is [`MeasuredRollout::apply`].

pub mod act;
pub mod check;
pub mod start;
#[cfg(test)]
mod tests;

pub use check::{Check, Decision};
pub use start::{start, StartInput};

use crate::experiment::Iteration;
use crate::flag::{Rollout, RolloutKind, RolloutSlot, VariationOrRollout};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Half of the bucket space (weights are thousandths of a percent, 100,000 in all).
pub const HALF: u32 = 50_000;
/// Transitions kept on a rollout (the oldest holds and resumptions go first).
pub const MAX_EVENTS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RolloutStatus))]
pub enum Status {
    Monitoring,
    /// A guardrail with `onRegression.rollback: false` regressed: traffic frozen until a human acts.
    Regressed,
    RolledBack,
    Completed,
    /// Stopped by a human, who chose what the rule serves.
    Archived,
}

/// Why a monitoring rollout does not advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HoldReason {
    InsufficientUnits,
    Srm,
    MultipleExposures,
    NoTraffic,
    Paused,
    DataUnavailable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RolloutStage))]
pub struct Stage {
    /// Thousandths of a percent of the rule's traffic served the test variation (1..=50,000).
    pub rollout_weight: u32,
    /// The least time the stage lasts.
    pub monitoring_window_milliseconds: i64,
    /// The least tracked units in each arm before the stage may end.
    pub min_units_per_arm: u64,
    /// How long the stage may wait for its units before `onInsufficientUnits` applies (0 in a
    /// rollout stored before it existed: [`Stage::max_duration`]'s default).
    #[serde(default)]
    pub max_duration_milliseconds: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl Stage {
    /// The default wait for units: three times the stage's least duration (LaunchDarkly extends
    /// a step so), and never under half an hour, so a stage of seconds (tests, demos) does not
    /// stall on the queue's own delay.
    pub fn default_max_duration(window: i64) -> i64 {
        window.saturating_mul(3).max(30 * 60_000)
    }

    /// How long the stage may wait for its units.
    pub fn max_duration(&self) -> i64 {
        if self.max_duration_milliseconds > 0 {
            self.max_duration_milliseconds
        } else {
            Stage::default_max_duration(self.monitoring_window_milliseconds)
        }
    }
}

/// What a stage that is still short of units at its `maxDurationMilliseconds` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OnInsufficientUnits {
    /// Keep holding (`insufficientUnits`), with one `stalled` transition notified.
    #[default]
    Hold,
    /// Roll back, as LaunchDarkly does when a step cannot gather its sample.
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OnRegression {
    pub notify: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Guardrail {
    pub metric_key: String,
    /// Tolerated harm, in the metric's unit (absolute difference), ≥ 0.
    pub regression_threshold: f64,
    pub on_regression: OnRegression,
    /// A human dismissed its regression: it no longer stops the rollout.
    #[serde(default)]
    pub dismissed: bool,
}

/// One change of a rollout's state, as its timeline, its audit entry and its webhook show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RolloutTransition))]
pub struct Transition {
    /// Numbered from 1 on each rollout: receivers dedupe on the audit entry's `_id`, made from it.
    pub seq: u64,
    pub at: i64,
    /// `started`, `stage.advanced`, `regressed`, `rolledBack`, `completed`, `held`, `resumed`,
    /// `paused`, `regressionDismissed`, `archived`.
    pub kind: String,
    pub stage_index: usize,
    /// Who: `null` for the Worker's own decisions, else the API token's name.
    pub member: Option<String>,
    pub comment: String,
    /// The flag's version before and after, when the transition wrote the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_versions: Option<(u64, u64)>,
    /// Sent to the webhooks (`onRegression.notify` of the guardrail that regressed,
    /// `onProgression.notify` for stage advances and completion; true for the others).
    #[serde(default = "yes")]
    pub notify: bool,
}

fn yes() -> bool {
    true
}

/// A guarded rollout, as stored in its project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasuredRollout {
    pub id: String,
    pub flag_key: String,
    pub environment: String,
    /// The targeting rule (`_id`); absent: the fallthrough.
    pub rule_id: Option<String>,
    pub status: Status,
    pub hold_reason: Option<HoldReason>,
    #[serde(default)]
    pub paused: bool,
    pub seed: i64,
    pub control_variation: usize,
    pub test_variation: usize,
    pub control_variation_id: String,
    pub test_variation_id: String,
    pub randomization_unit: String,
    /// Probability of any automatic rollback over the whole rollout when nothing regressed.
    pub alpha: f64,
    pub check_interval_seconds: u32,
    /// `onProgression.notify`: stage advances and the completion go to the webhooks.
    #[serde(default = "yes")]
    pub notify_progression: bool,
    pub current_stage_index: usize,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub on_insufficient_units: OnInsufficientUnits,
    pub metrics: Vec<Guardrail>,
    /// The two arms' counts: treatments control (baseline) and test.
    pub iteration: Iteration,
    /// What the rule served before: what a rollback restores.
    pub pre_rollout_rule: VariationOrRollout,
    pub creation_date: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub events: Vec<Transition>,
    /// Bumped by every change: a check names the revision it was decided on, and is applied only
    /// to that revision (a retried or late check changes nothing).
    pub revision: u64,
}

impl MeasuredRollout {
    /// Monitoring or regressed: it owns its rule.
    pub fn active(&self) -> bool {
        matches!(self.status, Status::Monitoring | Status::Regressed)
    }

    /// The name its counters are kept under (never an experiment key: those have no `:`).
    pub fn counter_key(&self) -> String {
        format!("measured-rollout:{}", self.id)
    }

    pub fn stage(&self) -> &Stage {
        &self.stages[self.current_stage_index.min(self.stages.len() - 1)]
    }

    /// What the rule serves in the rollout's current state.
    pub fn serves(&self) -> VariationOrRollout {
        match self.status {
            Status::Monitoring | Status::Regressed => self.stage_rollout(self.stage().rollout_weight),
            Status::Completed => VariationOrRollout::Fixed { variation: self.test_variation },
            Status::RolledBack | Status::Archived => self.pre_rollout_rule.clone(),
        }
    }

    /// The experiment rollout of a stage of weight `p` (see the module's description).
    pub fn stage_rollout(&self, p: u32) -> VariationOrRollout {
        let p = p.min(HALF);
        let slot = |variation, weight, untracked| RolloutSlot { variation, weight, untracked };
        let slots = [
            slot(self.test_variation, p, false),
            slot(self.control_variation, HALF - p, true),
            slot(self.control_variation, p, false),
            slot(self.control_variation, HALF - p, true),
        ];
        VariationOrRollout::Rollout {
            rollout: Rollout {
                kind: RolloutKind::Experiment,
                variations: slots.into_iter().filter(|s| s.weight > 0).collect(),
                seed: Some(self.seed),
                bucket_by: None,
                context_kind: self.randomization_unit.clone(),
            },
        }
    }

    /// Record a transition (and bump the revision).
    pub fn record(&mut self, at: i64, kind: &str, member: Option<String>, comment: String) {
        let seq = self.events.last().map_or(1, |e| e.seq + 1);
        let stage_index = self.current_stage_index;
        self.events.push(Transition { seq, at, kind: kind.into(), stage_index, member, comment, flag_versions: None, notify: true });
        if self.events.len() > MAX_EVENTS {
            let drop = self.events.iter().position(|e| matches!(e.kind.as_str(), "held" | "resumed")).unwrap_or(1);
            self.events.remove(drop);
        }
        self.revision += 1;
    }

    /// Whether the last transition is sent to the webhooks.
    fn notify_last(&mut self, notify: bool) {
        if let Some(last) = self.events.last_mut() {
            last.notify = notify;
        }
    }

    /// Whether a regression of `metric` is sent to the webhooks.
    fn notifies(&self, metric: &str) -> bool {
        self.metrics.iter().find(|g| g.metric_key == metric).is_none_or(|g| g.on_regression.notify)
    }

    /// Note the flag versions the last transition wrote.
    pub fn wrote_flag(&mut self, before: u64, after: u64) {
        if let Some(last) = self.events.last_mut() {
            last.flag_versions = Some((before, after));
        }
    }

    /// End the rollout: its counts stop (late events still land for a day, as an experiment's).
    pub fn end(&mut self, status: Status, reason: &str, now: i64) {
        self.status = status;
        self.hold_reason = None;
        self.ended_at = Some(now);
        self.end_reason = Some(reason.into());
        if let Some(stage) = self.stages.get_mut(self.current_stage_index) {
            stage.ended_at.get_or_insert(now);
        }
        self.iteration.status = crate::experiment::IterationStatus::Stopped;
        self.iteration.ended_at = Some(now.max(self.iteration.started_at));
    }

    /// Apply the decision of a check made on this revision; whether the rule's traffic changed.
    /// A decision on another revision, or on a rollout that is not monitoring, changes nothing.
    pub fn apply(&mut self, check: &Check, now: i64) -> Applied {
        if check.revision != self.revision || self.status != Status::Monitoring {
            return Applied::Nothing;
        }
        match &check.decision {
            Decision::Continue => self.set_hold(None, now),
            Decision::Hold(reason) => self.set_hold(Some(*reason), now),
            Decision::Advance => {
                let from = self.current_stage_index;
                self.stages[from].ended_at = Some(now);
                self.current_stage_index += 1;
                self.stages[from + 1].started_at = Some(now);
                self.hold_reason = None;
                let comment = format!(
                    "Stage {} ({}) reached its duration and units per arm ({} control / {} test): stage {} ({}) begins",
                    from + 1, pct_of(self, from), check.units.control, check.units.test, from + 2, pct_of(self, from + 1)
                );
                self.record(now, "stage.advanced", None, comment);
                self.notify_last(self.notify_progression);
                Applied::Traffic
            }
            Decision::Complete => {
                self.end(Status::Completed, "completed", now);
                let comment = format!("Every stage passed with no regression: the test variation is served to everyone (units {} / {})", check.units.control, check.units.test);
                self.record(now, "completed", None, comment);
                self.notify_last(self.notify_progression);
                Applied::Traffic
            }
            Decision::RollBack { metric } => {
                let why = check.explain(metric);
                self.end(Status::RolledBack, "regression", now);
                self.record(now, "rolledBack", None, format!("Automatic rollback: {why}"));
                self.notify_last(self.notifies(metric));
                Applied::Traffic
            }
            Decision::Stall => {
                let stage = self.current_stage_index;
                let stalled = self.events.iter().any(|e| e.kind == "stalled" && e.stage_index == stage);
                let applied = self.set_hold(Some(HoldReason::InsufficientUnits), now);
                if stalled {
                    return applied;
                }
                let comment = format!(
                    "Stage {} ({}) is still short of units after {} min ({} control / {} test of {} per arm): holding",
                    stage + 1, pct_of(self, stage), self.stages[stage].max_duration() / 60_000,
                    check.units.control, check.units.test, self.stages[stage].min_units_per_arm
                );
                self.record(now, "stalled", None, comment);
                Applied::State
            }
            Decision::Expire => {
                let stage = self.current_stage_index;
                let comment = format!(
                    "Automatic rollback: stage {} ({}) did not reach {} units per arm within {} min ({} control / {} test)",
                    stage + 1, pct_of(self, stage), self.stages[stage].min_units_per_arm,
                    self.stages[stage].max_duration() / 60_000, check.units.control, check.units.test
                );
                self.end(Status::RolledBack, "insufficient units", now);
                self.record(now, "rolledBack", None, comment);
                Applied::Traffic
            }
            Decision::Regress { metric } => {
                let why = check.explain(metric);
                self.status = Status::Regressed;
                self.hold_reason = None;
                self.record(now, "regressed", None, format!("Regression (traffic frozen, not rolled back): {why}"));
                self.notify_last(self.notifies(metric));
                Applied::State
            }
        }
    }

    fn set_hold(&mut self, reason: Option<HoldReason>, now: i64) -> Applied {
        if self.hold_reason == reason {
            return Applied::Nothing;
        }
        self.hold_reason = reason;
        match reason {
            Some(r) => self.record(now, "held", None, format!("Held: {}", json!(r).as_str().unwrap_or_default())),
            None => self.record(now, "resumed", None, "Hold lifted".into()),
        }
        Applied::State
    }

    /// The REST representation (LaunchDarkly's `MeasuredRolloutRep` shape, plus what we add);
    /// `last`: the latest check, as the rollout's object keeps it.
    pub fn rep<'a>(&'a self, project: &str, last: Option<&'a Check>) -> MeasuredRolloutRep<'a> {
        let href = format!("/api/v2/projects/{project}/flags/{}/environments/{}/measured-rollouts/{}", self.flag_key, self.environment, self.id);
        let metrics = self
            .metrics
            .iter()
            .map(|g| {
                let last = last.and_then(|c| c.metrics.iter().find(|m| m.metric_key == g.metric_key));
                GuardrailRep { guardrail: g, difference_type: "absolute", status: last.map_or("waiting", |m| m.status()), last }
            })
            .collect();
        let r = self;
        MeasuredRolloutRep {
            id: &r.id,
            links: [("self", crate::resource::link(href))].into(),
            flag_key: &r.flag_key,
            environment_key: &r.environment,
            rule_id: r.rule_id.as_deref(),
            status: r.status,
            hold_reason: r.hold_reason,
            paused: r.paused,
            seed: r.seed,
            control_variation_id: &r.control_variation_id,
            test_variation_id: &r.test_variation_id,
            randomization_unit: &r.randomization_unit,
            alpha: r.alpha,
            check_interval_seconds: r.check_interval_seconds,
            current_stage_index: r.current_stage_index,
            stages: &r.stages,
            on_insufficient_units: r.on_insufficient_units,
            metrics,
            health: last.map(|c| &c.health),
            units: last.map(|c| c.units),
            last_checked_at: last.map(|c| c.at),
            creation_date: r.creation_date,
            started_at: r.iteration.started_at,
            ended_at: r.ended_at,
            end_reason: r.end_reason.as_deref(),
            pre_rollout_rule: &r.pre_rollout_rule,
            events: &r.events,
            counter_shards: r.iteration.counter_shards,
            version: r.revision,
        }
    }

    /// LaunchDarkly's audit-log entry (`AuditLogEntryRep`) of a transition: a webhook's body.
    pub fn audit_entry(&self, project: &str, flag_name: &str, t: &Transition) -> Value {
        let action = match (t.kind.as_str(), self.rule_id.is_some()) {
            ("started" | "stage.advanced", false) => "updateFallthroughWithMeasuredRollout",
            ("started" | "stage.advanced", true) => "updateRulesWithMeasuredRollout",
            ("rolledBack" | "completed" | "archived", false) => "stopMeasuredRolloutOnFlagFallthrough",
            ("rolledBack" | "completed" | "archived", true) => "stopMeasuredRolloutOnFlagRule",
            _ => "updateMeasuredRollout",
        };
        let verb = match t.kind.as_str() {
            "rolledBack" => "rolled back",
            "stage.advanced" => "advanced",
            "started" => "started a guarded rollout on",
            other => other,
        };
        let id = crate::flag::rules::rule_id(&format!("audit\n{}\n{}", self.id, t.seq));
        let (previous, current) = t.flag_versions.map_or((None, None), |(a, b)| (Some(a), Some(b)));
        json!({
            "_id": id, "date": t.at, "kind": "flag", "name": flag_name,
            "accesses": [{"action": action, "resource": format!("proj/{project}:env/{}:flag/{}", self.environment, self.flag_key)}],
            "member": t.member.as_ref().map(|m| json!({"name": m})), "app": {"name": "guarded-rollout"},
            "titleVerb": verb, "title": format!("{verb} flag {}", self.flag_key), "comment": t.comment,
            "previousVersion": previous, "currentVersion": current,
            "target": {"resources": [format!("proj/{project}:env/{}:flag/{}", self.environment, self.flag_key)]},
            "measuredRollout": {"_id": self.id, "status": self.status, "transition": t.kind, "seq": t.seq, "stageIndex": t.stage_index},
        })
    }
}

/// A guarded rollout as the REST API answers it (LaunchDarkly's `MeasuredRolloutRep` fields,
/// and what only we have: per-guardrail checks, health, the timeline).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = MeasuredRollout))]
pub struct MeasuredRolloutRep<'a> {
    #[serde(rename = "_id")]
    pub id: &'a str,
    #[serde(rename = "_links")]
    pub links: std::collections::BTreeMap<&'static str, crate::resource::Link>,
    pub flag_key: &'a str,
    pub environment_key: &'a str,
    /// The targeting rule's `_id`; null: the fallthrough.
    pub rule_id: Option<&'a str>,
    pub status: Status,
    pub hold_reason: Option<HoldReason>,
    pub paused: bool,
    pub seed: i64,
    pub control_variation_id: &'a str,
    pub test_variation_id: &'a str,
    pub randomization_unit: &'a str,
    pub alpha: f64,
    pub check_interval_seconds: u32,
    pub current_stage_index: usize,
    pub stages: &'a [Stage],
    pub on_insufficient_units: OnInsufficientUnits,
    pub metrics: Vec<GuardrailRep<'a>>,
    /// The latest check's health; null before the first check.
    pub health: Option<&'a check::Health>,
    /// Tracked units per arm at the latest check.
    pub units: Option<check::Units>,
    pub last_checked_at: Option<i64>,
    pub creation_date: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// `completed`, `regression`, `stopped`, `rolled back by a human`, `advanced by a human`.
    pub end_reason: Option<&'a str>,
    /// What a rollback restores.
    pub pre_rollout_rule: &'a VariationOrRollout,
    pub events: &'a [Transition],
    pub counter_shards: Option<u32>,
    #[serde(rename = "_version")]
    pub version: u64,
}

/// A guardrail with its latest check.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuardrailRep<'a> {
    #[serde(flatten)]
    pub guardrail: &'a Guardrail,
    /// Always `absolute` (the difference in the metric's unit).
    pub difference_type: &'static str,
    /// `waiting` (no check yet), `insufficientData`, `ok`, `regressed` or `dismissed`.
    pub status: &'static str,
    pub last: Option<&'a check::MetricCheck>,
}

/// One check as the series keeps it: the arms' units and each guardrail's (key, estimate,
/// bound, threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RolloutPoint))]
pub struct SeriesPoint {
    pub at: i64,
    pub stage_index: usize,
    pub units: check::Units,
    pub metrics: Vec<PointMetric>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RolloutPointMetric))]
pub struct PointMetric {
    pub metric_key: String,
    pub estimate: Option<f64>,
    pub bound: Option<f64>,
    pub threshold: f64,
}

impl SeriesPoint {
    pub fn of(c: &Check) -> Self {
        let metrics = c.metrics.iter().map(|m| PointMetric { metric_key: m.metric_key.clone(), estimate: m.estimate, bound: m.bound, threshold: m.threshold }).collect();
        SeriesPoint { at: c.at, stage_index: c.stage_index, units: c.units, metrics }
    }
}

/// One POST of a transition to a webhook: its status, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookDelivery))]
pub struct Delivery {
    pub webhook: String,
    pub seq: u64,
    pub at: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// What applying a check changed (ordered: the most a command changed is the max).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Applied {
    Nothing,
    /// The rollout's state only.
    State,
    /// The rule's traffic too: the flag is written.
    Traffic,
}

/// Is a rollout's alarm missing or late (more than two check intervals past)? The Cron watchdog
/// then re-arms it.
pub fn alarm_missing(alarm: Option<i64>, now: i64, check_interval_seconds: u32) -> bool {
    alarm.is_none_or(|at| now - at > 2 * i64::from(check_interval_seconds) * 1000)
}

/// A weight as a percentage ("1%", "12.5%").
pub fn percent(weight: u32) -> String {
    let pct = f64::from(weight) / 1000.0;
    format!("{}%", (pct * 1000.0).round() / 1000.0)
}

fn pct_of(r: &MeasuredRollout, stage: usize) -> String {
    r.stages.get(stage).map_or_else(String::new, |s| percent(s.rollout_weight))
}

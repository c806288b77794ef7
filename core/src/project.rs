//! A project as one pure model: its flags, metrics, experiments (with their iterations) and the
//! event-key catalogue, and every rule that spans them. [`Project::apply`] takes a [`Command`]
//! and the time, checks everything first, and only then changes the model, so a refused command
//! changes nothing. It answers the JSON to return and the [`Record`]s that changed; the
//! `ProjectStore` Durable Object only loads the model, calls `apply` and persists those records.
//!
//! Rules held here: keys are unique per project (experiments per environment); an experiment
//! needs its flag and metrics to exist; a running iteration locks its metrics (no delete, no
//! kind or event-key change) and its flag (no delete); starting an iteration snapshots its
//! metrics; events are routed to running iterations and to stopped ones for [`LATE_EVENTS_MS`].

use crate::catalog::{self, Sighting};
use crate::error::Error;
use crate::experiment::{Experiment, Iteration};
use crate::flag::{Flag, FlagSpec};
use crate::metric::{Integration, Metric, MetricSpec};
use crate::resource::Resource;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub use crate::experiment::LATE_EVENTS_MS;

/// What the Worker asks of a project.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Command {
    MetricList { project: String, pairs: Vec<(String, String)> },
    MetricGet { project: String, key: String },
    MetricCreate { project: String, body: Value, integration: Option<Integration> },
    MetricPatch { project: String, key: String, patch: Value },
    MetricDelete { key: String },
    /// The click and page-view metrics as browser-SDK goals.
    Goals,
    FlagList { project: String },
    FlagGet { project: String, key: String },
    FlagCreate { project: String, body: Value },
    FlagPatch { project: String, key: String, patch: Value },
    FlagDelete { key: String },
    /// Every flag available to the client-side ID, evaluated for a context (evalx format).
    Evaluate { env: String, context: Value, with_reasons: bool },
    ExperimentList { project: String, env: String },
    ExperimentGet { project: String, env: String, key: String },
    /// The stored experiment itself (not its REST representation), for results.
    ExperimentData { env: String, key: String },
    ExperimentCreate { project: String, env: String, body: Value },
    ExperimentPatch { project: String, env: String, key: String, body: Value },
    /// The iterations events may count for now, and the batch's event-key sightings to fold
    /// into the catalogue (one write per batch).
    Routing {
        env: String,
        #[serde(default)]
        sightings: Vec<Sighting>,
    },
    /// The event-key catalogue: keys seen in the last 30 days matching `search`.
    EventKeys { search: String, limit: usize },
}

/// A stored record of the project, by its key in its collection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Record {
    Metric(String),
    Flag(String),
    /// Keyed `{env}:{experimentKey}`.
    Experiment(String),
    EventKey(String),
}

/// What a command answers: the JSON to return, and the records it changed (created, updated
/// or deleted: a record the model no longer holds was deleted).
#[derive(Debug, Default)]
pub struct Outcome {
    pub value: Value,
    pub changed: Vec<Record>,
}

impl Outcome {
    fn read(value: Value) -> Self {
        Outcome {
            value,
            changed: Vec::new(),
        }
    }
}

/// What the ingest consumer needs of the project, read once per batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Routing {
    pub routes: Vec<Route>,
    /// Each flag's number of variations, so exposures to an index the flag lacks are dropped.
    pub flag_variations: BTreeMap<String, usize>,
}

/// An iteration events are routed to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub experiment: String,
    pub iteration: Iteration,
}

/// A project's resources.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub metrics: BTreeMap<String, Metric>,
    pub flags: BTreeMap<String, Flag>,
    /// Keyed `{env}:{experimentKey}` (see [`experiment_id`]).
    pub experiments: BTreeMap<String, Experiment>,
    pub event_keys: BTreeMap<String, catalog::Entry>,
}

/// The storage key of an experiment: experiment keys are unique per environment.
pub fn experiment_id(env: &str, key: &str) -> String {
    format!("{env}:{key}")
}

impl Project {
    /// Apply one command at `now` (Unix ms).
    pub fn apply(&mut self, command: Command, now: i64) -> Result<Outcome, Error> {
        use resources::{create, get, patch};
        let read = |value: Value| Ok(Outcome::read(value));
        match command {
            Command::MetricList { project, pairs } => self.list_metrics(&project, &pairs),
            Command::MetricGet { project, key } => read(get(&self.metrics, &key)?.to_rep(&project)),
            Command::MetricCreate { project, body, integration } => {
                let metric = Metric::create(&project, MetricSpec::from_json(&body)?, now, integration);
                create(&mut self.metrics, &project, metric, Record::Metric)
            }
            Command::MetricPatch { project, key, patch: p } => {
                patch(&mut self.metrics, (&project, &key), &p, now, Record::Metric)
            }
            Command::MetricDelete { key } => self.delete_metric(key),
            Command::Goals => read(json!(self.metrics.values().filter_map(Metric::goal).collect::<Vec<_>>())),
            Command::FlagList { project } => Ok(self.list_flags(&project)),
            Command::FlagGet { project, key } => read(get(&self.flags, &key)?.to_rep(&project)),
            Command::FlagCreate { project, body } => {
                let salt = body.get("salt").and_then(Value::as_str).map(str::to_owned);
                let flag = Flag::create(&project, FlagSpec::from_json(&body)?, now, salt);
                create(&mut self.flags, &project, flag, Record::Flag)
            }
            Command::FlagPatch { project, key, patch: p } => {
                patch(&mut self.flags, (&project, &key), &p, now, Record::Flag)
            }
            Command::FlagDelete { key } => self.delete_flag(key),
            Command::Evaluate { env, context, with_reasons } => {
                Ok(self.evaluate(&env, &context, with_reasons))
            }
            Command::ExperimentList { project, env } => Ok(self.list_experiments(&project, &env)),
            Command::ExperimentGet { project, env, key } => {
                read(self.experiment(&env, &key)?.to_rep(&project))
            }
            Command::ExperimentData { env, key } => read(json!(self.experiment(&env, &key)?)),
            Command::ExperimentCreate { project, env, body } => {
                self.create_experiment(&project, &env, &body, now)
            }
            Command::ExperimentPatch { project, env, key, body } => {
                self.patch_experiment(&project, &env, &key, &body, now)
            }
            Command::Routing { env, sightings } => Ok(self.routing(&env, &sightings, now)),
            Command::EventKeys { search, limit } => {
                let (items, total) = catalog::list(self.event_keys.values(), &search, limit, now);
                read(json!({"items": items, "totalCount": total}))
            }
        }
    }
}

mod experiments;
mod resources;
#[cfg(test)]
mod tests;

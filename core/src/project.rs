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
use crate::flag::Flag;
use crate::segment::Segment;
use crate::metric::{Integration, Metric};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub use crate::experiment::LATE_EVENTS_MS;

/// What the Worker asks of a project.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Command {
    /// A REST verb on the project's metrics; `integration` is the partner a create comes from.
    Metrics {
        project: String,
        verb: Verb,
        #[serde(default)]
        integration: Option<Integration>,
    },
    Flags { project: String, verb: Verb },
    /// A REST verb on an environment's segments.
    Segments { project: String, env: String, verb: Verb },
    /// A REST verb on an environment's experiments (a patch carries semantic-patch instructions).
    Experiments { project: String, env: String, verb: Verb },
    /// The click and page-view metrics as browser-SDK goals.
    Goals,
    /// Every flag available to the client-side ID, evaluated for a context (evalx format).
    Evaluate { env: String, context: Value, with_reasons: bool },
    /// The stored experiment itself (not its REST representation), for results.
    ExperimentData { env: String, key: String },
    /// The iterations events may count for now, and the batch's event-key sightings to fold
    /// into the catalogue (one write per batch).
    Routing {
        env: String,
        #[serde(default)]
        sightings: Vec<Sighting>,
    },
    /// The event-key catalogue: keys seen in the last 30 days matching `search`.
    EventKeys { search: String, limit: usize },
    /// A flag's guarded rollouts in an environment.
    Rollouts {
        project: String,
        env: String,
        flag: String,
        verb: rollouts::RolloutVerb,
    },
}

/// What a REST method asks of a resource collection (`List`, `Create`) or of one resource.
/// Only a list takes a query string (the metrics list: filter, sort, page); the resource says
/// which parameters it knows and refuses the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "camelCase")]
pub enum Verb {
    List {
        #[serde(default)]
        query: Vec<(String, String)>,
    },
    Create { body: Value },
    Get { key: String },
    /// `semantic`: the body is LaunchDarkly's semantic patch (instructions), not a JSON Patch.
    Patch {
        key: String,
        body: Value,
        #[serde(default)]
        semantic: bool,
    },
    Delete { key: String },
}

impl Command {
    /// The HTTP status of the command's success: 201 for a create, 204 (no body) for a delete.
    pub fn success_status(&self) -> u16 {
        let verb = match self {
            Command::Metrics { verb, .. }
            | Command::Flags { verb, .. }
            | Command::Segments { verb, .. }
            | Command::Experiments { verb, .. } => verb,
            _ => return 200,
        };
        match verb {
            Verb::Create { .. } => 201,
            Verb::Delete { .. } => 204,
            _ => 200,
        }
    }
}

/// A stored record of the project, by its key in its collection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Record {
    Metric(String),
    Flag(String),
    /// Keyed `{env}:{segmentKey}`.
    Segment(String),
    /// Keyed `{env}:{experimentKey}`.
    Experiment(String),
    EventKey(String),
    /// Keyed `{env}:{flag}:{rolloutId}` (see [`rollouts::rollout_id`]).
    Rollout(String),
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
    /// Keyed `{env}:{segmentKey}` (segments belong to one environment; see [`experiment_id`]).
    pub segments: BTreeMap<String, Segment>,
    /// Keyed `{env}:{experimentKey}` (see [`experiment_id`]).
    pub experiments: BTreeMap<String, Experiment>,
    pub event_keys: BTreeMap<String, catalog::Entry>,
    /// Guarded rollouts, keyed `{env}:{flag}:{rolloutId}`.
    pub rollouts: BTreeMap<String, crate::rollout::MeasuredRollout>,
}

/// The storage key of an experiment or a segment: their keys are unique per environment.
pub fn experiment_id(env: &str, key: &str) -> String {
    format!("{env}:{key}")
}

impl Project {
    /// The click and page-view metrics as LaunchDarkly's browser SDK reads goals.
    pub fn goals(&self) -> Vec<crate::matcher::Goal> {
        self.metrics.values().filter_map(Metric::goal).collect()
    }

    /// Apply one command at `now` (Unix ms).
    pub fn apply(&mut self, command: Command, now: i64) -> Result<Outcome, Error> {
        let read = |value: Value| Ok(Outcome::read(value));
        match command {
            Command::Metrics { project, verb, integration } => {
                self.metrics_verb(&project, verb, integration, now)
            }
            Command::Flags { project, verb } => self.flags_verb(&project, verb, now),
            Command::Segments { project, env, verb } => self.segments_verb(&project, &env, verb, now),
            Command::Experiments { project, env, verb } => {
                self.experiments_verb(&project, &env, verb, now)
            }
            Command::Goals => read(json!(self.goals())),
            Command::Evaluate { env, context, with_reasons } => {
                Ok(self.evaluate(&env, &context, with_reasons))
            }
            Command::ExperimentData { env, key } => read(json!(self.experiment(&env, &key)?)),
            Command::Routing { env, sightings } => Ok(self.routing(&env, &sightings, now)),
            Command::EventKeys { search, limit } => {
                let (items, total) = catalog::list(self.event_keys.values(), &search, limit, now);
                read(json!({"items": items, "totalCount": total}))
            }
            Command::Rollouts { project, env, flag, verb } => self.rollouts_verb(&project, &env, &flag, verb, now),
        }
    }
}

mod experiments;
mod resources;
pub mod rollouts;
mod segments;
#[cfg(test)]
pub(crate) mod test_commands;
#[cfg(test)]
mod tests;

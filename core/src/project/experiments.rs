//! Experiment commands and the rules that tie experiments to flags and metrics; routing.

use super::{experiment_id, Outcome, Project, Record, Route, Routing, Verb};
use crate::catalog::{self, Sighting};
use crate::error::Error;
use crate::resource::link;
use crate::experiment::{parse_instructions, Experiment, Instruction};
use crate::flag::{Flag, Rollout, RolloutKind, RolloutSlot, VariationOrRollout};
use crate::metric::Metric;
use crate::resource::Resource;

/// The rule an experiment names must be one of its flag's rules in the experiment's environment.
fn check_rule(flag: &Flag, env: &str, rule: &str) -> Result<(), Error> {
    let rules = flag.spec.environments.get(env).map(|c| c.rules.as_slice()).unwrap_or_default();
    if rules.iter().any(|r| r.id == rule) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "`ruleId`: flag `{}` has no rule `{rule}` in environment `{env}` (its rules: {})",
        flag.spec.key,
        if rules.is_empty() { "none".to_owned() } else { rules.iter().map(|r| format!("`{}`", r.id)).collect::<Vec<_>>().join(", ") }
    )))
}
use serde_json::{json, Value};

impl Project {
    /// Experiments are not deleted (LaunchDarkly archives them); a patch is a semantic patch.
    pub(super) fn experiments_verb(
        &mut self,
        project: &str,
        env: &str,
        verb: Verb,
        now: i64,
    ) -> Result<Outcome, Error> {
        match verb {
            Verb::List { query } => {
                crate::query::none(&query)?;
                Ok(self.list_experiments(project, env))
            }
            Verb::Get { key } => Ok(Outcome::read(self.experiment(env, &key)?.to_rep(project))),
            Verb::Create { body } => self.create_experiment(project, env, &body, now),
            // Always a semantic patch (LaunchDarkly's experiments API takes nothing else).
            Verb::Patch { key, body, .. } => self.patch_experiment(project, env, &key, &body, now),
            Verb::Delete { .. } => Err(Error::MethodNotAllowed(
                "experiments cannot be deleted".into(),
            )),
        }
    }

    pub(super) fn experiment(&self, env: &str, key: &str) -> Result<&Experiment, Error> {
        self.experiments
            .get(&experiment_id(env, key))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "experiment `{key}` not found in environment `{env}`"
                ))
            })
    }

    pub(super) fn list_experiments(&self, project: &str, env: &str) -> Outcome {
        let items: Vec<Value> = self
            .experiments
            .values()
            .filter(|e| e.environment == env)
            .map(|e| e.to_rep(project))
            .collect();
        let href = format!("/api/v2/projects/{project}/environments/{env}/experiments");
        Outcome::read(json!({"items": items, "total_count": items.len(),
            "_links": {"self": link(href)}}))
    }

    /// A new experiment needs its flag and its metrics to exist; the metrics learn they are used.
    pub(super) fn create_experiment(
        &mut self,
        project: &str,
        env: &str,
        body: &Value,
        now: i64,
    ) -> Result<Outcome, Error> {
        let flag_key = body.get("flagKey").and_then(Value::as_str).unwrap_or_default();
        let flag = self.flags.get(flag_key).ok_or_else(|| {
            Error::invalid(if flag_key.is_empty() {
                "`flagKey` is required".into()
            } else {
                format!("flag `{flag_key}` does not exist in project `{project}`")
            })
        })?;
        let experiment = Experiment::from_json(body, env, flag.spec.variations.len(), now)?;
        if let Some(rule) = &experiment.rule_id {
            check_rule(flag, env, rule)?;
        }
        if let Some(missing) = experiment
            .metrics
            .iter()
            .find(|m| !self.metrics.contains_key(&m.key))
        {
            return Err(Error::invalid(format!(
                "metric `{}` does not exist in project `{project}`",
                missing.key
            )));
        }
        let id = experiment_id(env, &experiment.key);
        if self.experiments.contains_key(&id) {
            return Err(Error::Conflict(format!(
                "an experiment with key `{}` already exists in environment `{env}`",
                experiment.key
            )));
        }
        let mut changed = self.mark_metrics(&experiment, |m| {
            m.experiments.insert(id.clone());
        });
        changed.push(Record::Experiment(id.clone()));
        let value = experiment.to_rep(project);
        self.experiments.insert(id, experiment);
        Ok(Outcome { value, changed })
    }

    /// Apply semantic-patch instructions, all or none. Starting an iteration snapshots the
    /// metrics and locks them; stopping unlocks them.
    pub(super) fn patch_experiment(
        &mut self,
        project: &str,
        env: &str,
        key: &str,
        body: &Value,
        now: i64,
    ) -> Result<Outcome, Error> {
        let mut experiment = self.experiment(env, key)?.clone();
        let mut lock: Option<bool> = None;
        for instruction in parse_instructions(body)? {
            match instruction {
                Instruction::StartIteration => {
                    let metrics = self.current_metrics(&experiment)?;
                    experiment.start(&metrics, now)?;
                    lock = Some(true);
                }
                Instruction::StopIteration => {
                    experiment.stop(now)?;
                    lock = Some(false);
                }
                Instruction::UpdateName(n) => experiment.name = n,
                Instruction::UpdateDescription(d) => experiment.description = Some(d),
                Instruction::UpdateAnalysis(analysis, config) => {
                    experiment.update_analysis(analysis, config.as_ref())?
                }
                Instruction::UpdateBotFilter(filter) => experiment.bot_filter = filter,
            }
        }
        let id = experiment_id(env, key);
        // Checked before anything changes: the rule the iteration runs on serves its rollout.
        let flag_changed = match lock {
            Some(true) => self.serve_experiment(&experiment, now)?,
            _ => None,
        };
        let mut changed = match lock {
            None => Vec::new(),
            Some(running) => self.mark_metrics(&experiment, |m| {
                if running {
                    m.running_experiments.insert(id.clone());
                } else {
                    m.running_experiments.remove(&id);
                }
            }),
        };
        changed.extend(flag_changed);
        changed.push(Record::Experiment(id.clone()));
        let value = experiment.to_rep(project);
        self.experiments.insert(id, experiment);
        Ok(Outcome { value, changed })
    }

    /// Starting an iteration makes its rule (or the fallthrough) serve the experiment rollout of
    /// its treatments, as LaunchDarkly does; a rule already serving an experiment rollout over
    /// exactly those variations is kept as it is (its seed and untracked share included). The
    /// flag's record, if it changed.
    fn serve_experiment(&mut self, e: &Experiment, now: i64) -> Result<Option<Record>, Error> {
        let flag = self.flags.get(&e.flag_key).ok_or_else(|| Error::invalid(format!("flag `{}` no longer exists", e.flag_key)))?;
        if let Some(r) = self.active_rollout(&e.environment, &e.flag_key) {
            return Err(Error::Conflict(format!("flag `{}` is under guarded rollout `{}`: no experiment on it until the rollout ends", e.flag_key, r.id)));
        }
        if let Some(rule) = &e.rule_id {
            check_rule(flag, &e.environment, rule)?;
        }
        let mut spec = flag.spec.clone();
        let config = spec.environments.entry(e.environment.clone()).or_default();
        let serve = match &e.rule_id {
            None => &mut config.fallthrough,
            Some(id) => &mut config.rules.iter_mut().find(|r| &r.id == id).expect("checked above").serve,
        };
        let weights = e.rollout_weights();
        let mut wanted: Vec<usize> = weights.iter().map(|(v, _)| *v).collect();
        wanted.sort_unstable();
        let (seed, bucket_by) = match serve {
            VariationOrRollout::Rollout { rollout } => {
                let mut tracked: Vec<usize> = rollout.variations.iter().filter(|s| !s.untracked).map(|s| s.variation).collect();
                tracked.sort_unstable();
                if rollout.kind == RolloutKind::Experiment && tracked == wanted {
                    return Ok(None);
                }
                (rollout.seed, rollout.bucket_by.clone())
            }
            VariationOrRollout::Fixed { .. } => (None, None),
        };
        *serve = VariationOrRollout::Rollout {
            rollout: Rollout {
                kind: RolloutKind::Experiment,
                variations: weights.into_iter().map(|(variation, weight)| RolloutSlot { variation, weight, untracked: false }).collect(),
                seed,
                bucket_by,
                context_kind: e.randomization_unit.clone(),
            },
        };
        let next = flag.revised(spec, now);
        self.flags.insert(e.flag_key.clone(), next);
        Ok(Some(Record::Flag(e.flag_key.clone())))
    }

    /// The experiment's metrics as they stand, and its flag, both required to start.
    fn current_metrics(&self, experiment: &Experiment) -> Result<Vec<Metric>, Error> {
        if !self.flags.contains_key(&experiment.flag_key) {
            return Err(Error::invalid(format!(
                "flag `{}` no longer exists",
                experiment.flag_key
            )));
        }
        experiment
            .metrics
            .iter()
            .map(|m| self.metrics.get(&m.key).cloned())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::invalid("a metric of this experiment no longer exists"))
    }

    /// Change each of the experiment's metrics with `f`; the records changed.
    fn mark_metrics(&mut self, experiment: &Experiment, f: impl Fn(&mut Metric)) -> Vec<Record> {
        let mut changed = Vec::new();
        for m in &experiment.metrics {
            if let Some(metric) = self.metrics.get_mut(&m.key) {
                f(metric);
                changed.push(Record::Metric(m.key.clone()));
            }
        }
        changed
    }

    /// The iterations events at `now` may count for (running, or stopped within
    /// [`LATE_EVENTS_MS`]) and each flag's number of variations; folds the batch's sightings
    /// into the catalogue (evicting past its bound).
    pub(super) fn routing(&mut self, env: &str, sightings: &[Sighting], now: i64) -> Outcome {
        let changed = self.record_sightings(sightings);
        let routes: Vec<Route> = self
            .experiments
            .values()
            .filter(|e| e.environment == env)
            .flat_map(|e| {
                e.iterations
                    .iter()
                    .filter(|it| it.routed(now))
                    .map(|iteration| Route {
                        experiment: e.key.clone(),
                        iteration: iteration.clone(),
                    })
            })
            .chain(
                self.rollouts
                    .values()
                    .filter(|r| r.environment == env && r.iteration.routed(now))
                    .map(|r| Route { experiment: r.counter_key(), iteration: r.iteration.clone() }),
            )
            .collect();
        let flag_variations = self
            .flags
            .iter()
            .map(|(key, f)| (key.clone(), f.spec.variations.len()))
            .collect();
        let routing = Routing {
            routes,
            flag_variations,
        };
        Outcome {
            value: json!(routing),
            changed,
        }
    }

    fn record_sightings(&mut self, sightings: &[Sighting]) -> Vec<Record> {
        if sightings.is_empty() {
            return Vec::new();
        }
        let folded = catalog::fold(|key| self.event_keys.get(key).cloned(), sightings);
        let mut changed: Vec<Record> = folded.keys().cloned().map(Record::EventKey).collect();
        self.event_keys.extend(folded);
        for gone in catalog::evictions(&self.event_keys) {
            self.event_keys.remove(&gone);
            changed.push(Record::EventKey(gone));
        }
        changed
    }
}

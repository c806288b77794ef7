//! Flag and metric commands, through one set of [`Resource`] rules: create (unique key), get,
//! patch (a version only when something changed), delete (unless a running experiment holds it).

use super::{Outcome, Project, Record, Verb};
use crate::error::Error;
use crate::flag::{Flag, FlagSpec};
use crate::metric::{Integration, ListQuery, Metric, MetricSpec};
use crate::resource::{link, Resource, Spec};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) fn get<'a, R: Resource>(items: &'a BTreeMap<String, R>, key: &str) -> Result<&'a R, Error> {
    items.get(key).ok_or_else(|| Error::not_found(R::KIND, key))
}

pub(super) fn create<R: Resource>(
    items: &mut BTreeMap<String, R>,
    project: &str,
    item: R,
    record: fn(String) -> Record,
) -> Result<Outcome, Error> {
    let key = item.key().to_owned();
    if items.contains_key(&key) {
        return Err(Error::Conflict(format!(
            "a {} with key `{key}` already exists in project `{project}`",
            R::KIND
        )));
    }
    let value = item.to_rep(project);
    items.insert(key.clone(), item);
    Ok(Outcome {
        value,
        changed: vec![record(key)],
    })
}

pub(super) fn patch<R: Resource>(
    items: &mut BTreeMap<String, R>,
    (project, key): (&str, &str),
    patch: &Value,
    now: i64,
    record: fn(String) -> Record,
) -> Result<Outcome, Error> {
    let current = get(items, key)?;
    let next = current.patched(project, patch, now)?;
    let value = next.to_rep(project);
    if next.version() == current.version() {
        return Ok(Outcome::read(value));
    }
    items.insert(key.to_owned(), next);
    Ok(Outcome {
        value,
        changed: vec![record(key.to_owned())],
    })
}

fn deleted(record: Record) -> Outcome {
    Outcome {
        value: Value::Null,
        changed: vec![record],
    }
}

impl Project {
    pub(super) fn metrics_verb(
        &mut self,
        project: &str,
        verb: Verb,
        integration: Option<Integration>,
        now: i64,
    ) -> Result<Outcome, Error> {
        match verb {
            Verb::List { query } => self.list_metrics(project, &query),
            Verb::Get { key } => Ok(Outcome::read(get(&self.metrics, &key)?.to_rep(project))),
            Verb::Create { body } => {
                let spec = MetricSpec::from_json(&body)?;
                let metric = Metric::create(project, spec, now, integration);
                create(&mut self.metrics, project, metric, Record::Metric)
            }
            Verb::Patch { semantic: true, .. } => Err(Error::invalid(
                "metrics take a JSON Patch, not a semantic patch (as in LaunchDarkly's metrics API)",
            )),
            Verb::Patch { key, body, .. } => {
                patch(&mut self.metrics, (project, &key), &body, now, Record::Metric)
            }
            Verb::Delete { key } => self.delete_metric(key),
        }
    }

    pub(super) fn flags_verb(&mut self, project: &str, verb: Verb, now: i64) -> Result<Outcome, Error> {
        match verb {
            Verb::List { query } => {
                let filter = super::rollouts::flag_filter(&query)?;
                Ok(self.list_flags(project, filter))
            }
            Verb::Get { key } => Ok(Outcome::read(get(&self.flags, &key)?.to_rep(project))),
            Verb::Create { body } => {
                let salt = body.get("salt").and_then(Value::as_str).map(str::to_owned);
                let flag = Flag::create(project, FlagSpec::from_json(&body)?, now, salt);
                self.check_prerequisites(&flag.spec)?;
                self.check_flag_segments(&flag.spec)?;
                create(&mut self.flags, project, flag, Record::Flag)
            }
            Verb::Patch { key, body, semantic } => self.patch_flag(project, &key, &body, semantic, now),
            Verb::Delete { key } => self.delete_flag(key),
        }
    }

    /// A JSON Patch or a semantic patch; a semantic patch's guarded-rollout instructions are
    /// applied after its others, to their result. Checked whole before anything changes.
    fn patch_flag(&mut self, project: &str, key: &str, body: &Value, semantic: bool, now: i64) -> Result<Outcome, Error> {
        let current = get(&self.flags, key)?.clone();
        let (others, rollout_instructions) = if semantic { super::rollouts::split(body) } else { (Some(body.clone()), Vec::new()) };
        let mut next = match others {
            None => current.clone(),
            Some(body) if semantic => {
                let flags = &self.flags;
                let others = |flag: &str, id: &str| flags.get(flag)?.spec.variations.iter().position(|v| v.id == id);
                crate::resource::instructed(&current, project, |doc| crate::semantic::flag(doc, &body, &others), now)?
            }
            Some(body) => current.patched(project, &body, now)?,
        };
        // The changed flag's references are checked against the project first.
        self.check_prerequisites(&next.spec)?;
        self.check_flag_segments(&next.spec)?;
        self.check_experiment_rules(&next)?;
        let stopping = self.stopping(body, &rollout_instructions, key);
        self.check_guarded_rules(&current, &next, &stopping)?;
        let mut changed = Vec::new();
        if !rollout_instructions.is_empty() {
            // All or none: the rollouts change on a copy, kept only if every instruction applies.
            let mut trial = self.clone();
            let env = body.get("environmentKey").and_then(Value::as_str);
            changed = trial.rollout_instructions(project, env, &mut next, rollout_instructions, now)?;
            *self = trial;
            changed.extend(self.metrics_of(&changed));
        }
        let value = next.to_rep(project);
        if next.version != current.version {
            self.flags.insert(key.to_owned(), next);
            changed.push(Record::Flag(key.to_owned()));
        }
        Ok(Outcome { value, changed })
    }

    pub(super) fn list_metrics(
        &self,
        project: &str,
        pairs: &[(String, String)],
    ) -> Result<Outcome, Error> {
        let query = ListQuery::parse(pairs)?;
        let (page, total) = query.apply(self.metrics.values());
        let items: Vec<Value> = page.iter().map(|m| m.to_rep(project)).collect();
        let links = query.links(&format!("/api/v2/metrics/{project}"), total);
        Ok(Outcome::read(
            json!({"items": items, "totalCount": total, "_links": links}),
        ))
    }

    /// The flags, or (`filter`: environment, rollout status or any) those whose latest guarded
    /// rollout in that environment has that status.
    pub(super) fn list_flags(&self, project: &str, filter: Option<(String, Option<crate::rollout::Status>)>) -> Outcome {
        let keep = |f: &&Flag| filter.as_ref().is_none_or(|(env, status)| self.has_rollout(env, &f.spec.key, *status));
        let items: Vec<Value> = self.flags.values().filter(keep).map(|f| f.to_rep(project)).collect();
        let href = format!("/api/v2/flags/{project}");
        Outcome::read(json!({"items": items, "totalCount": items.len(),
            "_links": {"self": link(href)}}))
    }

    /// A metric a running experiment uses cannot be deleted.
    pub(super) fn delete_metric(&mut self, key: String) -> Result<Outcome, Error> {
        get(&self.metrics, &key)?.check_deletable()?;
        self.metrics.remove(&key);
        Ok(deleted(Record::Metric(key)))
    }

    /// Prerequisites name flags of the project, and following them never leads back to `spec`
    /// (per environment). Evaluation would answer a cycle `MALFORMED_FLAG`; it is refused here.
    fn check_prerequisites(&self, spec: &FlagSpec) -> Result<(), Error> {
        for (env, config) in &spec.environments {
            for (i, p) in config.prerequisites.iter().enumerate() {
                if !self.flags.contains_key(&p.key) {
                    return Err(Error::invalid(format!(
                        "`environments.{env}.prerequisites[{i}].key`: flag `{}` does not exist",
                        p.key
                    )));
                }
            }
            let mut path = vec![spec.key.as_str()];
            if let Some(cycle) = self.prerequisite_cycle(spec, env, &mut path) {
                return Err(Error::invalid(format!(
                    "`environments.{env}.prerequisites` would make a cycle: {cycle}"
                )));
            }
        }
        Ok(())
    }

    /// A path of prerequisites from `from` back to the flag at `path[0]`, as `a → b → a`.
    fn prerequisite_cycle<'a>(&'a self, from: &'a FlagSpec, env: &str, path: &mut Vec<&'a str>) -> Option<String> {
        for p in from.environments.get(env).map(|c| c.prerequisites.as_slice()).unwrap_or_default() {
            if p.key == path[0] {
                return Some(format!("{} → {}", path.join(" → "), p.key));
            }
            // A flag already on the path closes a cycle that does not pass through this flag.
            if path.contains(&p.key.as_str()) {
                continue;
            }
            let Some(next) = self.flags.get(&p.key) else { continue };
            path.push(&next.spec.key);
            let found = self.prerequisite_cycle(&next.spec, env, path);
            path.pop();
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// A rule a running experiment runs on stays while it runs (its exposures name the rule).
    fn check_experiment_rules(&self, flag: &Flag) -> Result<(), Error> {
        for e in self.experiments.values().filter(|e| e.flag_key == flag.spec.key) {
            let Some(rule) = e.running().and_then(|it| it.rule_id.as_deref()) else { continue };
            let rules = flag.spec.environments.get(&e.environment).map(|c| c.rules.as_slice()).unwrap_or_default();
            if !rules.iter().any(|r| r.id == rule) {
                return Err(Error::Conflict(format!(
                    "rule `{rule}` of flag `{}` in environment `{}` is used by running experiment `{}`: stop it first",
                    flag.spec.key, e.environment, e.key
                )));
            }
        }
        Ok(())
    }

    /// A flag a running experiment uses, or another flag's prerequisite, cannot be deleted.
    pub(super) fn delete_flag(&mut self, key: String) -> Result<Outcome, Error> {
        get(&self.flags, &key)?;
        let dependents: Vec<&str> = self
            .flags
            .values()
            .filter(|f| f.spec.environments.values().any(|c| c.prerequisites.iter().any(|p| p.key == key)))
            .map(|f| f.spec.key.as_str())
            .collect();
        if !dependents.is_empty() {
            return Err(Error::Conflict(format!(
                "flag `{key}` is a prerequisite of {}: remove it there first",
                dependents.join(", ")
            )));
        }
        if let Some(r) = self.rollouts.values().find(|r| r.flag_key == key && r.active()) {
            return Err(Error::Conflict(format!(
                "flag `{key}` is under guarded rollout `{}` in environment `{}`: stop it first",
                r.id, r.environment
            )));
        }
        let running: Vec<&str> = self
            .experiments
            .values()
            .filter(|e| e.flag_key == key && e.running().is_some())
            .map(|e| e.key.as_str())
            .collect();
        if !running.is_empty() {
            return Err(Error::Conflict(format!(
                "flag `{key}` is used by running experiments ({}): stop them first",
                running.join(", ")
            )));
        }
        self.flags.remove(&key);
        Ok(deleted(Record::Flag(key)))
    }

    /// The environment's running experiments that serve bots their control.
    pub fn bot_controls(&self, env: &str) -> crate::bots::serve_control::BotControls {
        crate::bots::serve_control::BotControls::of(self.experiments.values(), env)
    }

    /// The environment's flags and segments in LaunchDarkly's SDK data model (`/sdk/latest-all`).
    pub fn sdk_data(&self, env: &str) -> crate::targeting::AllData {
        let mut data = crate::flag::environment_data(self.flags.values(), env);
        data.segments = self.env_segments(env).map(|s| (s.spec.key.clone(), s.sdk())).collect();
        data
    }

    /// The environment's `/sdk/latest-all` body and its ETag, from `kept` (the fragments of the
    /// last call for this environment, updated here): only what changed since is serialised.
    pub fn sdk_body(&self, env: &str, kept: &mut crate::publish::EnvironmentBody) -> (String, String) {
        kept.flags.update(self.flags.values().map(|f| (f.spec.key.as_str(), (f.version, f.creation_date), f)), |f| f.sdk(env));
        let segments = self.env_segments(env).map(|s| (s.spec.key.as_str(), (s.version, s.creation_date), s));
        kept.segments.update(segments, |s| s.sdk());
        kept.assemble()
    }

    /// Every flag available to the public client-side ID (LaunchDarkly's rule), evaluated over
    /// the environment's published data (prerequisites may name any flag of the environment).
    pub(super) fn evaluate(&self, env: &str, context: &Value, with_reasons: bool) -> Outcome {
        Outcome::read(crate::publish::evalx(&self.sdk_data(env), context, with_reasons))
    }
}

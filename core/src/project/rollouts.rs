//! Guarded rollouts in the project: started and stopped by a flag's semantic patch, acted on by
//! humans (`pause`, `resume`, `rollBack`, `advanceStage`, `dismissRegression`, `stop`) and by
//! their object's checks, each change of traffic written to the flag in the same command. The
//! rules: at most one active rollout per flag and environment, none while an experiment runs
//! on the flag; while one is active its rule is the rollout's (a human change to it is a 409
//! naming the rollout) and its metrics are locked as a running experiment's are.

use super::{Outcome, Project, Record};
use crate::error::Error;
use crate::flag::{Flag, VariationOrRollout};
use crate::resource::Resource;
use crate::rollout::{self, start::Place, Applied, Check, MeasuredRollout, StartInput, Status};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The instruction kinds that start or stop a guarded rollout (handled here, not by
/// `semantic::flag`, because they change more than the flag).
const START: [&str; 3] = ["updateFallthroughWithMeasuredRolloutV2", "updateRulesWithMeasuredRolloutV2", "updateRulesWithMeasuredRollout"];
const STOP: [&str; 2] = ["stopMeasuredRolloutOnFlagFallthrough", "stopMeasuredRolloutOnFlagRule"];

/// What is asked of a flag's rollouts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "camelCase")]
pub enum RolloutVerb {
    List,
    Get { id: String },
    /// The stored rollout itself and its flag's name (for its object's checks and webhooks).
    Data { id: String },
    /// A human's semantic patch on the rollout (`member`: who, for the audit entry).
    Act { id: String, body: Value, member: Option<String> },
    /// A check the rollout's object made: applied if it was made on the current revision.
    Apply { id: String, check: Check },
}

/// The storage key of a rollout: `{env}:{flag}:{id}`.
pub fn rollout_id(env: &str, flag: &str, id: &str) -> String {
    format!("{env}:{flag}:{id}")
}

/// A rollout instruction of a flag's semantic patch: its position and its fields.
pub(super) type RolloutInstruction = (usize, Map<String, Value>);

/// Split a flag's semantic patch into its rollout instructions (position, fields) and the body
/// with the others, `None` when there are no others.
pub(super) fn split(body: &Value) -> (Option<Value>, Vec<RolloutInstruction>) {
    let Some(list) = body.get("instructions").and_then(Value::as_array) else {
        return (Some(body.clone()), Vec::new());
    };
    let mut ours = Vec::new();
    let mut rest = Vec::new();
    for (i, ins) in list.iter().enumerate() {
        let kind = ins.get("kind").and_then(Value::as_str).unwrap_or_default();
        match ins.as_object() {
            Some(fields) if START.contains(&kind) || STOP.contains(&kind) => ours.push((i, fields.clone())),
            _ => rest.push(ins.clone()),
        }
    }
    if ours.is_empty() {
        return (Some(body.clone()), ours);
    }
    let others = (!rest.is_empty()).then(|| {
        let mut b = body.clone();
        b["instructions"] = json!(rest);
        b
    });
    (others, ours)
}

/// The flag list's `filter` (LaunchDarkly's syntax, comma-separated `field:value` terms): only
/// `guardedRollout:{any|monitoring|regressed|rolledBack|completed|archived}` and
/// `filterEnv:{env}` (the environment the status is read in; required with `guardedRollout`).
/// `None`: no filter. Anything else is refused, naming it.
pub(super) fn flag_filter(query: &[(String, String)]) -> Result<Option<(String, Option<Status>)>, Error> {
    let mut filter = None;
    for (k, v) in query {
        if k != "filter" {
            return Err(Error::invalid(format!("unknown query parameter `{k}`: the flag list takes `filter`")));
        }
        filter = Some(v.as_str());
    }
    let Some(filter) = filter else { return Ok(None) };
    let (mut status, mut env) = (None, None);
    for term in filter.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match term.split_once(':') {
            Some(("guardedRollout", "any")) => status = Some(None),
            Some(("guardedRollout", s)) => {
                let parsed: Status = serde_json::from_value(json!(s)).map_err(|_| Error::invalid(format!("`filter`: `guardedRollout:{s}` is not a status (any, monitoring, regressed, rolledBack, completed, archived)")))?;
                status = Some(Some(parsed));
            }
            Some(("filterEnv", e)) => env = Some(e.to_owned()),
            _ => return Err(Error::invalid(format!("`filter`: `{term}` is not supported (use guardedRollout:<status|any> with filterEnv:<environment>)"))),
        }
    }
    match (status, env) {
        (Some(status), Some(env)) => Ok(Some((env, status))),
        (Some(_), None) => Err(Error::invalid("`filter`: `guardedRollout` needs `filterEnv:<environment>`")),
        (None, _) => Err(Error::invalid("`filter`: `filterEnv` alone filters nothing (add guardedRollout:<status|any>)")),
    }
}

impl Project {
    /// Does `flag` have a guarded rollout in `env` (its latest) with `status` (`None`: any)?
    pub(super) fn has_rollout(&self, env: &str, flag: &str, status: Option<Status>) -> bool {
        let latest = self.env_rollouts(env, flag).max_by_key(|r| r.creation_date);
        latest.is_some_and(|r| status.is_none_or(|s| r.status == s))
    }

    fn env_rollouts<'a>(&'a self, env: &'a str, flag: &'a str) -> impl Iterator<Item = &'a MeasuredRollout> + 'a {
        self.rollouts.values().filter(move |r| r.environment == env && r.flag_key == flag)
    }

    /// The flag's active rollout in `env`, if any.
    pub(super) fn active_rollout(&self, env: &str, flag: &str) -> Option<&MeasuredRollout> {
        self.rollouts.values().find(|r| r.environment == env && r.flag_key == flag && r.active())
    }

    /// A change from `before` to `after` may not touch a rule an active rollout owns (its serve,
    /// its clauses, its existence), unless the same request stops that rollout.
    pub(super) fn check_guarded_rules(&self, before: &Flag, after: &Flag, stopping: &[String]) -> Result<(), Error> {
        for r in self.rollouts.values().filter(|r| r.active() && r.flag_key == before.spec.key && !stopping.contains(&r.id)) {
            let (a, b) = (before.spec.environments.get(&r.environment), after.spec.environments.get(&r.environment));
            let same = match (&r.rule_id, a, b) {
                (None, Some(a), Some(b)) => a.fallthrough == b.fallthrough,
                (Some(id), Some(a), Some(b)) => a.rules.iter().find(|x| &x.id == id) == b.rules.iter().find(|x| &x.id == id),
                (_, a, b) => a == b,
            };
            if !same {
                let rule = r.rule_id.as_ref().map_or_else(|| "the fallthrough".to_owned(), |id| format!("rule `{id}`"));
                return Err(Error::Conflict(format!(
                    "guarded_rollout_active: {rule} of flag `{}` in environment `{}` is under guarded rollout `{}`: stop it first (stopMeasuredRolloutOnFlag{})",
                    r.flag_key, r.environment, r.id, if r.rule_id.is_some() { "Rule" } else { "Fallthrough" }
                )));
            }
        }
        Ok(())
    }

    /// Apply the rollout instructions of a flag's semantic patch to `flag` (already changed by
    /// the request's other instructions); the rollouts changed.
    pub(super) fn rollout_instructions(
        &mut self,
        project: &str,
        env: Option<&str>,
        flag: &mut Flag,
        instructions: Vec<RolloutInstruction>,
        now: i64,
    ) -> Result<Vec<Record>, Error> {
        let mut changed = Vec::new();
        for (i, fields) in instructions {
            let at = format!("instructions[{i}]");
            let kind = fields.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
            let env = env.ok_or_else(|| Error::invalid(format!("`environmentKey` is required for `{kind}`")))?;
            let record = if STOP.contains(&kind.as_str()) {
                self.stop_rollout(env, flag, &fields, &at, now)?
            } else {
                self.start_rollout(project, env, flag, fields, &at, now)?
            };
            changed.push(record);
        }
        Ok(changed)
    }

    /// The active rollouts of `flag` a request's stop instructions name.
    pub(super) fn stopping(&self, body: &Value, instructions: &[RolloutInstruction], flag: &str) -> Vec<String> {
        let env = body.get("environmentKey").and_then(Value::as_str).unwrap_or_default();
        instructions
            .iter()
            .filter(|(_, f)| f.get("kind").and_then(Value::as_str).is_some_and(|k| STOP.contains(&k)))
            .filter_map(|(_, f)| {
                let rule = f.get("ruleId").and_then(Value::as_str);
                self.active_rollout(env, flag).filter(|r| r.rule_id.as_deref() == rule).map(|r| r.id.clone())
            })
            .collect()
    }

    /// The guardrail metrics of the rollouts among `changed` (their locks changed).
    pub(super) fn metrics_of(&self, changed: &[Record]) -> Vec<Record> {
        changed
            .iter()
            .filter_map(|c| match c {
                Record::Rollout(k) => self.rollouts.get(k),
                _ => None,
            })
            .flat_map(|r| r.metrics.iter().map(|g| Record::Metric(g.metric_key.clone())))
            .collect()
    }

    fn start_rollout(&mut self, project: &str, env: &str, flag: &mut Flag, fields: Map<String, Value>, at: &str, now: i64) -> Result<Record, Error> {
        let input: StartInput = serde_json::from_value(Value::Object(fields)).map_err(|e| Error::invalid(format!("`{at}`: {e}")))?;
        let on_rule = input.kind != START[0];
        if on_rule != input.rule_id.is_some() {
            return Err(Error::invalid(format!("`{at}.ruleId` is {} for `{}`", if on_rule { "required" } else { "not a field" }, input.kind)));
        }
        if let Some(r) = self.active_rollout(env, &flag.spec.key) {
            return Err(Error::Conflict(format!("flag `{}` already has guarded rollout `{}` in environment `{env}`: one at a time", flag.spec.key, r.id)));
        }
        if let Some(e) = self.experiments.values().find(|e| e.environment == env && e.flag_key == flag.spec.key && e.running().is_some()) {
            return Err(Error::Conflict(format!("experiment `{}` is running on flag `{}`: no guarded rollout while it runs", e.key, flag.spec.key)));
        }
        let earlier = self.env_rollouts(env, &flag.spec.key).count();
        let place = Place { project, env, flag, at, now, earlier };
        let r = rollout::start(input, &place, &self.metrics)?;
        self.serve(flag, &r, now)?;
        self.lock_metrics(&r, true);
        let key = rollout_id(env, &r.flag_key, &r.id);
        self.rollouts.insert(key.clone(), r);
        Ok(Record::Rollout(key))
    }

    fn stop_rollout(&mut self, env: &str, flag: &mut Flag, fields: &Map<String, Value>, at: &str, now: i64) -> Result<Record, Error> {
        let kind = fields.get("kind").and_then(Value::as_str).unwrap_or_default();
        if let Some(other) = fields.keys().find(|k| !matches!(k.as_str(), "kind" | "ruleId" | "variationId" | "comment")) {
            return Err(Error::invalid(format!("`{at}.{other}` is not a field of `{kind}`")));
        }
        let rule = fields.get("ruleId").and_then(Value::as_str);
        let r = self.active_rollout(env, &flag.spec.key).filter(|r| r.rule_id.as_deref() == rule);
        let r = r.ok_or_else(|| Error::NotFound(format!("flag `{}` has no active guarded rollout on {} in environment `{env}`", flag.spec.key, rule.map_or("the fallthrough".into(), |r| format!("rule `{r}`")))))?;
        let id = fields.get("variationId").and_then(Value::as_str).ok_or_else(|| Error::invalid(format!("`{at}.variationId` is required: the variation the rule serves once the rollout stops")))?;
        let variation = flag.spec.variations.iter().position(|v| v.id == id).ok_or_else(|| Error::invalid(format!("`{at}.variationId`: flag `{}` has no variation `{id}`", flag.spec.key)))?;
        let mut r = r.clone();
        let comment = fields.get("comment").and_then(Value::as_str).unwrap_or("Stopped by a human");
        r.end(Status::Archived, "stopped", now);
        r.pre_rollout_rule = VariationOrRollout::Fixed { variation };
        r.record(now, "archived", None, format!("{comment}: variation {variation} served"));
        self.serve(flag, &r, now)?;
        self.lock_metrics(&r, false);
        let key = rollout_id(env, &r.flag_key, &r.id);
        self.rollouts.insert(key.clone(), r);
        Ok(Record::Rollout(key))
    }

    /// Make the rollout's rule in `flag` serve what the rollout serves now (a new flag version),
    /// noting the versions on the rollout's last transition.
    fn serve(&self, flag: &mut Flag, r: &MeasuredRollout, now: i64) -> Result<(), Error> {
        let mut spec = flag.spec.clone();
        let config = spec.environments.get_mut(&r.environment).ok_or_else(|| Error::invalid(format!("flag `{}` has no environment `{}`", r.flag_key, r.environment)))?;
        let serve = match &r.rule_id {
            None => &mut config.fallthrough,
            Some(id) => &mut config.rules.iter_mut().find(|x| &x.id == id).ok_or_else(|| Error::Conflict(format!("rule `{id}` of flag `{}` no longer exists", r.flag_key)))?.serve,
        };
        *serve = r.serves();
        if spec != flag.spec {
            *flag = flag.revised(spec, now);
        }
        Ok(())
    }

    fn lock_metrics(&mut self, r: &MeasuredRollout, running: bool) {
        let id = format!("{}:{}", r.environment, r.counter_key());
        for g in &r.metrics {
            if let Some(m) = self.metrics.get_mut(&g.metric_key) {
                if running {
                    m.running_experiments.insert(id.clone());
                } else {
                    m.running_experiments.remove(&id);
                }
            }
        }
    }

    pub(super) fn rollouts_verb(&mut self, project: &str, env: &str, flag: &str, verb: RolloutVerb, now: i64) -> Result<Outcome, Error> {
        if !self.flags.contains_key(flag) {
            return Err(Error::NotFound(format!("flag `{flag}` not found in project `{project}`")));
        }
        match verb {
            RolloutVerb::List => {
                let items: Vec<Value> = self.env_rollouts(env, flag).map(|r| json!(r.rep(project, None))).collect();
                let href = format!("/api/v2/projects/{project}/flags/{flag}/environments/{env}/measured-rollouts");
                Ok(Outcome::read(json!({"items": items, "totalCount": items.len(), "_links": {"self": crate::resource::link(href)}})))
            }
            RolloutVerb::Get { id } => Ok(Outcome::read(json!(self.rollout(env, flag, &id)?.rep(project, None)))),
            RolloutVerb::Data { id } => {
                let r = self.rollout(env, flag, &id)?;
                Ok(Outcome::read(json!({"rollout": r, "flagName": self.flags[flag].spec.name})))
            }
            RolloutVerb::Act { id, body, member } => self.act(project, (env, flag, &id), &body, member, now),
            RolloutVerb::Apply { id, check } => self.apply_check((env, flag, &id), &check, now),
        }
    }

    fn rollout(&self, env: &str, flag: &str, id: &str) -> Result<&MeasuredRollout, Error> {
        self.rollouts.get(&rollout_id(env, flag, id)).ok_or_else(|| Error::NotFound(format!("flag `{flag}` has no guarded rollout `{id}` in environment `{env}`")))
    }

    /// Apply a check's decision; answers `{"applied", "rollout"}`.
    fn apply_check(&mut self, (env, flag, id): (&str, &str, &str), check: &Check, now: i64) -> Result<Outcome, Error> {
        let mut r = self.rollout(env, flag, id)?.clone();
        let applied = r.apply(check, now);
        let changed = self.commit(&mut r, applied, now)?;
        Ok(Outcome { value: json!({"applied": applied != Applied::Nothing, "rollout": r}), changed })
    }

    /// Store a changed rollout (and its flag, when its traffic changed); the records changed.
    fn commit(&mut self, r: &mut MeasuredRollout, applied: Applied, now: i64) -> Result<Vec<Record>, Error> {
        let mut changed = Vec::new();
        if applied == Applied::Traffic {
            let mut flag = self.flags[&r.flag_key].clone();
            let before = flag.version;
            self.serve(&mut flag, r, now)?;
            r.wrote_flag(before, flag.version);
            self.flags.insert(r.flag_key.clone(), flag);
            changed.push(Record::Flag(r.flag_key.clone()));
            if !r.active() {
                self.lock_metrics(r, false);
                changed.extend(r.metrics.iter().map(|g| Record::Metric(g.metric_key.clone())));
            }
        }
        let key = rollout_id(&r.environment, &r.flag_key, &r.id);
        if applied != Applied::Nothing {
            changed.push(Record::Rollout(key.clone()));
            self.rollouts.insert(key, r.clone());
        }
        Ok(changed)
    }

    /// A human's instructions on a rollout, all or none: `pause`, `resume`, `advanceStage`,
    /// `rollBack`, `dismissRegression {metricKey}`, each with an optional `comment`.
    fn act(&mut self, project: &str, (env, flag, id): (&str, &str, &str), body: &Value, member: Option<String>, now: i64) -> Result<Outcome, Error> {
        let mut r = self.rollout(env, flag, id)?.clone();
        let list = body.get("instructions").and_then(Value::as_array).filter(|l| !l.is_empty());
        let list = list.ok_or_else(|| Error::invalid("a semantic patch is {\"instructions\": [{\"kind\": ...}]}"))?;
        if let Some(other) = body.as_object().and_then(|o| o.keys().find(|k| !matches!(k.as_str(), "instructions" | "comment"))) {
            return Err(Error::invalid(format!("`{other}` is not a field of a semantic patch (use `instructions`, `comment`)")));
        }
        // The body's `comment` is each instruction's unless it has its own.
        let comment = body.get("comment").and_then(Value::as_str);
        let mut applied = Applied::Nothing;
        for (i, ins) in list.iter().enumerate() {
            let at = format!("instructions[{i}]");
            let step = rollout::act::instruction(&mut r, ins, (&at, comment), member.clone(), now)?;
            applied = applied.max(step);
        }
        let changed = self.commit(&mut r, applied, now)?;
        Ok(Outcome { value: json!(r.rep(project, None)), changed })
    }
}

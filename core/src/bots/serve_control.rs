//! The running experiments of an environment with a bot setting of their own: those that serve
//! bots their control (`botFilter.serveControl`, an opt-in per experiment) and those that
//! override the environment's filter (`super::overrides`). Which evaluations each owns, and the
//! control's substitution itself, made on a bot's evalx before its evaluations are untracked.
//!
//! The Worker keeps [`BotControls`] per environment in KV (the project's object writes it when an
//! experiment changes), read (through each isolate's 30 s cache) with the environment's filter.

use super::overrides::FilterOverride;
use crate::experiment::Experiment;
use crate::targeting::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Per flag key, the experiments with a bot setting: the rule each runs on (`None`: the
/// fallthrough), its baseline variation, and the setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotControls(pub BTreeMap<String, Vec<Control>>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub variation: usize,
    /// The experiment's key (empty in records written before overrides existed).
    #[serde(default)]
    pub experiment: String,
    /// Records written before overrides existed listed only experiments serving the control.
    #[serde(default = "yes")]
    pub serve_control: bool,
    #[serde(default, skip_serializing_if = "FilterOverride::is_empty")]
    pub filter: FilterOverride,
}

fn yes() -> bool {
    true
}

impl BotControls {
    /// The running experiments of `env` with a bot setting of their own.
    pub fn of<'a>(experiments: impl IntoIterator<Item = &'a Experiment>, env: &str) -> BotControls {
        let mut controls = BotControls::default();
        for e in experiments.into_iter().filter(|e| e.environment == env) {
            let setting = &e.bot_filter;
            if !setting.serve_control && setting.filter.is_empty() {
                continue;
            }
            let (Some(iteration), Some(variation)) = (e.running(), e.control()) else { continue };
            controls.0.entry(e.flag_key.clone()).or_default().push(Control {
                rule: iteration.rule_id.clone(),
                variation,
                experiment: e.key.clone(),
                serve_control: setting.serve_control,
                filter: setting.filter.clone(),
            });
        }
        controls
    }

    /// Each experiment's override of the environment's filter, once per experiment.
    pub fn overrides(&self) -> impl Iterator<Item = (&str, &FilterOverride)> {
        let mut seen = std::collections::BTreeSet::new();
        self.0
            .values()
            .flatten()
            .filter(|c| !c.filter.is_empty())
            .filter(move |c| seen.insert(c.experiment.as_str()))
            .map(|c| (c.experiment.as_str(), &c.filter))
    }

    /// The experiment an evaluation of flag `key` is in, if it has a bot setting.
    pub fn matching(&self, key: &str, evaluation: &Value) -> Option<&Control> {
        controlled(evaluation, self.0.get(key)?)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Serve the control of the opted-in experiment a bot's evaluation is in (its reason says
    /// `inExperiment`, on the experiment's rule or the fallthrough): `variation` and `value`
    /// replaced by the baseline's, the reason kept (it says where the bot was bucketed). Whether
    /// it was.
    pub fn serve_one(&self, key: &str, evaluation: &mut Value, data: &impl Store) -> bool {
        let Some(control) = self.matching(key, evaluation).filter(|c| c.serve_control) else { return false };
        let variation = control.variation;
        let Some(value) = data.flag(key).and_then(|f| f.variations.get(variation)) else { return false };
        evaluation["variation"] = variation.into();
        evaluation["value"] = value.clone();
        true
    }
}

/// The experiment this evaluation is in, if it is one of these.
fn controlled<'c>(evaluation: &Value, controls: &'c [Control]) -> Option<&'c Control> {
    let reason = evaluation.get("reason")?;
    if reason.get("inExperiment").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let rule = reason.get("ruleId").and_then(Value::as_str);
    let fallthrough = reason.get("kind").and_then(Value::as_str) == Some("FALLTHROUGH");
    controls
        .iter()
        .find(|c| match &c.rule {
            Some(id) => rule == Some(id.as_str()),
            None => fallthrough,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targeting::AllData;
    use serde_json::{json, Map};

    fn data() -> AllData {
        serde_json::from_value(json!({"flags": {"f": {"key": "f", "version": 3, "on": true,
            "variations": ["control", "test", "other"], "fallthrough": {"variation": 0},
            "offVariation": 0, "salt": "s", "targets": [], "rules": [], "prerequisites": []}}}))
        .unwrap()
    }

    fn evaluation(variation: usize, reason: Value) -> Map<String, Value> {
        let value = ["control", "test", "other"][variation];
        json!({"f": {"value": value, "variation": variation, "version": 3, "trackEvents": true, "reason": reason}})
            .as_object()
            .unwrap()
            .clone()
    }

    /// Every evaluation served as a bot's (`serve_one` on each): how many were changed.
    fn serve(controls: &BotControls, flags: &mut Map<String, Value>, data: &impl Store) -> usize {
        flags.iter_mut().map(|(k, e)| usize::from(controls.serve_one(k, e, data))).sum()
    }

    fn control(rule: Option<&str>, variation: usize) -> Control {
        Control {
            rule: rule.map(str::to_owned),
            variation,
            experiment: "e".into(),
            serve_control: true,
            filter: FilterOverride::default(),
        }
    }

    fn fallthrough_control(variation: usize) -> BotControls {
        BotControls([("f".to_owned(), vec![control(None, variation)])].into())
    }

    #[test]
    fn an_evaluation_in_an_opted_in_experiment_gets_the_control() {
        let mut flags = evaluation(1, json!({"kind": "FALLTHROUGH", "inExperiment": true}));
        assert_eq!(serve(&fallthrough_control(0), &mut flags, &data()), 1);
        assert_eq!(flags["f"]["variation"], 0);
        assert_eq!(flags["f"]["value"], "control");
        assert_eq!(flags["f"]["reason"]["kind"], "FALLTHROUGH", "the reason says where it was bucketed");
    }

    #[test]
    fn evaluations_outside_the_experiment_are_left_as_they_are() {
        let controls = fallthrough_control(0);
        // Not in the experiment (an untracked slot, or no reason at all).
        for reason in [json!({"kind": "FALLTHROUGH"}), json!({"kind": "FALLTHROUGH", "inExperiment": false})] {
            let mut flags = evaluation(1, reason);
            assert_eq!(serve(&controls, &mut flags, &data()), 0);
            assert_eq!(flags["f"]["variation"], 1);
        }
        // In an experiment on a rule, while the opted-in one runs on the fallthrough.
        let mut flags = evaluation(1, json!({"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r1", "inExperiment": true}));
        assert_eq!(serve(&controls, &mut flags, &data()), 0);
        // A flag with no opted-in experiment.
        let mut other = BotControls::default();
        other.0.insert("g".into(), vec![control(None, 0)]);
        let mut flags = evaluation(1, json!({"kind": "FALLTHROUGH", "inExperiment": true}));
        assert_eq!(serve(&other, &mut flags, &data()), 0);
    }

    #[test]
    fn an_experiment_on_a_rule_serves_its_control_on_that_rule() {
        let controls = BotControls([("f".to_owned(), vec![control(Some("r1"), 2)])].into());
        let mut flags = evaluation(1, json!({"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r1", "inExperiment": true}));
        assert_eq!(serve(&controls, &mut flags, &data()), 1);
        assert_eq!(flags["f"]["value"], "other");
        let mut flags = evaluation(1, json!({"kind": "FALLTHROUGH", "inExperiment": true}));
        assert_eq!(serve(&controls, &mut flags, &data()), 0, "the fallthrough is not that experiment's");
    }

    #[test]
    fn a_control_the_flag_no_longer_has_is_not_served() {
        let mut flags = evaluation(1, json!({"kind": "FALLTHROUGH", "inExperiment": true}));
        assert_eq!(serve(&fallthrough_control(7), &mut flags, &data()), 0);
        assert_eq!(flags["f"]["variation"], 1);
    }
}

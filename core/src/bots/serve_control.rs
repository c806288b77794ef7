//! Experiments that serve bots their control (`botFilter.serveControl`, an opt-in per
//! experiment): which evaluations of an environment that is, and the substitution itself, made
//! on a bot's evalx before [`super::untracked`] drops the reasons it is read from.
//!
//! The Worker keeps [`BotControls`] per environment in KV (the project's object writes it when an
//! experiment changes), read only on bot requests: a person's evaluation never pays for it.

use crate::experiment::Experiment;
use crate::targeting::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Per flag key, the experiments serving bots their control: the rule each runs on (`None`:
/// the fallthrough) and its baseline variation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotControls(pub BTreeMap<String, Vec<Control>>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub variation: usize,
}

impl BotControls {
    /// The running experiments of `env` that opted in.
    pub fn of<'a>(experiments: impl IntoIterator<Item = &'a Experiment>, env: &str) -> BotControls {
        let mut controls = BotControls::default();
        for e in experiments.into_iter().filter(|e| e.environment == env && e.bot_filter.serve_control) {
            let (Some(iteration), Some(variation)) = (e.running(), e.control()) else { continue };
            let rule = iteration.rule_id.clone();
            controls.0.entry(e.flag_key.clone()).or_default().push(Control { rule, variation });
        }
        controls
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Serve the control of each opted-in experiment a bot's evaluation is in (its reason says
    /// `inExperiment`, on the experiment's rule or the fallthrough): `variation` and `value`
    /// replaced by the baseline's, the reason kept (it says where the bot was bucketed). The
    /// number of evaluations changed.
    pub fn serve(&self, flags: &mut Map<String, Value>, data: &impl Store) -> usize {
        let mut served = 0;
        for (key, evaluation) in flags.iter_mut() {
            let Some(controls) = self.0.get(key) else { continue };
            let Some(variation) = controlled(evaluation, controls) else { continue };
            let Some(value) = data.flag(key).and_then(|f| f.variations.get(variation)) else { continue };
            evaluation["variation"] = variation.into();
            evaluation["value"] = value.clone();
            served += 1;
        }
        served
    }
}

/// The control to serve for this evaluation, if it is in one of these experiments.
fn controlled(evaluation: &Value, controls: &[Control]) -> Option<usize> {
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
        .map(|c| c.variation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targeting::AllData;
    use serde_json::json;

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

    fn fallthrough_control(variation: usize) -> BotControls {
        BotControls([("f".to_owned(), vec![Control { rule: None, variation }])].into())
    }

    #[test]
    fn an_evaluation_in_an_opted_in_experiment_gets_the_control() {
        let mut flags = evaluation(1, json!({"kind": "FALLTHROUGH", "inExperiment": true}));
        assert_eq!(fallthrough_control(0).serve(&mut flags, &data()), 1);
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
            assert_eq!(controls.serve(&mut flags, &data()), 0);
            assert_eq!(flags["f"]["variation"], 1);
        }
        // In an experiment on a rule, while the opted-in one runs on the fallthrough.
        let mut flags = evaluation(1, json!({"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r1", "inExperiment": true}));
        assert_eq!(controls.serve(&mut flags, &data()), 0);
        // A flag with no opted-in experiment.
        let mut other = BotControls::default();
        other.0.insert("g".into(), vec![Control { rule: None, variation: 0 }]);
        let mut flags = evaluation(1, json!({"kind": "FALLTHROUGH", "inExperiment": true}));
        assert_eq!(other.serve(&mut flags, &data()), 0);
    }

    #[test]
    fn an_experiment_on_a_rule_serves_its_control_on_that_rule() {
        let controls = BotControls([("f".to_owned(), vec![Control { rule: Some("r1".into()), variation: 2 }])].into());
        let mut flags = evaluation(1, json!({"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r1", "inExperiment": true}));
        assert_eq!(controls.serve(&mut flags, &data()), 1);
        assert_eq!(flags["f"]["value"], "other");
        let mut flags = evaluation(1, json!({"kind": "FALLTHROUGH", "inExperiment": true}));
        assert_eq!(controls.serve(&mut flags, &data()), 0, "the fallthrough is not that experiment's");
    }

    #[test]
    fn a_control_the_flag_no_longer_has_is_not_served() {
        let mut flags = evaluation(1, json!({"kind": "FALLTHROUGH", "inExperiment": true}));
        assert_eq!(fallthrough_control(7).serve(&mut flags, &data()), 0);
        assert_eq!(flags["f"]["variation"], 1);
    }
}

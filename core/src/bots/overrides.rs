//! Per-experiment overrides of the environment's bot filter (an experiment's `botFilter`
//! beside `serveControl`: `enabled`, `tiers`, `minHumanScore`, `excludeVerifiedCategories`,
//! `allowUserAgents`, `denyUserAgents`), and a request's [`Verdict`]: the environment's, and each
//! overriding experiment's where it differs.
//!
//! Each field an experiment gives replaces the environment's (a tier it names replaces that tier
//! alone); what it leaves out follows the environment, including later changes to it. The
//! `contextAttribute` stays the environment's (it is what marks bots on server routes, where no
//! request is classified). A request is still classified once: the environment's filter and each
//! override are pure functions of the same signals.

use super::serve_control::BotControls;
use super::{BotFilter, BotReason, Categories, Signals};
use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The fields of the environment's filter an experiment replaces (none: it follows the
/// environment's).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FilterOverride {
    /// `false`: bots are counted in this experiment like people; `true`: filtered here even where
    /// the environment's filter is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<TierOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_human_score: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<serde_json::Value>))]
    pub exclude_verified_categories: Option<Categories>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_user_agents: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_user_agents: Option<Vec<String>>,
}

/// The tiers an experiment switches (the others follow the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudflare: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_bot_auth: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation: Option<bool>,
}

impl FilterOverride {
    /// The override of an experiment's `botFilter` (its fields other than `serveControl`):
    /// unknown fields refused by name, values checked as the environment's are, lists
    /// lower-cased.
    pub fn parse(fields: serde_json::Map<String, serde_json::Value>) -> Result<FilterOverride, Error> {
        let mut o: FilterOverride = serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| Error::invalid(format!("`botFilter`: {e}")))?;
        BotFilter::default().overridden(&o).check()?;
        for list in [&mut o.allow_user_agents, &mut o.deny_user_agents].into_iter().flatten() {
            for entry in list.iter_mut() {
                *entry = entry.to_lowercase();
            }
        }
        Ok(o)
    }

    pub fn is_empty(&self) -> bool {
        *self == FilterOverride::default()
    }
}

impl BotFilter {
    /// This filter with an experiment's override applied.
    pub fn overridden(&self, o: &FilterOverride) -> BotFilter {
        let mut f = self.clone();
        if let Some(enabled) = o.enabled {
            f.enabled = enabled;
        }
        if let Some(t) = &o.tiers {
            let tiers = &mut f.tiers;
            tiers.cloudflare = t.cloudflare.unwrap_or(tiers.cloudflare);
            tiers.web_bot_auth = t.web_bot_auth.unwrap_or(tiers.web_bot_auth);
            tiers.user_agent = t.user_agent.unwrap_or(tiers.user_agent);
            tiers.automation = t.automation.unwrap_or(tiers.automation);
        }
        if let Some(score) = o.min_human_score {
            f.min_human_score = score;
        }
        if let Some(categories) = &o.exclude_verified_categories {
            f.exclude_verified_categories = categories.clone();
        }
        if let Some(list) = &o.allow_user_agents {
            f.allow_user_agents = list.clone();
        }
        if let Some(list) = &o.deny_user_agents {
            f.deny_user_agents = list.clone();
        }
        f
    }
}

/// Who sent a request, by the environment's filter and by each experiment's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The environment's: `Some` is a bot for every experiment without an override.
    pub env: Option<BotReason>,
    /// Experiment key → its verdict, only for experiments whose verdict differs from `env`.
    pub experiments: BTreeMap<String, Option<BotReason>>,
}

impl Verdict {
    /// The verdict for one experiment (`None`: no experiment, or one without an override).
    pub fn reason_for(&self, experiment: Option<&str>) -> Option<&BotReason> {
        match experiment.and_then(|e| self.experiments.get(e)) {
            Some(own) => own.as_ref(),
            None => self.env.as_ref(),
        }
    }

    /// A bot in at least one experiment (or for the environment).
    pub fn any_bot(&self) -> bool {
        self.env.is_some() || self.experiments.values().any(Option::is_some)
    }

    /// The overrides as the queue message carries them (`IngestMessage::bots`): experiment key
    /// → reason code, or `None` where that experiment counts the request as a person's.
    pub fn codes(&self) -> BTreeMap<String, Option<String>> {
        self.experiments.iter().map(|(k, r)| (k.clone(), r.as_ref().map(BotReason::to_string))).collect()
    }
}

/// Classify a request under the environment's filter and under every override of `controls`.
/// `context_reason` is the context check (`BotFilter::context_reason`, where a context is known).
pub fn verdict(
    filter: &BotFilter,
    controls: &BotControls,
    signals: &Signals,
    context_reason: impl Fn(&BotFilter) -> Option<BotReason>,
) -> Verdict {
    let of = |f: &BotFilter| super::classify(f, signals).or_else(|| context_reason(f));
    let env = of(filter);
    let mut experiments = BTreeMap::new();
    for (experiment, o) in controls.overrides() {
        let own = of(&filter.overridden(o));
        if own != env {
            experiments.insert(experiment.to_owned(), own);
        }
    }
    Verdict { env, experiments }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bots::serve_control::Control;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<FilterOverride, Error> {
        FilterOverride::parse(v.as_object().unwrap().clone())
    }

    fn controls(overrides: &[(&str, FilterOverride)]) -> BotControls {
        let mut c = BotControls::default();
        for (i, (experiment, o)) in overrides.iter().enumerate() {
            c.0.entry(format!("f{i}")).or_default().push(Control {
                rule: None,
                variation: 0,
                experiment: (*experiment).to_owned(),
                serve_control: false,
                filter: o.clone(),
            });
        }
        c
    }

    const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    fn signals(ua: &str) -> Signals<'_> {
        Signals { user_agent: Some(ua), ..Signals::default() }
    }

    #[test]
    fn an_override_replaces_only_the_fields_it_gives() {
        let env = BotFilter { deny_user_agents: vec!["probe".into()], ..BotFilter::default() };
        let o = parse(json!({"tiers": {"userAgent": false}, "allowUserAgents": ["MyMonitor"]})).unwrap();
        let f = env.overridden(&o);
        assert!(!f.tiers.user_agent);
        assert!(f.tiers.cloudflare && f.tiers.web_bot_auth && f.tiers.automation, "other tiers follow the environment");
        assert_eq!(f.deny_user_agents, vec!["probe".to_owned()], "the deny list follows the environment");
        assert_eq!(f.allow_user_agents, vec!["mymonitor".to_owned()], "lists are lower-cased");
    }

    #[test]
    fn bad_overrides_are_refused_by_name() {
        let unknown = parse(json!({"contextAttribute": "bot"})).unwrap_err().to_string();
        assert!(unknown.contains("contextAttribute"), "{unknown}");
        let tier = parse(json!({"tiers": {"everything": false}})).unwrap_err().to_string();
        assert!(tier.contains("everything"), "{tier}");
        let score = parse(json!({"minHumanScore": 0})).unwrap_err().to_string();
        assert!(score.contains("minHumanScore"), "{score}");
        let category = parse(json!({"excludeVerifiedCategories": ["Robots"]})).unwrap_err().to_string();
        assert!(category.contains("Robots"), "{category}");
        assert!(parse(json!({"denyUserAgents": [" "]})).is_err());
    }

    #[test]
    fn a_verdict_lists_only_the_experiments_that_see_it_otherwise() {
        let env = BotFilter::default();
        let counts_crawlers = parse(json!({"tiers": {"userAgent": false}})).unwrap();
        let off = parse(json!({"enabled": false})).unwrap();
        let strict = parse(json!({"denyUserAgents": ["linux"]})).unwrap();
        let c = controls(&[("relaxed", counts_crawlers), ("off", off), ("strict", strict)]);
        let none = |_: &BotFilter| None;

        let bot = verdict(&env, &c, &signals(GOOGLEBOT), none);
        assert_eq!(bot.env, Some(BotReason::UserAgent));
        assert_eq!(bot.experiments, [("off".to_owned(), None), ("relaxed".to_owned(), None)].into());
        assert_eq!(bot.reason_for(Some("relaxed")), None, "counted there as a person");
        assert_eq!(bot.reason_for(Some("other")), Some(&BotReason::UserAgent));
        assert_eq!(bot.reason_for(None), Some(&BotReason::UserAgent));

        let person = verdict(&env, &c, &signals(CHROME), none);
        assert_eq!(person.env, None);
        assert_eq!(person.experiments, [("strict".to_owned(), Some(BotReason::DeniedUserAgent))].into());
        assert!(person.any_bot());
        assert_eq!(person.codes(), [("strict".to_owned(), Some("ua_deny".to_owned()))].into());
    }

    #[test]
    fn an_experiment_can_filter_where_the_environment_does_not() {
        let env = BotFilter { enabled: false, ..BotFilter::default() };
        let on = parse(json!({"enabled": true})).unwrap();
        let v = verdict(&env, &controls(&[("e", on)]), &signals(GOOGLEBOT), |_| None);
        assert_eq!(v.env, None);
        assert_eq!(v.reason_for(Some("e")), Some(&BotReason::UserAgent));
    }

    #[test]
    fn each_evaluation_follows_the_verdict_of_its_experiment() {
        use crate::bots::{untrack_by_verdict, Untracked};
        let data: crate::targeting::AllData = serde_json::from_value(json!({"flags": {}})).unwrap();
        let mut c = controls(&[("relaxed", parse(json!({"tiers": {"userAgent": false}})).unwrap())]);
        // A second experiment, serving bots its control, on flag `g`.
        c.0.insert("g".into(), vec![Control { rule: None, variation: 0, experiment: "plain".into(), serve_control: true, filter: FilterOverride::default() }]);
        let verdict = verdict(&BotFilter::default(), &c, &signals(GOOGLEBOT), |_| None);
        let in_experiment = json!({"value": 1, "variation": 1, "version": 2, "trackEvents": true,
            "reason": {"kind": "FALLTHROUGH", "inExperiment": true}});
        let mut flags = json!({"f0": in_experiment, "g": in_experiment, "h": {"value": 0, "variation": 0, "trackEvents": true}});
        let flags = flags.as_object_mut().unwrap();
        let units = [("user".to_owned(), "u1".to_owned())];
        let done: Untracked = untrack_by_verdict(flags, (&verdict, &c), &data, (Some(&units), 7), false);
        assert_eq!(flags["f0"], in_experiment, "counted in `relaxed`: left as it is");
        assert_eq!(flags["g"]["trackEvents"], false);
        assert_eq!(flags["h"]["trackEvents"], false);
        assert_eq!(done.evaluations, 2);
        assert_eq!(done.served_control, 0, "the flag has no variation 0 in this data: nothing served");
        let excluded: Vec<_> = done.exposures["ua"].iter().map(|e| serde_json::to_value(e).unwrap()["k"].clone()).collect();
        assert_eq!(excluded, [json!("g")], "only an evaluation in an experiment would have been an exposure");
    }
}

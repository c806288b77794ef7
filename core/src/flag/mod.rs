//! Feature flags: variations, per-environment targeting (on/off, prerequisites, individual and
//! context targets, rules, fallthrough as a fixed variation, percentage rollout or experiment
//! rollout; `rules.rs`), evaluation by `core::targeting` (LaunchDarkly's semantics), and the
//! per-flag JSON LaunchDarkly's browser SDKs expect.

pub(crate) mod rules;

pub use crate::targeting::Reason;
pub use rules::{assign_clause_ids, check_clauses, rule_id, segments_named, Rule, MAX_CLAUSES, MAX_CLAUSE_VALUES, MAX_PATTERN_BYTES, MAX_PREREQUISITES, MAX_RULES, MAX_TARGET_VALUES};

use crate::targeting::model::Prerequisite;
use crate::targeting::{AllData, Detail, Store};
use crate::error::Error;
use crate::fields::Fields;
use crate::resource::{item_links, Link, Resource, Spec};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn invalid(m: impl Into<String>) -> Error {
    Error::invalid(m)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Variation {
    /// Stable ID (generated when absent), as LaunchDarkly's semantic patch names variations by.
    #[serde(rename = "_id", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    pub values: Vec<String>,
    pub variation: usize,
    #[serde(default = "user_kind")]
    pub context_kind: String,
}

fn user_kind() -> String {
    "user".into()
}

pub use crate::targeting::model::RolloutKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutSlot {
    pub variation: usize,
    pub weight: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untracked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rollout {
    #[serde(default)]
    pub kind: RolloutKind,
    pub variations: Vec<RolloutSlot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_by: Option<String>,
    #[serde(default = "user_kind")]
    pub context_kind: String,
}

/// What a fallthrough serves: one variation, or a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum VariationOrRollout {
    Fixed { variation: usize },
    Rollout { rollout: Rollout },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvironmentConfig {
    pub on: bool,
    pub off_variation: Option<usize>,
    /// Flags that must serve a given variation first (else the off variation is served).
    #[serde(default)]
    pub prerequisites: Vec<Prerequisite>,
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Individual targets of any context kind (a `user` entry stands for `targets`' list of the
    /// same variation, as in LaunchDarkly).
    #[serde(default)]
    pub context_targets: Vec<Target>,
    /// Evaluated in order after the targets; the first whose clauses all match serves.
    #[serde(default)]
    pub rules: Vec<Rule>,
    pub fallthrough: VariationOrRollout,
    #[serde(default)]
    pub track_events: bool,
    #[serde(default)]
    pub track_events_fallthrough: bool,
}

impl Default for EnvironmentConfig {
    fn default() -> Self {
        EnvironmentConfig {
            on: false,
            off_variation: Some(0),
            prerequisites: Vec::new(),
            targets: Vec::new(),
            context_targets: Vec::new(),
            rules: Vec::new(),
            fallthrough: VariationOrRollout::Fixed { variation: 0 },
            track_events: false,
            track_events_fallthrough: false,
        }
    }
}

/// Which client-side credentials may evaluate a flag (LaunchDarkly's `clientSideAvailability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientSideAvailability {
    /// Served to browsers through the public client-side ID (evalx). Off for new flags.
    pub using_environment_id: bool,
    /// Served to mobile keys. On for new flags (no mobile route exists here yet).
    pub using_mobile_key: bool,
}

impl ClientSideAvailability {
    /// LaunchDarkly's defaults for a new flag: not exposed to the public client-side ID.
    pub const NEW_FLAG: Self = ClientSideAvailability {
        using_environment_id: false,
        using_mobile_key: true,
    };

    /// Flags stored before this setting existed were served to browsers: they keep that.
    fn stored_before() -> Self {
        ClientSideAvailability {
            using_environment_id: true,
            using_mobile_key: true,
        }
    }

    fn from_json(v: Option<&Value>) -> Result<Self, Error> {
        let Some(v) = v else {
            return Ok(Self::NEW_FLAG);
        };
        let obj = v.as_object().ok_or_else(|| {
            invalid("`clientSideAvailability` must be {\"usingEnvironmentId\": bool, \"usingMobileKey\": bool}")
        })?;
        let field = |name: &str, default: bool| match obj.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(format!("`clientSideAvailability.{name}` must be a boolean"))),
        };
        if let Some(other) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "usingEnvironmentId" | "usingMobileKey"))
        {
            return Err(invalid(format!(
                "`clientSideAvailability.{other}` is not a field: use `usingEnvironmentId` and `usingMobileKey`"
            )));
        }
        Ok(ClientSideAvailability {
            using_environment_id: field("usingEnvironmentId", Self::NEW_FLAG.using_environment_id)?,
            using_mobile_key: field("usingMobileKey", Self::NEW_FLAG.using_mobile_key)?,
        })
    }
}

/// What users set on a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlagSpec {
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub variations: Vec<Variation>,
    pub environments: BTreeMap<String, EnvironmentConfig>,
    #[serde(default = "ClientSideAvailability::stored_before")]
    pub client_side_availability: ClientSideAvailability,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    pub spec: FlagSpec,
    pub salt: String,
    pub version: u64,
    pub creation_date: i64,
}

/// A flag as the REST API answers it: what users set, and what the server does.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Flag))]
pub struct FlagRep<'a> {
    #[serde(flatten)]
    pub spec: &'a FlagSpec,
    /// The bucketing salt.
    pub salt: &'a str,
    #[serde(rename = "_version")]
    pub version: u64,
    #[serde(rename = "_creationDate")]
    pub creation_date: i64,
    #[serde(rename = "_links")]
    pub links: BTreeMap<&'static str, Link>,
}

const SERVER_FIELDS: &[&str] = &["_version", "_creationDate", "_links", "salt"];

impl Spec for FlagSpec {
    fn key(&self) -> &str {
        &self.key
    }

    fn from_json(value: &Value) -> Result<Self, Error> {
        crate::resource::check_size(value)?;
        let b = Fields::of(value)?;
        let get = |f: &str| b.get(f);
        let key = b.key("key")?;
        let name = b.non_empty("name")?.unwrap_or_else(|| key.clone());
        let description = b.string("description")?;
        let mut tags = b.strings("tags")?.unwrap_or_default();
        tags.sort();
        tags.dedup();
        let variations = variations(&key, get("variations"))?;
        let environments: BTreeMap<String, EnvironmentConfig> = match get("environments") {
            None => BTreeMap::new(),
            Some(Value::Object(envs)) => envs
                .iter()
                .map(|(k, v)| parse_env(&key, k, v).map(|c| (k.clone(), c)))
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(invalid(
                    "`environments` must be an object keyed by environment key",
                ))
            }
        };
        let spec = FlagSpec {
            key,
            name,
            description,
            tags,
            variations,
            environments,
            client_side_availability: ClientSideAvailability::from_json(get("clientSideAvailability"))?,
        };
        spec.check_indices()?;
        Ok(spec)
    }

}

/// A flag's variations (default: `true`, `false`), each with an `_id` (generated from the flag
/// key, its place and value when absent; unique within the flag).
fn variations(key: &str, given: Option<&Value>) -> Result<Vec<Variation>, Error> {
    let mut variations: Vec<Variation> = match given {
        None => serde_json::from_value(json!([{"value": true}, {"value": false}])).unwrap_or_default(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
            invalid("`variations` must be an array of {\"value\": any JSON, \"name\"?: string, \"description\"?: string, \"_id\"?: string}")
        })?,
    };
    if variations.len() < 2 {
        return Err(invalid("`variations` needs at least two variations"));
    }
    for (i, v) in variations.iter_mut().enumerate().filter(|(_, v)| v.id.is_empty()) {
        v.id = rules::rule_id(&format!("variation\n{key}\n{i}\n{}", v.value));
    }
    for (i, v) in variations.iter().enumerate() {
        if variations[..i].iter().any(|o| o.id == v.id) {
            return Err(invalid(format!("`variations[{i}]._id` `{}` is used by another variation", v.id)));
        }
    }
    Ok(variations)
}

impl FlagSpec {
    /// Every variation index named anywhere must exist; rollouts must total 100%; rules,
    /// clauses and targets within their limits (`rules::check`, which checks the targets' indices).
    fn check_indices(&self) -> Result<(), Error> {
        let n = self.variations.len();
        for (env, c) in &self.environments {
            if let Some(off) = c.off_variation.filter(|off| *off >= n) {
                return Err(invalid(format!(
                    "`environments.{env}.offVariation`: variation {off} does not exist (the flag has {n})"
                )));
            }
            rules::check_serve(&c.fallthrough, &format!("`environments.{env}.fallthrough`"), n)?;
            rules::check(&self.key, env, c, n)?;
        }
        Ok(())
    }
}

fn parse_env(flag_key: &str, env: &str, v: &Value) -> Result<EnvironmentConfig, Error> {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        // Accept LaunchDarkly's optional fields being absent.
        o.entry("on").or_insert(json!(false));
        o.entry("fallthrough").or_insert(json!({"variation": 0}));
        o.entry("offVariation").or_insert(Value::Null);
    }
    rules::check_rule_fields(env, &v)?;
    let mut config: EnvironmentConfig = serde_json::from_value(v).map_err(|e| {
        invalid(format!(
            "`environments.{env}` is invalid: {e} (expected on, offVariation, prerequisites, targets, contextTargets, rules: [{{clauses: [{{contextKind, attribute, op, values, negate}}], variation or rollout}}], fallthrough: {{variation}} or {{rollout: {{variations: [{{variation, weight}}], kind, seed, contextKind, bucketBy}}}}, trackEvents, trackEventsFallthrough)"
        ))
    })?;
    rules::assign_rule_ids(flag_key, env, &mut config)?;
    Ok(config)
}

/// The flags of one environment in the SDK data model: what prerequisites are read from.
pub fn environment_data<'a>(flags: impl IntoIterator<Item = &'a Flag>, env: &str) -> AllData {
    AllData {
        flags: flags.into_iter().map(|f| (f.spec.key.clone(), f.sdk(env))).collect(),
        segments: Default::default(),
    }
}

impl Flag {
    pub fn create(project: &str, spec: FlagSpec, now_ms: i64, salt: Option<String>) -> Flag {
        let salt = salt.unwrap_or_else(|| {
            crate::credentials::digest(&format!("salt\n{project}\n{}", spec.key))[..32].to_owned()
        });
        Flag {
            spec,
            salt,
            version: 1,
            creation_date: now_ms,
        }
    }

    pub fn env(&self, env: &str) -> EnvironmentConfig {
        self.spec.environments.get(env).cloned().unwrap_or_default()
    }

    /// Evaluate for a context (LaunchDarkly context JSON) in an environment, with the other
    /// flags of the same environment in `store` (for prerequisites). The flag's own SDK model is
    /// taken from `store` when it holds this version (`environment_data` built it), else made here.
    pub fn evaluate_in(&self, env: &str, store: &impl Store, context: &Value) -> Detail {
        match store.flag(&self.spec.key) {
            Some(data) if data.version == self.version => crate::targeting::evaluate(store, data, context),
            _ => crate::targeting::evaluate(store, &self.sdk(env), context),
        }
    }

    /// Evaluate a flag alone (no prerequisites can pass).
    pub fn evaluate(&self, env: &str, context: &Value) -> Detail {
        self.evaluate_in(env, &AllData::default(), context)
    }

    /// Allocation of an experiment rollout in an environment: (variation, weight) of tracked slots.
    pub fn experiment_allocation(&self, env: &str) -> Option<Vec<(usize, u32)>> {
        match self.env(env).fallthrough {
            VariationOrRollout::Rollout { rollout } if rollout.kind == RolloutKind::Experiment => {
                Some(
                    rollout
                        .variations
                        .iter()
                        .filter(|s| !s.untracked)
                        .map(|s| (s.variation, s.weight))
                        .collect(),
                )
            }
            _ => None,
        }
    }
}

impl Resource for Flag {
    const KIND: &'static str = "flag";
    const SERVER_FIELDS: &'static [&'static str] = SERVER_FIELDS;
    type Spec = FlagSpec;
    type Rep<'a> = FlagRep<'a>;

    fn version(&self) -> u64 {
        self.version
    }
    fn spec(&self) -> &FlagSpec {
        &self.spec
    }
    fn rep(&self, project: &str) -> FlagRep<'_> {
        FlagRep {
            spec: &self.spec,
            salt: &self.salt,
            version: self.version,
            creation_date: self.creation_date,
            links: item_links(format!("/api/v2/flags/{project}"), &self.spec.key),
        }
    }
    fn revised(&self, spec: FlagSpec, _now: i64) -> Self {
        Flag {
            spec,
            version: self.version + 1,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod client_side_tests {
    use super::*;

    #[test]
    fn client_side_availability_defaults_and_validation() {
        let spec = |v: Value| FlagSpec::from_json(&v);
        let f = spec(json!({"key": "f"})).unwrap();
        assert_eq!(f.client_side_availability, ClientSideAvailability::NEW_FLAG);
        let on = spec(json!({"key": "f", "clientSideAvailability": {"usingEnvironmentId": true}})).unwrap();
        assert!(on.client_side_availability.using_environment_id);
        assert!(on.client_side_availability.using_mobile_key);
        let bad = spec(json!({"key": "f", "clientSideAvailability": {"usingEnvironmentId": "yes"}}));
        assert!(bad.unwrap_err().to_string().contains("usingEnvironmentId` must be a boolean"));
        let typo = spec(json!({"key": "f", "clientSideAvailability": {"usingEnvId": true}}));
        assert!(typo.unwrap_err().to_string().contains("`clientSideAvailability.usingEnvId` is not a field"));
        // A flag stored before the setting existed keeps being served to browsers.
        let mut stored = serde_json::to_value(&f).unwrap();
        stored.as_object_mut().unwrap().remove("clientSideAvailability");
        let old: FlagSpec = serde_json::from_value(stored).unwrap();
        assert!(old.client_side_availability.using_environment_id);
        // Patchable like any other field.
        let flag = Flag::create("p", f, 1, None);
        let patched = flag
            .patched("p", &json!([{"op": "replace", "path": "/clientSideAvailability/usingEnvironmentId", "value": true}]), 0)
            .unwrap();
        assert!(patched.spec.client_side_availability.using_environment_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(env: Value) -> Flag {
        let spec = FlagSpec::from_json(
            &json!({"key":"hashKey","variations":[{"value":"a"},{"value":"b"},{"value":"c"}],
            "environments":{"production": env}}),
        )
        .unwrap();
        Flag::create("p", spec, 1, Some("saltyA".into()))
    }

    #[test]
    fn off_target_and_fixed_fallthrough() {
        let f = flag(json!({"on":false,"offVariation":2,"fallthrough":{"variation":0}}));
        let e = f.evaluate("production", &json!({"key":"u"}));
        assert_eq!((e.variation, e.reason), (Some(2), Reason::Off));
        let f = flag(
            json!({"on":true,"targets":[{"values":["vip"],"variation":1}],"fallthrough":{"variation":0}}),
        );
        assert_eq!(
            f.evaluate("production", &json!({"kind":"user","key":"vip"}))
                .reason,
            Reason::TargetMatch
        );
        assert_eq!(
            f.evaluate("production", &json!({"kind":"user","key":"vip"}))
                .value,
            json!("b")
        );
        assert_eq!(
            f.evaluate("production", &json!({"key":"other"})).variation,
            Some(0)
        );
        assert_eq!(
            f.evaluate("staging", &json!({"key":"u"})).reason,
            Reason::Off,
            "no config: off"
        );
    }

    #[test]
    fn rollouts_bucket_like_launchdarkly() {
        // userKeyA buckets to 0.42157587 with salt; 0.09801207 with seed 61.
        let f = flag(json!({"on":true,"fallthrough":{"rollout":{"variations":[
            {"variation":0,"weight":40000},{"variation":1,"weight":60000}]}}}));
        assert_eq!(
            f.evaluate("production", &json!({"key":"userKeyA"}))
                .variation,
            Some(1)
        );
        let f = flag(
            json!({"on":true,"fallthrough":{"rollout":{"kind":"experiment","seed":61,"variations":[
            {"variation":0,"weight":10000},{"variation":1,"weight":90000}]}}}),
        );
        let e = f.evaluate("production", &json!({"key":"userKeyA"}));
        assert_eq!(e.variation, Some(0));
        assert!(e.reason.in_experiment());
        // userKeyC (0.9242641) lands in an untracked slot: served, not in the experiment.
        let f = flag(
            json!({"on":true,"fallthrough":{"rollout":{"kind":"experiment","seed":61,"variations":[
            {"variation":0,"weight":45000},{"variation":1,"weight":45000},{"variation":2,"weight":10000,"untracked":true}]}}}),
        );
        let e = f.evaluate("production", &json!({"key":"userKeyC"}));
        assert_eq!((e.variation, e.reason.in_experiment()), (Some(2), false));
        // A context without the rollout's kind gets bucket 0 and is not in the experiment.
        let e = f.evaluate("production", &json!({"kind":"org","key":"userKeyC"}));
        assert_eq!((e.variation, e.reason.in_experiment()), (Some(0), false));
        assert_eq!(
            f.experiment_allocation("production"),
            Some(vec![(0, 45000), (1, 45000)])
        );
    }

    #[test]
    fn bucket_by_attribute_and_multi_contexts() {
        let f = flag(
            json!({"on":true,"fallthrough":{"rollout":{"bucketBy":"n","contextKind":"org","variations":[
            {"variation":0,"weight":50000},{"variation":1,"weight":50000}]}}}),
        );
        // int attribute 33333 → 0.54771423.
        let ctx = json!({"kind":"multi","user":{"key":"u"},"org":{"key":"o","n":33333}});
        assert_eq!(f.evaluate("production", &ctx).variation, Some(1));
    }

    #[test]
    fn client_json_for_experiments() {
        let f = flag(
            json!({"on":true,"fallthrough":{"rollout":{"kind":"experiment","seed":61,"variations":[
            {"variation":0,"weight":50000},{"variation":1,"weight":50000}]}}}),
        );
        let out = crate::publish::client_flag(&AllData::default(), &f.sdk("production"), &json!({"key":"userKeyA"}), false);
        assert_eq!(
            out,
            json!({"value":"a","variation":0,"version":1,"flagVersion":1,"trackEvents":true,
            "trackReason":true,"reason":{"kind":"FALLTHROUGH","inExperiment":true}})
        );
        let plain = flag(json!({"on":false}));
        assert_eq!(
            crate::publish::client_flag(&AllData::default(), &plain.sdk("production"), &json!({"key":"u"}), true)["reason"],
            json!({"kind":"OFF"})
        );
        assert!(crate::publish::client_flag(&AllData::default(), &plain.sdk("production"), &json!({"key":"u"}), false)
            .get("reason")
            .is_none());
    }

    #[test]
    fn validation() {
        let e = |v: Value| FlagSpec::from_json(&v).unwrap_err().to_string();
        assert_eq!(e(json!({"variations":[]})), "`key` is required");
        assert_eq!(
            e(json!({"key":"f","variations":[{"value":1}]})),
            "`variations` needs at least two variations"
        );
        assert!(e(
            json!({"key":"f","environments":{"p":{"on":true,"fallthrough":{"variation":5}}}})
        )
        .contains("variation 5 does not exist"));
        assert!(e(json!({"key":"f","environments":{"p":{"on":true,"fallthrough":{"rollout":{"variations":[{"variation":0,"weight":5}]}}}}})).contains("must add up to 100000, not 5"));
        assert!(e(json!({"key":"f","environments":{"p":{"on":"yes"}}}))
            .starts_with("`environments.p` is invalid"));
        let f = FlagSpec::from_json(&json!({"key":"f"})).unwrap();
        assert_eq!(f.variations.len(), 2, "boolean by default");
    }

    #[test]
    fn patching_environment_settings() {
        let f = flag(json!({"on":false}));
        let p = f
            .patched(
                "p",
                &json!([{"op":"replace","path":"/environments/production/on","value":true}]),
                0,
            )
            .unwrap();
        assert!(p.env("production").on);
        assert_eq!(p.version, 2);
        assert!(f
            .patched("p", &json!([{"op":"replace","path":"/salt","value":"x"}]), 0)
            .is_err());
    }
}

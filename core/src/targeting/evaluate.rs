//! The evaluator: LaunchDarkly's order — off, prerequisites, individual targets, rules,
//! fallthrough — with segments and prerequisites looked up in a [`Store`]. A prerequisite or
//! segment met again on its own path is a cycle: the evaluation is `MALFORMED_FLAG`, never a loop.

use super::attribute::AttributeRef;
use super::context::EvalContext;
use super::model::{Clause, FlagData, FlagRule, RolloutKind, Segment, SegmentRule, Target, VariationOrRollout};
use super::operators::Op;
use super::reason::{ErrorKind, Reason};
use crate::bucketing::bucket;
use serde_json::Value;
use std::collections::HashMap;

/// Where evaluation finds the flags prerequisites name and the segments clauses name.
pub trait Store {
    fn flag(&self, key: &str) -> Option<&FlagData>;
    fn segment(&self, key: &str) -> Option<&Segment>;
}

/// An environment's flags and segments (the shape of LaunchDarkly's `/sdk/latest-all` body).
/// Empty (`AllData::default()`): a flag evaluated alone, whose prerequisites fail.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AllData {
    #[serde(default)]
    pub flags: HashMap<String, FlagData>,
    #[serde(default)]
    pub segments: HashMap<String, Segment>,
}

impl Store for AllData {
    fn flag(&self, key: &str) -> Option<&FlagData> {
        self.flags.get(key)
    }
    fn segment(&self, key: &str) -> Option<&Segment> {
        self.segments.get(key)
    }
}

/// The outcome: a value (JSON null on an error: the caller's default applies), the variation
/// index served, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub value: Value,
    pub variation: Option<usize>,
    pub reason: Reason,
}

impl Detail {
    pub fn error(kind: ErrorKind) -> Self {
        Detail {
            value: Value::Null,
            variation: None,
            reason: Reason::Error { error_kind: kind },
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.reason, Reason::Error { .. })
    }
}

type Outcome<T> = Result<T, ErrorKind>;

/// Evaluate `flag` for the context JSON `context`.
pub fn evaluate(store: &impl Store, flag: &FlagData, context: &Value) -> Detail {
    match EvalContext::parse(context) {
        Ok(ctx) => Evaluator { store, ctx: &ctx }.flag(flag, &mut vec![flag.key.as_str()]),
        Err(kind) => Detail::error(kind),
    }
}

struct Evaluator<'s, 'c, S: Store> {
    store: &'s S,
    ctx: &'c EvalContext<'c>,
}

impl<'s, 'c, S: Store> Evaluator<'s, 'c, S> {
    /// `path`: the flags whose prerequisites led here (a cycle check).
    fn flag<'f>(&self, flag: &'f FlagData, path: &mut Vec<&'f str>) -> Detail
    where
        's: 'f,
    {
        if !flag.on {
            return off(flag, Reason::Off);
        }
        if let Some(failed) = self.prerequisites(flag, path) {
            return failed;
        }
        if let Some(hit) = self.targets(flag) {
            return hit;
        }
        for (index, rule) in flag.rules.iter().enumerate() {
            match self.rule_matches(rule) {
                Err(kind) => return Detail::error(kind),
                Ok(false) => {}
                Ok(true) => {
                    let reason = Reason::RuleMatch {
                        rule_index: index,
                        rule_id: rule.id.clone(),
                        in_experiment: false,
                    };
                    return self.serve(flag, &rule.serve, reason);
                }
            }
        }
        self.serve(flag, &flag.fallthrough, Reason::Fallthrough { in_experiment: false })
    }

    /// The first prerequisite that fails, as this flag's answer.
    fn prerequisites<'f>(&self, flag: &'f FlagData, path: &mut Vec<&'f str>) -> Option<Detail>
    where
        's: 'f,
    {
        for p in &flag.prerequisites {
            if path.contains(&p.key.as_str()) {
                return Some(Detail::error(ErrorKind::MalformedFlag));
            }
            let failed = || off(flag, Reason::PrerequisiteFailed { prerequisite_key: p.key.clone() });
            let Some(pre) = self.store.flag(&p.key) else {
                return Some(failed());
            };
            path.push(pre.key.as_str());
            let detail = self.flag(pre, path);
            path.pop();
            if detail.is_error() {
                return Some(detail);
            }
            let served = detail.variation.map(|v| v as i64);
            if !pre.on || served != Some(p.variation) {
                return Some(failed());
            }
        }
        None
    }

    /// Individual targets: `contextTargets` in order when there are any (a user-kind entry there
    /// stands for `targets`' list of the same variation), else `targets`.
    fn targets(&self, flag: &FlagData) -> Option<Detail> {
        let hit = |t: &Target| {
            let key = self.ctx.key(t.context_kind.as_deref().unwrap_or("user"))?;
            t.values.iter().any(|v| v == key).then(|| variation(flag, t.variation, Reason::TargetMatch))
        };
        if flag.context_targets.is_empty() {
            return flag.targets.iter().find_map(hit);
        }
        flag.context_targets.iter().find_map(|t| match t.context_kind.as_deref() {
            None | Some("user") => flag.targets.iter().find(|u| u.variation == t.variation).and_then(hit),
            Some(_) => hit(t),
        })
    }

    fn rule_matches(&self, rule: &FlagRule) -> Outcome<bool> {
        self.all_clauses(rule.clauses.as_deref(), &mut Vec::new())
    }

    /// All clauses match (none given: no match). `segments`: the segments on this path.
    fn all_clauses(&self, clauses: Option<&[Clause]>, segments: &mut Vec<String>) -> Outcome<bool> {
        let Some(clauses) = clauses else {
            return Ok(false);
        };
        for clause in clauses {
            if !self.clause(clause, segments)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn clause(&self, clause: &Clause, segments: &mut Vec<String>) -> Outcome<bool> {
        if clause.op == Op::SegmentMatch {
            return Ok(clause.negate != self.any_segment(&clause.values, segments)?);
        }
        let reference = AttributeRef::parse(&clause.attribute, clause.context_kind.is_none())
            .ok_or(ErrorKind::MalformedFlag)?;
        let matches_any = |v: &Value| clause.values.iter().any(|b| clause.op.matches(v, b));
        if reference.is_kind() {
            return Ok(clause.negate != self.ctx.kinds().any(|k| matches_any(&Value::String(k.into()))));
        }
        let kind = clause.context_kind.as_deref().unwrap_or("user");
        let found = self.ctx.of_kind(kind).and_then(|attrs| reference.get(attrs));
        Ok(match found {
            None | Some(Value::Null) => false,
            Some(Value::Array(items)) => clause.negate != items.iter().any(matches_any),
            Some(v) => clause.negate != matches_any(v),
        })
    }

    fn any_segment(&self, keys: &[Value], segments: &mut Vec<String>) -> Outcome<bool> {
        for key in keys.iter().filter_map(Value::as_str) {
            let Some(segment) = self.store.segment(key) else { continue };
            if segments.iter().any(|s| s == &segment.key) {
                return Err(ErrorKind::MalformedFlag);
            }
            segments.push(segment.key.clone());
            let matched = self.segment(segment, segments);
            segments.pop();
            if matched? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Included lists first, then excluded ones, then the rules.
    fn segment(&self, segment: &Segment, path: &mut Vec<String>) -> Outcome<bool> {
        let listed = |contexts: &[super::model::SegmentTarget], users: &[String]| {
            let in_contexts = contexts.iter().any(|t| {
                self.ctx.key(&t.context_kind).is_some_and(|k| !k.is_empty() && t.values.iter().any(|v| v == k))
            });
            in_contexts || self.ctx.key("user").is_some_and(|k| !k.is_empty() && users.iter().any(|v| v == k))
        };
        if listed(&segment.included_contexts, &segment.included) {
            return Ok(true);
        }
        if listed(&segment.excluded_contexts, &segment.excluded) {
            return Ok(false);
        }
        for rule in &segment.rules {
            if self.segment_rule(segment, rule, path)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A segment rule without clauses matches every context (LaunchDarkly's conformance cases).
    fn segment_rule(&self, segment: &Segment, rule: &SegmentRule, path: &mut Vec<String>) -> Outcome<bool> {
        if !self.all_clauses(Some(rule.clauses.as_deref().unwrap_or_default()), path)? {
            return Ok(false);
        }
        let Some(weight) = rule.weight else {
            return Ok(true);
        };
        let by = rule.bucket_by.as_deref().unwrap_or("key");
        let reference = AttributeRef::parse(by, rule.rollout_context_kind.is_none()).ok_or(ErrorKind::MalformedFlag)?;
        let kind = rule.rollout_context_kind.as_deref().unwrap_or("user");
        let b = self.bucket_of(&reference, kind, &segment.key, &segment.salt, None).0;
        Ok(b < weight as f64 / 100_000.0)
    }

    /// The bucket of the context's `reference` attribute in its `kind` context, and whether the
    /// context has that kind at all.
    fn bucket_of(&self, reference: &AttributeRef, kind: &str, key: &str, salt: &str, seed: Option<i64>) -> (f64, bool) {
        let attrs = self.ctx.of_kind(kind);
        let value = attrs.and_then(|a| reference.get(a));
        let b = value.and_then(|v| bucket(key, salt, seed, v));
        (b.unwrap_or(0.0), attrs.is_some())
    }

    fn serve(&self, flag: &FlagData, serve: &VariationOrRollout, mut reason: Reason) -> Detail {
        if let Some(index) = serve.variation {
            return variation(flag, index, reason);
        }
        let Some(rollout) = serve.rollout.as_ref().filter(|r| !r.variations.is_empty()) else {
            return Detail::error(ErrorKind::MalformedFlag);
        };
        let experiment = rollout.kind == RolloutKind::Experiment;
        // Experiments always bucket by key; old data names `bucketBy` literally.
        let by = if experiment { "key" } else { rollout.bucket_by.as_deref().unwrap_or("key") };
        let Some(reference) = AttributeRef::parse(by, rollout.context_kind.is_none()) else {
            return Detail::error(ErrorKind::MalformedFlag);
        };
        let kind = rollout.context_kind.as_deref().unwrap_or("user");
        let (b, had_context) = self.bucket_of(&reference, kind, &flag.key, &flag.salt, rollout.seed);
        let mut sum = 0.0;
        for slot in &rollout.variations {
            sum += slot.weight as f64 / 100_000.0;
            if b < sum {
                if experiment && had_context && !slot.untracked {
                    reason.set_in_experiment();
                }
                return variation(flag, slot.variation, reason);
            }
        }
        // Past the last bucket (weights short of 100%): the last slot, as the SDKs do.
        let last = rollout.variations.last().expect("checked non-empty");
        if experiment && !last.untracked {
            reason.set_in_experiment();
        }
        variation(flag, last.variation, reason)
    }
}

fn variation(flag: &FlagData, index: i64, reason: Reason) -> Detail {
    match usize::try_from(index).ok().and_then(|i| flag.variations.get(i).map(|v| (i, v))) {
        Some((i, value)) => Detail {
            value: value.clone(),
            variation: Some(i),
            reason,
        },
        None => Detail::error(ErrorKind::MalformedFlag),
    }
}

/// The off variation (none set: a null value and no index, not an error).
fn off(flag: &FlagData, reason: Reason) -> Detail {
    match flag.off_variation {
        Some(index) => variation(flag, index, reason),
        None => Detail {
            value: Value::Null,
            variation: None,
            reason,
        },
    }
}

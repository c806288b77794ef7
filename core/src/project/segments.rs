//! Segment commands (one environment's segments) and the rules that tie segments to flags and to
//! each other: a `segmentMatch` clause names segments of its environment that exist; segments
//! naming segments never make a cycle and nest at most [`MAX_SEGMENT_DEPTH`] deep; a segment a
//! flag or another segment names cannot be deleted.

use super::{experiment_id, Outcome, Project, Record, Verb};
use crate::error::Error;
use crate::flag::FlagSpec;
use crate::resource::{link, Resource, Spec};
use crate::segment::{Segment, SegmentSpec};
use serde_json::{json, Value};

/// How deep segments may name segments (a flag's clause to the deepest segment it reaches).
pub const MAX_SEGMENT_DEPTH: usize = 10;

impl Project {
    pub(super) fn segments_verb(&mut self, project: &str, env: &str, verb: Verb, now: i64) -> Result<Outcome, Error> {
        let at = format!("{project}/{env}");
        match verb {
            Verb::List { query } => {
                crate::query::none(&query)?;
                let items: Vec<Value> = self.env_segments(env).map(|s| s.to_rep(&at)).collect();
                Ok(Outcome::read(json!({"items": items, "totalCount": items.len(),
                    "_links": {"self": link(Segment::collection(project, env))}})))
            }
            Verb::Get { key } => Ok(Outcome::read(self.segment(env, &key)?.to_rep(&at))),
            Verb::Create { body } => {
                let spec = SegmentSpec::from_json(&body)?;
                let id = experiment_id(env, &spec.key);
                if self.segments.contains_key(&id) {
                    return Err(Error::Conflict(format!(
                        "a segment with key `{}` already exists in environment `{env}`",
                        spec.key
                    )));
                }
                self.check_segment_references(env, &spec)?;
                let segment = Segment::create(project, env, spec, now);
                let value = segment.to_rep(&at);
                self.segments.insert(id.clone(), segment);
                Ok(Outcome { value, changed: vec![Record::Segment(id)] })
            }
            Verb::Patch { key, body, semantic } => {
                let current = self.segment(env, &key)?;
                let next = if semantic {
                    crate::resource::instructed(current, &at, |doc| crate::semantic::segment(doc, &body), now)?
                } else {
                    current.patched(&at, &body, now)?
                };
                let value = next.to_rep(&at);
                if next.version == current.version {
                    return Ok(Outcome::read(value));
                }
                self.check_segment_references(env, &next.spec)?;
                let id = experiment_id(env, &key);
                self.segments.insert(id.clone(), next);
                Ok(Outcome { value, changed: vec![Record::Segment(id)] })
            }
            Verb::Delete { key } => self.delete_segment(env, &key),
        }
    }

    fn segment(&self, env: &str, key: &str) -> Result<&Segment, Error> {
        self.segments
            .get(&experiment_id(env, key))
            .ok_or_else(|| Error::NotFound(format!("segment `{key}` not found in environment `{env}`")))
    }

    /// The segments of one environment, by key.
    pub(crate) fn env_segments<'a>(&'a self, env: &str) -> impl Iterator<Item = &'a Segment> + 'a {
        let prefix = format!("{env}:");
        self.segments.range(prefix.clone()..).take_while(move |(id, _)| id.starts_with(&prefix)).map(|(_, s)| s)
    }

    fn delete_segment(&mut self, env: &str, key: &str) -> Result<Outcome, Error> {
        self.segment(env, key)?;
        let flags = self.flags.values().filter(|f| {
            f.spec.environments.get(env).is_some_and(|c| c.rules.iter().any(|r| crate::flag::segments_named(&r.clauses).any(|s| s == key)))
        });
        let segments = self.env_segments(env).filter(|s| s.spec.segments_named().any(|s| s == key));
        let users: Vec<String> = flags
            .map(|f| format!("flag `{}`", f.spec.key))
            .chain(segments.map(|s| format!("segment `{}`", s.spec.key)))
            .collect();
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "segment `{key}` is used by {} in environment `{env}`: remove it there first",
                users.join(", ")
            )));
        }
        let id = experiment_id(env, key);
        self.segments.remove(&id);
        Ok(Outcome { value: Value::Null, changed: vec![Record::Segment(id)] })
    }

    /// A segment's `segmentMatch` clauses name segments of `env` that exist, without a cycle back
    /// to it and within [`MAX_SEGMENT_DEPTH`].
    fn check_segment_references(&self, env: &str, spec: &SegmentSpec) -> Result<(), Error> {
        for (i, rule) in spec.rules.iter().enumerate() {
            for named in crate::flag::segments_named(&rule.clauses) {
                if named == spec.key {
                    return Err(Error::invalid(format!("`rules[{i}]`: a segment cannot name itself")));
                }
                self.segment(env, named).map_err(|_| {
                    Error::invalid(format!("`rules[{i}]`: segment `{named}` does not exist in environment `{env}`"))
                })?;
            }
        }
        let mut path = vec![spec.key.as_str()];
        self.walk_segments(env, spec.segments_named().collect(), &mut path, &spec.key)
            .map_err(|m| Error::invalid(format!("`rules` {m}")))
    }

    /// Depth-first through the segments `named` (the path so far in `path`): a cycle back to
    /// `root` or a path deeper than the limit is an error message.
    fn walk_segments<'a>(&'a self, env: &str, named: Vec<&'a str>, path: &mut Vec<&'a str>, root: &str) -> Result<(), String> {
        for key in named {
            if key == root {
                return Err(format!("would make a cycle: {} → {key}", path.join(" → ")));
            }
            if path.contains(&key) {
                continue;
            }
            if path.len() >= MAX_SEGMENT_DEPTH {
                return Err(format!("nest segments more than {MAX_SEGMENT_DEPTH} deep: {} → {key}", path.join(" → ")));
            }
            let Ok(segment) = self.segment(env, key) else { continue };
            path.push(key);
            self.walk_segments(env, segment.spec.segments_named().collect(), path, root)?;
            path.pop();
        }
        Ok(())
    }

    /// A flag's `segmentMatch` clauses name segments that exist in their environment.
    pub(super) fn check_flag_segments(&self, spec: &FlagSpec) -> Result<(), Error> {
        for (env, config) in &spec.environments {
            for (i, rule) in config.rules.iter().enumerate() {
                for named in crate::flag::segments_named(&rule.clauses) {
                    self.segment(env, named).map_err(|_| {
                        Error::invalid(format!("`environments.{env}.rules[{i}]`: segment `{named}` does not exist in environment `{env}`"))
                    })?;
                }
            }
        }
        Ok(())
    }
}

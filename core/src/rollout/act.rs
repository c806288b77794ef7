//! A human's instructions on a guarded rollout (`PATCH .../measured-rollouts/{id}`): `pause`,
//! `resume`, `advanceStage`, `rollBack`, `dismissRegression {metricKey}`, each with an optional
//! `comment`; each one a transition with its author. Unknown kinds and fields are refused.

use super::{Applied, MeasuredRollout, Status};
use crate::error::Error;
use serde_json::Value;

const KINDS: &str = "pause, resume, advanceStage, rollBack, dismissRegression";

/// Apply one instruction at `at` (its position, for errors); `body_comment`: the patch's own
/// `comment`, used when the instruction has none.
pub fn instruction(r: &mut MeasuredRollout, ins: &Value, (at, body_comment): (&str, Option<&str>), member: Option<String>, now: i64) -> Result<Applied, Error> {
    let fields = ins.as_object().ok_or_else(|| Error::invalid(format!("`{at}` must be an object")))?;
    let kind = fields.get("kind").and_then(Value::as_str).ok_or_else(|| Error::invalid(format!("`{at}.kind` is required")))?;
    let known: &[&str] = if kind == "dismissRegression" { &["kind", "comment", "metricKey"] } else { &["kind", "comment"] };
    if let Some(other) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::invalid(format!("`{at}.{other}` is not a field of `{kind}`")));
    }
    let comment = fields.get("comment").and_then(Value::as_str).or(body_comment).map(str::to_owned);
    let said = |default: &str| comment.clone().unwrap_or_else(|| default.to_owned());
    let conflict = |what: &str| Error::Conflict(format!("guarded rollout `{}` is {}: cannot {what}", r.id, serde_json::json!(r.status).as_str().unwrap_or_default()));
    match kind {
        "pause" | "resume" => {
            if r.status != Status::Monitoring {
                return Err(conflict(kind));
            }
            let pause = kind == "pause";
            if r.paused == pause {
                return Ok(Applied::Nothing);
            }
            r.paused = pause;
            r.record(now, if pause { "paused" } else { "resumed" }, member, said(if pause { "Paused" } else { "Resumed" }));
            Ok(Applied::State)
        }
        "advanceStage" => {
            if !r.active() {
                return Err(conflict("advance"));
            }
            let from = r.current_stage_index;
            r.stages[from].ended_at = Some(now);
            if from + 1 >= r.stages.len() {
                r.end(Status::Completed, "advanced by a human", now);
                r.record(now, "completed", member, said("Advanced past the last stage by a human"));
            } else {
                r.current_stage_index += 1;
                r.stages[from + 1].started_at = Some(now);
                r.status = Status::Monitoring;
                r.hold_reason = None;
                r.record(now, "stage.advanced", member, said("Advanced by a human"));
            }
            Ok(Applied::Traffic)
        }
        "rollBack" => {
            if !r.active() {
                return Err(conflict("roll back"));
            }
            r.end(Status::RolledBack, "rolled back by a human", now);
            r.record(now, "rolledBack", member, said("Rolled back by a human"));
            Ok(Applied::Traffic)
        }
        "dismissRegression" => {
            let key = fields.get("metricKey").and_then(Value::as_str).ok_or_else(|| Error::invalid(format!("`{at}.metricKey` is required for `dismissRegression`")))?;
            if !r.active() {
                return Err(conflict("dismiss a regression"));
            }
            let g = r.metrics.iter_mut().find(|g| g.metric_key == key).ok_or_else(|| Error::invalid(format!("`{at}.metricKey`: `{key}` is not a guardrail of this rollout")))?;
            g.dismissed = true;
            r.status = Status::Monitoring;
            r.record(now, "regressionDismissed", member, said(&format!("Regression of {key} dismissed: the rollout continues")));
            Ok(Applied::State)
        }
        other => Err(Error::invalid(format!("`{at}.kind`: `{other}` is not a guarded-rollout instruction (supported: {KINDS})"))),
    }
}

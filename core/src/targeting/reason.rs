//! Evaluation reasons, worded as LaunchDarkly's SDKs and evalx answer them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErrorKind {
    /// The flag data cannot be evaluated (a bad index, a cycle, no fallthrough).
    MalformedFlag,
    /// The context is missing or invalid.
    UserNotSpecified,
    FlagNotFound,
}

/// Why a flag evaluated as it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Reason {
    Off,
    TargetMatch,
    #[serde(rename_all = "camelCase")]
    RuleMatch {
        rule_index: usize,
        rule_id: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        in_experiment: bool,
    },
    #[serde(rename_all = "camelCase")]
    PrerequisiteFailed { prerequisite_key: String },
    #[serde(rename_all = "camelCase")]
    Fallthrough {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        in_experiment: bool,
    },
    #[serde(rename_all = "camelCase")]
    Error { error_kind: ErrorKind },
}

impl Reason {
    /// Served by an experiment rollout's tracked bucket: the evaluation is an exposure.
    pub fn in_experiment(&self) -> bool {
        matches!(
            self,
            Reason::RuleMatch {
                in_experiment: true,
                ..
            } | Reason::Fallthrough {
                in_experiment: true
            }
        )
    }

    pub(crate) fn set_in_experiment(&mut self) {
        if let Reason::RuleMatch { in_experiment, .. } | Reason::Fallthrough { in_experiment } = self {
            *in_experiment = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn worded_as_launchdarkly() {
        let rule = Reason::RuleMatch { rule_index: 1, rule_id: "r".into(), in_experiment: true };
        assert_eq!(serde_json::to_value(&rule).unwrap(), json!({"kind": "RULE_MATCH", "ruleIndex": 1, "ruleId": "r", "inExperiment": true}));
        let failed = Reason::PrerequisiteFailed { prerequisite_key: "p".into() };
        assert_eq!(serde_json::to_value(&failed).unwrap(), json!({"kind": "PREREQUISITE_FAILED", "prerequisiteKey": "p"}));
        let error = Reason::Error { error_kind: ErrorKind::MalformedFlag };
        assert_eq!(serde_json::to_value(&error).unwrap(), json!({"kind": "ERROR", "errorKind": "MALFORMED_FLAG"}));
        assert_eq!(serde_json::to_value(Reason::Fallthrough { in_experiment: false }).unwrap(), json!({"kind": "FALLTHROUGH"}));
    }
}

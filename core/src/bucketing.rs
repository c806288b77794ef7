//! LaunchDarkly-compatible bucketing for percentage and experiment rollouts.
//!
//! bucket = int(first 15 hex digits of SHA-1(input)) / 0xFFFFFFFFFFFFFFF, where input is
//! `{flagKey}.{salt}.{value}`, or `{seed}.{value}` when the rollout has a seed (experiments).
//! `value` is the context's `bucketBy` attribute (default `key`; experiments always use `key`):
//! strings as they are, integers as decimal strings; anything else buckets to 0.
//! Weights are in units of 1/100000; the first variation whose cumulative weight exceeds the
//! bucket wins (the last one if rounding leaves none).
//!
//! Seed 0: LaunchDarkly's JavaScript SDKs ignore a seed of 0 (`seed ? ... : ...`) while the Python
//! and Go SDKs honour it; this follows Python/Go (any present seed is used).

use serde_json::Value;
use sha1::{Digest, Sha1};

const LONG_SCALE: f64 = 0xFFF_FFFF_FFFF_FFFF_u64 as f64;

/// The bucket in [0, 1) for an attribute value, or `None` when the value cannot be bucketed
/// (treated as bucket 0 by callers).
pub fn bucket(flag_key: &str, salt: &str, seed: Option<i64>, value: &Value) -> Option<f64> {
    let id = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => (f as i64).to_string(),
            _ => return None,
        },
        _ => return None,
    };
    let input = match seed {
        Some(seed) => format!("{seed}.{id}"),
        None => format!("{flag_key}.{salt}.{id}"),
    };
    let hash = hex::encode(Sha1::digest(input.as_bytes()));
    let prefix = u64::from_str_radix(&hash[..15], 16).ok()?;
    Some(prefix as f64 / LONG_SCALE)
}

/// One weighted slot of a rollout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedVariation {
    pub variation: usize,
    pub weight: u32,
    pub untracked: bool,
}

/// Pick the slot for a bucket: the first whose cumulative weight / 100000 exceeds it.
pub fn pick(slots: &[WeightedVariation], bucket: f64) -> Option<WeightedVariation> {
    let mut sum = 0.0;
    for slot in slots {
        sum += f64::from(slot.weight) / 100_000.0;
        if bucket < sum {
            return Some(*slot);
        }
    }
    slots.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn close(a: Option<f64>, b: f64) {
        let a = a.unwrap();
        assert!((a - b).abs() < 1e-7, "{a} vs {b}");
    }

    /// Vectors from LaunchDarkly's Python SDK tests (test_evaluator_bucketing.py).
    #[test]
    fn launchdarkly_vectors() {
        close(
            bucket("hashKey", "saltyA", None, &json!("userKeyA")),
            0.42157587,
        );
        close(
            bucket("hashKey", "saltyA", None, &json!("userKeyB")),
            0.6708485,
        );
        close(
            bucket("hashKey", "saltyA", None, &json!("userKeyC")),
            0.10343106,
        );
        close(
            bucket("hashKey", "saltyA", Some(61), &json!("userKeyA")),
            0.09801207,
        );
        close(
            bucket("hashKey", "saltyA", Some(61), &json!("userKeyB")),
            0.14483777,
        );
        close(
            bucket("hashKey", "saltyA", Some(61), &json!("userKeyC")),
            0.9242641,
        );
        close(bucket("hashKey", "saltyA", None, &json!(33333)), 0.54771423);
        close(
            bucket("hashKey", "saltyA", None, &json!(33333.0)),
            0.54771423,
        );
    }

    #[test]
    fn unbucketable_values() {
        assert_eq!(bucket("f", "s", None, &json!(true)), None);
        assert_eq!(bucket("f", "s", None, &json!(1.5)), None);
        assert_eq!(bucket("f", "s", None, &json!(null)), None);
    }

    #[test]
    fn picking_walks_cumulative_weights() {
        let slots = [
            WeightedVariation {
                variation: 0,
                weight: 30_000,
                untracked: false,
            },
            WeightedVariation {
                variation: 1,
                weight: 70_000,
                untracked: false,
            },
        ];
        assert_eq!(pick(&slots, 0.0).unwrap().variation, 0);
        assert_eq!(pick(&slots, 0.299_999).unwrap().variation, 0);
        assert_eq!(pick(&slots, 0.3).unwrap().variation, 1);
        assert_eq!(pick(&slots, 0.999_999).unwrap().variation, 1);
        let short = [WeightedVariation {
            variation: 2,
            weight: 10,
            untracked: false,
        }];
        assert_eq!(
            pick(&short, 0.9).unwrap().variation,
            2,
            "rounding falls to the last slot"
        );
        assert_eq!(pick(&[], 0.5), None);
    }
}

//! JSON Patch (RFC 6902) over a resource's representation, shared by every patchable resource
//! (metrics, flags): the optimistic-concurrency `test` of `/_version`, applying the operations,
//! and refusing changes to server-set fields. The caller re-validates the patched document.

use serde_json::{json, Value};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum PatchError {
    /// 400: malformed patch, failed operation or forbidden field.
    #[error("{0}")]
    Invalid(String),
    /// 409: a `test` of `/_version` did not match.
    #[error("at version {current}, not {expected}: reload and retry")]
    Version { current: u64, expected: Value },
}

/// Apply `patch` (a bare operation array, or `{"comment": ..., "patch": [...]}`) to `before`, the
/// resource's representation at `version`. Fields in `server_fields` must come out unchanged.
pub fn apply(
    before: &Value,
    patch: &Value,
    version: u64,
    server_fields: &[&str],
) -> Result<Value, PatchError> {
    let invalid = |m: String| PatchError::Invalid(m);
    let ops = match patch {
        Value::Array(_) => patch,
        Value::Object(o) => o.get("patch").filter(|p| p.is_array()).ok_or_else(|| {
            invalid("body must be a JSON Patch array, or {\"patch\": [...]}".into())
        })?,
        _ => return Err(invalid("body must be a JSON Patch array".into())),
    };
    for op in ops.as_array().into_iter().flatten() {
        if op.get("op") == Some(&json!("test")) && op.get("path") == Some(&json!("/_version")) {
            let expected = op.get("value").cloned().unwrap_or(Value::Null);
            if expected != json!(version) {
                return Err(PatchError::Version {
                    current: version,
                    expected,
                });
            }
        }
    }
    let parsed: json_patch::Patch = serde_json::from_value(ops.clone())
        .map_err(|e| invalid(format!("invalid JSON Patch: {e}")))?;
    let mut doc = before.clone();
    json_patch::patch(&mut doc, &parsed).map_err(|e| {
        invalid(format!(
            "patch operation {} failed: {}",
            e.operation, e.kind
        ))
    })?;
    for field in server_fields {
        if doc.get(field) != before.get(field) {
            return Err(invalid(format!(
                "`{field}` is set by the server and cannot be patched"
            )));
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_and_guards() {
        let before = json!({"_version": 2, "name": "a", "tags": []});
        let after = apply(
            &before,
            &json!([{"op":"replace","path":"/name","value":"b"}]),
            2,
            &["_version"],
        )
        .unwrap();
        assert_eq!(after["name"], "b");
        assert!(matches!(
            apply(
                &before,
                &json!([{"op":"test","path":"/_version","value":1}]),
                2,
                &[]
            ),
            Err(PatchError::Version { current: 2, .. })
        ));
        assert_eq!(
            apply(
                &before,
                &json!([{"op":"replace","path":"/_version","value":3}]),
                2,
                &["_version"]
            ),
            Err(PatchError::Invalid(
                "`_version` is set by the server and cannot be patched".into()
            ))
        );
        let wrapped = json!({"comment": "x", "patch": [{"op":"add","path":"/tags/-","value":"t"}]});
        assert_eq!(
            apply(&before, &wrapped, 2, &[]).unwrap()["tags"],
            json!(["t"])
        );
        assert!(apply(&before, &json!("x"), 2, &[]).is_err());
    }
}

//! JSON Patch (RFC 6902) over a resource's representation, shared by every patchable resource
//! (metrics, flags): the optimistic-concurrency `test` of `/_version`, applying the operations,
//! and refusing changes to server-set fields. The caller re-validates the patched document.

use serde_json::{json, Value};
use thiserror::Error;

/// Largest representation a patchable resource may have (JSON bytes). Checked after every patch
/// operation, so an amplifying patch (`copy` of a list into itself, repeated) is refused at the
/// first operation that crosses it instead of growing the document exponentially.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Most operations one patch may carry.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Error, PartialEq)]
pub enum PatchError {
    /// 400: malformed patch, failed operation or forbidden field.
    #[error("{0}")]
    Invalid(String),
    /// 413: the document would exceed [`MAX_DOCUMENT_BYTES`].
    #[error("{0}")]
    TooLarge(String),
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
    if parsed.0.len() > MAX_OPERATIONS {
        return Err(invalid(format!(
            "a patch may carry at most {MAX_OPERATIONS} operations, not {}",
            parsed.0.len()
        )));
    }
    let mut doc = before.clone();
    for (i, op) in parsed.0.iter().enumerate() {
        json_patch::patch(&mut doc, std::slice::from_ref(op)).map_err(|e| {
            invalid(format!("patch operation {i} failed: {}", e.kind))
        })?;
        check_size(&doc, &format!("after patch operation {i}"))?;
    }
    for field in server_fields {
        if doc.get(field) != before.get(field) {
            return Err(invalid(format!(
                "`{field}` is set by the server and cannot be patched"
            )));
        }
    }
    Ok(doc)
}

/// The JSON size of `doc`, counted without building the text.
pub fn json_size(doc: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a sink that cannot fail does not fail.
    let _ = serde_json::to_writer(&mut count, doc);
    count.0
}

/// Refuse a document over [`MAX_DOCUMENT_BYTES`]; `when` says which step made it so.
pub fn check_size(doc: &Value, when: &str) -> Result<(), PatchError> {
    let size = json_size(doc);
    if size > MAX_DOCUMENT_BYTES {
        return Err(PatchError::TooLarge(format!(
            "the document would be {size} bytes {when}; at most {MAX_DOCUMENT_BYTES} are allowed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amplifying_patches_stop_at_the_cap() {
        let before = json!({"_version": 1, "tags": ["x".repeat(100)]});
        // 30 copies of /tags into itself would double the document 30 times (~100 GB).
        let ops: Vec<Value> = (0..30)
            .map(|_| json!({"op": "copy", "from": "/tags", "path": "/tags/-"}))
            .collect();
        let err = apply(&before, &json!(ops), 1, &[]).unwrap_err();
        let PatchError::TooLarge(message) = err else {
            panic!("expected TooLarge, got {err:?}")
        };
        assert!(message.contains("after patch operation 11"), "{message}");
        assert!(message.contains("at most 262144"), "{message}");
        let many: Vec<Value> = (0..1001)
            .map(|_| json!({"op": "test", "path": "/_version", "value": 1}))
            .collect();
        assert!(matches!(apply(&before, &json!(many), 1, &[]), Err(PatchError::Invalid(_))));
        assert_eq!(json_size(&json!({"a": [1, "b"]})), r#"{"a":[1,"b"]}"#.len());
    }

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

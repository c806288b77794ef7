//! Commands as JSON, for the tests of `project` and `openapi`.

use serde_json::{json, Value};

/// A REST verb on project `p`'s `metrics` or `flags`, or on environment `prod`'s `experiments`.
pub fn rest(op: &str, verb: Value) -> Value {
    let mut command = json!({"op": op, "project": "p", "verb": verb});
    if op == "experiments" || op == "segments" {
        command["env"] = json!("prod");
    }
    command
}

pub fn create(op: &str, body: Value) -> Value {
    rest(op, json!({"verb": "create", "body": body}))
}

/// The experiments command in environment `env` instead.
pub fn in_env(env: &str, mut command: Value) -> Value {
    command["env"] = json!(env);
    command
}

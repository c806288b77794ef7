//! Helpers over a Durable Object's SQLite storage (`SqlStorage`), shared by the classes that
//! keep rows: counter shards and history shards.

use worker::wasm_bindgen::{closure::Closure, JsCast, JsValue};
use worker::{js_sys, Result, SqlStorage, SqlStorageValue, State};

/// Bound parameters per SQL statement (the platform allows 100).
pub const SQL_PARAMS: usize = 90;

/// `(?, ?, …)` with `n` placeholders.
pub fn placeholders(n: usize) -> String {
    let mut s = "?,".repeat(n);
    s.pop();
    format!("({s})")
}

/// `query` (ending in `IN`) over `keys`, in statements of at most [`SQL_PARAMS`] parameters.
pub fn select_in<T: serde::de::DeserializeOwned>(
    sql: &SqlStorage,
    query: &str,
    keys: &[&str],
) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(SQL_PARAMS) {
        let statement = format!("{query} {}", placeholders(chunk.len()));
        rows.extend(
            sql.exec(&statement, strings(chunk.iter().copied()))?
                .to_array::<T>()?,
        );
    }
    Ok(rows)
}

pub fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<SqlStorageValue> {
    items.into_iter().map(SqlStorageValue::from).collect()
}

/// Run the statements in one SQLite transaction (`storage.transactionSync`): all or none.
pub fn transaction(state: &State, writes: Vec<(String, Vec<SqlStorageValue>)>) -> Result<()> {
    let storage = state.storage();
    let sql = storage.sql();
    let body = Closure::once_into_js(move || -> std::result::Result<(), JsValue> {
        for (statement, params) in writes {
            sql.exec(&statement, params).map_err(JsValue::from)?;
        }
        Ok(())
    });
    let raw: &JsValue = storage.as_raw().as_ref();
    let run: js_sys::Function =
        js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))?.dyn_into()?;
    run.call1(raw, &body)?;
    Ok(())
}

/// A stored row that does not parse is a defect: fail the command (the queue retries it and the
/// error is logged) rather than go on from a wrong starting point.
pub fn parse_row<T: serde::de::DeserializeOwned>(what: &str, key: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        worker::Error::RustError(format!("stored {what} of `{key}` does not parse: {e}"))
    })
}

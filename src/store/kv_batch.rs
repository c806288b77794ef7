//! Many KV writes behind one await.
//!
//! `worker::KvStore::put(..).execute()` is one Rust future per write; under load (a consumer
//! batch writes up to 800 exposure histories) the futures' wake-ups, closures and options
//! objects cost the isolate more CPU than the writes' own calls (profiled with the inspector).
//! Here every `put` of a chunk is started at once and a single `Promise.all` waits for them.

use crate::error::ApiError;
use worker::js_sys::{Array, Function, Object, Promise, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

/// How many writes are in flight at once (one `Promise.all` each).
const CHUNK: usize = 64;

/// One write: key, value, absolute expiration (Unix seconds, see `super::kv_expiration`).
pub struct Put {
    pub key: String,
    pub value: String,
    pub expiration: u64,
}

/// Write every entry to the KV namespace bound as `binding`; fails if any write fails.
pub async fn put_all(env: &Env, binding: &str, puts: Vec<Put>) -> Result<(), ApiError> {
    if puts.is_empty() {
        return Ok(());
    }
    let namespace = Reflect::get(env.as_ref(), &JsValue::from_str(binding)).map_err(js)?;
    let put: Function = Reflect::get(&namespace, &JsValue::from_str("put"))
        .map_err(js)?
        .dyn_into()
        .map_err(|_| ApiError::internal(format!("KV binding `{binding}` is missing")))?;
    let expiration = JsValue::from_str("expiration");
    for chunk in puts.chunks(CHUNK) {
        let pending = Array::new();
        for p in chunk {
            let options = Object::new();
            Reflect::set(
                &options,
                &expiration,
                &JsValue::from_f64(p.expiration as f64),
            )
            .map_err(js)?;
            let key = JsValue::from_str(&p.key);
            let value = JsValue::from_str(&p.value);
            pending.push(&put.call3(&namespace, &key, &value, &options).map_err(js)?);
        }
        JsFuture::from(Promise::all(&pending)).await.map_err(js)?;
    }
    Ok(())
}

fn js(e: JsValue) -> ApiError {
    ApiError::from(worker::Error::from(e))
}

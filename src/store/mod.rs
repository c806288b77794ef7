//! Storage adapters over Workers KV. Each module owns one kind of record.

pub mod bot_filter;
pub mod config;
pub mod counters;
pub mod exposures;
pub mod feed;
pub mod frozen;
pub mod histories;
pub mod kv_batch;
pub mod payloads;
pub mod projects;
pub mod published;
pub mod rollouts;
pub mod shards;
pub mod sql;
pub mod streams;
pub mod webhooks;

use crate::error::ApiError;
use edge_exp_core::Error;
use serde::{de::DeserializeOwned, Serialize};
use worker::{Env, KvStore, ListOptions, Method, Request, RequestInit, Response, Storage};

/// Tenancy and credentials (projects, environments, hashed keys and tokens).
pub const CONFIG_KV: &str = "CONFIG";
/// Exposure histories for first-variation attribution.
pub const ATTRIBUTION_KV: &str = "ATTRIBUTION";
/// Payload IDs already processed (24 h).
pub const PAYLOADS_KV: &str = "PAYLOADS";
/// The live event feed (one short-lived entry per payload).
pub const FEED_KV: &str = "FEED";
/// Frozen counts of iterations whose counts are final.
pub const RESULTS_KV: &str = "RESULTS";
/// KV's limit on key length: longer keys are refused by KV, so lookups check it first.
pub const MAX_KV_KEY_BYTES: usize = 512;

thread_local! {
    static SKIPPED_RECORDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Parse a stored record. One that does not parse (written by an incompatible version) is
/// skipped, never silently: it is logged with its key and counted ([`skipped_records`], shown
/// by `GET /api/v2/ops/ingest`).
pub fn parse_stored<T: DeserializeOwned>(key: &str, text: &str) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            worker::console_error!("skipped stored record `{key}`: {e}");
            SKIPPED_RECORDS.with(|n| n.set(n.get() + 1));
            None
        }
    }
}

/// Every JSON text record a Durable Object stores under `prefix` (key-value storage), parsed,
/// with its key in full; a record that does not parse is skipped as [`parse_stored`] says.
pub async fn stored_under<T: DeserializeOwned>(
    storage: &Storage,
    prefix: &str,
) -> worker::Result<Vec<(String, T)>> {
    let stored = storage
        .list_with_options(ListOptions::new().prefix(prefix))
        .await?;
    let mut items = Vec::new();
    for entry in stored.entries() {
        let pair = worker::js_sys::Array::from(&entry?);
        if let (Some(key), Some(text)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            if let Some(item) = parse_stored(&key, &text) {
                items.push((key, item));
            }
        }
    }
    Ok(items)
}

/// Stored records this isolate skipped because they did not parse.
pub fn skipped_records() -> u64 {
    SKIPPED_RECORDS.with(|n| n.get())
}

/// Random lowercase hex from the runtime's CSPRNG.
pub fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf)
        .map_err(|e| ApiError::internal(format!("no random source: {e}")))?;
    Ok(hex::encode(buf))
}

pub fn kv(env: &Env, binding: &str) -> Result<KvStore, ApiError> {
    env.kv(binding)
        .map_err(|e| ApiError::internal(format!("KV binding `{binding}` is missing: {e}")))
}

/// KV `expiration` is absolute Unix seconds and must be at least 60 s in the future.
pub fn kv_expiration(expires_at_ms: i64, now_ms: i64) -> u64 {
    let min = now_ms / 1000 + 61;
    (expires_at_ms / 1000 + 1).max(min).max(0) as u64
}

/// A Durable Object class of this Worker: its namespace binding and the commands it takes. Every
/// call goes through [`ObjectClass::call`], so an object is only ever sent its own commands.
#[allow(async_fn_in_trait)] // wasm is single-threaded: no `Send` bound to promise
pub trait ObjectClass {
    /// The namespace's binding name in wrangler.toml.
    const BINDING: &'static str;
    type Command: Serialize;

    /// Send `command` to the object `name`; its answer, parsed.
    async fn call<T: DeserializeOwned>(
        env: &Env,
        name: &str,
        command: &Self::Command,
    ) -> Result<T, ApiError> {
        call_object(env, Self::BINDING, name, command).await
    }
}

/// Send a JSON command to the Durable Object `name` of namespace `binding`. Every object answers
/// 200 with `{"Ok": value}` or `{"Err": core error}` ([`serve`]): the error comes back as the
/// object made it. Anything else is the runtime's own failure.
async fn call_object<T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    command: &impl Serialize,
) -> Result<T, ApiError> {
    let stub = env
        .durable_object(binding)?
        .id_from_name(name)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(serde_json::to_string(command)?.into()));
    let mut resp = stub
        .fetch_with_request(Request::new_with_init("https://object/command", &init)?)
        .await?;
    let status = resp.status_code();
    let text = resp.text().await?;
    match serde_json::from_str::<Result<T, Error>>(&text) {
        Ok(answer) if status == 200 => answer.map_err(ApiError),
        _ => Err(ApiError::internal(format!(
            "object `{binding}` answered {status}: {}",
            text.chars().take(300).collect::<String>()
        ))),
    }
}

/// The glue of a counters' Durable Object class (the struct carries `#[durable_object(fetch)]`,
/// and only the builds with `exports_counters` export it): its
/// [`ObjectClass`] binding and command type, `new` with the state and every other field
/// `Default` (empty caches), and `fetch` answering each command with the class's
/// `async fn execute(&self, command) -> Result<impl Serialize, ApiError>` through [`serve`].
macro_rules! object_class {
    ($class:ident, $binding:literal, $command:ty, [$($field:ident),*]) => {
        impl $crate::store::ObjectClass for $class {
            const BINDING: &'static str = $binding;
            type Command = $command;
        }

        #[cfg(exports_counters)]
        impl worker::DurableObject for $class {
            fn new(state: worker::State, _env: worker::Env) -> Self {
                $class { state, $($field: Default::default()),* }
            }

            async fn fetch(&self, req: worker::Request) -> worker::Result<worker::Response> {
                $crate::store::serve(req, async |command: $command| self.execute(command).await)
                    .await
            }
        }
    };
}
pub(crate) use object_class;

/// A Durable Object's `fetch`: read its command, run it, and answer the result serialised for
/// [`ObjectClass::call`] (an error as the core error it is; a command the object cannot read is an
/// internal error, as both ends are this Worker).
pub async fn serve<C: DeserializeOwned, T: Serialize>(
    mut req: Request,
    run: impl AsyncFnOnce(C) -> Result<T, ApiError>,
) -> worker::Result<Response> {
    let result = match req.json::<C>().await {
        Ok(command) => run(command).await,
        Err(e) => Err(ApiError::internal(format!("unreadable command: {e}"))),
    };
    Response::from_json(&result.map_err(|e| e.0))
}

//! Each environment's bot filter (`core::bots::BotFilter`), in CONFIG KV under
//! `botfilter:{project}:{env}`; an environment that never wrote one gets the deployment's
//! default (the `BOT_FILTER` var: `on`, the default, or `off`). Read on every browser request,
//! so each isolate keeps what it read for [`CACHE_MS`]: a change reaches every isolate within
//! that plus KV's own propagation (up to about 60 s); the isolate that wrote it sees it at once.
//!
//! Beside it, under `botcontrol:{project}:{env}`, the environment's running experiments with a
//! bot setting of their own (serving bots their control, or overriding the filter:
//! `core::bots::serve_control`, `core::bots::overrides`), written by the project's object whenever
//! an experiment changes and read, with the same cache, with the filter (every browser request:
//! a cache hit but for one KV read per isolate every [`CACHE_MS`]).

use super::{kv, CONFIG_KV};
use crate::error::ApiError;
use crate::http::now_ms;
use crate::store::config::Tenant;
use edge_exp_core::bots::serve_control::BotControls;
use edge_exp_core::bots::BotFilter;
use edge_exp_core::Error;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::Env;

/// How long an isolate trusts the filter it read.
pub const CACHE_MS: i64 = 30_000;

/// An isolate's copies by KV key, with when each was read.
type Cache<T> = RefCell<HashMap<String, (Rc<T>, i64)>>;

thread_local! {
    static CACHE: Cache<BotFilter> = RefCell::new(HashMap::new());
    static CONTROLS: Cache<BotControls> = RefCell::new(HashMap::new());
}

fn key(tenant: &Tenant) -> String {
    format!("botfilter:{}:{}", tenant.project, tenant.env)
}

fn controls_key(project: &str, env: &str) -> String {
    format!("botcontrol:{project}:{env}")
}

/// `key` from this isolate's copy in `cache` when read less than [`CACHE_MS`] ago, else from KV
/// (`absent` when KV has none, or a record that does not parse), kept in `cache`.
async fn cached<T: serde::de::DeserializeOwned>(
    env: &Env,
    cache: &'static std::thread::LocalKey<Cache<T>>,
    key: String,
    absent: impl FnOnce() -> Result<T, ApiError>,
) -> Result<Rc<T>, ApiError> {
    let now = now_ms();
    let hit = cache.with(|c| {
        c.borrow()
            .get(&key)
            .filter(|(_, at)| now - at < CACHE_MS)
            .map(|(v, _)| v.clone())
    });
    if let Some(value) = hit {
        return Ok(value);
    }
    let stored = kv(env, CONFIG_KV)?.get(&key).text().await?;
    let value = match stored.and_then(|text| crate::store::parse_stored(&key, &text)) {
        Some(value) => value,
        None => absent()?,
    };
    let value = Rc::new(value);
    remember(cache, key, value.clone(), now);
    Ok(value)
}

/// Keep `value` as this isolate's copy of `key` as of `at` (what it just read or wrote).
fn remember<T>(
    cache: &'static std::thread::LocalKey<Cache<T>>,
    key: String,
    value: Rc<T>,
    at: i64,
) {
    cache.with(|c| c.borrow_mut().insert(key, (value, at)));
}

/// The deployment's default: `BOT_FILTER` = `on` (or unset) or `off`; anything else is refused
/// rather than guessed.
fn default_filter(env: &Env) -> Result<BotFilter, ApiError> {
    let setting = env
        .var("BOT_FILTER")
        .map(|v| v.to_string())
        .unwrap_or_default();
    match setting.as_str() {
        "" | "on" => Ok(BotFilter::default()),
        "off" => Ok(BotFilter {
            enabled: false,
            ..BotFilter::default()
        }),
        other => Err(ApiError(Error::Internal(format!(
            "the BOT_FILTER var must be `on` or `off`, not `{other}`"
        )))),
    }
}

/// The environment's filter, from this isolate's copy when fresh.
pub async fn read(env: &Env, tenant: &Tenant) -> Result<Rc<BotFilter>, ApiError> {
    cached(env, &CACHE, key(tenant), || default_filter(env)).await
}

/// Store the environment's filter (this isolate uses it from now on).
pub async fn write(env: &Env, tenant: &Tenant, filter: BotFilter) -> Result<(), ApiError> {
    let key = key(tenant);
    kv(env, CONFIG_KV)?
        .put(&key, serde_json::to_string(&filter)?)?
        .execute()
        .await?;
    remember(&CACHE, key, Rc::new(filter), now_ms());
    Ok(())
}

/// The environment's experiments with a bot setting of their own (none if never written).
pub async fn controls(env: &Env, tenant: &Tenant) -> Result<Rc<BotControls>, ApiError> {
    let key = controls_key(&tenant.project, &tenant.env);
    cached(env, &CONTROLS, key, || Ok(BotControls::default())).await
}

/// Store an environment's controls (the project's object, after an experiment changed).
pub async fn write_controls(
    env: &Env,
    (project, env_key): (&str, &str),
    controls: &BotControls,
) -> Result<(), ApiError> {
    let key = controls_key(project, env_key);
    let store = kv(env, CONFIG_KV)?;
    if controls.is_empty() {
        store.delete(&key).await?;
    } else {
        store
            .put(&key, serde_json::to_string(controls)?)?
            .execute()
            .await?;
    }
    remember(&CONTROLS, key, Rc::new(controls.clone()), now_ms());
    Ok(())
}

/// Forget this isolate's copies of the bot controls (the edge Worker, after passing a write to
/// the REST Worker, whose project object may have rewritten them).
#[cfg(feature = "edge")]
pub fn forget_controls() {
    CONTROLS.with(|c| c.borrow_mut().clear());
}

//! Each environment's bot filter (`core::bots::BotFilter`), in CONFIG KV under
//! `botfilter:{project}:{env}`; an environment that never wrote one gets the deployment's
//! default (the `BOT_FILTER` var: `on`, the default, or `off`). Read on every browser request,
//! so each isolate keeps what it read for [`CACHE_MS`]: a change reaches every isolate within
//! that plus KV's own propagation (up to about 60 s); the isolate that wrote it sees it at once.

use super::{kv, CONFIG_KV};
use crate::error::ApiError;
use crate::http::now_ms;
use crate::store::config::Tenant;
use edge_exp_core::bots::BotFilter;
use edge_exp_core::Error;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::Env;

/// How long an isolate trusts the filter it read.
pub const CACHE_MS: i64 = 30_000;

thread_local! {
    static CACHE: RefCell<HashMap<String, (Rc<BotFilter>, i64)>> = RefCell::new(HashMap::new());
}

fn key(tenant: &Tenant) -> String {
    format!("botfilter:{}:{}", tenant.project, tenant.env)
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
    let key = key(tenant);
    let now = now_ms();
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(&key)
            .filter(|(_, at)| now - at < CACHE_MS)
            .map(|(f, _)| f.clone())
    });
    if let Some(filter) = hit {
        return Ok(filter);
    }
    let stored = kv(env, CONFIG_KV)?.get(&key).text().await?;
    let filter = match stored.and_then(|text| crate::store::parse_stored(&key, &text)) {
        Some(filter) => filter,
        None => default_filter(env)?,
    };
    let filter = Rc::new(filter);
    CACHE.with(|c| c.borrow_mut().insert(key, (filter.clone(), now)));
    Ok(filter)
}

/// Store the environment's filter (this isolate uses it from now on).
pub async fn write(env: &Env, tenant: &Tenant, filter: BotFilter) -> Result<(), ApiError> {
    let key = key(tenant);
    kv(env, CONFIG_KV)?
        .put(&key, serde_json::to_string(&filter)?)?
        .execute()
        .await?;
    CACHE.with(|c| c.borrow_mut().insert(key, (Rc::new(filter), now_ms())));
    Ok(())
}

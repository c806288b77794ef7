//! Bots on the browser-facing routes (evalx, browser streams, browser events): each request's
//! signals read once, classified by `core::bots` under its environment's filter, and counted in
//! this isolate's figures. Nothing here writes: a bot's request is classified before any KV or
//! Durable Object write is made for it. Server and mobile SDK routes are never classified (every
//! LaunchDarkly server SDK's user agent looks like a bot's).

use crate::error::ApiError;
use crate::http::header;
use crate::ingest::STATS;
use crate::store::{bot_filter, config::Tenant};
use edge_exp_core::bots::{self, BotManagement, BotReason, Signals};
use worker::{Env, Request};

/// Classify a browser request for `tenant`: `Some(reason)` if it is a bot's.
pub async fn classify(
    req: &Request,
    env: &Env,
    tenant: &Tenant,
) -> Result<Option<BotReason>, ApiError> {
    let filter = bot_filter::read(env, tenant).await?;
    if !filter.enabled {
        return Ok(None);
    }
    let user_agent = header(req, "User-Agent");
    let signature_agent = header(req, "Signature-Agent");
    let signature_input = header(req, "Signature-Input");
    let cf = req.cf();
    let verified_bot_category = cf.and_then(|cf| cf.verified_bot_category());
    let bot_management = cf
        .and_then(|cf| cf.bot_management())
        .map(|b| BotManagement {
            score: b.score(),
            verified_bot: b.verified_bot(),
            corporate_proxy: b.corporate_proxy(),
        });
    let signals = Signals {
        user_agent: user_agent.as_deref(),
        signature_agent: signature_agent.as_deref(),
        signature_input: signature_input.as_deref(),
        verified_bot_category: verified_bot_category.as_deref(),
        bot_management,
    };
    let reason = bots::classify(&filter, &signals);
    STATS.with(|s| s.borrow_mut().bots.classified(reason.as_ref()));
    Ok(reason)
}

/// Make a bot's evaluations ask for nothing to be recorded (`core::bots::untracked`).
pub fn untrack(flags: &mut serde_json::Map<String, serde_json::Value>, with_reasons: bool) {
    bots::untracked(flags, with_reasons);
    STATS.with(|s| s.borrow_mut().bots.untracked_evaluations += flags.len() as u64);
}

/// Count the valid events of a bot's payload, dropped.
pub fn dropped(events: usize) {
    STATS.with(|s| s.borrow_mut().bots.dropped_events += events as u64);
}

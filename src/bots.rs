//! Bots on the browser-facing routes (evalx, browser streams, browser events): each request's
//! signals read once, classified by `core::bots` under its environment's filter, and counted in
//! this isolate's figures. Nothing here writes: a bot's request is classified before any KV or
//! Durable Object write is made for it. Server and mobile SDK routes are never classified by
//! their signals (every LaunchDarkly server SDK's user agent looks like a bot's): there, only a
//! context the environment's `contextAttribute` flags is a bot's, event by event ([`flagged`]).

use crate::error::ApiError;
use crate::http::{header, now_ms};
use crate::ingest::STATS;
use crate::store::{bot_filter, config::Tenant};
use edge_exp_core::bots::excluded::would_be_exposures;
use edge_exp_core::bots::serve_control::BotControls;
use edge_exp_core::bots::{self, context_flag, BotManagement, BotReason, Signals};
use edge_exp_core::event::{Batch, Event};
use edge_exp_core::queued::Tags;
use edge_exp_core::targeting::AllData;
use std::rc::Rc;
use worker::{Env, Request};

/// Classify a browser request for `tenant`: `Some(reason)` if it is a bot's, by its signals
/// or, when it evaluates one, by its `context` (the environment's `contextAttribute`).
pub async fn classify(
    req: &Request,
    env: &Env,
    tenant: &Tenant,
    context: Option<&serde_json::Value>,
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
        automation: edge_exp_core::query::automation(req.url()?.query().unwrap_or("")),
    };
    let reason = bots::classify(&filter, &signals)
        .or_else(|| context.and_then(|c| filter.context_reason(c)));
    STATS.with(|s| s.borrow_mut().bots.classified(reason.as_ref()));
    Ok(reason)
}

/// A bot's evaluations: queue the exposures its SDK would have sent as exclusions (`ingest`:
/// counted per iteration by reason and by the variation it was bucketed into, nothing attributed
/// or counted), serve the control of the experiments that opted in, and ask for nothing to be
/// recorded (`core::bots::untracked`). The controls it served.
pub async fn untrack(
    env: &Env,
    (tenant, data): (&Tenant, &AllData),
    (context, reason): (&serde_json::Value, &BotReason),
    flags: &mut serde_json::Map<String, serde_json::Value>,
    with_reasons: bool,
) -> Result<Rc<BotControls>, ApiError> {
    let now = now_ms();
    if let Ok(ctx) = edge_exp_core::Context::from_context(context) {
        let exposures = would_be_exposures(flags, &ctx, now);
        if !exposures.is_empty() {
            let id = format!("r:{}", crate::store::random_hex(16)?);
            let code = reason.to_string();
            let tags = Tags {
                excluded: Some(&code),
                ..Tags::default()
            };
            crate::ingest::enqueue_queued(env, tenant, (&id, now), exposures, tags).await?;
        }
    }
    untrack_only(env, (tenant, data), flags, with_reasons).await
}

/// [`untrack`] without the exclusions (a stream's later updates: its opening counted them).
pub async fn untrack_only(
    env: &Env,
    (tenant, data): (&Tenant, &AllData),
    flags: &mut serde_json::Map<String, serde_json::Value>,
    with_reasons: bool,
) -> Result<Rc<BotControls>, ApiError> {
    let controls = bot_filter::controls(env, tenant).await?;
    let served = controls.serve(flags, data);
    bots::untracked(flags, with_reasons);
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.bots.untracked_evaluations += flags.len() as u64;
        s.bots.served_control += served as u64;
    });
    Ok(controls)
}

/// Count the valid events of a bot's payload, dropped.
pub fn dropped(events: usize) {
    STATS.with(|s| s.borrow_mut().bots.dropped_events += events as u64);
}

/// The events of contexts the environment's `contextAttribute` flags as bots' (any route but the
/// metric import), split off the batch: `(kept, their events, the reason)`; the batch whole when
/// none is flagged or no attribute is named.
pub async fn flagged<'a>(
    env: &Env,
    tenant: &Tenant,
    body: &[u8],
    batch: Batch<'a>,
) -> Result<(Batch<'a>, Vec<Event<'a>>, Option<BotReason>), ApiError> {
    let filter = bot_filter::read(env, tenant).await?;
    let Some(attribute) = filter.context_attribute() else {
        return Ok((batch, Vec::new(), None));
    };
    let flags = context_flag::flagged_items(&String::from_utf8_lossy(body), attribute);
    if !flags.contains(&true) {
        return Ok((batch, Vec::new(), None));
    }
    let (kept, bots) = context_flag::split_off(batch, &flags);
    let reason = BotReason::ContextAttribute(attribute.to_owned());
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        *s.bots.by_reason.entry(reason.to_string()).or_default() += 1;
        s.bots.dropped_events += bots.len() as u64;
    });
    Ok((kept, bots, Some(reason)))
}

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
use edge_exp_core::bots::overrides::{self, Verdict};
use edge_exp_core::bots::serve_control::BotControls;
use edge_exp_core::bots::{self, context_flag, BotFilter, BotManagement, BotReason, Signals};
use edge_exp_core::event::{Batch, Event};
use edge_exp_core::queued::Tags;
use edge_exp_core::targeting::AllData;
use std::rc::Rc;
use worker::{Env, Request};

/// Classify a browser request for `tenant`: the environment's verdict and each overriding
/// experiment's (`core::bots::overrides`), by its signals or, when it evaluates one, by its
/// `context` (the environment's `contextAttribute`); with the experiments' bot settings read for
/// it (the same cached copy the evaluations are then untracked by).
pub async fn classify(
    req: &Request,
    env: &Env,
    tenant: &Tenant,
    context: Option<&serde_json::Value>,
) -> Result<Classified, ApiError> {
    let filter = bot_filter::read(env, tenant).await?;
    let controls = bot_filter::controls(env, tenant).await?;
    if !filter.enabled && controls.overrides().next().is_none() {
        return Ok(Classified {
            verdict: Verdict::default(),
            controls,
        });
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
        automation: edge_exp_core::query::automation(&crate::http::query(req)),
    };
    let by_context = |f: &BotFilter| context.and_then(|c| f.context_reason(c));
    let verdict = overrides::verdict(&filter, &controls, &signals, by_context);
    if filter.enabled {
        STATS.with(|s| s.borrow_mut().bots.classified(verdict.env.as_ref()));
    }
    Ok(Classified { verdict, controls })
}

/// A request's verdicts and the experiments' bot settings they were made with.
pub struct Classified {
    pub verdict: Verdict,
    pub controls: Rc<BotControls>,
}

impl Classified {
    /// A bot's, for the environment or in some experiment.
    pub fn any_bot(&self) -> bool {
        self.verdict.any_bot()
    }
}

/// A request's evaluations under its verdict (`core::bots::untrack_by_verdict`): those of a bot
/// (in their experiment) served as anyone's, or their experiment's control where it opted in,
/// with nothing asked to be recorded; the exposures their SDK would have sent queued as
/// exclusions (counted per iteration by reason and by the variation bucketed into, nothing
/// attributed or counted) when `context` is given (a stream's later updates pass none: its
/// opening counted them).
pub async fn untrack(
    env: &Env,
    (tenant, data): (&Tenant, &AllData),
    (classified, context): (&Classified, Option<&serde_json::Value>),
    flags: &mut serde_json::Map<String, serde_json::Value>,
    with_reasons: bool,
) -> Result<(), ApiError> {
    let now = now_ms();
    let units = context
        .and_then(|c| edge_exp_core::Context::from_context(c).ok())
        .map(|ctx| edge_exp_core::queued::units(&ctx));
    let at = (&classified.verdict, &*classified.controls);
    let done = bots::untrack_by_verdict(flags, at, data, (units.as_deref(), now), with_reasons);
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.bots.untracked_evaluations += done.evaluations as u64;
        s.bots.served_control += done.served_control as u64;
    });
    for (code, exposures) in done.exposures {
        let id = format!("r:{}", crate::store::random_hex(16)?);
        let tags = Tags {
            excluded: Some(&code),
            ..Tags::default()
        };
        crate::ingest::enqueue_queued(env, tenant, (&id, now), exposures, tags).await?;
    }
    Ok(())
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

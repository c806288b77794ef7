//! The Cloudflare Worker: a thin adapter from HTTP + Workers KV to `edge-exp-core`.
//! Entry point only; routing lives in `router`.
//!
//! Built four times (README "Four Workers"; the roles are cfgs made by build.rs): the edge
//! Worker (feature `edge`: the SDK routes, everything else passed on, `router::forward`), the
//! REST Worker (`api`), the objects Worker (`objects`: the projects' and streams' Durable
//! Objects) and the counters Worker (`counters`: the counting objects, the guarded rollouts', the
//! Cron Trigger). With no feature, one Worker does all four.

// A role's build compiles the code the other roles' routes and objects share with it: what only
// the others use is dead there (and only there).
#![cfg_attr(
    any(
        feature = "edge",
        feature = "api",
        feature = "objects",
        feature = "counters"
    ),
    allow(dead_code, unused_imports)
)]

mod bots;
mod error;
mod http;
mod ingest;
mod router;
mod routes;
mod store;

use worker::{
    event, Context, Env, MessageBatch, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(router::handle(req, &env).await)
}

/// The ingest queue's consumer. It never returns an error (workers-rs would panic on one):
/// failed messages are retried individually.
// The counters Worker's (README "Four Workers"): it runs next to the shards it writes.
#[cfg(exports_counters)]
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    ingest::consume(batch, &env).await;
    Ok(())
}

/// The Cron Trigger (every 5 minutes): the guarded rollouts' watchdog re-arms any rollout object
/// whose alarm is missing or late (`store::rollouts::watchdog`).
// The edge build keeps it too (without a Cron Trigger of its own, wrangler.edge.toml): `wrangler
// dev` runs the primary Worker's handler on `/__scheduled`, and the edge Worker is the primary.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match store::rollouts::watchdog(&env).await {
        Ok(0) => {}
        Ok(n) => worker::console_log!("guarded rollouts: {n} alarm(s) re-armed by the watchdog"),
        Err(e) => worker::console_error!("guarded rollouts watchdog failed: {:?}", e.0),
    }
}

//! The Cloudflare Worker: a thin adapter from HTTP + Workers KV to `edge-exp-core`.
//! Entry point only; routing lives in `router`.

mod bots;
mod error;
mod http;
mod ingest;
mod router;
mod routes;
mod store;

use worker::{event, Context, Env, MessageBatch, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(router::handle(req, &env).await)
}

/// The ingest queue's consumer. It never returns an error (workers-rs would panic on one):
/// failed messages are retried individually.
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    ingest::consume(batch, &env).await;
    Ok(())
}

//! The Cloudflare Worker: a thin adapter from HTTP + Workers KV to `edge-exp-core`.
//! Entry point only; routing lives in `router`.

mod counting;
mod error;
mod http;
mod router;
mod routes;
mod store;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(router::handle(req, &env).await)
}

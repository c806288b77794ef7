//! LaunchDarkly's browser streaming routes, served by the isolate that takes the request:
//! - `GET /eval/{clientSideId}/{base64url(context)}` and `REPORT /eval/{clientSideId}` (the
//!   context as the body): a `put` of every flag evaluated for the context, then a `patch` or
//!   `delete` whenever an evaluation changes (`core::publish::client_stream`);
//! - `GET /ping/{clientSideId}`: a `ping` whenever the environment's flags change, or its
//!   experiments' bot settings (which change what evalx answers a bot), on which the SDK
//!   fetches evalx again.
//!
//! No Durable Object holds these streams: every open page would otherwise be on one object. Each
//! stream wakes every [`CHECK_MS`] and compares the environment's published version through the
//! isolate's copy (`store::published`: a cache hit, or one KV read a second per isolate), so a
//! change reaches an open page within [`CHECK_MS`] plus the published data's staleness bound.
//! A wake-up that finds nothing new costs microseconds of CPU; the stream's wall time is not
//! billed. A heartbeat comment every [`HEARTBEAT_MS`] keeps proxies and the SDK's 5-minute read
//! timeout from closing it.

use crate::bots::Classified;
use crate::error::ApiError;
use crate::http::now_ms;
use crate::routes::{auth, sdk};
use crate::store::bot_filter;
use crate::store::config::Tenant;
use crate::store::published::{self, Doc};
use edge_exp_core::bots::serve_control::BotControls;
use edge_exp_core::publish::client_stream::ClientStream;
use edge_exp_core::publish::evalx_map;
use edge_exp_core::query::EvalxQuery;
use edge_exp_core::targeting::AllData;
use futures_util::stream;
use serde_json::Value;
use std::rc::Rc;
use std::time::Duration;
use worker::{Delay, Env, Headers, Request, Response};

/// How often an open stream compares the published version.
pub const CHECK_MS: u64 = 1_000;
/// How often an idle stream gets a heartbeat comment.
pub const HEARTBEAT_MS: i64 = 30_000;

/// What a stream sends when the flags change.
enum Kind {
    /// Evaluations for one context (`/eval`).
    Eval {
        context: Value,
        with_reasons: bool,
        /// A bot's stream (`crate::bots`): its evaluations ask for nothing to be recorded.
        bot: Option<BotStream>,
        sent: ClientStream,
    },
    /// A `ping` (`/ping`), also when the experiments' bot settings change (what evalx answers
    /// a bot, or in an overriding experiment anyone, then changes): the settings last seen.
    Ping {
        tenant: Tenant,
        controls: Rc<BotControls>,
    },
}

/// A bot's stream (a bot's for the environment or in some experiment): its tenant, its verdict
/// as of the stream's opening, and the experiments' bot settings when its evaluations were last
/// sent (a change of those is a change of what it is served).
struct BotStream {
    tenant: Tenant,
    classified: Classified,
}

struct Open {
    env: Env,
    doc: Doc,
    version: u64,
    kind: Kind,
    last_write: i64,
    first: Option<String>,
}

/// `/eval/{clientSideId}[/{context}]`.
pub async fn eval(
    req: &mut Request,
    env: &Env,
    client_side_id: &str,
    encoded: Option<&str>,
) -> Result<Response, ApiError> {
    let context = sdk::context_of(req, encoded).await?;
    let with_reasons = EvalxQuery::parse(&crate::http::query(req))?.with_reasons;
    let tenant = auth::client_side_id(env, client_side_id).await?;
    let doc = Doc::sdk(&tenant);
    let classified = crate::bots::classify(req, env, &tenant, Some(&context)).await?;
    let data = published::read(env, &doc).await?;
    let mut evaluations = evalx_map(&data.data, &context, with_reasons);
    let bot = if classified.any_bot() {
        let at = (&classified, Some(&context));
        let served = (&tenant, &*data.data);
        crate::bots::untrack(env, served, at, &mut evaluations, with_reasons).await?;
        Some(BotStream { tenant, classified })
    } else {
        None
    };
    let (sent, put) = ClientStream::open(&evaluations);
    let kind = Kind::Eval {
        context,
        with_reasons,
        bot,
        sent,
    };
    respond(env, doc, data.pointer.version, kind, put)
}

/// The context's evaluations after a change; a bot's (classified when the stream opened)
/// record nothing, served by the experiments' bot settings `controls` (as just read).
async fn evaluate(
    env: &Env,
    data: &AllData,
    (context, with_reasons): (&serde_json::Value, bool),
    bot: Option<(&BotStream, Rc<BotControls>)>,
) -> Result<Flags, ApiError> {
    let mut flags = evalx_map(data, context, with_reasons);
    if let Some((bot, controls)) = bot {
        let now = Classified {
            verdict: bot.classified.verdict.clone(),
            controls,
        };
        let served = (&bot.tenant, data);
        crate::bots::untrack(env, served, (&now, None), &mut flags, with_reasons).await?;
    }
    Ok(flags)
}

type Flags = serde_json::Map<String, serde_json::Value>;

/// `/ping/{clientSideId}`.
pub async fn ping(env: &Env, client_side_id: &str) -> Result<Response, ApiError> {
    let tenant = auth::client_side_id(env, client_side_id).await?;
    let doc = Doc::sdk(&tenant);
    let version = published::read(env, &doc).await?.pointer.version;
    let controls = bot_filter::controls(env, &tenant).await?;
    // A ping at the start: the SDK fetches what it may have missed while it was disconnected.
    respond(
        env,
        doc,
        version,
        Kind::Ping { tenant, controls },
        "event: ping\ndata: \n\n".into(),
    )
}

fn respond(
    env: &Env,
    doc: Doc,
    version: u64,
    kind: Kind,
    first: String,
) -> Result<Response, ApiError> {
    let open = Open {
        env: env.clone(),
        doc,
        version,
        kind,
        last_write: now_ms(),
        first: Some(first),
    };
    let body = stream::unfold(open, |mut open| async move {
        let chunk = next_chunk(&mut open).await;
        Some((Ok::<Vec<u8>, worker::Error>(chunk.into_bytes()), open))
    });
    let headers = Headers::new();
    headers.set("Content-Type", "text/event-stream; charset=utf-8")?;
    headers.set("Cache-Control", "no-cache")?;
    headers.set("X-Accel-Buffering", "no")?;
    Ok(Response::from_stream(body)?.with_headers(headers))
}

/// Wait for something to send: the first event, a change, or a heartbeat.
async fn next_chunk(open: &mut Open) -> String {
    if let Some(first) = open.first.take() {
        return first;
    }
    loop {
        Delay::from(Duration::from_millis(CHECK_MS)).await;
        let now = now_ms();
        let events = changes(open).await;
        if !events.is_empty() {
            open.last_write = now;
            return events;
        }
        if now - open.last_write >= HEARTBEAT_MS {
            open.last_write = now;
            return ":\n\n".into();
        }
    }
}

/// The events a new publication (or a change of the experiments' bot settings, on a bot's
/// `/eval` stream and on every `/ping` stream) brings this stream: empty if none, or if the data
/// could not be read this time (the next wake-up tries again).
async fn changes(open: &mut Open) -> String {
    let data = match published::read(&open.env, &open.doc).await {
        Ok(data) => data,
        Err(e) => {
            worker::console_error!("browser stream could not read flags: {:?}", e.0);
            return String::new();
        }
    };
    let controls_changed = match bot_controls_changed(open).await {
        Ok(changed) => changed,
        Err(e) => {
            worker::console_error!("browser stream could not read bot controls: {:?}", e.0);
            return String::new();
        }
    };
    if data.pointer.version == open.version && controls_changed.is_none() {
        return String::new();
    }
    let (context, with_reasons, bot, sent) = match &mut open.kind {
        Kind::Eval {
            context,
            with_reasons,
            bot,
            sent,
        } => (context, with_reasons, bot, sent),
        Kind::Ping { controls, .. } => {
            if let Some(now) = controls_changed {
                *controls = now;
            }
            open.version = data.pointer.version;
            return "event: ping\ndata: \n\n".into();
        }
    };
    // A bot's evaluations are served by the settings as they are now (just read if changed).
    let bot_now = bot.as_ref().map(|b| {
        let controls = controls_changed.unwrap_or_else(|| b.classified.controls.clone());
        (b, controls)
    });
    let served = bot_now.as_ref().map(|(_, c)| c.clone());
    match evaluate(&open.env, &data.data, (context, *with_reasons), bot_now).await {
        Ok(flags) => {
            // Taken as sent only now: a failed evaluation is tried again at the next wake-up.
            open.version = data.pointer.version;
            if let (Some(bot), Some(served)) = (bot.as_mut(), served) {
                bot.classified.controls = served;
            }
            sent.update(&flags).concat()
        }
        Err(e) => {
            worker::console_error!("browser stream could not evaluate: {:?}", e.0);
            String::new()
        }
    }
}

/// The experiments' bot settings, if they changed since this stream last sent: on a bot's
/// `/eval` stream (what it is served) and on every `/ping` stream; `None` on any other stream.
async fn bot_controls_changed(open: &Open) -> Result<Option<Rc<BotControls>>, ApiError> {
    let (tenant, seen) = match &open.kind {
        Kind::Eval { bot: Some(bot), .. } => (&bot.tenant, &bot.classified.controls),
        Kind::Ping { tenant, controls } => (tenant, controls),
        Kind::Eval { bot: None, .. } => return Ok(None),
    };
    let now = bot_filter::controls(&open.env, tenant).await?;
    Ok((*now != **seen).then_some(now))
}

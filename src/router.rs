//! Path dispatch. Static assets (`www/`) are served by the platform before the Worker runs; every
//! other path lands here. Errors become JSON responses in exactly one place (`http::error`).

use crate::error::ApiError;
use crate::http::{empty, error, json, with_cors, with_date};
use crate::routes::events::Source;
use crate::routes::rest::{self, Scope};
use crate::routes::server_sdk::{self, Item};
use crate::routes::{attribution, auth, client_stream, events, experiments, metrics, sdk, tokens};
use crate::store::config::{self, Role, Tenant};
use crate::store::shards;
use edge_exp_core::project::Command;
use edge_exp_core::Error;
use percent_encoding::percent_decode_str;
use worker::{Env, Method, Request, Response};

pub async fn handle(mut req: Request, env: &Env) -> Response {
    let segments: Vec<String> = req
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    #[cfg(feature = "edge")]
    if !at_edge(&segs) {
        return match forward(&req, env).await {
            Ok(resp) => resp,
            Err(e) => with_date(error(&e)),
        };
    }
    let browser = is_browser_route(&segs);
    let result = if browser && req.method() == Method::Options {
        Ok(empty(204))
    } else {
        match config::ensure_seeded(env).await {
            Ok(()) => dispatch(&mut req, env, &segs).await,
            Err(e) => Err(e),
        }
    };
    let resp = with_date(result.unwrap_or_else(|e| error(&e)));
    if browser {
        with_cors(&req, resp)
    } else {
        resp
    }
}

/// The routes the edge Worker (feature `edge`) serves itself: LaunchDarkly's SDK routes (flag
/// delivery, evaluation, streams, events), the isolates' figures, the health check, and the bot
/// filter's REST route (only the edge reads the filter: written here, the writing isolate uses
/// it at once, as one Worker did); the rest of the REST API, the metric import and the counters'
/// test hooks are the REST Worker's.
#[cfg(feature = "edge")]
fn at_edge(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["sdk", ..]
            | ["eval" | "ping", ..]
            | ["all"]
            | ["bulk" | "mobile" | "diagnostic", ..]
            | ["events", "bulk" | "diagnostic", _]
            | ["api", "v2", "ops", "ingest"]
            | ["api", "v2", "projects", _, "environments", _, "bot-filter"]
            | ["demo", "config.json"]
            | ["healthz"]
            | ["_fault", "panic"]
    )
}

/// Pass a request to the REST Worker (the edge Worker's CONTROL service binding), as it came.
/// After a write, this isolate forgets its copies of what the write may have published (flags,
/// goals, bot controls), so that it serves the change at once, as the writer's isolate always
/// did; other isolates see it within their revalidation bound, as before.
#[cfg(feature = "edge")]
async fn forward(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let resp = pass_behind(req, env).await?;
    if !matches!(req.method(), Method::Get | Method::Head | Method::Options) {
        crate::store::published::forget_all();
        crate::store::bot_filter::forget_controls();
    }
    Ok(resp)
}

/// The Worker behind this one (README "Four Workers"): the edge Worker passes what it does not
/// serve to the REST Worker; the REST Worker asks the objects Worker for its figures.
#[cfg(feature = "edge")]
const BEHIND: &str = "CONTROL";
#[cfg(feature = "api")]
const BEHIND: &str = "OBJECTS";
/// The REST Worker's binding to the counters Worker: asked for the queue consumer's figures.
#[cfg(feature = "api")]
const COUNTERS: &str = "COUNTERS";

/// Pass a request, as it came, to the Worker behind this one ([`BEHIND`]).
#[cfg(any(feature = "edge", feature = "api"))]
async fn pass_behind(req: &Request, env: &Env) -> Result<Response, ApiError> {
    Ok(env.service(BEHIND)?.fetch_request(req.clone()?).await?)
}

/// `GET /api/v2/ops/ingest`: this isolate's ingest pipeline (queued and consumed messages,
/// per-invocation maxima, flag reads, bot filter). The edge Worker (its routes: what they
/// enqueued, flag reads, the bot filter) adds its figures to the REST Worker's, and the REST
/// Worker adds its own and the counters Worker's (the queue consumer's) to the objects Worker's
/// (its objects). The objects and counters Workers check the token.
async fn figures(req: &Request, env: &Env) -> Result<Response, ApiError> {
    get_only(&req.method())?;
    let mine = serde_json::to_value(crate::ingest::stats())?;
    #[cfg(any(feature = "edge", feature = "api"))]
    {
        let mut behind = pass_behind(req, env).await?;
        if behind.status_code() != 200 {
            return Ok(behind);
        }
        let mut figures: serde_json::Value = behind.json().await?;
        #[cfg(feature = "api")]
        {
            let mut counters = env.service(COUNTERS)?.fetch_request(req.clone()?).await?;
            if counters.status_code() != 200 {
                return Ok(counters);
            }
            edge_exp_core::queued::add_figures(&mut figures, &counters.json().await?);
        }
        edge_exp_core::queued::add_figures(&mut figures, &mine);
        Ok(json(200, &figures))
    }
    #[cfg(not(any(feature = "edge", feature = "api")))]
    {
        auth::api_token(req, env, Role::Reader).await?;
        crate::routes::body::no_query(req)?;
        Ok(json(200, &mine))
    }
}

/// Routes called from web pages (public client-side ID, no secret): they get CORS.
fn is_browser_route(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["events", "bulk" | "diagnostic", _] | ["sdk", ..] | ["eval", ..] | ["ping", _]
    )
}

fn post_only(method: &Method) -> Result<(), ApiError> {
    if *method == Method::Post {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed())
    }
}

fn get_only(method: &Method) -> Result<(), ApiError> {
    if *method == Method::Get {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed())
    }
}

fn no_route(method: &Method, segs: &[&str]) -> ApiError {
    ApiError(Error::NotFound(format!(
        "no route for {method} /{}",
        segs.join("/")
    )))
}

async fn dispatch(req: &mut Request, env: &Env, segs: &[&str]) -> Result<Response, ApiError> {
    match segs {
        ["api", "v2", "ops", "ingest"] => figures(req, env).await,
        #[cfg(feature = "edge")]
        ["api", "v2", "projects", project, "environments", env_key, "bot-filter"] => {
            crate::routes::bot_filter::route(req, env, project, env_key).await
        }
        #[cfg(serves_rest)]
        ["api", "v2", rest @ ..] => api(req, env, rest).await,
        #[cfg(serves_sdk)]
        ["sdk", "latest-all" | "latest-flags" | "latest-segments" | "poll" | "stream", ..]
        | ["all"] => server(req, env, segs).await,
        #[cfg(serves_sdk)]
        ["sdk", rest @ ..] => browser_sdk(req, env, rest).await,
        #[cfg(serves_sdk)]
        ["eval" | "ping", ..] => browser_stream(req, env, segs).await,
        _ => ingest_and_service(req, env, segs).await,
    }
}

/// Event ingestion (SDK, browser and import endpoints) and the service's own routes.
async fn ingest_and_service(
    req: &mut Request,
    env: &Env,
    segs: &[&str],
) -> Result<Response, ApiError> {
    let method = req.method();
    match segs {
        #[cfg(serves_sdk)]
        ["bulk"] | ["mobile"] | ["mobile", "events"] | ["mobile", "events", "bulk"] => {
            post_only(&method)?;
            let tenant = auth::sdk_key(req, env).await?;
            events::ingest(req, env, &tenant, Source::Sdk).await
        }
        #[cfg(serves_sdk)]
        ["events", "bulk", client_side_id] => {
            post_only(&method)?;
            let tenant = auth::client_side_id(env, client_side_id).await?;
            events::ingest(req, env, &tenant, Source::Browser).await
        }
        #[cfg(serves_rest)]
        ["v2", "event-data-import", project, env_key] => {
            post_only(&method)?;
            auth::api_token(req, env, Role::Writer).await?;
            crate::routes::rest::require_environment(env, project, env_key).await?;
            let tenant = Tenant {
                project: (*project).into(),
                env: (*env_key).into(),
            };
            events::ingest(req, env, &tenant, Source::Import).await
        }
        // Diagnostics are accepted and ignored.
        #[cfg(serves_sdk)]
        ["diagnostic"] | ["mobile", "events", "diagnostic"] | ["events", "diagnostic", _] => {
            post_only(&method)?;
            Ok(empty(202))
        }
        // The demo pages' configuration: the seed environment's public client-side ID.
        #[cfg(serves_sdk)]
        ["demo", "config.json"] => {
            let id = env
                .var("CLIENT_SIDE_ID")
                .map(|v| v.to_string())
                .unwrap_or_default();
            Ok(json(200, &serde_json::json!({"clientSideId": id})))
        }
        // Test hook (only with FAULT_INJECTION = "1"): a deliberate panic, to show that one
        // failed request does not poison the ones after it (workers-rs reinitialises the Wasm
        // instance after a panic).
        ["_fault", "panic"] if crate::ingest::fault_injection(env) => {
            panic!("deliberate panic (fault injection)")
        }
        // Test hook: make an iteration's shards look as written before their value buckets
        // existed, to show they count them again from the stored values.
        #[cfg(serves_rest)]
        ["_fault", "forget-buckets", project, env_key, experiment, iteration, shards]
            if crate::ingest::fault_injection(env) =>
        {
            let (iteration, shards) = (number(iteration)?, number(shards)?);
            let objects: Vec<String> = (0..shards)
                .map(|k| shards::name(project, env_key, experiment, iteration, k))
                .collect();
            let _: Vec<serde_json::Value> =
                shards::call_each(env, &objects, |_| shards::ShardCommand::ForgetBuckets).await?;
            Ok(empty(204))
        }
        // Test hook: lose a rollout object's alarm, as the platform may, to show the Cron
        // watchdog re-arms it.
        #[cfg(serves_rest)]
        ["_fault", "drop-rollout-alarm", project, env_key, flag]
            if crate::ingest::fault_injection(env) && method == Method::Post =>
        {
            crate::store::rollouts::drop_alarm(env, (project, env_key, flag)).await?;
            Ok(empty(204))
        }
        ["healthz"] => Ok(json(200, &serde_json::json!({"status": "ok"}))),
        _ => Err(no_route(&method, segs)),
    }
}

/// A path segment that must be a whole number.
fn number(segment: &str) -> Result<u32, ApiError> {
    segment.parse().map_err(|_| {
        ApiError(Error::BadRequest(format!(
            "`{segment}` is not a whole number"
        )))
    })
}

/// LaunchDarkly's server SDKs' flag delivery (`routes::server_sdk`).
async fn server(req: &mut Request, env: &Env, segs: &[&str]) -> Result<Response, ApiError> {
    match segs {
        ["sdk", "latest-all"] => server_sdk::latest_all(req, env).await,
        ["sdk", "latest-flags", key] => server_sdk::latest_item(req, env, Item::Flag, key).await,
        ["sdk", "latest-segments", key] => {
            server_sdk::latest_item(req, env, Item::Segment, key).await
        }
        ["sdk", "poll" | "stream"] => server_sdk::fdv2_fallback(),
        ["all"] => server_sdk::stream_all(req, env).await,
        _ => Err(no_route(&req.method(), segs)),
    }
}

/// LaunchDarkly's browser SDK routes under `/sdk/`.
async fn browser_sdk(req: &mut Request, env: &Env, rest: &[&str]) -> Result<Response, ApiError> {
    match rest {
        ["goals", client_side_id] => sdk::goals(req, env, client_side_id).await,
        ["evalx", client_side_id, "contexts", encoded] => {
            sdk::evalx(req, env, client_side_id, Some(encoded)).await
        }
        ["evalx", client_side_id, "context"] => sdk::evalx(req, env, client_side_id, None).await,
        _ => Err(no_route(&req.method(), &[&["sdk"], rest].concat())),
    }
}

/// LaunchDarkly's browser SDKs' streams (`routes::client_stream`).
async fn browser_stream(req: &mut Request, env: &Env, segs: &[&str]) -> Result<Response, ApiError> {
    let method = req.method();
    match (segs, &method) {
        (["eval", client_side_id, encoded], Method::Get) => {
            client_stream::eval(req, env, client_side_id, Some(encoded)).await
        }
        (["eval", client_side_id], Method::Report) => {
            client_stream::eval(req, env, client_side_id, None).await
        }
        (["ping", client_side_id], Method::Get) => client_stream::ping(env, client_side_id).await,
        (["eval", _, _] | ["eval", _] | ["ping", _], _) => Err(ApiError::method_not_allowed()),
        _ => Err(no_route(&method, segs)),
    }
}

/// The REST API under `/api/v2/`.
async fn api(req: &mut Request, env: &Env, rest: &[&str]) -> Result<Response, ApiError> {
    match rest {
        ["metrics", project] => metrics::route(req, env, project, None).await,
        ["metrics", project, key] => metrics::route(req, env, project, Some(key)).await,
        // Flags: rules in `core::flag` and `core::project`, stored in the project's object.
        ["flags", project] => flags(req, env, (project, None)).await,
        ["flags", project, key] => flags(req, env, (project, Some(key))).await,
        // Segments: one environment's, rules in `core::segment` and `core::project`.
        ["segments", project, env_key] => segments(req, env, (project, env_key, None)).await,
        ["segments", project, env_key, key] => {
            segments(req, env, (project, env_key, Some(key))).await
        }
        ["webhooks"] => crate::routes::webhooks::collection(req, env).await,
        ["webhooks", id] => crate::routes::webhooks::item(req, env, id).await,
        // Guarded rollouts of one flag in one environment (LaunchDarkly's measured-rollouts path).
        ["projects", project, "flags", flag, "environments", env_key, "measured-rollouts", rest @ ..] => {
            crate::routes::rollouts::route(req, env, (project, env_key, flag), rest).await
        }
        ["tokens"] => tokens::collection(req, env).await,
        ["tokens", id] => tokens::item(req, env, id).await,
        ["projects", project, "event-keys"] => {
            crate::routes::event_keys::list(req, env, project).await
        }
        ["projects", project, "environments", env_key, rest @ ..] => {
            environment(req, env, project, env_key, rest).await
        }
        _ => Err(no_route(&req.method(), &[&["api", "v2"], rest].concat())),
    }
}

/// `/api/v2/flags/{projectKey}[/{flagKey}]`: list and create, or get, patch (JSON Patch) and
/// delete one flag.
async fn flags(
    req: &mut Request,
    env: &Env,
    at: (&str, Option<&str>),
) -> Result<Response, ApiError> {
    let (project, key) = at;
    let writes = [Method::Patch, Method::Delete];
    let project_key = project.to_owned();
    rest::resource(req, env, (Scope::Project(project), key), &writes, |verb| {
        Command::Flags {
            project: project_key,
            verb,
        }
    })
    .await
}

/// `/api/v2/segments/{projectKey}/{environmentKey}[/{segmentKey}]`: list and create, or get,
/// patch (JSON Patch) and delete one segment.
async fn segments(
    req: &mut Request,
    env: &Env,
    at: (&str, &str, Option<&str>),
) -> Result<Response, ApiError> {
    let (project, env_key, key) = at;
    let writes = [Method::Patch, Method::Delete];
    let (project_key, env_name) = (project.to_owned(), env_key.to_owned());
    rest::resource(
        req,
        env,
        (Scope::Environment(project, env_key), key),
        &writes,
        |verb| Command::Segments {
            project: project_key,
            env: env_name,
            verb,
        },
    )
    .await
}

/// `/api/v2/projects/{project}/environments/{env}/...`.
async fn environment(
    req: &mut Request,
    env: &Env,
    project: &str,
    env_key: &str,
    rest: &[&str],
) -> Result<Response, ApiError> {
    match rest {
        ["flags", flag, "first-variation", kind, key] => {
            get_only(&req.method())?;
            let q = attribution::Query {
                project,
                env: env_key,
                flag,
                kind,
                key,
            };
            attribution::first_variation(req, env, q).await
        }
        ["experiments"] => experiments::route(req, env, (project, env_key), None).await,
        ["experiments", key] => experiments::route(req, env, (project, env_key), Some(key)).await,
        ["experiments", key, "results"] => {
            experiments::results(req, env, project, env_key, key).await
        }
        ["events", "recent"] => crate::routes::feed::recent(req, env, project, env_key).await,
        ["bot-filter"] => crate::routes::bot_filter::route(req, env, project, env_key).await,
        _ => {
            let prefix = ["api", "v2", "projects", project, "environments", env_key];
            Err(no_route(&req.method(), &[&prefix[..], rest].concat()))
        }
    }
}

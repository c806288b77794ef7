//! Path dispatch. Static assets (`www/`) are served by the platform before the Worker runs; every
//! other path lands here. Errors become JSON responses in exactly one place (`http::error`).

use crate::error::ApiError;
use crate::http::{empty, error, with_cors, with_date};
use crate::routes::events::Source;
use crate::routes::{attribution, auth, events, experiments, flags, metrics, sdk, tokens};
use crate::store::config::{self, Role, Tenant};
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

/// Routes called from web pages (public client-side ID, no secret): they get CORS.
fn is_browser_route(segs: &[&str]) -> bool {
    matches!(segs, ["events", "bulk" | "diagnostic", _] | ["sdk", ..])
}

async fn dispatch(req: &mut Request, env: &Env, segs: &[&str]) -> Result<Response, ApiError> {
    let method = req.method();
    let post_only = |m: &Method| {
        if *m == Method::Post {
            Ok(())
        } else {
            Err(ApiError::MethodNotAllowed)
        }
    };
    match segs {
        ["bulk"] | ["mobile"] | ["mobile", "events"] | ["mobile", "events", "bulk"] => {
            post_only(&method)?;
            let tenant = auth::sdk_key(req, env).await?;
            events::ingest(req, env, &tenant, Source::Sdk).await
        }
        ["events", "bulk", client_side_id] => {
            post_only(&method)?;
            let tenant = auth::client_side_id(env, client_side_id).await?;
            events::ingest(req, env, &tenant, Source::Browser).await
        }
        // The demo pages' configuration: the seed environment's public client-side ID.
        ["demo", "config.json"] => {
            let id = env
                .var("CLIENT_SIDE_ID")
                .map(|v| v.to_string())
                .unwrap_or_default();
            Ok(crate::http::json(
                200,
                &serde_json::json!({"clientSideId": id}),
            ))
        }
        // This isolate's ingest pipeline: queued and consumed messages, per-invocation maxima.
        ["api", "v2", "ops", "ingest"] => {
            if method != Method::Get {
                return Err(ApiError::MethodNotAllowed);
            }
            auth::api_token(req, env, Role::Reader).await?;
            Ok(crate::http::json(
                200,
                &serde_json::to_value(crate::ingest::stats())?,
            ))
        }
        // Test hook (only with FAULT_INJECTION = "1"): a deliberate panic, to show that one
        // failed request does not poison the ones after it (workers-rs reinitialises the Wasm
        // instance after a panic).
        ["_fault", "panic"] if crate::ingest::fault_injection(env) => {
            panic!("deliberate panic (fault injection)")
        }
        ["healthz"] => Ok(crate::http::json(200, &serde_json::json!({"status": "ok"}))),
        // Diagnostics are accepted and ignored.
        ["diagnostic"] | ["mobile", "events", "diagnostic"] | ["events", "diagnostic", _] => {
            post_only(&method)?;
            Ok(empty(202))
        }
        ["api", "v2", "projects", project, "environments", env_key, "flags", flag, "first-variation", kind, key] =>
        {
            if method != Method::Get {
                return Err(ApiError::MethodNotAllowed);
            }
            let q = attribution::Query {
                project,
                env: env_key,
                flag,
                kind,
                key,
            };
            attribution::first_variation(req, env, q).await
        }
        ["api", "v2", "metrics", project] => metrics::collection(req, env, project).await,
        ["api", "v2", "metrics", project, key] => metrics::item(req, env, project, key).await,
        ["api", "v2", "tokens"] => tokens::collection(req, env).await,
        ["api", "v2", "tokens", id] => tokens::item(req, env, id).await,
        ["sdk", "goals", client_side_id] => sdk::goals(req, env, client_side_id).await,
        ["sdk", "evalx", client_side_id, "contexts", encoded] => {
            sdk::evalx(req, env, client_side_id, Some(encoded)).await
        }
        ["sdk", "evalx", client_side_id, "context"] => {
            sdk::evalx(req, env, client_side_id, None).await
        }
        ["api", "v2", "flags", project] => flags::collection(req, env, project).await,
        ["api", "v2", "flags", project, key] => flags::item(req, env, project, key).await,
        ["api", "v2", "projects", project, "event-keys"] => {
            crate::routes::event_keys::list(req, env, project).await
        }
        ["api", "v2", "projects", project, "environments", env_key, "experiments"] => {
            experiments::collection(req, env, project, env_key).await
        }
        ["api", "v2", "projects", project, "environments", env_key, "experiments", key] => {
            experiments::item(req, env, project, env_key, key).await
        }
        ["api", "v2", "projects", project, "environments", env_key, "experiments", key, "results"] => {
            experiments::results(req, env, project, env_key, key).await
        }
        ["api", "v2", "projects", project, "environments", env_key, "events", "recent"] => {
            crate::routes::feed::recent(req, env, project, env_key).await
        }
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
        _ => Err(ApiError::NotFound(format!(
            "no route for {} /{}",
            method,
            segs.join("/")
        ))),
    }
}

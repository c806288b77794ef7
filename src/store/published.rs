//! Published documents in KV: what every SDK-facing read serves without asking the project's
//! Durable Object. Two kinds: an environment's SDK data (the `/sdk/latest-all` body, which evalx
//! also evaluates) and a project's goals. The project's object is the one writer; each
//! publication has a version and an ETag.
//!
//! Layout (namespace `FLAGS`): `{doc}` → the pointer `{"version", "etag"}`; `{doc}#{version}` →
//! the body. A body is written before its pointer and never changes, so a reader that sees a
//! pointer reads the body it names (or, while KV has not yet carried it to this location, keeps
//! what it had). The body two versions back is deleted.
//!
//! Readers keep the parsed document per isolate and compare the pointer at most once every
//! [`REVALIDATE_MS`]: a change reaches evalx within that plus KV's propagation (about 60 s
//! between locations on Cloudflare; none locally). A document never published (the first read of
//! an environment) is published on demand by the project's object.

use super::kv;
use crate::error::ApiError;
use crate::http::now_ms;
use crate::store::config::Tenant;
use crate::store::projects::ProjectStore;
use edge_exp_core::publish::{Pointer, Publication};
use edge_exp_core::targeting::AllData;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::Env;

pub const FLAGS_KV: &str = "FLAGS";
/// Optional: a KV namespace the user's other Workers bind, for LaunchDarkly's edge SDKs.
pub const LD_EDGE_KV: &str = "LD_KV";
/// KV takes at most one write a second to one key.
pub const EDGE_WRITE_INTERVAL_MS: i64 = 1_000;
/// How long this isolate serves its copy before it compares the pointer again.
pub const REVALIDATE_MS: i64 = 1_000;

/// Which document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Doc {
    /// An environment's flags and segments.
    Sdk { project: String, env: String },
    /// A project's click and page-view goals.
    Goals { project: String },
}

impl Doc {
    pub fn sdk(tenant: &Tenant) -> Doc {
        Doc::Sdk {
            project: tenant.project.clone(),
            env: tenant.env.clone(),
        }
    }

    pub fn key(&self) -> String {
        match self {
            Doc::Sdk { project, env } => format!("sdk:{project}:{env}"),
            Doc::Goals { project } => format!("goals:{project}"),
        }
    }

    fn project(&self) -> &str {
        match self {
            Doc::Sdk { project, .. } | Doc::Goals { project } => project,
        }
    }

    fn env(&self) -> Option<&str> {
        match self {
            Doc::Sdk { env, .. } => Some(env),
            Doc::Goals { .. } => None,
        }
    }
}

/// A document as this isolate holds it.
pub struct Cached {
    pub pointer: Pointer,
    pub body: Rc<str>,
    /// The SDK data, parsed (empty for goals).
    pub data: Rc<AllData>,
    checked_at: i64,
}

thread_local! {
    static CACHE: RefCell<HashMap<Doc, Rc<Cached>>> = RefCell::new(HashMap::new());
    static FIGURES: RefCell<Figures> = RefCell::new(Figures::default());
}

/// What this isolate's reads did (`GET /api/v2/ops/ingest` shows them).
pub type Figures = edge_exp_core::queued::FlagReads;

pub fn figures() -> Figures {
    FIGURES.with(|f| *f.borrow())
}

fn count(f: impl FnOnce(&mut Figures)) {
    FIGURES.with(|figures| f(&mut figures.borrow_mut()));
}

/// The document, from this isolate's copy, KV, or (never published) the project's object.
pub async fn read(env: &Env, doc: &Doc) -> Result<Rc<Cached>, ApiError> {
    let now = now_ms();
    let held = CACHE.with(|c| c.borrow().get(doc).cloned());
    if let Some(held) = &held {
        if now - held.checked_at < REVALIDATE_MS {
            count(|f| f.cached_reads += 1);
            return Ok(held.clone());
        }
    }
    let store = kv(env, FLAGS_KV)?;
    count(|f| f.pointer_reads += 1);
    let pointer: Option<Pointer> = store.get(&doc.key()).json().await?;
    let fresh = match (pointer, held) {
        (Some(p), Some(held)) if p == held.pointer => Some(restamp(&held, now)),
        (Some(p), held) => match store
            .get(&format!("{}#{}", doc.key(), p.version))
            .text()
            .await?
        {
            Some(body) => {
                count(|f| f.body_reads += 1);
                Some(parsed(doc, p, body, now)?)
            }
            // The pointer arrived here before its body: keep what this isolate had.
            None => held.map(|h| restamp(&h, now)),
        },
        (None, held) => held.map(|h| restamp(&h, now)),
    };
    let cached = match fresh {
        Some(c) => c,
        None => {
            count(|f| f.object_calls += 1);
            let publication = ProjectStore::publish(env, doc.project(), doc.env()).await?;
            parsed(doc, publication.pointer, publication.body, now)?
        }
    };
    let cached = Rc::new(cached);
    CACHE.with(|c| c.borrow_mut().insert(doc.clone(), cached.clone()));
    Ok(cached)
}

fn restamp(held: &Cached, now: i64) -> Cached {
    Cached {
        pointer: held.pointer.clone(),
        body: held.body.clone(),
        data: held.data.clone(),
        checked_at: now,
    }
}

fn parsed(doc: &Doc, pointer: Pointer, body: String, now: i64) -> Result<Cached, ApiError> {
    let data = match doc {
        Doc::Sdk { .. } => serde_json::from_str(&body)?,
        Doc::Goals { .. } => AllData::default(),
    };
    Ok(Cached {
        pointer,
        body: body.into(),
        data: Rc::new(data),
        checked_at: now,
    })
}

/// Publish: the body under its version, then the pointer; the body `stale` (two versions back)
/// is deleted. This isolate forgets its copy, so its next read is the new version.
pub async fn write(
    env: &Env,
    doc: &Doc,
    publication: &Publication,
    stale: Option<u64>,
) -> Result<(), ApiError> {
    let store = kv(env, FLAGS_KV)?;
    let key = doc.key();
    store
        .put(
            &format!("{key}#{}", publication.pointer.version),
            publication.body.as_str(),
        )?
        .execute()
        .await?;
    store
        .put(&key, serde_json::to_string(&publication.pointer)?)?
        .execute()
        .await?;
    if let Some(version) = stale {
        store.delete(&format!("{key}#{version}")).await?;
    }
    // The writer is the project's object, whose isolate rarely serves reads: forgetting costs
    // one KV read there, parsing the body it just wrote would cost every publication.
    CACHE.with(|c| c.borrow_mut().remove(doc));
    Ok(())
}

/// Forget every document this isolate holds (the edge Worker, after passing a write to the full
/// Worker: what that write published is read at once, as the one Worker's writer did).
#[cfg(feature = "edge")]
pub fn forget_all() {
    CACHE.with(|c| c.borrow_mut().clear());
}

/// Is the edge SDKs' namespace bound?
pub fn edge_bound(env: &Env) -> bool {
    env.kv(LD_EDGE_KV).is_ok()
}

/// Write an environment's SDK data where LaunchDarkly's edge SDKs (Cloudflare, and any reader of
/// the same key) read it: `LD-Env-{clientSideId}` = the `/sdk/latest-all` body. `false` if the
/// environment has no client-side ID (nothing to name the key by).
pub async fn write_edge(
    env: &Env,
    project: &str,
    env_key: &str,
    body: &str,
) -> Result<bool, ApiError> {
    let Some(id) = super::config::client_side_id_of(env, project, env_key).await? else {
        return Ok(false);
    };
    kv(env, LD_EDGE_KV)?
        .put(&format!("LD-Env-{id}"), body)?
        .execute()
        .await?;
    Ok(true)
}

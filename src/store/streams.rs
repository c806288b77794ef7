//! `FlagStream`: one Durable Object per environment holding the open `/all` streams of
//! LaunchDarkly's server SDKs (server-sent events). Each connection gets a `put` of the
//! environment's published data first; every later publication (the project's object tells this
//! one) reaches every open stream as `patch` and `delete` events (`core::publish::stream_update`),
//! or a new `put` when only that can carry it. A heartbeat comment goes to every stream every
//! [`HEARTBEAT_MS`] (the SDKs drop a stream silent for 5 minutes); the same alarm compares the
//! published pointer, so a notification that was lost still arrives within one heartbeat.
//!
//! Server SDK instances hold one stream each for their whole life, so this object holds one
//! connection per running server process, not per request; a browser never reaches it.

use super::published::{self, Doc};
use crate::error::ApiError;
use crate::store::config::Tenant;
use edge_exp_core::publish::{self, Publication, RawData, StreamUpdate};
use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{
    durable_object, DurableObject, Env, Headers, Method, Request, RequestInit, Response, Result,
    State,
};

/// How often every open stream gets a heartbeat (LaunchDarkly's SDKs time out after 5 minutes).
pub const HEARTBEAT_MS: u64 = 30_000;

#[cfg_attr(exports_projects, durable_object(alarm))]
pub struct FlagStream {
    state: State,
    env: Env,
    streams: RefCell<Vec<UnboundedSender<Vec<u8>>>>,
    /// The publication the open streams hold.
    current: RefCell<Option<Current>>,
    /// Versions of the keys deleted on these streams (`stream_update`).
    tombstones: RefCell<HashMap<String, u64>>,
}

struct Current {
    version: u64,
    body: Rc<str>,
    /// The body's items, found when a publication is compared to it (only while streams are
    /// open: with none, a publication costs this object no parsing at all).
    items: Option<RawData>,
}

/// What the object is sent as JSON. A new publication is not: it is sent as its body
/// ([`PUBLISH_PATH`]), which a JSON command would escape and unescape (~700 KB at 1,000 flags).
#[derive(Serialize, Deserialize)]
enum StreamCommand {
    /// Open a stream for the environment.
    Connect(Tenant),
}

/// Where a publication is sent: its body, its version in [`VERSION_HEADER`].
const PUBLISH_PATH: &str = "/publish";
const VERSION_HEADER: &str = "X-Publication-Version";

fn name(tenant: &Tenant) -> String {
    format!("{}\n{}", tenant.project, tenant.env)
}

async fn send(env: &Env, tenant: &Tenant, command: &StreamCommand) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(serde_json::to_string(command)?.into()));
    post(env, tenant, "/stream", &init).await
}

async fn post(env: &Env, tenant: &Tenant, path: &str, init: &RequestInit) -> Result<Response> {
    let stub = env
        .durable_object("FLAG_STREAM")?
        .id_from_name(&name(tenant))?
        .get_stub()?;
    stub.fetch_with_request(Request::new_with_init(
        &format!("https://object{path}"),
        init,
    )?)
    .await
}

/// The `/all` stream for an SDK of this environment: the object's event stream, with the
/// headers LaunchDarkly's SDKs and proxies need.
pub async fn connect(env: &Env, tenant: &Tenant) -> std::result::Result<Response, ApiError> {
    let resp = send(env, tenant, &StreamCommand::Connect(tenant.clone())).await?;
    if resp.status_code() != 200 {
        return Err(ApiError::unavailable(
            "the flag stream is not available; retry",
        ));
    }
    let (_, body) = resp.into_parts();
    let headers = Headers::new();
    headers.set("Content-Type", "text/event-stream; charset=utf-8")?;
    headers.set("Cache-Control", "no-cache")?;
    headers.set("X-Accel-Buffering", "no")?;
    Ok(Response::builder()
        .with_status(200)
        .with_headers(headers)
        .body(body))
}

/// Tell the environment's stream object of a publication. A failure is logged only: the object
/// compares the published pointer at every heartbeat.
pub async fn notify(env: &Env, project: &str, env_key: &str, publication: &Publication) {
    let tenant = Tenant {
        project: project.into(),
        env: env_key.into(),
    };
    let sent = async {
        let headers = Headers::new();
        headers.set(VERSION_HEADER, &publication.pointer.version.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(publication.body.as_str().into()));
        post(env, &tenant, PUBLISH_PATH, &init).await
    };
    if let Err(e) = sent.await {
        worker::console_error!("stream notification for {project}/{env_key} failed: {e}");
    }
}

#[cfg(exports_projects)]
impl DurableObject for FlagStream {
    fn new(state: State, env: Env) -> Self {
        FlagStream {
            state,
            env,
            streams: RefCell::default(),
            current: RefCell::default(),
            tombstones: RefCell::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if req.path() == PUBLISH_PATH {
            let version = req
                .headers()
                .get(VERSION_HEADER)?
                .and_then(|v| v.parse().ok());
            let Some(version) = version else {
                return Response::error(format!("`{VERSION_HEADER}` is missing"), 400);
            };
            let body = req.text().await?;
            return match self.publish(version, body.into()) {
                Ok(()) => Response::empty(),
                Err(e) => Response::error(e.to_string(), 503),
            };
        }
        let outcome = match req.json::<StreamCommand>().await? {
            StreamCommand::Connect(tenant) => self.connect(&tenant).await,
        };
        outcome.or_else(|e| Response::error(e.to_string(), 503))
    }

    async fn alarm(&self) -> Result<Response> {
        self.broadcast(b":\n\n");
        if let Some(tenant) = self.tenant().await? {
            if let Ok(doc) = published::read(&self.env, &Doc::sdk(&tenant)).await {
                self.publish(doc.pointer.version, doc.body.clone())?;
            }
        }
        if !self.streams.borrow().is_empty() {
            self.state
                .storage()
                .set_alarm(std::time::Duration::from_millis(HEARTBEAT_MS))
                .await?;
        }
        Response::empty()
    }
}

impl FlagStream {
    async fn connect(&self, tenant: &Tenant) -> Result<Response> {
        self.state
            .storage()
            .put("tenant", serde_json::to_string(tenant)?)
            .await?;
        if self.current.borrow().is_none() {
            let doc = published::read(&self.env, &Doc::sdk(tenant))
                .await
                .map_err(|e| worker::Error::RustError(format!("{:?}", e.0)))?;
            self.publish(doc.pointer.version, doc.body.clone())?;
        }
        let (tx, rx): (UnboundedSender<Vec<u8>>, UnboundedReceiver<Vec<u8>>) = unbounded();
        let put = match self.current.borrow().as_ref() {
            Some(c) => publish::put_event(&c.body),
            None => return Response::error("no published data", 503),
        };
        let _ = tx.unbounded_send(put.into_bytes());
        let first = self.streams.borrow().is_empty();
        self.streams.borrow_mut().push(tx);
        if first || self.state.storage().get_alarm().await?.is_none() {
            self.state
                .storage()
                .set_alarm(std::time::Duration::from_millis(HEARTBEAT_MS))
                .await?;
        }
        Response::from_stream(rx.map(Ok::<Vec<u8>, worker::Error>))
    }

    /// Take a publication newer than what the streams hold, and send them what changed.
    fn publish(&self, version: u64, body: Rc<str>) -> Result<()> {
        let newer = self
            .current
            .borrow()
            .as_ref()
            .is_none_or(|c| version > c.version);
        if !newer {
            return Ok(());
        }
        if self.streams.borrow().is_empty() {
            // No stream holds anything: the next one is sent this body whole.
            self.tombstones.borrow_mut().clear();
            *self.current.borrow_mut() = Some(Current {
                version,
                body,
                items: None,
            });
            return Ok(());
        }
        let items = RawData::parse(&body)?;
        match self.update_to(&items)? {
            Some(StreamUpdate::Events(events)) => {
                for event in events {
                    self.broadcast(event.as_bytes());
                }
            }
            Some(StreamUpdate::Put) => {
                self.tombstones.borrow_mut().clear();
                self.broadcast(publish::put_event(&body).as_bytes());
            }
            None => {}
        }
        *self.current.borrow_mut() = Some(Current {
            version,
            body,
            items: Some(items),
        });
        Ok(())
    }

    /// What the open streams must be sent to hold `items` (none if they hold nothing yet).
    fn update_to(&self, items: &RawData) -> Result<Option<StreamUpdate>> {
        let mut current = self.current.borrow_mut();
        let Some(old) = current.as_mut() else {
            return Ok(None);
        };
        let held = match &old.items {
            Some(held) => held,
            None => old.items.insert(RawData::parse(&old.body)?),
        };
        let mut tombstones = self.tombstones.borrow_mut();
        Ok(Some(publish::stream_update(held, items, &mut tombstones)))
    }

    /// Send bytes to every open stream; a stream whose SDK went away is dropped.
    fn broadcast(&self, bytes: &[u8]) {
        self.streams
            .borrow_mut()
            .retain(|tx| tx.unbounded_send(bytes.to_vec()).is_ok());
    }

    async fn tenant(&self) -> Result<Option<Tenant>> {
        let text: Option<String> = self.state.storage().get("tenant").await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }
}

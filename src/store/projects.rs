//! `ProjectStore`: one Durable Object per project, owning that project's metrics.
//!
//! A Durable Object handles one request at a time and its storage is transactional, so
//! create/patch/delete are read-modify-write without races: two PATCHes of the same metric are
//! applied one after the other (each to the other's result), and a `test` of `/_version` in a
//! patch turns a lost race into a 409. The Worker talks to it with [`Command`]s and gets back a
//! status and a JSON body, already mapped by `error.rs`.

use crate::error::ApiError;
use edge_exp_core::metric::{Integration, ListQuery, Metric, MetricError, MetricSpec};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use worker::{
    durable_object, DurableObject, Env, ListOptions, Method, Request, RequestInit, Response,
    Result, State,
};

/// The binding name of the namespace in wrangler.toml.
pub const BINDING: &str = "PROJECT_STORE";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Command {
    List {
        project: String,
        pairs: Vec<(String, String)>,
    },
    Get {
        project: String,
        key: String,
    },
    Create {
        project: String,
        body: Value,
        now: i64,
        integration: Option<Integration>,
    },
    Patch {
        project: String,
        key: String,
        patch: Value,
        now: i64,
    },
    Delete {
        key: String,
    },
    Goals,
}

/// What the object answers: an HTTP status and its JSON body.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    fn ok(status: u16, body: Value) -> Self {
        Reply { status, body }
    }
    fn error(e: MetricError) -> Self {
        let e = ApiError::from(e);
        Reply {
            status: e.status(),
            body: e.body(),
        }
    }
}

/// Send a command to the project's object.
pub async fn call(
    env: &Env,
    project: &str,
    command: &Command,
) -> std::result::Result<Reply, ApiError> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(project)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(serde_json::to_string(command)?.into()));
    let req = Request::new_with_init("https://project-store/command", &init)?;
    let mut resp = stub.fetch_with_request(req).await?;
    Ok(resp.json::<Reply>().await?)
}

const METRIC_PREFIX: &str = "metric:";

#[durable_object(fetch)]
pub struct ProjectStore {
    state: State,
    /// All metrics, loaded from storage on first use and kept in step with it.
    metrics: RefCell<Option<BTreeMap<String, Metric>>>,
}

impl DurableObject for ProjectStore {
    fn new(state: State, _env: Env) -> Self {
        ProjectStore {
            state,
            metrics: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let reply = match req.json::<Command>().await {
            Ok(command) => self.execute(command).await?,
            Err(e) => Reply {
                status: 500,
                body: json!({"code": "internal_error", "message": format!("bad command: {e}")}),
            },
        };
        Response::from_json(&reply)
    }
}

impl ProjectStore {
    async fn load(&self) -> Result<()> {
        if self.metrics.borrow().is_some() {
            return Ok(());
        }
        let stored = self
            .state
            .storage()
            .list_with_options(ListOptions::new().prefix(METRIC_PREFIX))
            .await?;
        let mut metrics = BTreeMap::new();
        for value in stored.values() {
            let text = value?.as_string().unwrap_or_default();
            if let Ok(m) = serde_json::from_str::<Metric>(&text) {
                metrics.insert(m.spec.key.clone(), m);
            }
        }
        *self.metrics.borrow_mut() = Some(metrics);
        Ok(())
    }

    fn get(&self, key: &str) -> Option<Metric> {
        self.metrics.borrow().as_ref()?.get(key).cloned()
    }

    async fn save(&self, metric: Metric) -> Result<()> {
        let key = format!("{METRIC_PREFIX}{}", metric.spec.key);
        self.state
            .storage()
            .put(&key, serde_json::to_string(&metric)?)
            .await?;
        if let Some(map) = self.metrics.borrow_mut().as_mut() {
            map.insert(metric.spec.key.clone(), metric);
        }
        Ok(())
    }

    async fn execute(&self, command: Command) -> Result<Reply> {
        self.load().await?;
        Ok(match command {
            Command::List { project, pairs } => match ListQuery::parse(&pairs) {
                Err(e) => Reply::error(e),
                Ok(query) => {
                    let guard = self.metrics.borrow();
                    let all = guard.as_ref().into_iter().flat_map(|m| m.values());
                    let (page, total) = query.apply(all);
                    let items: Vec<Value> = page.iter().map(|m| m.to_rep(&project)).collect();
                    let links = query.links(&format!("/api/v2/metrics/{project}"), total);
                    Reply::ok(
                        200,
                        json!({"items": items, "totalCount": total, "_links": links}),
                    )
                }
            },
            Command::Get { project, key } => match self.get(&key) {
                Some(m) => Reply::ok(200, m.to_rep(&project)),
                None => Reply::error(MetricError::NotFound(key)),
            },
            Command::Create {
                project,
                body,
                now,
                integration,
            } => match MetricSpec::from_json(&body) {
                Err(e) => Reply::error(e),
                Ok(spec) if self.get(&spec.key).is_some() => {
                    Reply::error(MetricError::Conflict(format!(
                        "a metric with key `{}` already exists in project `{project}`",
                        spec.key
                    )))
                }
                Ok(spec) => {
                    let metric = Metric::create(&project, spec, now, integration);
                    let rep = metric.to_rep(&project);
                    self.save(metric).await?;
                    Reply::ok(201, rep)
                }
            },
            Command::Patch {
                project,
                key,
                patch,
                now,
            } => match self.get(&key) {
                None => Reply::error(MetricError::NotFound(key)),
                Some(current) => match current.patched(&project, &patch, now) {
                    Err(e) => Reply::error(e),
                    Ok(next) => {
                        let rep = next.to_rep(&project);
                        if next.version != current.version {
                            self.save(next).await?;
                        }
                        Reply::ok(200, rep)
                    }
                },
            },
            Command::Delete { key } => match self.get(&key) {
                None => Reply::error(MetricError::NotFound(key)),
                Some(m) => match m.check_deletable() {
                    Err(e) => Reply::error(e),
                    Ok(()) => {
                        self.state
                            .storage()
                            .delete(&format!("{METRIC_PREFIX}{key}"))
                            .await?;
                        if let Some(map) = self.metrics.borrow_mut().as_mut() {
                            map.remove(&key);
                        }
                        Reply::ok(204, Value::Null)
                    }
                },
            },
            Command::Goals => {
                let guard = self.metrics.borrow();
                let goals: Vec<_> = guard
                    .as_ref()
                    .into_iter()
                    .flat_map(|m| m.values())
                    .filter_map(Metric::goal)
                    .collect();
                Reply::ok(200, json!(goals))
            }
        })
    }
}

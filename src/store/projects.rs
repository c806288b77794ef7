//! `ProjectStore`: one Durable Object per project, owning its metrics, flags and experiments.
//!
//! A Durable Object handles one request at a time and its storage is transactional, so every
//! change is a read-modify-write without races: two PATCHes of one metric apply one after the
//! other, and starting an experiment locks its metrics in the same step. The Worker talks to it
//! with [`Command`]s and gets back a status and a JSON body, already mapped by `error.rs`.

use crate::error::ApiError;
use edge_exp_core::catalog::{self, Sighting};
use edge_exp_core::experiment::{parse_instructions, Experiment, Instruction, Iteration};
use edge_exp_core::flag::{Flag, FlagError, FlagSpec};
use edge_exp_core::metric::{Integration, ListQuery, Metric, MetricError, MetricSpec};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use worker::{
    durable_object, DurableObject, Env, ListOptions, Request, Response, Result, State, Storage,
};

/// The binding name of the namespace in wrangler.toml.
pub const BINDING: &str = "PROJECT_STORE";

/// How long after an iteration stops its events are still routed to it (late SDK flushes).
pub const LATE_EVENTS_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Command {
    MetricList {
        project: String,
        pairs: Vec<(String, String)>,
    },
    MetricGet {
        project: String,
        key: String,
    },
    MetricCreate {
        project: String,
        body: Value,
        now: i64,
        integration: Option<Integration>,
    },
    MetricPatch {
        project: String,
        key: String,
        patch: Value,
        now: i64,
    },
    MetricDelete {
        key: String,
    },
    Goals,
    FlagList {
        project: String,
    },
    FlagGet {
        project: String,
        key: String,
    },
    FlagCreate {
        project: String,
        body: Value,
        now: i64,
    },
    FlagPatch {
        project: String,
        key: String,
        patch: Value,
    },
    FlagDelete {
        key: String,
    },
    /// Every flag available to the client-side ID, evaluated for a context (evalx format).
    Evaluate {
        env: String,
        context: Value,
        with_reasons: bool,
    },
    ExperimentList {
        project: String,
        env: String,
    },
    ExperimentGet {
        project: String,
        env: String,
        key: String,
    },
    /// The stored experiment itself (not its REST representation), for results.
    ExperimentData {
        env: String,
        key: String,
    },
    ExperimentCreate {
        project: String,
        env: String,
        body: Value,
        now: i64,
    },
    ExperimentPatch {
        project: String,
        env: String,
        key: String,
        body: Value,
        now: i64,
    },
    /// The iterations that events at `now` may count for: running, or stopped within a day;
    /// and the batch's event-key sightings to fold into the catalogue (one write per batch).
    Routing {
        env: String,
        now: i64,
        #[serde(default)]
        sightings: Vec<Sighting>,
    },
    /// The event-key catalogue: keys seen in the last 30 days matching `search`.
    EventKeys {
        search: String,
        limit: usize,
        now: i64,
    },
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
    fn error(e: impl Into<ApiError>) -> Self {
        let e = e.into();
        Reply {
            status: e.status(),
            body: e.body(),
        }
    }
}

/// What the ingest consumer needs of the project, read once per batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Routing {
    pub routes: Vec<Route>,
    pub flag_variations: BTreeMap<String, usize>,
}

/// An iteration events are routed to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub experiment: String,
    pub iteration: Iteration,
}

/// Send a command to the project's object.
pub async fn call(
    env: &Env,
    project: &str,
    command: &Command,
) -> std::result::Result<Reply, ApiError> {
    let (status, body) = super::call_object(env, BINDING, project, command).await?;
    // The object answers 200 with a `Reply`; anything else is the runtime's own failure.
    match serde_json::from_value::<Reply>(body.clone()) {
        Ok(reply) if status == 200 => Ok(reply),
        _ => Err(ApiError::from_reply(status.max(500), &body)),
    }
}

/// `call`, turning a non-2xx reply into an error.
pub async fn call_ok(
    env: &Env,
    project: &str,
    command: &Command,
) -> std::result::Result<Value, ApiError> {
    let reply = call(env, project, command).await?;
    if reply.status < 300 {
        Ok(reply.body)
    } else {
        Err(ApiError::from_reply(reply.status, &reply.body))
    }
}

/// One kind of record in the object's storage, kept in memory after the first load.
struct Collection<T> {
    prefix: &'static str,
    items: RefCell<Option<BTreeMap<String, T>>>,
}

impl<T: Serialize + DeserializeOwned + Clone> Collection<T> {
    fn new(prefix: &'static str) -> Self {
        Collection {
            prefix,
            items: RefCell::new(None),
        }
    }

    async fn load(&self, storage: &Storage) -> Result<()> {
        if self.items.borrow().is_some() {
            return Ok(());
        }
        let stored = storage
            .list_with_options(ListOptions::new().prefix(self.prefix))
            .await?;
        let mut items = BTreeMap::new();
        for entry in stored.entries() {
            let pair = worker::js_sys::Array::from(&entry?);
            let (Some(key), Some(text)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
                continue;
            };
            if let Ok(item) = serde_json::from_str::<T>(&text) {
                items.insert(key[self.prefix.len()..].to_owned(), item);
            }
        }
        *self.items.borrow_mut() = Some(items);
        Ok(())
    }

    fn get(&self, key: &str) -> Option<T> {
        self.items.borrow().as_ref()?.get(key).cloned()
    }

    fn all(&self) -> Vec<T> {
        self.items
            .borrow()
            .as_ref()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    async fn save(&self, storage: &Storage, key: &str, item: T) -> Result<()> {
        storage
            .put(
                &format!("{}{key}", self.prefix),
                serde_json::to_string(&item)?,
            )
            .await?;
        if let Some(map) = self.items.borrow_mut().as_mut() {
            map.insert(key.to_owned(), item);
        }
        Ok(())
    }

    /// Save several items in one storage call.
    async fn save_all(&self, storage: &Storage, items: Vec<(String, T)>) -> Result<()> {
        let mut texts = serde_json::Map::new();
        for (key, item) in &items {
            texts.insert(
                format!("{}{key}", self.prefix),
                Value::String(serde_json::to_string(item)?),
            );
        }
        storage.put_multiple(Value::Object(texts)).await?;
        if let Some(map) = self.items.borrow_mut().as_mut() {
            map.extend(items);
        }
        Ok(())
    }

    /// Delete several items in one storage call.
    async fn delete_all(&self, storage: &Storage, keys: Vec<String>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let full: Vec<String> = keys.iter().map(|k| format!("{}{k}", self.prefix)).collect();
        storage.delete_multiple(full).await?;
        if let Some(map) = self.items.borrow_mut().as_mut() {
            keys.iter().for_each(|k| {
                map.remove(k);
            });
        }
        Ok(())
    }

    /// Run `f` over the loaded items.
    fn with_items<R>(&self, f: impl FnOnce(&BTreeMap<String, T>) -> R) -> R {
        let guard = self.items.borrow();
        let empty = BTreeMap::new();
        f(guard.as_ref().unwrap_or(&empty))
    }

    async fn delete(&self, storage: &Storage, key: &str) -> Result<()> {
        storage.delete(&format!("{}{key}", self.prefix)).await?;
        if let Some(map) = self.items.borrow_mut().as_mut() {
            map.remove(key);
        }
        Ok(())
    }
}

#[durable_object(fetch)]
pub struct ProjectStore {
    state: State,
    metrics: Collection<Metric>,
    flags: Collection<Flag>,
    /// Keyed `{env}:{experimentKey}`.
    experiments: Collection<Experiment>,
    /// The event-key catalogue, keyed by event key.
    event_keys: Collection<catalog::Entry>,
}

impl DurableObject for ProjectStore {
    fn new(state: State, _env: Env) -> Self {
        ProjectStore {
            state,
            metrics: Collection::new("metric:"),
            flags: Collection::new("flag:"),
            experiments: Collection::new("experiment:"),
            event_keys: Collection::new("eventkey:"),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let reply = match req.json::<Command>().await {
            Ok(command) => self.execute(command).await?,
            Err(e) => Reply::ok(
                500,
                json!({"code": "internal_error", "message": format!("bad command: {e}")}),
            ),
        };
        Response::from_json(&reply)
    }
}

fn experiment_id(env: &str, key: &str) -> String {
    format!("{env}:{key}")
}

impl ProjectStore {
    /// Fold a batch's sightings into the catalogue: one storage write for all changed keys (and
    /// one delete when it grew past its bound).
    async fn record_sightings(&self, storage: &Storage, sightings: &[Sighting]) -> Result<()> {
        if sightings.is_empty() {
            return Ok(());
        }
        self.event_keys.load(storage).await?;
        let changed = catalog::fold(|key| self.event_keys.get(key), sightings);
        self.event_keys
            .save_all(storage, changed.into_iter().collect())
            .await?;
        let gone = self.event_keys.with_items(catalog::evictions);
        self.event_keys.delete_all(storage, gone).await
    }

    fn experiment(&self, env: &str, key: &str) -> std::result::Result<Experiment, ApiError> {
        self.experiments
            .get(&experiment_id(env, key))
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "experiment `{key}` not found in environment `{env}`"
                ))
            })
    }

    async fn execute(&self, command: Command) -> Result<Reply> {
        let storage = self.state.storage();
        self.metrics.load(&storage).await?;
        self.flags.load(&storage).await?;
        self.experiments.load(&storage).await?;
        Ok(match command {
            Command::MetricList { project, pairs } => match ListQuery::parse(&pairs) {
                Err(e) => Reply::error(e),
                Ok(query) => {
                    let all = self.metrics.all();
                    let (page, total) = query.apply(&all);
                    let items: Vec<Value> = page.iter().map(|m| m.to_rep(&project)).collect();
                    let links = query.links(&format!("/api/v2/metrics/{project}"), total);
                    Reply::ok(
                        200,
                        json!({"items": items, "totalCount": total, "_links": links}),
                    )
                }
            },
            Command::MetricGet { project, key } => match self.metrics.get(&key) {
                Some(m) => Reply::ok(200, m.to_rep(&project)),
                None => Reply::error(MetricError::NotFound(key)),
            },
            Command::MetricCreate {
                project,
                body,
                now,
                integration,
            } => match MetricSpec::from_json(&body) {
                Err(e) => Reply::error(e),
                Ok(spec) if self.metrics.get(&spec.key).is_some() => {
                    Reply::error(MetricError::Conflict(format!(
                        "a metric with key `{}` already exists in project `{project}`",
                        spec.key
                    )))
                }
                Ok(spec) => {
                    let metric = Metric::create(&project, spec, now, integration);
                    let rep = metric.to_rep(&project);
                    self.metrics
                        .save(&storage, &metric.spec.key.clone(), metric)
                        .await?;
                    Reply::ok(201, rep)
                }
            },
            Command::MetricPatch {
                project,
                key,
                patch,
                now,
            } => match self.metrics.get(&key) {
                None => Reply::error(MetricError::NotFound(key)),
                Some(current) => match current.patched(&project, &patch, now) {
                    Err(e) => Reply::error(e),
                    Ok(next) => {
                        let rep = next.to_rep(&project);
                        if next.version != current.version {
                            self.metrics.save(&storage, &key, next).await?;
                        }
                        Reply::ok(200, rep)
                    }
                },
            },
            Command::MetricDelete { key } => match self.metrics.get(&key) {
                None => Reply::error(MetricError::NotFound(key)),
                Some(m) => match m.check_deletable() {
                    Err(e) => Reply::error(e),
                    Ok(()) => {
                        self.metrics.delete(&storage, &key).await?;
                        Reply::ok(204, Value::Null)
                    }
                },
            },
            Command::Goals => {
                let goals: Vec<_> = self.metrics.all().iter().filter_map(Metric::goal).collect();
                Reply::ok(200, json!(goals))
            }
            Command::FlagList { project } => {
                let items: Vec<Value> = self
                    .flags
                    .all()
                    .iter()
                    .map(|f| f.to_rep(&project))
                    .collect();
                Reply::ok(
                    200,
                    json!({"items": items, "totalCount": items.len(),
                    "_links": {"self": {"href": format!("/api/v2/flags/{project}"), "type": "application/json"}}}),
                )
            }
            Command::FlagGet { project, key } => match self.flags.get(&key) {
                Some(f) => Reply::ok(200, f.to_rep(&project)),
                None => Reply::error(FlagError::NotFound(key)),
            },
            Command::FlagCreate { project, body, now } => match FlagSpec::from_json(&body) {
                Err(e) => Reply::error(e),
                Ok(spec) if self.flags.get(&spec.key).is_some() => {
                    Reply::error(FlagError::Conflict(format!(
                        "a flag with key `{}` already exists in project `{project}`",
                        spec.key
                    )))
                }
                Ok(spec) => {
                    let salt = body.get("salt").and_then(Value::as_str).map(str::to_owned);
                    let flag = Flag::create(&project, spec, now, salt);
                    let rep = flag.to_rep(&project);
                    self.flags
                        .save(&storage, &flag.spec.key.clone(), flag)
                        .await?;
                    Reply::ok(201, rep)
                }
            },
            Command::FlagPatch {
                project,
                key,
                patch,
            } => match self.flags.get(&key) {
                None => Reply::error(FlagError::NotFound(key)),
                Some(current) => match current.patched(&project, &patch) {
                    Err(e) => Reply::error(e),
                    Ok(next) => {
                        let rep = next.to_rep(&project);
                        if next.version != current.version {
                            self.flags.save(&storage, &key, next).await?;
                        }
                        Reply::ok(200, rep)
                    }
                },
            },
            Command::FlagDelete { key } => match self.flags.get(&key) {
                None => Reply::error(FlagError::NotFound(key)),
                Some(_) => {
                    let running: Vec<String> = self
                        .experiments
                        .all()
                        .iter()
                        .filter(|e| e.flag_key == key && e.running().is_some())
                        .map(|e| e.key.clone())
                        .collect();
                    if running.is_empty() {
                        self.flags.delete(&storage, &key).await?;
                        Reply::ok(204, Value::Null)
                    } else {
                        Reply::error(FlagError::Conflict(format!(
                            "flag `{key}` is used by running experiments ({}): stop them first",
                            running.join(", ")
                        )))
                    }
                }
            },
            Command::Evaluate {
                env,
                context,
                with_reasons,
            } => {
                // Only flags made available to the public client-side ID (LaunchDarkly's rule).
                let flags: serde_json::Map<String, Value> = self
                    .flags
                    .all()
                    .iter()
                    .filter(|f| f.spec.client_side_availability.using_environment_id)
                    .map(|f| {
                        (
                            f.spec.key.clone(),
                            f.client_json(&env, &context, with_reasons),
                        )
                    })
                    .collect();
                Reply::ok(200, Value::Object(flags))
            }
            Command::ExperimentList { project, env } => {
                let items: Vec<Value> = self
                    .experiments
                    .all()
                    .iter()
                    .filter(|e| e.environment == env)
                    .map(|e| e.to_rep(&project))
                    .collect();
                Reply::ok(
                    200,
                    json!({"items": items, "total_count": items.len(),
                    "_links": {"self": {"href": format!("/api/v2/projects/{project}/environments/{env}/experiments"), "type": "application/json"}}}),
                )
            }
            Command::ExperimentGet { project, env, key } => match self.experiment(&env, &key) {
                Ok(e) => Reply::ok(200, e.to_rep(&project)),
                Err(e) => Reply::error(e),
            },
            Command::ExperimentData { env, key } => match self.experiment(&env, &key) {
                Ok(e) => Reply::ok(200, serde_json::to_value(&e)?),
                Err(e) => Reply::error(e),
            },
            Command::ExperimentCreate {
                project,
                env,
                body,
                now,
            } => {
                self.create_experiment(&storage, &project, &env, &body, now)
                    .await?
            }
            Command::ExperimentPatch {
                project,
                env,
                key,
                body,
                now,
            } => {
                self.patch_experiment(&storage, &project, &env, &key, &body, now)
                    .await?
            }
            Command::EventKeys { search, limit, now } => {
                self.event_keys.load(&storage).await?;
                let all = self.event_keys.all();
                let (items, total) = catalog::list(&all, &search, limit, now);
                Reply::ok(200, json!({"items": items, "totalCount": total}))
            }
            Command::Routing {
                env,
                now,
                sightings,
            } => {
                self.record_sightings(&storage, &sightings).await?;
                let routes: Vec<Route> = self
                    .experiments
                    .all()
                    .into_iter()
                    .filter(|e| e.environment == env)
                    .flat_map(|e| {
                        let key = e.key.clone();
                        e.iterations
                            .into_iter()
                            .filter(move |it| {
                                it.ended_at.is_none_or(|end| now - end <= LATE_EVENTS_MS)
                            })
                            .map(move |iteration| Route {
                                experiment: key.clone(),
                                iteration,
                            })
                    })
                    .collect();
                // Each flag's number of variations, so the consumer can drop exposures to a
                // variation index the flag does not have (a buggy or hostile client).
                // (Read in place: this runs once per ingest batch; cloning every flag is waste.)
                let flag_variations: BTreeMap<String, usize> = self.flags.with_items(|flags| {
                    flags
                        .iter()
                        .map(|(key, f)| (key.clone(), f.spec.variations.len()))
                        .collect()
                });
                Reply::ok(
                    200,
                    json!(Routing {
                        routes,
                        flag_variations
                    }),
                )
            }
        })
    }

    async fn create_experiment(
        &self,
        storage: &Storage,
        project: &str,
        env: &str,
        body: &Value,
        now: i64,
    ) -> Result<Reply> {
        let flag_key = body
            .get("flagKey")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(flag) = self.flags.get(flag_key) else {
            return Ok(Reply::error(ApiError::BadRequest(if flag_key.is_empty() {
                "`flagKey` is required".into()
            } else {
                format!("flag `{flag_key}` does not exist in project `{project}`")
            })));
        };
        let experiment = match Experiment::from_json(body, env, flag.spec.variations.len(), now) {
            Ok(e) => e,
            Err(e) => return Ok(Reply::error(e)),
        };
        if let Some(missing) = experiment
            .metrics
            .iter()
            .find(|m| self.metrics.get(&m.key).is_none())
        {
            return Ok(Reply::error(ApiError::BadRequest(format!(
                "metric `{}` does not exist in project `{project}`",
                missing.key
            ))));
        }
        let id = experiment_id(env, &experiment.key);
        if self.experiments.get(&id).is_some() {
            return Ok(Reply::error(ApiError::Conflict(format!(
                "an experiment with key `{}` already exists in environment `{env}`",
                experiment.key
            ))));
        }
        for m in &experiment.metrics {
            if let Some(mut metric) = self.metrics.get(&m.key) {
                metric.experiments.insert(id.clone());
                self.metrics.save(storage, &m.key, metric).await?;
            }
        }
        let rep = experiment.to_rep(project);
        self.experiments.save(storage, &id, experiment).await?;
        Ok(Reply::ok(201, rep))
    }

    async fn patch_experiment(
        &self,
        storage: &Storage,
        project: &str,
        env: &str,
        key: &str,
        body: &Value,
        now: i64,
    ) -> Result<Reply> {
        let id = experiment_id(env, key);
        let mut experiment = match self.experiment(env, key) {
            Ok(e) => e,
            Err(e) => return Ok(Reply::error(e)),
        };
        let instructions = match parse_instructions(body) {
            Ok(i) => i,
            Err(e) => return Ok(Reply::error(e)),
        };
        // Apply all instructions to a copy first: either all take effect or none.
        let mut lock: Option<bool> = None;
        for instruction in instructions {
            let outcome = match instruction {
                Instruction::StartIteration => {
                    let metrics: Option<Vec<Metric>> = experiment
                        .metrics
                        .iter()
                        .map(|m| self.metrics.get(&m.key))
                        .collect();
                    let Some(metrics) = metrics else {
                        return Ok(Reply::error(ApiError::BadRequest(
                            "a metric of this experiment no longer exists".into(),
                        )));
                    };
                    if self.flags.get(&experiment.flag_key).is_none() {
                        return Ok(Reply::error(ApiError::BadRequest(format!(
                            "flag `{}` no longer exists",
                            experiment.flag_key
                        ))));
                    }
                    lock = Some(true);
                    experiment.start(&metrics, now).map(|_| ())
                }
                Instruction::StopIteration => {
                    lock = Some(false);
                    experiment.stop(now)
                }
                Instruction::UpdateName(n) => {
                    experiment.name = n;
                    Ok(())
                }
                Instruction::UpdateDescription(d) => {
                    experiment.description = Some(d);
                    Ok(())
                }
                Instruction::UpdateAnalysis(analysis, config) => {
                    experiment.update_analysis(analysis, config.as_ref())
                }
            };
            if let Err(e) = outcome {
                return Ok(Reply::error(e));
            }
        }
        // A running experiment locks its metrics (no delete, no kind/event-key change).
        if let Some(running) = lock {
            for m in &experiment.metrics {
                if let Some(mut metric) = self.metrics.get(&m.key) {
                    if running {
                        metric.running_experiments.insert(id.clone());
                    } else {
                        metric.running_experiments.remove(&id);
                    }
                    self.metrics.save(storage, &m.key, metric).await?;
                }
            }
        }
        let rep = experiment.to_rep(project);
        self.experiments.save(storage, &id, experiment).await?;
        Ok(Reply::ok(200, rep))
    }
}

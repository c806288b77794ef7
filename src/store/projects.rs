//! `ProjectStore`: one Durable Object per project, holding its [`Project`] model (flags, metrics,
//! experiments, event-key catalogue). A Durable Object handles one request at a time and its
//! storage is transactional, so every command is a read-modify-write without races. The object
//! only loads the model, calls [`Project::apply`] (where every rule lives) and persists the
//! records the outcome names, in one storage call for the writes and one for the deletes.
//!
//! It is also the one publisher of what the SDK routes read (`published`): after a command that
//! changed flags or segments it publishes each environment's SDK data (and after a metric change,
//! the goals) to KV with the next version, and tells the environment's stream object; a
//! publication that fails is retried by the object's alarm.

use super::published::{self, Doc};
use super::rollouts::ToArm;
use crate::error::ApiError;
use crate::http::now_ms;
use edge_exp_core::bots::serve_control::BotControls;
use edge_exp_core::project::rollouts::RolloutVerb;
use edge_exp_core::project::{Command, Project, Record};
use edge_exp_core::publish::{self, EnvironmentBody, Publication};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use worker::{durable_object, DurableObject, Env, Request, Response, State, Storage};

const METRIC: &str = "metric:";
const FLAG: &str = "flag:";
const SEGMENT: &str = "segment:";
const EXPERIMENT: &str = "experiment:";
const EVENT_KEY: &str = "eventkey:";
const ROLLOUT: &str = "rollout:";
const PUBLICATION: &str = "publication";
/// When a failed publication is tried again.
const RETRY_MS: i64 = 2_000;

#[cfg_attr(exports_projects, durable_object(alarm))]
pub struct ProjectStore {
    state: State,
    env: Env,
    /// Loaded on the first command; dropped (reloaded next time) if a write fails.
    project: RefCell<Option<Project>>,
    /// The project's key (the object's name), as every request names it.
    key: RefCell<String>,
    /// Per environment, the bot controls this instance last wrote to KV: an experiment change
    /// that leaves them as they were writes nothing.
    written_controls: RefCell<std::collections::HashMap<String, BotControls>>,
    /// Per environment, the published body's fragments, kept between publications so that a
    /// change serialises only what it changed (`core::publish::EnvironmentBody`).
    bodies: RefCell<std::collections::HashMap<String, EnvironmentBody>>,
}

impl super::ObjectClass for ProjectStore {
    const BINDING: &'static str = "PROJECT_STORE";
    type Command = Command;

    /// The command's value, after arming the rollout objects it asks for: the project's object
    /// names them rather than calling them, so that it calls no object of another Worker (the
    /// rollouts' Worker calls it: README "Four Workers"). A failure to arm is logged, as it was
    /// in the object: the rollout is stored, and the next change arms it.
    async fn call<T: DeserializeOwned>(
        env: &Env,
        name: &str,
        command: &Command,
    ) -> Result<T, ApiError> {
        let ask = serde_json::json!({"project": name, "what": {"Command": command}});
        let answer: Answered<T> = super::call_object(env, Self::BINDING, name, &ask).await?;
        for arm in &answer.arm {
            super::rollouts::arm(env, arm).await;
        }
        Ok(answer.value)
    }
}

/// A command's answer: its value and the rollouts whose objects the caller arms.
#[derive(Serialize, Deserialize)]
struct Answered<T> {
    value: T,
    arm: Vec<ToArm>,
}

/// What the object is asked, naming its project: a command of the model, or to publish a
/// document no reader found (`Some(env)`: its SDK data; `None`: the goals).
#[derive(Deserialize)]
struct Ask {
    project: String,
    what: What,
}

#[derive(Serialize, Deserialize)]
enum What {
    Command(Command),
    Publish(Option<String>),
}

#[cfg(exports_projects)]
impl DurableObject for ProjectStore {
    fn new(state: State, env: Env) -> Self {
        ProjectStore {
            state,
            env,
            project: RefCell::default(),
            key: RefCell::default(),
            written_controls: RefCell::default(),
            bodies: RefCell::default(),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        super::serve(req, async |ask: Ask| {
            *self.key.borrow_mut() = ask.project;
            match ask.what {
                What::Command(command) => {
                    let (value, arm) = self.execute(command).await?;
                    Ok(serde_json::to_value(Answered { value, arm })?)
                }
                What::Publish(env) => Ok(serde_json::to_value(self.publish_on_demand(env).await?)?),
            }
        })
        .await
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if let Err(e) = self.publish_pending().await {
            worker::console_error!("publication retry failed: {:?}", e.0);
            self.retry_later().await?;
        }
        Response::empty()
    }
}

/// What the object has published: the version counter, each document's last two versions and
/// its ETag, the environments it publishes for, and documents whose publication failed.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PublicationState {
    /// The project's key, for the alarm (which is not told it).
    #[serde(default)]
    project: String,
    revision: u64,
    docs: BTreeMap<String, Published>,
    envs: BTreeSet<String>,
    #[serde(default)]
    pending: BTreeSet<String>,
    #[serde(default)]
    pending_goals: bool,
    /// What each environment's LaunchDarkly edge key (`LD-Env-{clientSideId}`) holds, when the
    /// `LD_KV` namespace is bound; environments whose copy waits for KV's one write a second.
    #[serde(default)]
    edge: BTreeMap<String, EdgeCopy>,
    #[serde(default)]
    pending_edge: BTreeSet<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct EdgeCopy {
    etag: String,
    written_at: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Published {
    versions: Vec<u64>,
    etag: String,
}

impl ProjectStore {
    /// Ask the project `project` to publish a document no reader has found: `env`'s SDK data, or
    /// (`None`) the goals. Answers the publication.
    pub async fn publish(
        env: &Env,
        project: &str,
        env_key: Option<&str>,
    ) -> Result<Publication, ApiError> {
        let ask = serde_json::json!({"project": project, "what": What::Publish(env_key.map(str::to_owned))});
        super::call_object(env, <Self as super::ObjectClass>::BINDING, project, &ask).await
    }

    async fn model(&self) -> Result<(), ApiError> {
        if self.project.borrow().is_none() {
            let loaded = load(&self.state.storage()).await?;
            *self.project.borrow_mut() = Some(loaded);
        }
        Ok(())
    }

    /// Run a command: its value, and the rollout objects the caller arms.
    async fn execute(
        &self,
        command: Command,
    ) -> std::result::Result<(Value, Vec<ToArm>), ApiError> {
        let storage = self.state.storage();
        self.model().await?;
        // A rollout's own check needs no arming: its object is the caller.
        let from_check = matches!(
            &command,
            Command::Rollouts {
                verb: RolloutVerb::Apply { .. },
                ..
            }
        );
        let (outcome, changes) = {
            let mut guard = self.project.borrow_mut();
            let project = guard
                .as_mut()
                .ok_or_else(|| ApiError::internal("project model not loaded"))?;
            let outcome = project.apply(command, now_ms())?;
            for (env, body) in self.bodies.borrow_mut().iter_mut() {
                body.forget(env, &outcome.changed);
            }
            let changes = changes(project, &outcome.changed)?;
            (outcome, changes)
        };
        if let Err(e) = persist(&storage, changes).await {
            // The model holds a change storage does not: forget it, so the next command reloads.
            *self.project.borrow_mut() = None;
            self.bodies.borrow_mut().clear();
            return Err(e);
        }
        self.publish_changes(&outcome.changed).await?;
        let arm = self.sync_rollouts(&outcome.changed, from_check).await;
        self.sync_bot_controls(&outcome.changed).await;
        Ok((outcome.value, arm))
    }

    /// After a command that changed experiments: rewrite their environments' bot controls
    /// (`store::bot_filter`) where they changed since this instance last wrote them. A failure is logged: until the next experiment change, bots there
    /// are served as they are bucketed (nothing of them is recorded either way).
    async fn sync_bot_controls(&self, changed: &[Record]) {
        let envs: BTreeSet<&str> = changed
            .iter()
            .filter_map(|r| match r {
                Record::Experiment(id) => id.split_once(':').map(|(env, _)| env),
                _ => None,
            })
            .collect();
        let project = self.key.borrow().clone();
        for env in envs {
            let controls = match self.project.borrow().as_ref() {
                Some(model) => model.bot_controls(env),
                None => return,
            };
            if self.written_controls.borrow().get(env) == Some(&controls) {
                continue;
            }
            match super::bot_filter::write_controls(&self.env, (&project, env), &controls).await {
                Ok(()) => {
                    self.written_controls
                        .borrow_mut()
                        .insert(env.to_owned(), controls);
                }
                Err(e) => {
                    worker::console_error!("bot controls not written for `{env}`: {:?}", e.0)
                }
            }
        }
    }

    /// After a command: mark what it changed for publication, then publish. A failure is not
    /// the command's (it is stored): the alarm publishes again.
    async fn publish_changes(&self, changed: &[Record]) -> Result<(), ApiError> {
        let flags = changed.iter().any(|r| matches!(r, Record::Flag(_)));
        let goals = changed.iter().any(|r| matches!(r, Record::Metric(_)));
        let segment_envs: Vec<String> = changed
            .iter()
            .filter_map(|r| match r {
                Record::Segment(k) => k.split_once(':').map(|(env, _)| env.to_owned()),
                _ => None,
            })
            .collect();
        if !flags && !goals && segment_envs.is_empty() {
            return Ok(());
        }
        let mut state = self.publication_state().await?;
        if flags {
            let envs = self.known_envs(&state);
            state.pending.extend(envs);
        }
        state.pending.extend(segment_envs);
        state.pending_goals |= goals;
        self.save(&state).await?;
        if let Err(e) = self.publish_pending().await {
            worker::console_error!("publication failed, retried by the alarm: {:?}", e.0);
            self.retry_later().await?;
        }
        Ok(())
    }

    /// After a command that changed rollouts: keep the watchdog's registry of active ones, and
    /// (unless the rollout's own object made the change) name each one's object for the caller
    /// to arm ([`ProjectStore::call`]): told to check it and deliver its transitions.
    async fn sync_rollouts(&self, changed: &[Record], from_check: bool) -> Vec<ToArm> {
        let project = self.key.borrow().clone();
        let mut arm = Vec::new();
        let touched: Vec<(String, String, String, bool)> = {
            let guard = self.project.borrow();
            let Some(model) = guard.as_ref() else {
                return arm;
            };
            changed
                .iter()
                .filter_map(|r| match r {
                    Record::Rollout(k) => model.rollouts.get(k),
                    _ => None,
                })
                .map(|r| {
                    (
                        r.environment.clone(),
                        r.flag_key.clone(),
                        r.id.clone(),
                        r.active(),
                    )
                })
                .collect()
        };
        for (env, flag, id, active) in touched {
            // A check that leaves the rollout active changes nothing the registry holds: a KV
            // write per rollout per minute would be paid for nothing.
            if from_check && active {
                continue;
            }
            if let Err(e) =
                super::rollouts::register(&self.env, (&project, &env, &flag), active).await
            {
                worker::console_error!("guarded rollout registry not updated: {:?}", e.0);
            }
            if !from_check {
                arm.push(ToArm {
                    project: project.clone(),
                    env,
                    flag,
                    id,
                });
            }
        }
        arm
    }

    /// Every environment the project publishes for: those published before, and those any flag
    /// configures or any segment belongs to.
    fn known_envs(&self, state: &PublicationState) -> BTreeSet<String> {
        let mut envs = state.envs.clone();
        if let Some(p) = self.project.borrow().as_ref() {
            envs.extend(
                p.flags
                    .values()
                    .flat_map(|f| f.spec.environments.keys().cloned()),
            );
            envs.extend(
                p.segments
                    .keys()
                    .filter_map(|k| k.split_once(':').map(|(e, _)| e.to_owned())),
            );
        }
        envs
    }

    /// Publish every pending document, saving the state after each.
    async fn publish_pending(&self) -> Result<(), ApiError> {
        self.model().await?;
        let mut state = self.publication_state().await?;
        while let Some(env) = state.pending.first().cloned() {
            self.publish_doc(&mut state, Some(&env)).await?;
            state.pending.remove(&env);
            self.save(&state).await?;
        }
        if state.pending_goals {
            self.publish_doc(&mut state, None).await?;
            state.pending_goals = false;
            self.save(&state).await?;
        }
        // Edge copies that waited: the current publication (unchanged: no new version).
        for env in std::mem::take(&mut state.pending_edge) {
            self.publish_doc(&mut state, Some(&env)).await?;
            self.save(&state).await?;
        }
        Ok(())
    }

    /// Copy a publication to the edge SDKs' key, at most once a second per key (KV's limit): a
    /// copy due sooner waits for the alarm, which writes the latest one.
    async fn copy_to_edge(
        &self,
        state: &mut PublicationState,
        project: &str,
        env: &str,
        publication: &Publication,
    ) -> Result<(), ApiError> {
        if !published::edge_bound(&self.env) {
            return Ok(());
        }
        let now = now_ms();
        let copy = state.edge.entry(env.to_owned()).or_default();
        if copy.etag == publication.pointer.etag {
            return Ok(());
        }
        if now - copy.written_at < published::EDGE_WRITE_INTERVAL_MS {
            state.pending_edge.insert(env.to_owned());
            self.retry_later().await?;
            return Ok(());
        }
        if published::write_edge(&self.env, project, env, &publication.body).await? {
            *copy = EdgeCopy {
                etag: publication.pointer.etag.clone(),
                written_at: now,
            };
        }
        Ok(())
    }

    /// A reader found no pointer: publish the document if it never was (or changed), else
    /// answer what was published (KV has not carried it to the reader's location yet).
    async fn publish_on_demand(&self, env: Option<String>) -> Result<Publication, ApiError> {
        self.model().await?;
        let mut state = self.publication_state().await?;
        let publication = self.publish_doc(&mut state, env.as_deref()).await?;
        self.save(&state).await?;
        Ok(publication)
    }

    /// Publish one document with the next version, unless its body is what was last published.
    async fn publish_doc(
        &self,
        state: &mut PublicationState,
        env: Option<&str>,
    ) -> Result<Publication, ApiError> {
        let (doc, body, etag) = {
            let guard = self.project.borrow();
            let project = guard
                .as_ref()
                .ok_or_else(|| ApiError::internal("project model not loaded"))?;
            let name = self.key.borrow().clone();
            match env {
                Some(e) => {
                    let mut bodies = self.bodies.borrow_mut();
                    let (body, etag) = project.sdk_body(e, bodies.entry(e.to_owned()).or_default());
                    let doc = Doc::Sdk {
                        project: name,
                        env: e.to_owned(),
                    };
                    (doc, body, etag)
                }
                None => {
                    let body = serde_json::to_string(&project.goals())?;
                    let etag = publish::etag(&body);
                    (Doc::Goals { project: name }, body, etag)
                }
            }
        };
        let key = doc.key();
        if let Some(done) = state.docs.get(&key).filter(|d| d.etag == etag) {
            let version = done.versions.last().copied().unwrap_or_default();
            let publication = Publication {
                pointer: publish::Pointer { version, etag },
                body,
            };
            if let Doc::Sdk { project, env } = &doc {
                self.copy_to_edge(state, project, env, &publication).await?;
            }
            return Ok(publication);
        }
        state.revision += 1;
        let publication = Publication {
            pointer: publish::Pointer {
                version: state.revision,
                etag,
            },
            body,
        };
        let entry = state.docs.entry(key).or_default();
        let stale = (entry.versions.len() >= 2).then(|| entry.versions.remove(0));
        published::write(&self.env, &doc, &publication, stale).await?;
        entry.versions.push(publication.pointer.version);
        entry.etag = publication.pointer.etag.clone();
        if let Doc::Sdk { project, env } = &doc {
            state.envs.insert(env.clone());
            super::streams::notify(&self.env, project, env, &publication).await;
            self.copy_to_edge(state, project, env, &publication).await?;
        }
        Ok(publication)
    }

    async fn publication_state(&self) -> Result<PublicationState, ApiError> {
        // JSON text, as every record of this object.
        let text: Option<String> = self.state.storage().get(PUBLICATION).await?;
        let mut state: PublicationState = text
            .and_then(|t| super::parse_stored(PUBLICATION, &t))
            .unwrap_or_default();
        if self.key.borrow().is_empty() {
            *self.key.borrow_mut() = state.project.clone();
        }
        state.project = self.key.borrow().clone();
        Ok(state)
    }

    async fn save(&self, state: &PublicationState) -> Result<(), ApiError> {
        self.state
            .storage()
            .put(PUBLICATION, serde_json::to_string(state)?)
            .await?;
        Ok(())
    }

    async fn retry_later(&self) -> worker::Result<()> {
        self.state
            .storage()
            .set_alarm(std::time::Duration::from_millis(RETRY_MS as u64))
            .await
    }
}

/// The model from storage: every record under each collection's prefix.
async fn load(storage: &Storage) -> std::result::Result<Project, ApiError> {
    Ok(Project {
        metrics: collection(storage, METRIC).await?,
        flags: collection(storage, FLAG).await?,
        segments: collection(storage, SEGMENT).await?,
        experiments: collection(storage, EXPERIMENT).await?,
        event_keys: collection(storage, EVENT_KEY).await?,
        rollouts: collection(storage, ROLLOUT).await?,
    })
}

/// One collection: its records, keyed without the prefix.
async fn collection<T: DeserializeOwned>(
    storage: &Storage,
    prefix: &str,
) -> std::result::Result<BTreeMap<String, T>, ApiError> {
    Ok(super::stored_under(storage, prefix)
        .await?
        .into_iter()
        .filter_map(|(key, item)| Some((key.strip_prefix(prefix)?.to_owned(), item)))
        .collect())
}

/// The storage changes of a command: writes (storage key, JSON text) and deleted keys.
#[derive(Default)]
struct Changes {
    writes: Vec<(String, String)>,
    deletes: Vec<String>,
}

/// The storage changes for the records an outcome changed: a record the model still holds is
/// written, one it no longer holds is deleted.
fn changes(project: &Project, changed: &[Record]) -> std::result::Result<Changes, ApiError> {
    let mut out = Changes::default();
    for record in changed {
        let (key, text) = match record {
            Record::Metric(k) => (format!("{METRIC}{k}"), text(project.metrics.get(k))?),
            Record::Flag(k) => (format!("{FLAG}{k}"), text(project.flags.get(k))?),
            Record::Segment(k) => (format!("{SEGMENT}{k}"), text(project.segments.get(k))?),
            Record::Experiment(k) => (
                format!("{EXPERIMENT}{k}"),
                text(project.experiments.get(k))?,
            ),
            Record::EventKey(k) => (format!("{EVENT_KEY}{k}"), text(project.event_keys.get(k))?),
            Record::Rollout(k) => (format!("{ROLLOUT}{k}"), text(project.rollouts.get(k))?),
        };
        match text {
            Some(t) => out.writes.push((key, t)),
            None => out.deletes.push(key),
        }
    }
    Ok(out)
}

fn text<T: serde::Serialize>(item: Option<&T>) -> std::result::Result<Option<String>, ApiError> {
    Ok(item.map(serde_json::to_string).transpose()?)
}

async fn persist(storage: &Storage, changes: Changes) -> std::result::Result<(), ApiError> {
    // The storage API takes at most 128 keys per call, as a plain object (`put_multiple` would
    // turn a map into a JS `Map`, whose entries storage does not see: nothing would be written).
    for chunk in changes.writes.chunks(128) {
        let entries = worker::js_sys::Object::new();
        for (key, text) in chunk {
            let text = text.as_str();
            worker::js_sys::Reflect::set(&entries, &key.into(), &text.into())
                .map_err(worker::Error::from)?;
        }
        storage.put_multiple_raw(entries).await?;
    }
    for chunk in changes.deletes.chunks(128) {
        storage.delete_multiple(chunk.to_vec()).await?;
    }
    Ok(())
}

//! `ProjectStore`: one Durable Object per project, holding its [`Project`] model (flags, metrics,
//! experiments, event-key catalogue). A Durable Object handles one request at a time and its
//! storage is transactional, so every command is a read-modify-write without races. The object
//! only loads the model, calls [`Project::apply`] (where every rule lives) and persists the
//! records the outcome names, in one storage call for the writes and one for the deletes.

use crate::error::ApiError;
use crate::http::now_ms;
use edge_exp_core::project::{Command, Project, Record};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use worker::{durable_object, State, Storage};

const METRIC: &str = "metric:";
const FLAG: &str = "flag:";
const SEGMENT: &str = "segment:";
const EXPERIMENT: &str = "experiment:";
const EVENT_KEY: &str = "eventkey:";

#[durable_object(fetch)]
pub struct ProjectStore {
    state: State,
    /// Loaded on the first command; dropped (reloaded next time) if a write fails.
    project: RefCell<Option<Project>>,
}

super::object_class!(ProjectStore, "PROJECT_STORE", Command, [project]);

impl ProjectStore {
    async fn execute(&self, command: Command) -> std::result::Result<Value, ApiError> {
        let storage = self.state.storage();
        if self.project.borrow().is_none() {
            let loaded = load(&storage).await?;
            *self.project.borrow_mut() = Some(loaded);
        }
        let (outcome, changes) = {
            let mut guard = self.project.borrow_mut();
            let project = guard
                .as_mut()
                .ok_or_else(|| ApiError::internal("project model not loaded"))?;
            let outcome = project.apply(command, now_ms())?;
            let changes = changes(project, &outcome.changed)?;
            (outcome, changes)
        };
        if let Err(e) = persist(&storage, changes).await {
            // The model holds a change storage does not: forget it, so the next command reloads.
            *self.project.borrow_mut() = None;
            return Err(e);
        }
        Ok(outcome.value)
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

//! `ExperimentCounter`: the earlier counting layout, one Durable Object per experiment iteration.
//! Kept so iterations started before sharding (no `counterShards`) stay readable and keep
//! counting; new iterations are counted by `CounterShard`s (`shards.rs`).
//!
//! Every unit's exposures and conversions live here ([`UnitLedger`]), changed only by this
//! object, one request at a time: no read-modify-write race, nothing counted twice. A payload ID
//! is recorded in the same step as its events, so an SDK retry (or the same payload arriving twice
//! at once on two isolates) is counted once. Its aggregates are computed here from the ledgers.

use crate::error::ApiError;
use edge_exp_core::aggregates::Aggregates;
use edge_exp_core::credentials::digest;
use edge_exp_core::experiment::{CounterBatch, Iteration, UnitLedger};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use worker::{durable_object, ListOptions, Result, State};

/// How long a payload ID is remembered.
const PAYLOAD_MEMORY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum CounterCommand {
    Record {
        payload_id: Option<String>,
        batch: CounterBatch,
        now: i64,
    },
    /// The iteration's aggregates, computed from the ledgers (results are computed by the route,
    /// as for sharded iterations).
    Aggregates { iteration: Iteration },
}

/// The object for one iteration of one experiment.
pub fn name(project: &str, env: &str, experiment: &str, iteration: u32) -> String {
    format!("{project}\n{env}\n{experiment}\n{iteration}")
}

#[cfg_attr(exports_counters, durable_object(fetch))]
pub struct ExperimentCounter {
    state: State,
    ledgers: RefCell<Option<HashMap<String, UnitLedger>>>,
    payloads: RefCell<HashMap<String, i64>>,
}

super::object_class!(
    ExperimentCounter,
    "EXPERIMENT_COUNTER",
    CounterCommand,
    [ledgers, payloads]
);

impl ExperimentCounter {
    async fn execute(&self, command: CounterCommand) -> std::result::Result<Value, ApiError> {
        self.load().await?;
        let body = match command {
            CounterCommand::Record {
                payload_id,
                batch,
                now,
            } => self.record(payload_id, batch, now).await?,
            CounterCommand::Aggregates { iteration } => {
                let guard = self.ledgers.borrow();
                let ledgers = guard.as_ref().into_iter().flat_map(|l| l.values());
                serde_json::to_value(Aggregates::from_ledgers(&iteration.metrics, ledgers))?
            }
        };
        Ok(body)
    }
}

fn unit_storage_key(unit: &str) -> String {
    // Storage keys are bounded; long context keys are hashed.
    if unit.len() <= 512 {
        format!("u:{unit}")
    } else {
        format!("u#{}", digest(unit))
    }
}

impl ExperimentCounter {
    async fn load(&self) -> Result<()> {
        if self.ledgers.borrow().is_some() {
            return Ok(());
        }
        let storage = self.state.storage();
        let mut ledgers = HashMap::new();
        for prefix in ["u:", "u#"] {
            ledgers.extend(super::stored_under::<UnitLedger>(&storage, prefix).await?);
        }
        let stored = storage
            .list_with_options(ListOptions::new().prefix("p:"))
            .await?;
        let mut payloads = self.payloads.borrow_mut();
        for entry in stored.entries() {
            let pair = worker::js_sys::Array::from(&entry?);
            if let (Some(key), Some(at)) = (pair.get(0).as_string(), pair.get(1).as_f64()) {
                if let Some(id) = key.strip_prefix("p:") {
                    payloads.insert(id.to_owned(), at as i64);
                }
            }
        }
        *self.ledgers.borrow_mut() = Some(ledgers);
        Ok(())
    }

    async fn record(
        &self,
        payload_id: Option<String>,
        batch: CounterBatch,
        now: i64,
    ) -> Result<Value> {
        if let Some(id) = &payload_id {
            if self.payloads.borrow().contains_key(id) {
                return Ok(
                    json!({"duplicate": true, "duplicates": 1, "exposures": 0, "conversions": 0}),
                );
            }
        }
        // Apply to the in-memory ledgers, then persist the touched ones with the payload ID.
        let mut touched: BTreeMap<String, UnitLedger> = BTreeMap::new();
        {
            let mut guard = self.ledgers.borrow_mut();
            let ledgers = guard.get_or_insert_with(HashMap::new);
            for e in &batch.exposures {
                let key = unit_storage_key(&e.unit);
                let ledger = ledgers.entry(key.clone()).or_default();
                ledger.expose(edge_exp_core::Exposure {
                    at: e.at,
                    variation: e.variation,
                });
                touched.insert(key, ledger.clone());
            }
            for c in &batch.conversions {
                let key = unit_storage_key(&c.unit);
                let ledger = ledgers.entry(key.clone()).or_default();
                ledger.convert(&c.metric, c.at, c.value);
                touched.insert(key, ledger.clone());
            }
        }
        let storage = self.state.storage();
        for (key, ledger) in &touched {
            storage.put(key, serde_json::to_string(ledger)?).await?;
        }
        if let Some(id) = payload_id {
            storage.put(&format!("p:{id}"), now as f64).await?;
            let stale: Vec<String> = {
                let mut payloads = self.payloads.borrow_mut();
                payloads.insert(id, now);
                let stale: Vec<String> = payloads
                    .iter()
                    .filter(|(_, at)| now - **at > PAYLOAD_MEMORY_MS)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &stale {
                    payloads.remove(k);
                }
                stale
            };
            for k in stale {
                storage.delete(&format!("p:{k}")).await?;
            }
        }
        Ok(
            json!({"duplicate": false, "exposures": batch.exposures.len(), "conversions": batch.conversions.len()}),
        )
    }
}

//! `HistoryShard`: the single writer of exposure histories. One SQLite-backed Durable Object per
//! (project, environment, shard) holds the histories of the (unit, flag) keys that hash to it
//! (`shard_of(key, HISTORY_SHARDS)`) and writes KV's copy of each.
//!
//! Why an owner: KV has no compare-and-set, so two consumer invocations updating one unit's
//! history at once would lose an exposure; here a key has one writer, and its read-modify-write
//! is one synchronous SQLite step. KV also takes one write per second per key and bills every
//! write: the copy is written only when it would answer some readable conversion time
//! differently (`core::attribution::copy`), at most once a second. A write that can wait — a
//! repeat exposure to the variation a unit already has changes answers only 90 days later — is
//! left to the object's alarm.
//!
//! Table `histories`: per key, the full history, the copy KV holds when it differs (NULL: KV
//! holds the full history), the last KV write, when the next is due and when the row expires.
//! A key with no row is seeded from KV: histories written before this object existed, or by
//! the consumer of an earlier version, are kept.

use super::kv_batch::{put_all, Put};
use super::sql::{parse_row, select_in, strings, transaction};
use super::{exposures, kv_expiration, ObjectClass, ATTRIBUTION_KV};
use crate::error::ApiError;
use crate::http::now_ms;
use edge_exp_core::attribution::copy::{write_due, MIN_WRITE_INTERVAL_MS};
use edge_exp_core::{Exposure, ExposureHistory};
use futures_util::lock::Mutex;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;
use worker::{durable_object, Delay, Env, Request, Response, Result, SqlStorage, SqlStorageValue};
use worker::{DurableObject, State};

/// History shards per environment: a consumer batch calls at most this many.
pub const HISTORY_SHARDS: u32 = 8;
/// Most copies one alarm run writes (an invocation may make 1,000 KV operations).
const ALARM_WRITES: usize = 500;

/// The object for shard `shard` of an environment's histories.
pub fn name(project: &str, env: &str, shard: u32) -> String {
    format!("{project}\n{env}\n#history{shard}")
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum HistoryCommand {
    /// Add the exposures to their keys' histories and write the KV copies that are due.
    Record {
        entries: Vec<(String, Vec<Exposure>)>,
    },
}

/// What a `Record` did: this call's KV operations (its own invocation's) and its deferrals.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    pub kv_reads: u64,
    pub kv_writes: u64,
    pub deferred: u64,
}

#[cfg_attr(exports_counters, durable_object(alarm))]
pub struct HistoryShard {
    state: State,
    env: Env,
    /// The table exists (checked once per instance).
    ready: Cell<bool>,
    /// One flush at a time: a key is never written twice at once, and its row says what KV got.
    flushing: Mutex<()>,
}

impl ObjectClass for HistoryShard {
    const BINDING: &'static str = "HISTORY_SHARD";
    type Command = HistoryCommand;
}

#[cfg(exports_counters)]
impl DurableObject for HistoryShard {
    fn new(state: State, env: Env) -> Self {
        HistoryShard {
            state,
            env,
            ready: Cell::new(false),
            flushing: Mutex::new(()),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        super::serve(req, async |command: HistoryCommand| match command {
            HistoryCommand::Record { entries } => self.record(entries).await,
        })
        .await
    }

    async fn alarm(&self) -> Result<Response> {
        if let Err(e) = self.on_alarm().await {
            // The runtime retries a failed alarm.
            return Err(worker::Error::RustError(format!("{:?}", e.0)));
        }
        Response::empty()
    }
}

/// One key's state as stored.
#[derive(Debug, Clone, Default)]
struct Entry {
    full: ExposureHistory,
    /// What KV holds.
    copy: ExposureHistory,
    written_at: Option<i64>,
}

#[derive(Deserialize)]
struct Row {
    key: String,
    full: String,
    copy: Option<String>,
    written_at: Option<i64>,
    write_at: Option<i64>,
}

#[derive(Deserialize)]
struct Time {
    at: Option<i64>,
}

const SELECT_ROWS: &str =
    "SELECT key, full, copy, written_at, write_at FROM histories WHERE key IN";

impl HistoryShard {
    fn sql(&self) -> Result<SqlStorage> {
        let sql = self.state.storage().sql();
        if !self.ready.get() {
            for statement in [
                "CREATE TABLE IF NOT EXISTS histories (key TEXT PRIMARY KEY, full TEXT NOT NULL, copy TEXT, written_at INTEGER, write_at INTEGER, expires_at INTEGER NOT NULL) WITHOUT ROWID",
                "CREATE INDEX IF NOT EXISTS histories_write_at ON histories (write_at) WHERE write_at IS NOT NULL",
                "CREATE INDEX IF NOT EXISTS histories_expires_at ON histories (expires_at)",
            ] {
                sql.exec(statement, None)?;
            }
            self.ready.set(true);
        }
        Ok(sql)
    }

    async fn record(&self, entries: Vec<(String, Vec<Exposure>)>) -> Result<Recorded, ApiError> {
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        let sql = self.sql()?;
        let mut stored = load(&sql, &keys)?;
        let missing: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| !stored.contains_key(*k))
            .collect();
        let (mut seeds, mut kv_reads) = (BTreeMap::new(), 0);
        if !missing.is_empty() {
            (seeds, kv_reads) = exposures::load_all(&self.env, &missing).await?;
            // Another call may have written rows while KV was read: load again after the await.
            stored = load(&sql, &keys)?;
        }
        // From the last load to the transaction nothing awaits: no other call interleaves, so
        // no exposure is lost between the read and the write.
        let now = now_ms();
        let (mut writes, mut due_now) = (Vec::new(), Vec::new());
        let (mut next_alarm, mut deferred) = (None::<i64>, 0);
        for (key, exposures) in entries {
            let mut entry = stored.remove(&key).unwrap_or_else(|| {
                let seed = seeds.get(&key).cloned().unwrap_or_default();
                Entry {
                    copy: seed.clone(),
                    full: seed,
                    written_at: None,
                }
            });
            if !exposures
                .iter()
                .fold(false, |any, e| entry.full.record(*e) | any)
            {
                continue;
            }
            let due = write_due(&entry.full, &entry.copy, entry.written_at);
            let expires = entry.full.expires_at().unwrap_or(now);
            match due {
                Some(at) if at <= now + MIN_WRITE_INTERVAL_MS => due_now.push(key.clone()),
                Some(at) => {
                    deferred += 1;
                    earliest(&mut next_alarm, at);
                }
                None => {}
            }
            earliest(&mut next_alarm, expires);
            writes.push(upsert(&key, &entry, due, expires)?);
        }
        transaction(&self.state, writes)?;
        if let Some(at) = next_alarm {
            self.alarm_by(at).await?;
        }
        let kv_writes = self.flush(Some(&due_now)).await?;
        Ok(Recorded {
            kv_reads,
            kv_writes,
            deferred,
        })
    }

    /// Write the KV copies that are due: of `keys` (a call's own), or of any key (the alarm).
    /// A key written less than a second ago waits for its turn.
    async fn flush(&self, keys: Option<&[String]>) -> Result<u64, ApiError> {
        let _turn = self.flushing.lock().await;
        let sql = self.sql()?;
        let horizon = now_ms() + MIN_WRITE_INTERVAL_MS;
        let rows: Vec<Row> = match keys {
            Some([]) => return Ok(0),
            Some(keys) => {
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                select_in::<Row>(&sql, SELECT_ROWS, &keys)?
                    .into_iter()
                    .filter(|r| r.write_at.is_some_and(|at| at <= horizon))
                    .collect()
            }
            None => sql
                .exec(
                    "SELECT key, full, copy, written_at, write_at FROM histories WHERE write_at <= ? ORDER BY write_at LIMIT ?",
                    vec![horizon.into(), (ALARM_WRITES as i64).into()],
                )?
                .to_array()?,
        };
        let Some(latest) = rows.iter().filter_map(|r| r.write_at).max() else {
            return Ok(0);
        };
        if latest > now_ms() {
            Delay::from(Duration::from_millis((latest - now_ms()) as u64)).await;
        }
        let now = now_ms();
        let mut written = Vec::with_capacity(rows.len());
        let mut puts = Vec::with_capacity(rows.len());
        for row in rows {
            let full: ExposureHistory = parse_row("exposure history", &row.key, &row.full)?;
            let expires = full.expires_at().unwrap_or(now);
            puts.push(Put {
                key: row.key.clone(),
                value: row.full,
                expiration: kv_expiration(expires, now),
            });
            written.push((row.key, full));
        }
        put_all(&self.env, ATTRIBUTION_KV, puts).await?;
        self.wrote(&sql, written, now).await
    }

    /// Record what KV got. A row changed while KV was written is due again against it.
    async fn wrote(
        &self,
        sql: &SqlStorage,
        written: Vec<(String, ExposureHistory)>,
        now: i64,
    ) -> Result<u64, ApiError> {
        let keys: Vec<&str> = written.iter().map(|(k, _)| k.as_str()).collect();
        let mut current = load(sql, &keys)?;
        let count = written.len() as u64;
        let mut writes = Vec::new();
        let mut next_alarm = None::<i64>;
        for (key, copy) in written {
            let Some(mut entry) = current.remove(&key) else {
                continue;
            };
            (entry.copy, entry.written_at) = (copy, Some(now));
            let due = write_due(&entry.full, &entry.copy, entry.written_at);
            if let Some(at) = due {
                earliest(&mut next_alarm, at);
            }
            let expires = entry.full.expires_at().unwrap_or(now);
            writes.push(upsert(&key, &entry, due, expires)?);
        }
        transaction(&self.state, writes)?;
        if let Some(at) = next_alarm {
            self.alarm_by(at).await?;
        }
        Ok(count)
    }

    /// Make sure the alarm rings by `at`.
    async fn alarm_by(&self, at: i64) -> Result<()> {
        let storage = self.state.storage();
        if storage.get_alarm().await?.is_some_and(|set| set <= at) {
            return Ok(());
        }
        storage.set_alarm((at - now_ms()).max(1)).await
    }

    /// Write the copies that have come due, forget expired histories, and ring again for the
    /// next due write or expiry.
    async fn on_alarm(&self) -> Result<(), ApiError> {
        self.flush(None).await?;
        let sql = self.sql()?;
        let now = now_ms();
        sql.exec(
            "DELETE FROM histories WHERE expires_at < ?",
            vec![SqlStorageValue::from(now)],
        )?;
        let next: Vec<Time> = sql
            .exec(
                "SELECT MIN(at) AS at FROM (SELECT MIN(write_at) AS at FROM histories UNION ALL SELECT MIN(expires_at) FROM histories)",
                None,
            )?
            .to_array()?;
        if let Some(at) = next.first().and_then(|t| t.at) {
            self.alarm_by(at).await?;
        }
        Ok(())
    }
}

/// The stored entries of `keys` (those with a row).
fn load(sql: &SqlStorage, keys: &[&str]) -> Result<BTreeMap<String, Entry>> {
    let mut entries = BTreeMap::new();
    for row in select_in::<Row>(sql, SELECT_ROWS, keys)? {
        let full: ExposureHistory = parse_row("exposure history", &row.key, &row.full)?;
        let copy = match &row.copy {
            Some(text) => parse_row("exposure history copy", &row.key, text)?,
            None => full.clone(),
        };
        let written_at = row.written_at;
        entries.insert(
            row.key,
            Entry {
                full,
                copy,
                written_at,
            },
        );
    }
    Ok(entries)
}

fn upsert(
    key: &str,
    entry: &Entry,
    due: Option<i64>,
    expires: i64,
) -> Result<(String, Vec<SqlStorageValue>)> {
    let full = serde_json::to_string(&entry.full)?;
    let copy = match entry.copy == entry.full {
        true => SqlStorageValue::Null,
        false => serde_json::to_string(&entry.copy)?.into(),
    };
    let mut params = strings([key, full.as_str()]);
    params.extend([
        copy,
        optional(entry.written_at),
        optional(due),
        expires.into(),
    ]);
    Ok((
        "INSERT OR REPLACE INTO histories (key, full, copy, written_at, write_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)".into(),
        params,
    ))
}

fn earliest(slot: &mut Option<i64>, at: i64) {
    *slot = Some(slot.map_or(at, |n| n.min(at)));
}

fn optional(value: Option<i64>) -> SqlStorageValue {
    value.map_or(SqlStorageValue::Null, SqlStorageValue::from)
}

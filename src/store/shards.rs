//! `CounterShard`: one SQLite-backed Durable Object per (iteration, shard), holding the exact
//! counts of the units that hash to it (`core::aggregates::shard_of`).
//!
//! Tables: `units` (one row per unit: its exposures in the iteration), `conversions` (one row per
//! unit × metric: its conversion events), `payloads` (message IDs counted in the last 24 h) and
//! `aggregates` (one row: the shard's running sufficient statistics); for percentile metrics,
//! `unit_values` (each unit's value, indexed by value) and `value_buckets` (how many values each
//! value bucket holds: `core::stats::selection`); `bot_exclusions` (bots' exclusions: one row per
//! reason and variation, `core::bots::excluded`). A batch reads only the rows
//! of its units, updates the aggregates incrementally (`core::aggregates::apply_to_unit`) and
//! writes rows, message IDs and aggregates in one synchronous SQLite transaction: a message is
//! counted with its events or not at all, once. Nothing per-unit stays in memory; the only cache
//! is the aggregates (metrics × variations).

use super::sql::{parse_row as parse, select_in, strings, transaction};
use super::ObjectClass;
use crate::error::ApiError;
use edge_exp_core::aggregates::{apply_to_unit, Aggregates, LedgerChange};
use edge_exp_core::bots::excluded::{ExcludedCounts, ExcludedPart, Tally};
use edge_exp_core::experiment::{CounterBatch, Iteration, MetricSnapshot, UnitLedger};
use edge_exp_core::stats::selection::{bucket, bucket_deltas, range, Point};
use edge_exp_core::ExposureHistory;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use worker::{durable_object, Env, Result, SqlStorage, SqlStorageValue, State};

/// How long a message ID is remembered (queue redeliveries and SDK retries come well within it).
const PAYLOAD_MEMORY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum ShardCommand {
    /// Count these messages' events (each part: message ID, what it adds to this shard).
    Record {
        iteration: Iteration,
        parts: Vec<(String, CounterBatch)>,
        now: i64,
    },
    /// Count these bot messages' exclusions (each part: message ID, what it adds here).
    Exclude {
        parts: Vec<(String, ExcludedPart)>,
        now: i64,
    },
    /// The shard's aggregates and, for each arm of a percentile metric asked, its bucket counts
    /// (one synchronous read: the two agree).
    Summary { arms: Vec<Arm> },
    /// For each bucket asked: the arm's count below it and in it, and its distinct values with
    /// their counts (one synchronous read).
    Bucket { picks: Vec<BucketPick> },
    /// Test hook (the `_fault` route, only with fault injection): drop `value_buckets`, as in a
    /// shard written before it existed; the next command counts them again from the values.
    ForgetBuckets,
}

/// One arm of a percentile metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arm {
    pub metric: String,
    pub variation: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketPick {
    pub arm: Arm,
    pub bucket: i64,
}

/// A shard's answer to `Summary`: its aggregates and, per arm asked, (bucket, count) by bucket.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardSummary {
    pub aggregates: Aggregates,
    pub buckets: Vec<Vec<(i64, u64)>>,
    /// What the shard excluded as bots (one row per reason and variation).
    #[serde(default)]
    pub excluded: ExcludedCounts,
}

/// A shard's answer for one `BucketPick`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketValues {
    pub below: u64,
    pub inside: u64,
    pub values: Vec<(f64, u64)>,
}

/// The object for shard `shard` of one iteration.
pub fn name(project: &str, env: &str, experiment: &str, iteration: u32, shard: u32) -> String {
    format!("{project}\n{env}\n{experiment}\n{iteration}\n#{shard}")
}

/// One call to every shard of `objects` at once (the command built per shard index); the
/// replies, parsed, in shard order.
pub async fn call_each<T: serde::de::DeserializeOwned>(
    env: &Env,
    objects: &[String],
    command: impl Fn(usize) -> ShardCommand,
) -> std::result::Result<Vec<T>, ApiError> {
    let calls = objects.iter().enumerate().map(|(i, object)| {
        let c = command(i);
        async move { CounterShard::call::<T>(env, object, &c).await }
    });
    futures_util::future::try_join_all(calls).await
}

#[cfg_attr(exports_counters, durable_object(fetch))]
pub struct CounterShard {
    state: State,
    /// The tables exist (checked once per object instance, not per request).
    ready: Cell<bool>,
    aggregates: RefCell<Option<Aggregates>>,
}

super::object_class!(
    CounterShard,
    "COUNTER_SHARD",
    ShardCommand,
    [ready, aggregates]
);

impl CounterShard {
    async fn execute(&self, command: ShardCommand) -> std::result::Result<Value, ApiError> {
        let sql = self.state.storage().sql();
        if !self.ready.get() {
            create_tables(&sql)?;
            self.ready.set(true);
        }
        let body = match command {
            ShardCommand::Record {
                iteration,
                parts,
                now,
            } => self.record(&sql, &iteration, parts, now)?,
            ShardCommand::Exclude { parts, now } => exclude(&self.state, &sql, parts, now)?,
            ShardCommand::Summary { arms } => serde_json::to_value(ShardSummary {
                excluded: excluded(&sql)?,
                aggregates: self.load_aggregates(&sql)?,
                buckets: arms
                    .iter()
                    .map(|a| buckets(&sql, a))
                    .collect::<Result<_>>()?,
            })?,
            ShardCommand::ForgetBuckets => {
                sql.exec("DROP TABLE IF EXISTS value_buckets", None)?;
                self.ready.set(false);
                Value::Null
            }
            ShardCommand::Bucket { picks } => serde_json::to_value(
                picks
                    .iter()
                    .map(|p| bucket_values(&sql, p))
                    .collect::<Result<Vec<_>>>()?,
            )?,
        };
        Ok(body)
    }
}

fn create_tables(sql: &SqlStorage) -> Result<()> {
    // Shards written before the bucket counts existed get them from their stored values, once.
    let had_buckets = table_exists(sql, "value_buckets")?;
    for statement in [
        "CREATE TABLE IF NOT EXISTS units (unit TEXT PRIMARY KEY, x TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS conversions (unit TEXT NOT NULL, metric TEXT NOT NULL, c TEXT NOT NULL, PRIMARY KEY (unit, metric)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS payloads (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS payloads_at ON payloads (at)",
        "CREATE TABLE IF NOT EXISTS aggregates (id INTEGER PRIMARY KEY, a TEXT NOT NULL)",
        // Per-unit values of percentile metrics only, ordered for exact order statistics.
        "CREATE TABLE IF NOT EXISTS unit_values (metric TEXT NOT NULL, unit TEXT NOT NULL, variation INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (metric, unit)) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS unit_values_order ON unit_values (metric, variation, value)",
        // How many of those values each bucket holds (`core::stats::selection::bucket`).
        // Bots' exclusions: one row per reason and variation (`core::bots::excluded`), never per unit.
        "CREATE TABLE IF NOT EXISTS bot_exclusions (reason TEXT NOT NULL, variation TEXT NOT NULL, t TEXT NOT NULL, PRIMARY KEY (reason, variation)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS value_buckets (metric TEXT NOT NULL, variation INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (metric, variation, bucket)) WITHOUT ROWID",
    ] {
        sql.exec(statement, None)?;
    }
    if !had_buckets {
        count_buckets(sql)?;
    }
    Ok(())
}

fn table_exists(sql: &SqlStorage, table: &str) -> Result<bool> {
    let rows: Vec<SumRow> = sql
        .exec(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
            vec![table.into()],
        )?
        .to_array()?;
    Ok(rows.first().is_some_and(|r| r.n > 0))
}

#[derive(Deserialize)]
struct StoredValue {
    metric: String,
    variation: i64,
    value: f64,
}

/// Fill `value_buckets` from every stored value (a shard's first start with this code; the
/// statements run in the request's one synchronous turn, so they land together).
fn count_buckets(sql: &SqlStorage) -> Result<()> {
    // Read row by row: only the bucket counts are held, never every unit's value at once.
    let mut counts: BTreeMap<(String, u32, i64), i64> = BTreeMap::new();
    let cursor = sql.exec("SELECT metric, variation, value FROM unit_values", None)?;
    for row in cursor.next::<StoredValue>() {
        let r = row?;
        let variation = u32::try_from(r.variation).unwrap_or(u32::MAX);
        *counts
            .entry((r.metric, variation, bucket(r.value)))
            .or_default() += 1;
    }
    for (statement, params) in bucket_writes(counts) {
        sql.exec(&statement, params)?;
    }
    Ok(())
}

/// The upserts that apply bucket count changes.
fn bucket_writes(
    deltas: BTreeMap<(String, u32, i64), i64>,
) -> impl Iterator<Item = (String, Vec<SqlStorageValue>)> {
    deltas.into_iter().map(|((metric, variation, bucket), n)| {
        (
            "INSERT INTO value_buckets (metric, variation, bucket, n) VALUES (?, ?, ?, ?) ON CONFLICT (metric, variation, bucket) DO UPDATE SET n = n + excluded.n".into(),
            vec![metric.into(), i64::from(variation).into(), bucket.into(), n.into()],
        )
    })
}

#[derive(Deserialize)]
struct UnitRow {
    unit: String,
    x: String,
}

#[derive(Deserialize)]
struct ConversionRow {
    unit: String,
    metric: String,
    c: String,
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

#[derive(Deserialize)]
struct AggregatesRow {
    a: String,
}

#[derive(Deserialize)]
struct BucketRow {
    bucket: i64,
    n: i64,
}

#[derive(Deserialize)]
struct SumRow {
    n: i64,
}

#[derive(Deserialize)]
struct ValueCountRow {
    value: f64,
    n: i64,
}

/// An arm's non-empty buckets with their counts, by bucket.
fn buckets(sql: &SqlStorage, arm: &Arm) -> Result<Vec<(i64, u64)>> {
    let rows: Vec<BucketRow> = sql
        .exec(
            "SELECT bucket, n FROM value_buckets WHERE metric = ? AND variation = ? AND n > 0 ORDER BY bucket",
            arm_params(arm),
        )?
        .to_array()?;
    Ok(rows
        .into_iter()
        .map(|r| (r.bucket, r.n.max(0) as u64))
        .collect())
}

fn arm_params(arm: &Arm) -> Vec<SqlStorageValue> {
    vec![arm.metric.as_str().into(), i64::from(arm.variation).into()]
}

#[derive(Deserialize)]
struct BelowInsideRow {
    below: i64,
    inside: i64,
}

/// The arm's counts below and in the bucket (one range scan of its bucket counts), and the
/// bucket's distinct values (an index range scan of that bucket only).
fn bucket_values(sql: &SqlStorage, pick: &BucketPick) -> Result<BucketValues> {
    let mut params = arm_params(&pick.arm);
    params.push(pick.bucket.into());
    let counts: Vec<BelowInsideRow> = sql
        .exec(
            "SELECT COALESCE(SUM(CASE WHEN bucket < ?3 THEN n END), 0) AS below, COALESCE(SUM(CASE WHEN bucket = ?3 THEN n END), 0) AS inside FROM value_buckets WHERE metric = ?1 AND variation = ?2 AND bucket <= ?3",
            params,
        )?
        .to_array()?;
    let (below, inside) = counts
        .first()
        .map_or((0, 0), |r| (r.below.max(0) as u64, r.inside.max(0) as u64));
    let (low, high) = range(pick.bucket);
    let mut params = arm_params(&pick.arm);
    params.extend([low.into(), high.into()]);
    let rows: Vec<ValueCountRow> = sql
        .exec(
            "SELECT value, COUNT(*) AS n FROM unit_values WHERE metric = ? AND variation = ? AND value >= ? AND value <= ? GROUP BY value ORDER BY value",
            params,
        )?
        .to_array()?;
    let values = rows.into_iter().map(|r| (r.value, r.n.max(0) as u64));
    Ok(BucketValues {
        below,
        inside,
        values: values.collect(),
    })
}

/// Where the unit's value of percentile metric `m` counts: what `unit_values` holds for it.
fn point(ledger: &UnitLedger, m: &MetricSnapshot) -> Point {
    ledger.variation().zip(ledger.value(m))
}

/// The unit's points of the iteration's percentile metrics.
fn points<'a>(ledger: &UnitLedger, it: &'a Iteration) -> Vec<(&'a str, Point)> {
    it.metrics
        .iter()
        .filter(|m| m.percentile.is_some())
        .map(|m| (m.key.as_str(), point(ledger, m)))
        .collect()
}

/// The writes that keep `unit_values` equal to the unit's current points (`points`, already
/// computed for the bucket counts) of the percentile metrics its events touched.
fn percentile_writes(
    unit: &str,
    points: &[(&str, Point)],
    change: &LedgerChange,
) -> Vec<(String, Vec<SqlStorageValue>)> {
    points
        .iter()
        .filter(|(m, _)| change.exposures || change.metrics.iter().any(|c| c == m))
        .map(|&(m, point)| match point {
            Some((variation, x)) => (
                "INSERT INTO unit_values (metric, unit, variation, value) VALUES (?, ?, ?, ?) ON CONFLICT (metric, unit) DO UPDATE SET variation = excluded.variation, value = excluded.value".into(),
                vec![m.into(), unit.into(), i64::from(variation).into(), x.into()],
            ),
            None => (
                "DELETE FROM unit_values WHERE metric = ? AND unit = ?".into(),
                strings([m, unit]),
            ),
        })
        .collect()
}

impl CounterShard {
    fn load_aggregates(&self, sql: &SqlStorage) -> Result<Aggregates> {
        if let Some(a) = self.aggregates.borrow().as_ref() {
            return Ok(a.clone());
        }
        let rows: Vec<AggregatesRow> = sql
            .exec("SELECT a FROM aggregates WHERE id = 1", None)?
            .to_array()?;
        let agg = match rows.first() {
            Some(row) => parse("aggregates", "shard", &row.a)?,
            None => Aggregates::default(),
        };
        *self.aggregates.borrow_mut() = Some(agg.clone());
        Ok(agg)
    }

    /// The message IDs among `ids` already counted here.
    fn seen(sql: &SqlStorage, ids: &[&str]) -> Result<BTreeSet<String>> {
        let rows: Vec<IdRow> = select_in(sql, "SELECT id FROM payloads WHERE id IN", ids)?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// The stored ledgers of `units` (those with no row start empty).
    fn ledgers(sql: &SqlStorage, units: &[&str]) -> Result<BTreeMap<String, UnitLedger>> {
        let mut out: BTreeMap<String, UnitLedger> = BTreeMap::new();
        let rows: Vec<UnitRow> = select_in(sql, "SELECT unit, x FROM units WHERE unit IN", units)?;
        for row in rows {
            let exposures: ExposureHistory = parse("exposures", &row.unit, &row.x)?;
            out.entry(row.unit).or_default().exposures = exposures;
        }
        let rows: Vec<ConversionRow> = select_in(
            sql,
            "SELECT unit, metric, c FROM conversions WHERE unit IN",
            units,
        )?;
        for row in rows {
            let events: Vec<(i64, f64)> = parse("conversions", &row.unit, &row.c)?;
            out.entry(row.unit)
                .or_default()
                .conversions
                .insert(row.metric, events);
        }
        Ok(out)
    }

    fn record(
        &self,
        sql: &SqlStorage,
        it: &Iteration,
        parts: Vec<(String, CounterBatch)>,
        now: i64,
    ) -> Result<Value> {
        let ids: Vec<&str> = parts.iter().map(|(id, _)| id.as_str()).collect();
        let seen = Self::seen(sql, &ids)?;
        let received = ids.len();
        let (batch, fresh) = unseen(parts, &seen);
        let per_unit = batch.per_unit();
        let units: Vec<&str> = per_unit.keys().copied().collect();
        let mut ledgers = Self::ledgers(sql, &units)?;
        let mut agg = self.load_aggregates(sql)?;
        let mut writes: Vec<(String, Vec<SqlStorageValue>)> = Vec::new();
        let mut moves: Vec<(&str, Point, Point)> = Vec::new();
        for (unit, events) in &per_unit {
            let ledger = ledgers.entry((*unit).to_owned()).or_default();
            let before = points(ledger, it);
            let change = apply_to_unit(ledger, &it.metrics, events, &mut agg);
            let after = points(ledger, it);
            writes.extend(percentile_writes(unit, &after, &change));
            moves.extend(
                before
                    .into_iter()
                    .zip(after)
                    .map(|((m, b), (_, a))| (m, b, a)),
            );
            writes.extend(ledger_writes(unit, ledger, &change)?);
        }
        writes.extend(bucket_writes(bucket_deltas(moves)));
        for id in &fresh {
            writes.push((
                "INSERT INTO payloads (id, at) VALUES (?, ?)".into(),
                vec![id.as_str().into(), now.into()],
            ));
        }
        writes.push((
            "DELETE FROM payloads WHERE at < ?".into(),
            vec![(now - PAYLOAD_MEMORY_MS).into()],
        ));
        writes.push((
            "INSERT INTO aggregates (id, a) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET a = excluded.a".into(),
            strings([serde_json::to_string(&agg)?.as_str()]),
        ));
        // Drop the cache first: if the transaction fails, the next request reloads what is stored.
        *self.aggregates.borrow_mut() = None;
        transaction(&self.state, writes)?;
        *self.aggregates.borrow_mut() = Some(agg);
        let duplicates = received - fresh.len();
        Ok(json!({"units": per_unit.len(), "messages": fresh.len(), "duplicates": duplicates}))
    }
}

#[derive(Deserialize)]
struct ExcludedRow {
    reason: String,
    variation: String,
    t: String,
}

/// Every exclusion row of the shard.
fn excluded(sql: &SqlStorage) -> Result<ExcludedCounts> {
    let rows: Vec<ExcludedRow> = sql
        .exec("SELECT reason, variation, t FROM bot_exclusions", None)?
        .to_array()?;
    let mut counts = ExcludedCounts::default();
    for row in rows {
        let tally: Tally = parse("excluded", &row.reason, &row.t)?;
        counts
            .0
            .entry(row.reason)
            .or_default()
            .insert(row.variation, tally);
    }
    Ok(counts)
}

/// Count bot messages' exclusions not counted before (by message ID), rows and IDs in one
/// transaction, as `record` does for counts.
fn exclude(
    state: &State,
    sql: &SqlStorage,
    parts: Vec<(String, ExcludedPart)>,
    now: i64,
) -> Result<Value> {
    let ids: Vec<&str> = parts.iter().map(|(id, _)| id.as_str()).collect();
    let seen = CounterShard::seen(sql, &ids)?;
    let mut counts = excluded(sql)?;
    let before = counts.clone();
    let mut fresh: Vec<&str> = Vec::new();
    for (id, part) in &parts {
        if !seen.contains(id) && !fresh.contains(&id.as_str()) {
            counts.add(part);
            fresh.push(id);
        }
    }
    let mut writes: Vec<(String, Vec<SqlStorageValue>)> = Vec::new();
    for (reason, rows) in &counts.0 {
        for (variation, tally) in rows {
            if before.0.get(reason).and_then(|r| r.get(variation)) == Some(tally) {
                continue;
            }
            writes.push((
                "INSERT INTO bot_exclusions (reason, variation, t) VALUES (?, ?, ?) ON CONFLICT (reason, variation) DO UPDATE SET t = excluded.t".into(),
                strings([reason.as_str(), variation.as_str(), serde_json::to_string(tally)?.as_str()]),
            ));
        }
    }
    for id in &fresh {
        writes.push((
            "INSERT INTO payloads (id, at) VALUES (?, ?)".into(),
            vec![(*id).into(), now.into()],
        ));
    }
    transaction(state, writes)?;
    Ok(json!({"messages": fresh.len(), "duplicates": parts.len() - fresh.len()}))
}

/// The parts not counted before (by message ID, also within this call), merged, and their IDs.
fn unseen(
    parts: Vec<(String, CounterBatch)>,
    seen: &BTreeSet<String>,
) -> (CounterBatch, Vec<String>) {
    let mut batch = CounterBatch::default();
    let mut fresh: Vec<String> = Vec::new();
    for (id, part) in parts {
        if !seen.contains(&id) && !fresh.contains(&id) {
            batch.extend(part);
            fresh.push(id);
        }
    }
    (batch, fresh)
}

/// The rows of one unit's ledger that `change` touched: its exposures, and its events per metric.
fn ledger_writes(
    unit: &str,
    ledger: &UnitLedger,
    change: &LedgerChange,
) -> Result<Vec<(String, Vec<SqlStorageValue>)>> {
    let mut writes = Vec::new();
    if change.exposures {
        writes.push((
            "INSERT INTO units (unit, x) VALUES (?, ?) ON CONFLICT (unit) DO UPDATE SET x = excluded.x".into(),
            strings([unit, serde_json::to_string(&ledger.exposures)?.as_str()]),
        ));
    }
    for metric in &change.metrics {
        let events = ledger
            .conversions
            .get(metric)
            .map(serde_json::to_string)
            .transpose()?
            .unwrap_or_default();
        writes.push((
            "INSERT INTO conversions (unit, metric, c) VALUES (?, ?, ?) ON CONFLICT (unit, metric) DO UPDATE SET c = excluded.c".into(),
            strings([unit, metric.as_str(), events.as_str()]),
        ));
    }
    Ok(writes)
}

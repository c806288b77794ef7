//! `GuardedRollout`: one Durable Object per flag and environment (`{project}\n{env}\n{flag}`),
//! which checks the flag's guarded rollout every `checkIntervalSeconds`, by its alarm.
//!
//! A check reads the rollout from the project's object, the two arms' aggregates from its
//! counter shards (one call per shard, at once: O(shards × metrics × 2) whatever the units),
//! decides with `core::rollout::check`, and sends the decision back to the project's object,
//! which applies it only to the revision it was made on (a retried or late alarm changes
//! nothing) and writes the flag in the same step when traffic changes. The object then POSTs
//! every transition it has not delivered yet (the project's or a human's) to the registered
//! webhooks, signed; a failed delivery is retried at the next checks, ten times at most.
//! The next alarm is set before the work, so a check that fails still leaves the next one.
//! What the object keeps is its own: the latest check and one point per check (the series).

use super::projects::ProjectStore;
use super::shards::{self, ShardCommand, ShardSummary};
use super::webhooks;
use super::ObjectClass;
use crate::error::ApiError;
use crate::http::now_ms;
use edge_exp_core::aggregates::Aggregates;
use edge_exp_core::project::rollouts::RolloutVerb;
use edge_exp_core::project::Command;
use edge_exp_core::rollout::check::{self, Check};
use edge_exp_core::rollout::{Delivery, MeasuredRollout, SeriesPoint};
use edge_exp_core::webhook::Webhook;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{
    durable_object, DurableObject, Env, Fetch, Headers, ListOptions, Method, Request, RequestInit,
    Response, State,
};

const WATCH: &str = "watch";
/// Points kept (two days of one-minute checks).
const MAX_POINTS: usize = 2_880;
const MAX_ATTEMPTS: u32 = 10;
const MAX_DELIVERIES_KEPT: usize = 50;

#[cfg_attr(exports_counters, durable_object(alarm))]
pub struct GuardedRollout {
    state: State,
    env: Env,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum RolloutCommand {
    /// A rollout of this flag changed: watch it (from its first check, one second from now).
    Arm(ToArm),
    /// The latest check, the series and the webhook deliveries of rollout `id`.
    Read { id: String },
    /// From the Cron watchdog: set the alarm if it is missing or late. Answers whether it was.
    Ensure,
    /// Test hook (`FAULT_INJECTION` only, `/_fault/drop-rollout-alarm`): lose the alarm, as
    /// the platform may, to show the watchdog re-arms it.
    DropAlarm,
}

impl ObjectClass for GuardedRollout {
    const BINDING: &'static str = "GUARDED_ROLLOUT";
    type Command = RolloutCommand;
}

/// The rollout `id` of a flag to watch: what `RolloutCommand::Arm` tells its object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToArm {
    pub project: String,
    pub env: String,
    pub flag: String,
    pub id: String,
}

/// Tell the rollout's object to watch it. A failure is logged: the rollout is stored, and the
/// next change of it arms the object.
pub async fn arm(env: &Env, arm: &ToArm) {
    let object = name(&arm.project, &arm.env, &arm.flag);
    let command = RolloutCommand::Arm(arm.clone());
    if let Err(e) = GuardedRollout::call::<Value>(env, &object, &command).await {
        worker::console_error!("guarded rollout object not armed: {:?}", e.0);
    }
}

pub fn name(project: &str, env: &str, flag: &str) -> String {
    format!("{project}\n{env}\n{flag}")
}

/// The registry of active rollouts the watchdog walks: `CONFIG` KV `activerollout:{p}:{e}:{f}`
/// (keys have no `:`), written and deleted by the project's object as rollouts start and end.
const REGISTRY: &str = "activerollout:";

pub async fn register(
    env: &Env,
    (project, env_key, flag): (&str, &str, &str),
    active: bool,
) -> Result<(), ApiError> {
    let store = super::kv(env, super::CONFIG_KV)?;
    let key = format!("{REGISTRY}{project}:{env_key}:{flag}");
    if active {
        store.put(&key, "")?.execute().await?;
    } else {
        store.delete(&key).await?;
    }
    Ok(())
}

/// Lose the alarm of the rollout object of a flag (the `DropAlarm` test hook).
pub async fn drop_alarm(
    env: &Env,
    (project, env_key, flag): (&str, &str, &str),
) -> Result<(), ApiError> {
    let _: Value = GuardedRollout::call(
        env,
        &name(project, env_key, flag),
        &RolloutCommand::DropAlarm,
    )
    .await?;
    Ok(())
}

/// The Cron watchdog: every active rollout's object sets its alarm if it is missing or late (an
/// alarm the platform dropped); how many were re-armed.
pub async fn watchdog(env: &Env) -> Result<u32, ApiError> {
    let store = super::kv(env, super::CONFIG_KV)?;
    let mut rearmed = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut list = store.list().prefix(REGISTRY.into());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        for key in page.keys {
            let parts: Vec<&str> = key.name[REGISTRY.len()..].splitn(3, ':').collect();
            let [project, env_key, flag] = parts[..] else {
                continue;
            };
            let missing: bool =
                GuardedRollout::call(env, &name(project, env_key, flag), &RolloutCommand::Ensure)
                    .await?;
            rearmed += u32::from(missing);
        }
        match page.cursor {
            Some(c) if !page.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    Ok(rearmed)
}

/// What the object watches, and what it delivered.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Watch {
    project: String,
    env: String,
    flag: String,
    id: String,
    /// Transitions up to this `seq` were handed to delivery.
    delivered: u64,
    pending: Vec<Pending>,
    deliveries: Vec<Delivery>,
    last: Option<Check>,
    /// Consecutive checks that could not read the counts.
    failures: u32,
    /// The rollout's check interval, as of the last check (for the watchdog).
    #[serde(default)]
    interval_seconds: u32,
    /// Points of the series kept, so trimming never lists them all.
    #[serde(default)]
    points: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    webhook: String,
    seq: u64,
    body: String,
    attempts: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RolloutData {
    rollout: MeasuredRollout,
    flag_name: String,
}

#[derive(Deserialize)]
struct ApplyAnswer {
    rollout: MeasuredRollout,
}

#[cfg(exports_counters)]
impl DurableObject for GuardedRollout {
    fn new(state: State, env: Env) -> Self {
        GuardedRollout { state, env }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        super::serve(req, async |command: RolloutCommand| {
            self.execute(command).await
        })
        .await
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if let Err(e) = self.tick().await {
            worker::console_error!(
                "guarded rollout check failed (the next one is set): {:?}",
                e.0
            );
        }
        Response::empty()
    }
}

impl GuardedRollout {
    async fn execute(&self, command: RolloutCommand) -> Result<Value, ApiError> {
        match command {
            RolloutCommand::Arm(ToArm {
                project,
                env,
                flag,
                id,
            }) => {
                let mut watch = self.load().await?.unwrap_or_default();
                if watch.id != id {
                    // A new rollout of the flag: the last one's series can no longer be read
                    // (reads are by the current id), so it goes with it.
                    self.state.storage().delete_all().await?;
                    watch = Watch {
                        project,
                        env,
                        flag,
                        id,
                        ..Watch::default()
                    };
                }
                self.save(&watch).await?;
                self.state.storage().set_alarm(1_000).await?;
                Ok(Value::Null)
            }
            RolloutCommand::Ensure => {
                let Some(w) = self.load().await? else {
                    return Ok(json!(false));
                };
                let alarm = self.state.storage().get_alarm().await?;
                // Before its first check the interval is not known yet: a minute.
                let interval = if w.interval_seconds == 0 {
                    60
                } else {
                    w.interval_seconds
                };
                let missing = edge_exp_core::rollout::alarm_missing(alarm, now_ms(), interval);
                if missing {
                    self.state.storage().set_alarm(1_000).await?;
                }
                Ok(json!(missing))
            }
            RolloutCommand::DropAlarm => {
                self.state.storage().delete_alarm().await?;
                Ok(Value::Null)
            }
            RolloutCommand::Read { id } => {
                let watch = self.load().await?.filter(|w| w.id == id);
                let Some(w) = watch else {
                    return Ok(json!({"last": null, "series": [], "deliveries": []}));
                };
                Ok(
                    json!({"last": w.last, "series": self.series(&id).await?, "deliveries": w.deliveries}),
                )
            }
        }
    }

    async fn load(&self) -> Result<Option<Watch>, ApiError> {
        let text: Option<String> = self.state.storage().get(WATCH).await?;
        Ok(text.and_then(|t| super::parse_stored(WATCH, &t)))
    }

    async fn save(&self, w: &Watch) -> Result<(), ApiError> {
        self.state
            .storage()
            .put(WATCH, serde_json::to_string(w)?)
            .await?;
        Ok(())
    }

    /// One check (see the module's description).
    async fn tick(&self) -> Result<(), ApiError> {
        let Some(mut w) = self.load().await? else {
            return Ok(());
        };
        let command = |verb| Command::Rollouts {
            project: w.project.clone(),
            env: w.env.clone(),
            flag: w.flag.clone(),
            verb,
        };
        let data: RolloutData = ProjectStore::call(
            &self.env,
            &w.project,
            &command(RolloutVerb::Data { id: w.id.clone() }),
        )
        .await?;
        let mut rollout = data.rollout;
        if rollout.active() {
            self.state
                .storage()
                .set_alarm(i64::from(rollout.check_interval_seconds) * 1000)
                .await?;
            let now = now_ms();
            let counts = match self.counts(&w, &rollout).await {
                Ok(c) => {
                    w.failures = 0;
                    Some(c)
                }
                Err(e) => {
                    w.failures += 1;
                    worker::console_error!(
                        "guarded rollout `{}`: counts unavailable ({} in a row): {:?}",
                        rollout.id,
                        w.failures,
                        e.0
                    );
                    None
                }
            };
            let check = check::check(&rollout, counts.as_ref(), now);
            self.keep((&w.id, &mut w.points), &check).await?;
            w.last = Some(check.clone());
            if rollout.status == edge_exp_core::rollout::Status::Monitoring {
                let verb = RolloutVerb::Apply {
                    id: rollout.id.clone(),
                    check,
                };
                let answer: ApplyAnswer =
                    ProjectStore::call(&self.env, &w.project, &command(verb)).await?;
                rollout = answer.rollout;
            }
        }
        self.deliver(&mut w, &rollout, &data.flag_name).await;
        self.save(&w).await?;
        if !rollout.active() && !w.pending.is_empty() {
            self.state
                .storage()
                .set_alarm(i64::from(rollout.check_interval_seconds) * 1000)
                .await?;
        }
        Ok(())
    }

    /// The two arms' aggregates, merged from the rollout's counter shards.
    async fn counts(&self, w: &Watch, r: &MeasuredRollout) -> Result<Aggregates, ApiError> {
        let k = r.iteration.counter_shards.unwrap_or(1);
        let key = r.counter_key();
        let objects: Vec<String> = (0..k)
            .map(|s| shards::name(&w.project, &w.env, &key, r.iteration.id, s))
            .collect();
        let summaries: Vec<ShardSummary> = shards::call_each(&self.env, &objects, |_| {
            ShardCommand::Summary { arms: Vec::new() }
        })
        .await?;
        let mut merged = Aggregates::default();
        summaries.iter().for_each(|s| merged.merge(&s.aggregates));
        Ok(merged)
    }

    /// Keep the check as a point of the series; beyond [`MAX_POINTS`] the oldest go, listed by
    /// key order (zero-padded times) and only as many as must go.
    async fn keep(&self, (id, points): (&str, &mut usize), c: &Check) -> Result<(), ApiError> {
        let point = SeriesPoint::of(c);
        let storage = self.state.storage();
        let prefix = format!("p:{id}:");
        storage
            .put(
                &format!("{prefix}{:016}", c.at),
                serde_json::to_string(&point)?,
            )
            .await?;
        *points += 1;
        if *points > MAX_POINTS {
            let excess = *points - MAX_POINTS;
            let oldest = storage
                .list_with_options(ListOptions::new().prefix(&prefix).limit(excess))
                .await?;
            let keys: Vec<String> = oldest
                .keys()
                .into_iter()
                .filter_map(|k| k.ok()?.as_string())
                .collect();
            storage.delete_multiple(keys).await?;
            *points = MAX_POINTS;
        }
        Ok(())
    }

    async fn series(&self, id: &str) -> Result<Vec<SeriesPoint>, ApiError> {
        let points: Vec<(String, SeriesPoint)> =
            super::stored_under(&self.state.storage(), &format!("p:{id}:")).await?;
        Ok(points.into_iter().map(|(_, p)| p).collect())
    }

    /// Queue every transition not delivered yet for every webhook that is on, then try what is
    /// queued. A failure is kept for the next check (at least once; receivers dedupe on `_id`).
    /// The webhooks are listed once per check, and only when there is something to send.
    async fn deliver(&self, w: &mut Watch, r: &MeasuredRollout, flag_name: &str) {
        let fresh: Vec<_> = r.events.iter().filter(|t| t.seq > w.delivered).collect();
        if fresh.is_empty() && w.pending.is_empty() {
            return;
        }
        let hooks = match webhooks::list(&self.env).await {
            Ok(h) => h,
            Err(e) => {
                worker::console_error!(
                    "webhooks not listed, delivery retried next check: {:?}",
                    e.0
                );
                return;
            }
        };
        for t in fresh.iter().filter(|t| t.notify) {
            let body = r.audit_entry(&w.project, flag_name, t).to_string();
            for hook in hooks.iter().filter(|h| h.on) {
                w.pending.push(Pending {
                    webhook: hook.id.clone(),
                    seq: t.seq,
                    body: body.clone(),
                    attempts: 0,
                });
            }
        }
        w.delivered = fresh.iter().map(|t| t.seq).max().unwrap_or(w.delivered);
        let mut kept = Vec::new();
        for mut p in std::mem::take(&mut w.pending) {
            let (status, error) = match hooks.iter().find(|h| h.id == p.webhook) {
                Some(hook) => post(hook, &p.body).await,
                None => (None, Some("the webhook was deleted".into())),
            };
            let ok = status.is_some_and(|s| (200..300).contains(&s));
            w.deliveries.push(Delivery {
                webhook: p.webhook.clone(),
                seq: p.seq,
                at: now_ms(),
                status,
                error,
            });
            p.attempts += 1;
            if !ok && p.attempts < MAX_ATTEMPTS && hooks.iter().any(|h| h.id == p.webhook) {
                kept.push(p);
            }
        }
        w.pending = kept;
        let excess = w.deliveries.len().saturating_sub(MAX_DELIVERIES_KEPT);
        w.deliveries.drain(..excess);
    }
}

/// POST one delivery: its status, or why there is none.
async fn post(hook: &Webhook, body: &str) -> (Option<u16>, Option<String>) {
    let send = async {
        let headers = Headers::new();
        headers.set("Content-Type", "application/json")?;
        headers.set("User-Agent", "edge-exp-guarded-rollouts")?;
        if let Some(signature) = hook.signature(body) {
            headers.set("X-LD-Signature", &signature)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.to_owned().into()));
        let resp = Fetch::Request(Request::new_with_init(&hook.url, &init)?)
            .send()
            .await?;
        Ok::<u16, worker::Error>(resp.status_code())
    };
    match send.await {
        Ok(status) => (Some(status), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

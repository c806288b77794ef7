//! From a payload's events to the experiment counters: ask the project which iterations events
//! may count for (running, or stopped within a day for late flushes), let
//! `core::CounterBatch::build` pick what counts for each, and send each non-empty batch to that
//! iteration's `ExperimentCounter`, with the payload ID so a retry is not counted twice.

use crate::error::ApiError;
use crate::store::config::Tenant;
use crate::store::counters::{self, CounterCommand};
use crate::store::projects::{self, Command, Route};
use edge_exp_core::experiment::CounterBatch;
use edge_exp_core::Event;
use futures_util::future::try_join_all;

/// Returns how many iterations received events.
pub async fn record(
    env: &worker::Env,
    tenant: &Tenant,
    events: &[Event],
    payload_id: Option<&str>,
    now: i64,
) -> Result<usize, ApiError> {
    if !events
        .iter()
        .any(|e| matches!(e, Event::Feature(_) | Event::Conversion(_)))
    {
        return Ok(0);
    }
    let routes: Vec<Route> = serde_json::from_value(
        projects::call_ok(
            env,
            &tenant.project,
            &Command::Routing {
                env: tenant.env.clone(),
                now,
            },
        )
        .await?,
    )?;
    let calls: Vec<_> = routes
        .iter()
        .filter_map(|route| {
            let batch = CounterBatch::build(&route.iteration, events);
            (!batch.is_empty()).then(|| {
                let object = counters::name(
                    &tenant.project,
                    &tenant.env,
                    &route.experiment,
                    route.iteration.id,
                );
                let command = CounterCommand::Record {
                    payload_id: payload_id.map(str::to_owned),
                    batch,
                    now,
                };
                async move { counters::call(env, &object, &command).await }
            })
        })
        .collect();
    let n = calls.len();
    try_join_all(calls).await?;
    Ok(n)
}

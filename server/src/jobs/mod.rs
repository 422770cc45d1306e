//! Background jobs inside `houston serve`. Today one periodic job, the pruning of
//! sessions, webhook delivery ids and sign-in attempts that are no longer needed.
//! Each replica runs it; the deletes are idempotent, so replicas running them at
//! the same time only repeat each other's work.

pub mod prune;

use std::future::Future;
use std::time::Duration;

/// Runs `job` now and then every `every`, until the process ends. A failed run is
/// logged and retried at the next tick.
pub fn every<F, Fut>(name: &'static str, every: Duration, mut job: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = job().await {
                tracing::error!(job = name, error = %e, "background job failed; retrying at the next tick");
            }
        }
    })
}

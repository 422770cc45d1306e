//! Signal retention: raw samples, error events and resolved alerts older than the
//! retention (`HOUSTON_SIGNAL_RETENTION_DAYS`, 8 days) are deleted in small
//! batches, each its own short transaction, with a pause between batches so
//! ingest keeps its turn at the database (SQLite has one writer).

use app::server::{SignalPruneCounts, Store};
use chrono::{DateTime, Duration, Utc};

/// Rows one batch deletes at most.
pub const BATCH: u32 = 5000;
/// The pause between batches.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Deletes everything older than `now - retention`, batch by batch.
pub async fn run(
    store: &dyn Store,
    now: DateTime<Utc>,
    retention: Duration,
) -> anyhow::Result<SignalPruneCounts> {
    let before = now - retention;
    let mut total = SignalPruneCounts::default();
    loop {
        let counts = store.prune_signals(before, BATCH).await?;
        total.samples += counts.samples;
        total.error_events += counts.error_events;
        total.alerts += counts.alerts;
        if counts.total() < u64::from(BATCH) {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    if total.total() > 0 {
        tracing::info!(
            samples = total.samples,
            error_events = total.error_events,
            alerts = total.alerts,
            %before,
            "signals past retention deleted"
        );
    }
    Ok(total)
}

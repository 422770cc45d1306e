//! Pruning: nothing Houston keeps for security grows forever.

use app::domain::LoginLimits;
use app::server::{PruneCounts, PruneCutoffs, Store};
use chrono::{DateTime, Duration, Utc};

/// How long webhook delivery ids are kept: GitHub redelivers for days at most.
pub const DELIVERY_RETENTION: Duration = Duration::days(30);

/// How long verdict messages are listed for admins once delivered or given up.
pub const MESSAGE_RETENTION: Duration = Duration::days(30);

/// Where a pass at `now` cuts, with sessions idle for `session_idle` ending.
pub fn cutoffs(now: DateTime<Utc>, session_idle: Duration) -> PruneCutoffs {
    PruneCutoffs {
        now,
        sessions_idle_before: now - session_idle,
        deliveries_before: now - DELIVERY_RETENTION,
        attempts_before: now - LoginLimits::DEFAULT.window,
        messages_before: now - MESSAGE_RETENTION,
    }
}

/// One pruning pass.
pub async fn run(
    store: &dyn Store,
    now: DateTime<Utc>,
    session_idle: Duration,
) -> anyhow::Result<PruneCounts> {
    let counts = store.prune(&cutoffs(now, session_idle)).await?;
    if counts != PruneCounts::default() {
        tracing::info!(
            sessions = counts.sessions,
            deliveries = counts.deliveries,
            attempts = counts.attempts,
            messages = counts.messages,
            "pruned"
        );
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_keep_what_is_still_needed() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let c = cutoffs(now, Duration::hours(1));
        assert_eq!(c.sessions_idle_before, now - Duration::hours(1));
        assert_eq!(c.deliveries_before, now - Duration::days(30));
        assert_eq!(c.messages_before, now - Duration::days(30));
        assert_eq!(
            c.attempts_before,
            now - Duration::minutes(15),
            "attempts stay while the throttle counts them"
        );
    }
}

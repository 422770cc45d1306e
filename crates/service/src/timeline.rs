//! The timeline: one view of what happened across services, read for its span and
//! drawn by the core (`houston_core::build_timeline`).

use crate::ServiceError;
use crate::access::Need;
use chrono::{DateTime, Utc};
use houston_core::{
    FreezeSpan, MAX_TIMELINE_ITEMS, Timeline, TimelineFacts, TimelineFilter, build_timeline,
    view_range,
};
use houston_store::Store;

/// Reading the timeline: as reading deploys.
pub const NEED: Need = Need::Read;

/// Where a view sits: its centre, and the time of the incident or deploy it was
/// opened from.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub at: DateTime<Utc>,
    pub focus: Option<DateTime<Utc>>,
}

impl Placed {
    /// The range to read facts for: the view's, widened to whole minutes, so views
    /// opened within the same minute read the same facts (a cache can keep them;
    /// the view keeps only what touches its own range).
    pub fn facts_range(&self, filter: &TimelineFilter) -> (DateTime<Utc>, DateTime<Utc>) {
        let (from, to) = view_range(self.at, filter.span_or_default());
        let minute = |t: DateTime<Utc>, up: bool| {
            let secs = t.timestamp().div_euclid(60) * 60 + if up { 60 } else { 0 };
            DateTime::from_timestamp(secs, 0).unwrap_or(t)
        };
        (minute(from, false), minute(to, true))
    }

    /// The view drawn from facts read for (at least) [`Placed::facts_range`].
    pub fn draw(
        &self,
        facts: &TimelineFacts,
        filter: &TimelineFilter,
        now: DateTime<Utc>,
    ) -> Timeline {
        build_timeline(facts, filter, self.at, self.focus, now)
    }
}

/// Where the view `filter` asks for sits at `now`.
pub async fn place(
    store: &dyn Store,
    filter: &TimelineFilter,
    now: DateTime<Utc>,
) -> Result<Placed, ServiceError> {
    let focus = match (filter.incident, filter.deploy) {
        (Some(id), _) => Some(store.get_incident(id).await?.opened_at),
        (None, Some(id)) => Some(store.get_deploy(id).await?.deploy.started_at),
        (None, None) => None,
    };
    // With nothing to centre on, the view is the last `span`, ending now.
    let last = now - filter.span_or_default().duration() / 2;
    Ok(Placed {
        at: filter.at.or(focus).unwrap_or(last),
        focus,
    })
}

/// What happened from `from` to `to`, for any filter: the store's facts and the
/// periods of every freeze window in the range.
pub async fn facts(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<TimelineFacts, ServiceError> {
    let mut facts = store
        .timeline_facts(from, to, MAX_TIMELINE_ITEMS, now)
        .await?;
    for window in store.list_freezes().await? {
        for period in window.schedule.periods_overlapping(from, to) {
            facts.freezes.push(FreezeSpan {
                id: window.id,
                name: window.name.clone(),
                environment: window.scope.environment.clone(),
                service: window.scope.service.clone(),
                from: period.from,
                to: period.to,
            });
        }
    }
    Ok(facts)
}

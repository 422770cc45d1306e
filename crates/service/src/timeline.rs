//! The timeline: one view of what happened across services, read for its span and
//! drawn by the core (`houston_core::build_timeline`).

use crate::ServiceError;
use crate::access::Need;
use chrono::{DateTime, Utc};
use houston_core::{
    FreezeSpan, MAX_TIMELINE_ITEMS, Timeline, TimelineFilter, TimelineKind, build_timeline,
    view_range,
};
use houston_store::Store;

/// Reading the timeline: as reading deploys.
pub const NEED: Need = Need::Read;

/// The view `filter` asks for at `now`: centred on its time, else on the incident or
/// deploy it names (marked as the focus), else on now.
pub async fn read(
    store: &dyn Store,
    filter: &TimelineFilter,
    now: DateTime<Utc>,
) -> Result<Timeline, ServiceError> {
    let focus = match (filter.incident, filter.deploy) {
        (Some(id), _) => Some(store.get_incident(id).await?.opened_at),
        (None, Some(id)) => Some(store.get_deploy(id).await?.deploy.started_at),
        (None, None) => None,
    };
    let at = filter.at.or(focus).unwrap_or(now);
    let (from, to) = view_range(at, filter.span_or_default());
    let mut facts = store
        .timeline_facts(from, to, MAX_TIMELINE_ITEMS, now)
        .await?;
    if filter.shows(TimelineKind::Freeze) {
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
    }
    Ok(build_timeline(&facts, filter, at, focus, now))
}

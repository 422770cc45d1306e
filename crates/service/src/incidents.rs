//! Incidents: recording what an incident tool or a person reports, and the deploys
//! suspected of causing one.

use crate::access::Need;
use crate::{Change, Done, ServiceError};
use chrono::{DateTime, Duration, Utc};
use houston_core::{
    Actor, AlertFilter, CauseRequest, ChangeKind, DeployFilter, DeployId, Incident, IncidentCause,
    IncidentReport, LockChange, LockEvent, PageRequest, Suspect, TimelineEntry, incident_timeline,
    order_by_decisions, rank_suspects, suspect_facts,
};
use houston_store::{IncidentRecorded, Store};
use serde::{Deserialize, Serialize};

/// Declaring an incident or reporting its change: a deployer, or a token with scope
/// `deploy` (a pipeline, an incident tool's relay).
pub const NEED: Need = Need::DEPLOY;

/// The deploys looked at for one incident, at most (the newest in its window).
const MAX_CANDIDATES: u32 = 200;

/// Opens the incident a report names, or moves it; audited with the change.
pub async fn record(
    store: &dyn Store,
    by: &Actor,
    report: &IncidentReport,
    now: DateTime<Utc>,
) -> Result<Done<IncidentRecorded>, ServiceError> {
    let recorded = store.record_incident(report, by, now).await?;
    let change = recorded.change.audited_as().map(|action| {
        tracing::info!(incident_id = recorded.incident.id, source = report.source.as_str(), severity = report.severity.as_str(), actor = %by.name, "{action}");
        // Open pages hear of it as of a lock: it may stop or free deploys.
        Change::Lock(LockChange {
            event: LockEvent::Incident,
            id: recorded.incident.id,
            environment: None,
            service: None,
        })
    });
    Ok(Done {
        value: recorded,
        change,
    })
}

/// An incident and the deploys suspected of causing it, most suspect first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentSuspects {
    pub incident: Incident,
    /// How far before the incident deploys were looked at, in minutes.
    pub window_minutes: i64,
    pub suspects: Vec<Suspect>,
}

/// Ranks the deploys that went out in `window` before incident `id` opened, with
/// the evidence for each: their place, how close before it, their verdict, new error
/// groups and alerts that followed them.
pub async fn suspects(
    store: &dyn Store,
    id: i64,
    window: Duration,
) -> Result<IncidentSuspects, ServiceError> {
    let incident = store.get_incident(id).await?;
    let before = deploys_between(store, incident.opened_at - window, incident.opened_at).await?;
    let suspects = ranked(store, &incident, window, before).await?;
    Ok(IncidentSuspects {
        suspects,
        window_minutes: window.num_minutes(),
        incident,
    })
}

/// The deploys that started from `from` to `to`, both included, newest first (at
/// most [`MAX_CANDIDATES`]).
async fn deploys_between(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<houston_core::Deploy>, ServiceError> {
    Ok(store
        .list_deploys(
            &DeployFilter {
                since: Some(from),
                until: Some(to + Duration::microseconds(1)),
                ..DeployFilter::default()
            },
            &PageRequest {
                limit: MAX_CANDIDATES,
                cursor: None,
            },
        )
        .await?
        .deploys)
}

/// The deploys before `incident` ranked with the store's evidence, a person's word
/// leading.
async fn ranked(
    store: &dyn Store,
    incident: &Incident,
    window: Duration,
    before: Vec<houston_core::Deploy>,
) -> Result<Vec<Suspect>, ServiceError> {
    let evidence = store
        .incident_evidence(incident.opened_at - window, incident.opened_at)
        .await?;
    let facts = suspect_facts(incident, before, &evidence);
    let mut suspects = rank_suspects(incident, window, facts);
    let causes = store.incident_causes(incident.id).await?;
    for suspect in &mut suspects {
        suspect.cause = causes
            .iter()
            .find(|c| c.deploy_id == suspect.deploy_id)
            .map(|c| c.decision);
    }
    order_by_decisions(&mut suspects);
    Ok(suspects)
}

/// A person's word on whether `deploy` caused incident `id`: confirmed, it leads the
/// suspects; rejected, it follows them. Audited.
pub async fn decide_cause(
    store: &dyn Store,
    by: &Actor,
    id: i64,
    deploy: DeployId,
    request: &CauseRequest,
    now: DateTime<Utc>,
) -> Result<Done<IncidentCause>, ServiceError> {
    let (decision, note) = request.parse()?;
    let cause = store
        .decide_cause(id, deploy, decision, note.as_deref(), by, now)
        .await?;
    tracing::info!(incident_id = id, deploy_id = deploy, decision = decision.as_str(), actor = %by.name, "incident cause");
    // Its rows say "caused incident N" now, or no longer.
    let changed = store.get_deploy(deploy).await?.deploy;
    Ok(Done {
        value: cause,
        change: Some(Change::Deploy(ChangeKind::Cause, Box::new(changed))),
    })
}

/// Everything a postmortem starts from: the incident, its suspects, its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentExport {
    pub incident: Incident,
    pub window_minutes: i64,
    pub suspects: Vec<Suspect>,
    pub timeline: Vec<TimelineEntry>,
}

/// The incident's story from `window` before it opened to its resolution (or
/// `now`): the deploys and alerts in that span, the incident's own moves, and the
/// ranked suspects.
pub async fn export(
    store: &dyn Store,
    id: i64,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<IncidentExport, ServiceError> {
    let incident = store.get_incident(id).await?;
    let from = incident.opened_at - window;
    let to = incident.resolved_at.unwrap_or(now).max(incident.opened_at);
    let before = deploys_between(store, from, incident.opened_at).await?;
    // After the opening: the deploys not read for the suspects already.
    let mut deploys = deploys_between(store, incident.opened_at, to).await?;
    deploys.retain(|d| d.started_at > incident.opened_at);
    deploys.extend(before.iter().cloned());
    let suspects = ranked(store, &incident, window, before).await?;
    let alerts: Vec<_> = store
        .list_alerts(&AlertFilter::default(), 1000)
        .await?
        .into_iter()
        .filter(|a| a.starts_at <= to && a.ends_at.is_none_or(|end| end >= from))
        .collect();
    Ok(IncidentExport {
        timeline: incident_timeline(&incident, &deploys, &alerts),
        window_minutes: window.num_minutes(),
        suspects,
        incident,
    })
}

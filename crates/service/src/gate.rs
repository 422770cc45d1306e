//! What the gate weighs, read from the store for one place, and what stands in force
//! now (locks and active freeze windows) for banners, the board and the locks page.
//! The decision itself is `houston_core::decide_gate`.

use chrono::{DateTime, Utc};
use houston_core::freeze::Period;
use houston_core::{
    ActiveFreeze, AlertFilter, AlertState, Claimant, EnvironmentGate, EnvironmentName, FreezeView,
    GATE_RULES_SETTING, GateAnswer, GateAsk, GateFacts, Lock, LockFilter, LockScope, StageRecord,
    decide_gate, default_stage_order,
};
use houston_store::{FreezeWindow, Store, StoreError};

/// Locks and freeze windows in force at one moment.
#[derive(Debug, Clone, Default)]
pub struct InForce {
    pub locks: Vec<Lock>,
    /// Active windows with the period that holds now.
    pub windows: Vec<(FreezeWindow, Period)>,
}

impl InForce {
    /// Everything in force that covers some place of `scope`.
    pub fn touching(&self, scope: &LockScope) -> InForce {
        InForce {
            locks: self
                .locks
                .iter()
                .filter(|l| l.scope().overlaps(scope))
                .cloned()
                .collect(),
            windows: self
                .windows
                .iter()
                .filter(|(w, _)| w.scope.overlaps(scope))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.locks.is_empty() && self.windows.is_empty()
    }
}

/// The most locks in force read at once (there are a handful in practice).
pub const MAX_IN_FORCE: u32 = 500;

/// Locks in force and active windows at `now`.
pub async fn in_force(store: &dyn Store, now: DateTime<Utc>) -> Result<InForce, StoreError> {
    let windows = store.list_freezes().await?;
    in_force_among(store, &windows, now).await
}

/// Locks in force at `now`, and which of `windows` (already read) are active.
pub async fn in_force_among(
    store: &dyn Store,
    windows: &[FreezeWindow],
    now: DateTime<Utc>,
) -> Result<InForce, StoreError> {
    let locks = store
        .list_locks(
            &LockFilter {
                active: Some(true),
                limit: MAX_IN_FORCE,
                ..LockFilter::default()
            },
            now,
        )
        .await?;
    let windows = windows
        .iter()
        .filter_map(|w| w.schedule.active_at(now).map(|p| (w.clone(), p)))
        .collect();
    Ok(InForce { locks, windows })
}

/// When what is in force next changes by itself: a lock expires, an active window
/// opens, or a window closes. Pages refetch then.
pub fn next_change(
    in_force: &InForce,
    windows: &[FreezeWindow],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let expiries = in_force.locks.iter().filter_map(|l| l.expires_at);
    let openings = in_force.windows.iter().map(|(_, p)| p.to);
    let closings = windows
        .iter()
        .filter_map(|w| w.schedule.next_after(now).map(|p| p.from));
    expiries
        .chain(openings)
        .chain(closings)
        .filter(|t| *t > now)
        .min()
}

/// The environments' gate rules (`[[environment]]` in the configuration file).
pub async fn gate_rules(store: &dyn Store) -> Result<Vec<EnvironmentGate>, StoreError> {
    match store.get_setting(GATE_RULES_SETTING).await? {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Backend(format!("stored gate rules: {e}"))),
    }
}

/// The stage before `environment`: the environment with the highest stage order
/// below its own (none for the first stage).
async fn previous_stage(
    store: &dyn Store,
    environment: &EnvironmentName,
) -> Result<Option<EnvironmentName>, StoreError> {
    let environments = store.list_environments().await?;
    let order = environments
        .iter()
        .find(|e| &e.name == environment)
        .map_or_else(|| default_stage_order(environment), |e| e.stage_order);
    Ok(environments
        .into_iter()
        .filter(|e| e.stage_order < order)
        .max_by_key(|e| e.stage_order)
        .map(|e| e.name))
}

/// THE gate's answer for `ask` at `now`: the facts from the store, the decision from
/// `decide_gate`. `claimant`: the pipeline run asking through a claim; the plain
/// gate (`None`) never lets an override through, it says one is available.
pub async fn answer(
    store: &dyn Store,
    ask: &GateAsk,
    claimant: Option<&Claimant>,
    now: DateTime<Utc>,
) -> Result<GateAnswer, StoreError> {
    let place = LockScope {
        environment: Some(ask.environment.clone()),
        service: Some(ask.service.clone()),
    };
    let standing = in_force(store, now).await?;
    let locks = standing
        .locks
        .into_iter()
        .filter(|l| l.scope().contains(&place))
        .collect();
    let freezes = standing
        .windows
        .into_iter()
        .filter(|(w, _)| w.scope.contains(&place))
        .map(|(w, period)| ActiveFreeze {
            id: w.id,
            name: w.name,
            note: w.note,
            since: period.from,
            until: period.to,
        })
        .collect();
    let alerts = store
        .list_alerts(
            &AlertFilter {
                state: Some(AlertState::Firing),
                service: None,
                environment: Some(ask.environment.clone()),
            },
            houston_core::MAX_ALERTS_LISTED,
        )
        .await?
        .into_iter()
        .filter(|a| a.service.as_ref().is_none_or(|s| s == &ask.service))
        .map(|a| {
            let summary = a.annotations.get("summary").cloned();
            (a.name, summary, a.starts_at)
        })
        .collect();
    let current = store
        .list_deploys(
            &houston_core::DeployFilter {
                service: Some(ask.service.clone()),
                environment: Some(ask.environment.clone()),
                ..Default::default()
            },
            &houston_core::PageRequest {
                cursor: None,
                limit: 1,
            },
        )
        .await?
        .deploys
        .into_iter()
        .next()
        .map(|d| (d.id, d.version, d.verdict.map(|v| v.shown_state())));
    let rules = gate_rules(store)
        .await?
        .into_iter()
        .find(|r| r.environment == ask.environment);
    let stage = match &rules {
        Some(r) if r.require_previous_stage => previous_stage(store, &ask.environment).await?,
        _ => None,
    };
    let previous = match (&stage, &ask.version) {
        (Some(stage), Some(version)) => {
            match store
                .latest_deploy_of_version(&ask.service, stage, version)
                .await?
            {
                None => None,
                Some(deploy) => {
                    let next = store.next_deploy_start(deploy.id).await?;
                    let ran_from = deploy.finished_at.unwrap_or(now);
                    Some(StageRecord {
                        environment: stage.clone(),
                        deploy_id: deploy.id,
                        verdict: deploy.verdict.as_ref().map(|v| v.shown_state()),
                        is_final: deploy
                            .verdict
                            .as_ref()
                            .is_some_and(|v| v.is_final || v.override_state.is_some()),
                        baked: next.unwrap_or(now).min(now) - ran_from,
                    })
                }
            }
        }
        _ => None,
    };
    let candidates: Vec<houston_core::Override> = store
        .list_overrides(MAX_IN_FORCE)
        .await?
        .into_iter()
        .filter(|o| {
            o.usable(now) && o.matches(&ask.service, &ask.environment, ask.version.as_deref())
        })
        .collect();
    // Open incidents, read only where the environment stops the line for them.
    let incidents = match rules.as_ref().and_then(|r| r.stop_on_incident) {
        None => Vec::new(),
        Some(_) => store
            .list_incidents(true, MAX_IN_FORCE)
            .await?
            .into_iter()
            .filter(|i| i.touches(&ask.service, &ask.environment))
            .collect(),
    };
    let mut facts = GateFacts {
        locks,
        freezes,
        alerts,
        current,
        rules,
        previous_stage: stage,
        previous,
        granted: None,
        claimant: claimant.cloned(),
        incidents,
    };
    // Which override the answer weighs: the claimant's own first, then one that
    // breaks every rule that blocks (unclaimed before claimed by another run), then
    // any (told, never used).
    let blocking: Vec<houston_core::GateRule> = decide_gate(ask, &facts)
        .reasons
        .iter()
        .filter(|r| r.blocks())
        .map(|r| r.rule)
        .collect();
    facts.granted = candidates.into_iter().min_by_key(|o| {
        let mine = claimant.is_some_and(|c| o.claimed_by(c));
        (
            !mine,
            !o.breaks_all(&blocking),
            o.claim.is_some(),
            o.version.is_none(),
            o.granted_at,
            o.id,
        )
    });
    Ok(decide_gate(ask, &facts))
}

/// The gate's answer to a pipeline run that claims an override: when the plain
/// answer is "an override is available", reserves it for `claimant` (one
/// conditional write; of racing runs exactly one wins) and answers again. The
/// winner is allowed; every other run is told who holds it. A run asking again is
/// answered the same (its claim stands).
pub async fn claim(
    store: &dyn Store,
    ask: &GateAsk,
    claimant: &Claimant,
    by: &houston_core::Actor,
    now: DateTime<Utc>,
) -> Result<GateAnswer, StoreError> {
    // A lost race leaves another unclaimed override to try; a few rounds at most.
    for _ in 0..3 {
        let answer = answer(store, ask, Some(claimant), now).await?;
        match answer.override_available {
            Some(id) if !answer.allowed => {
                store.claim_override(id, claimant, by, now).await?;
            }
            _ => return Ok(answer),
        }
    }
    answer(store, ask, Some(claimant), now).await
}

/// What blocks a deploy about to be registered, besides locks and freeze windows
/// (the store reads those inside the registration): the gate's other reasons.
pub async fn other_blocks(
    store: &dyn Store,
    ask: &GateAsk,
    now: DateTime<Utc>,
) -> Result<Vec<houston_core::GateReason>, StoreError> {
    use houston_core::GateRule;
    let answer = answer(store, ask, None, now).await?;
    Ok(answer
        .reasons
        .into_iter()
        .filter(|r| r.blocks() && !matches!(r.rule, GateRule::Lock | GateRule::Freeze))
        .collect())
}

/// A time written in a zone: "Mon 2026-11-30 15:30 CET".
fn local(t: DateTime<Utc>, zone: Option<chrono_tz::Tz>) -> String {
    match zone {
        Some(tz) => t
            .with_timezone(&tz)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string(),
        None => t.format("%a %Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// A stored window as pages show it at `now`.
pub fn freeze_view(window: &FreezeWindow, now: DateTime<Utc>) -> FreezeView {
    use houston_core::freeze::Schedule;
    let zone = window.schedule.time_zone();
    let active = window.schedule.active_at(now).map(|p| (p.from, p.to));
    let next = window.schedule.next_after(now).map(|p| (p.from, p.to));
    let written = |pair: Option<(DateTime<Utc>, DateTime<Utc>)>| {
        pair.map(|(from, to)| (local(from, zone), local(to, zone)))
    };
    let (kind, time_zone, ranges_text, from, to) = match &window.schedule {
        Schedule::Weekly { time_zone, ranges } => (
            "weekly",
            Some(time_zone.clone()),
            ranges
                .iter()
                .map(|r| r.to_text())
                .collect::<Vec<_>>()
                .join("\n"),
            None,
            None,
        ),
        Schedule::Once { from, to } => ("once", None, String::new(), Some(*from), Some(*to)),
    };
    FreezeView {
        id: window.id,
        name: window.name.clone(),
        note: window.note.clone(),
        environment: window.scope.environment.clone(),
        service: window.scope.service.clone(),
        description: window.schedule.describe(),
        kind: kind.to_owned(),
        time_zone,
        ranges_text,
        from,
        to,
        active_local: written(active),
        next_local: written(next),
        active,
        next,
        updated_by: window.updated_by.clone(),
        updated_at: window.updated_at,
    }
}

/// A freeze form's schedule: weekly ranges typed as text ("Mon-Fri 15:30-09:00",
/// one per line) in a zone, or one period whose ends are RFC 3339 or the form's
/// `YYYY-MM-DDTHH:MM` read in the form's zone (UTC when none). Every problem is named.
pub fn schedule_of_form(
    form: &houston_core::FreezeForm,
) -> Result<houston_core::freeze::Schedule, houston_core::ValidationErrors> {
    use houston_core::freeze::{RangeRequest, ScheduleRequest, parse_ranges_text};
    use houston_core::{FieldError, ValidationErrors};
    let blank = |raw: &Option<String>| {
        raw.as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
    };
    let kind = blank(&form.kind);
    let zone = blank(&form.time_zone);
    let mut problems = Vec::new();
    let mut request = ScheduleRequest {
        kind: kind.clone(),
        time_zone: zone.clone(),
        ..ScheduleRequest::default()
    };
    match kind.as_deref() {
        Some("weekly") => match parse_ranges_text(form.ranges.as_deref().unwrap_or_default()) {
            Ok(ranges) => {
                request.ranges = Some(
                    ranges
                        .iter()
                        .map(|r| RangeRequest {
                            days: Some(r.days.iter().map(|d| format!("{d:?}")).collect()),
                            start: Some(r.start.format("%H:%M").to_string()),
                            end: Some(r.end.format("%H:%M").to_string()),
                        })
                        .collect(),
                );
            }
            Err(message) => problems.push(FieldError::new("ranges", message)),
        },
        Some("once") => {
            let tz: Option<chrono_tz::Tz> = zone.as_deref().and_then(|z| z.parse().ok());
            if zone.is_some() && tz.is_none() {
                problems.push(FieldError::new(
                    "time_zone",
                    "is not a known IANA time zone",
                ));
            }
            let instant = |raw: Option<String>| -> Option<String> {
                let raw = raw?;
                if DateTime::parse_from_rfc3339(&raw).is_ok() {
                    return Some(raw);
                }
                let local = chrono::NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M").ok()?;
                let utc = match tz {
                    None => local.and_utc(),
                    Some(tz) => {
                        use chrono::TimeZone;
                        // A time a spring-forward change skips is read an hour later.
                        tz.from_local_datetime(&local)
                            .earliest()
                            .or_else(|| {
                                tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                                    .earliest()
                            })?
                            .with_timezone(&Utc)
                    }
                };
                Some(utc.to_rfc3339())
            };
            for (field, raw) in [("from", blank(&form.from)), ("to", blank(&form.to))] {
                match (raw.clone(), instant(raw)) {
                    (Some(_), None) => problems.push(FieldError::new(
                        field,
                        "must be a time such as 2026-12-24T00:00 (in the window's zone) or RFC 3339",
                    )),
                    (_, parsed) if field == "from" => request.from = parsed,
                    (_, parsed) => request.to = parsed,
                }
            }
            request.time_zone = None;
        }
        _ => {}
    }
    let parsed = request.parse();
    match parsed {
        Ok(schedule) if problems.is_empty() => Ok(schedule),
        Ok(_) => Err(ValidationErrors(problems)),
        Err(more) => {
            problems.extend(
                more.into_iter()
                    .map(|(field, message)| FieldError::new(field, message)),
            );
            Err(ValidationErrors(problems))
        }
    }
}

/// A schedule's words and its next `count` closed periods from `now` (the one
/// holding now first, when it is active).
pub fn preview(
    schedule: &houston_core::freeze::Schedule,
    now: DateTime<Utc>,
    count: usize,
) -> houston_core::FreezePreview {
    let zone = schedule.time_zone();
    let mut instants = Vec::new();
    let mut at = now;
    if let Some(active) = schedule.active_at(now) {
        instants.push((active.from, active.to));
        at = active.to;
    }
    while instants.len() < count {
        let Some(next) = schedule.next_after(at) else {
            break;
        };
        instants.push((next.from, next.to));
        at = next.from;
    }
    houston_core::FreezePreview {
        description: schedule.describe(),
        periods: instants
            .iter()
            .map(|(from, to)| (local(*from, zone), local(*to, zone)))
            .collect(),
        instants,
    }
}

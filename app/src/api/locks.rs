//! Server functions for locks, freeze windows and overrides. Placing and lifting a
//! lock are also posted as plain forms (mission control and the deploy page carry no
//! client code for them): such a post is answered with a redirect back to the page,
//! with the error in a flash cookie when it failed.

use crate::domain::{FreezeForm, FreezeView, Lock, LockScope, Override, StoppedLine};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A freeze window holding now, as a banner says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveWindow {
    pub id: i64,
    pub name: String,
    pub note: Option<String>,
    pub scope: LockScope,
    pub until: DateTime<Utc>,
}

/// What stops deploys now: locks in force, windows holding, and the lines open
/// incidents stop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub locks: Vec<Lock>,
    pub windows: Vec<ActiveWindow>,
    pub stopped: Vec<StoppedLine>,
    /// When this changes by itself next (a lock expires, a window opens or closes).
    pub changes_at: Option<DateTime<Utc>>,
}

impl Standing {
    /// Whether anything in force covers the place.
    pub fn locks_place(&self, scope: &LockScope) -> bool {
        self.locks.iter().any(|l| l.scope().contains(scope))
            || self.windows.iter().any(|w| w.scope.contains(scope))
            || self.stopped.iter().any(|l| l.covers(scope))
    }

    pub fn is_empty(&self) -> bool {
        self.locks.is_empty() && self.windows.is_empty() && self.stopped.is_empty()
    }
}

#[cfg(feature = "ssr")]
async fn standing_of(
    store: &dyn crate::server::Store,
    now: DateTime<Utc>,
) -> Result<(Standing, Vec<crate::server::FreezeWindow>), AppError> {
    // The windows are read once: for what holds now and for when that changes.
    let all = store.list_freezes().await?;
    let in_force = crate::server::gate::in_force_among(store, &all, now).await?;
    let changes_at = crate::server::gate::next_change(&in_force, &all, now);
    let windows = in_force
        .windows
        .iter()
        .map(|(w, period)| ActiveWindow {
            id: w.id,
            name: w.name.clone(),
            note: w.note.clone(),
            scope: w.scope.clone(),
            until: period.to,
        })
        .collect();
    // Open incidents are read only when some environment stops the line for them.
    let rules = crate::server::gate::gate_rules(store).await?;
    let stopped = if rules.iter().any(|r| r.stop_on_incident.is_some()) {
        let open = store
            .list_incidents(true, crate::server::gate::MAX_IN_FORCE)
            .await?;
        crate::domain::stopped_lines(&open, &rules)
    } else {
        Vec::new()
    };
    Ok((
        Standing {
            locks: in_force.locks,
            windows,
            stopped,
            changes_at,
        },
        all,
    ))
}

/// Locks in force and windows holding now (the banner and the board).
#[server(endpoint = "locks-in-force")]
pub async fn locks_in_force() -> Result<crate::api::AsOf<Standing>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        let now = Utc::now();
        let store = call.store.as_ref();
        let read = || async move { Ok::<_, AppError>(standing_of(store, now).await?.0) };
        let value = crate::server::page_cache().standing(now, read).await?;
        Ok(crate::api::AsOf { now, value })
    })
    .await
}

/// A plain form's post (mission control, the deploy page) is answered with a
/// redirect back to the page it came from; a failure's message rides along in a
/// flash cookie ([`crate::domain::flash`]), which the banner shows once, and a
/// success clears any earlier one. Nothing of the message goes in the query, so a
/// link cannot put words in the banner. A program's call (JSON) gets the result
/// itself.
#[cfg(feature = "ssr")]
fn back_to_page<T: Default>(result: Result<T, AppError>) -> Result<T, AppError> {
    use crate::domain::flash;
    let parts = use_context::<http::request::Parts>();
    let header = |name: http::header::HeaderName| {
        parts
            .as_ref()
            .and_then(|p| p.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let is_form = header(http::header::ACCEPT).is_some_and(|a| a.contains("text/html"));
    // Back to the page the form was on: its path and query only, so it stays on
    // this site.
    let back = header(http::header::REFERER)
        .and_then(|r| url::Url::parse(&r).ok())
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .map(|p| crate::server::session::safe_next(Some(&p)))
        .filter(|_| is_form);
    let Some(back) = back else {
        return result;
    };
    let (outcome, cookie) = match result {
        Ok(value) => (Ok(value), flash::clear_flash_cookie()),
        Err(error) => {
            let message = match &error {
                AppError::Validation { fields, .. } if !fields.is_empty() => fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            let cookie = flash::set_flash_cookie(&message).unwrap_or_else(|| {
                flash::set_flash_cookie("that did not work").unwrap_or_default()
            });
            (Ok(T::default()), cookie)
        }
    };
    crate::api::session::server::set_cookie(&cookie)?;
    leptos_axum::redirect(&back);
    outcome
}

/// Locks a scope (the whole of it when `environment` is blank): `expires_in` is a
/// number of minutes (blank: until unlocked). Audited; open pages hear of it.
#[server(endpoint = "place-lock")]
pub async fn place_lock(
    environment: Option<String>,
    service: Option<String>,
    reason: String,
    expires_in: Option<String>,
) -> Result<(), AppError> {
    use houston_service::locks;
    let result = crate::server::serve(locks::NEED, move |call| async move {
        let now = Utc::now();
        let new = crate::domain::LockForm {
            environment,
            service,
            reason,
            expires_in,
        }
        .parse(now)?;
        let done = locks::place(call.store.as_ref(), &call.caller, &new, now).await?;
        crate::server::publish(done.change);
        Ok(())
    })
    .await;
    back_to_page(result)
}

/// Lifts a lock: one's own as a deployer, any as a lead or admin. Audited; open
/// pages hear of it.
#[server(endpoint = "unlock")]
pub async fn unlock_lock(id: i64, note: Option<String>) -> Result<(), AppError> {
    use houston_service::locks;
    let result = crate::server::serve(locks::NEED, move |call| async move {
        let request = crate::domain::UnlockRequest { note };
        let policy = crate::server::access::policy();
        let done = locks::unlock(
            call.store.as_ref(),
            &call.caller,
            policy,
            id,
            &request,
            Utc::now(),
        )
        .await?;
        crate::server::publish(done.change);
        Ok(())
    })
    .await;
    back_to_page(result)
}

/// The boxes of an override's form for the rules it breaks besides locks and
/// freeze windows (`also[alert]=on` …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlsoBreaks {
    pub alert: Option<String>,
    pub unhealthy: Option<String>,
    pub promotion: Option<String>,
    pub branch: Option<String>,
}

/// Grants a break-glass override (a lead or admin). It breaks locks and freezes;
/// a ticked box in `also` adds that rule. Audited; open pages hear of it.
#[server(endpoint = "grant-override")]
pub async fn grant_override(
    service: String,
    environment: String,
    version: Option<String>,
    reason: String,
    expires_in_minutes: Option<String>,
    #[server(default)] also: AlsoBreaks,
) -> Result<(), AppError> {
    use houston_service::locks;
    crate::server::serve(locks::GRANT_NEED, move |call| async move {
        let now = Utc::now();
        let minutes = match expires_in_minutes
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
                AppError::validation("expires_in_minutes", "must be a whole number of minutes")
            })?),
        };
        let mut breaks: Vec<String> = crate::domain::GateRule::BROKEN_BY_DEFAULT
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect();
        for (ticked, rule) in [
            (also.alert, "alert"),
            (also.unhealthy, "unhealthy"),
            (also.promotion, "promotion"),
            (also.branch, "branch"),
        ] {
            if ticked.is_some() {
                breaks.push(rule.to_owned());
            }
        }
        let new = crate::domain::BreakGlassRequest {
            service: Some(service),
            environment: Some(environment),
            version,
            reason: Some(reason),
            expires_in_minutes: minutes,
            breaks: Some(breaks),
        }
        .parse(now)?;
        let done = locks::grant_override(call.store.as_ref(), &call.caller, &new, now).await?;
        crate::server::publish(done.change);
        Ok(())
    })
    .await
}

/// Everything the locks page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocksPageData {
    pub now: DateTime<Utc>,
    pub standing: Standing,
    pub windows: Vec<FreezeView>,
    pub overrides: Vec<Override>,
    /// The lock history by the page's filter, newest first.
    pub history: Vec<Lock>,
    pub environments: Vec<String>,
    pub services: Vec<String>,
}

/// The locks page: what is in force, the windows, overrides and the filtered history.
#[server(endpoint = "locks-overview")]
pub async fn locks_overview(
    environment: Option<String>,
    service: Option<String>,
    q: Option<String>,
    active: Option<String>,
) -> Result<LocksPageData, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::GATE, move |call| async move {
        let now = Utc::now();
        let filter = crate::domain::LocksQuery {
            active,
            environment,
            service,
            q,
            limit: None,
        }
        .parse()?;
        let store = call.store.as_ref();
        let (standing, all) = standing_of(store, now).await?;
        Ok(LocksPageData {
            now,
            standing,
            windows: all
                .iter()
                .map(|w| crate::server::gate::freeze_view(w, now))
                .collect(),
            overrides: store.list_overrides(50).await?,
            history: store.list_locks(&filter, now).await?,
            environments: store
                .list_environments()
                .await?
                .into_iter()
                .map(|e| e.name.to_string())
                .collect(),
            services: store
                .list_services()
                .await?
                .into_iter()
                .map(|s| s.name.to_string())
                .collect(),
        })
    })
    .await
}

pub use crate::domain::FreezePreview;

/// Previews a window's form: its schedule in words and its next five closings.
#[server(endpoint = "preview-freeze")]
pub async fn preview_freeze(form: FreezeForm) -> Result<FreezePreview, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::GATE, move |_call| async move {
        let schedule = crate::server::gate::schedule_of_form(&form)?;
        Ok(crate::server::gate::preview(&schedule, Utc::now(), 5))
    })
    .await
}

/// Creates (`id` blank) or replaces a freeze window (a lead or admin). Audited;
/// open pages hear of it.
#[server(endpoint = "save-freeze")]
pub async fn save_freeze(id: Option<i64>, form: FreezeForm) -> Result<i64, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::CONFIGURE, move |call| async move {
        let mut problems = Vec::new();
        let header = form.header(&mut problems);
        let schedule = match crate::server::gate::schedule_of_form(&form) {
            Ok(schedule) => Some(schedule),
            Err(crate::domain::ValidationErrors(fields)) => {
                problems.extend(fields);
                None
            }
        };
        let (Some(header), Some(schedule)) = (header, schedule) else {
            return Err(crate::domain::ValidationErrors(problems).into());
        };
        let saved = call
            .store
            .save_freeze(id, &header, &schedule, &call.caller.actor(), Utc::now())
            .await?;
        crate::server::tell_lock(crate::domain::LockChange {
            event: crate::domain::LockEvent::Freeze,
            id: saved,
            environment: header.scope.environment,
            service: header.scope.service,
        });
        Ok(saved)
    })
    .await
}

/// Deletes a freeze window (a lead or admin). Audited; open pages hear of it.
#[server(endpoint = "delete-freeze")]
pub async fn delete_freeze(id: i64) -> Result<(), AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::CONFIGURE, move |call| async move {
        call.store
            .delete_freeze(id, &call.caller.actor(), Utc::now())
            .await?;
        crate::server::tell_lock(crate::domain::LockChange {
            event: crate::domain::LockEvent::Freeze,
            id,
            environment: None,
            service: None,
        });
        Ok(())
    })
    .await
}

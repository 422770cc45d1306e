//! Locks, break-glass overrides and the gate: who may deploy where, now. Freeze
//! windows' schedules are in `freeze.rs`; here they are facts the gate weighs.

use super::deploy::{FieldError, Problems, ValidationErrors};
use super::judge::VerdictState;
use super::names::{EnvironmentName, ServiceName};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A lock's or override's reason, and an unlock's note, at most this long.
pub const MAX_REASON_CHARS: usize = 4096;
/// An override lasts this long unless its grant says otherwise.
pub const DEFAULT_OVERRIDE_MINUTES: i64 = 60;
/// Break glass is short: an override lasts at most this long.
pub const MAX_OVERRIDE_MINUTES: i64 = 24 * 60;
/// A freeze window's name at most this long.
pub const MAX_WINDOW_NAME_CHARS: usize = 200;

/// What a lock covers: everything (both `None`), one environment, or one service in
/// one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LockScope {
    pub environment: Option<EnvironmentName>,
    pub service: Option<ServiceName>,
}

impl LockScope {
    /// Whether a deploy of `service` to `environment` falls in this scope.
    pub fn covers(&self, service: &ServiceName, environment: &EnvironmentName) -> bool {
        self.environment.as_ref().is_none_or(|e| e == environment)
            && self.service.as_ref().is_none_or(|s| s == service)
    }

    /// Whether everything `other` covers is covered by this scope too.
    pub fn contains(&self, other: &LockScope) -> bool {
        let env_ok = match (&self.environment, &other.environment) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) => false,
        };
        let service_ok = match (&self.service, &other.service) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) => false,
        };
        env_ok && service_ok
    }

    /// Whether this scope and `other` share any place (a banner shows a lock on
    /// production to someone looking at all of production, or at one service there).
    pub fn overlaps(&self, other: &LockScope) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// "everything", "production", "checkout in production".
    pub fn describe(&self) -> String {
        match (&self.environment, &self.service) {
            (None, _) => "everything".to_owned(),
            (Some(env), None) => env.to_string(),
            (Some(env), Some(service)) => format!("{service} in {env}"),
        }
    }

    /// Parses optional environment and service fields (blank means absent); a service
    /// needs its environment.
    fn parse_into(
        p: &mut Problems,
        environment: Option<&str>,
        service: Option<&str>,
    ) -> Option<LockScope> {
        let (environment, service) = parse_names(p, environment, service);
        if service.is_some() && environment.is_none() && p.is_empty() {
            p.add(
                "environment",
                "is required with a service (a lock covers one service in one environment)",
            );
            return None;
        }
        Some(LockScope {
            environment,
            service,
        })
    }
}

/// Optional environment and service names (blank means absent), each checked.
fn parse_names(
    p: &mut Problems,
    environment: Option<&str>,
    service: Option<&str>,
) -> (Option<EnvironmentName>, Option<ServiceName>) {
    fn blank(raw: Option<&str>) -> Option<&str> {
        raw.map(str::trim_ascii).filter(|r| !r.is_empty())
    }
    let environment = blank(environment).and_then(|raw| {
        EnvironmentName::parse(raw)
            .map_err(|e| p.add("environment", e.to_string()))
            .ok()
    });
    let service = blank(service).and_then(|raw| {
        ServiceName::parse(raw)
            .map_err(|e| p.add("service", e.to_string()))
            .ok()
    });
    (environment, service)
}

/// An optional note: trimmed, blank is none, at most [`MAX_REASON_CHARS`].
pub(crate) fn parse_note(p: &mut Problems, field: &str, raw: Option<&str>) -> Option<String> {
    let note = raw.map(str::trim).filter(|n| !n.is_empty())?;
    // Reasons travel into CI logs, chat and commit statuses: one line of plain text.
    if note
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        p.add(
            field,
            "must be one line of text: no line breaks, tabs or other control characters",
        );
        return None;
    }
    if note.chars().count() > MAX_REASON_CHARS {
        p.add(
            field,
            format!("must be at most {MAX_REASON_CHARS} characters"),
        );
        return None;
    }
    Some(note.to_owned())
}

/// A required reason: a note that is not blank.
fn parse_reason(p: &mut Problems, field: &str, raw: Option<&str>) -> Option<String> {
    if raw.map(str::trim).is_none_or(str::is_empty) {
        p.add(field, "is required: say why");
        return None;
    }
    parse_note(p, field, raw)
}

/// The body of `POST /api/v1/locks`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LockRequest {
    /// The environment to lock; absent locks everything.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "production",
            pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*)?$"
        )
    )]
    pub environment: Option<String>,
    /// One service in that environment; needs `environment`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "checkout",
            pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*)?$"
        )
    )]
    pub service: Option<String>,
    /// Why; everyone who meets the lock reads it.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 4096, pattern = "\\S", example = "Black Friday: only fixes"))]
    pub reason: Option<String>,
    /// RFC 3339, in the future; the lock ends by itself then.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: Option<String>,
}

/// A validated lock to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLock {
    pub scope: LockScope,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Parses an optional RFC 3339 time that must be after `now`.
fn parse_future(
    p: &mut Problems,
    field: &str,
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // Absent means none; sent blank is not a time.
    let raw = raw.map(str::trim_ascii)?;
    match DateTime::parse_from_rfc3339(raw) {
        Err(_) => {
            p.add(
                field,
                "must be an RFC 3339 time such as 2026-12-01T09:00:00Z",
            );
            None
        }
        Ok(t) => {
            let t = super::to_stored_precision(t.with_timezone(&Utc));
            if t <= now {
                p.add(field, "must be in the future");
                None
            } else {
                Some(t)
            }
        }
    }
}

impl LockRequest {
    pub fn parse(&self, now: DateTime<Utc>) -> Result<NewLock, ValidationErrors> {
        let mut p = Problems::default();
        let scope =
            LockScope::parse_into(&mut p, self.environment.as_deref(), self.service.as_deref());
        let reason = parse_reason(&mut p, "reason", self.reason.as_deref());
        let expires_at = parse_future(&mut p, "expires_at", self.expires_at.as_deref(), now);
        match (scope, reason) {
            (Some(scope), Some(reason)) if p.is_empty() => Ok(NewLock {
                scope,
                reason,
                expires_at,
            }),
            _ => Err(p.into_errors()),
        }
    }
}

/// The locks page's form: like [`LockRequest`], but the expiry is a number of
/// minutes from now (blank: until unlocked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockForm {
    pub environment: Option<String>,
    pub service: Option<String>,
    pub reason: String,
    pub expires_in: Option<String>,
}

impl LockForm {
    /// The longest expiry the form offers: a year, in minutes.
    pub const MAX_MINUTES: i64 = 525_600;

    pub fn parse(&self, now: DateTime<Utc>) -> Result<NewLock, ValidationErrors> {
        let mut p = Problems::default();
        let scope =
            LockScope::parse_into(&mut p, self.environment.as_deref(), self.service.as_deref());
        let reason = parse_reason(&mut p, "reason", Some(&self.reason));
        let expires_at = match self.expires_in.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => match raw.parse::<i64>() {
                Ok(minutes @ 1..=Self::MAX_MINUTES) => Some(super::to_stored_precision(
                    now + chrono::Duration::minutes(minutes),
                )),
                _ => {
                    p.add(
                        "expires_in",
                        "must be a number of minutes from 1 to 525600 (a year)",
                    );
                    None
                }
            },
        };
        match (scope, reason) {
            (Some(scope), Some(reason)) if p.is_empty() => Ok(NewLock {
                scope,
                reason,
                expires_at,
            }),
            _ => Err(p.into_errors()),
        }
    }
}

/// A window's schedule in words and its next closings and openings, before saving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezePreview {
    pub description: String,
    /// (closes, opens) in the window's zone, written out; the first holds now when
    /// the window is active.
    pub periods: Vec<(String, String)>,
    /// The same periods as instants, for the viewer's zone.
    pub instants: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The body of `POST /api/v1/locks/{id}/unlock`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    /// Why it ends now (optional).
    #[cfg_attr(feature = "openapi", schema(max_length = 4096))]
    pub note: Option<String>,
}

impl UnlockRequest {
    /// The note, trimmed; blank is none.
    pub fn parse(&self) -> Result<Option<String>, ValidationErrors> {
        let mut p = Problems::default();
        let note = parse_note(&mut p, "note", self.note.as_deref());
        if p.is_empty() {
            Ok(note)
        } else {
            Err(p.into_errors())
        }
    }
}

/// A lock as stored: in force from `locked_at` until unlocked or expired; kept after
/// that as history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lock {
    pub id: i64,
    /// `None`: every environment.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub environment: Option<EnvironmentName>,
    /// `None`: every service in the environment.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub service: Option<ServiceName>,
    pub reason: String,
    /// Who locked it (`user:ada`, `token:release-bot`).
    pub locked_by: String,
    pub locked_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub unlocked_by: Option<String>,
    pub unlocked_at: Option<DateTime<Utc>>,
    pub unlock_note: Option<String>,
    /// Whether it is in force when read.
    pub active: bool,
}

impl Lock {
    /// The lock in words, the same wherever it is told (the gate, the pages, a
    /// deploy through it, GitHub): "production is locked by user:ada: Black Friday".
    pub fn said(&self) -> String {
        format!(
            "{} is locked by {}: {}",
            self.scope().describe(),
            self.locked_by,
            self.reason
        )
    }

    /// Why a second lock on its place is refused, the same through the API and the
    /// page: "production is already locked by user:ada since 2026-11-30T09:00:00+00:00: Black Friday".
    pub fn refusal(&self) -> String {
        format!(
            "{} is already locked by {} since {}: {}",
            self.scope().describe(),
            self.locked_by,
            self.locked_at.to_rfc3339(),
            self.reason
        )
    }

    pub fn scope(&self) -> LockScope {
        LockScope {
            environment: self.environment.clone(),
            service: self.service.clone(),
        }
    }

    /// In force at `now`: not unlocked, not expired.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.unlocked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// When it stopped being in force, if it did by `now`.
    pub fn ended_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match (self.unlocked_at, self.expires_at) {
            (Some(at), _) => Some(at),
            (None, Some(expiry)) if expiry <= now => Some(expiry),
            _ => None,
        }
    }
}

/// Who may lift a lock: its owner, or anyone who may act on every lock (a lead or
/// admin, or a token with scope `admin`).
pub fn may_unlock(lock: &Lock, caller: &str, may_unlock_any: bool) -> bool {
    may_unlock_any || lock.locked_by == caller
}

/// The lock history's filter (`GET /api/v1/locks`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct LocksQuery {
    /// `true`: only locks in force now; `false`: only ended ones.
    #[cfg_attr(
        feature = "openapi",
        param(pattern = "^[ \\t\\n\\f\\r]*(true|false)?[ \\t\\n\\f\\r]*$")
    )]
    pub active: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        param(pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*)?$")
    )]
    pub environment: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        param(pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*)?$")
    )]
    pub service: Option<String>,
    /// Words in the reason or the unlock note.
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub q: Option<String>,
    /// At most this many, newest first (1–500, default 100).
    #[cfg_attr(
        feature = "openapi",
        param(pattern = "^[ \\t\\n\\f\\r]*([1-9][0-9]?|[1-4][0-9]{2}|500)?[ \\t\\n\\f\\r]*$")
    )]
    pub limit: Option<String>,
}

/// A parsed lock filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockFilter {
    pub active: Option<bool>,
    pub environment: Option<EnvironmentName>,
    pub service: Option<ServiceName>,
    pub text: Option<String>,
    pub limit: u32,
}

impl LocksQuery {
    pub fn parse(&self) -> Result<LockFilter, ValidationErrors> {
        let mut p = Problems::default();
        let blank = |raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim_ascii)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        };
        let active = match blank(&self.active).as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                p.add("active", "must be true or false");
                None
            }
        };
        let (environment, service) =
            parse_names(&mut p, self.environment.as_deref(), self.service.as_deref());
        let text = blank(&self.q);
        if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            p.add("q", "must be at most 200 characters");
        }
        let limit = match blank(&self.limit) {
            None => 100,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n @ 1..=500) => n,
                _ => {
                    p.add("limit", "must be a whole number from 1 to 500");
                    100
                }
            },
        };
        if p.is_empty() {
            Ok(LockFilter {
                active,
                environment,
                service,
                text,
                limit,
            })
        } else {
            Err(p.into_errors())
        }
    }
}

/// Line separators and the bidirectional controls that reorder what a reader sees.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

mod gate;
pub use gate::*;
mod overrides;
pub use overrides::*;
mod windows;
pub use windows::*;

#[cfg(test)]
mod tests;

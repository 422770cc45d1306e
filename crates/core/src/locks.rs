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

/// The body of `POST /api/v1/overrides`: break glass for one deploy.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BreakGlassRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "checkout", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub service: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "production", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub environment: Option<String>,
    /// Only this version may use it; absent: any version.
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub version: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 4096, pattern = "\\S", example = "hotfix for INC-231"))]
    pub reason: Option<String>,
    /// How long it may wait to be used: 1 to 1440 minutes, 60 by default.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1440))]
    pub expires_in_minutes: Option<i64>,
    /// The gate rules it breaks: `lock` and `freeze` when absent; `alert`,
    /// `unhealthy`, `promotion` and `branch` only when named.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<BreakableRule>>, min_items = 1, example = json!(["lock", "freeze"])))]
    pub breaks: Option<Vec<String>>,
}

/// A rule an override may break, as the API document names them.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(Serialize)]
pub enum BreakableRule {
    Lock,
    Freeze,
    Alert,
    Unhealthy,
    Promotion,
    Branch,
    Incident,
}

/// A validated override to grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBreakGlass {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub version: Option<String>,
    pub reason: String,
    pub expires_at: DateTime<Utc>,
    /// The rules it breaks, each once, in `GateRule::BREAKABLE` order.
    pub breaks: Vec<GateRule>,
}

impl BreakGlassRequest {
    pub fn parse(&self, now: DateTime<Utc>) -> Result<NewBreakGlass, ValidationErrors> {
        let mut p = Problems::default();
        let service = p.name("service", self.service.as_deref(), ServiceName::parse);
        let environment = p.name(
            "environment",
            self.environment.as_deref(),
            EnvironmentName::parse,
        );
        let version = self
            .version
            .as_deref()
            .map(str::trim_ascii)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        if version.as_ref().is_some_and(|v| v.chars().count() > 200) {
            p.add("version", "must be at most 200 characters");
        }
        let reason = parse_reason(&mut p, "reason", self.reason.as_deref());
        let minutes = self.expires_in_minutes.unwrap_or(DEFAULT_OVERRIDE_MINUTES);
        if !(1..=MAX_OVERRIDE_MINUTES).contains(&minutes) {
            p.add(
                "expires_in_minutes",
                format!("must be from 1 to {MAX_OVERRIDE_MINUTES} (break glass is short)"),
            );
        }
        let breaks = match &self.breaks {
            None => GateRule::BROKEN_BY_DEFAULT.to_vec(),
            Some(names) => match GateRule::parse_breakable(names) {
                Ok(rules) => rules,
                Err(message) => {
                    p.add("breaks", message);
                    Vec::new()
                }
            },
        };
        match (service, environment, reason) {
            (Some(service), Some(environment), Some(reason)) if p.is_empty() => Ok(NewBreakGlass {
                service,
                environment,
                version,
                reason,
                expires_at: super::to_stored_precision(now + Duration::minutes(minutes)),
                breaks,
            }),
            _ => Err(p.into_errors()),
        }
    }
}

/// A granted override: lets exactly one deploy through the rules it `breaks`,
/// until `expires_at`. The gate only says it is available; a pipeline run claims
/// it (`POST /api/v1/gate/claim`), after which the gate allows that run alone; the
/// first matching deploy registered over a block spends it (`used_by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Override {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub service: ServiceName,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub environment: EnvironmentName,
    pub version: Option<String>,
    pub reason: String,
    pub granted_by: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The deploy that used it.
    pub used_by: Option<i64>,
    pub used_at: Option<DateTime<Utc>>,
    /// The gate rules it breaks.
    pub breaks: Vec<GateRule>,
    /// The pipeline run it is reserved for, once claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<OverrideClaim>,
}

/// Who reserved an override, for which run and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OverrideClaim {
    /// The pipeline run (`GITHUB_RUN_ID`, a build URL …) it is reserved for.
    pub run: String,
    pub version: Option<String>,
    pub by: String,
    pub at: DateTime<Utc>,
}

impl Override {
    /// Not spent and not expired at `now`.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }

    /// Whether it breaks every one of `rules`.
    pub fn breaks_all(&self, rules: &[GateRule]) -> bool {
        rules.iter().all(|r| self.breaks.contains(r))
    }

    /// Whether `claimant` holds its claim: the same caller, run and version.
    pub fn claimed_by(&self, claimant: &Claimant) -> bool {
        self.claim.as_ref().is_some_and(|c| {
            c.run == claimant.run && c.version == claimant.version && c.by == claimant.by
        })
    }

    /// Whether a deploy of `version` may spend it: unclaimed, or claimed for that
    /// version (or for none).
    pub fn spendable_by(&self, version: &str) -> bool {
        self.claim
            .as_ref()
            .is_none_or(|c| c.version.as_deref().is_none_or(|v| v == version))
    }

    /// Whether it lets `version` of `service` to `environment` through.
    pub fn matches(
        &self,
        service: &ServiceName,
        environment: &EnvironmentName,
        version: Option<&str>,
    ) -> bool {
        &self.service == service
            && &self.environment == environment
            && self
                .version
                .as_deref()
                .is_none_or(|v| version.is_some_and(|asked| asked.trim_ascii() == v))
    }
}

/// Why the gate says what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GateRule {
    /// A lock on the place is in force.
    Lock,
    /// A freeze window covering the place is active.
    Freeze,
    /// An alert fires for the place.
    Alert,
    /// The deploy running there now is judged unhealthy.
    Unhealthy,
    /// The version has not passed the previous stage (deployed, healthy, baked).
    Promotion,
    /// The ref is not one the environment accepts.
    Branch,
    /// An open incident of at least the environment's chosen severity touches the
    /// place (stop the line).
    Incident,
    /// A lead's override lets this deploy through.
    Override,
}

impl GateRule {
    /// The rules an override may break, in the order they are stored and told.
    pub const BREAKABLE: [GateRule; 7] = [
        GateRule::Lock,
        GateRule::Freeze,
        GateRule::Alert,
        GateRule::Unhealthy,
        GateRule::Promotion,
        GateRule::Branch,
        GateRule::Incident,
    ];
    /// What a grant breaks when it names nothing: locks, freeze windows and the
    /// line an incident stopped (break glass).
    pub const BROKEN_BY_DEFAULT: [GateRule; 3] =
        [GateRule::Lock, GateRule::Freeze, GateRule::Incident];

    /// `lock`, `freeze` …, exactly as `as_str` writes them.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::BREAKABLE
            .into_iter()
            .chain([GateRule::Override])
            .find(|r| r.as_str() == raw)
    }

    /// A grant's list of rules to break: known, breakable, at least one; each once,
    /// in `BREAKABLE` order.
    pub fn parse_breakable(names: &[String]) -> Result<Vec<GateRule>, String> {
        let mut rules = Vec::new();
        for name in names {
            match Self::parse(name) {
                Some(rule) if rule != GateRule::Override => rules.push(rule),
                _ => {
                    return Err(format!(
                        "{name:?} is not a rule an override breaks; use lock, freeze, alert, unhealthy, promotion or branch"
                    ));
                }
            }
        }
        if rules.is_empty() {
            return Err("name at least one rule to break (lock, freeze …)".into());
        }
        Ok(Self::BREAKABLE
            .into_iter()
            .filter(|r| rules.contains(r))
            .collect())
    }

    /// The stored form: `lock,freeze`.
    pub fn join(rules: &[GateRule]) -> String {
        rules
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form; `None` when a name is not a breakable rule.
    pub fn parse_stored(raw: &str) -> Option<Vec<GateRule>> {
        let names: Vec<String> = raw.split(',').map(str::to_owned).collect();
        Self::parse_breakable(&names).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GateRule::Lock => "lock",
            GateRule::Freeze => "freeze",
            GateRule::Alert => "alert",
            GateRule::Unhealthy => "unhealthy",
            GateRule::Promotion => "promotion",
            GateRule::Branch => "branch",
            GateRule::Incident => "incident",
            GateRule::Override => "override",
        }
    }
}

/// One reason of the gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateReason {
    pub rule: GateRule,
    /// In words: "locked by user:ada: Black Friday", "freeze 'Weekend': …".
    pub detail: String,
    /// Who set it (locks, overrides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Since when it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Until when it holds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// The lock's, window's, override's or deploy's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

impl GateReason {
    fn new(rule: GateRule, detail: impl Into<String>) -> Self {
        Self {
            rule,
            detail: detail.into(),
            by: None,
            since: None,
            until: None,
            id: None,
        }
    }

    /// Whether this reason stops a deploy (an override's does not).
    pub fn blocks(&self) -> bool {
        self.rule != GateRule::Override
    }
}

/// The gate's answer (`GET /api/v1/gate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateAnswer {
    pub allowed: bool,
    /// Every reason that holds; empty when nothing stands in the way.
    pub reasons: Vec<GateReason>,
    /// An override that would let this deploy through, once a pipeline run claims
    /// it (`POST /api/v1/gate/claim`, `houston gate --claim`): asking the gate
    /// spends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_available: Option<i64>,
}

impl GateAnswer {
    /// The rules it is counted under: each blocking rule once when denied; `override`
    /// or `none` when allowed.
    pub fn counted_rules(&self) -> Vec<&'static str> {
        if self.allowed {
            let by_override = self.reasons.iter().any(|r| r.rule == GateRule::Override);
            return vec![if by_override { "override" } else { "none" }];
        }
        let mut rules: Vec<&'static str> = self
            .reasons
            .iter()
            .filter(|r| r.blocks())
            .map(|r| r.rule.as_str())
            .collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }
}

/// The question CI asks (`GET /api/v1/gate`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct GateQuery {
    #[cfg_attr(
        feature = "openapi",
        param(
            required = true,
            pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"
        )
    )]
    pub service: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        param(
            required = true,
            pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"
        )
    )]
    pub environment: Option<String>,
    /// The version about to go out (needed by promotion rules).
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub version: Option<String>,
    /// The branch or ref it was built from (`main`, `refs/heads/main`).
    #[cfg_attr(feature = "openapi", param(max_length = 255))]
    pub r#ref: Option<String>,
}

/// A parsed gate question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateAsk {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub version: Option<String>,
    /// The branch name (`refs/heads/` taken off).
    pub branch: Option<String>,
}

impl GateQuery {
    pub fn parse(&self) -> Result<GateAsk, ValidationErrors> {
        let mut p = Problems::default();
        let service = p.name("service", self.service.as_deref(), ServiceName::parse);
        let environment = p.name(
            "environment",
            self.environment.as_deref(),
            EnvironmentName::parse,
        );
        let text = |raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim_ascii)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        };
        let version = text(&self.version);
        if version.as_ref().is_some_and(|v| v.chars().count() > 200) {
            p.add("version", "must be at most 200 characters");
        }
        let branch = text(&self.r#ref).map(|r| {
            r.strip_prefix("refs/heads/")
                .map(str::to_owned)
                .unwrap_or(r)
        });
        if branch.as_ref().is_some_and(|b| b.chars().count() > 255) {
            p.add("ref", "must be at most 255 characters");
        }
        match (service, environment) {
            (Some(service), Some(environment)) if p.is_empty() => Ok(GateAsk {
                service,
                environment,
                version,
                branch,
            }),
            _ => Err(p.into_errors()),
        }
    }
}

/// The promotion rules of one environment (`[[environment]]` in the configuration
/// file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentGate {
    pub environment: EnvironmentName,
    /// The version must have gone through the previous stage: deployed, judged
    /// healthy there, and baked at least `min_bake_secs`. Off for the first stage.
    #[serde(default)]
    pub require_previous_stage: bool,
    #[serde(default)]
    pub min_bake_secs: i64,
    /// Refs the environment accepts (`*` matches any run of characters); empty: any.
    #[serde(default)]
    pub branches: Vec<String>,
    /// Stop the line: an open incident of at least this severity stops deploys to
    /// the places it touches until it resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_incident: Option<super::incidents::Severity>,
}

/// The settings key the environments' gate rules are stored under (JSON list).
pub const GATE_RULES_SETTING: &str = "gate.environments";

/// Whether `branch` matches `pattern`, where `*` matches any run of characters.
pub fn branch_matches(pattern: &str, branch: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == branch;
    };
    if parts.len() == 1 {
        return pattern == branch;
    }
    let Some(mut rest) = branch.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The version's deploy in the previous stage, as the promotion rule reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRecord {
    pub environment: EnvironmentName,
    pub deploy_id: i64,
    /// The verdict it shows (override, else the judge's); `None`: not judged.
    pub verdict: Option<VerdictState>,
    pub is_final: bool,
    /// How long it has run there (until the next deploy there, or now).
    pub baked: Duration,
}

/// A window active now, as the gate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFreeze {
    pub id: i64,
    pub name: String,
    pub note: Option<String>,
    pub until: DateTime<Utc>,
    pub since: DateTime<Utc>,
}

/// A freeze window holding, in words, the same wherever it is told:
/// "freeze window 'Weekend': only fixes".
pub fn freeze_said(name: &str, note: Option<&str>) -> String {
    match note {
        Some(note) => format!("freeze window '{name}': {note}"),
        None => format!("freeze window '{name}'"),
    }
}

/// Everything the gate weighs, gathered by the caller for one place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateFacts {
    /// Locks in force covering the place.
    pub locks: Vec<Lock>,
    pub freezes: Vec<ActiveFreeze>,
    /// Names and summaries of alerts firing for the place.
    pub alerts: Vec<(String, Option<String>, DateTime<Utc>)>,
    /// The latest deploy there: id, version and the verdict it shows.
    pub current: Option<(i64, String, Option<VerdictState>)>,
    pub rules: Option<EnvironmentGate>,
    /// The stage before this environment, when there is one.
    pub previous_stage: Option<EnvironmentName>,
    /// The version's latest deploy in the previous stage.
    pub previous: Option<StageRecord>,
    /// A usable override matching the question: the one `claimant` holds if any,
    /// else an unclaimed one, else one another run holds.
    pub granted: Option<Override>,
    /// The pipeline run asking through a claim (`None`: the plain gate).
    pub claimant: Option<Claimant>,
    /// Open incidents that touch the place (read when the environment stops the line).
    pub incidents: Vec<super::incidents::Incident>,
}

/// A pipeline run that asks to claim an override: which run, which version, and
/// who asks (`token:ci`): a claim is held by that caller's run alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub run: String,
    pub version: Option<String>,
    pub by: String,
}

/// The longest pipeline-run id a claim takes.
pub const MAX_RUN_CHARS: usize = 200;

/// The body of `POST /api/v1/gate/claim`: the gate's question and the run asking.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GateClaimRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "checkout", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub service: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "production", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub environment: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub version: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub r#ref: Option<String>,
    /// The pipeline run asking (`GITHUB_RUN_ID`, a build URL): an override is
    /// reserved for this run alone; asking again with the same run is answered the same.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 200, pattern = "^[!-~]+$", example = "gh-run-7731"))]
    pub run: Option<String>,
}

impl GateClaimRequest {
    /// The question and the claimant; `by` is who asks, as the audit log names them.
    pub fn parse(&self, by: &str) -> Result<(GateAsk, Claimant), ValidationErrors> {
        let question = GateQuery {
            service: self.service.clone(),
            environment: self.environment.clone(),
            version: self.version.clone(),
            r#ref: self.r#ref.clone(),
        };
        let asked = question.parse();
        let run = self.run.as_deref().unwrap_or_default();
        let run_problem = if run.is_empty() {
            Some("is required: the pipeline run asking (GITHUB_RUN_ID, a build URL)")
        } else if run.chars().count() > MAX_RUN_CHARS || run.chars().any(|c| !c.is_ascii_graphic())
        {
            Some("must be 1 to 200 printable ASCII characters without spaces")
        } else {
            None
        };
        match (asked, run_problem) {
            (Ok(ask), None) => {
                let claimant = Claimant {
                    run: run.to_owned(),
                    version: ask.version.clone(),
                    by: by.to_owned(),
                };
                Ok((ask, claimant))
            }
            (Ok(_), Some(problem)) => Err(ValidationErrors(vec![FieldError::new("run", problem)])),
            (Err(mut errors), problem) => {
                if let Some(problem) = problem {
                    errors.0.push(FieldError::new("run", problem));
                }
                Err(errors)
            }
        }
    }
}

fn human(d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    if mins < 120 {
        format!("{mins} min")
    } else {
        format!("{} h {} min", mins / 60, mins % 60)
    }
}

/// THE gate: every reason that holds for `ask` given `facts`; allowed when none
/// blocks, or when a lead's override lets this deploy through.
pub fn decide_gate(ask: &GateAsk, facts: &GateFacts) -> GateAnswer {
    let mut reasons = Vec::new();
    for lock in &facts.locks {
        let mut r = GateReason::new(GateRule::Lock, lock.said());
        r.by = Some(lock.locked_by.clone());
        r.since = Some(lock.locked_at);
        r.until = lock.expires_at;
        r.id = Some(lock.id);
        reasons.push(r);
    }
    for freeze in &facts.freezes {
        let detail = freeze_said(&freeze.name, freeze.note.as_deref());
        let mut r = GateReason::new(GateRule::Freeze, detail);
        r.since = Some(freeze.since);
        r.until = Some(freeze.until);
        r.id = Some(freeze.id);
        reasons.push(r);
    }
    for (name, summary, since) in &facts.alerts {
        let detail = match summary {
            Some(s) => format!("alert {name} is firing: {s}"),
            None => format!("alert {name} is firing"),
        };
        let mut r = GateReason::new(GateRule::Alert, detail);
        r.since = Some(*since);
        reasons.push(r);
    }
    if let Some((id, version, Some(VerdictState::Unhealthy))) = &facts.current {
        let mut r = GateReason::new(
            GateRule::Unhealthy,
            format!(
                "the deploy running in {} now (#{id}, {version}) is judged unhealthy",
                ask.environment
            ),
        );
        r.id = Some(*id);
        reasons.push(r);
    }
    if let Some(rules) = &facts.rules {
        if let Some(least) = rules.stop_on_incident {
            for incident in &facts.incidents {
                if incident.state == super::incidents::IncidentState::Resolved
                    || incident.severity < least
                    || !incident.touches(&ask.service, &ask.environment)
                {
                    continue;
                }
                let mut r = GateReason::new(
                    GateRule::Incident,
                    format!(
                        "incident {} is open: {} ({})",
                        incident.id,
                        incident.title,
                        incident.severity.as_str()
                    ),
                );
                r.by = Some(incident.opened_by.clone());
                r.since = Some(incident.opened_at);
                r.id = Some(incident.id);
                reasons.push(r);
            }
        }
        if rules.require_previous_stage
            && let Some(stage) = &facts.previous_stage
        {
            promotion_reasons(ask, rules, stage, facts.previous.as_ref(), &mut reasons);
        }
        if !rules.branches.is_empty() {
            let accepted = rules.branches.join(", ");
            match &ask.branch {
                None => reasons.push(GateReason::new(
                    GateRule::Branch,
                    format!(
                        "{} accepts only {accepted}; say which ref (ref=…)",
                        ask.environment
                    ),
                )),
                Some(branch) if !rules.branches.iter().any(|p| branch_matches(p, branch)) => {
                    reasons.push(GateReason::new(
                        GateRule::Branch,
                        format!("{} accepts only {accepted}, not {branch}", ask.environment),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let blocking: Vec<GateRule> = reasons
        .iter()
        .filter(|r| r.blocks())
        .map(|r| r.rule)
        .collect();
    let mut answer = GateAnswer {
        allowed: blocking.is_empty(),
        reasons,
        override_available: None,
    };
    if let Some(granted) = &facts.granted
        && !blocking.is_empty()
    {
        let claimed_here = facts
            .claimant
            .as_ref()
            .is_some_and(|c| granted.claimed_by(c));
        let detail = if !granted.breaks_all(&blocking) {
            format!(
                "override #{} granted by {} breaks only {}: it does not clear this",
                granted.id,
                granted.granted_by,
                GateRule::join(&granted.breaks)
            )
        } else if claimed_here {
            answer.allowed = true;
            format!(
                "override #{} granted by {}: {} (claimed by this run; lets one deploy through)",
                granted.id, granted.granted_by, granted.reason
            )
        } else if let Some(claim) = &granted.claim {
            // Not the run's id: knowing it must not be a way in.
            format!(
                "override #{} granted by {} is claimed by another run (of {})",
                granted.id, granted.granted_by, claim.by
            )
        } else {
            answer.override_available = Some(granted.id);
            format!(
                "override #{} granted by {}: {} (available: claim it for one deploy with houston gate --claim)",
                granted.id, granted.granted_by, granted.reason
            )
        };
        let mut r = GateReason::new(GateRule::Override, detail);
        r.by = Some(granted.granted_by.clone());
        r.since = Some(granted.granted_at);
        r.until = Some(granted.expires_at);
        r.id = Some(granted.id);
        answer.reasons.push(r);
    }
    answer
}

fn promotion_reasons(
    ask: &GateAsk,
    rules: &EnvironmentGate,
    stage: &EnvironmentName,
    previous: Option<&StageRecord>,
    reasons: &mut Vec<GateReason>,
) {
    let Some(version) = &ask.version else {
        reasons.push(GateReason::new(
            GateRule::Promotion,
            format!(
                "{} takes only versions that passed {stage}; say which version (version=…)",
                ask.environment
            ),
        ));
        return;
    };
    let Some(record) = previous else {
        reasons.push(GateReason::new(
            GateRule::Promotion,
            format!("{version} has not been deployed to {stage}"),
        ));
        return;
    };
    let mut push = |detail: String| {
        let mut r = GateReason::new(GateRule::Promotion, detail);
        r.id = Some(record.deploy_id);
        reasons.push(r);
    };
    match (record.verdict, record.is_final) {
        (Some(VerdictState::Healthy), true) => {}
        (Some(VerdictState::Healthy), false) | (Some(VerdictState::Baking), _) => push(format!(
            "{version} is still baking in {stage} (deploy #{})",
            record.deploy_id
        )),
        (Some(state), _) => push(format!(
            "{version} was judged {} in {stage} (deploy #{})",
            state.label(),
            record.deploy_id
        )),
        (None, _) => push(format!(
            "{version} was not judged in {stage} (deploy #{})",
            record.deploy_id
        )),
    }
    let needed = Duration::seconds(rules.min_bake_secs);
    if rules.min_bake_secs > 0 && record.baked < needed {
        push(format!(
            "{version} has baked {} in {stage}; {} needs {}",
            human(record.baked),
            ask.environment,
            human(needed)
        ));
    }
}

/// A gate answer's reasons in words, one per line, as `houston gate` prints them
/// into CI logs: every control character escaped (no ANSI cursor moves, no second
/// line) and no line a CI runner reads as a command (`::error::`, `::add-mask::`).
pub fn gate_lines(answer: &GateAnswer) -> Vec<String> {
    answer
        .reasons
        .iter()
        .map(|r| {
            let until = r
                .until
                .map(|u| format!(" (until {})", u.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            safe_for_logs(&format!("{}: {}{until}", r.rule.as_str(), r.detail))
        })
        .collect()
}

/// `text` as one inert line of a CI log: control characters (ANSI escapes, line
/// breaks, tabs) written as `\u{..}` escapes, and `::` written `:\:` so no part of
/// it reads as a GitHub Actions workflow command.
pub fn safe_for_logs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_invisible_format(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else if c == ':' && out.ends_with(':') {
            // Every second colon of a run is escaped, so no `::` is left.
            out.push_str("\\:");
        } else {
            out.push(c);
        }
    }
    out
}

/// Line separators and the bidirectional controls that reorder what a reader sees.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A freeze window as pages show it: the schedule in words, whether it holds now,
/// and when deploys next close and open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeView {
    pub id: i64,
    pub name: String,
    pub note: Option<String>,
    pub environment: Option<EnvironmentName>,
    pub service: Option<ServiceName>,
    /// "Mon–Fri 15:30–09:00 (next day); Sat–Sun all day (Europe/Berlin)".
    pub description: String,
    /// `weekly` or `once`.
    pub kind: String,
    /// The window's IANA zone (weekly windows).
    pub time_zone: Option<String>,
    /// The weekly ranges as the form writes them, one per line.
    pub ranges_text: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// When it closed deploys and when it opens them again, if active now.
    pub active: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The next closing after now and its opening.
    pub next: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Closing and opening times in the window's own zone, written out.
    pub active_local: Option<(String, String)>,
    pub next_local: Option<(String, String)>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

impl FreezeView {
    pub fn scope(&self) -> LockScope {
        LockScope {
            environment: self.environment.clone(),
            service: self.service.clone(),
        }
    }
}

/// The form's fields for a freeze window (create or edit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct FreezeForm {
    pub name: Option<String>,
    pub note: Option<String>,
    pub environment: Option<String>,
    pub service: Option<String>,
    /// `weekly` or `once`.
    pub kind: Option<String>,
    pub time_zone: Option<String>,
    /// Weekly ranges, one per line: "Mon-Fri 15:30-09:00", "Sat-Sun all day".
    pub ranges: Option<String>,
    /// One-off: RFC 3339 or `YYYY-MM-DDTHH:MM` in `time_zone` (UTC when none).
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The parts of a freeze window the schedule does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeHeader {
    pub name: String,
    pub note: Option<String>,
    pub scope: LockScope,
}

impl FreezeForm {
    /// Name, note and scope; the schedule is parsed by `freeze::schedule_of_form`.
    pub fn header(&self, p: &mut Vec<FieldError>) -> Option<FreezeHeader> {
        let mut problems = Problems::default();
        let name = self.name.as_deref().map(str::trim).unwrap_or("");
        if name.is_empty() {
            problems.add("name", "is required");
        } else if name.chars().count() > MAX_WINDOW_NAME_CHARS {
            problems.add(
                "name",
                format!("must be at most {MAX_WINDOW_NAME_CHARS} characters"),
            );
        }
        let note = parse_note(&mut problems, "note", self.note.as_deref());
        let scope = LockScope::parse_into(
            &mut problems,
            self.environment.as_deref(),
            self.service.as_deref(),
        );
        let ok = problems.is_empty();
        p.extend(problems.into_errors().0);
        match scope {
            Some(scope) if ok => Some(FreezeHeader {
                name: name.to_owned(),
                note,
                scope,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;

//! Rows as both backends return them, and their conversion to domain types.

use chrono::{DateTime, Utc};
use houston_core::{
    AuditEntry, Commit, Deploy, DeploySource, DeployStatus, Environment, EnvironmentName, Role,
    Service, ServiceName, TokenScope, User, Username,
};
use houston_store::{ApiToken, StoreError};

/// The columns every deploy query selects, of `deploys d` with `services s` and
/// `environments e`.
macro_rules! deploy_columns {
    () => {
        "SELECT d.id, s.name AS service, e.name AS environment, d.version, d.previous_version, \
         d.author, d.description, d.ci_url, d.status, d.started_at, d.finished_at, d.source, \
         d.external_id, d.created_at, d.registered_by, d.status_changed_by, d.status_at, \
         s.repository_url, v.state AS verdict_state, v.provisional AS verdict_provisional, \
         v.is_final AS verdict_final, v.override_state AS verdict_override, \
         v.headline AS verdict_headline, d.through_lock, \
         (SELECT MIN(c.incident_id) FROM incident_causes c \
          WHERE c.deploy_id = d.id AND c.decision = 'confirmed') AS caused_incident"
    };
}
pub(crate) use deploy_columns;

/// The columns every deploy query selects, joined with service and environment names.
macro_rules! deploy_select {
    () => {
        concat!(
            $crate::rows::deploy_columns!(),
            " FROM deploys d \
             JOIN services s ON s.id = d.service_id \
             JOIN environments e ON e.id = d.environment_id \
             LEFT JOIN verdicts v ON v.deploy_id = d.id"
        )
    };
}
pub(crate) use deploy_select;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {value:?} is not valid"))
}

#[derive(sqlx::FromRow)]
pub struct DeployRow {
    id: i64,
    service: String,
    environment: String,
    version: String,
    previous_version: Option<String>,
    author: Option<String>,
    description: Option<String>,
    ci_url: Option<String>,
    status: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    source: String,
    external_id: Option<String>,
    created_at: DateTime<Utc>,
    registered_by: Option<String>,
    status_changed_by: Option<String>,
    /// The time of the report behind the current status; not part of `Deploy`.
    pub status_at: DateTime<Utc>,
    /// The service's repository, for the detail page; not part of `Deploy`.
    pub repository_url: Option<String>,
    /// The verdict's columns; all NULL for a deploy the judge never followed.
    verdict_state: Option<String>,
    verdict_provisional: Option<String>,
    verdict_final: Option<bool>,
    verdict_override: Option<String>,
    verdict_headline: Option<String>,
    through_lock: Option<String>,
    caused_incident: Option<i64>,
}

impl DeployRow {
    fn verdict(&self) -> Result<Option<houston_core::VerdictSummary>, StoreError> {
        use houston_core::{Headline, VerdictState, VerdictSummary};
        let Some(state) = &self.verdict_state else {
            return Ok(None);
        };
        let state_of =
            |text: &str| VerdictState::parse(text).ok_or_else(|| corrupt("verdict state", text));
        let headline = match &self.verdict_headline {
            None => Headline::default(),
            Some(text) => {
                serde_json::from_str(text).map_err(|_| corrupt("verdict headline", text))?
            }
        };
        Ok(Some(VerdictSummary {
            state: state_of(state)?,
            provisional: self
                .verdict_provisional
                .as_deref()
                .map(state_of)
                .transpose()?,
            is_final: self.verdict_final.unwrap_or(false),
            override_state: self.verdict_override.as_deref().map(state_of).transpose()?,
            headline,
        }))
    }
}

impl TryFrom<DeployRow> for Deploy {
    type Error = StoreError;

    fn try_from(row: DeployRow) -> Result<Self, StoreError> {
        let verdict = row.verdict()?;
        Ok(Deploy {
            id: row.id,
            service: ServiceName::parse(&row.service)
                .map_err(|_| corrupt("service", &row.service))?,
            environment: EnvironmentName::parse(&row.environment)
                .map_err(|_| corrupt("environment", &row.environment))?,
            version: row.version,
            previous_version: row.previous_version,
            author: row.author,
            description: row.description,
            ci_url: row.ci_url,
            status: DeployStatus::parse(&row.status)
                .ok_or_else(|| corrupt("status", &row.status))?,
            started_at: row.started_at,
            finished_at: row.finished_at,
            source: DeploySource::parse(&row.source)
                .ok_or_else(|| corrupt("source", &row.source))?,
            external_id: row.external_id,
            created_at: row.created_at,
            registered_by: row.registered_by,
            status_changed_by: row.status_changed_by,
            verdict,
            through_lock: row.through_lock,
            caused_incident: row.caused_incident,
        })
    }
}

pub fn deploys(rows: Vec<DeployRow>) -> Result<Vec<Deploy>, StoreError> {
    rows.into_iter().map(Deploy::try_from).collect()
}

#[derive(sqlx::FromRow)]
pub struct CommitRow {
    sha: String,
    message: String,
    author: Option<String>,
    committed_at: Option<DateTime<Utc>>,
}

impl From<CommitRow> for Commit {
    fn from(row: CommitRow) -> Self {
        Commit {
            sha: row.sha,
            message: row.message,
            author: row.author,
            committed_at: row.committed_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ServiceRow {
    name: String,
    repository_url: Option<String>,
}

impl TryFrom<ServiceRow> for Service {
    type Error = StoreError;

    fn try_from(row: ServiceRow) -> Result<Self, StoreError> {
        Ok(Service {
            name: ServiceName::parse(&row.name).map_err(|_| corrupt("service", &row.name))?,
            repository_url: row.repository_url,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct EnvironmentRow {
    name: String,
    stage_order: i32,
}

impl TryFrom<EnvironmentRow> for Environment {
    type Error = StoreError;

    fn try_from(row: EnvironmentRow) -> Result<Self, StoreError> {
        Ok(Environment {
            name: EnvironmentName::parse(&row.name)
                .map_err(|_| corrupt("environment", &row.name))?,
            stage_order: row.stage_order,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ApiTokenRow {
    id: i64,
    name: String,
    scopes: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    created_by: Option<String>,
}

impl TryFrom<ApiTokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(row: ApiTokenRow) -> Result<Self, StoreError> {
        Ok(ApiToken {
            id: row.id,
            scopes: TokenScope::parse_list(&row.scopes)
                .map_err(|_| corrupt("token scopes", &row.scopes))?,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            expires_at: row.expires_at,
            created_by: row.created_by,
        })
    }
}

/// The columns every token query returns.
pub const TOKEN_COLUMNS: &str =
    "id, name, scopes, created_at, last_used_at, revoked_at, expires_at, created_by";
pub const TOKEN_COLUMNS_OF_T: &str = "t.id, t.name, t.scopes, t.created_at, t.last_used_at, \
     t.revoked_at, t.expires_at, t.created_by";

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    source_address: Option<String>,
    action: String,
    target: String,
    reason: Option<String>,
    detail: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            id: row.id,
            at: row.at,
            actor: row.actor,
            source_address: row.source_address,
            action: row.action,
            target: row.target,
            reason: row.reason,
            detail: row.detail,
        }
    }
}

/// The columns every user query returns: bare for `RETURNING` (SQLite allows no
/// table alias there), and of `users u` for selects that join.
pub const USER_COLUMNS: &str =
    "id, username, role, created_at, disabled_at, (totp_secret IS NOT NULL) AS second_factor";
pub const USER_COLUMNS_OF_U: &str = "u.id, u.username, u.role, u.created_at, u.disabled_at, \
     (u.totp_secret IS NOT NULL) AS second_factor";

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: i64,
    username: String,
    role: String,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    second_factor: bool,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: row.id,
            username: Username::parse(&row.username)
                .map_err(|_| corrupt("user name", &row.username))?,
            role: Role::parse(&row.role).ok_or_else(|| corrupt("role", &row.role))?,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
            second_factor: row.second_factor,
        })
    }
}

/// An account with its password hash, for checking a login in one query.
#[derive(sqlx::FromRow)]
pub struct LoginRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

/// A session's account with the time the session was last seen.
#[derive(sqlx::FromRow)]
pub struct SessionUserRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub last_seen_at: DateTime<Utc>,
}

/// An alert as both backends return it (labels and annotations as JSON text).
#[derive(sqlx::FromRow)]
pub struct AlertRow {
    id: i64,
    fingerprint: String,
    name: String,
    state: String,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    service: Option<String>,
    environment: Option<String>,
    labels: String,
    annotations: String,
    generator_url: Option<String>,
    resolved_by: Option<String>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<AlertRow> for houston_core::Alert {
    type Error = StoreError;

    fn try_from(row: AlertRow) -> Result<Self, StoreError> {
        let map = |what: &str, text: &str| {
            serde_json::from_str::<std::collections::BTreeMap<String, String>>(text)
                .map_err(|_| corrupt(what, text))
        };
        Ok(Self {
            id: row.id,
            state: houston_core::AlertState::parse(&row.state)
                .ok_or_else(|| corrupt("alert state", &row.state))?,
            labels: map("alert labels", &row.labels)?,
            annotations: map("alert annotations", &row.annotations)?,
            fingerprint: row.fingerprint,
            name: row.name,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            // Names Houston stored itself; one that no longer parses is left out.
            service: row.service.and_then(|s| ServiceName::parse(&s).ok()),
            environment: row
                .environment
                .and_then(|e| EnvironmentName::parse(&e).ok()),
            generator_url: row.generator_url,
            resolved_by: row.resolved_by,
            updated_at: row.updated_at,
        })
    }
}

/// Stored (metric, group) pairs as names; the group `''` is no group.
pub fn series_names(
    rows: Vec<(String, String)>,
) -> Vec<(houston_core::MetricName, Option<houston_core::GroupName>)> {
    rows.into_iter()
        .filter_map(|(metric, group)| {
            let metric = houston_core::MetricName::parse(&metric).ok()?;
            let group = match group.as_str() {
                "" => None,
                g => Some(houston_core::GroupName::parse(g).ok()?),
            };
            Some((metric, group))
        })
        .collect()
}

/// The versions of an error group's events, without the empty one (events that
/// named no version), sorted.
pub fn named_versions(mut versions: Vec<String>) -> Vec<String> {
    versions.retain(|v| !v.is_empty());
    versions.sort();
    versions.dedup();
    versions
}

/// A metric definition as both backends return it (lists as JSON text).
#[derive(sqlx::FromRow)]
pub struct DefinitionRow {
    name: String,
    unit: String,
    source: String,
    query: Option<String>,
    services: String,
    environments: Option<String>,
    check_spec: Option<String>,
}

/// The columns of `metric_definitions` that make a `DefinitionRow`.
pub const DEFINITION_COLUMNS: &str =
    "name, unit, source, query, services, environments, check_spec";

impl TryFrom<DefinitionRow> for houston_core::MetricDefinition {
    type Error = StoreError;

    fn try_from(row: DefinitionRow) -> Result<Self, StoreError> {
        let list = |text: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|_| corrupt("metric list", text))
        };
        let source = match (row.source.as_str(), row.query) {
            ("push", None) => houston_core::MetricSource::Push,
            ("prometheus", Some(query)) => houston_core::MetricSource::Prometheus { query },
            (other, _) => return Err(corrupt("metric source", other)),
        };
        let environments = match row.environments.as_deref() {
            None => None,
            Some(text) => Some(
                list(text)?
                    .iter()
                    .map(|e| EnvironmentName::parse(e).map_err(|_| corrupt("environment", e)))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let check = match row.check_spec.as_deref() {
            None => None,
            Some(text) => Some(serde_json::from_str(text).map_err(|_| corrupt("check", text))?),
        };
        Ok(Self {
            name: houston_core::MetricName::parse(&row.name)
                .map_err(|_| corrupt("metric name", &row.name))?,
            unit: row.unit,
            source,
            services: list(&row.services)?,
            environments,
            check,
        })
    }
}

/// A definition's columns as stored: (source, query, services, environments).
/// Source, query, services, environments and check as stored.
pub fn definition_columns(
    d: &houston_core::MetricDefinition,
) -> (
    &'static str,
    Option<&str>,
    String,
    Option<String>,
    Option<String>,
) {
    let (source, query) = match &d.source {
        houston_core::MetricSource::Push => ("push", None),
        houston_core::MetricSource::Prometheus { query } => ("prometheus", Some(query.as_str())),
    };
    let services = serde_json::Value::from(d.services.clone()).to_string();
    let environments = d.environments.as_ref().map(|list| {
        serde_json::Value::from(
            list.iter()
                .map(|e| e.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
        .to_string()
    });
    let check = d
        .check
        .as_ref()
        .and_then(|check| serde_json::to_string(check).ok());
    (source, query, services, environments, check)
}

/// A row of `verdicts`.
#[derive(sqlx::FromRow)]
pub struct VerdictRow {
    deploy_id: i64,
    state: String,
    provisional: Option<String>,
    is_final: bool,
    score: Option<f64>,
    rule: String,
    receipt: String,
    decided_at: Option<DateTime<Utc>>,
    evaluated_at: Option<DateTime<Utc>>,
    override_state: Option<String>,
    override_reason: Option<String>,
    override_by: Option<String>,
    override_at: Option<DateTime<Utc>>,
}

/// The columns of `verdicts` that make a `VerdictRow`.
pub const VERDICT_COLUMNS: &str = "deploy_id, state, provisional, is_final, score, rule, receipt, \
     decided_at, evaluated_at, override_state, override_reason, override_by, override_at";

impl TryFrom<VerdictRow> for houston_core::Verdict {
    type Error = StoreError;

    fn try_from(row: VerdictRow) -> Result<Self, StoreError> {
        use houston_core::{VerdictOverride, VerdictRule, VerdictState};
        let state =
            |text: &str| VerdictState::parse(text).ok_or_else(|| corrupt("verdict state", text));
        let receipt = if row.receipt == "{}" {
            houston_core::VerdictReceipt::default()
        } else {
            serde_json::from_str(&row.receipt)
                .map_err(|_| corrupt("verdict receipt", &row.receipt))?
        };
        let verdict_override = match (
            row.override_state,
            row.override_reason,
            row.override_by,
            row.override_at,
        ) {
            (Some(s), Some(reason), Some(by), Some(at)) => Some(VerdictOverride {
                state: state(&s)?,
                reason,
                by,
                at,
            }),
            _ => None,
        };
        Ok(houston_core::Verdict {
            deploy_id: row.deploy_id,
            state: state(&row.state)?,
            provisional: row.provisional.as_deref().map(state).transpose()?,
            is_final: row.is_final,
            score: row.score,
            rule: VerdictRule::parse(&row.rule)
                .ok_or_else(|| corrupt("verdict rule", &row.rule))?,
            decided_at: row.decided_at,
            evaluated_at: row.evaluated_at,
            receipt,
            verdict_override,
        })
    }
}

/// The stored key of a timing's environments: a JSON list, or '' for all.
pub fn environments_key(timing: &houston_core::ServiceTiming) -> String {
    timing
        .environments
        .as_ref()
        .map_or_else(String::new, |list| {
            serde_json::Value::from(
                list.iter()
                    .map(|e| e.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .to_string()
        })
}

/// A stored timing row.
pub fn service_timing(
    service: String,
    environments: &str,
    timing: houston_core::Timing,
) -> Result<houston_core::ServiceTiming, StoreError> {
    let environments = if environments.is_empty() {
        None
    } else {
        let names: Vec<String> = serde_json::from_str(environments)
            .map_err(|_| corrupt("environments", environments))?;
        Some(
            names
                .iter()
                .map(|e| EnvironmentName::parse(e).map_err(|_| corrupt("environment", e)))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    Ok(houston_core::ServiceTiming {
        service,
        environments,
        timing,
    })
}

/// A row of `notifications`.
#[derive(sqlx::FromRow)]
pub struct NotificationRow {
    id: i64,
    deploy_id: Option<i64>,
    url: String,
    kind: String,
    state: Option<String>,
    message: Option<String>,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    last_attempt_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// The columns of `notifications` that make a `NotificationRow`.
pub const NOTIFICATION_COLUMNS: &str = "id, deploy_id, url, kind, state, message, status, \
     attempts, last_error, last_attempt_at, next_attempt_at, created_at";

impl TryFrom<NotificationRow> for houston_core::Notification {
    type Error = StoreError;

    fn try_from(row: NotificationRow) -> Result<Self, StoreError> {
        use houston_core::{DeliveryStatus, MessageAbout, NoticeKind, VerdictState};
        let about = match (row.kind.as_str(), row.deploy_id, row.state, row.message) {
            (houston_core::LOCK_MESSAGE_KIND, None, None, Some(text)) => {
                MessageAbout::Lock { text }
            }
            (kind, Some(deploy_id), Some(state), None) => MessageAbout::Verdict {
                deploy_id,
                kind: NoticeKind::parse(kind).ok_or_else(|| corrupt("notice kind", kind))?,
                state: VerdictState::parse(&state)
                    .ok_or_else(|| corrupt("verdict state", &state))?,
            },
            (kind, ..) => return Err(corrupt("message of kind", kind)),
        };
        Ok(houston_core::Notification {
            id: row.id,
            url: row.url,
            about,
            status: DeliveryStatus::parse(&row.status)
                .ok_or_else(|| corrupt("delivery status", &row.status))?,
            attempts: u32::try_from(row.attempts).unwrap_or_default(),
            last_error: row.last_error,
            last_attempt_at: row.last_attempt_at,
            next_attempt_at: row.next_attempt_at,
            created_at: row.created_at,
        })
    }
}

/// The columns of `incidents` that make an `IncidentRow`.
pub(crate) const INCIDENT_COLUMNS: &str = "id, source, external_id, title, severity, state, services, environments, \
     opened_at, acknowledged_at, resolved_at, link, opened_by";

/// An incident as both backends return it (its places as JSON text).
#[derive(sqlx::FromRow)]
pub struct IncidentRow {
    id: i64,
    source: String,
    external_id: String,
    title: String,
    severity: String,
    state: String,
    services: String,
    environments: String,
    opened_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    link: Option<String>,
    opened_by: String,
}

impl TryFrom<IncidentRow> for houston_core::Incident {
    type Error = StoreError;

    fn try_from(row: IncidentRow) -> Result<Self, StoreError> {
        let names = |what: &str, text: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|_| corrupt(what, text))
        };
        Ok(Self {
            id: row.id,
            source: houston_core::IncidentSource::parse(&row.source)
                .ok_or_else(|| corrupt("incident source", &row.source))?,
            severity: houston_core::Severity::parse(&row.severity)
                .ok_or_else(|| corrupt("incident severity", &row.severity))?,
            state: houston_core::IncidentState::parse(&row.state)
                .ok_or_else(|| corrupt("incident state", &row.state))?,
            services: names("incident services", &row.services)?
                .iter()
                .map(|n| {
                    houston_core::ServiceName::parse(n).map_err(|_| corrupt("service name", n))
                })
                .collect::<Result<_, _>>()?,
            environments: names("incident environments", &row.environments)?
                .iter()
                .map(|n| {
                    houston_core::EnvironmentName::parse(n)
                        .map_err(|_| corrupt("environment name", n))
                })
                .collect::<Result<_, _>>()?,
            external_id: row.external_id,
            title: row.title,
            opened_at: row.opened_at,
            acknowledged_at: row.acknowledged_at,
            resolved_at: row.resolved_at,
            link: row.link,
            opened_by: row.opened_by,
        })
    }
}

//! Deploys: what is registered, how a registration request is parsed, and the
//! status a deploy moves through.

use super::names::{EnvironmentName, NameError, ServiceName};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a deploy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeployStatus {
    InProgress,
    Succeeded,
    Failed,
    RolledBack,
}

impl DeployStatus {
    pub const ALL: [DeployStatus; 4] = [
        DeployStatus::InProgress,
        DeployStatus::Succeeded,
        DeployStatus::Failed,
        DeployStatus::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeployStatus::InProgress => "in_progress",
            DeployStatus::Succeeded => "succeeded",
            DeployStatus::Failed => "failed",
            DeployStatus::RolledBack => "rolled_back",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// A finished deploy has a finish time; an in-progress one has none.
    pub fn is_finished(self) -> bool {
        self != DeployStatus::InProgress
    }

    pub fn label(self) -> &'static str {
        match self {
            DeployStatus::InProgress => "In progress",
            DeployStatus::Succeeded => "Succeeded",
            DeployStatus::Failed => "Failed",
            DeployStatus::RolledBack => "Rolled back",
        }
    }
}

impl fmt::Display for DeployStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a deploy reached Houston.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeploySource {
    Api,
    GithubWebhook,
    Demo,
}

impl DeploySource {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploySource::Api => "api",
            DeploySource::GithubWebhook => "github_webhook",
            DeploySource::Demo => "demo",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Api, Self::GithubWebhook, Self::Demo]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

pub type DeployId = i64;

/// One commit shipped by a deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Commit {
    pub sha: String,
    pub message: String,
    pub author: Option<String>,
    pub committed_at: Option<DateTime<Utc>>,
}

/// A deploy as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deploy {
    pub id: DeployId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "checkout"))]
    pub service: ServiceName,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "production"))]
    pub environment: EnvironmentName,
    pub version: String,
    pub previous_version: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub ci_url: Option<String>,
    pub status: DeployStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub source: DeploySource,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Who registered it as Houston knows them (`token:ci`, `user:ada`,
    /// `github:acme/checkout`), unlike `author`, which the caller claims.
    pub registered_by: Option<String>,
    /// Who made the last status change, when the status changed after registration.
    pub status_changed_by: Option<String>,
    /// The judge's verdict as a row shows it; none for a deploy the judge never followed.
    pub verdict: Option<super::headline::VerdictSummary>,
    /// What stood in the way when it was registered: its place was locked or frozen
    /// and no override let it through ("deployed through a lock").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through_lock: Option<String>,
    /// The incident a person confirmed it caused (the lowest id, if several): the
    /// input of the change-failure rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_incident: Option<i64>,
}

impl Deploy {
    /// How long the deploy ran, when it has finished.
    pub fn duration(&self) -> Option<chrono::Duration> {
        self.finished_at.map(|f| f - self.started_at)
    }
}

/// A deploy with everything the detail page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeployDetail {
    #[serde(flatten)]
    pub deploy: Deploy,
    pub commits: Vec<Commit>,
    pub repository_url: Option<String>,
}

/// A validated registration, ready to store. Built only by [`DeployRequest::parse`]
/// and [`DeployRequest::parse_as`]: every way in (the API, the CLI, GitHub, the demo
/// loader, tests) passes the same rules. `#[non_exhaustive]` makes a struct
/// expression of it a compile error outside the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewDeploy {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub version: String,
    /// `None` lets the store fill in the version last deployed to the same place.
    pub previous_version: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub ci_url: Option<String>,
    pub repository_url: Option<String>,
    pub status: DeployStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub source: DeploySource,
    pub external_id: Option<String>,
    pub commits: Vec<Commit>,
    /// What the gate said blocks this deploy besides locks and freeze windows (a
    /// firing alert, an unhealthy deploy there, promotion), read just before it is
    /// registered; the store checks locks and windows itself, in the registration's
    /// transaction, and marks the deploy or spends an override for them all.
    pub other_blocks: Vec<super::locks::GateReason>,
}

/// A problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a request, so a caller can fix them all at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

pub const MAX_COMMITS: usize = 1000;
const MAX_VERSION_LEN: usize = 200;
const MAX_TEXT_LEN: usize = 2000;
const MAX_URL_LEN: usize = 2048;

/// Storage keeps microseconds (PostgreSQL's precision); truncating at the boundary
/// makes both backends hand back exactly what they were given.
pub fn to_stored_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// The JSON body of `POST /api/v1/deploys`, as the caller sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// Service name; created on first sight. Letters, digits, `.`, `_`, `-`; up to
    /// 64 characters. Surrounding spaces are ignored, here and in every field.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "checkout", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub service: Option<String>,
    /// Environment name; created on first sight. Named like services.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "production", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub environment: Option<String>,
    /// Tag or commit SHA being deployed: up to 200 characters, no spaces or
    /// control characters.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "v1.42.0", pattern = "^[ \\t\\n\\f\\r]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]{1,200}[ \\t\\n\\f\\r]*$"))]
    pub version: Option<String>,
    /// Defaults to the version last deployed to the same service and environment.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^[ \\t\\n\\f\\r]*([^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]{1,200})?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub previous_version: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub author: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub description: Option<String>,
    /// Link back to the CI run (http or https).
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 2048, pattern = "^[ \\t\\n\\f\\r]*(https?://[\\s\\S]*)?$")
    )]
    pub ci_url: Option<String>,
    /// The service's repository (http or https); stored on the service.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 2048, pattern = "^[ \\t\\n\\f\\r]*(https?://[\\s\\S]*)?$")
    )]
    pub repository_url: Option<String>,
    /// Defaults to `in_progress`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^[ \\t\\n\\f\\r]*(in_progress|succeeded|failed|rolled_back)[ \\t\\n\\f\\r]*$"
        )
    )]
    pub status: Option<String>,
    /// RFC 3339; defaults to now; at most 10 minutes ahead of the server's clock.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub started_at: Option<String>,
    /// RFC 3339; only for finished statuses, not before `started_at`.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub finished_at: Option<String>,
    /// Idempotency key: a second registration with the same id returns the first
    /// deploy. Ids starting `github:` or `demo:` belong to those sources.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = "^(?![ \\t\\n\\f\\r]*([Gg][Ii][Tt][Hh][Uu][Bb]|[Dd][Ee][Mm][Oo]):)"
        )
    )]
    pub external_id: Option<String>,
    /// At most 1,000.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub commits: Vec<CommitRequest>,
}

/// A commit as sent by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, pattern = "^[ \\t\\n\\f\\r]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]{1,200}[ \\t\\n\\f\\r]*$"))]
    pub sha: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub message: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub author: Option<String>,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub committed_at: Option<String>,
}

/// Collects field errors while parsing a request.
#[derive(Default)]
pub(super) struct Problems {
    listed: Vec<FieldError>,
    /// How many are listed at most (all by default), and under which field the
    /// rest are counted.
    cap: Option<(usize, &'static str)>,
    more: usize,
}

impl Problems {
    /// Lists the first `max` problems and counts the rest under `field`.
    pub(super) fn capped(max: usize, field: &'static str) -> Self {
        Self {
            cap: Some((max, field)),
            ..Self::default()
        }
    }

    pub(super) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        match self.cap {
            Some((max, _)) if self.listed.len() >= max => self.more += 1,
            _ => self.listed.push(FieldError::new(field, message)),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// Every problem listed, and a last line counting those left out.
    pub(super) fn into_errors(self) -> ValidationErrors {
        let mut listed = self.listed;
        if let (Some((_, field)), more @ 1..) = (self.cap, self.more) {
            listed.push(FieldError::new(
                field,
                format!("and {more} more problems like these"),
            ));
        }
        ValidationErrors(listed)
    }

    pub(super) fn name<T>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: fn(&str) -> Result<T, NameError>,
    ) -> Option<T> {
        match raw {
            None => {
                self.add(field, "is required");
                None
            }
            Some(raw) => parse(raw).map_err(|e| self.add(field, e.to_string())).ok(),
        }
    }

    /// Free text of at most `max` characters as sent; surrounding spaces are
    /// dropped and blank means absent.
    pub(super) fn text(&mut self, field: &str, raw: Option<&str>, max: usize) -> Option<String> {
        let raw = raw?;
        if raw.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
            return None;
        }
        Some(raw.trim_ascii().to_owned()).filter(|v| !v.is_empty())
    }

    fn version(&mut self, field: &str, raw: Option<&str>, required: bool) -> Option<String> {
        let value = raw.map(str::trim_ascii).unwrap_or_default();
        if value.is_empty() {
            if required {
                self.add(field, "is required and must not be empty");
            }
            return None;
        }
        if value.chars().count() > MAX_VERSION_LEN {
            self.add(
                field,
                format!("must be at most {MAX_VERSION_LEN} characters"),
            );
            return None;
        }
        if value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\u{feff}')
        {
            self.add(field, "must not contain spaces or control characters");
            return None;
        }
        Some(value.to_owned())
    }

    fn url(&mut self, field: &str, raw: Option<&str>) -> Option<String> {
        let value = self.text(field, raw, MAX_URL_LEN)?;
        if !(value.starts_with("https://") || value.starts_with("http://")) {
            self.add(field, "must be an http:// or https:// URL");
            return None;
        }
        Some(value)
    }

    fn time(&mut self, field: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
        let raw = raw?;
        match DateTime::parse_from_rfc3339(raw.trim_ascii()) {
            Ok(t) => Some(to_stored_precision(t.with_timezone(&Utc))),
            Err(_) => {
                self.add(
                    field,
                    format!("must be an RFC 3339 time such as 2026-11-21T14:05:00Z, got {raw:?}"),
                );
                None
            }
        }
    }
}

/// How far in the future a start time may lie before it is taken for a clock or
/// time-zone mistake.
const MAX_CLOCK_SKEW_MINUTES: i64 = 10;

/// External ids are namespaced by the source that made them: an id with one of
/// these prefixes can only come from that source, so no API caller can register
/// (squat) the id of the next GitHub deployment.
const RESERVED_ID_PREFIXES: [(&str, DeploySource); 2] = [
    ("github:", DeploySource::GithubWebhook),
    ("demo:", DeploySource::Demo),
];

impl DeployRequest {
    /// Takes an `Idempotency-Key` as the external id: it stands for the id when the
    /// body has none, and must equal it (spaces around either aside) when both are sent.
    pub fn take_idempotency_key(&mut self, key: &str) -> Result<(), ValidationErrors> {
        match &self.external_id {
            None => {
                self.external_id = Some(key.to_owned());
                Ok(())
            }
            Some(id) if id.trim_ascii() == key.trim_ascii() => Ok(()),
            Some(_) => Err(ValidationErrors(vec![FieldError::new(
                "external_id",
                "differs from the Idempotency-Key header; send one or make them equal",
            )])),
        }
    }

    /// Checks every field and returns a deploy ready to store, or every problem found.
    pub fn parse(&self, now: DateTime<Utc>) -> Result<NewDeploy, ValidationErrors> {
        self.parse_as(now, DeploySource::Api)
    }

    /// [`DeployRequest::parse`] for a request that reached Houston through `source`:
    /// every path into Houston passes the same rules.
    pub fn parse_as(
        &self,
        now: DateTime<Utc>,
        source: DeploySource,
    ) -> Result<NewDeploy, ValidationErrors> {
        let mut p = Problems::default();
        let service = p.name("service", self.service.as_deref(), ServiceName::parse);
        let environment = p.name(
            "environment",
            self.environment.as_deref(),
            EnvironmentName::parse,
        );
        let version = p.version("version", self.version.as_deref(), true);
        let previous_version =
            p.version("previous_version", self.previous_version.as_deref(), false);
        let author = p.text("author", self.author.as_deref(), 200);
        let description = p.text("description", self.description.as_deref(), MAX_TEXT_LEN);
        let ci_url = p.url("ci_url", self.ci_url.as_deref());
        let repository_url = p.url("repository_url", self.repository_url.as_deref());
        let external_id = p.text("external_id", self.external_id.as_deref(), 200);
        if let Some(id) = &external_id {
            let lower = id.to_ascii_lowercase();
            if let Some((prefix, owner)) = RESERVED_ID_PREFIXES
                .iter()
                .find(|(prefix, owner)| lower.starts_with(prefix) && *owner != source)
            {
                p.add(
                    "external_id",
                    format!(
                        "ids starting with {prefix:?} belong to the {} source; choose another id",
                        owner.as_str()
                    ),
                );
            }
        }

        let status = match self.status.as_deref() {
            None => Some(DeployStatus::InProgress),
            Some(raw) => {
                let parsed = DeployStatus::parse(raw.trim_ascii());
                if parsed.is_none() {
                    p.add(
                        "status",
                        format!("unknown status {raw:?}; use one of in_progress, succeeded, failed, rolled_back"),
                    );
                }
                parsed
            }
        };
        let started_at = p.time("started_at", self.started_at.as_deref());
        let finished_at = p.time("finished_at", self.finished_at.as_deref());
        let started = started_at.unwrap_or_else(|| to_stored_precision(now));
        if started > now + chrono::Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
            p.add(
                "started_at",
                "lies in the future; check the clock and time zone of the caller",
            );
        }
        let finished_at = match status {
            Some(DeployStatus::InProgress) => {
                if finished_at.is_some() {
                    p.add(
                        "finished_at",
                        "must be empty while the status is in_progress",
                    );
                }
                None
            }
            Some(_) => {
                let finished = finished_at.unwrap_or_else(|| to_stored_precision(now).max(started));
                if finished < started {
                    p.add("finished_at", "must not be before started_at");
                }
                Some(finished)
            }
            None => None,
        };

        if self.commits.len() > MAX_COMMITS {
            p.add(
                "commits",
                format!("at most {MAX_COMMITS} commits per deploy"),
            );
        }
        let commits: Vec<Commit> = self
            .commits
            .iter()
            .take(MAX_COMMITS)
            .enumerate()
            .filter_map(|(i, c)| c.parse(&mut p, i))
            .collect();

        match (service, environment, version, status) {
            (Some(service), Some(environment), Some(version), Some(status)) if p.is_empty() => {
                Ok(NewDeploy {
                    service,
                    environment,
                    version,
                    previous_version,
                    author,
                    description,
                    ci_url,
                    repository_url,
                    status,
                    started_at: started,
                    finished_at,
                    source,
                    external_id,
                    commits,
                    other_blocks: Vec::new(),
                })
            }
            _ => Err(p.into_errors()),
        }
    }
}

impl CommitRequest {
    fn parse(&self, p: &mut Problems, index: usize) -> Option<Commit> {
        let field = |name: &str| format!("commits[{index}].{name}");
        let sha = p.version(&field("sha"), self.sha.as_deref(), true);
        let message = p.text(&field("message"), self.message.as_deref(), MAX_TEXT_LEN);
        let author = p.text(&field("author"), self.author.as_deref(), 200);
        let committed_at = p.time(&field("committed_at"), self.committed_at.as_deref());
        Some(Commit {
            sha: sha?,
            message: message.unwrap_or_default(),
            author,
            committed_at,
        })
    }
}

/// The body of `POST /api/v1/deploys/{id}/status`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// One of `succeeded`, `failed`, `rolled_back`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, pattern = "^[ \\t\\n\\f\\r]*(succeeded|failed|rolled_back)[ \\t\\n\\f\\r]*$"))]
    pub status: Option<String>,
    /// RFC 3339; defaults to now; not before the deploy started.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub finished_at: Option<String>,
}

/// A validated status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub status: DeployStatus,
    /// When the status was reported: the finish time for a finished status. Reports
    /// are ordered by this time, not by when they reach Houston.
    pub finished_at: DateTime<Utc>,
}

/// What a status report does to a deploy, decided by [`decide_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusDecision {
    /// Store the new status.
    Apply,
    /// The report cannot be true of this deploy (it finished before it started).
    Invalid(String),
    /// Nothing to store, and nothing wrong: the same status again, or a report
    /// older than the one the deploy already has (late or replayed).
    Unchanged(String),
    /// A change the rules do not allow, such as a finished deploy going back to
    /// in progress.
    Refused(String),
}

/// The one rule for status changes, used by the API and the webhook alike and
/// checked inside the transaction that applies it. `current_at` is the time of the
/// report behind the current status (the start time while it is in progress).
///
/// Allowed: in progress → any finished status; succeeded → failed or rolled back
/// (a deploy found broken after it finished); failed → rolled back. Everything
/// else that changes the status is refused; a rolled-back deploy is final.
pub fn decide_status(
    current: DeployStatus,
    current_at: DateTime<Utc>,
    started_at: DateTime<Utc>,
    change: &StatusChange,
) -> StatusDecision {
    use DeployStatus::{Failed, InProgress, RolledBack, Succeeded};
    if change.status.is_finished() && change.finished_at < started_at {
        return StatusDecision::Invalid(format!(
            "finished_at must not be before the deploy started ({})",
            started_at.to_rfc3339()
        ));
    }
    if change.status == current {
        return StatusDecision::Unchanged(format!("the deploy is already {current}"));
    }
    if change.finished_at < current_at {
        return StatusDecision::Unchanged(format!(
            "a {} report from {} is older than the current status ({current} since {})",
            change.status,
            change.finished_at.to_rfc3339(),
            current_at.to_rfc3339()
        ));
    }
    match (current, change.status) {
        (InProgress, _) | (Succeeded, Failed | RolledBack) | (Failed, RolledBack) => {
            StatusDecision::Apply
        }
        (_, InProgress) => StatusDecision::Refused(format!(
            "the deploy is {current}: a finished deploy does not go back to in_progress"
        )),
        (from, to) => StatusDecision::Refused(format!(
            "a {from} deploy cannot become {to}; register a new deploy instead"
        )),
    }
}

impl StatusRequest {
    pub fn parse(&self, now: DateTime<Utc>) -> Result<StatusChange, ValidationErrors> {
        let mut p = Problems::default();
        let status = match self.status.as_deref().map(str::trim_ascii) {
            None | Some("") => {
                p.add(
                    "status",
                    "is required: one of succeeded, failed, rolled_back",
                );
                None
            }
            Some(raw) => match DeployStatus::parse(raw) {
                Some(s) if s.is_finished() => Some(s),
                Some(_) => {
                    p.add("status", "a deploy cannot move back to in_progress; use succeeded, failed or rolled_back");
                    None
                }
                None => {
                    p.add(
                        "status",
                        format!(
                            "unknown status {raw:?}; use one of succeeded, failed, rolled_back"
                        ),
                    );
                    None
                }
            },
        };
        let finished_at = p.time("finished_at", self.finished_at.as_deref());
        match status {
            Some(status) if p.is_empty() => Ok(StatusChange {
                status,
                finished_at: finished_at.unwrap_or_else(|| to_stored_precision(now)),
            }),
            _ => Err(p.into_errors()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .single()
            .expect("valid time")
    }

    fn minimal() -> DeployRequest {
        DeployRequest {
            service: Some("checkout".into()),
            environment: Some("production".into()),
            version: Some("v1.2.3".into()),
            ..Default::default()
        }
    }

    fn fields(err: ValidationErrors) -> Vec<String> {
        err.0.into_iter().map(|f| f.field).collect()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        now() + chrono::Duration::minutes(minutes)
    }

    fn change(status: DeployStatus, minutes: i64) -> StatusChange {
        StatusChange {
            status,
            finished_at: at(minutes),
        }
    }

    #[test]
    fn status_changes_follow_one_rule() {
        use DeployStatus::{Failed, InProgress, RolledBack, Succeeded};
        use StatusDecision::{Apply, Invalid, Refused, Unchanged};
        let decide =
            |from, to, minutes| match decide_status(from, at(0), at(-10), &change(to, minutes)) {
                Apply => "apply",
                Unchanged(_) => "unchanged",
                Refused(_) => "refused",
                Invalid(_) => "invalid",
            };
        let table = [
            (InProgress, Succeeded, 5, "apply"),
            (InProgress, Failed, 5, "apply"),
            (InProgress, RolledBack, 5, "apply"),
            (InProgress, InProgress, 5, "unchanged"),
            (Succeeded, Succeeded, 5, "unchanged"),
            (Succeeded, Failed, 5, "apply"),
            (Succeeded, RolledBack, 5, "apply"),
            (Failed, RolledBack, 5, "apply"),
            (Failed, Succeeded, 5, "refused"),
            (RolledBack, Succeeded, 5, "refused"),
            (Succeeded, InProgress, 5, "refused"),
            (Failed, InProgress, 5, "refused"),
            // Exactly at the current report's time still counts as new.
            (InProgress, Succeeded, 0, "apply"),
            // A late or replayed report never overwrites a newer one.
            (Succeeded, Failed, -1, "unchanged"),
            (InProgress, Succeeded, -1, "unchanged"),
            (Succeeded, InProgress, -1, "unchanged"),
            // Finishing before the start is not a fact to record.
            (InProgress, Succeeded, -11, "invalid"),
        ];
        for (from, to, minutes, want) in table {
            assert_eq!(
                decide(from, to, minutes),
                want,
                "{from} -> {to} at {minutes} min"
            );
        }
    }

    #[test]
    fn external_ids_are_namespaced_by_source() {
        let squat = DeployRequest {
            external_id: Some("GitHub:acme/checkout#99".into()),
            ..minimal()
        };
        let err = squat.parse(now()).expect_err("API may not use github: ids");
        assert_eq!(fields(err), ["external_id"]);
        let from_github = squat
            .parse_as(now(), DeploySource::GithubWebhook)
            .expect("the webhook may");
        assert_eq!(from_github.source, DeploySource::GithubWebhook);
        let own = DeployRequest {
            external_id: Some("ci-run-42".into()),
            ..minimal()
        };
        assert!(own.parse(now()).is_ok());
    }

    #[test]
    fn minimal_request_defaults_to_in_progress_now() {
        let d = minimal().parse(now()).expect("valid");
        assert_eq!(d.status, DeployStatus::InProgress);
        assert_eq!(d.started_at, now());
        assert_eq!(d.finished_at, None);
        assert_eq!(d.source, DeploySource::Api);
    }

    #[test]
    fn missing_fields_are_all_reported() {
        let err = DeployRequest::default().parse(now()).expect_err("invalid");
        assert_eq!(fields(err), ["service", "environment", "version"]);
    }

    #[test]
    fn blank_version_is_refused() {
        let req = DeployRequest {
            version: Some("   ".into()),
            ..minimal()
        };
        assert_eq!(fields(req.parse(now()).expect_err("invalid")), ["version"]);
    }

    #[test]
    fn unknown_status_is_refused_with_the_choices() {
        let req = DeployRequest {
            status: Some("done".into()),
            ..minimal()
        };
        let err = req.parse(now()).expect_err("invalid");
        assert!(
            err.0[0]
                .message
                .contains("in_progress, succeeded, failed, rolled_back")
        );
    }

    #[test]
    fn bad_and_inverted_times_are_refused() {
        let req = DeployRequest {
            started_at: Some("yesterday".into()),
            ..minimal()
        };
        assert_eq!(
            fields(req.parse(now()).expect_err("invalid")),
            ["started_at"]
        );

        let req = DeployRequest {
            status: Some("succeeded".into()),
            started_at: Some("2026-11-21T11:00:00Z".into()),
            finished_at: Some("2026-11-21T10:59:59Z".into()),
            ..minimal()
        };
        assert_eq!(
            fields(req.parse(now()).expect_err("invalid")),
            ["finished_at"]
        );
    }

    #[test]
    fn finish_equal_to_start_is_accepted() {
        let req = DeployRequest {
            status: Some("failed".into()),
            started_at: Some("2026-11-21T11:00:00Z".into()),
            finished_at: Some("2026-11-21T11:00:00Z".into()),
            ..minimal()
        };
        let d = req.parse(now()).expect("valid");
        assert_eq!(d.finished_at, Some(d.started_at));
    }

    #[test]
    fn start_in_the_future_beyond_skew_is_refused() {
        let at_limit = (now() + chrono::Duration::minutes(MAX_CLOCK_SKEW_MINUTES)).to_rfc3339();
        let req = DeployRequest {
            started_at: Some(at_limit),
            ..minimal()
        };
        assert!(req.parse(now()).is_ok());
        let beyond = (now() + chrono::Duration::minutes(MAX_CLOCK_SKEW_MINUTES + 1)).to_rfc3339();
        let req = DeployRequest {
            started_at: Some(beyond),
            ..minimal()
        };
        assert_eq!(
            fields(req.parse(now()).expect_err("invalid")),
            ["started_at"]
        );
    }

    #[test]
    fn finished_status_without_finish_time_finishes_now() {
        let req = DeployRequest {
            status: Some("succeeded".into()),
            ..minimal()
        };
        assert_eq!(req.parse(now()).expect("valid").finished_at, Some(now()));
    }

    #[test]
    fn in_progress_with_finish_time_is_refused() {
        let req = DeployRequest {
            finished_at: Some("2026-11-21T11:00:00Z".into()),
            ..minimal()
        };
        assert_eq!(
            fields(req.parse(now()).expect_err("invalid")),
            ["finished_at"]
        );
    }

    #[test]
    fn offsets_are_normalised_to_utc_microseconds() {
        let req = DeployRequest {
            started_at: Some("2026-11-21T13:00:00.123456789+02:00".into()),
            ..minimal()
        };
        let d = req.parse(now()).expect("valid");
        assert_eq!(
            d.started_at.to_rfc3339(),
            "2026-11-21T11:00:00.123456+00:00"
        );
    }

    #[test]
    fn commits_are_checked_one_by_one() {
        let req = DeployRequest {
            commits: vec![
                CommitRequest {
                    sha: Some("abc123".into()),
                    message: Some("Fix cart".into()),
                    ..Default::default()
                },
                CommitRequest {
                    sha: None,
                    committed_at: Some("nope".into()),
                    ..Default::default()
                },
            ],
            ..minimal()
        };
        let err = req.parse(now()).expect_err("invalid");
        assert_eq!(fields(err), ["commits[1].sha", "commits[1].committed_at"]);
    }

    #[test]
    fn urls_must_be_http() {
        let req = DeployRequest {
            ci_url: Some("javascript:alert(1)".into()),
            ..minimal()
        };
        assert_eq!(fields(req.parse(now()).expect_err("invalid")), ["ci_url"]);
    }

    #[test]
    fn unknown_json_fields_are_refused() {
        let parsed: Result<DeployRequest, _> =
            serde_json::from_str(r#"{"service":"a","verison":"1"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn status_change_refuses_in_progress_and_unknown() {
        for (raw, ok) in [
            ("succeeded", true),
            ("rolled_back", true),
            ("in_progress", false),
            ("gone", false),
            ("", false),
        ] {
            let req = StatusRequest {
                status: Some(raw.into()),
                finished_at: None,
            };
            assert_eq!(req.parse(now()).is_ok(), ok, "status {raw:?}");
        }
    }
}

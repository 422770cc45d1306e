//! Incidents: what an incident tool (PagerDuty; incident.io and Opsgenie in
//! `incidents/tools.rs`; a generic signed webhook; Alertmanager) or a person
//! reports, read into one [`IncidentReport`]; the incident as stored; and the deploys
//! suspected of causing it, ranked with the evidence for each ([`rank_suspects`]).

use super::deploy::{
    Deploy, DeployId, DeployStatus, Problems, ValidationErrors, to_stored_precision,
};
use super::judge::VerdictState;
use super::names::{EnvironmentName, ServiceName};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The most services or environments one incident names.
pub const MAX_INCIDENT_PLACES: usize = 50;
const MAX_TITLE_CHARS: usize = 500;
const MAX_ID_CHARS: usize = 200;
const MAX_LINK_CHARS: usize = 2000;

/// How bad an incident is, least to most severe (so `>=` reads "at least").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// `critical`, `high`, `medium` or `low`; priorities `P1` to `P5` and `SEV1` to
    /// `SEV4` as the incident tools name them (1 is the most severe).
    pub fn parse(raw: &str) -> Option<Severity> {
        let text = raw.trim_ascii().to_ascii_lowercase();
        let level = text
            .strip_prefix("sev")
            .or_else(|| text.strip_prefix('p'))
            .and_then(|n| n.trim_start_matches(['-', ' ']).parse::<u8>().ok());
        match (text.as_str(), level) {
            ("critical", _) | (_, Some(0 | 1)) => Some(Severity::Critical),
            ("high", _) | (_, Some(2)) => Some(Severity::High),
            ("medium", _) | (_, Some(3)) => Some(Severity::Medium),
            ("low", _) | (_, Some(4 | 5)) => Some(Severity::Low),
            _ => None,
        }
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Open,
    Acknowledged,
    Resolved,
}

impl IncidentState {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::Resolved => "resolved",
        }
    }

    /// `open` (or `triggered`), `acknowledged`, `resolved`.
    pub fn parse(raw: &str) -> Option<IncidentState> {
        match raw.trim_ascii().to_ascii_lowercase().as_str() {
            "open" | "triggered" => Some(IncidentState::Open),
            "acknowledged" => Some(IncidentState::Acknowledged),
            "resolved" => Some(IncidentState::Resolved),
            _ => None,
        }
    }
}

/// Who told Houston of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentSource {
    /// PagerDuty's v3 webhook.
    Pagerduty,
    /// A signed JSON webhook in Houston's own shape, from any tool.
    Webhook,
    /// A person or a program, through the API, the CLI or the page.
    Declared,
    /// An Alertmanager alert of at least the configured severity.
    Alertmanager,
    /// Opsgenie's outgoing webhook.
    Opsgenie,
    /// incident.io's webhook.
    IncidentIo,
}

impl IncidentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentSource::Pagerduty => "pagerduty",
            IncidentSource::Webhook => "webhook",
            IncidentSource::Declared => "declared",
            IncidentSource::Alertmanager => "alertmanager",
            IncidentSource::Opsgenie => "opsgenie",
            IncidentSource::IncidentIo => "incident_io",
        }
    }

    pub fn parse(raw: &str) -> Option<IncidentSource> {
        match raw {
            "pagerduty" => Some(IncidentSource::Pagerduty),
            "webhook" => Some(IncidentSource::Webhook),
            "declared" => Some(IncidentSource::Declared),
            "alertmanager" => Some(IncidentSource::Alertmanager),
            "opsgenie" => Some(IncidentSource::Opsgenie),
            "incident_io" => Some(IncidentSource::IncidentIo),
            _ => None,
        }
    }
}

/// One report of an incident, whatever sent it: a new incident, or a change of one
/// already known by its source and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentReport {
    pub source: IncidentSource,
    /// The source's own id of the incident; reports with the same source and id are
    /// one incident.
    pub external_id: String,
    pub title: String,
    pub severity: Severity,
    pub state: IncidentState,
    pub services: Vec<ServiceName>,
    pub environments: Vec<EnvironmentName>,
    /// When the reported change happened (the incident opened, was acknowledged or
    /// resolved).
    pub at: DateTime<Utc>,
    pub link: Option<String>,
}

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Incident {
    pub id: i64,
    pub source: IncidentSource,
    pub external_id: String,
    pub title: String,
    pub severity: Severity,
    pub state: IncidentState,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub services: Vec<ServiceName>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub environments: Vec<EnvironmentName>,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub link: Option<String>,
    /// Who reported it first (`webhook:pagerduty`, `user:ada`, `token:ci`).
    pub opened_by: String,
}

impl Incident {
    /// Its services and its environments in words: ("checkout, cart", "production"),
    /// or "every service" / "every environment" for none named.
    pub fn places_in_words(&self) -> (String, String) {
        let join = |names: Vec<&str>, all: &str| {
            if names.is_empty() {
                all.to_owned()
            } else {
                names.join(", ")
            }
        };
        (
            join(
                self.services.iter().map(|s| s.as_str()).collect(),
                "every service",
            ),
            join(
                self.environments.iter().map(|e| e.as_str()).collect(),
                "every environment",
            ),
        )
    }

    /// Whether the incident touches `service` in `environment`: an incident that
    /// names no services touches every service, one that names no environments
    /// every environment.
    pub fn touches(&self, service: &ServiceName, environment: &EnvironmentName) -> bool {
        (self.services.is_empty() || self.services.contains(service))
            && self.touches_environment(environment)
    }

    pub fn touches_environment(&self, environment: &EnvironmentName) -> bool {
        self.environments.is_empty() || self.environments.contains(environment)
    }

    /// Whether it stops the line where the environment's rule stops it for incidents
    /// of at least `least`: not resolved, and that severe or worse.
    pub fn stops_at(&self, least: Severity) -> bool {
        self.state != IncidentState::Resolved && self.severity >= least
    }
}

/// The body of `POST /api/v1/incidents` (declaring one, or reporting a change of one
/// declared before) and of the generic incident webhook.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentRequest {
    /// Your id of the incident: a later report with the same id changes it. Absent
    /// when declaring one by hand: Houston makes one.
    #[cfg_attr(feature = "openapi", schema(max_length = 200, example = "INC-2041"))]
    pub id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 500, example = "Checkout errors after the 14:00 release"))]
    pub title: Option<String>,
    /// `critical`, `high`, `medium`, `low`, or `P1`–`P5` / `SEV1`–`SEV4`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "critical"))]
    pub severity: Option<String>,
    /// `open` (the default), `acknowledged` or `resolved`.
    #[cfg_attr(feature = "openapi", schema(example = "open"))]
    pub state: Option<String>,
    /// The services it affects; none: every service.
    #[cfg_attr(feature = "openapi", schema(max_items = 50, example = json!(["checkout"])))]
    pub services: Option<Vec<String>>,
    /// The environments it affects; none: every environment.
    #[cfg_attr(feature = "openapi", schema(max_items = 50, example = json!(["production"])))]
    pub environments: Option<Vec<String>>,
    /// When the reported change happened (RFC 3339); now when absent.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub at: Option<String>,
    /// A link to the incident in its own tool.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2000,
            example = "https://acme.pagerduty.com/incidents/PGR0VU2"
        )
    )]
    pub url: Option<String>,
}

/// The id Houston gives a report that names none: its source and the time to the
/// microsecond (`declared-20261207T154700.123456Z`).
pub fn fresh_incident_id(source: IncidentSource, now: DateTime<Utc>) -> String {
    format!("{}-{}", source.as_str(), now.format("%Y%m%dT%H%M%S%.6fZ"))
}

impl IncidentRequest {
    /// The report, or every problem with the request. A report without an `id` gets
    /// `fresh_id`; `at` may not lie more than five minutes after `now`.
    pub fn parse(
        &self,
        source: IncidentSource,
        fresh_id: impl FnOnce() -> String,
        now: DateTime<Utc>,
    ) -> Result<IncidentReport, ValidationErrors> {
        let mut p = Problems::default();
        let external_id = match self.id.as_deref().map(str::trim_ascii) {
            None | Some("") => Some(fresh_id()),
            Some(id) if id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) => {
                p.add(
                    "id",
                    "must be at most 200 characters, without control characters",
                );
                None
            }
            Some(id) => Some(id.to_owned()),
        };
        let title = text(&mut p, "title", self.title.as_deref(), MAX_TITLE_CHARS);
        let severity = match self.severity.as_deref().map(str::trim_ascii) {
            None | Some("") => {
                p.add("severity", "is required");
                None
            }
            Some(raw) => Severity::parse(raw).or_else(|| {
                p.add(
                    "severity",
                    "must be critical, high, medium or low (or P1–P5)",
                );
                None
            }),
        };
        let state = match self.state.as_deref().map(str::trim_ascii) {
            None | Some("") => Some(IncidentState::Open),
            Some(raw) => IncidentState::parse(raw).or_else(|| {
                p.add("state", "must be open, acknowledged or resolved");
                None
            }),
        };
        let services = names(&mut p, "services", self.services.as_deref(), |raw| {
            ServiceName::parse(raw).map_err(|e| e.to_string())
        });
        let environments = names(
            &mut p,
            "environments",
            self.environments.as_deref(),
            |raw| EnvironmentName::parse(raw).map_err(|e| e.to_string()),
        );
        let at = match self.at.as_deref().map(str::trim_ascii) {
            None => Some(now),
            Some(raw) => match DateTime::parse_from_rfc3339(raw) {
                Ok(t) if t.with_timezone(&Utc) <= now + Duration::minutes(5) => {
                    Some(t.with_timezone(&Utc))
                }
                Ok(_) => {
                    p.add("at", "must not be in the future");
                    None
                }
                Err(_) => {
                    p.add(
                        "at",
                        "must be an RFC 3339 time such as 2026-12-01T09:00:00Z",
                    );
                    None
                }
            },
        };
        let link = link(&mut p, "url", self.url.as_deref());
        match (external_id, title, severity, state, at) {
            (Some(external_id), Some(title), Some(severity), Some(state), Some(at))
                if p.is_empty() =>
            {
                Ok(IncidentReport {
                    source,
                    external_id,
                    title,
                    severity,
                    state,
                    services,
                    environments,
                    at: to_stored_precision(at),
                    link,
                })
            }
            _ => Err(p.into_errors()),
        }
    }
}

/// A required line of text: trimmed, non-empty, at most `max` characters, no control
/// characters.
fn text(p: &mut Problems, field: &str, raw: Option<&str>, max: usize) -> Option<String> {
    match raw.map(str::trim) {
        None | Some("") => {
            p.add(field, "is required");
            None
        }
        Some(t) if t.chars().count() > max => {
            p.add(field, format!("must be at most {max} characters"));
            None
        }
        Some(t) if t.chars().any(char::is_control) => {
            p.add(field, "must be one line, without control characters");
            None
        }
        Some(t) => Some(t.to_owned()),
    }
}

/// An optional http(s) link.
fn link(p: &mut Problems, field: &str, raw: Option<&str>) -> Option<String> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    let web = raw.starts_with("https://") || raw.starts_with("http://");
    if !web || raw.chars().count() > MAX_LINK_CHARS || raw.chars().any(char::is_whitespace) {
        p.add(field, "must be an http(s) link of at most 2000 characters");
        return None;
    }
    Some(raw.to_owned())
}

/// A list of names, each parsed; repeats are dropped.
fn names<T: PartialEq>(
    p: &mut Problems,
    field: &str,
    raw: Option<&[String]>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Vec<T> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_INCIDENT_PLACES {
        p.add(field, format!("must name at most {MAX_INCIDENT_PLACES}"));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (index, name) in raw.iter().enumerate() {
        match parse(name) {
            Ok(name) if !out.contains(&name) => out.push(name),
            Ok(_) => {}
            Err(message) => p.add(format!("{field}[{index}]"), message),
        }
    }
    out
}

/// PagerDuty's v3 webhook body: one event. Only incident events are read; unknown
/// fields are ignored (PagerDuty adds some).
#[derive(Debug, Clone, Deserialize)]
pub struct PagerDutyWebhook {
    pub event: PagerDutyEvent,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PagerDutyEvent {
    pub id: String,
    pub event_type: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl PagerDutyWebhook {
    /// The report this event makes, or `None` for an event that changes no
    /// incident's state (a note, a responder, a service). The incident's service is
    /// PagerDuty's service name made a Houston name (`API Service` → `api-service`);
    /// PagerDuty has no environments, so the incident is placed in `environment`.
    pub fn report(&self, environment: &EnvironmentName) -> Result<Option<IncidentReport>, String> {
        let event = &self.event;
        if event
            .resource_type
            .as_deref()
            .is_some_and(|r| r != "incident")
            || event.data.get("type").and_then(|t| t.as_str()) != Some("incident")
        {
            return Ok(None);
        }
        let data = &event.data;
        let field = |name: &str| data.get(name).and_then(|v| v.as_str());
        let state = match event.event_type.as_str() {
            "incident.triggered" | "incident.reopened" | "incident.unacknowledged" => {
                IncidentState::Open
            }
            "incident.acknowledged" => IncidentState::Acknowledged,
            "incident.resolved" => IncidentState::Resolved,
            _ => match field("status").and_then(IncidentState::parse) {
                Some(state) => state,
                None => return Ok(None),
            },
        };
        let id = field("id").ok_or("event.data.id is missing")?;
        let title = field("title").unwrap_or("PagerDuty incident").trim();
        let priority = data
            .get("priority")
            .and_then(|p| p.get("summary"))
            .and_then(|s| s.as_str())
            .and_then(Severity::parse);
        let severity = priority.unwrap_or(match field("urgency") {
            Some("low") => Severity::Low,
            _ => Severity::High,
        });
        let service = data
            .get("service")
            .and_then(|s| s.get("summary"))
            .and_then(|s| s.as_str())
            .and_then(|name| ServiceName::parse(&slug(name)).ok());
        let title: String = title
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_TITLE_CHARS)
            .collect();
        Ok(Some(IncidentReport {
            source: IncidentSource::Pagerduty,
            external_id: id.chars().take(MAX_ID_CHARS).collect(),
            title: if title.is_empty() {
                "PagerDuty incident".into()
            } else {
                title
            },
            severity,
            state,
            services: service.into_iter().collect(),
            environments: vec![environment.clone()],
            at: to_stored_precision(event.occurred_at),
            link: field("html_url")
                .filter(|l| l.starts_with("https://") && l.len() <= MAX_LINK_CHARS)
                .map(str::to_owned),
        }))
    }
}

/// A display name as a Houston name: lower case, runs of anything but letters,
/// digits, `.` and `_` as one `-`, at most 64 characters.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(64).collect()
}

/// How bad an alert says it is, from its `severity` label: Houston's names, `P1`–`P5`
/// and `SEV1`–`SEV4`, or Alertmanager's usual `page`/`error` (high), `warning`
/// (medium) and `info` (low).
pub fn alert_severity(label: &str) -> Option<Severity> {
    Severity::parse(label).or_else(|| match label.trim().to_ascii_lowercase().as_str() {
        "page" | "error" => Some(Severity::High),
        "warning" | "warn" => Some(Severity::Medium),
        "info" | "none" => Some(Severity::Low),
        _ => None,
    })
}

/// The incident an Alertmanager alert is, when its `severity` label is at least
/// `at_least`: one incident per firing (its fingerprint and start), opened when it
/// fires and resolved when it resolves, on the alert's service and environment,
/// titled by its name and summary, linked to its source.
pub fn incident_from_alert(
    alert: &super::alerts::AlertReport,
    at_least: Severity,
) -> Option<IncidentReport> {
    let severity = alert
        .labels
        .get("severity")
        .and_then(|s| alert_severity(s))?;
    if severity < at_least {
        return None;
    }
    let resolved = alert.state == super::alerts::AlertState::Resolved;
    let title = match alert.annotations.get("summary").map(|s| s.trim()) {
        Some(summary) if !summary.is_empty() => format!("{}: {summary}", alert.name),
        _ => alert.name.clone(),
    };
    Some(IncidentReport {
        source: IncidentSource::Alertmanager,
        external_id: format!("{}@{}", alert.fingerprint, alert.starts_at.to_rfc3339()),
        title: title.chars().take(MAX_TITLE_CHARS).collect(),
        severity,
        state: if resolved {
            IncidentState::Resolved
        } else {
            IncidentState::Open
        },
        services: alert.service.iter().cloned().collect(),
        environments: alert.environment.iter().cloned().collect(),
        at: to_stored_precision(match (resolved, alert.ends_at) {
            (true, Some(ended)) => ended,
            _ => alert.starts_at,
        }),
        link: alert.generator_url.clone().filter(|u| {
            (u.starts_with("https://") || u.starts_with("http://"))
                && u.chars().count() <= MAX_LINK_CHARS
        }),
    })
}

/// What a report did to the incident it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentChange {
    Opened,
    Acknowledged,
    Resolved,
    /// Resolved before, open (or acknowledged) again.
    Reopened,
    /// The state it was already in: title, severity and places may still be updated.
    Unchanged,
}

impl IncidentChange {
    /// The change from `was` (none: a new incident) to `now`.
    pub fn of(was: Option<IncidentState>, now: IncidentState) -> IncidentChange {
        use IncidentState::{Acknowledged, Open, Resolved};
        match (was, now) {
            (None, _) => IncidentChange::Opened,
            (Some(was), now) if was == now => IncidentChange::Unchanged,
            (Some(Resolved), Open | Acknowledged) => IncidentChange::Reopened,
            (Some(_), Resolved) => IncidentChange::Resolved,
            (Some(_), Acknowledged) => IncidentChange::Acknowledged,
            // Unacknowledged: open again, not a new incident.
            (Some(Acknowledged), Open) => IncidentChange::Unchanged,
            (Some(_), Open) => IncidentChange::Unchanged,
        }
    }

    /// The audit log's action for it; none for a repeat.
    pub fn audited_as(self) -> Option<&'static str> {
        match self {
            IncidentChange::Opened => Some("incident.open"),
            IncidentChange::Acknowledged => Some("incident.acknowledge"),
            IncidentChange::Resolved => Some("incident.resolve"),
            IncidentChange::Reopened => Some("incident.reopen"),
            IncidentChange::Unchanged => None,
        }
    }
}

/// What the store holds around an incident, for ranking its suspects: error groups
/// first seen, and alerts started, in a window before it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentEvidence {
    /// (service, environment, first seen) of error groups.
    pub new_error_groups: Vec<(ServiceName, EnvironmentName, DateTime<Utc>)>,
    /// (service, started) of alerts; an alert placed on no service counts for none.
    pub alerts: Vec<(Option<ServiceName>, DateTime<Utc>)>,
}

/// Each deploy's facts: error groups of its place first seen after it went out and
/// before the next deploy there (or the incident), and alerts on its service that
/// started in that span.
pub fn suspect_facts(
    incident: &Incident,
    deploys: Vec<Deploy>,
    evidence: &IncidentEvidence,
) -> Vec<SuspectFacts> {
    let went_out = |d: &Deploy| d.finished_at.unwrap_or(d.started_at);
    let next = |d: &Deploy| {
        deploys
            .iter()
            .filter(|o| {
                o.service == d.service
                    && o.environment == d.environment
                    && o.started_at > d.started_at
            })
            .map(|o| o.started_at)
            .min()
    };
    let until = |d: &Deploy| next(d).map_or(incident.opened_at, |n| n.min(incident.opened_at));
    let facts: Vec<SuspectFacts> = deploys
        .iter()
        .map(|d| {
            let (from, to) = (d.started_at, until(d));
            let new_error_groups = evidence
                .new_error_groups
                .iter()
                .filter(|(s, e, at)| {
                    *s == d.service && *e == d.environment && *at >= from && *at <= to
                })
                .count();
            let alerts_after = evidence
                .alerts
                .iter()
                .filter(|(s, at)| {
                    s.as_ref() == Some(&d.service) && *at >= went_out(d).min(from) && *at <= to
                })
                .count();
            SuspectFacts {
                deploy: d.clone(),
                verdict: d
                    .verdict
                    .as_ref()
                    .map(|v| v.override_state.unwrap_or(v.state)),
                new_error_groups: u32::try_from(new_error_groups).unwrap_or(u32::MAX),
                alerts_after: u32::try_from(alerts_after).unwrap_or(u32::MAX),
                superseded: next(d).is_some_and(|n| n <= incident.opened_at),
            }
        })
        .collect();
    facts
}

/// A person's word on a suspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CauseDecision {
    /// This deploy caused the incident.
    Confirmed,
    /// It did not.
    Rejected,
}

impl CauseDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            CauseDecision::Confirmed => "confirmed",
            CauseDecision::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<CauseDecision> {
        match raw.trim_ascii() {
            "confirmed" => Some(CauseDecision::Confirmed),
            "rejected" => Some(CauseDecision::Rejected),
            _ => None,
        }
    }

    /// The audit log's action for it.
    pub fn audited_as(self) -> &'static str {
        match self {
            CauseDecision::Confirmed => "incident.cause_confirm",
            CauseDecision::Rejected => "incident.cause_reject",
        }
    }
}

/// The body of `POST /api/v1/incidents/{id}/suspects/{deploy_id}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CauseRequest {
    /// `confirmed` (this deploy caused the incident) or `rejected`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, pattern = "^[ \\t\\n\\f\\r]*(confirmed|rejected)[ \\t\\n\\f\\r]*$"))]
    pub decision: Option<String>,
    /// Why (optional; one line).
    #[cfg_attr(feature = "openapi", schema(max_length = 4096))]
    pub note: Option<String>,
}

impl CauseRequest {
    pub fn parse(&self) -> Result<(CauseDecision, Option<String>), ValidationErrors> {
        let mut p = Problems::default();
        let decision = match self.decision.as_deref() {
            None => {
                p.add("decision", "is required: confirmed or rejected");
                None
            }
            Some(raw) => CauseDecision::parse(raw).or_else(|| {
                p.add("decision", "must be confirmed or rejected");
                None
            }),
        };
        let note = super::locks::parse_note(&mut p, "note", self.note.as_deref());
        match decision {
            Some(decision) if p.is_empty() => Ok((decision, note)),
            _ => Err(p.into_errors()),
        }
    }
}

/// A person's word on one suspect of one incident, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentCause {
    pub incident_id: i64,
    pub deploy_id: DeployId,
    pub decision: CauseDecision,
    pub note: Option<String>,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

/// A person's word goes first: the confirmed cause leads, the rejected follow the
/// rest, the judge's order kept within each.
pub fn order_by_decisions(suspects: &mut [Suspect]) {
    suspects.sort_by_key(|s| match s.cause {
        Some(CauseDecision::Confirmed) => 0,
        None => 1,
        Some(CauseDecision::Rejected) => 2,
    });
}

/// How far before an incident opened a deploy is suspected, by default.
pub const SUSPECT_WINDOW: Duration = Duration::hours(6);

/// What Houston knows of one deploy before an incident, for ranking it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspectFacts {
    pub deploy: Deploy,
    /// Its verdict as it stands (a lead's override, else the judge's).
    pub verdict: Option<VerdictState>,
    /// Error groups first seen in its place after it went out and before the next
    /// deploy there (or the incident).
    pub new_error_groups: u32,
    /// Alerts on its service that started after it went out and before the incident.
    pub alerts_after: u32,
    /// Another deploy replaced it in its place before the incident opened.
    pub superseded: bool,
}

/// A deploy suspected of causing an incident, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suspect {
    pub deploy_id: DeployId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub service: ServiceName,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub environment: EnvironmentName,
    pub version: String,
    pub deployed_at: DateTime<Utc>,
    /// Higher is more suspect; only the order means anything.
    pub score: f64,
    /// The evidence, most telling first, in words.
    pub reasons: Vec<String>,
    /// A person's word on it, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<CauseDecision>,
}

/// Ranks the deploys before an incident, most suspect first. A deploy that went out
/// to a place the incident touches weighs most; then how close before the incident
/// it went out (halving every hour); then what its place showed after it: an
/// unhealthy or ailing verdict, new error groups, alerts on its service; a deploy a
/// later one replaced before the incident weighs less. A deploy
/// after the incident opened, outside `window` before it, or that did not go out
/// (failed, rolled back before it finished) is no suspect.
pub fn rank_suspects(
    incident: &Incident,
    window: Duration,
    candidates: Vec<SuspectFacts>,
) -> Vec<Suspect> {
    let opened = incident.opened_at;
    let mut suspects: Vec<Suspect> = candidates
        .into_iter()
        .filter_map(|facts| {
            let deploy = &facts.deploy;
            let at = deploy.finished_at.unwrap_or(deploy.started_at);
            if deploy.started_at > opened || opened - deploy.started_at > window {
                return None;
            }
            if matches!(deploy.status, DeployStatus::Failed) {
                return None;
            }
            let mut score = 0.0;
            let mut reasons: Vec<(f64, String)> = Vec::new();
            if incident.touches(&deploy.service, &deploy.environment) {
                score += 4.0;
                reasons.push((
                    4.0,
                    format!(
                        "deployed to {} in {}, where the incident is",
                        deploy.service, deploy.environment
                    ),
                ));
            } else if incident.environments.contains(&deploy.environment) {
                score += 1.0;
                reasons.push((
                    1.0,
                    format!("deployed to {}, where the incident is", deploy.environment),
                ));
            }
            let gap = (opened - at).max(Duration::zero());
            let hours = gap.num_seconds() as f64 / 3600.0;
            let closeness = 3.0 * 0.5_f64.powf(hours);
            score += closeness;
            reasons.push((
                closeness,
                format!("went out {} before the incident opened", words(gap)),
            ));
            match facts.verdict {
                Some(VerdictState::Unhealthy) => {
                    score += 3.0;
                    reasons.push((3.0, "its verdict is unhealthy".into()));
                }
                Some(VerdictState::Ailing) => {
                    score += 1.5;
                    reasons.push((1.5, "its verdict is ailing".into()));
                }
                Some(VerdictState::CantTell) => {
                    score += 0.5;
                    reasons.push((0.5, "the judge could not tell whether it regressed".into()));
                }
                _ => {}
            }
            if facts.new_error_groups > 0 {
                let weight = 2.0_f64.min(1.0 + 0.25 * f64::from(facts.new_error_groups));
                score += weight;
                reasons.push((
                    weight,
                    plural(
                        facts.new_error_groups,
                        "new error group",
                        "new error groups",
                    ) + " appeared after it",
                ));
            }
            if facts.alerts_after > 0 {
                let weight = 1.5_f64.min(0.75 + 0.25 * f64::from(facts.alerts_after));
                score += weight;
                reasons.push((
                    weight,
                    plural(facts.alerts_after, "alert", "alerts")
                        + " on its service started after it",
                ));
            }
            if matches!(deploy.status, DeployStatus::RolledBack) {
                score += 0.5;
                reasons.push((0.5, "it was rolled back".into()));
            }
            if facts.superseded {
                score -= 2.0;
                reasons.push((
                    -2.0,
                    "a later deploy replaced it there before the incident".into(),
                ));
            }
            reasons.sort_by(|a, b| b.0.total_cmp(&a.0));
            Some(Suspect {
                deploy_id: deploy.id,
                service: deploy.service.clone(),
                environment: deploy.environment.clone(),
                version: deploy.version.clone(),
                deployed_at: at,
                score,
                reasons: reasons.into_iter().map(|(_, r)| r).collect(),
                cause: None,
            })
        })
        .collect();
    suspects.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.deployed_at.cmp(&a.deployed_at))
            .then(b.deploy_id.cmp(&a.deploy_id))
    });
    suspects
}

/// One moment of an incident's story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `deploy`, `alert` or `incident`.
    pub kind: String,
    /// What happened, in words.
    pub what: String,
}

/// The incident's story in time order: the deploys and alerts of the window before
/// it and during it, and the incident's own opening, acknowledgement and resolution.
pub fn incident_timeline(
    incident: &Incident,
    deploys: &[Deploy],
    alerts: &[super::alerts::Alert],
) -> Vec<TimelineEntry> {
    let entry = |at, kind: &str, what: String| TimelineEntry {
        at,
        kind: kind.to_owned(),
        what,
    };
    let mut entries: Vec<TimelineEntry> = Vec::new();
    for d in deploys {
        let verdict = d
            .verdict
            .as_ref()
            .map(|v| format!("; verdict {}", v.shown_state().as_str()))
            .unwrap_or_default();
        entries.push(entry(
            d.finished_at.unwrap_or(d.started_at),
            "deploy",
            format!(
                "deploy #{} of {} {} to {} ({}{verdict})",
                d.id,
                d.service,
                d.version,
                d.environment,
                d.status.as_str()
            ),
        ));
    }
    for a in alerts {
        let place = a
            .service
            .as_ref()
            .map(|s| format!(" on {s}"))
            .unwrap_or_default();
        entries.push(entry(
            a.starts_at,
            "alert",
            format!("alert {} fired{place}", a.name),
        ));
        if let (super::alerts::AlertState::Resolved, Some(ended)) = (a.state, a.ends_at) {
            entries.push(entry(
                ended,
                "alert",
                format!("alert {} resolved{place}", a.name),
            ));
        }
    }
    entries.push(entry(
        incident.opened_at,
        "incident",
        format!(
            "incident {} opened: {} ({})",
            incident.id,
            incident.title,
            incident.severity.as_str()
        ),
    ));
    if let Some(at) = incident.acknowledged_at {
        entries.push(entry(
            at,
            "incident",
            format!("incident {} acknowledged", incident.id),
        ));
    }
    if let Some(at) = incident.resolved_at {
        entries.push(entry(
            at,
            "incident",
            format!("incident {} resolved", incident.id),
        ));
    }
    entries.sort_by_key(|e| e.at);
    entries
}

/// Text as Markdown shows it literally: its markup characters escaped.
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The incident, its suspects and its timeline as Markdown, ready to paste into a
/// postmortem. Times are UTC.
pub fn postmortem_markdown(
    incident: &Incident,
    suspects: &[Suspect],
    timeline: &[TimelineEntry],
) -> String {
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let mut md = format!(
        "# Incident {}: {}\n\n",
        incident.id,
        markdown_text(&incident.title)
    );
    md += &format!(
        "- Severity: {}; state: {}; from {}\n",
        incident.severity.as_str(),
        incident.state.as_str(),
        incident.source.as_str()
    );
    if let Some(link) = &incident.link {
        md += &format!("- Link: <{link}>\n");
    }
    let (services, environments) = incident.places_in_words();
    md += &format!("- Services: {services}; environments: {environments}\n");
    md += &format!(
        "- Opened {} by {}\n",
        time(incident.opened_at),
        markdown_text(&incident.opened_by)
    );
    if let Some(at) = incident.acknowledged_at {
        md += &format!("- Acknowledged {}\n", time(at));
    }
    if let Some(at) = incident.resolved_at {
        md += &format!("- Resolved {}\n", time(at));
    }
    md += "\n## Suspects\n\n";
    if suspects.is_empty() {
        md += "No deploy went out in the window before the incident.\n";
    }
    for (rank, s) in suspects.iter().enumerate() {
        md += &format!(
            "{}. Deploy #{}: {} {} to {}, went out {}\n",
            rank + 1,
            s.deploy_id,
            s.service,
            markdown_text(&s.version),
            s.environment,
            time(s.deployed_at)
        );
        for reason in &s.reasons {
            md += &format!("   - {}\n", markdown_text(reason));
        }
    }
    md += "\n## Timeline\n\n| time (UTC) | what |\n|---|---|\n";
    for e in timeline {
        md += &format!(
            "| {} | {} |\n",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            markdown_text(&e.what)
        );
    }
    md
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A gap in words: `4 min`, `2 h 10 min`.
fn words(gap: Duration) -> String {
    let minutes = gap.num_minutes();
    match (minutes / 60, minutes % 60) {
        (0, 0) => "under a minute".to_owned(),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

mod tools;
pub use tools::{IncidentIoWebhook, OpsgenieWebhook};

#[cfg(test)]
mod tests;

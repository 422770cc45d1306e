//! Incidents as incident.io's and Opsgenie's webhooks report them, read into an
//! [`IncidentReport`]. (PagerDuty's is [`super::PagerDutyWebhook`].) Their
//! signatures are checked by the server before a body is read.

use super::{
    EnvironmentName, IncidentReport, IncidentSource, IncidentState, MAX_ID_CHARS, MAX_LINK_CHARS,
    MAX_TITLE_CHARS, ServiceName, Severity, slug, to_stored_precision,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// A title as stored: one line, at most [`MAX_TITLE_CHARS`], else `fallback`.
fn title_of(raw: Option<&str>, fallback: &str) -> String {
    let title: String = raw
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE_CHARS)
        .collect();
    if title.is_empty() {
        fallback.to_owned()
    } else {
        title
    }
}

/// An https link of at most [`MAX_LINK_CHARS`].
fn https_link(raw: Option<&str>) -> Option<String> {
    raw.filter(|l| l.starts_with("https://") && l.chars().count() <= MAX_LINK_CHARS)
        .map(str::to_owned)
}

/// incident.io's webhook body: `{"event_type": T, T: {...}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct IncidentIoWebhook {
    pub event_type: String,
    #[serde(flatten)]
    pub objects: serde_json::Map<String, Value>,
}

/// How incident.io's status categories read: triage is open; live and paused are
/// being worked on (acknowledged); learning and closed, and an incident declined,
/// merged or cancelled, are over (resolved).
fn incident_io_state(category: &str) -> Option<IncidentState> {
    match category {
        "triage" => Some(IncidentState::Open),
        "live" | "active" | "paused" => Some(IncidentState::Acknowledged),
        "learning" | "post-incident" | "closed" | "declined" | "merged" | "canceled"
        | "cancelled" => Some(IncidentState::Resolved),
        _ => None,
    }
}

/// An incident.io severity's name as Houston's: the names Houston knows (and
/// `SEV1`…), else `major` (high) and `minor` (low); any other name is medium.
fn incident_io_severity(name: Option<&str>) -> Severity {
    let name = name.unwrap_or_default();
    Severity::parse(name).unwrap_or(match name.trim().to_ascii_lowercase().as_str() {
        "major" => Severity::High,
        "minor" => Severity::Low,
        _ => Severity::Medium,
    })
}

impl IncidentIoWebhook {
    /// The report of a public incident's creation, change or status change, placed
    /// in `environment`; `None` for other events (and private incidents, whose
    /// body holds only an id). Services come from a custom field named "Affected
    /// services" or "Services", when the incident has one.
    pub fn report(&self, environment: &EnvironmentName) -> Result<Option<IncidentReport>, String> {
        let kind = self.event_type.as_str();
        if !kind.starts_with("public_incident.incident_") {
            return Ok(None);
        }
        let Some(object) = self.objects.get(kind) else {
            return Err(format!("the body has no {kind:?} object"));
        };
        // A status change carries the incident beside its new status.
        let incident = object.get("incident").unwrap_or(object);
        let status = object
            .get("new_status")
            .or_else(|| incident.get("incident_status"));
        let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
        let id = text(incident, "id").ok_or("the incident has no id")?;
        let category = status
            .and_then(|s| s.get("category"))
            .and_then(Value::as_str)
            .ok_or("the incident has no status category")?;
        let Some(state) = incident_io_state(category) else {
            return Ok(None);
        };
        let at = ["updated_at", "created_at"]
            .iter()
            .filter_map(|name| text(incident, name))
            .find_map(|raw| DateTime::parse_from_rfc3339(&raw).ok())
            .ok_or("the incident has no time")?
            .with_timezone(&Utc);
        let services = incident
            .get("custom_field_entries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|entry| {
                entry
                    .pointer("/custom_field/name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| {
                        matches!(
                            n.trim().to_ascii_lowercase().as_str(),
                            "affected services" | "services" | "affected service" | "service"
                        )
                    })
            })
            .flat_map(|entry| {
                entry
                    .get("values")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|value| {
                value
                    .pointer("/value_catalog_entry/name")
                    .or_else(|| value.pointer("/value_option/value"))
                    .or_else(|| value.get("value_text"))
                    .and_then(Value::as_str)
                    .and_then(|name| ServiceName::parse(&slug(name)).ok())
            })
            .fold(Vec::new(), |mut all: Vec<ServiceName>, s| {
                if !all.contains(&s) {
                    all.push(s);
                }
                all
            });
        Ok(Some(IncidentReport {
            source: IncidentSource::IncidentIo,
            external_id: id.chars().take(MAX_ID_CHARS).collect(),
            title: title_of(
                incident.get("name").and_then(Value::as_str),
                "incident.io incident",
            ),
            severity: incident_io_severity(
                incident.pointer("/severity/name").and_then(Value::as_str),
            ),
            state,
            services,
            environments: vec![environment.clone()],
            at: to_stored_precision(at),
            link: https_link(incident.get("permalink").and_then(Value::as_str)),
        }))
    }
}

/// Opsgenie's outgoing webhook body: an alert action.
#[derive(Debug, Clone, Deserialize)]
pub struct OpsgenieWebhook {
    pub action: String,
    pub alert: Value,
}

impl OpsgenieWebhook {
    /// The report of an alert created, acknowledged, unacknowledged or closed, placed
    /// in `environment` and on the service its `entity` names (none: every
    /// service); `None` for other actions. Severity is the alert's priority (P1–P5)
    /// when the body carries it, else high: an alert that pages is an incident.
    pub fn report(
        &self,
        environment: &EnvironmentName,
        now: DateTime<Utc>,
    ) -> Result<Option<IncidentReport>, String> {
        let state = match self.action.as_str() {
            "Create" | "UnAcknowledge" => IncidentState::Open,
            "Acknowledge" => IncidentState::Acknowledged,
            "Close" => IncidentState::Resolved,
            _ => return Ok(None),
        };
        let alert = &self.alert;
        let text = |name: &str| alert.get(name).and_then(Value::as_str);
        let id = text("alertId").ok_or("alert.alertId is missing")?;
        // `updatedAt` counts nanoseconds, `createdAt` milliseconds.
        let at = alert
            .get("updatedAt")
            .and_then(Value::as_i64)
            .map(DateTime::from_timestamp_nanos)
            .or_else(|| {
                alert
                    .get("createdAt")
                    .and_then(Value::as_i64)
                    .and_then(DateTime::from_timestamp_millis)
            })
            .filter(|at| *at <= now)
            .unwrap_or(now);
        let service = text("entity")
            .map(slug)
            .and_then(|name| ServiceName::parse(&name).ok());
        Ok(Some(IncidentReport {
            source: IncidentSource::Opsgenie,
            external_id: id.chars().take(MAX_ID_CHARS).collect(),
            title: title_of(text("message"), "Opsgenie alert"),
            severity: text("priority")
                .and_then(Severity::parse)
                .unwrap_or(Severity::High),
            state,
            services: service.into_iter().collect(),
            environments: vec![environment.clone()],
            at: to_stored_precision(at),
            link: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> EnvironmentName {
        EnvironmentName::parse("production").expect("a name")
    }

    fn fixture(path: &str) -> String {
        let file = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
        #[allow(clippy::disallowed_methods)]
        let text = std::fs::read_to_string(&file);
        text.unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn incident_ios_documented_events_read_as_reports() {
        for file in [
            "incidentio/incident_created_v2.json",
            "incidentio/incident_updated_v2.json",
            "incidentio/incident_status_updated_v2.json",
        ] {
            let hook: IncidentIoWebhook =
                serde_json::from_str(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            let report = hook
                .report(&production())
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .unwrap_or_else(|| panic!("{file}: a report"));
            assert_eq!(report.source, IncidentSource::IncidentIo);
            assert_eq!(report.external_id, "01FDAG4SAP5TYPT98WGR2N7W91", "{file}");
            assert_eq!(report.title, "Our database is sad", "{file}");
            assert_eq!(report.severity, Severity::Low, "{file}: severity Minor");
            assert_eq!(report.state, IncidentState::Open, "{file}: category triage");
            assert_eq!(report.environments, [production()]);
            assert_eq!(
                report.link.as_deref(),
                Some("https://app.incident.io/incidents/123")
            );
        }
        let private: IncidentIoWebhook =
            serde_json::from_str(&fixture("incidentio/private_incident_created_v2.json"))
                .expect("decodes");
        assert_eq!(private.report(&production()), Ok(None));
    }

    #[test]
    fn incident_io_statuses_and_affected_services() {
        let body = serde_json::json!({
            "event_type": "public_incident.incident_updated_v2",
            "public_incident.incident_updated_v2": {
                "id": "01H", "name": "Checkout down", "updated_at": "2026-12-07T11:00:00Z",
                "severity": {"name": "Critical"},
                "incident_status": {"category": "closed"},
                "custom_field_entries": [{
                    "custom_field": {"name": "Affected services"},
                    "values": [{"value_catalog_entry": {"name": "Checkout API"}},
                               {"value_option": {"value": "cart"}}]
                }]
            }
        });
        let hook: IncidentIoWebhook = serde_json::from_value(body).expect("decodes");
        let report = hook
            .report(&production())
            .expect("valid")
            .expect("a report");
        assert_eq!(report.state, IncidentState::Resolved);
        assert_eq!(report.severity, Severity::Critical);
        let names: Vec<&str> = report.services.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["checkout-api", "cart"]);
        for (category, state) in [
            ("triage", Some(IncidentState::Open)),
            ("live", Some(IncidentState::Acknowledged)),
            ("learning", Some(IncidentState::Resolved)),
            ("declined", Some(IncidentState::Resolved)),
            ("something-new", None),
        ] {
            assert_eq!(incident_io_state(category), state, "{category}");
        }
        let other: IncidentIoWebhook = serde_json::from_value(serde_json::json!({
            "event_type": "public_incident.follow_up_created_v1",
            "public_incident.follow_up_created_v1": {"id": "x"}
        }))
        .expect("decodes");
        assert_eq!(
            other.report(&production()),
            Ok(None),
            "not an incident's event"
        );
    }

    #[test]
    fn opsgenies_documented_actions_read_as_reports() {
        let create: OpsgenieWebhook =
            serde_json::from_str(&fixture("opsgenie/create.json")).expect("decodes");
        let report = create
            .report(&production(), now())
            .expect("valid")
            .expect("a report");
        assert_eq!(report.source, IncidentSource::Opsgenie);
        assert_eq!(report.external_id, "052652ac-5d1c-464a-812a-7dd18bbfba8c");
        assert_eq!(report.title, "test alert", "trimmed");
        assert_eq!(report.state, IncidentState::Open);
        assert_eq!(report.severity, Severity::High, "no priority in the body");
        assert!(
            report.services.is_empty(),
            "an empty entity names no service"
        );
        // updatedAt 1420452193166002000 ns: 2015-01-05 10:03:13.166 UTC.
        assert_eq!(
            report.at,
            to_stored_precision(DateTime::from_timestamp_nanos(1_420_452_193_166_002_000))
        );
        let acknowledge: OpsgenieWebhook =
            serde_json::from_str(&fixture("opsgenie/acknowledge.json")).expect("decodes");
        let report = acknowledge
            .report(&production(), now())
            .expect("valid")
            .expect("a report");
        assert_eq!(report.state, IncidentState::Acknowledged);
        assert_eq!(report.external_id, "052652ac-5d1c-464a-812a-7dd18bbfba8c");

        let close = OpsgenieWebhook {
            action: "Close".into(),
            alert: serde_json::json!({"alertId": "a1", "message": "x", "entity": "Checkout",
                "priority": "P2", "updatedAt": 1_765_000_000_000_000_000_i64}),
        };
        let report = close
            .report(&production(), now())
            .expect("valid")
            .expect("a report");
        assert_eq!(report.state, IncidentState::Resolved);
        assert_eq!(report.severity, Severity::High);
        assert_eq!(report.services[0].as_str(), "checkout");
        let note = OpsgenieWebhook {
            action: "AddNote".into(),
            alert: serde_json::json!({"alertId": "a1"}),
        };
        assert_eq!(note.report(&production(), now()), Ok(None));
        let broken = OpsgenieWebhook {
            action: "Create".into(),
            alert: serde_json::json!({}),
        };
        assert!(broken.report(&production(), now()).is_err());
    }
}

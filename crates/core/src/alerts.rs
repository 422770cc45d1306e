//! Alerts from Alertmanager's webhook (payload version 4): what it sends, how an
//! alert is placed on a service and an environment, and the alerts read back.

use super::deploy::{Problems, ValidationErrors, to_stored_precision};
use super::names::{EnvironmentName, ServiceName};
use super::signals::clip;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most alerts one notification may carry (Alertmanager's `max_alerts`
/// truncates long groups itself; this bounds what one request can make us store).
pub const MAX_ALERTS_PER_NOTIFICATION: usize = 1000;
const MAX_LABELS: usize = 64;
const MAX_LABEL_TEXT: usize = 4096;

/// Whether an alert is still on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim_ascii() {
            "firing" => Some(AlertState::Firing),
            "resolved" => Some(AlertState::Resolved),
            _ => None,
        }
    }
}

/// Alertmanager's webhook body (version 4). Unknown fields are ignored: Alertmanager
/// may add some, and refusing its notifications would lose alerts.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerNotification {
    /// `"4"`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[ \\t\\n\\f\\r]*4[ \\t\\n\\f\\r]*$")
    )]
    pub version: String,
    #[serde(default)]
    pub group_key: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub receiver: Option<String>,
    /// Alertmanager's own address, for links.
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    #[serde(deserialize_with = "super::bounded::counted")]
    pub alerts: Vec<AlertmanagerAlert>,
}

/// Read as it arrives: refused at the first alert past the limit.
impl super::bounded::CountedBody for AlertmanagerNotification {
    const MAX_ITEMS: usize = MAX_ALERTS_PER_NOTIFICATION;
}

/// One alert in a notification.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    /// `firing` or `resolved`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[ \\t\\n\\f\\r]*(firing|resolved)[ \\t\\n\\f\\r]*$")
    )]
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub starts_at: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` while an alert fires without an end.
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    /// Alertmanager's hash of the labels: with `startsAt`, names one firing.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[ \\t\\n\\f\\r]*[^ \\t\\n\\f\\r][\\s\\S]{0,199}$")
    )]
    pub fingerprint: String,
}

/// Which labels name an alert's service and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLabels {
    pub service: String,
    pub environment: String,
}

impl Default for AlertLabels {
    fn default() -> Self {
        Self {
            service: "service".into(),
            environment: "environment".into(),
        }
    }
}

/// An alert's state as one notification tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertReport {
    pub fingerprint: String,
    pub starts_at: DateTime<Utc>,
    /// Set when resolved (Alertmanager's zero time means none).
    pub ends_at: Option<DateTime<Utc>>,
    pub state: AlertState,
    /// The `alertname` label.
    pub name: String,
    /// From the configured labels, when they hold valid names.
    pub service: Option<ServiceName>,
    pub environment: Option<EnvironmentName>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub generator_url: Option<String>,
}

impl AlertmanagerNotification {
    /// Every alert of the notification, or every problem with it (nothing is stored
    /// then: Alertmanager retries, and a fixed receiver gets the alerts).
    pub fn parse(&self, labels: &AlertLabels) -> Result<Vec<AlertReport>, ValidationErrors> {
        let mut p = Problems::capped(100, "alerts");
        if self.version.trim_ascii() != "4" {
            p.add(
                "version",
                format!(
                    "Houston reads Alertmanager's webhook version 4, got {}",
                    clip(&self.version)
                ),
            );
            return Err(p.into_errors());
        }
        if self.alerts.len() > MAX_ALERTS_PER_NOTIFICATION {
            p.add(
                "alerts",
                format!("at most {MAX_ALERTS_PER_NOTIFICATION} alerts per notification"),
            );
            return Err(p.into_errors());
        }
        let reports: Vec<AlertReport> = self
            .alerts
            .iter()
            .enumerate()
            .filter_map(|(i, alert)| alert.parse(&mut p, i, labels))
            .collect();
        if p.is_empty() {
            Ok(reports)
        } else {
            Err(p.into_errors())
        }
    }
}

impl AlertmanagerAlert {
    fn parse(&self, p: &mut Problems, i: usize, labels: &AlertLabels) -> Option<AlertReport> {
        let at = |field: &str| format!("alerts[{i}].{field}");
        let state = AlertState::parse(&self.status);
        if state.is_none() {
            p.add(
                at("status"),
                format!("must be firing or resolved, got {}", clip(&self.status)),
            );
        }
        let fingerprint = self.fingerprint.trim_ascii();
        if fingerprint.is_empty() || fingerprint.len() > 200 {
            p.add(at("fingerprint"), "must hold 1 to 200 characters");
        }
        let starts_at = time(&self.starts_at);
        if starts_at.is_none() {
            p.add(
                at("startsAt"),
                format!("must be an RFC 3339 time, got {}", clip(&self.starts_at)),
            );
        }
        let ends_at = match self.ends_at.as_deref() {
            None => Some(None),
            Some(raw) => match time(raw) {
                // Alertmanager's zero time: no end.
                Some(t) if t.timestamp() <= 0 => Some(None),
                Some(t) => Some(Some(t)),
                None => {
                    p.add(
                        at("endsAt"),
                        format!("must be an RFC 3339 time, got {}", clip(raw)),
                    );
                    None
                }
            },
        };
        if self.labels.len() + self.annotations.len() > MAX_LABELS
            || self
                .labels
                .iter()
                .chain(&self.annotations)
                .any(|(k, v)| k.len() + v.len() > MAX_LABEL_TEXT)
        {
            p.add(
                at("labels"),
                format!(
                    "at most {MAX_LABELS} labels and annotations of at most {MAX_LABEL_TEXT} bytes each"
                ),
            );
            return None;
        }
        let generator_url = self
            .generator_url
            .as_deref()
            .map(str::trim_ascii)
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .map(str::to_owned);
        let label = |name: &str| self.labels.get(name).map(String::as_str);
        Some(AlertReport {
            fingerprint: fingerprint.to_owned(),
            starts_at: starts_at?,
            ends_at: ends_at?,
            state: state?,
            name: label("alertname").unwrap_or("(unnamed)").to_owned(),
            service: label(&labels.service).and_then(|v| ServiceName::parse(v).ok()),
            environment: label(&labels.environment).and_then(|v| EnvironmentName::parse(v).ok()),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            generator_url,
        })
    }
}

fn time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim_ascii())
        .ok()
        .map(|t| to_stored_precision(t.with_timezone(&Utc)))
}

/// An alert as Houston keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    pub id: i64,
    pub fingerprint: String,
    pub name: String,
    pub state: AlertState,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub service: Option<ServiceName>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub environment: Option<EnvironmentName>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The alert's source (Prometheus' graph of its expression).
    pub generator_url: Option<String>,
    /// Who sent the resolution (`token:alertmanager`), while it is resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    /// When Houston last heard of it.
    pub updated_at: DateTime<Utc>,
}

/// A firing alert as mission control shows it: its name, where it fires, and a
/// link to its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FiringAlert {
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub service: Option<ServiceName>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub environment: Option<EnvironmentName>,
    /// The `summary` annotation, when there is one.
    pub summary: Option<String>,
    pub url: Option<String>,
}

impl From<Alert> for FiringAlert {
    fn from(alert: Alert) -> Self {
        Self {
            summary: alert.annotations.get("summary").cloned(),
            name: alert.name,
            service: alert.service,
            environment: alert.environment,
            url: alert.generator_url,
        }
    }
}

/// The query string of `GET /api/v1/alerts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AlertsQuery {
    /// firing or resolved; both when absent.
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*(firing|resolved)?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub state: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63})?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub service: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63})?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub environment: Option<String>,
}

/// Which alerts to list (newest first, at most [`MAX_ALERTS_LISTED`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub state: Option<AlertState>,
    pub service: Option<ServiceName>,
    pub environment: Option<EnvironmentName>,
}

/// The most alerts one listing answers.
pub const MAX_ALERTS_LISTED: u32 = 500;

impl AlertsQuery {
    pub fn parse(&self) -> Result<AlertFilter, ValidationErrors> {
        let mut p = Problems::default();
        let blank = |raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim_ascii)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        };
        let state = blank(&self.state).and_then(|raw| {
            let state = AlertState::parse(&raw);
            if state.is_none() {
                p.add("state", "must be firing or resolved");
            }
            state
        });
        let service =
            blank(&self.service).and_then(|raw| p.name("service", Some(&raw), ServiceName::parse));
        let environment = blank(&self.environment)
            .and_then(|raw| p.name("environment", Some(&raw), EnvironmentName::parse));
        if p.is_empty() {
            Ok(AlertFilter {
                state,
                service,
                environment,
            })
        } else {
            Err(p.into_errors())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRING: &str = r#"{
      "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "truncatedAlerts": 0,
      "status": "firing", "receiver": "houston", "groupLabels": {"alertname": "HighErrorRate"},
      "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
      "alerts": [
        {"status": "firing",
         "labels": {"alertname": "HighErrorRate", "service": "checkout", "env": "production", "severity": "page"},
         "annotations": {"summary": "5xx over 2%"},
         "startsAt": "2026-11-22T10:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus:9090/graph?g0.expr=x", "fingerprint": "c0ffee"},
        {"status": "resolved", "labels": {"alertname": "Other", "service": "not a name"},
         "annotations": {}, "startsAt": "2026-11-22T09:00:00Z", "endsAt": "2026-11-22T09:30:00Z",
         "generatorURL": "javascript:alert(1)", "fingerprint": "beef"}
      ]}"#;

    #[test]
    fn alerts_are_placed_by_the_configured_labels() {
        let notification: AlertmanagerNotification = serde_json::from_str(FIRING).expect("decodes");
        let labels = AlertLabels {
            environment: "env".into(),
            ..AlertLabels::default()
        };
        let reports = notification.parse(&labels).expect("valid");
        assert_eq!(reports.len(), 2);
        let first = &reports[0];
        assert_eq!(first.state, AlertState::Firing);
        assert_eq!(first.name, "HighErrorRate");
        assert_eq!(
            first.service.as_ref().map(ServiceName::as_str),
            Some("checkout")
        );
        assert_eq!(
            first.environment.as_ref().map(EnvironmentName::as_str),
            Some("production")
        );
        assert_eq!(first.ends_at, None, "the zero time means no end");
        assert_eq!(first.starts_at.timestamp_subsec_micros(), 123_456);
        let second = &reports[1];
        assert_eq!(second.state, AlertState::Resolved);
        assert_eq!(
            second.service, None,
            "a label that is no name places nothing"
        );
        assert!(second.ends_at.is_some());
        assert_eq!(second.generator_url, None, "only http(s) links are kept");
    }

    #[test]
    fn a_bad_notification_names_its_problems() {
        let mut notification: AlertmanagerNotification =
            serde_json::from_str(FIRING).expect("decodes");
        notification.alerts[0].status = "pending".into();
        notification.alerts[1].starts_at = "yesterday".into();
        let err = notification
            .parse(&AlertLabels::default())
            .expect_err("refused");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["alerts[0].status", "alerts[1].startsAt"]);
        notification.version = "3".into();
        let err = notification
            .parse(&AlertLabels::default())
            .expect_err("refused");
        assert_eq!(err.0[0].field, "version");
    }

    #[test]
    fn the_listing_filter_parses() {
        let filter = AlertsQuery {
            state: Some(" firing ".into()),
            service: Some("".into()),
            environment: Some("production".into()),
        }
        .parse()
        .expect("valid");
        assert_eq!(filter.state, Some(AlertState::Firing));
        assert_eq!(filter.service, None);
        assert!(
            AlertsQuery {
                state: Some("open".into()),
                ..AlertsQuery::default()
            }
            .parse()
            .is_err()
        );
    }
}

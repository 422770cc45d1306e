//! Error events pushed by callers (`POST /api/v1/errors`) and the error groups read
//! back. An event stands for `count` occurrences of one error (its fingerprint) at
//! one time; the caller passes `now` and the oldest time retention keeps.

use super::deploy::{Problems, ValidationErrors};
use super::names::{EnvironmentName, ServiceName};
use super::signals::{TimeWindow, clip, signal_time, within};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The most events one request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// The most occurrences one event may stand for.
pub const MAX_EVENT_COUNT: u64 = 1_000_000_000;
const MAX_FINGERPRINT_LEN: usize = 200;
const MAX_MESSAGE_LEN: usize = 2000;
const MAX_ERROR_VERSION_LEN: usize = 200;
const MAX_REPORTED_PROBLEMS: usize = 100;

/// How bad an error is, as error trackers name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorLevel {
    Debug,
    Info,
    Warning,
    Error,
    Fatal,
}

impl ErrorLevel {
    pub const ALL: [ErrorLevel; 5] = [
        ErrorLevel::Debug,
        ErrorLevel::Info,
        ErrorLevel::Warning,
        ErrorLevel::Error,
        ErrorLevel::Fatal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorLevel::Debug => "debug",
            ErrorLevel::Info => "info",
            ErrorLevel::Warning => "warning",
            ErrorLevel::Error => "error",
            ErrorLevel::Fatal => "fatal",
        }
    }

    /// A level as sent, in any case; `warn` and `critical` as their usual synonyms.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim_ascii().to_ascii_lowercase().as_str() {
            "warn" => Some(ErrorLevel::Warning),
            "critical" => Some(ErrorLevel::Fatal),
            other => Self::ALL.into_iter().find(|l| l.as_str() == other),
        }
    }
}

/// The JSON body of `POST /api/v1/errors`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorsRequest {
    /// At most 10,000 events.
    #[cfg_attr(feature = "openapi", schema(max_items = 10000))]
    #[serde(deserialize_with = "super::bounded::counted")]
    pub events: Vec<ErrorEventRequest>,
}

/// Read as it arrives: refused at the first event past the limit.
impl super::bounded::CountedBody for ErrorsRequest {
    const MAX_ITEMS: usize = MAX_EVENTS_PER_REQUEST;
}

/// One event as sent.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorEventRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "checkout", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub service: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "production", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub environment: Option<String>,
    /// What makes two events the same error (an error tracker's grouping key).
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "TypeError:cart.js:42", pattern = "^[ \\t\\n\\f\\r]*[^ \\t\\n\\f\\r][\\s\\S]{0,199}$"))]
    pub fingerprint: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "TypeError: cart is undefined", pattern = "^[ \\t\\n\\f\\r]*[^ \\t\\n\\f\\r][\\s\\S]{0,1999}$"))]
    pub message: Option<String>,
    /// debug, info, warning (or warn), error, fatal (or critical).
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, pattern = "^[ \\t\\n\\f\\r]*([Dd][Ee][Bb][Uu][Gg]|[Ii][Nn][Ff][Oo]|[Ww][Aa][Rr][Nn]([Ii][Nn][Gg])?|[Ee][Rr][Rr][Oo][Rr]|[Ff][Aa][Tt][Aa][Ll]|[Cc][Rr][Ii][Tt][Ii][Cc][Aa][Ll])[ \\t\\n\\f\\r]*$"))]
    pub level: Option<String>,
    /// RFC 3339 or Unix seconds.
    #[cfg_attr(feature = "openapi", schema(value_type = serde_json::Value, required = true, nullable = false))]
    #[serde(default, deserialize_with = "super::bounded::scalar")]
    pub timestamp: Option<Value>,
    /// The version that raised it.
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub version: Option<String>,
    /// How many occurrences this event stands for; 1 when absent.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>, minimum = 1, maximum = 1000000000))]
    #[serde(default, deserialize_with = "super::bounded::scalar")]
    pub count: Option<Value>,
}

/// Where an error happened and what it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorKey {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub fingerprint: String,
}

/// An event that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEvent {
    pub key: ErrorKey,
    pub message: String,
    pub level: ErrorLevel,
    pub at: DateTime<Utc>,
    /// Empty when the sender did not say.
    pub version: String,
    pub count: u64,
}

/// Events ready to store: one per (error, time, version). Events repeated within a
/// request are added up; a request sent again replaces what it stored before, so
/// a retry does not double the counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorBatch {
    pub events: Vec<ErrorEvent>,
}

impl ErrorBatch {
    /// The occurrences the batch stands for.
    pub fn occurrences(&self) -> u64 {
        self.events.iter().map(|e| e.count).sum()
    }
}

impl ErrorsRequest {
    pub fn parse(
        &self,
        now: DateTime<Utc>,
        oldest: DateTime<Utc>,
    ) -> Result<ErrorBatch, ValidationErrors> {
        let mut p = Problems::capped(MAX_REPORTED_PROBLEMS, "events");
        if self.events.len() > MAX_EVENTS_PER_REQUEST {
            p.add(
                "events",
                format!(
                    "at most {MAX_EVENTS_PER_REQUEST} events per request, got {}: send them in several requests",
                    self.events.len()
                ),
            );
            return Err(p.into_errors());
        }
        let latest = now + chrono::Duration::minutes(super::signals::MAX_SIGNAL_SKEW_MINUTES);
        let mut merged: BTreeMap<(ErrorKey, DateTime<Utc>, String), ErrorEvent> = BTreeMap::new();
        for (i, event) in self.events.iter().enumerate() {
            if let Some(event) = event.parse(&mut p, i, latest, oldest) {
                let slot = (event.key.clone(), event.at, event.version.clone());
                match merged.get_mut(&slot) {
                    Some(seen) => {
                        seen.count = seen.count.saturating_add(event.count);
                        seen.message = event.message;
                        seen.level = event.level;
                    }
                    None => {
                        merged.insert(slot, event);
                    }
                }
            }
        }
        if p.is_empty() {
            Ok(ErrorBatch {
                events: merged.into_values().collect(),
            })
        } else {
            Err(p.into_errors())
        }
    }
}

impl ErrorEventRequest {
    fn parse(
        &self,
        p: &mut Problems,
        i: usize,
        latest: DateTime<Utc>,
        oldest: DateTime<Utc>,
    ) -> Option<ErrorEvent> {
        let at = |field: &str| format!("events[{i}].{field}");
        let service = p.name(&at("service"), self.service.as_deref(), ServiceName::parse);
        let environment = p.name(
            &at("environment"),
            self.environment.as_deref(),
            EnvironmentName::parse,
        );
        let fingerprint = required_text(
            p,
            &at("fingerprint"),
            self.fingerprint.as_deref(),
            MAX_FINGERPRINT_LEN,
        );
        let message = required_text(p, &at("message"), self.message.as_deref(), MAX_MESSAGE_LEN);
        let level = match self.level.as_deref() {
            None => {
                p.add(at("level"), "is required");
                None
            }
            Some(raw) => {
                let level = ErrorLevel::parse(raw);
                if level.is_none() {
                    p.add(
                        at("level"),
                        format!(
                            "must be debug, info, warning, error or fatal, got {}",
                            clip(raw)
                        ),
                    );
                }
                level
            }
        };
        let time = match &self.timestamp {
            None => {
                p.add(at("timestamp"), "is required");
                None
            }
            Some(value) => match signal_time(value) {
                Some(t) => within(p, &at("timestamp"), t, latest, oldest),
                None => {
                    p.add(
                        at("timestamp"),
                        format!(
                            "must be RFC 3339 (2026-11-22T10:00:00Z) or Unix seconds, got {}",
                            clip(&value.to_string())
                        ),
                    );
                    None
                }
            },
        };
        let version = match self.version.as_deref().map(str::trim_ascii) {
            // Its length counts what was sent, surrounding spaces too.
            Some(_)
                if self.version.as_deref().unwrap_or_default().chars().count()
                    > MAX_ERROR_VERSION_LEN =>
            {
                p.add(
                    at("version"),
                    format!("must be at most {MAX_ERROR_VERSION_LEN} characters"),
                );
                None
            }
            None | Some("") => Some(String::new()),
            Some(v) if v.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                p.add(
                    at("version"),
                    "must not contain spaces or control characters",
                );
                None
            }
            Some(v) => Some(v.to_owned()),
        };
        let count = match &self.count {
            None => Some(1),
            Some(value) => {
                let count = value.as_u64().filter(|n| (1..=MAX_EVENT_COUNT).contains(n));
                if count.is_none() {
                    p.add(
                        at("count"),
                        format!(
                            "must be a whole number from 1 to {MAX_EVENT_COUNT}, got {}",
                            clip(&value.to_string())
                        ),
                    );
                }
                count
            }
        };
        Some(ErrorEvent {
            key: ErrorKey {
                service: service?,
                environment: environment?,
                fingerprint: fingerprint?,
            },
            message: message?,
            level: level?,
            at: time?,
            version: version?,
            count: count?,
        })
    }
}

/// Text that must be there: trimmed, not empty, at most `max` characters.
fn required_text(p: &mut Problems, field: &str, raw: Option<&str>, max: usize) -> Option<String> {
    match raw.map(str::trim_ascii) {
        None => {
            p.add(field, "is required");
            None
        }
        Some("") => {
            p.add(field, "must not be empty");
            None
        }
        // As the API document counts: after any leading spaces, trailing ones included.
        Some(_) if raw.unwrap_or_default().trim_ascii_start().chars().count() > max => {
            p.add(field, format!("must be at most {max} characters"));
            None
        }
        Some(text) => Some(text.to_owned()),
    }
}

/// The query string of `GET /api/v1/errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ErrorsQuery {
    #[cfg_attr(
        feature = "openapi",
        param(
            required = true,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"
        )
    )]
    pub service: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        param(
            required = true,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"
        )
    )]
    pub environment: Option<String>,
    /// RFC 3339 or Unix seconds.
    #[cfg_attr(feature = "openapi", param(required = true, nullable = false))]
    pub from: Option<String>,
    /// RFC 3339 or Unix seconds; at most 31 days after `from`.
    #[cfg_attr(feature = "openapi", param(required = true, nullable = false))]
    pub to: Option<String>,
}

/// Error groups of one place over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorsRead {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub window: TimeWindow,
}

impl ErrorsQuery {
    pub fn parse(&self) -> Result<ErrorsRead, ValidationErrors> {
        let mut p = Problems::default();
        let service = p.name("service", self.service.as_deref(), ServiceName::parse);
        let environment = p.name(
            "environment",
            self.environment.as_deref(),
            EnvironmentName::parse,
        );
        let window = TimeWindow::parse(&mut p, self.from.as_deref(), self.to.as_deref());
        match (service, environment, window) {
            (Some(service), Some(environment), Some(window)) if p.is_empty() => Ok(ErrorsRead {
                service,
                environment,
                window,
            }),
            _ => Err(p.into_errors()),
        }
    }
}

/// One error as seen in a window: how often, and when Houston first and last saw
/// it at all (first seen before the window means it is not new).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorGroup {
    pub fingerprint: String,
    /// The latest message sent for it.
    pub message: String,
    pub level: ErrorLevel,
    /// The first occurrence Houston has recorded, kept past retention.
    pub first_seen: DateTime<Utc>,
    /// The latest occurrence Houston has recorded.
    pub last_seen: DateTime<Utc>,
    /// Occurrences within the window.
    pub count: u64,
    /// Versions that raised it within the window (empty when none was sent).
    pub versions: Vec<String>,
}

/// What `GET /api/v1/errors` answers: groups with occurrences in the window, most
/// frequent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorGroups {
    pub groups: Vec<ErrorGroup>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 5, 0)
            .single()
            .expect("valid")
    }

    fn parse(body: &str) -> Result<ErrorBatch, ValidationErrors> {
        serde_json::from_str::<ErrorsRequest>(body)
            .expect("the shape decodes")
            .parse(now(), now() - chrono::Duration::days(8))
    }

    #[test]
    fn repeats_within_a_request_add_up_and_counts_default_to_one() {
        let batch = parse(
            r#"{"events": [
                {"service": "checkout", "environment": "production", "fingerprint": "E1",
                 "message": "boom", "level": "error", "timestamp": "2026-11-22T10:00:00Z"},
                {"service": "checkout", "environment": "production", "fingerprint": "E1",
                 "message": "boom again", "level": "FATAL", "timestamp": 1795341600, "count": 4},
                {"service": "checkout", "environment": "production", "fingerprint": "E1",
                 "message": "boom", "level": "warn", "timestamp": 1795341600, "version": "v2"}
            ]}"#,
        )
        .expect("valid");
        assert_eq!(batch.events.len(), 2, "two versions, one time");
        assert_eq!(batch.occurrences(), 6);
        let unversioned = &batch.events[0];
        assert_eq!(unversioned.version, "");
        assert_eq!(unversioned.count, 5);
        assert_eq!(unversioned.message, "boom again", "the last message wins");
        assert_eq!(unversioned.level, ErrorLevel::Fatal);
        assert_eq!(batch.events[1].level, ErrorLevel::Warning);
    }

    #[test]
    fn every_bad_event_is_named() {
        let err = parse(
            r#"{"events": [
                {"environment": "production", "fingerprint": " ", "message": "m",
                 "level": "loud", "timestamp": "noon", "count": 0},
                {"service": "a", "environment": "b", "fingerprint": "f", "message": "m",
                 "level": "info", "timestamp": "2026-11-22T11:00:00Z", "count": 2.5, "version": "v 1"}
            ]}"#,
        )
        .expect_err("refused");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "events[0].service",
                "events[0].fingerprint",
                "events[0].level",
                "events[0].timestamp",
                "events[0].count",
                "events[1].timestamp",
                "events[1].version",
                "events[1].count",
            ]
        );
        assert!(err.0[5].message.contains("future"), "{}", err.0[5].message);
    }

    #[test]
    fn too_many_events_are_refused_as_a_whole() {
        let event = r#"{"service": "a", "environment": "b", "fingerprint": "f", "message": "m", "level": "info", "timestamp": 1795341600}"#;
        let body = format!(
            r#"{{"events": [{}]}}"#,
            vec![event; MAX_EVENTS_PER_REQUEST + 1].join(",")
        );
        let err = parse(&body).expect_err("refused");
        assert_eq!(err.0.len(), 1);
        assert!(
            serde_json::from_str::<ErrorsRequest>(r#"{"events": [], "x": 1}"#).is_err(),
            "unknown fields do not decode"
        );
    }

    #[test]
    fn a_read_needs_a_place_and_a_window_in_order() {
        let query = ErrorsQuery {
            service: Some("checkout".into()),
            environment: Some("production".into()),
            from: Some("2026-11-22T10:00:00Z".into()),
            to: Some("1795345200".into()),
        };
        let read = query.parse().expect("valid");
        assert_eq!(
            read.window.to - read.window.from,
            chrono::Duration::hours(1)
        );
        let backwards = ErrorsQuery {
            to: Some("2026-11-22T09:00:00Z".into()),
            ..query.clone()
        };
        let err = backwards.parse().expect_err("refused");
        assert_eq!(err.0[0].field, "to");
        let missing = ErrorsQuery::default().parse().expect_err("refused");
        let fields: Vec<&str> = missing.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["service", "environment", "from", "to"]);
    }
}

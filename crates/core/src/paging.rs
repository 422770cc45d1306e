//! Deploy history queries: filters, keyset cursors and pages, and the mission
//! control board.

use super::deploy::{
    Deploy, DeployId, DeployStatus, FieldError, ValidationErrors, to_stored_precision,
};
use super::judge::VerdictState;
use super::names::{EnvironmentName, ServiceName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// Which deploys a history query wants; every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployFilter {
    pub service: Option<ServiceName>,
    pub environment: Option<EnvironmentName>,
    pub author: Option<String>,
    pub status: Option<DeployStatus>,
    /// The verdict shown (a lead's override, else the judge's).
    pub verdict: Option<VerdictState>,
    /// Deploys that started at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Deploys that started before this time.
    pub until: Option<DateTime<Utc>>,
}

/// Where the next page starts: just after the last deploy of the previous page in
/// the order `started_at DESC, id DESC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub started_at: DateTime<Utc>,
    pub id: DeployId,
}

impl Cursor {
    pub fn after(deploy: &Deploy) -> Self {
        Self {
            started_at: deploy.started_at,
            id: deploy.id,
        }
    }

    /// An opaque token: microseconds since the epoch and the id. Callers only pass it back.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.started_at.timestamp_micros(), self.id)
    }

    /// The inverse of `encode`, and nothing else: `-?[0-9]{1,16}_[0-9]{1,18}` (the
    /// pattern the API document states).
    pub fn decode(raw: &str) -> Option<Self> {
        let (micros, id) = raw.split_once('_')?;
        let digits = |s: &str, max: usize| {
            (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !(digits(micros.strip_prefix('-').unwrap_or(micros), 16) && digits(id, 18)) {
            return None;
        }
        let started_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(Self {
            started_at,
            id: id.parse().ok()?,
        })
    }
}

/// One page of a history query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            cursor: None,
            limit: DEFAULT_PAGE_SIZE,
        }
    }
}

/// A page of deploys and the cursor of the next one, if there is more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeployPage {
    pub deploys: Vec<Deploy>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The raw query string of a history query, shared by the API and the history page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DeployQuery {
    /// Empty values mean no filter, here and in every field.
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
    #[cfg_attr(feature = "openapi", param(required = false, nullable = false))]
    pub author: Option<String>,
    /// One of in_progress, succeeded, failed, rolled_back.
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*(in_progress|succeeded|failed|rolled_back)?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub status: Option<String>,
    /// One of baking, healthy, ailing, unhealthy, no_data, cant_tell: the verdict shown (a lead's
    /// override, else the judge's).
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*(baking|healthy|ailing|unhealthy|no_data|cant_tell)?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub verdict: Option<String>,
    /// RFC 3339 time or a date (YYYY-MM-DD, taken as midnight UTC); inclusive.
    #[cfg_attr(feature = "openapi", param(required = false, nullable = false, schema_with = time_bound_schema))]
    pub since: Option<String>,
    /// RFC 3339 time or a date (YYYY-MM-DD, taken as midnight UTC); exclusive.
    /// An `until` not after `since` selects nothing.
    #[cfg_attr(feature = "openapi", param(required = false, nullable = false, schema_with = time_bound_schema))]
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*(-?[0-9]{1,16}_[0-9]{1,18})?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub cursor: Option<String>,
    /// Page size, 1 to 200; default 50.
    #[cfg_attr(
        feature = "openapi",
        param(required = false, nullable = false, minimum = 1, maximum = 200)
    )]
    pub limit: Option<u32>,
}

/// A time bound as the list queries take it: an RFC 3339 time, a date, or empty
/// (no bound).
#[cfg(feature = "openapi")]
pub fn time_bound_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::KnownFormat;
    empty_or_formats(&[KnownFormat::DateTime, KnownFormat::Date])
}

/// A string in one of `formats`, or empty (absent).
#[cfg(feature = "openapi")]
pub fn empty_or_formats(
    formats: &[utoipa::openapi::schema::KnownFormat],
) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, SchemaFormat, Type};
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let mut any = AnyOfBuilder::new();
    for format in formats {
        any = any.item(string().format(Some(SchemaFormat::KnownFormat(format.clone()))));
    }
    any.item(string().max_length(Some(0))).into()
}

fn non_empty(raw: &Option<String>) -> Option<&str> {
    raw.as_deref()
        .map(str::trim_ascii)
        .filter(|v| !v.is_empty())
}

pub fn parse_bound(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(to_stored_precision(t.with_timezone(&Utc)));
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

impl DeployQuery {
    /// Parses the query; empty values mean "no filter", so a form can send every field.
    pub fn parse(&self) -> Result<(DeployFilter, PageRequest), ValidationErrors> {
        let mut errors = Vec::new();
        let mut filter = DeployFilter::default();
        if let Some(raw) = non_empty(&self.service) {
            match ServiceName::parse(raw) {
                Ok(n) => filter.service = Some(n),
                Err(e) => errors.push(FieldError::new("service", e.to_string())),
            }
        }
        if let Some(raw) = non_empty(&self.environment) {
            match EnvironmentName::parse(raw) {
                Ok(n) => filter.environment = Some(n),
                Err(e) => errors.push(FieldError::new("environment", e.to_string())),
            }
        }
        filter.author = non_empty(&self.author).map(str::to_owned);
        if let Some(raw) = non_empty(&self.status) {
            match DeployStatus::parse(raw) {
                Some(s) => filter.status = Some(s),
                None => errors.push(FieldError::new(
                    "status",
                    format!("unknown status {raw:?}; use one of in_progress, succeeded, failed, rolled_back"),
                )),
            }
        }
        if let Some(raw) = non_empty(&self.verdict) {
            match VerdictState::parse(raw) {
                Some(v) => filter.verdict = Some(v),
                None => errors.push(FieldError::new(
                    "verdict",
                    format!("unknown verdict {raw:?}; use one of baking, healthy, ailing, unhealthy, no_data, cant_tell"),
                )),
            }
        }
        for (field, raw, slot) in [
            ("since", &self.since, &mut filter.since),
            ("until", &self.until, &mut filter.until),
        ] {
            if let Some(raw) = non_empty(raw) {
                match parse_bound(raw) {
                    Some(t) => *slot = Some(t),
                    None => errors.push(FieldError::new(
                        field,
                        format!("must be an RFC 3339 time or a date like 2026-11-21, got {raw:?}"),
                    )),
                }
            }
        }
        let cursor = match non_empty(&self.cursor) {
            None => None,
            Some(raw) => {
                let decoded = Cursor::decode(raw);
                if decoded.is_none() {
                    errors.push(FieldError::new(
                        "cursor",
                        "is not a cursor this server handed out; start again without it",
                    ));
                }
                decoded
            }
        };
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        if errors.is_empty() {
            Ok((filter, PageRequest { cursor, limit }))
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// The query string for this query with another cursor, for "next page" links.
    pub fn to_query_string(&self) -> String {
        let pairs = [
            ("service", &self.service),
            ("environment", &self.environment),
            ("author", &self.author),
            ("status", &self.status),
            ("verdict", &self.verdict),
            ("since", &self.since),
            ("until", &self.until),
            ("cursor", &self.cursor),
        ];
        let mut out: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| non_empty(v).map(|v| format!("{k}={}", encode_query_value(v))))
            .collect();
        if let Some(limit) = self.limit {
            out.push(format!("limit={limit}"));
        }
        out.join("&")
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode_query_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An environment as the board shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Environment {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: EnvironmentName,
    pub stage_order: i32,
}

/// A service as the board shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Service {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: ServiceName,
    pub repository_url: Option<String>,
}

/// Mission control: every service × environment with the latest deploy there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Board {
    /// Columns, in stage order.
    pub environments: Vec<Environment>,
    /// Rows, by name.
    pub services: Vec<Service>,
    /// The latest deploy of each service in each environment where there is one.
    pub latest: Vec<Deploy>,
    /// Alerts firing now (from Alertmanager), newest first.
    #[serde(default)]
    pub firing: Vec<super::alerts::FiringAlert>,
}

impl Board {
    /// The latest deploy of `service` in `environment`, if any.
    pub fn cell(&self, service: &ServiceName, environment: &EnvironmentName) -> Option<&Deploy> {
        self.latest
            .iter()
            .find(|d| &d.service == service && &d.environment == environment)
    }

    /// The alerts firing for `service` in `environment`.
    pub fn firing_at<'a>(
        &'a self,
        service: &'a ServiceName,
        environment: &'a EnvironmentName,
    ) -> impl Iterator<Item = &'a super::alerts::FiringAlert> {
        self.firing.iter().filter(move |a| {
            a.service.as_ref() == Some(service) && a.environment.as_ref() == Some(environment)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            started_at: DateTime::from_timestamp_micros(1_763_726_400_123_456).expect("valid"),
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "abc", "1_", "_1", "1_x", "99999999999999999999_1"] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn empty_query_values_mean_no_filter() {
        let q = DeployQuery {
            service: Some("".into()),
            status: Some(" ".into()),
            ..Default::default()
        };
        let (filter, page) = q.parse().expect("valid");
        assert_eq!(filter, DeployFilter::default());
        assert_eq!(page.limit, DEFAULT_PAGE_SIZE);
    }

    #[test]
    fn dates_and_times_are_accepted_as_bounds() {
        let q = DeployQuery {
            since: Some("2026-11-01".into()),
            until: Some("2026-11-21T10:00:00+01:00".into()),
            ..Default::default()
        };
        let (filter, _) = q.parse().expect("valid");
        assert_eq!(
            filter.since.map(|t| t.to_rfc3339()),
            Some("2026-11-01T00:00:00+00:00".into())
        );
        assert_eq!(
            filter.until.map(|t| t.to_rfc3339()),
            Some("2026-11-21T09:00:00+00:00".into())
        );
    }

    #[test]
    fn bad_query_values_are_named() {
        let q = DeployQuery {
            status: Some("ok".into()),
            verdict: Some("fine".into()),
            since: Some("2026-11-21".into()),
            until: Some("yesterday".into()),
            cursor: Some("nope".into()),
            limit: Some(0),
            ..Default::default()
        };
        let fields: Vec<_> = q
            .parse()
            .expect_err("invalid")
            .0
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["status", "verdict", "until", "cursor", "limit"]);
    }

    #[test]
    fn an_empty_range_is_no_error_and_surrounding_spaces_are_ignored() {
        let q = DeployQuery {
            service: Some(" checkout\t".into()),
            since: Some("2026-11-21".into()),
            until: Some("2026-11-21".into()),
            ..Default::default()
        };
        let (filter, _) = q.parse().expect("valid: it selects nothing");
        assert_eq!(
            filter.service.map(|s| s.to_string()),
            Some("checkout".into())
        );
    }

    #[test]
    fn cursors_are_exactly_what_encode_makes() {
        let c = Cursor {
            started_at: DateTime::from_timestamp_micros(1_763_700_000_123_456).expect("time"),
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in [
            "+1_2",
            "1_+2",
            "1_",
            "_1",
            "1_2_3",
            "12345678901234567_1",
            "1_1234567890123456789",
            " 1_2",
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn limit_bounds_are_inclusive() {
        for (limit, ok) in [(1, true), (MAX_PAGE_SIZE, true), (MAX_PAGE_SIZE + 1, false)] {
            let q = DeployQuery {
                limit: Some(limit),
                ..Default::default()
            };
            assert_eq!(q.parse().is_ok(), ok, "limit {limit}");
        }
    }

    #[test]
    fn query_string_keeps_filters_and_encodes_values() {
        let q = DeployQuery {
            author: Some("Ada Lovelace".into()),
            since: Some("2026-11-21T10:00:00+01:00".into()),
            limit: Some(20),
            ..Default::default()
        };
        assert_eq!(
            q.to_query_string(),
            "author=Ada%20Lovelace&since=2026-11-21T10%3A00%3A00%2B01%3A00&limit=20"
        );
    }
}

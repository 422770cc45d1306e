//! Metric samples pushed by callers (`POST /api/v1/metrics`): what they send, the
//! rules every point passes, and the batch that is stored. The caller passes `now`
//! and the oldest time retention keeps.

use super::deploy::{Problems, ValidationErrors, to_stored_precision};
use super::names::{EnvironmentName, GroupName, ServiceName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// The most points one request may carry.
pub const MAX_POINTS_PER_REQUEST: usize = 100_000;
/// How far ahead of the server's clock a point may lie.
pub const MAX_SIGNAL_SKEW_MINUTES: i64 = 10;
/// How many problems an answer lists; the rest are counted.
const MAX_REPORTED_PROBLEMS: usize = 100;
const MAX_METRIC_NAME_LEN: usize = 200;

/// A metric's name as Prometheus writes them: `http_5xx_ratio`, `latency_p95`,
/// `job:requests:rate5m`. Letters, digits, `_` and `:`, not starting with a digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MetricName(String);

impl MetricName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim_ascii();
        if name.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if name.len() > MAX_METRIC_NAME_LEN {
            return Err(format!("must be at most {MAX_METRIC_NAME_LEN} characters"));
        }
        let starts_well = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':');
        let rest_ok = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
        if !(starts_well && rest_ok) {
            return Err(
                "may contain only letters, digits, '_' and ':', and must not start with a digit"
                    .to_owned(),
            );
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MetricName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MetricName> for String {
    fn from(value: MetricName) -> String {
        value.0
    }
}

impl fmt::Display for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The JSON body of `POST /api/v1/metrics`, as the caller sends it.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MetricsRequest {
    /// At most 100,000 points in all.
    #[serde(deserialize_with = "super::bounded::counted")]
    pub series: Vec<SeriesRequest>,
}

/// Read as it arrives: series and points together at most twice the point limit
/// (every series with one point), refused at the first past it.
impl super::bounded::CountedBody for MetricsRequest {
    const MAX_ITEMS: usize = 2 * MAX_POINTS_PER_REQUEST;
}

/// One series as sent: where, which metric, which group, and its points. Each
/// point is `[time, value]`, the time RFC 3339 or Unix seconds (fractions allowed).
/// Points are kept raw until parsed one by one, so a bad one is named.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SeriesRequest {
    /// Created on first sight, as deploys do.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "checkout", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub service: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "production", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub environment: Option<String>,
    /// Prometheus' alphabet: letters, digits, `_` and `:`, not starting with a digit.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "http_5xx_ratio", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z_:][A-Za-z0-9_:]{0,199}[ \\t\\n\\f\\r]*$"))]
    pub metric: Option<String>,
    /// `canary`, `baseline`, …; named like services. Absent, null or empty: no group.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "canary", pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63})?[ \\t\\n\\f\\r]*$"))]
    pub group: Option<String>,
    /// `[time, value]` pairs: the time RFC 3339 or Unix seconds (fractions
    /// allowed), the value a finite number.
    #[serde(default, deserialize_with = "super::bounded::counted")]
    #[cfg_attr(feature = "openapi", schema(schema_with = point_list_schema))]
    pub points: Vec<Box<RawValue>>,
}

/// `[[time, value], …]` in the API document.
#[cfg(feature = "openapi")]
fn point_list_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{
        Array, ArrayItems, KnownFormat, Object, OneOf, Schema, SchemaFormat, Type,
    };
    let time = OneOf::builder()
        .item(
            Object::builder()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(Object::builder().schema_type(Type::Number))
        .build();
    let value = Object::builder().schema_type(Type::Number).build();
    let point = Array::builder()
        .prefix_items([Schema::OneOf(time), Schema::Object(value)])
        .items(ArrayItems::False)
        .min_items(Some(2))
        .max_items(Some(2))
        .build();
    Array::builder()
        .items(utoipa::openapi::RefOr::T(Schema::Array(point)))
        .max_items(Some(MAX_POINTS_PER_REQUEST))
        .build()
}

/// Which series a sample belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesKey {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub metric: MetricName,
    pub group: Option<GroupName>,
}

/// One value at one time (stored to the microsecond).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// A series' samples, oldest first, one per time.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    pub key: SeriesKey,
    pub samples: Vec<Sample>,
}

/// A request that passed every rule, ready to store: one entry per series, and
/// within a series one sample per time (the last sent wins, as it will in storage).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricBatch {
    pub series: Vec<SeriesSamples>,
}

impl MetricBatch {
    /// How many samples the batch stores.
    pub fn points(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

impl MetricsRequest {
    /// The batch to store, or every problem (up to a hundred, each naming its
    /// item): names that are missing or malformed, points that are not `[time,
    /// value]`, values that are not finite JSON numbers, times more than
    /// [`MAX_SIGNAL_SKEW_MINUTES`] ahead of `now` or before `oldest`, more than
    /// [`MAX_POINTS_PER_REQUEST`] points.
    pub fn parse(
        &self,
        now: DateTime<Utc>,
        oldest: DateTime<Utc>,
    ) -> Result<MetricBatch, ValidationErrors> {
        let mut p = Problems::capped(MAX_REPORTED_PROBLEMS, "series");
        let total: usize = self.series.iter().map(|s| s.points.len()).sum();
        if total > MAX_POINTS_PER_REQUEST {
            p.add(
                "series",
                format!("at most {MAX_POINTS_PER_REQUEST} points per request, got {total}: send them in several requests"),
            );
            return Err(p.into_errors());
        }
        let latest = now + chrono::Duration::minutes(MAX_SIGNAL_SKEW_MINUTES);
        let mut merged: BTreeMap<SeriesKey, BTreeMap<DateTime<Utc>, f64>> = BTreeMap::new();
        for (i, series) in self.series.iter().enumerate() {
            let at = |field: &str| format!("series[{i}].{field}");
            let service =
                required(&mut p, &at("service"), series.service.as_deref()).and_then(|raw| {
                    ServiceName::parse(raw)
                        .map_err(|e| p.add(at("service"), e.to_string()))
                        .ok()
                });
            let environment = required(&mut p, &at("environment"), series.environment.as_deref())
                .and_then(|raw| {
                    EnvironmentName::parse(raw)
                        .map_err(|e| p.add(at("environment"), e.to_string()))
                        .ok()
                });
            let metric =
                required(&mut p, &at("metric"), series.metric.as_deref()).and_then(|raw| {
                    MetricName::parse(raw)
                        .map_err(|e| p.add(at("metric"), e))
                        .ok()
                });
            let group = optional_group(&mut p, &at("group"), series.group.as_deref());
            let samples: Vec<Sample> = series
                .points
                .iter()
                .enumerate()
                .filter_map(|(j, raw)| {
                    point(&mut p, &at(&format!("points[{j}]")), raw, latest, oldest)
                })
                .collect();
            if let (Some(service), Some(environment), Some(metric), Some(group)) =
                (service, environment, metric, group)
            {
                let key = SeriesKey {
                    service,
                    environment,
                    metric,
                    group,
                };
                let times = merged.entry(key).or_default();
                for sample in samples {
                    times.insert(sample.at, sample.value);
                }
            }
        }
        let batch = MetricBatch {
            series: merged
                .into_iter()
                .map(|(key, times)| SeriesSamples {
                    key,
                    samples: times
                        .into_iter()
                        .map(|(at, value)| Sample { at, value })
                        .collect(),
                })
                .collect(),
        };
        if p.is_empty() {
            Ok(batch)
        } else {
            Err(p.into_errors())
        }
    }
}

/// A group as sent: absent or blank is no group (`Some(None)`); a bad name is a
/// problem (`None`).
fn optional_group(p: &mut Problems, field: &str, raw: Option<&str>) -> Option<Option<GroupName>> {
    match raw.map(str::trim_ascii) {
        None | Some("") => Some(None),
        Some(raw) => GroupName::parse(raw)
            .map(Some)
            .map_err(|e| p.add(field, e.to_string()))
            .ok(),
    }
}

fn required<'a>(p: &mut Problems, field: &str, raw: Option<&'a str>) -> Option<&'a str> {
    if raw.is_none() {
        p.add(field, "is required");
    }
    raw
}

/// One `[time, value]` point, or a problem named after `field`.
fn point(
    p: &mut Problems,
    field: &str,
    raw: &RawValue,
    latest: DateTime<Utc>,
    oldest: DateTime<Utc>,
) -> Option<Sample> {
    let (time, value) = match serde_json::from_str::<(Value, Value)>(raw.get()) {
        Ok(pair) => pair,
        Err(e) if e.to_string().contains("out of range") => {
            p.add(
                field,
                "holds a number out of range: values must be finite numbers",
            );
            return None;
        }
        Err(_) => {
            p.add(
                field,
                format!("must be [time, value], got {}", clip(raw.get())),
            );
            return None;
        }
    };
    let Some(at) = signal_time(&time) else {
        p.add(
            field,
            format!(
                "time must be RFC 3339 (2026-11-22T10:00:00Z) or Unix seconds, got {}",
                clip(&time.to_string())
            ),
        );
        return None;
    };
    let at = within(p, field, at, latest, oldest)?;
    match value {
        Value::Number(n) => match n.as_f64().filter(|v| v.is_finite()) {
            Some(value) => Some(Sample { at, value }),
            None => {
                p.add(field, "value must be a finite number");
                None
            }
        },
        other => {
            p.add(
                field,
                format!(
                    "value must be a JSON number, got {}",
                    clip(&other.to_string())
                ),
            );
            None
        }
    }
}

/// A time as signals send it: an RFC 3339 string or Unix seconds (a JSON number,
/// fractions allowed), kept to the microsecond.
pub(super) fn signal_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim_ascii())
            .ok()
            .map(|t| to_stored_precision(t.with_timezone(&Utc))),
        Value::Number(seconds) => seconds
            .as_f64()
            .filter(|s| s.is_finite() && s.abs() < 1e12)
            .and_then(|s| DateTime::from_timestamp_micros((s * 1e6).round() as i64)),
        _ => None,
    }
}

/// `at` when it lies between `oldest` and `latest`, or a problem saying which way
/// it is off.
pub(super) fn within(
    p: &mut Problems,
    field: &str,
    at: DateTime<Utc>,
    latest: DateTime<Utc>,
    oldest: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if at > latest {
        p.add(
            field,
            "time lies in the future; check the clock and time zone of the sender",
        );
        return None;
    }
    if at < oldest {
        p.add(field, "time is older than Houston keeps signals for");
        return None;
    }
    Some(at)
}

/// At most 40 characters of what was sent, for a message.
pub(super) fn clip(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The most points one read answers; a wider window is refused with a hint.
pub const MAX_POINTS_PER_READ: usize = 100_000;
/// The longest window one read may ask for.
pub const MAX_READ_WINDOW_DAYS: i64 = 31;

/// A span of time, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl TimeWindow {
    /// `from` and `to` as a query string sends them (RFC 3339 or Unix seconds):
    /// both required, `from` not after `to`, at most [`MAX_READ_WINDOW_DAYS`] apart.
    pub(super) fn parse(p: &mut Problems, from: Option<&str>, to: Option<&str>) -> Option<Self> {
        let mut end = |field: &str, raw: Option<&str>| {
            let raw = raw.map(str::trim_ascii).filter(|r| !r.is_empty());
            let Some(raw) = raw else {
                p.add(field, "is required");
                return None;
            };
            let value = match raw.parse::<f64>() {
                Ok(seconds) => Value::from(seconds),
                Err(_) => Value::from(raw),
            };
            let at = signal_time(&value);
            if at.is_none() {
                p.add(
                    field,
                    format!(
                        "must be RFC 3339 (2026-11-22T10:00:00Z) or Unix seconds, got {}",
                        clip(raw)
                    ),
                );
            }
            at
        };
        let (from, to) = (end("from", from), end("to", to));
        let (from, to) = (from?, to?);
        if from > to {
            p.add("to", "must not be before from");
            return None;
        }
        if to - from > chrono::Duration::days(MAX_READ_WINDOW_DAYS) {
            p.add(
                "to",
                format!("a window spans at most {MAX_READ_WINDOW_DAYS} days"),
            );
            return None;
        }
        Some(Self { from, to })
    }
}

/// The query string of `GET /api/v1/metrics`: one series, one window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct SeriesQuery {
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
    #[cfg_attr(
        feature = "openapi",
        param(
            required = true,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*[A-Za-z_:][A-Za-z0-9_:]{0,199}[ \\t\\n\\f\\r]*$"
        )
    )]
    pub metric: Option<String>,
    /// The group (`canary`, `baseline`); the series without a group when absent.
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63})?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub group: Option<String>,
    /// RFC 3339 or Unix seconds.
    #[cfg_attr(feature = "openapi", param(required = true, nullable = false))]
    pub from: Option<String>,
    /// RFC 3339 or Unix seconds; at most 31 days after `from`.
    #[cfg_attr(feature = "openapi", param(required = true, nullable = false))]
    pub to: Option<String>,
}

/// A read of one series over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRead {
    pub key: SeriesKey,
    pub window: TimeWindow,
}

impl SeriesQuery {
    pub fn parse(&self) -> Result<SeriesRead, ValidationErrors> {
        let mut p = Problems::default();
        let service = p.name("service", self.service.as_deref(), ServiceName::parse);
        let environment = p.name(
            "environment",
            self.environment.as_deref(),
            EnvironmentName::parse,
        );
        let metric = match self.metric.as_deref() {
            None => {
                p.add("metric", "is required");
                None
            }
            Some(raw) => MetricName::parse(raw).map_err(|e| p.add("metric", e)).ok(),
        };
        let group = optional_group(&mut p, "group", self.group.as_deref());
        let window = TimeWindow::parse(&mut p, self.from.as_deref(), self.to.as_deref());
        match (service, environment, metric, group, window) {
            (Some(service), Some(environment), Some(metric), Some(group), Some(window))
                if p.is_empty() =>
            {
                Ok(SeriesRead {
                    key: SeriesKey {
                        service,
                        environment,
                        metric,
                        group,
                    },
                    window,
                })
            }
            _ => Err(p.into_errors()),
        }
    }
}

/// What `GET /api/v1/metrics` answers: `[time, value]` pairs, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesPoints {
    /// `[RFC 3339 time, value]`, oldest first.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<serde_json::Value>>))]
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// How long after a deploy finished its charts run on, until the health judge
/// sets a bake time of its own.
pub const CHART_MINUTES_AFTER: i64 = 60;
/// How long before a deploy its charts start.
pub const CHART_MINUTES_BEFORE: i64 = 60;

/// The window a deploy's charts show: the hour before it started to an hour after
/// it finished (or to `now` while it runs), never past `now`.
pub fn chart_window(
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> TimeWindow {
    let from = started_at - chrono::Duration::minutes(CHART_MINUTES_BEFORE);
    let end = finished_at.map_or(now, |f| f + chrono::Duration::minutes(CHART_MINUTES_AFTER));
    TimeWindow {
        from,
        to: end.min(now).max(from),
    }
}

/// At most about `2 * buckets` samples drawing the same line: the window is cut
/// into equal buckets and each keeps its lowest and highest sample, in time
/// order, so a spike survives where an average would hide it.
pub fn downsample(samples: &[Sample], window: &TimeWindow, buckets: usize) -> Vec<Sample> {
    if samples.len() <= buckets.saturating_mul(2) || buckets == 0 {
        return samples.to_vec();
    }
    let span = (window.to - window.from)
        .num_microseconds()
        .unwrap_or(i64::MAX)
        .max(1);
    let bucket_of = |s: &Sample| {
        let offset = (s.at - window.from)
            .num_microseconds()
            .unwrap_or(0)
            .clamp(0, span - 1);
        (i128::from(offset) * buckets as i128 / i128::from(span)) as usize
    };
    let mut out = Vec::with_capacity(buckets * 2);
    let mut i = 0;
    while i < samples.len() {
        let bucket = bucket_of(&samples[i]);
        let (mut low, mut high) = (samples[i], samples[i]);
        let mut j = i + 1;
        while j < samples.len() && bucket_of(&samples[j]) == bucket {
            if samples[j].value < low.value {
                low = samples[j];
            }
            if samples[j].value > high.value {
                high = samples[j];
            }
            j += 1;
        }
        if low.at <= high.at {
            out.push(low);
            if high.at != low.at {
                out.push(high);
            }
        } else {
            out.push(high);
            out.push(low);
        }
        i = j;
    }
    out
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

    fn oldest() -> DateTime<Utc> {
        now() - chrono::Duration::days(8)
    }

    fn parse(body: &str) -> Result<MetricBatch, ValidationErrors> {
        serde_json::from_str::<MetricsRequest>(body)
            .expect("the shape decodes")
            .parse(now(), oldest())
    }

    fn problems(body: &str) -> Vec<(String, String)> {
        parse(body)
            .expect_err("refused")
            .0
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn times_come_as_rfc3339_or_unix_seconds_and_the_last_value_for_a_time_wins() {
        let batch = parse(
            r#"{"series": [
                {"service": "checkout", "environment": "production", "metric": "http_5xx_ratio",
                 "group": "canary", "points": [["2026-11-22T10:00:00Z", 0.013], [1795341610.5, 0.02]]},
                {"service": "checkout", "environment": "production", "metric": "http_5xx_ratio",
                 "group": "canary", "points": [["2026-11-22T11:00:00+01:00", 0.5]]}
            ]}"#,
        )
        .expect("valid");
        assert_eq!(
            batch.points(),
            2,
            "two series entries, one series, two times"
        );
        let series = &batch.series[0];
        assert_eq!(series.key.metric.as_str(), "http_5xx_ratio");
        assert_eq!(
            series.key.group.as_ref().map(GroupName::as_str),
            Some("canary")
        );
        assert_eq!(
            series.samples,
            [
                Sample {
                    at: Utc
                        .with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
                        .single()
                        .expect("t"),
                    value: 0.5
                },
                Sample {
                    at: DateTime::from_timestamp_micros(1_795_341_610_500_000).expect("t"),
                    value: 0.02
                },
            ]
        );
    }

    #[test]
    fn the_group_is_optional_and_names_are_trimmed() {
        let batch = parse(
            r#"{"series": [{"service": " api ", "environment": "dev", "metric": "latency_p95",
                 "points": [[1795341600, 12]]}]}"#,
        )
        .expect("valid");
        assert_eq!(batch.series[0].key.service.as_str(), "api");
        assert_eq!(batch.series[0].key.group, None);
    }

    #[test]
    fn every_bad_item_is_named() {
        let found = problems(
            r#"{"series": [
                {"environment": "production", "metric": "9lives", "points": [
                    ["2026-11-22T10:00:00Z", "NaN"],
                    ["2026-11-22T10:00:00Z", 1e999],
                    ["2026-11-22T10:00:00Z", null],
                    ["yesterday", 1],
                    ["2026-11-22T10:16:00Z", 1],
                    ["2026-11-01T10:00:00Z", 1],
                    [1795341600],
                    [1795341600, 1, 2],
                    {"t": 1}
                ]},
                {"service": "", "environment": "bad env", "metric": "ok", "group": "-x", "points": []}
            ]}"#,
        );
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "series[0].service",
                "series[0].metric",
                "series[0].points[0]",
                "series[0].points[1]",
                "series[0].points[2]",
                "series[0].points[3]",
                "series[0].points[4]",
                "series[0].points[5]",
                "series[0].points[6]",
                "series[0].points[7]",
                "series[0].points[8]",
                "series[1].service",
                "series[1].environment",
                "series[1].group",
            ]
        );
        let message = |i: usize| found[i].1.as_str();
        assert!(
            message(2).contains("JSON number, got \"NaN\""),
            "{}",
            message(2)
        );
        assert!(message(3).contains("finite"), "{}", message(3));
        assert!(message(5).contains("RFC 3339"), "{}", message(5));
        assert!(message(6).contains("future"), "{}", message(6));
        assert!(message(7).contains("older"), "{}", message(7));
        assert!(message(8).contains("[time, value]"), "{}", message(8));
    }

    #[test]
    fn a_point_ten_minutes_ahead_is_accepted_and_one_second_more_is_not() {
        let at = |t: DateTime<Utc>| {
            format!(
                r#"{{"series": [{{"service": "a", "environment": "b", "metric": "m", "points": [[{}, 1]]}}]}}"#,
                t.timestamp()
            )
        };
        let limit = now() + chrono::Duration::minutes(MAX_SIGNAL_SKEW_MINUTES);
        assert!(parse(&at(limit)).is_ok());
        assert!(parse(&at(limit + chrono::Duration::seconds(1))).is_err());
        assert!(parse(&at(oldest())).is_ok());
        assert!(parse(&at(oldest() - chrono::Duration::seconds(1))).is_err());
    }

    #[test]
    fn too_many_points_are_refused_as_a_whole() {
        let points = vec!["[1795341600, 1]"; MAX_POINTS_PER_REQUEST + 1].join(",");
        let body = format!(
            r#"{{"series": [{{"service": "a", "environment": "b", "metric": "m", "points": [{points}]}}]}}"#
        );
        let found = problems(&body);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].1.contains("at most 100000 points"),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn a_hundred_problems_are_listed_and_the_rest_counted() {
        let points = vec![r#"["2026-11-22T10:00:00Z", "x"]"#; 150].join(",");
        let body = format!(
            r#"{{"series": [{{"service": "a", "environment": "b", "metric": "m", "points": [{points}]}}]}}"#
        );
        let found = problems(&body);
        assert_eq!(found.len(), MAX_REPORTED_PROBLEMS + 1);
        assert_eq!(
            found[MAX_REPORTED_PROBLEMS].1,
            "and 50 more problems like these"
        );
    }

    #[test]
    fn unknown_fields_do_not_decode() {
        assert!(serde_json::from_str::<MetricsRequest>(r#"{"series": [], "extra": 1}"#).is_err());
        assert!(
            serde_json::from_str::<MetricsRequest>(
                r#"{"series": [{"service": "a", "environment": "b", "metric": "m", "value": 1}]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn metric_names_follow_prometheus() {
        for good in ["http_5xx_ratio", "latency_p95", "job:requests:rate5m", "_x"] {
            assert!(MetricName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", " ", "9lives", "a-b", "a.b", "a b", "é"] {
            assert!(MetricName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_chart_spans_the_hour_before_to_the_hour_after_and_never_the_future() {
        let start = now() - chrono::Duration::hours(3);
        let w = chart_window(start, Some(start + chrono::Duration::minutes(5)), now());
        assert_eq!(w.from, start - chrono::Duration::hours(1));
        assert_eq!(w.to, start + chrono::Duration::minutes(65));
        let running = chart_window(now() - chrono::Duration::minutes(2), None, now());
        assert_eq!(running.to, now());
    }

    #[test]
    fn downsampling_keeps_spikes_and_order() {
        let t0 = now() - chrono::Duration::hours(1);
        let window = TimeWindow {
            from: t0,
            to: now(),
        };
        let samples: Vec<Sample> = (0..3600)
            .map(|s| Sample {
                at: t0 + chrono::Duration::seconds(s),
                value: if s == 1234 { 100.0 } else { (s % 7) as f64 },
            })
            .collect();
        let drawn = downsample(&samples, &window, 100);
        assert!(drawn.len() <= 200, "{}", drawn.len());
        assert!(drawn.iter().any(|s| s.value == 100.0), "the spike survives");
        assert!(drawn.windows(2).all(|w| w[0].at < w[1].at), "in time order");
        let few = &samples[..50];
        assert_eq!(
            downsample(few, &window, 100),
            few,
            "few samples stay as they are"
        );
    }
}

//! Metric definitions: which metrics Houston watches, where their data comes from
//! (pushed, or a PromQL template run against Prometheus), which services and
//! environments they apply to; the plan that makes the stored definitions match a
//! declared set (`houston config apply`); and the pure parts of reading Prometheus
//! (the query for a place, the step for a window, the answer of `query_range`).

use super::deploy::{Problems, ValidationErrors};
use super::judge::{BaselineKind, CheckFields, CheckSpec, Direction, Timing, TimingFields};
use super::names::{EnvironmentName, GroupName, ServiceName};
use super::signals::{MetricName, Sample, TimeWindow, clip};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Prometheus refuses a range query that would return more points per series.
pub const PROMETHEUS_MAX_POINTS: i64 = 11_000;
/// The finest step Houston asks Prometheus for.
pub const MIN_QUERY_STEP_SECS: i64 = 10;
const MAX_UNIT_LEN: usize = 32;
const MAX_QUERY_LEN: usize = 4000;
const PLACEHOLDERS: [&str; 3] = ["service", "environment", "group"];

/// Where a metric's samples come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum MetricSource {
    /// Sent to `POST /api/v1/metrics`.
    Push,
    /// Fetched from Prometheus with this PromQL template.
    Prometheus { query: String },
}

/// A metric Houston watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricDefinition {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: MetricName,
    /// `ms`, `%`, `req/s`, … (may be empty).
    pub unit: String,
    #[serde(flatten)]
    pub source: MetricSource,
    /// Service names, or `["*"]` for every service.
    pub services: Vec<String>,
    /// Environment names; every environment when absent.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub environments: Option<Vec<EnvironmentName>>,
    /// How the health judge weighs it; absent when the metric is charted, not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckSpec>,
}

impl MetricDefinition {
    /// Whether the metric is watched for this service in this environment.
    pub fn applies_to(&self, service: &ServiceName, environment: &EnvironmentName) -> bool {
        let service_ok = self
            .services
            .iter()
            .any(|s| s == "*" || s == service.as_str());
        let environment_ok = self
            .environments
            .as_ref()
            .is_none_or(|list| list.contains(environment));
        service_ok && environment_ok
    }

    /// The PromQL of a Prometheus metric for one place (and group), or `None` for a
    /// pushed metric.
    pub fn query_for(
        &self,
        service: &ServiceName,
        environment: &EnvironmentName,
        group: Option<&GroupName>,
    ) -> Option<String> {
        match &self.source {
            MetricSource::Push => None,
            MetricSource::Prometheus { query } => Some(render_query(
                query,
                service.as_str(),
                environment.as_str(),
                group.map(GroupName::as_str).unwrap_or_default(),
            )),
        }
    }
}

/// One `[[metric]]` table of a configuration file, or the body of
/// `PUT /api/v1/metric-definitions/{name}`, as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MetricDefinitionRequest {
    /// Prometheus' alphabet: letters, digits, `_` and `:`. Required in a file; in
    /// `PUT /api/v1/metric-definitions/{name}` the path names it (and the body's,
    /// when sent, must be the same).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^[ \\t\\n\\f\\r]*[A-Za-z_:][A-Za-z0-9_:]{0,199}[ \\t\\n\\f\\r]*$"))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub unit: Option<String>,
    /// `push` or `prometheus`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, pattern = "^[ \\t\\n\\f\\r]*(push|prometheus)[ \\t\\n\\f\\r]*$"))]
    pub source: Option<String>,
    /// PromQL with `{{service}}`, `{{environment}}` and `{{group}}` placeholders;
    /// only with `source = "prometheus"`.
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub query: Option<String>,
    /// Service names, or `["*"]` for all.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, required = true, nullable = false, min_items = 1))]
    pub services: Option<Vec<String>>,
    /// Environment names; all when absent (or null).
    pub environments: Option<Vec<String>>,
    /// Judge the metric: `increase_is_bad`, `decrease_is_bad` or `both`. Without it the
    /// metric is charted, not judged, and the other check fields must be absent.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^[ \\t\\n\\f\\r]*(increase_is_bad|decrease_is_bad|both)[ \\t\\n\\f\\r]*$"
        )
    )]
    pub direction: Option<String>,
    /// A relative change that never matters (0.05 = 5 %); 0.10 when absent.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub tolerance: Option<f64>,
    /// A change, in the metric's unit, below which nothing matters; 0 when absent.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1e15))]
    pub tolerance_floor: Option<f64>,
    /// A failure of a critical check makes the deploy unhealthy on its own.
    pub critical: Option<bool>,
    /// Weight in the deploy's score; 1 when absent.
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1000))]
    pub weight: Option<f64>,
    /// Fewer samples on a side and the check has no data; 10 when absent.
    #[cfg_attr(feature = "openapi", schema(minimum = 2, maximum = 10000))]
    pub min_samples: Option<u64>,
    /// An http(s) link shown beside a failure.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2048,
            pattern = "^[ \\t\\n\\f\\r]*https?://[^ \\t\\n\\f\\r]+[ \\t\\n\\f\\r]*$"
        )
    )]
    pub runbook: Option<String>,
    /// `before` (the window before the deploy; default), `last_week` or `control`
    /// (group `baseline` against group `canary`).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[ \\t\\n\\f\\r]*(before|last_week|control)[ \\t\\n\\f\\r]*$")
    )]
    pub baseline: Option<String>,
    /// Fail when more than 10 % of the bake's samples are below this (metric's unit).
    #[cfg_attr(feature = "openapi", schema(minimum = -1e15, maximum = 1e15))]
    pub min_value: Option<f64>,
    /// Fail when more than 10 % of the bake's samples are above this (metric's unit).
    #[cfg_attr(feature = "openapi", schema(minimum = -1e15, maximum = 1e15))]
    pub max_value: Option<f64>,
    /// Fail when the bake's median sits more than this many standard deviations from
    /// the last four hours' median, the bad way (decided when the bake is complete).
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1000))]
    pub max_sigma: Option<f64>,
    /// Fail when the bake's slope sits more than this many standard deviations from
    /// the slopes of same-length windows of the last four hours, the bad way.
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1000))]
    pub max_slope_sigma: Option<f64>,
}

impl MetricDefinitionRequest {
    /// The definition, or every problem, each named after `at` (`metric[2]`, or ``
    /// for an API body).
    pub fn parse(&self, at: &str) -> Result<MetricDefinition, ValidationErrors> {
        let mut p = Problems::default();
        let definition = self.parse_into(&mut p, at);
        match definition {
            Some(definition) if p.is_empty() => Ok(definition),
            _ => Err(p.into_errors()),
        }
    }

    fn parse_into(&self, p: &mut Problems, at: &str) -> Option<MetricDefinition> {
        let field = |name: &str| {
            if at.is_empty() {
                name.to_owned()
            } else {
                format!("{at}.{name}")
            }
        };
        let name = match self.name.as_deref() {
            None => {
                p.add(field("name"), "is required");
                None
            }
            Some(raw) => MetricName::parse(raw)
                .map_err(|e| p.add(field("name"), e))
                .ok(),
        };
        // Lengths count what was sent, surrounding spaces too, as the API document says.
        let unit = self
            .unit
            .as_deref()
            .map(str::trim_ascii)
            .unwrap_or_default();
        if self.unit.as_deref().unwrap_or_default().chars().count() > MAX_UNIT_LEN {
            p.add(
                field("unit"),
                format!("must be at most {MAX_UNIT_LEN} characters"),
            );
        }
        let query = self
            .query
            .as_deref()
            .map(str::trim_ascii)
            .filter(|q| !q.is_empty());
        let source = match self.source.as_deref().map(str::trim_ascii) {
            None => {
                p.add(field("source"), "is required: push or prometheus");
                None
            }
            Some("push") => {
                if query.is_some() {
                    p.add(
                        field("query"),
                        "only a prometheus metric has a query; pushed samples arrive at /api/v1/metrics",
                    );
                }
                Some(MetricSource::Push)
            }
            Some("prometheus") => match query {
                None => {
                    p.add(field("query"), "a prometheus metric needs its PromQL query");
                    None
                }
                Some(_)
                    if self.query.as_deref().unwrap_or_default().chars().count()
                        > MAX_QUERY_LEN =>
                {
                    p.add(
                        field("query"),
                        format!("must be at most {MAX_QUERY_LEN} characters"),
                    );
                    None
                }
                Some(q) => match unknown_placeholder(q) {
                    Some(bad) => {
                        p.add(
                            field("query"),
                            format!(
                                "knows the placeholders {{{{service}}}}, {{{{environment}}}} and {{{{group}}}}, not {{{{{bad}}}}}"
                            ),
                        );
                        None
                    }
                    None => Some(MetricSource::Prometheus {
                        query: q.to_owned(),
                    }),
                },
            },
            Some(other) => {
                p.add(
                    field("source"),
                    format!("must be push or prometheus, got {}", clip(other)),
                );
                None
            }
        };
        let services = match &self.services {
            None => {
                p.add(
                    field("services"),
                    "is required: service names, or [\"*\"] for all",
                );
                None
            }
            Some(list) if list.is_empty() => {
                p.add(
                    field("services"),
                    "names at least one service, or [\"*\"] for all",
                );
                None
            }
            Some(list) => {
                let mut names = BTreeSet::new();
                for (i, raw) in list.iter().enumerate() {
                    let raw = raw.trim_ascii();
                    if raw == "*" {
                        names.insert("*".to_owned());
                    } else {
                        match ServiceName::parse(raw) {
                            Ok(name) => {
                                names.insert(name.to_string());
                            }
                            Err(e) => p.add(field(&format!("services[{i}]")), e.to_string()),
                        }
                    }
                }
                Some(if names.contains("*") {
                    vec!["*".to_owned()]
                } else {
                    names.into_iter().collect()
                })
            }
        };
        let environments = Some(
            self.environments
                .as_deref()
                .map(|list| environment_list(p, &field, list)),
        );
        let check = CheckFields {
            direction: self.direction.clone(),
            tolerance: self.tolerance,
            tolerance_floor: self.tolerance_floor,
            critical: self.critical,
            weight: self.weight,
            min_samples: self.min_samples,
            runbook: self.runbook.clone(),
            baseline: self.baseline.clone(),
            min_value: self.min_value,
            max_value: self.max_value,
            max_sigma: self.max_sigma,
            max_slope_sigma: self.max_slope_sigma,
        }
        .parse_into(p, &field);
        Some(MetricDefinition {
            name: name?,
            unit: unit.to_owned(),
            source: source?,
            services: services?,
            environments: environments?,
            check,
        })
    }
}

/// One step of making the stored definitions match the declared ones.
#[derive(Debug, Clone, PartialEq)]
// A handful per configuration change, never on a hot path. `allow`, not `expect`:
// on wasm32 the variants are small enough that the lint does not fire.
#[allow(clippy::large_enum_variant)]
pub enum DefinitionChange {
    Create(MetricDefinition),
    Update {
        before: MetricDefinition,
        after: MetricDefinition,
    },
    Delete(MetricDefinition),
}

impl DefinitionChange {
    pub fn name(&self) -> &MetricName {
        match self {
            DefinitionChange::Create(d)
            | DefinitionChange::Update { after: d, .. }
            | DefinitionChange::Delete(d) => &d.name,
        }
    }

    /// `+ name`, `~ name: what changed`, `- name`, as the command prints it.
    pub fn describe(&self) -> String {
        match self {
            DefinitionChange::Create(d) => format!("+ {} ({})", d.name, summary(d)),
            DefinitionChange::Delete(d) => format!("- {}", d.name),
            DefinitionChange::Update { before, after } => {
                let mut what = Vec::new();
                if before.unit != after.unit {
                    what.push(format!("unit {:?} -> {:?}", before.unit, after.unit));
                }
                if before.source != after.source {
                    what.push(format!("source -> {}", source_summary(&after.source)));
                }
                if before.services != after.services {
                    what.push(format!("services -> {}", after.services.join(", ")));
                }
                if before.environments != after.environments {
                    what.push(format!("environments -> {}", environments(after)));
                }
                if before.check != after.check {
                    what.push(format!("check -> {}", check_summary(after)));
                }
                format!("~ {}: {}", after.name, what.join("; "))
            }
        }
    }
}

fn source_summary(source: &MetricSource) -> String {
    match source {
        MetricSource::Push => "push".to_owned(),
        MetricSource::Prometheus { query } => format!("prometheus {}", clip(query)),
    }
}

fn environments(d: &MetricDefinition) -> String {
    d.environments.as_ref().map_or_else(
        || "all".to_owned(),
        |list| {
            list.iter()
                .map(EnvironmentName::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        },
    )
}

fn summary(d: &MetricDefinition) -> String {
    format!(
        "{}, services {}, environments {}, {}",
        source_summary(&d.source),
        d.services.join(", "),
        environments(d),
        check_summary(d)
    )
}

/// `judged: increase_is_bad, tolerance 5 %, critical, …` or `not judged`.
pub fn check_summary(d: &MetricDefinition) -> String {
    let Some(check) = &d.check else {
        return "not judged".to_owned();
    };
    let direction = match check.direction {
        Direction::IncreaseIsBad => "increase_is_bad",
        Direction::DecreaseIsBad => "decrease_is_bad",
        Direction::Both => "both",
    };
    let baseline = match check.baseline {
        BaselineKind::Before => "before",
        BaselineKind::LastWeek => "last_week",
        BaselineKind::Control => "control",
    };
    let mut parts = vec![
        format!("judged: {direction}"),
        format!("tolerance {}", check.tolerance),
        format!("baseline {baseline}"),
    ];
    if check.tolerance_floor > 0.0 {
        parts.push(format!("floor {}", check.tolerance_floor));
    }
    if check.critical {
        parts.push("critical".to_owned());
    }
    if check.weight != 1.0 {
        parts.push(format!("weight {}", check.weight));
    }
    if check.min_samples != super::judge::DEFAULT_MIN_SAMPLES {
        parts.push(format!("min_samples {}", check.min_samples));
    }
    if let Some(runbook) = &check.runbook {
        parts.push(format!("runbook {}", clip(runbook)));
    }
    for (name, value) in [
        ("min_value", check.min_value),
        ("max_value", check.max_value),
        ("max_sigma", check.max_sigma),
        ("max_slope_sigma", check.max_slope_sigma),
    ] {
        if let Some(value) = value {
            parts.push(format!("{name} {value}"));
        }
    }
    parts.join(", ")
}

/// What makes `stored` equal `wanted`: creations, updates and deletions by name.
pub fn plan_definitions(
    stored: &[MetricDefinition],
    wanted: &[MetricDefinition],
) -> Vec<DefinitionChange> {
    let stored: BTreeMap<&MetricName, &MetricDefinition> =
        stored.iter().map(|d| (&d.name, d)).collect();
    let wanted_by_name: BTreeMap<&MetricName, &MetricDefinition> =
        wanted.iter().map(|d| (&d.name, d)).collect();
    let mut changes = Vec::new();
    for (name, want) in &wanted_by_name {
        match stored.get(name) {
            None => changes.push(DefinitionChange::Create((*want).clone())),
            Some(have) if have != want => changes.push(DefinitionChange::Update {
                before: (*have).clone(),
                after: (*want).clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, have) in &stored {
        if !wanted_by_name.contains_key(name) {
            changes.push(DefinitionChange::Delete((*have).clone()));
        }
    }
    changes
}

mod file;
pub use file::*;
mod promql;
pub use promql::*;
mod timing;
use promql::unknown_placeholder;
use timing::environment_list;
pub use timing::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_timings_read_from_the_file_and_the_closest_applies() {
        // TOML tables arrive as these objects (the server crate reads the file).
        let file: ConfigFile = serde_json::from_str(
            r#"{"service": [
                {"name": "*", "bake": "20m"},
                {"name": "checkout", "environments": ["production"], "warmup": "1m",
                 "bake": "30m", "interval": "15s"}
            ]}"#,
        )
        .expect("decodes");
        let configuration = file.parse_all().expect("valid");
        let timings = &configuration.services;
        let place = |s: &str, e: &str| {
            timing_for(
                timings,
                &ServiceName::parse(s).expect("s"),
                &EnvironmentName::parse(e).expect("e"),
            )
        };
        assert_eq!(place("checkout", "production").bake_secs, 1800);
        assert_eq!(place("checkout", "production").interval_secs, 15);
        assert_eq!(place("checkout", "staging").bake_secs, 1200);
        assert_eq!(place("checkout", "staging").warmup_secs, 120);
        assert_eq!(
            timing_for(
                &[],
                &ServiceName::parse("x").expect("x"),
                &EnvironmentName::parse("y").expect("y")
            ),
            Timing::default()
        );

        let bad: ConfigFile = serde_json::from_str(
            r#"{"service": [
                {"name": "checkout", "bake": "1m", "warmup": "5m"},
                {"bake": "soon"}
            ]}"#,
        )
        .expect("decodes");
        let fields: Vec<String> = bad
            .parse_all()
            .expect_err("invalid")
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert!(fields.contains(&"service[0].bake".to_owned()), "{fields:?}");
        assert!(fields.contains(&"service[1].name".to_owned()), "{fields:?}");
        assert!(fields.contains(&"service[1].bake".to_owned()), "{fields:?}");
    }
    use chrono::TimeZone;

    fn request(toml_like: serde_json::Value) -> MetricDefinitionRequest {
        serde_json::from_value(toml_like).expect("decodes")
    }

    fn name(raw: &str) -> ServiceName {
        ServiceName::parse(raw).expect("name")
    }

    fn env(raw: &str) -> EnvironmentName {
        EnvironmentName::parse(raw).expect("name")
    }

    #[test]
    fn a_prometheus_definition_parses_and_applies_where_it_says() {
        let d = request(serde_json::json!({
            "name": "latency_p95", "unit": "ms", "source": "prometheus",
            "query": "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"{{service}}\", env=\"{{ environment }}\"}[1m])))",
            "services": ["checkout", "cart"], "environments": ["production"]
        }))
        .parse("")
        .expect("valid");
        assert!(d.applies_to(&name("cart"), &env("production")));
        assert!(!d.applies_to(&name("cart"), &env("staging")));
        assert!(!d.applies_to(&name("search"), &env("production")));
        assert_eq!(
            d.query_for(&name("checkout"), &env("production"), None)
                .as_deref(),
            Some(
                "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"checkout\", env=\"production\"}[1m])))"
            )
        );
        let everywhere = request(
            serde_json::json!({"name": "errors", "source": "push", "services": ["checkout", "*"]}),
        )
        .parse("")
        .expect("valid");
        assert_eq!(everywhere.services, ["*"]);
        assert!(everywhere.applies_to(&name("anything"), &env("dev")));
    }

    #[test]
    fn bad_definitions_name_each_problem() {
        let err = request(serde_json::json!({
            "name": "9x", "source": "prometheus", "query": "up{job=\"{{svc}}\"}",
            "services": ["ok", "not ok"], "environments": []
        }))
        .parse("metric[3]")
        .expect_err("refused");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "metric[3].name",
                "metric[3].query",
                "metric[3].services[1]",
                "metric[3].environments"
            ]
        );
        assert!(err.0[1].message.contains("{{svc}}"), "{}", err.0[1].message);
        let err = request(
            serde_json::json!({"name": "m", "source": "push", "query": "up", "services": []}),
        )
        .parse("")
        .expect_err("refused");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["query", "services"]);
    }

    #[test]
    fn a_file_is_planned_against_what_is_stored() {
        let file: ConfigFile = serde_json::from_value(serde_json::json!({"metric": [
            {"name": "b", "source": "push", "services": ["*"]},
            {"name": "a", "unit": "ms", "source": "push", "services": ["checkout"]},
        ]}))
        .expect("decodes");
        let wanted = file.parse().expect("valid");
        assert_eq!(wanted[0].name.as_str(), "a", "sorted by name");
        let stored = vec![
            MetricDefinition {
                unit: "s".into(),
                ..wanted[0].clone()
            },
            MetricDefinition {
                name: MetricName::parse("old").expect("name"),
                ..wanted[1].clone()
            },
        ];
        let plan: Vec<String> = plan_definitions(&stored, &wanted)
            .iter()
            .map(DefinitionChange::describe)
            .collect();
        assert_eq!(
            plan,
            [
                "~ a: unit \"s\" -> \"ms\"",
                "+ b (push, services *, environments all, not judged)",
                "- old"
            ]
        );
        assert!(plan_definitions(&wanted, &wanted).is_empty());
        let twice: ConfigFile = serde_json::from_value(serde_json::json!({"metric": [
            {"name": "a", "source": "push", "services": ["*"]},
            {"name": "a", "source": "push", "services": ["*"]},
        ]}))
        .expect("decodes");
        let err = twice.parse().expect_err("refused");
        assert_eq!(err.0[0].field, "metric[1].name");
    }

    #[test]
    fn values_are_escaped_for_promql() {
        assert_eq!(promql_escape(r#"a"b\c'd"#), r#"a\"b\\c\'d"#);
        assert_eq!(
            render_query(
                r#"up{job="{{service}}", g="{{group}}"} {{other}}"#,
                "x\"y",
                "p",
                ""
            ),
            r#"up{job="x\"y", g=""} {{other}}"#
        );
    }

    #[test]
    fn the_step_keeps_a_window_under_prometheus_limit() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
            .single()
            .expect("t");
        let window = |hours: i64| TimeWindow {
            from: t0,
            to: t0 + chrono::Duration::hours(hours),
        };
        assert_eq!(query_step(&window(2)), MIN_QUERY_STEP_SECS);
        for hours in [2, 24, 24 * 8, 24 * 31] {
            let w = window(hours);
            let step = query_step(&w);
            let points = (w.to - w.from).num_seconds() / step + 1;
            assert!(
                points < PROMETHEUS_MAX_POINTS,
                "{hours} h: step {step} gives {points}"
            );
        }
    }

    #[test]
    fn a_query_range_answer_parses_and_non_finite_values_are_left_out() {
        let series = parse_query_range(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"job":"checkout"},"values":[[1795341600,"0.5"],[1795341610.5,"NaN"],[1795341620,"+Inf"],[1795341630,"1e-3"]]}]}}"#,
        )
        .expect("parses");
        assert_eq!(series.len(), 1);
        assert_eq!(
            series[0].labels.get("job").map(String::as_str),
            Some("checkout")
        );
        let values: Vec<f64> = series[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(values, [0.5, 0.001]);
        let err = parse_query_range(
            r#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#,
        )
        .expect_err("error");
        assert!(err.contains("bad_data: parse error"), "{err}");
        assert!(
            parse_query_range(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
                .is_err()
        );
        assert!(parse_query_range("<html>").is_err());
    }
}

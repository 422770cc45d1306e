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

/// A configuration file as `houston config apply` reads it (TOML): `[[metric]]`
/// tables (with their check fields), `[[service]]` tables (the judge's timings),
/// `[[environment]]` tables (the gate's promotion rules) and `[[repository]]` tables
/// (GitHub repositories whose pull requests wait while a place is locked).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub metric: Vec<MetricDefinitionRequest>,
    #[serde(default)]
    pub service: Vec<ServiceTimingRequest>,
    #[serde(default)]
    pub environment: Vec<EnvironmentGateRequest>,
    #[serde(default)]
    pub repository: Vec<RepositoryRequest>,
}

/// An `[[environment]]` table: what the gate asks of a version before it goes there.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentGateRequest {
    pub name: Option<String>,
    /// The version must have gone through the previous stage, judged healthy.
    pub require_previous_stage: Option<bool>,
    /// And baked there at least this long (`30m`, `2h`).
    pub min_bake: Option<String>,
    /// Refs this environment accepts (`main`, `release/*`).
    pub branches: Option<Vec<String>>,
    /// Stop the line: an open incident of at least this severity (`critical`,
    /// `high`, `medium`, `low`) stops deploys to the places it touches.
    pub stop_on_incident: Option<String>,
}

/// A `[[repository]]` table: a GitHub repository (`owner/name`) whose open pull
/// requests get the `houston/gate` commit status of a place.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryRequest {
    pub name: Option<String>,
    /// The service it deploys; the repository's own name when absent.
    pub service: Option<String>,
    /// The environment whose locks hold its merges (default `production`).
    pub environment: Option<String>,
    /// Show a lock's reason and who placed it in the commit status (default
    /// false: on a public repository they would be public).
    pub share_reasons: Option<bool>,
}

/// A GitHub repository linked to the place whose locks hold its merges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryLink {
    /// `owner/name`, as GitHub writes it.
    pub repository: String,
    pub service: ServiceName,
    pub environment: EnvironmentName,
    /// Whether statuses carry the lock's reason; otherwise a neutral text.
    #[serde(default)]
    pub share_reasons: bool,
}

/// The settings key the repository links are stored under (JSON list).
pub const REPOSITORIES_SETTING: &str = "github.repositories";

impl EnvironmentGateRequest {
    fn parse_into(&self, p: &mut Problems, at: &str) -> Option<super::locks::EnvironmentGate> {
        let environment = p.name(
            &format!("{at}.name"),
            self.name.as_deref(),
            EnvironmentName::parse,
        );
        let min_bake_secs = match self.min_bake.as_deref() {
            None => 0,
            Some(raw) => match super::judge::parse_duration(raw) {
                Ok(d) => d.num_seconds(),
                Err(message) => {
                    p.add(format!("{at}.min_bake"), message);
                    0
                }
            },
        };
        let branches: Vec<String> = self
            .branches
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.trim().to_owned())
            .collect();
        if branches.iter().any(|b| b.is_empty() || b.len() > 255) {
            p.add(
                format!("{at}.branches"),
                "each must be a ref pattern of 1 to 255 characters",
            );
        }
        let stop_on_incident = match self.stop_on_incident.as_deref() {
            None => None,
            Some(raw) => super::incidents::Severity::parse(raw).or_else(|| {
                p.add(
                    format!("{at}.stop_on_incident"),
                    "must be critical, high, medium or low",
                );
                None
            }),
        };
        Some(super::locks::EnvironmentGate {
            environment: environment?,
            require_previous_stage: self.require_previous_stage.unwrap_or(min_bake_secs > 0),
            min_bake_secs,
            branches,
            stop_on_incident,
        })
    }
}

impl RepositoryRequest {
    fn parse_into(&self, p: &mut Problems, at: &str) -> Option<RepositoryLink> {
        let name = self.name.as_deref().map(str::trim).unwrap_or("");
        let valid = name.split_once('/').is_some_and(|(owner, repo)| {
            let part = |s: &str| {
                !s.is_empty()
                    && s.len() <= 100
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            };
            part(owner) && part(repo)
        });
        if !valid {
            p.add(
                format!("{at}.name"),
                "must be a GitHub repository as owner/name",
            );
            return None;
        }
        let default_service = name.rsplit('/').next().unwrap_or(name);
        let service = p.name(
            &format!("{at}.service"),
            Some(self.service.as_deref().unwrap_or(default_service)),
            ServiceName::parse,
        );
        let environment = p.name(
            &format!("{at}.environment"),
            Some(self.environment.as_deref().unwrap_or("production")),
            EnvironmentName::parse,
        );
        Some(RepositoryLink {
            repository: name.to_owned(),
            service: service?,
            environment: environment?,
            share_reasons: self.share_reasons.unwrap_or(false),
        })
    }
}

/// A `[[service]]` table: when a service's deploys are judged.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTimingRequest {
    /// A service name, or `*` for every service.
    pub name: Option<String>,
    /// Only these environments; all when absent.
    pub environments: Option<Vec<String>>,
    pub warmup: Option<String>,
    pub bake: Option<String>,
    pub interval: Option<String>,
}

/// Warm-up, bake and interval for a service (or `*`), maybe only in some environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTiming {
    pub service: String,
    pub environments: Option<Vec<EnvironmentName>>,
    pub timing: Timing,
}

impl ServiceTiming {
    /// How closely it matches a place: a named service beats `*`, and named
    /// environments beat all; `None` when it does not apply.
    fn rank(&self, service: &ServiceName, environment: &EnvironmentName) -> Option<u8> {
        let service_rank = if self.service == service.as_str() {
            2
        } else if self.service == "*" {
            0
        } else {
            return None;
        };
        match &self.environments {
            None => Some(service_rank),
            Some(list) if list.contains(environment) => Some(service_rank + 1),
            Some(_) => None,
        }
    }

    /// `checkout (production)` or `* (all environments)`.
    pub fn key(&self) -> String {
        let environments = self.environments.as_ref().map_or_else(
            || "all environments".to_owned(),
            |list| {
                list.iter()
                    .map(EnvironmentName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        format!("{} ({environments})", self.service)
    }
}

/// The timing of a place: the closest `[[service]]` match, else the defaults.
pub fn timing_for(
    timings: &[ServiceTiming],
    service: &ServiceName,
    environment: &EnvironmentName,
) -> Timing {
    timings
        .iter()
        .filter_map(|t| t.rank(service, environment).map(|rank| (rank, t.timing)))
        .max_by_key(|(rank, _)| *rank)
        .map_or_else(Timing::default, |(_, timing)| timing)
}

/// `warmup 2m, bake 15m, interval 30s`.
pub fn describe_timing(timing: &Timing) -> String {
    let text = |secs: i64| {
        if secs % 60 == 0 {
            format!("{}m", secs / 60)
        } else {
            format!("{secs}s")
        }
    };
    format!(
        "warmup {}, bake {}, interval {}",
        text(timing.warmup_secs),
        text(timing.bake_secs),
        text(timing.interval_secs)
    )
}

impl ServiceTimingRequest {
    fn parse_into(&self, p: &mut Problems, at: &str) -> Option<ServiceTiming> {
        let field = |name: &str| format!("{at}.{name}");
        let service = match self.name.as_deref().map(str::trim_ascii) {
            None => {
                p.add(
                    field("name"),
                    "is required: a service name, or \"*\" for all",
                );
                None
            }
            Some("*") => Some("*".to_owned()),
            Some(raw) => ServiceName::parse(raw)
                .map(|name| name.to_string())
                .map_err(|e| p.add(field("name"), e.to_string()))
                .ok(),
        };
        let environments = self
            .environments
            .as_deref()
            .map(|list| environment_list(p, &field, list));
        let timing = TimingFields {
            warmup: self.warmup.clone(),
            bake: self.bake.clone(),
            interval: self.interval.clone(),
        }
        .parse_into(p, &field);
        Some(ServiceTiming {
            service: service?,
            environments,
            timing,
        })
    }
}

/// One step of making the stored timings match the declared ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimingChange {
    Set {
        before: Option<ServiceTiming>,
        after: ServiceTiming,
    },
    Delete(ServiceTiming),
}

impl TimingChange {
    pub fn key(&self) -> String {
        match self {
            TimingChange::Set { after: t, .. } | TimingChange::Delete(t) => t.key(),
        }
    }

    /// `+ service checkout (production): warmup 1m, bake 30m, interval 15s`, `~ …`, `- …`.
    pub fn describe(&self) -> String {
        match self {
            TimingChange::Set {
                before: None,
                after,
            } => {
                format!(
                    "+ service {}: {}",
                    after.key(),
                    describe_timing(&after.timing)
                )
            }
            TimingChange::Set {
                before: Some(_),
                after,
            } => format!(
                "~ service {}: {}",
                after.key(),
                describe_timing(&after.timing)
            ),
            TimingChange::Delete(t) => format!("- service {}", t.key()),
        }
    }
}

/// What makes the stored timings equal the wanted ones, by service and environments.
pub fn plan_timings(stored: &[ServiceTiming], wanted: &[ServiceTiming]) -> Vec<TimingChange> {
    let mut changes = Vec::new();
    for want in wanted {
        let before = stored.iter().find(|t| t.key() == want.key());
        if before != Some(want) {
            changes.push(TimingChange::Set {
                before: before.cloned(),
                after: want.clone(),
            });
        }
    }
    for old in stored {
        if !wanted.iter().any(|t| t.key() == old.key()) {
            changes.push(TimingChange::Delete(old.clone()));
        }
    }
    changes
}

/// A list of environment names, sorted and without repeats; each bad one named
/// (`environments[2]`), and an empty list refused (leave it out for all).
fn environment_list(
    p: &mut Problems,
    field: &dyn Fn(&str) -> String,
    list: &[String],
) -> Vec<EnvironmentName> {
    let mut names = BTreeSet::new();
    for (i, raw) in list.iter().enumerate() {
        match EnvironmentName::parse(raw) {
            Ok(name) => {
                names.insert(name);
            }
            Err(e) => p.add(field(&format!("environments[{i}]")), e.to_string()),
        }
    }
    if list.is_empty() {
        p.add(
            field("environments"),
            "names at least one environment, or leave it out for all",
        );
    }
    names.into_iter().collect()
}

/// What a configuration file declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration {
    pub metrics: Vec<MetricDefinition>,
    pub services: Vec<ServiceTiming>,
    /// The gate's promotion rules, by environment.
    pub gates: Vec<super::locks::EnvironmentGate>,
    /// GitHub repositories and the places whose locks hold their merges.
    pub repositories: Vec<RepositoryLink>,
}

impl ConfigFile {
    /// Every definition and timing, or every problem (names used twice too).
    pub fn parse_all(&self) -> Result<Configuration, ValidationErrors> {
        let mut p = Problems::default();
        let metrics = match self.parse() {
            Ok(metrics) => metrics,
            Err(errors) => {
                for e in errors.0 {
                    p.add(e.field, e.message);
                }
                Vec::new()
            }
        };
        let mut services: Vec<ServiceTiming> = Vec::new();
        for (i, request) in self.service.iter().enumerate() {
            let at = format!("service[{i}]");
            if let Some(timing) = request.parse_into(&mut p, &at) {
                if services.iter().any(|t| t.key() == timing.key()) {
                    p.add(
                        format!("{at}.name"),
                        format!("{} is set twice", timing.key()),
                    );
                }
                services.push(timing);
            }
        }
        let mut gates: Vec<super::locks::EnvironmentGate> = Vec::new();
        for (i, request) in self.environment.iter().enumerate() {
            let at = format!("environment[{i}]");
            if let Some(gate) = request.parse_into(&mut p, &at) {
                if gates.iter().any(|g| g.environment == gate.environment) {
                    p.add(
                        format!("{at}.name"),
                        format!("{} is set twice", gate.environment),
                    );
                }
                gates.push(gate);
            }
        }
        let mut repositories: Vec<RepositoryLink> = Vec::new();
        for (i, request) in self.repository.iter().enumerate() {
            let at = format!("repository[{i}]");
            if let Some(link) = request.parse_into(&mut p, &at) {
                if repositories
                    .iter()
                    .any(|r| r.repository.eq_ignore_ascii_case(&link.repository))
                {
                    p.add(
                        format!("{at}.name"),
                        format!("{} is set twice", link.repository),
                    );
                }
                repositories.push(link);
            }
        }
        if !p.is_empty() {
            return Err(p.into_errors());
        }
        services.sort_by_key(ServiceTiming::key);
        gates.sort_by(|a, b| a.environment.cmp(&b.environment));
        repositories.sort_by(|a, b| a.repository.cmp(&b.repository));
        Ok(Configuration {
            metrics,
            services,
            gates,
            repositories,
        })
    }

    /// Every definition, sorted by name, or every problem (names used twice too).
    pub fn parse(&self) -> Result<Vec<MetricDefinition>, ValidationErrors> {
        let mut p = Problems::default();
        let mut seen: BTreeMap<MetricName, usize> = BTreeMap::new();
        let mut definitions = Vec::new();
        for (i, request) in self.metric.iter().enumerate() {
            let at = format!("metric[{i}]");
            if let Some(definition) = request.parse_into(&mut p, &at) {
                if let Some(first) = seen.insert(definition.name.clone(), i) {
                    p.add(
                        format!("{at}.name"),
                        format!(
                            "{} is defined twice (also metric[{first}])",
                            definition.name
                        ),
                    );
                }
                definitions.push(definition);
            }
        }
        if !p.is_empty() {
            return Err(p.into_errors());
        }
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(definitions)
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

/// A placeholder in `{{…}}` that is not one Houston fills in.
fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Some(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    None
}

/// A value escaped for a PromQL string literal in double or single quotes.
pub fn promql_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The template with its placeholders (`{{service}}`, `{{ service }}`, …) filled
/// with escaped values.
pub fn render_query(template: &str, service: &str, environment: &str, group: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match after[..end].trim() {
            "service" => out.push_str(&promql_escape(service)),
            "environment" => out.push_str(&promql_escape(environment)),
            "group" => out.push_str(&promql_escape(group)),
            _ => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The step (whole seconds) for a range query over `window`: at least
/// [`MIN_QUERY_STEP_SECS`], and coarse enough that the window stays under
/// Prometheus' 11,000 points per series.
pub fn query_step(window: &TimeWindow) -> i64 {
    let span = (window.to - window.from).num_seconds().max(0);
    // points = span / step + 1 must stay below the limit.
    let per = PROMETHEUS_MAX_POINTS - 2;
    let needed = (span + per - 1) / per;
    needed.max(MIN_QUERY_STEP_SECS)
}

/// One series of a `query_range` answer: its labels and samples, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSeries {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

#[derive(Deserialize)]
struct PromAnswer {
    status: String,
    #[serde(default)]
    data: Option<PromData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct PromData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<PromResult>,
}

#[derive(Deserialize)]
struct PromResult {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// The series of a Prometheus `query_range` answer, or what went wrong (Prometheus'
/// own error, or an answer that is not a matrix). Samples that are not finite
/// (`NaN`, `+Inf`: an empty rate, a division by zero) are left out: no data, not a value.
pub fn parse_query_range(body: &str) -> Result<Vec<PromSeries>, String> {
    let answer: PromAnswer = serde_json::from_str(body)
        .map_err(|e| format!("Prometheus answered something that is not its API's JSON: {e}"))?;
    if answer.status != "success" {
        return Err(format!(
            "Prometheus answered {}: {}",
            answer.error_type.as_deref().unwrap_or("an error"),
            answer.error.as_deref().unwrap_or("(no message)")
        ));
    }
    let data = answer
        .data
        .ok_or_else(|| "Prometheus answered success without data".to_owned())?;
    if data.result_type != "matrix" {
        return Err(format!(
            "a range query should answer a matrix, Prometheus answered a {}",
            data.result_type
        ));
    }
    Ok(data
        .result
        .into_iter()
        .map(|r| PromSeries {
            labels: r.metric,
            samples: r
                .values
                .into_iter()
                .filter_map(|(t, v)| {
                    let value = v.parse::<f64>().ok().filter(|v| v.is_finite())?;
                    let at = DateTime::<Utc>::from_timestamp_micros((t * 1e6).round() as i64)?;
                    Some(Sample { at, value })
                })
                .collect(),
        })
        .collect())
}

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

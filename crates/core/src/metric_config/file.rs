//! The configuration file (`houston config apply`): its tables read into one
//! `Configuration` with every problem named.

use super::*;

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
    fn parse_into(&self, p: &mut Problems, at: &str) -> Option<crate::locks::EnvironmentGate> {
        let environment = p.name(
            &format!("{at}.name"),
            self.name.as_deref(),
            EnvironmentName::parse,
        );
        let min_bake_secs = match self.min_bake.as_deref() {
            None => 0,
            Some(raw) => match crate::judge::parse_duration(raw) {
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
            Some(raw) => crate::incidents::Severity::parse(raw).or_else(|| {
                p.add(
                    format!("{at}.stop_on_incident"),
                    "must be critical, high, medium or low",
                );
                None
            }),
        };
        Some(crate::locks::EnvironmentGate {
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

/// What a configuration file declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration {
    pub metrics: Vec<MetricDefinition>,
    pub services: Vec<ServiceTiming>,
    /// The gate's promotion rules, by environment.
    pub gates: Vec<crate::locks::EnvironmentGate>,
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
        let mut gates: Vec<crate::locks::EnvironmentGate> = Vec::new();
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

//! A service's timing (`[[service]]`: warm-up, bake, interval), and the plan of
//! changes to the stored timings.

use super::*;

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
    pub(super) fn parse_into(&self, p: &mut Problems, at: &str) -> Option<ServiceTiming> {
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
pub(super) fn environment_list(
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

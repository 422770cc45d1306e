//! Break glass: a lead's override that lets one deploy through the rules it names,
//! and its claim by one pipeline run.

use super::*;

/// The body of `POST /api/v1/overrides`: break glass for one deploy.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BreakGlassRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "checkout", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub service: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "production", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub environment: Option<String>,
    /// Only this version may use it; absent: any version.
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub version: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 4096, pattern = "\\S", example = "hotfix for INC-231"))]
    pub reason: Option<String>,
    /// How long it may wait to be used: 1 to 1440 minutes, 60 by default.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1440))]
    pub expires_in_minutes: Option<i64>,
    /// The gate rules it breaks: `lock` and `freeze` when absent; `alert`,
    /// `unhealthy`, `promotion` and `branch` only when named.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<BreakableRule>>, min_items = 1, example = json!(["lock", "freeze"])))]
    pub breaks: Option<Vec<String>>,
}

/// A rule an override may break, as the API document names them.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(Serialize)]
pub enum BreakableRule {
    Lock,
    Freeze,
    Alert,
    Unhealthy,
    Promotion,
    Branch,
    Incident,
}

/// A validated override to grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBreakGlass {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub version: Option<String>,
    pub reason: String,
    pub expires_at: DateTime<Utc>,
    /// The rules it breaks, each once, in `GateRule::BREAKABLE` order.
    pub breaks: Vec<GateRule>,
}

impl BreakGlassRequest {
    pub fn parse(&self, now: DateTime<Utc>) -> Result<NewBreakGlass, ValidationErrors> {
        let mut p = Problems::default();
        let service = p.name("service", self.service.as_deref(), ServiceName::parse);
        let environment = p.name(
            "environment",
            self.environment.as_deref(),
            EnvironmentName::parse,
        );
        let version = self
            .version
            .as_deref()
            .map(str::trim_ascii)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        if version.as_ref().is_some_and(|v| v.chars().count() > 200) {
            p.add("version", "must be at most 200 characters");
        }
        let reason = parse_reason(&mut p, "reason", self.reason.as_deref());
        let minutes = self.expires_in_minutes.unwrap_or(DEFAULT_OVERRIDE_MINUTES);
        if !(1..=MAX_OVERRIDE_MINUTES).contains(&minutes) {
            p.add(
                "expires_in_minutes",
                format!("must be from 1 to {MAX_OVERRIDE_MINUTES} (break glass is short)"),
            );
        }
        let breaks = match &self.breaks {
            None => GateRule::BROKEN_BY_DEFAULT.to_vec(),
            Some(names) => match GateRule::parse_breakable(names) {
                Ok(rules) => rules,
                Err(message) => {
                    p.add("breaks", message);
                    Vec::new()
                }
            },
        };
        match (service, environment, reason) {
            (Some(service), Some(environment), Some(reason)) if p.is_empty() => Ok(NewBreakGlass {
                service,
                environment,
                version,
                reason,
                expires_at: crate::to_stored_precision(now + Duration::minutes(minutes)),
                breaks,
            }),
            _ => Err(p.into_errors()),
        }
    }
}

/// A granted override: lets exactly one deploy through the rules it `breaks`,
/// until `expires_at`. The gate only says it is available; a pipeline run claims
/// it (`POST /api/v1/gate/claim`), after which the gate allows that run alone; the
/// first matching deploy registered over a block spends it (`used_by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Override {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub service: ServiceName,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub environment: EnvironmentName,
    pub version: Option<String>,
    pub reason: String,
    pub granted_by: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The deploy that used it.
    pub used_by: Option<i64>,
    pub used_at: Option<DateTime<Utc>>,
    /// The gate rules it breaks.
    pub breaks: Vec<GateRule>,
    /// The pipeline run it is reserved for, once claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<OverrideClaim>,
}

/// Who reserved an override, for which run and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OverrideClaim {
    /// The pipeline run (`GITHUB_RUN_ID`, a build URL …) it is reserved for.
    pub run: String,
    pub version: Option<String>,
    pub by: String,
    pub at: DateTime<Utc>,
}

impl Override {
    /// Not spent and not expired at `now`.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }

    /// Whether it breaks every one of `rules`.
    pub fn breaks_all(&self, rules: &[GateRule]) -> bool {
        rules.iter().all(|r| self.breaks.contains(r))
    }

    /// Whether `claimant` holds its claim: the same caller, run and version.
    pub fn claimed_by(&self, claimant: &Claimant) -> bool {
        self.claim.as_ref().is_some_and(|c| {
            c.run == claimant.run && c.version == claimant.version && c.by == claimant.by
        })
    }

    /// Whether a deploy of `version` may spend it: unclaimed, or claimed for that
    /// version (or for none).
    pub fn spendable_by(&self, version: &str) -> bool {
        self.claim
            .as_ref()
            .is_none_or(|c| c.version.as_deref().is_none_or(|v| v == version))
    }

    /// Whether it lets `version` of `service` to `environment` through.
    pub fn matches(
        &self,
        service: &ServiceName,
        environment: &EnvironmentName,
        version: Option<&str>,
    ) -> bool {
        &self.service == service
            && &self.environment == environment
            && self
                .version
                .as_deref()
                .is_none_or(|v| version.is_some_and(|asked| asked.trim_ascii() == v))
    }
}

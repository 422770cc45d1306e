//! The gate: the question CI asks (`GateQuery`, `GateClaimRequest`), the facts it is
//! answered from (`GateFacts`), THE decision (`decide_gate`) and how its answer is
//! told (`GateAnswer`, `gate_lines`).

use super::*;

/// Why the gate says what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GateRule {
    /// A lock on the place is in force.
    Lock,
    /// A freeze window covering the place is active.
    Freeze,
    /// An alert fires for the place.
    Alert,
    /// The deploy running there now is judged unhealthy.
    Unhealthy,
    /// The version has not passed the previous stage (deployed, healthy, baked).
    Promotion,
    /// The ref is not one the environment accepts.
    Branch,
    /// An open incident of at least the environment's chosen severity touches the
    /// place (stop the line).
    Incident,
    /// A lead's override lets this deploy through.
    Override,
}

impl GateRule {
    /// The rules an override may break, in the order they are stored and told.
    pub const BREAKABLE: [GateRule; 7] = [
        GateRule::Lock,
        GateRule::Freeze,
        GateRule::Alert,
        GateRule::Unhealthy,
        GateRule::Promotion,
        GateRule::Branch,
        GateRule::Incident,
    ];
    /// What a grant breaks when it names nothing: locks, freeze windows and the
    /// line an incident stopped (break glass).
    pub const BROKEN_BY_DEFAULT: [GateRule; 3] =
        [GateRule::Lock, GateRule::Freeze, GateRule::Incident];

    /// `lock`, `freeze` …, exactly as `as_str` writes them.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::BREAKABLE
            .into_iter()
            .chain([GateRule::Override])
            .find(|r| r.as_str() == raw)
    }

    /// A grant's list of rules to break: known, breakable, at least one; each once,
    /// in `BREAKABLE` order.
    pub fn parse_breakable(names: &[String]) -> Result<Vec<GateRule>, String> {
        let mut rules = Vec::new();
        for name in names {
            match Self::parse(name) {
                Some(rule) if rule != GateRule::Override => rules.push(rule),
                _ => {
                    return Err(format!(
                        "{name:?} is not a rule an override breaks; use lock, freeze, alert, unhealthy, promotion or branch"
                    ));
                }
            }
        }
        if rules.is_empty() {
            return Err("name at least one rule to break (lock, freeze …)".into());
        }
        Ok(Self::BREAKABLE
            .into_iter()
            .filter(|r| rules.contains(r))
            .collect())
    }

    /// The stored form: `lock,freeze`.
    pub fn join(rules: &[GateRule]) -> String {
        rules
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form; `None` when a name is not a breakable rule.
    pub fn parse_stored(raw: &str) -> Option<Vec<GateRule>> {
        let names: Vec<String> = raw.split(',').map(str::to_owned).collect();
        Self::parse_breakable(&names).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GateRule::Lock => "lock",
            GateRule::Freeze => "freeze",
            GateRule::Alert => "alert",
            GateRule::Unhealthy => "unhealthy",
            GateRule::Promotion => "promotion",
            GateRule::Branch => "branch",
            GateRule::Incident => "incident",
            GateRule::Override => "override",
        }
    }
}

/// One reason of the gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateReason {
    pub rule: GateRule,
    /// In words: "locked by user:ada: Black Friday", "freeze 'Weekend': …".
    pub detail: String,
    /// Who set it (locks, overrides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Since when it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Until when it holds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// The lock's, window's, override's or deploy's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

impl GateReason {
    pub(super) fn new(rule: GateRule, detail: impl Into<String>) -> Self {
        Self {
            rule,
            detail: detail.into(),
            by: None,
            since: None,
            until: None,
            id: None,
        }
    }

    /// Whether this reason stops a deploy (an override's does not).
    pub fn blocks(&self) -> bool {
        self.rule != GateRule::Override
    }
}

/// The gate's answer (`GET /api/v1/gate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateAnswer {
    pub allowed: bool,
    /// Every reason that holds; empty when nothing stands in the way.
    pub reasons: Vec<GateReason>,
    /// An override that would let this deploy through, once a pipeline run claims
    /// it (`POST /api/v1/gate/claim`, `houston gate --claim`): asking the gate
    /// spends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_available: Option<i64>,
}

impl GateAnswer {
    /// The rules it is counted under: each blocking rule once when denied; `override`
    /// or `none` when allowed.
    pub fn counted_rules(&self) -> Vec<&'static str> {
        if self.allowed {
            let by_override = self.reasons.iter().any(|r| r.rule == GateRule::Override);
            return vec![if by_override { "override" } else { "none" }];
        }
        let mut rules: Vec<&'static str> = self
            .reasons
            .iter()
            .filter(|r| r.blocks())
            .map(|r| r.rule.as_str())
            .collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }
}

/// The question CI asks (`GET /api/v1/gate`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct GateQuery {
    #[cfg_attr(
        feature = "openapi",
        param(
            required = true,
            pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"
        )
    )]
    pub service: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        param(
            required = true,
            pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"
        )
    )]
    pub environment: Option<String>,
    /// The version about to go out (needed by promotion rules).
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub version: Option<String>,
    /// The branch or ref it was built from (`main`, `refs/heads/main`).
    #[cfg_attr(feature = "openapi", param(max_length = 255))]
    pub r#ref: Option<String>,
}

/// A parsed gate question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateAsk {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub version: Option<String>,
    /// The branch name (`refs/heads/` taken off).
    pub branch: Option<String>,
}

impl GateQuery {
    pub fn parse(&self) -> Result<GateAsk, ValidationErrors> {
        let mut p = Problems::default();
        let service = p.name("service", self.service.as_deref(), ServiceName::parse);
        let environment = p.name(
            "environment",
            self.environment.as_deref(),
            EnvironmentName::parse,
        );
        let text = |raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim_ascii)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        };
        let version = text(&self.version);
        if version.as_ref().is_some_and(|v| v.chars().count() > 200) {
            p.add("version", "must be at most 200 characters");
        }
        let branch = text(&self.r#ref).map(|r| {
            r.strip_prefix("refs/heads/")
                .map(str::to_owned)
                .unwrap_or(r)
        });
        if branch.as_ref().is_some_and(|b| b.chars().count() > 255) {
            p.add("ref", "must be at most 255 characters");
        }
        match (service, environment) {
            (Some(service), Some(environment)) if p.is_empty() => Ok(GateAsk {
                service,
                environment,
                version,
                branch,
            }),
            _ => Err(p.into_errors()),
        }
    }
}

/// The promotion rules of one environment (`[[environment]]` in the configuration
/// file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentGate {
    pub environment: EnvironmentName,
    /// The version must have gone through the previous stage: deployed, judged
    /// healthy there, and baked at least `min_bake_secs`. Off for the first stage.
    #[serde(default)]
    pub require_previous_stage: bool,
    #[serde(default)]
    pub min_bake_secs: i64,
    /// Refs the environment accepts (`*` matches any run of characters); empty: any.
    #[serde(default)]
    pub branches: Vec<String>,
    /// Stop the line: an open incident of at least this severity stops deploys to
    /// the places it touches until it resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_incident: Option<crate::incidents::Severity>,
}

/// A line an open incident stops: deploys of `services` (none named: every service)
/// to `environment`, whose rule stops the line for incidents this severe. What the
/// banner and the board show; the gate decides on the incidents themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedLine {
    pub incident: i64,
    pub title: String,
    pub severity: crate::incidents::Severity,
    pub environment: EnvironmentName,
    pub services: Vec<ServiceName>,
}

impl StoppedLine {
    /// Whether the line stops every deploy `scope` holds: the scope is in the
    /// environment, and is one of the services or the incident names none.
    pub fn covers(&self, scope: &LockScope) -> bool {
        scope.environment.as_ref() == Some(&self.environment)
            && (self.services.is_empty()
                || scope
                    .service
                    .as_ref()
                    .is_some_and(|s| self.services.contains(s)))
    }

    /// "checkout, cart in production" or "production".
    pub fn describe(&self) -> String {
        if self.services.is_empty() {
            self.environment.to_string()
        } else {
            let services: Vec<&str> = self.services.iter().map(|s| s.as_str()).collect();
            format!("{} in {}", services.join(", "), self.environment)
        }
    }
}

/// The lines `incidents` stop under the environments' `rules`: one per incident and
/// environment whose `stop_on_incident` it meets, in the rules' order.
pub fn stopped_lines(
    incidents: &[crate::incidents::Incident],
    rules: &[EnvironmentGate],
) -> Vec<StoppedLine> {
    let mut out = Vec::new();
    for rule in rules {
        let Some(least) = rule.stop_on_incident else {
            continue;
        };
        for incident in incidents {
            if incident.stops_at(least) && incident.touches_environment(&rule.environment) {
                out.push(StoppedLine {
                    incident: incident.id,
                    title: incident.title.clone(),
                    severity: incident.severity,
                    environment: rule.environment.clone(),
                    services: incident.services.clone(),
                });
            }
        }
    }
    out
}

/// The settings key the environments' gate rules are stored under (JSON list).
pub const GATE_RULES_SETTING: &str = "gate.environments";

/// Whether `branch` matches `pattern`, where `*` matches any run of characters.
pub fn branch_matches(pattern: &str, branch: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == branch;
    };
    if parts.len() == 1 {
        return pattern == branch;
    }
    let Some(mut rest) = branch.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The version's deploy in the previous stage, as the promotion rule reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRecord {
    pub environment: EnvironmentName,
    pub deploy_id: i64,
    /// The verdict it shows (override, else the judge's); `None`: not judged.
    pub verdict: Option<VerdictState>,
    pub is_final: bool,
    /// How long it has run there (until the next deploy there, or now).
    pub baked: Duration,
}

/// A window active now, as the gate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFreeze {
    pub id: i64,
    pub name: String,
    pub note: Option<String>,
    pub until: DateTime<Utc>,
    pub since: DateTime<Utc>,
}

/// A freeze window holding, in words, the same wherever it is told:
/// "freeze window 'Weekend': only fixes".
pub fn freeze_said(name: &str, note: Option<&str>) -> String {
    match note {
        Some(note) => format!("freeze window '{name}': {note}"),
        None => format!("freeze window '{name}'"),
    }
}

/// Everything the gate weighs, gathered by the caller for one place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateFacts {
    /// Locks in force covering the place.
    pub locks: Vec<Lock>,
    pub freezes: Vec<ActiveFreeze>,
    /// Names and summaries of alerts firing for the place.
    pub alerts: Vec<(String, Option<String>, DateTime<Utc>)>,
    /// The latest deploy there: id, version and the verdict it shows.
    pub current: Option<(i64, String, Option<VerdictState>)>,
    pub rules: Option<EnvironmentGate>,
    /// The stage before this environment, when there is one.
    pub previous_stage: Option<EnvironmentName>,
    /// The version's latest deploy in the previous stage.
    pub previous: Option<StageRecord>,
    /// A usable override matching the question: the one `claimant` holds if any,
    /// else an unclaimed one, else one another run holds.
    pub granted: Option<Override>,
    /// The pipeline run asking through a claim (`None`: the plain gate).
    pub claimant: Option<Claimant>,
    /// Open incidents that touch the place (read when the environment stops the line).
    pub incidents: Vec<crate::incidents::Incident>,
}

/// A pipeline run that asks to claim an override: which run, which version, and
/// who asks (`token:ci`): a claim is held by that caller's run alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub run: String,
    pub version: Option<String>,
    pub by: String,
}

/// The longest pipeline-run id a claim takes.
pub const MAX_RUN_CHARS: usize = 200;

/// The body of `POST /api/v1/gate/claim`: the gate's question and the run asking.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GateClaimRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "checkout", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub service: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, example = "production", pattern = "^[ \\t\\n\\f\\r]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[ \\t\\n\\f\\r]*$"))]
    pub environment: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub version: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub r#ref: Option<String>,
    /// The pipeline run asking (`GITHUB_RUN_ID`, a build URL): an override is
    /// reserved for this run alone; asking again with the same run is answered the same.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, min_length = 1, max_length = 200, pattern = "^[!-~]+$", example = "gh-run-7731"))]
    pub run: Option<String>,
}

impl GateClaimRequest {
    /// The question and the claimant; `by` is who asks, as the audit log names them.
    pub fn parse(&self, by: &str) -> Result<(GateAsk, Claimant), ValidationErrors> {
        let question = GateQuery {
            service: self.service.clone(),
            environment: self.environment.clone(),
            version: self.version.clone(),
            r#ref: self.r#ref.clone(),
        };
        let asked = question.parse();
        let run = self.run.as_deref().unwrap_or_default();
        let run_problem = if run.is_empty() {
            Some("is required: the pipeline run asking (GITHUB_RUN_ID, a build URL)")
        } else if run.chars().count() > MAX_RUN_CHARS || run.chars().any(|c| !c.is_ascii_graphic())
        {
            Some("must be 1 to 200 printable ASCII characters without spaces")
        } else {
            None
        };
        match (asked, run_problem) {
            (Ok(ask), None) => {
                let claimant = Claimant {
                    run: run.to_owned(),
                    version: ask.version.clone(),
                    by: by.to_owned(),
                };
                Ok((ask, claimant))
            }
            (Ok(_), Some(problem)) => Err(ValidationErrors(vec![FieldError::new("run", problem)])),
            (Err(mut errors), problem) => {
                if let Some(problem) = problem {
                    errors.0.push(FieldError::new("run", problem));
                }
                Err(errors)
            }
        }
    }
}

fn human(d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    if mins < 120 {
        format!("{mins} min")
    } else {
        format!("{} h {} min", mins / 60, mins % 60)
    }
}

/// THE gate: every reason that holds for `ask` given `facts`; allowed when none
/// blocks, or when a lead's override lets this deploy through.
pub fn decide_gate(ask: &GateAsk, facts: &GateFacts) -> GateAnswer {
    let mut reasons = Vec::new();
    for lock in &facts.locks {
        let mut r = GateReason::new(GateRule::Lock, lock.said());
        r.by = Some(lock.locked_by.clone());
        r.since = Some(lock.locked_at);
        r.until = lock.expires_at;
        r.id = Some(lock.id);
        reasons.push(r);
    }
    for freeze in &facts.freezes {
        let detail = freeze_said(&freeze.name, freeze.note.as_deref());
        let mut r = GateReason::new(GateRule::Freeze, detail);
        r.since = Some(freeze.since);
        r.until = Some(freeze.until);
        r.id = Some(freeze.id);
        reasons.push(r);
    }
    for (name, summary, since) in &facts.alerts {
        let detail = match summary {
            Some(s) => format!("alert {name} is firing: {s}"),
            None => format!("alert {name} is firing"),
        };
        let mut r = GateReason::new(GateRule::Alert, detail);
        r.since = Some(*since);
        reasons.push(r);
    }
    if let Some((id, version, Some(VerdictState::Unhealthy))) = &facts.current {
        let mut r = GateReason::new(
            GateRule::Unhealthy,
            format!(
                "the deploy running in {} now (#{id}, {version}) is judged unhealthy",
                ask.environment
            ),
        );
        r.id = Some(*id);
        reasons.push(r);
    }
    if let Some(rules) = &facts.rules {
        if let Some(least) = rules.stop_on_incident {
            for incident in &facts.incidents {
                if !incident.stops_at(least) || !incident.touches(&ask.service, &ask.environment) {
                    continue;
                }
                let mut r = GateReason::new(
                    GateRule::Incident,
                    format!(
                        "incident {} is open: {} ({})",
                        incident.id,
                        incident.title,
                        incident.severity.as_str()
                    ),
                );
                r.by = Some(incident.opened_by.clone());
                r.since = Some(incident.opened_at);
                r.id = Some(incident.id);
                reasons.push(r);
            }
        }
        if rules.require_previous_stage
            && let Some(stage) = &facts.previous_stage
        {
            promotion_reasons(ask, rules, stage, facts.previous.as_ref(), &mut reasons);
        }
        if !rules.branches.is_empty() {
            let accepted = rules.branches.join(", ");
            match &ask.branch {
                None => reasons.push(GateReason::new(
                    GateRule::Branch,
                    format!(
                        "{} accepts only {accepted}; say which ref (ref=…)",
                        ask.environment
                    ),
                )),
                Some(branch) if !rules.branches.iter().any(|p| branch_matches(p, branch)) => {
                    reasons.push(GateReason::new(
                        GateRule::Branch,
                        format!("{} accepts only {accepted}, not {branch}", ask.environment),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let blocking: Vec<GateRule> = reasons
        .iter()
        .filter(|r| r.blocks())
        .map(|r| r.rule)
        .collect();
    let mut answer = GateAnswer {
        allowed: blocking.is_empty(),
        reasons,
        override_available: None,
    };
    if let Some(granted) = &facts.granted
        && !blocking.is_empty()
    {
        let claimed_here = facts
            .claimant
            .as_ref()
            .is_some_and(|c| granted.claimed_by(c));
        let detail = if !granted.breaks_all(&blocking) {
            format!(
                "override #{} granted by {} breaks only {}: it does not clear this",
                granted.id,
                granted.granted_by,
                GateRule::join(&granted.breaks)
            )
        } else if claimed_here {
            answer.allowed = true;
            format!(
                "override #{} granted by {}: {} (claimed by this run; lets one deploy through)",
                granted.id, granted.granted_by, granted.reason
            )
        } else if let Some(claim) = &granted.claim {
            // Not the run's id: knowing it must not be a way in.
            format!(
                "override #{} granted by {} is claimed by another run (of {})",
                granted.id, granted.granted_by, claim.by
            )
        } else {
            answer.override_available = Some(granted.id);
            format!(
                "override #{} granted by {}: {} (available: claim it for one deploy with houston gate --claim)",
                granted.id, granted.granted_by, granted.reason
            )
        };
        let mut r = GateReason::new(GateRule::Override, detail);
        r.by = Some(granted.granted_by.clone());
        r.since = Some(granted.granted_at);
        r.until = Some(granted.expires_at);
        r.id = Some(granted.id);
        answer.reasons.push(r);
    }
    answer
}

fn promotion_reasons(
    ask: &GateAsk,
    rules: &EnvironmentGate,
    stage: &EnvironmentName,
    previous: Option<&StageRecord>,
    reasons: &mut Vec<GateReason>,
) {
    let Some(version) = &ask.version else {
        reasons.push(GateReason::new(
            GateRule::Promotion,
            format!(
                "{} takes only versions that passed {stage}; say which version (version=…)",
                ask.environment
            ),
        ));
        return;
    };
    let Some(record) = previous else {
        reasons.push(GateReason::new(
            GateRule::Promotion,
            format!("{version} has not been deployed to {stage}"),
        ));
        return;
    };
    let mut push = |detail: String| {
        let mut r = GateReason::new(GateRule::Promotion, detail);
        r.id = Some(record.deploy_id);
        reasons.push(r);
    };
    match (record.verdict, record.is_final) {
        (Some(VerdictState::Healthy), true) => {}
        (Some(VerdictState::Healthy), false) | (Some(VerdictState::Baking), _) => push(format!(
            "{version} is still baking in {stage} (deploy #{})",
            record.deploy_id
        )),
        (Some(state), _) => push(format!(
            "{version} was judged {} in {stage} (deploy #{})",
            state.label(),
            record.deploy_id
        )),
        (None, _) => push(format!(
            "{version} was not judged in {stage} (deploy #{})",
            record.deploy_id
        )),
    }
    let needed = Duration::seconds(rules.min_bake_secs);
    if rules.min_bake_secs > 0 && record.baked < needed {
        push(format!(
            "{version} has baked {} in {stage}; {} needs {}",
            human(record.baked),
            ask.environment,
            human(needed)
        ));
    }
}

/// A gate answer's reasons in words, one per line, as `houston gate` prints them
/// into CI logs: every control character escaped (no ANSI cursor moves, no second
/// line) and no line a CI runner reads as a command (`::error::`, `::add-mask::`).
pub fn gate_lines(answer: &GateAnswer) -> Vec<String> {
    answer
        .reasons
        .iter()
        .map(|r| {
            let until = r
                .until
                .map(|u| format!(" (until {})", u.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            safe_for_logs(&format!("{}: {}{until}", r.rule.as_str(), r.detail))
        })
        .collect()
}

/// `text` as one inert line of a CI log: control characters (ANSI escapes, line
/// breaks, tabs) written as `\u{..}` escapes, and `::` written `:\:` so no part of
/// it reads as a GitHub Actions workflow command.
pub fn safe_for_logs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_invisible_format(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else if c == ':' && out.ends_with(':') {
            // Every second colon of a run is escaped, so no `::` is left.
            out.push_str("\\:");
        } else {
            out.push(c);
        }
    }
    out
}

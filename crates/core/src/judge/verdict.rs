//! A deploy's verdict from its checks: the states and rules, the reading at one look
//! (`read_checks`, `conclude`), the verdict as stored and served, and a lead's override.

use super::*;

/// A deploy's state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictState {
    Baking,
    Healthy,
    Ailing,
    Unhealthy,
    NoData,
    /// More than half of the weight of the checks with data (or a critical check)
    /// could not tell a regression from their metric's noise.
    CantTell,
}

impl VerdictState {
    /// Every state, in the order filters list them.
    pub const ALL: [VerdictState; 6] = [
        VerdictState::Baking,
        VerdictState::Healthy,
        VerdictState::Ailing,
        VerdictState::Unhealthy,
        VerdictState::NoData,
        VerdictState::CantTell,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VerdictState::Baking => "baking",
            VerdictState::Healthy => "healthy",
            VerdictState::Ailing => "ailing",
            VerdictState::Unhealthy => "unhealthy",
            VerdictState::NoData => "no_data",
            VerdictState::CantTell => "cant_tell",
        }
    }

    /// As people read it: `no data`, `can't tell`.
    pub fn label(self) -> &'static str {
        match self {
            VerdictState::Baking => "baking",
            VerdictState::Healthy => "healthy",
            VerdictState::Ailing => "ailing",
            VerdictState::Unhealthy => "unhealthy",
            VerdictState::NoData => "no data",
            VerdictState::CantTell => "can't tell",
        }
    }

    pub fn parse(raw: &str) -> Option<VerdictState> {
        VerdictState::ALL
            .into_iter()
            .find(|state| state.as_str() == raw)
    }
}

/// An error fingerprint first seen after the deploy, often enough to count.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewErrorGroup {
    pub fingerprint: String,
    pub message: String,
    pub first_seen: DateTime<Utc>,
    pub occurrences: u64,
}

/// Why the deploy got its state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictRule {
    /// The deploy is in progress or inside its warm-up: nothing to read yet.
    WarmingUp,
    /// The deploy failed or was rolled back: there is no new version to judge.
    DeployDidNotSucceed,
    NoChecks,
    CriticalCheckFailed,
    NewErrorGroups,
    CriticalCheckWithoutData,
    MostChecksWithoutData,
    CriticalCheckCouldNotTell,
    MostChecksCouldNotTell,
    Score,
}

impl VerdictRule {
    pub(super) const ALL: [VerdictRule; 10] = [
        VerdictRule::WarmingUp,
        VerdictRule::DeployDidNotSucceed,
        VerdictRule::NoChecks,
        VerdictRule::CriticalCheckFailed,
        VerdictRule::NewErrorGroups,
        VerdictRule::CriticalCheckWithoutData,
        VerdictRule::MostChecksWithoutData,
        VerdictRule::CriticalCheckCouldNotTell,
        VerdictRule::MostChecksCouldNotTell,
        VerdictRule::Score,
    ];

    /// The name stored and sent (`critical_check_failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictRule::WarmingUp => "warming_up",
            VerdictRule::DeployDidNotSucceed => "deploy_did_not_succeed",
            VerdictRule::NoChecks => "no_checks",
            VerdictRule::CriticalCheckFailed => "critical_check_failed",
            VerdictRule::NewErrorGroups => "new_error_groups",
            VerdictRule::CriticalCheckWithoutData => "critical_check_without_data",
            VerdictRule::MostChecksWithoutData => "most_checks_without_data",
            VerdictRule::CriticalCheckCouldNotTell => "critical_check_could_not_tell",
            VerdictRule::MostChecksCouldNotTell => "most_checks_could_not_tell",
            VerdictRule::Score => "score",
        }
    }

    pub fn parse(raw: &str) -> Option<VerdictRule> {
        VerdictRule::ALL
            .into_iter()
            .find(|rule| rule.as_str() == raw)
    }

    pub fn describe(self) -> &'static str {
        match self {
            VerdictRule::WarmingUp => "waiting for the deploy to finish and warm up",
            VerdictRule::DeployDidNotSucceed => "the deploy did not succeed",
            VerdictRule::NoChecks => "no check applies to this deploy",
            VerdictRule::CriticalCheckFailed => "a critical check failed",
            VerdictRule::NewErrorGroups => "new error groups appeared after the deploy",
            VerdictRule::CriticalCheckWithoutData => "a critical check has no data",
            VerdictRule::MostChecksWithoutData => "half or more of the checks have no data",
            VerdictRule::CriticalCheckCouldNotTell => {
                "a critical check could not tell a regression from noise"
            }
            VerdictRule::MostChecksCouldNotTell => {
                "more than half of the checks could not tell a regression from noise"
            }
            VerdictRule::Score => "weighted share of passing checks",
        }
    }
}

/// The deploy's reading from its checks at one look.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// What the checks say now (never `baking`).
    pub state: VerdictState,
    pub rule: VerdictRule,
    /// Weighted share of passing checks among those that could tell, 0–100.
    pub score: Option<f64>,
}

/// Any critical failure (or a new error group) is unhealthy; without enough data,
/// `no_data`; when a critical check, or more than half of the weight of the checks
/// with data, could not tell, `cant_tell`; otherwise the weighted score of the checks that could tell
/// against 95 (healthy) and 75 (ailing).
pub fn read_checks(checks: &[CheckReceipt], new_error_groups: &[NewErrorGroup]) -> Reading {
    let weight = |state: &dyn Fn(CheckState) -> bool| -> f64 {
        checks
            .iter()
            .filter(|check| state(check.state))
            .map(|check| check.weight.max(0.0))
            .sum()
    };
    let total_weight = weight(&|_| true);
    let data_weight = weight(&|state| state != CheckState::NoData);
    let told_weight = weight(&|state| matches!(state, CheckState::Healthy | CheckState::Unhealthy));
    let passing_weight = weight(&|state| state == CheckState::Healthy);
    let score = (told_weight > 0.0).then(|| 100.0 * passing_weight / told_weight);
    let reading = |state, rule| Reading { state, rule, score };
    if checks
        .iter()
        .any(|check| check.critical && check.state == CheckState::Unhealthy)
    {
        return reading(VerdictState::Unhealthy, VerdictRule::CriticalCheckFailed);
    }
    if !new_error_groups.is_empty() {
        return reading(VerdictState::Unhealthy, VerdictRule::NewErrorGroups);
    }
    if checks.is_empty() {
        return reading(VerdictState::NoData, VerdictRule::NoChecks);
    }
    if checks
        .iter()
        .any(|check| check.critical && check.state == CheckState::NoData)
    {
        return reading(VerdictState::NoData, VerdictRule::CriticalCheckWithoutData);
    }
    // Weights are never NaN (negative ones count as 0).
    if data_weight <= 0.0 || 2.0 * data_weight <= total_weight {
        return reading(VerdictState::NoData, VerdictRule::MostChecksWithoutData);
    }
    if checks
        .iter()
        .any(|check| check.critical && check.state == CheckState::CantTell)
    {
        return reading(
            VerdictState::CantTell,
            VerdictRule::CriticalCheckCouldNotTell,
        );
    }
    // One check of two (of equal weight) that cannot tell leaves the other to decide
    // (and the row names it); more than half the weight, and the deploy is "can't tell".
    if 2.0 * told_weight < data_weight {
        return reading(VerdictState::CantTell, VerdictRule::MostChecksCouldNotTell);
    }
    let state = match score {
        Some(score) if score >= HEALTHY_SCORE => VerdictState::Healthy,
        Some(score) if score >= AILING_SCORE => VerdictState::Ailing,
        _ => VerdictState::Unhealthy,
    };
    reading(state, VerdictRule::Score)
}

/// Fingerprints first seen after the deploy with at least this many occurrences in
/// the analysis window fail it, whatever the baseline had.
pub const NEW_ERROR_MIN_OCCURRENCES: u64 = 5;

/// Everything the judge used and decided at a deploy's latest look.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VerdictReceipt {
    /// The time the judge took as the deploy's (its finish, else its start).
    pub deployed_at: Option<DateTime<Utc>>,
    pub analysis_end: Option<DateTime<Utc>>,
    pub bake_end: Option<DateTime<Utc>>,
    pub timing: Option<Timing>,
    pub checks: Vec<CheckReceipt>,
    pub new_error_groups: Vec<NewErrorGroup>,
    pub new_error_min_occurrences: u64,
}

/// A lead's word over the judge's: the computed verdict stays beside it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerdictOverride {
    pub state: VerdictState,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A deploy's verdict as stored and served.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub deploy_id: i64,
    /// `baking` until final; then the reading.
    pub state: VerdictState,
    /// While baking: what the checks say so far.
    pub provisional: Option<VerdictState>,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub score: Option<f64>,
    pub rule: VerdictRule,
    pub decided_at: Option<DateTime<Utc>>,
    pub evaluated_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub receipt: VerdictReceipt,
    #[serde(rename = "override")]
    pub verdict_override: Option<VerdictOverride>,
}

impl Verdict {
    /// What people are told: the override when a lead set one, else the judge's.
    pub fn shown_state(&self) -> VerdictState {
        self.verdict_override
            .as_ref()
            .map_or(self.state, |o| o.state)
    }
}

/// The outcome of one look at a deploy, to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub state: VerdictState,
    pub provisional: Option<VerdictState>,
    pub is_final: bool,
    pub score: Option<f64>,
    pub rule: VerdictRule,
    pub receipt: VerdictReceipt,
    /// When to look again (ignored once final).
    pub next_look_at: DateTime<Utc>,
}

/// The deploy's state from its checks at a look: final when the window is complete
/// or when the checks already say unhealthy (a check only fails past its sequential
/// bar, so that is decided), else `baking` with the reading so far.
pub fn conclude(
    receipt: VerdictReceipt,
    complete: bool,
    next_look_at: DateTime<Utc>,
) -> Evaluation {
    let reading = read_checks(&receipt.checks, &receipt.new_error_groups);
    let is_final = complete || reading.state == VerdictState::Unhealthy;
    Evaluation {
        state: if is_final {
            reading.state
        } else {
            VerdictState::Baking
        },
        provisional: (!is_final).then_some(reading.state),
        is_final,
        score: reading.score,
        rule: reading.rule,
        receipt,
        next_look_at,
    }
}

/// A look that decides nothing yet (the deploy is running or warming up), or that
/// ends the judging without data (the deploy did not succeed).
pub fn waiting(rule: VerdictRule, next_look_at: DateTime<Utc>) -> Evaluation {
    let is_final = rule == VerdictRule::DeployDidNotSucceed;
    Evaluation {
        state: if is_final {
            VerdictState::NoData
        } else {
            VerdictState::Baking
        },
        provisional: None,
        is_final,
        score: None,
        rule,
        receipt: VerdictReceipt::default(),
        next_look_at,
    }
}

/// The longest reason an override may give.
pub const MAX_OVERRIDE_REASON_LEN: usize = 500;

/// `POST /api/v1/deploys/{id}/verdict/override`: a lead's word over the judge's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// `healthy` or `unhealthy`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, pattern = "^[ \\t\\n\\f\\r]*(healthy|unhealthy)[ \\t\\n\\f\\r]*$"))]
    pub state: Option<String>,
    /// Why, for the page and the audit log: required, up to 500 characters.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, nullable = false, max_length = 500, pattern = "[^ \\t\\n\\f\\r]"))]
    pub reason: Option<String>,
}

impl OverrideRequest {
    /// The state and the reason, or every problem.
    pub fn parse(&self) -> Result<(VerdictState, String), crate::deploy::ValidationErrors> {
        let mut p = crate::deploy::Problems::default();
        let state = match self.state.as_deref().map(str::trim_ascii) {
            Some("healthy") => Some(VerdictState::Healthy),
            Some("unhealthy") => Some(VerdictState::Unhealthy),
            Some(_) => {
                p.add("state", "must be healthy or unhealthy");
                None
            }
            None => {
                p.add("state", "is required: healthy or unhealthy");
                None
            }
        };
        let reason = match self.reason.as_deref() {
            None => {
                p.add(
                    "reason",
                    "is required: say why, for the page and the audit log",
                );
                None
            }
            Some(raw) if raw.chars().count() > MAX_OVERRIDE_REASON_LEN => {
                p.add(
                    "reason",
                    format!("must be at most {MAX_OVERRIDE_REASON_LEN} characters"),
                );
                None
            }
            Some(raw) if raw.trim_ascii().is_empty() => {
                p.add("reason", "must not be empty");
                None
            }
            Some(raw) => Some(raw.trim_ascii().to_owned()),
        };
        match (state, reason) {
            (Some(state), Some(reason)) if p.is_empty() => Ok((state, reason)),
            _ => Err(p.into_errors()),
        }
    }
}

//! What a check is asked to judge: which change is bad ([`Direction`]), what it is
//! compared with ([`BaselineKind`]), the check's settings ([`CheckSpec`]) and the
//! service's timing ([`Timing`]), with their defaults.

use super::*;

pub const DEFAULT_TOLERANCE: f64 = 0.10;
pub const DEFAULT_MIN_SAMPLES: usize = 10;
pub const DEFAULT_WARMUP: Duration = Duration::minutes(2);
pub const DEFAULT_BAKE: Duration = Duration::minutes(15);
pub const DEFAULT_INTERVAL: Duration = Duration::seconds(30);

/// Which change of a metric is bad.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    IncreaseIsBad,
    DecreaseIsBad,
    Both,
}

impl Direction {
    /// A change measured the bad way: positive is worse (for `both`, any move).
    pub fn bad_way(self, change: f64) -> f64 {
        match self {
            Direction::IncreaseIsBad => change,
            Direction::DecreaseIsBad => -change,
            Direction::Both => change.abs(),
        }
    }
}

/// What a deploy's window is compared with.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// The window before the deploy.
    #[default]
    Before,
    /// The same window one week earlier.
    LastWeek,
    /// Group `baseline` against group `canary` over the same window.
    Control,
}

/// How a metric is judged: the check fields of a metric definition.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSpec {
    pub direction: Direction,
    pub critical: bool,
    pub weight: f64,
    /// Relative change that never matters (0.05 = 5 %).
    pub tolerance: f64,
    /// Absolute change, in the metric's unit, below which nothing matters.
    pub tolerance_floor: f64,
    pub min_samples: usize,
    pub runbook: Option<String>,
    pub baseline: BaselineKind,
    /// The pipeline's checks beside the comparison ([`guards`]): absolute bounds in
    /// the metric's unit, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// … the most standard deviations the bake's median may sit from the history's, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sigma: Option<f64>,
    /// … and the most the bake's slope may sit from the history windows' slopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_slope_sigma: Option<f64>,
}

impl CheckSpec {
    pub fn new(direction: Direction) -> CheckSpec {
        CheckSpec {
            direction,
            critical: false,
            weight: 1.0,
            tolerance: DEFAULT_TOLERANCE,
            tolerance_floor: 0.0,
            min_samples: DEFAULT_MIN_SAMPLES,
            runbook: None,
            baseline: BaselineKind::Before,
            min_value: None,
            max_value: None,
            max_sigma: None,
            max_slope_sigma: None,
        }
    }
}

/// When a service's deploys are judged.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Samples this soon after the deploy are left out (restarts, cold caches).
    pub warmup_secs: i64,
    pub bake_secs: i64,
    pub interval_secs: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            warmup_secs: DEFAULT_WARMUP.num_seconds(),
            bake_secs: DEFAULT_BAKE.num_seconds(),
            interval_secs: DEFAULT_INTERVAL.num_seconds(),
        }
    }
}

impl Timing {
    pub(super) fn warmup(&self) -> Duration {
        Duration::seconds(self.warmup_secs)
    }

    pub(super) fn bake(&self) -> Duration {
        Duration::seconds(self.bake_secs)
    }

    /// The window before the deploy that a `before` baseline uses: twice the bake.
    pub fn baseline_length(&self) -> Duration {
        Duration::seconds(2 * self.bake_secs)
    }
}

/// The error-rate check Houston adds to every deploy whose place reports errors: more
/// is bad, beyond 10 % and beyond 0.05 occurrences per 10 s (3 a minute over ten
/// minutes) — a stray error or two after a deploy is not a regression.
pub fn error_rate_spec() -> CheckSpec {
    CheckSpec {
        tolerance: 0.10,
        tolerance_floor: 0.05,
        ..CheckSpec::new(Direction::IncreaseIsBad)
    }
}

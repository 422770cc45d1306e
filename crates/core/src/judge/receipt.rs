//! What a check says at one look: its state and the rule that decided it, and the
//! receipt with every number it used ([`CheckReceipt`]), enough to explain it on a
//! page and to recompute it.

use super::*;

/// The scale a metric is compared on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Positive values (latency, rates): logarithms, so +25 % is the same step at any level.
    Log,
    /// Non-negative with zeros (counts): means, with a Poisson floor under the noise.
    Counts,
    /// Anything else: trimmed means of the values.
    Linear,
}

/// Where the noise a check was judged against came from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseMethod {
    /// Placebo deploys over the metric's own history: the bar is their studentised
    /// effects' 99.5 % quantile (× [`PLACEBO_MARGIN`]), or with fewer than
    /// [`QUANTILE_PLACEBOS`] (and for counts) their spread.
    Placebo,
    /// Too little history: an AR(1) model fitted to the history before the deploy
    /// (the four hours and the baseline window), widened.
    Model,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    pub method: NoiseMethod,
    /// Placebo windows used (0 for the model).
    pub windows: usize,
    /// The spread of a calm effect, on the check's scale.
    pub sigma: f64,
}

/// A check's state at one look.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Healthy,
    Unhealthy,
    NoData,
    /// The change is past the tolerance, but this metric's calm swings are wider than
    /// the tolerance too: the judge cannot tell a regression from noise.
    CantTell,
}

impl CheckState {
    /// `healthy`, `unhealthy`, `no data`, `can't tell`.
    pub fn label(self) -> &'static str {
        match self {
            CheckState::Healthy => "healthy",
            CheckState::Unhealthy => "unhealthy",
            CheckState::NoData => "no data",
            CheckState::CantTell => "can't tell",
        }
    }
}

/// The rule that decided a check.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckRule {
    /// Still inside the warm-up: nothing to compare yet.
    WarmingUp,
    SourceUnavailable,
    TooFewBaselineSamples,
    TooFewCurrentSamples,
    /// The change is no larger than the check's tolerance.
    WithinTolerance,
    /// The change is below the check's absolute floor.
    BelowFloor,
    /// The change is within what this metric does when nothing is deployed.
    WithinNoise,
    /// Beyond the tolerance but within the noise, and the smallest change the check
    /// could see is wider than the tolerance: neither healthy nor a regression.
    CouldNotTell,
    /// Beyond the tolerance and far outside the metric's calm moves, the bad way.
    Regressed,
    /// Too many of the bake's samples past an absolute bound.
    OutOfBounds,
    /// The bake sits too many standard deviations from the metric's history.
    FarFromHistory,
    /// The bake's trend is steeper than the history's, the bad way.
    SteepSlope,
}

impl CheckRule {
    /// The state a rule puts a check in.
    pub fn state(self) -> CheckState {
        match self {
            CheckRule::WarmingUp
            | CheckRule::SourceUnavailable
            | CheckRule::TooFewBaselineSamples
            | CheckRule::TooFewCurrentSamples => CheckState::NoData,
            CheckRule::Regressed
            | CheckRule::OutOfBounds
            | CheckRule::FarFromHistory
            | CheckRule::SteepSlope => CheckState::Unhealthy,
            CheckRule::CouldNotTell => CheckState::CantTell,
            CheckRule::WithinTolerance | CheckRule::BelowFloor | CheckRule::WithinNoise => {
                CheckState::Healthy
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            CheckRule::WarmingUp => "still warming up",
            CheckRule::SourceUnavailable => "the metric's source was unavailable",
            CheckRule::TooFewBaselineSamples => "too few samples in the baseline",
            CheckRule::TooFewCurrentSamples => "too few samples since the deploy",
            CheckRule::WithinTolerance => "change within tolerance",
            CheckRule::BelowFloor => "change below the absolute floor",
            CheckRule::WithinNoise => "change within the metric's normal noise",
            CheckRule::CouldNotTell => {
                "change beyond tolerance, but this metric's noise hides changes that size"
            }
            CheckRule::Regressed => "regressed beyond tolerance and noise",
            CheckRule::OutOfBounds => "too much of the bake past a bound",
            CheckRule::FarFromHistory => "too far from the metric's history",
            CheckRule::SteepSlope => "a trend steeper than the history's",
        }
    }
}

impl fmt::Display for CheckRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// One side of a comparison as the receipt shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowReceipt {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub summary: Option<Summary>,
    /// The centre the judge compared (geometric trimmed mean, mean or trimmed mean).
    pub center: Option<f64>,
}

/// Everything a check used and decided at one look: enough to explain it on a page
/// and to recompute it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReceipt {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub metric: MetricName,
    pub state: CheckState,
    pub rule: CheckRule,
    pub direction: Direction,
    pub baseline_kind: BaselineKind,
    pub critical: bool,
    pub weight: f64,
    pub tolerance: f64,
    pub tolerance_floor: f64,
    pub min_samples: usize,
    pub runbook: Option<String>,
    pub baseline: WindowReceipt,
    pub current: WindowReceipt,
    pub scale: Option<Scale>,
    /// Current centre minus baseline centre, in the metric's unit.
    pub delta: Option<f64>,
    /// `delta` relative to the baseline centre (0.12 = +12 %).
    pub delta_relative: Option<f64>,
    /// The compared effect on the check's scale, and the noise it was judged against.
    pub effect: Option<f64>,
    pub noise: Option<Noise>,
    /// Effect over noise, and the bar it had to pass at this look.
    pub z: Option<f64>,
    pub z_bar: Option<f64>,
    /// `z` as a normal tail (times the sides): a reading of how far past the noise the
    /// effect is, not an empirical probability, and not what decides.
    pub p_value: Option<f64>,
    /// The textbook rank test (assumes independent samples; shown, not decisive).
    pub mann_whitney: Option<MannWhitney>,
    /// Hodges–Lehmann shift of current against baseline, in the metric's unit.
    pub shift: Option<Shift>,
    /// The smallest relative change this check could have caught over a full bake,
    /// at its false-alarm rate, with 95 % power.
    pub min_detectable_change: Option<f64>,
    /// The analysis covers the whole bake (or all there will be).
    pub complete: bool,
    pub source_unavailable: bool,
    /// The pipeline's checks the definition asks for, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardReceipt>,
}

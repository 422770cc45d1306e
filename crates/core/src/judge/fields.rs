//! A check as people write it: the check fields of a metric definition (a file, the
//! API, the settings page's form) and a service's timings, checked into a
//! [`CheckSpec`] and a [`Timing`], and one offline case for `houston judge`.

use super::*;

/// The check fields of a metric, as written in a file, the API or an offline case;
/// absent fields take their defaults. Without `direction` a metric is charted but not
/// judged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckFields {
    pub direction: Option<String>,
    pub tolerance: Option<f64>,
    pub tolerance_floor: Option<f64>,
    pub critical: Option<bool>,
    pub weight: Option<f64>,
    pub min_samples: Option<u64>,
    pub runbook: Option<String>,
    pub baseline: Option<String>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub max_sigma: Option<f64>,
    pub max_slope_sigma: Option<f64>,
}

/// The check fields as a settings-page form sends them: text, empty for "the default"
/// (or, for `direction`, "not judged"); `critical` present when ticked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckForm {
    pub direction: String,
    pub tolerance: String,
    pub tolerance_floor: String,
    pub critical: Option<String>,
    pub weight: String,
    pub min_samples: String,
    pub runbook: String,
    pub baseline: String,
    pub min_value: String,
    pub max_value: String,
    pub max_sigma: String,
    pub max_slope_sigma: String,
}

impl CheckForm {
    /// The check (`None`: charted, not judged), or every problem by field.
    pub fn parse(&self) -> Result<Option<CheckSpec>, crate::deploy::ValidationErrors> {
        let mut p = crate::deploy::Problems::default();
        let text = |raw: &str| Some(raw.trim_ascii().to_owned()).filter(|t| !t.is_empty());
        let mut number = |field: &str, raw: &str| -> Option<f64> {
            let raw = text(raw)?;
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    p.add(field, format!("must be a number, got {raw:?}"));
                    None
                }
            }
        };
        let tolerance = number("tolerance", &self.tolerance);
        let tolerance_floor = number("tolerance_floor", &self.tolerance_floor);
        let weight = number("weight", &self.weight);
        let min_samples = number("min_samples", &self.min_samples);
        let min_value = number("min_value", &self.min_value);
        let max_value = number("max_value", &self.max_value);
        let max_sigma = number("max_sigma", &self.max_sigma);
        let max_slope_sigma = number("max_slope_sigma", &self.max_slope_sigma);
        let whole = min_samples.filter(|n| n.fract() == 0.0 && *n >= 0.0);
        if min_samples.is_some() && whole.is_none() {
            p.add("min_samples", "must be a whole number");
        }
        let fields = CheckFields {
            direction: text(&self.direction),
            tolerance,
            tolerance_floor,
            critical: self.critical.as_ref().map(|_| true),
            weight,
            min_samples: whole.map(|n| n as u64),
            runbook: text(&self.runbook),
            baseline: text(&self.baseline),
            min_value,
            max_value,
            max_sigma,
            max_slope_sigma,
        };
        // Without a direction the other fields mean nothing: not judged.
        let check = if fields.direction.is_none() {
            None
        } else {
            fields.parse_into(&mut p, &|name| name.to_owned())
        };
        if p.is_empty() {
            Ok(check)
        } else {
            Err(p.into_errors())
        }
    }
}

pub const MAX_TOLERANCE: f64 = 100.0;
pub const MAX_WEIGHT: f64 = 1000.0;
pub const MAX_MIN_SAMPLES: u64 = 10_000;
/// Bounds are at most this large either way.
pub const MAX_BOUND: f64 = 1e15;
/// The σ and slope checks' limits are above 0 and at most this.
pub const MAX_SIGMA: f64 = 1000.0;
const MAX_RUNBOOK_LEN: usize = 2048;

impl CheckFields {
    /// The check, `None` when the metric is not judged, or the problems (each named
    /// after `field(name)`).
    pub(crate) fn parse_into(
        &self,
        p: &mut crate::deploy::Problems,
        field: &dyn Fn(&str) -> String,
    ) -> Option<CheckSpec> {
        let Some(raw_direction) = self.direction.as_deref() else {
            let set: Vec<&str> = [
                ("tolerance", self.tolerance.is_some()),
                ("tolerance_floor", self.tolerance_floor.is_some()),
                ("critical", self.critical.is_some()),
                ("weight", self.weight.is_some()),
                ("min_samples", self.min_samples.is_some()),
                ("runbook", self.runbook.is_some()),
                ("baseline", self.baseline.is_some()),
                ("min_value", self.min_value.is_some()),
                ("max_value", self.max_value.is_some()),
                ("max_sigma", self.max_sigma.is_some()),
                ("max_slope_sigma", self.max_slope_sigma.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .collect();
            if !set.is_empty() {
                p.add(
                    field("direction"),
                    format!(
                        "is required to judge the metric ({} set without it)",
                        set.join(", ")
                    ),
                );
            }
            return None;
        };
        let direction = match raw_direction.trim_ascii() {
            "increase_is_bad" => Some(Direction::IncreaseIsBad),
            "decrease_is_bad" => Some(Direction::DecreaseIsBad),
            "both" => Some(Direction::Both),
            _ => {
                p.add(
                    field("direction"),
                    "must be increase_is_bad, decrease_is_bad or both",
                );
                None
            }
        };
        let mut spec = CheckSpec::new(direction.unwrap_or(Direction::Both));
        let mut number = |name: &str, value: Option<f64>, low: f64, high: f64, low_open: bool| {
            let value = value?;
            let below = if low_open { value <= low } else { value < low };
            if !value.is_finite() || below || value > high {
                let bound = if low_open { "above" } else { "at least" };
                p.add(
                    field(name),
                    format!("must be {bound} {low} and at most {high}"),
                );
                return None;
            }
            Some(value)
        };
        if let Some(tolerance) = number("tolerance", self.tolerance, 0.0, MAX_TOLERANCE, false) {
            spec.tolerance = tolerance;
        }
        if let Some(floor) = number("tolerance_floor", self.tolerance_floor, 0.0, 1e15, false) {
            spec.tolerance_floor = floor;
        }
        if let Some(weight) = number("weight", self.weight, 0.0, MAX_WEIGHT, true) {
            spec.weight = weight;
        }
        spec.min_value = number("min_value", self.min_value, -MAX_BOUND, MAX_BOUND, false);
        spec.max_value = number("max_value", self.max_value, -MAX_BOUND, MAX_BOUND, false);
        spec.max_sigma = number("max_sigma", self.max_sigma, 0.0, MAX_SIGMA, true);
        spec.max_slope_sigma = number(
            "max_slope_sigma",
            self.max_slope_sigma,
            0.0,
            MAX_SIGMA,
            true,
        );
        spec.critical = self.critical.unwrap_or(false);
        if let Some(min) = self.min_samples {
            if (2..=MAX_MIN_SAMPLES).contains(&min) {
                spec.min_samples = min as usize;
            } else {
                p.add(
                    field("min_samples"),
                    format!("must be from 2 to {MAX_MIN_SAMPLES}"),
                );
            }
        }
        if let Some(runbook) = self.runbook.as_deref() {
            // Counted and split as the API document states them: characters, and the
            // ASCII spaces its pattern names.
            let url = runbook.trim_ascii();
            if runbook.chars().count() > MAX_RUNBOOK_LEN {
                p.add(
                    field("runbook"),
                    format!("must be at most {MAX_RUNBOOK_LEN} characters"),
                );
            } else if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.bytes().any(|b| b.is_ascii_whitespace())
            {
                p.add(field("runbook"), "must be an http(s) URL");
            } else {
                spec.runbook = Some(url.to_owned());
            }
        }
        if let Some(baseline) = self.baseline.as_deref() {
            match baseline.trim_ascii() {
                "before" => spec.baseline = BaselineKind::Before,
                "last_week" => spec.baseline = BaselineKind::LastWeek,
                "control" => spec.baseline = BaselineKind::Control,
                _ => p.add(field("baseline"), "must be before, last_week or control"),
            }
        }
        if let (Some(low), Some(high)) = (spec.min_value, spec.max_value)
            && low > high
        {
            p.add(field("min_value"), "must not be above max_value");
        }
        direction.map(|_| spec)
    }
}

/// The longest bake a service may set.
pub const MAX_BAKE: Duration = Duration::hours(24);

/// Warm-up, bake and interval as written (`"2m"`, `"15m"`, `"30s"`); absent ones take
/// the defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimingFields {
    pub warmup: Option<String>,
    pub bake: Option<String>,
    pub interval: Option<String>,
}

impl TimingFields {
    pub(crate) fn parse_into(
        &self,
        p: &mut crate::deploy::Problems,
        field: &dyn Fn(&str) -> String,
    ) -> Timing {
        let mut timing = Timing::default();
        let mut read = |name: &str, raw: Option<&str>| -> Option<i64> {
            match parse_duration(raw?) {
                Ok(duration) => Some(duration.num_seconds()),
                Err(message) => {
                    p.add(field(name), message);
                    None
                }
            }
        };
        let warmup = read("warmup", self.warmup.as_deref());
        let bake = read("bake", self.bake.as_deref());
        let interval = read("interval", self.interval.as_deref());
        timing.warmup_secs = warmup.unwrap_or(timing.warmup_secs);
        timing.bake_secs = bake.unwrap_or(timing.bake_secs);
        timing.interval_secs = interval.unwrap_or(timing.interval_secs);
        if timing.bake_secs > MAX_BAKE.num_seconds() {
            p.add(field("bake"), "must be at most 24h");
        } else if timing.bake_secs <= timing.warmup_secs {
            p.add(field("bake"), "must be longer than the warm-up");
        }
        if !(5..=timing.bake_secs.max(5)).contains(&timing.interval_secs) {
            p.add(field("interval"), "must be from 5s to the bake time");
        }
        timing
    }
}

/// One metric of one deploy to judge without a server (`houston judge FILE.json`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeCase {
    pub check: CaseCheck,
    pub deployed_at: DateTime<Utc>,
    /// `[time, value]` pairs before and after the deploy (up to 4 hours before).
    pub samples: Vec<(DateTime<Utc>, f64)>,
    /// For `baseline = "control"`: group `baseline`'s samples (`samples` are the
    /// canary's); for `"last_week"`: the samples of one week earlier, at their own times.
    #[serde(default)]
    pub baseline_samples: Option<Vec<(DateTime<Utc>, f64)>>,
    /// Judge as at this time (a provisional reading during the bake); the bake's end
    /// when absent.
    #[serde(default)]
    pub now: Option<DateTime<Utc>>,
    /// The next deploy of the same service and environment, which ends the analysis.
    #[serde(default)]
    pub next_deploy_at: Option<DateTime<Utc>>,
}

/// A case's check: the metric's name, its check fields and the service's timings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCheck {
    pub metric: Option<String>,
    pub direction: Option<String>,
    pub tolerance: Option<f64>,
    pub tolerance_floor: Option<f64>,
    pub critical: Option<bool>,
    pub weight: Option<f64>,
    pub min_samples: Option<u64>,
    pub runbook: Option<String>,
    pub baseline: Option<String>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub max_sigma: Option<f64>,
    pub max_slope_sigma: Option<f64>,
    pub warmup: Option<String>,
    pub bake: Option<String>,
    pub interval: Option<String>,
}

/// What `houston judge` prints: the verdict as the server would reach it, and the
/// check's receipt.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseVerdict {
    pub verdict: VerdictState,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub rule: VerdictRule,
    pub score: Option<f64>,
    /// The reading so far, while baking.
    pub provisional: Option<VerdictState>,
    pub check: CheckReceipt,
}

impl JudgeCase {
    /// Judges the case, or names every problem with it.
    pub fn judge(&self) -> Result<CaseVerdict, crate::deploy::ValidationErrors> {
        let mut p = crate::deploy::Problems::default();
        let field = |name: &str| format!("check.{name}");
        let metric = match self.check.metric.as_deref() {
            Some(raw) => MetricName::parse(raw)
                .map_err(|e| p.add("check.metric", e))
                .ok(),
            None => {
                p.add("check.metric", "is required");
                None
            }
        };
        let fields = CheckFields {
            direction: self.check.direction.clone(),
            tolerance: self.check.tolerance,
            tolerance_floor: self.check.tolerance_floor,
            critical: self.check.critical,
            weight: self.check.weight,
            min_samples: self.check.min_samples,
            runbook: self.check.runbook.clone(),
            baseline: self.check.baseline.clone(),
            min_value: self.check.min_value,
            max_value: self.check.max_value,
            max_sigma: self.check.max_sigma,
            max_slope_sigma: self.check.max_slope_sigma,
        };
        let spec = if fields.direction.is_none() {
            p.add(
                "check.direction",
                "is required: a metric without one is not judged",
            );
            None
        } else {
            fields.parse_into(&mut p, &field)
        };
        let timing = TimingFields {
            warmup: self.check.warmup.clone(),
            bake: self.check.bake.clone(),
            interval: self.check.interval.clone(),
        }
        .parse_into(&mut p, &field);
        if let Some(spec) = &spec
            && spec.baseline != BaselineKind::Before
            && self.baseline_samples.is_none()
        {
            p.add(
                "baseline_samples",
                "is required for a last_week or control baseline",
            );
        }
        if let Some((index, _)) = self
            .samples
            .iter()
            .enumerate()
            .find(|(_, sample)| !sample.1.is_finite())
        {
            p.add(format!("samples[{index}]"), "must be a finite number");
        }
        let (Some(metric), Some(spec)) = (metric, spec) else {
            return Err(p.into_errors());
        };
        if !p.is_empty() {
            return Err(p.into_errors());
        }
        let main = Series::new(self.samples.clone());
        let concurrent = self.baseline_samples.clone().map(|samples| {
            let series = Series::new(samples);
            match spec.baseline {
                BaselineKind::LastWeek => series.shifted(Duration::weeks(1)),
                BaselineKind::Before | BaselineKind::Control => series,
            }
        });
        let bake_end = self.deployed_at + Duration::seconds(timing.bake_secs);
        let now = self.now.unwrap_or(bake_end);
        let look = Look::at(self.deployed_at, &timing, self.next_deploy_at, now);
        let complete = look.is_final(&timing, self.next_deploy_at);
        let data = CheckData {
            main: &main,
            concurrent: concurrent.as_ref(),
            unavailable: false,
        };
        let check = judge_check(&metric, &spec, &timing, data, &look, complete);
        let receipt = VerdictReceipt {
            checks: vec![check.clone()],
            ..VerdictReceipt::default()
        };
        let evaluation = conclude(receipt, complete, now);
        Ok(CaseVerdict {
            verdict: evaluation.state,
            is_final: evaluation.is_final,
            rule: evaluation.rule,
            score: evaluation.score,
            provisional: evaluation.provisional,
            check,
        })
    }
}

/// A duration as people write it in a config file: `90s`, `15m`, `1h`, `1h30m`.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let text = raw.trim_ascii();
    let wrong = || format!("{text:?} is not a duration like \"30s\", \"15m\" or \"1h30m\"");
    if text.is_empty() {
        return Err(wrong());
    }
    let mut seconds: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(wrong()),
        };
        let value: i64 = number.parse().map_err(|_| wrong())?;
        number.clear();
        seconds = value
            .checked_mul(unit)
            .and_then(|part| seconds.checked_add(part))
            .filter(|total| *total <= 7 * 24 * 3600)
            .ok_or_else(|| format!("{text:?} is longer than a week"))?;
    }
    if !number.is_empty() {
        return Err(wrong());
    }
    Ok(Duration::seconds(seconds))
}

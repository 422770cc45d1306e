//! The judge's noise: a metric on its check's scale ([`Scale`]), clamped to its calm
//! range with running sums ([`Prepared`]), the windows of the real deploy and of the
//! placebo deploys slid over the history ([`Geometry`]), and the bars read off them:
//! the placebos' studentised quantile, or their spread under an AR(1) model.

use super::*;

impl Scale {
    pub(super) fn transform(self, value: f64) -> f64 {
        match self {
            Scale::Log => value.ln(),
            Scale::Counts | Scale::Linear => value,
        }
    }

    /// The centre the receipt shows: the geometric 20 %-trimmed mean of positive
    /// values, the mean of counts, else the trimmed mean.
    pub(super) fn center_of(self, sorted: &Sorted) -> f64 {
        let values = sorted.as_slice();
        let mean = |values: &mut dyn Iterator<Item = f64>, len: usize| {
            values.sum::<f64>() / len.max(1) as f64
        };
        // Sorted, so the trimmed middle is a slice (and logarithms keep the order).
        let cut = values.len() / 5;
        let middle = &values[cut..values.len() - cut];
        match self {
            Scale::Log => mean(&mut middle.iter().map(|v| v.ln()), middle.len()).exp(),
            Scale::Counts => mean(&mut values.iter().copied(), values.len()),
            Scale::Linear => mean(&mut middle.iter().copied(), middle.len()),
        }
    }

    /// A step on this scale as a change relative to `level`.
    pub(super) fn relative_change(self, step: f64, level: f64) -> f64 {
        match self {
            Scale::Log => step.exp() - 1.0,
            Scale::Counts | Scale::Linear => {
                if level == 0.0 {
                    f64::INFINITY
                } else {
                    step / level.abs()
                }
            }
        }
    }
}

/// A series on the check's scale, clamped to its calm range, with running sums so any
/// window's mean costs two binary searches. Clamping (winsorising at the median ± 5
/// robust standard deviations of the history before the deploy) keeps a burst from
/// deciding a window; counts are not clamped, a burst of errors is the news.
pub(super) struct Prepared<'a> {
    pub(super) scale: Scale,
    pub(super) times: &'a [i64],
    /// prefix[i] = sum of the first i clamped values.
    pub(super) prefix: Vec<f64>,
    /// prefix2[i] = sum of the squares of the first i clamped values.
    pub(super) prefix2: Vec<f64>,
    /// The clamped values, for the model's autocorrelation.
    pub(super) history: Vec<f64>,
}

impl<'a> Prepared<'a> {
    pub(super) fn new(
        series: &'a Series,
        scale: Scale,
        geometry: &Geometry,
        t0: i64,
    ) -> Prepared<'a> {
        let transformed: Vec<f64> = series.values.iter().map(|&v| scale.transform(v)).collect();
        let history_from = t0 - HISTORY.num_milliseconds() - geometry.baseline_length;
        let start = series.times.partition_point(|&t| t < history_from);
        let end = series.times.partition_point(|&t| t < t0);
        let (low, high) = match scale {
            Scale::Counts => (f64::NEG_INFINITY, f64::INFINITY),
            Scale::Log | Scale::Linear => calm_range(&transformed[start..end.max(start)]),
        };
        // A zero on the log scale (a positive metric that dropped to nothing) sits at
        // the calm range's floor, or below every other value when the range is open.
        let floor = if low.is_finite() {
            low
        } else {
            transformed
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .fold(f64::INFINITY, f64::min)
        };
        let clamped: Vec<f64> = transformed
            .iter()
            .map(|&v| {
                if v == f64::NEG_INFINITY {
                    floor
                } else {
                    v.clamp(low, high)
                }
            })
            .collect();
        let mut prefix = Vec::with_capacity(clamped.len() + 1);
        let mut prefix2 = Vec::with_capacity(clamped.len() + 1);
        let (mut sum, mut sum2) = (0.0, 0.0);
        prefix.push(0.0);
        prefix2.push(0.0);
        for value in &clamped {
            sum += value;
            sum2 += value * value;
            prefix.push(sum);
            prefix2.push(sum2);
        }
        Prepared {
            scale,
            times: &series.times,
            prefix,
            prefix2,
            history: clamped[start..end.max(start)].to_vec(),
        }
    }

    /// Variance of the clamped values with times in `[from, to)` (NaN below two).
    pub(super) fn variance(&self, from: i64, to: i64) -> f64 {
        let start = self.times.partition_point(|&t| t < from);
        let end = self.times.partition_point(|&t| t < to).max(start);
        let n = (end - start) as f64;
        if n < 2.0 {
            return f64::NAN;
        }
        let mean = (self.prefix[end] - self.prefix[start]) / n;
        ((self.prefix2[end] - self.prefix2[start]) / n - mean * mean).max(0.0)
    }

    /// Count and mean of the clamped values with times in `[from, to)`.
    pub(super) fn mean(&self, from: i64, to: i64) -> (usize, f64) {
        let start = self.times.partition_point(|&t| t < from);
        let end = self.times.partition_point(|&t| t < to).max(start);
        let count = end - start;
        let mean = if count == 0 {
            f64::NAN
        } else {
            (self.prefix[end] - self.prefix[start]) / count as f64
        };
        (count, mean)
    }
}

/// The median ± 5 robust standard deviations (1.4826 × MAD); unbounded when the
/// history is too short or flat.
pub(super) fn calm_range(values: &[f64]) -> (f64, f64) {
    let unbounded = (f64::NEG_INFINITY, f64::INFINITY);
    if values.len() < 10 {
        return unbounded;
    }
    let mut sorted = values.to_vec();
    let middle = sorted.len() / 2;
    let (_, median, _) = sorted.select_nth_unstable_by(middle, f64::total_cmp);
    let median = *median;
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    let (_, mad, _) = deviations.select_nth_unstable_by(middle, f64::total_cmp);
    let spread = 5.0 * 1.4826 * *mad;
    if spread > 0.0 {
        (median - spread, median + spread)
    } else {
        unbounded
    }
}

#[derive(Clone, Copy)]
pub(super) struct PreparedData<'p, 'a> {
    pub(super) main: &'p Prepared<'a>,
    pub(super) concurrent: Option<&'p Prepared<'a>>,
}

/// Where the windows of a check lie, for the real deploy and for placebos.
pub(super) struct Geometry {
    pub(super) kind: BaselineKind,
    pub(super) warmup: i64,
    pub(super) baseline_length: i64,
    /// The current window's length at this look, and at the bake's end (ms).
    pub(super) length: i64,
    pub(super) full_length: i64,
}

impl Geometry {
    pub(super) fn new(spec: &CheckSpec, timing: &Timing, look: &Look) -> Geometry {
        let warmup = timing.warmup().num_milliseconds();
        let elapsed = (look.analysis_end - look.deployed_at).num_milliseconds();
        Geometry {
            kind: spec.baseline,
            warmup,
            baseline_length: timing.baseline_length().num_milliseconds(),
            length: elapsed - warmup,
            full_length: (timing.bake().num_milliseconds() - warmup).max(1),
        }
    }

    /// `[from, to)` of the baseline and of the current window for a deploy at `t0`
    /// whose current window is `length` long; the baseline is read from the
    /// concurrent series unless it is the window before.
    pub(super) fn bounds(&self, t0: i64, length: i64) -> ((i64, i64), (i64, i64)) {
        let start = t0 + self.warmup;
        let current = (start, start + length);
        let baseline = match self.kind {
            BaselineKind::Before => (t0 - self.baseline_length, t0),
            BaselineKind::LastWeek | BaselineKind::Control => current,
        };
        (baseline, current)
    }

    /// The raw values of the real deploy's windows (for summaries and rank tests).
    pub(super) fn raw_windows<'a>(&self, data: &CheckData<'a>, t0: i64) -> (&'a [f64], &'a [f64]) {
        let ((b_from, b_to), (c_from, c_to)) = self.bounds(t0, self.length);
        let current = data.main.window(c_from, c_to);
        let baseline = match (self.kind, data.concurrent) {
            (BaselineKind::Before, _) => data.main.window(b_from, b_to),
            (_, Some(other)) => other.window(b_from, b_to),
            (_, None) => &[],
        };
        (baseline, current)
    }

    /// (count, mean) of the baseline and current windows on the check's scale; `None`
    /// when a side has fewer than `min_samples`.
    pub(super) fn means(
        &self,
        data: &PreparedData<'_, '_>,
        t0: i64,
        length: i64,
        min_samples: usize,
    ) -> Option<((usize, f64), (usize, f64))> {
        let ((b_from, b_to), (c_from, c_to)) = self.bounds(t0, length);
        let current = data.main.mean(c_from, c_to);
        let baseline = match self.kind {
            BaselineKind::Before => data.main.mean(b_from, b_to),
            BaselineKind::LastWeek | BaselineKind::Control => data.concurrent?.mean(b_from, b_to),
        };
        (baseline.0 >= min_samples && current.0 >= min_samples).then_some((baseline, current))
    }

    pub(super) fn baseline_bounds(&self, look: &Look) -> (DateTime<Utc>, DateTime<Utc>) {
        match self.kind {
            BaselineKind::Before => (
                look.deployed_at - Duration::milliseconds(self.baseline_length),
                look.deployed_at,
            ),
            BaselineKind::LastWeek => {
                let (from, to) = self.current_bounds(look);
                (from - Duration::weeks(1), to - Duration::weeks(1))
            }
            BaselineKind::Control => self.current_bounds(look),
        }
    }

    pub(super) fn current_bounds(&self, look: &Look) -> (DateTime<Utc>, DateTime<Utc>) {
        let from = look.deployed_at + Duration::milliseconds(self.warmup);
        (from, look.analysis_end.max(from))
    }

    pub(super) fn baseline_receipt(&self, look: &Look, values: &Sorted) -> WindowReceipt {
        let (from, to) = self.baseline_bounds(look);
        WindowReceipt {
            from,
            to,
            summary: Summary::of_sorted(values),
            center: None,
        }
    }

    pub(super) fn current_receipt(&self, look: &Look, values: &Sorted) -> WindowReceipt {
        let (from, to) = self.current_bounds(look);
        WindowReceipt {
            from,
            to,
            summary: Summary::of_sorted(values),
            center: None,
        }
    }

    /// The earliest time the judge reads for placebos.
    pub(super) fn history_start(&self, data: &CheckData<'_>, t0: i64) -> i64 {
        self.earliest(
            data.main.first_time(),
            data.concurrent.and_then(Series::first_time),
            t0,
        )
    }

    /// The later of the series' first samples (the concurrent one's only when it is
    /// the baseline) and four hours before `t0`.
    pub(super) fn earliest(
        &self,
        main_first: Option<i64>,
        other_first: Option<i64>,
        t0: i64,
    ) -> i64 {
        let first = main_first.unwrap_or(t0);
        let first = match (self.kind, other_first) {
            (BaselineKind::Before, _) | (_, None) => first,
            (_, Some(other)) => first.max(other),
        };
        first.max(t0 - HISTORY.num_milliseconds())
    }

    /// Log for positive metrics, and for positive metrics that touch zero rarely (at
    /// most [`RARE_ZEROS`] of the samples: a gap reported as 0, an idle minute);
    /// counts when zeros are common among non-negative values.
    pub(super) fn scale(&self, data: &CheckData<'_>, t0: i64) -> Scale {
        let from = self.history_start(data, t0) - self.baseline_length;
        let to = t0 + self.warmup + self.length;
        let other: &[f64] = match (self.kind, data.concurrent) {
            (BaselineKind::Before, _) | (_, None) => &[],
            (_, Some(series)) => series.window(from, to),
        };
        let (mut zeros, mut all, mut non_negative) = (0usize, 0usize, true);
        for &value in data.main.window(from, to).iter().chain(other) {
            all += 1;
            zeros += usize::from(value == 0.0);
            non_negative &= value >= 0.0;
        }
        if non_negative && zeros as f64 <= RARE_ZEROS * all as f64 {
            Scale::Log
        } else if non_negative {
            Scale::Counts
        } else {
            Scale::Linear
        }
    }

    /// How far the effect moves when nothing is deployed, for a current window of
    /// `length`, as the spread σ the check's bar (`z_final · σ`) is built on.
    ///
    /// With [`QUANTILE_PLACEBOS`] placebo deploys in the history before `t0` (and
    /// positive or signed values), each placebo's effect is divided by its own windows'
    /// spread (studentised: a wild hour and a quiet hour become comparable), and σ is
    /// set so the bar is [`PLACEBO_MARGIN`] × their `1 − CHECK_ALPHA` quantile the bad
    /// way, at this deploy's own spread. With fewer placebos (or for counts) σ is the
    /// larger of the placebos' root mean square and an AR(1) model of the history;
    /// with too few, the model alone, widened. Counts never go below the Poisson
    /// spread at the pooled rate.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn noise(
        &self,
        data: &PreparedData<'_, '_>,
        t0: i64,
        length: i64,
        min_samples: usize,
        sizes: (usize, usize),
        pooled_rate: f64,
        direction: Direction,
    ) -> Option<Noise> {
        let earliest_start = self.earliest(
            data.main.times.first().copied(),
            data.concurrent.and_then(|c| c.times.first().copied()),
            t0,
        );
        // A placebo at p reads back to p − reach and forward to p + warmup + length.
        let reach = match self.kind {
            BaselineKind::Before => self.baseline_length,
            BaselineKind::LastWeek | BaselineKind::Control => 0,
        };
        let latest = t0 - self.warmup - length;
        let earliest = earliest_start + reach;
        // (effect, its windows' spread) per placebo.
        let mut placebos: Vec<(f64, Option<f64>)> = Vec::with_capacity(MAX_PLACEBOS + 2);
        if latest > earliest {
            let step = ((latest - earliest) / MAX_PLACEBOS as i64).max(1_000);
            let mut p = latest;
            while p >= earliest {
                if let Some((baseline, current)) = self.means(data, p, length, min_samples) {
                    placebos.push((current.1 - baseline.1, self.local_scale(data, p, length)));
                }
                p -= step;
            }
        }
        let poisson = match data.main.scale {
            Scale::Counts => {
                pooled_rate * (1.0 / sizes.0.max(1) as f64 + 1.0 / sizes.1.max(1) as f64)
            }
            Scale::Log | Scale::Linear => 0.0,
        };
        let quantile = match data.main.scale {
            Scale::Log | Scale::Linear if placebos.len() >= QUANTILE_PLACEBOS => {
                studentised_bar(&placebos, direction)
                    .zip(self.local_scale(data, t0, length))
                    .map(|(bar, own)| {
                        let sides = if direction == Direction::Both {
                            2.0
                        } else {
                            1.0
                        };
                        let z_final = stats::normal_quantile(1.0 - CHECK_ALPHA / sides);
                        (PLACEBO_MARGIN * bar * own / z_final).powi(2)
                    })
            }
            _ => None,
        };
        let (method, variance) = match quantile {
            Some(variance) => (NoiseMethod::Placebo, variance),
            None => {
                let model = ar1_variance(&data.main.history, sizes, self.gap(sizes));
                if placebos.len() >= MIN_PLACEBOS {
                    let placebo =
                        placebos.iter().map(|(e, _)| e * e).sum::<f64>() / placebos.len() as f64;
                    (NoiseMethod::Placebo, placebo.max(model.unwrap_or(0.0)))
                } else {
                    (NoiseMethod::Model, model? * MODEL_WIDENING.powi(2))
                }
            }
        };
        let sigma = variance.max(poisson).sqrt();
        (sigma > 0.0 && sigma.is_finite()).then_some(Noise {
            method,
            windows: placebos.len(),
            sigma,
        })
    }

    /// The spread of the values inside the baseline and current windows of a deploy
    /// at `p` (pooled; a step between the windows does not count), `None` when a
    /// window has fewer than two values or none vary.
    pub(super) fn local_scale(
        &self,
        data: &PreparedData<'_, '_>,
        p: i64,
        length: i64,
    ) -> Option<f64> {
        let ((b_from, b_to), (c_from, c_to)) = self.bounds(p, length);
        let baseline = match self.kind {
            BaselineKind::Before => data.main.variance(b_from, b_to),
            BaselineKind::LastWeek | BaselineKind::Control => data
                .concurrent
                .map_or(f64::NAN, |c| c.variance(b_from, b_to)),
        };
        let current = data.main.variance(c_from, c_to);
        let scale = ((baseline + current) / 2.0).sqrt();
        (scale > 0.0 && scale.is_finite()).then_some(scale)
    }

    /// Samples between the baseline and the current window (the warm-up), for the
    /// model's covariance; none for concurrent baselines.
    pub(super) fn gap(&self, sizes: (usize, usize)) -> Option<f64> {
        match self.kind {
            BaselineKind::Before => {
                let per_sample = self.length as f64 / sizes.1.max(1) as f64;
                Some(self.warmup as f64 / per_sample.max(1.0))
            }
            BaselineKind::LastWeek | BaselineKind::Control => None,
        }
    }
}

/// The `1 − CHECK_ALPHA` quantile (linearly interpolated) of the placebos' effects the
/// bad way, each divided by its own windows' spread; placebos whose windows do not
/// vary are left out. `None` when fewer than [`QUANTILE_PLACEBOS`] remain or the
/// quantile is not above zero (the history never moved the bad way: the spread rule
/// takes over).
pub(super) fn studentised_bar(
    placebos: &[(f64, Option<f64>)],
    direction: Direction,
) -> Option<f64> {
    let mut bad: Vec<f64> = placebos
        .iter()
        .filter_map(|&(effect, scale)| {
            let t = effect / scale?;
            Some(match direction {
                Direction::IncreaseIsBad => t,
                Direction::DecreaseIsBad => -t,
                Direction::Both => t.abs(),
            })
        })
        .filter(|t| t.is_finite())
        .collect();
    if bad.len() < QUANTILE_PLACEBOS {
        return None;
    }
    bad.sort_by(f64::total_cmp);
    let rank = (1.0 - CHECK_ALPHA) * (bad.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = (low + 1).min(bad.len() - 1);
    let bar = bad[low] + (bad[high] - bad[low]) * (rank - low as f64);
    (bar > 0.0).then_some(bar)
}

/// The history's variance and lag-1 autocorrelation (clamped to [0, 0.99]) around its
/// straight-line trend; `None` below 20 values.
pub(super) fn ar1_fit(history: &[f64]) -> Option<(f64, f64)> {
    if history.len() < 20 {
        return None;
    }
    let n = history.len() as f64;
    let x_mean = (n - 1.0) / 2.0;
    let y_mean = history.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in history.iter().enumerate() {
        let dx = i as f64 - x_mean;
        sxy += dx * (y - y_mean);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    let residual = |i: usize| history[i] - y_mean - slope * (i as f64 - x_mean);
    let gamma0 = (0..history.len()).map(|i| residual(i).powi(2)).sum::<f64>() / n;
    if gamma0 <= 0.0 {
        return Some((0.0, 0.0));
    }
    let lag_one = (1..history.len())
        .map(|i| residual(i - 1) * residual(i))
        .sum::<f64>()
        / n
        / gamma0;
    Some((gamma0, lag_one.clamp(0.0, 0.99)))
}

/// The variance of (mean of `sizes.1` samples) − (mean of `sizes.0` samples) under an
/// AR(1) fitted to the history around its straight-line trend (so a slow drift or the
/// slope of a daily cycle does not pass for autocorrelation). With a `gap` (samples
/// between the windows) the two means' covariance is subtracted; concurrent windows of
/// two series are treated as independent.
pub(super) fn ar1_variance(
    history: &[f64],
    sizes: (usize, usize),
    gap: Option<f64>,
) -> Option<f64> {
    let (gamma0, rho) = ar1_fit(history)?;
    if gamma0 <= 0.0 {
        return Some(0.0);
    }
    let mean_variance = |size: usize| -> f64 {
        let k = size as f64;
        if rho == 0.0 {
            return gamma0 / k;
        }
        let sum = rho / (1.0 - rho) * (1.0 - (1.0 - rho.powf(k)) / (k * (1.0 - rho)));
        gamma0 / k * (1.0 + 2.0 * sum)
    };
    let (b, c) = (sizes.0.max(1), sizes.1.max(1));
    let covariance = match gap {
        Some(gap) => {
            let (bf, cf) = (b as f64, c as f64);
            gamma0 / (bf * cf) * rho.powf(gap + 1.0) * (1.0 - rho.powf(bf)) * (1.0 - rho.powf(cf))
                / (1.0 - rho).powi(2)
        }
        None => 0.0,
    };
    Some((mean_variance(b) + mean_variance(c) - 2.0 * covariance).max(0.0))
}

//! One check of one deploy at one look: the evidence ([`judge_check`] gathers the
//! windows, the effect, the noise and the bars, and fills the receipt) and the rule
//! that decides on it ([`decide`]).

use super::*;

/// What a check is judged on: the metric (for `control`, group `canary`) and, for
/// `last_week` and `control`, the series it is compared with over the same window
/// (last week's already moved one week later; group `baseline`).
#[derive(Clone, Copy, Debug)]
pub struct CheckData<'a> {
    pub main: &'a Series,
    pub concurrent: Option<&'a Series>,
    /// The source could not be read: the check has no data, whatever was cached.
    pub unavailable: bool,
}

/// One evaluation: the deploy's time and how far the analysis reaches.
#[derive(Clone, Copy, Debug)]
pub struct Look {
    pub deployed_at: DateTime<Utc>,
    /// The end of the analysis window: the bake's end, the next deploy of the same
    /// place, or now, whichever is first.
    pub analysis_end: DateTime<Utc>,
}

impl Look {
    /// The look for `now`, given the bake and the next deploy of the same place.
    pub fn at(
        deployed_at: DateTime<Utc>,
        timing: &Timing,
        next_deploy: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Look {
        let bake_end = deployed_at + timing.bake();
        let end = next_deploy.map_or(bake_end, |next| next.min(bake_end));
        Look {
            deployed_at,
            analysis_end: end.min(now).max(deployed_at),
        }
    }

    /// Final when the window can grow no more: the bake is over or the next deploy
    /// cut it short.
    pub fn is_final(&self, timing: &Timing, next_deploy: Option<DateTime<Utc>>) -> bool {
        let bake_end = self.deployed_at + timing.bake();
        self.analysis_end >= bake_end || next_deploy.is_some_and(|next| self.analysis_end >= next)
    }
}

/// The judge's decision for one check at one look.
pub fn judge_check(
    metric: &MetricName,
    spec: &CheckSpec,
    timing: &Timing,
    data: CheckData<'_>,
    look: &Look,
    complete: bool,
) -> CheckReceipt {
    let geometry = Geometry::new(spec, timing, look);
    let t0 = look.deployed_at.timestamp_millis();
    let (baseline_values, current_values) = geometry.raw_windows(&data, t0);
    let baseline_sorted = Sorted::new(baseline_values);
    let current_sorted = Sorted::new(current_values);
    let mut receipt = CheckReceipt {
        metric: metric.clone(),
        state: CheckState::NoData,
        rule: CheckRule::WarmingUp,
        direction: spec.direction,
        baseline_kind: spec.baseline,
        critical: spec.critical,
        weight: spec.weight,
        tolerance: spec.tolerance,
        tolerance_floor: spec.tolerance_floor,
        min_samples: spec.min_samples,
        runbook: spec.runbook.clone(),
        baseline: geometry.baseline_receipt(look, &baseline_sorted),
        current: geometry.current_receipt(look, &current_sorted),
        scale: None,
        delta: None,
        delta_relative: None,
        effect: None,
        noise: None,
        z: None,
        z_bar: None,
        p_value: None,
        mann_whitney: None,
        shift: None,
        min_detectable_change: None,
        complete,
        source_unavailable: data.unavailable,
        guards: Vec::new(),
    };
    if data.unavailable {
        receipt.rule = CheckRule::SourceUnavailable;
        return receipt;
    }
    if geometry.length <= 0 {
        return receipt;
    }
    let min_samples = spec.min_samples.max(2);
    if baseline_values.len() < min_samples {
        receipt.rule = CheckRule::TooFewBaselineSamples;
        return receipt;
    }
    if current_values.len() < min_samples {
        receipt.rule = CheckRule::TooFewCurrentSamples;
        return receipt;
    }

    let scale = geometry.scale(&data, t0);
    let main = Prepared::new(data.main, scale, &geometry, t0);
    let concurrent = match (spec.baseline, data.concurrent) {
        (BaselineKind::Before, _) | (_, None) => None,
        (_, Some(other)) => Some(Prepared::new(other, scale, &geometry, t0)),
    };
    let prepared = PreparedData {
        main: &main,
        concurrent: concurrent.as_ref(),
    };
    let Some((baseline_mean, current_mean)) =
        geometry.means(&prepared, t0, geometry.length, min_samples)
    else {
        receipt.rule = CheckRule::TooFewCurrentSamples;
        return receipt;
    };
    // The test compares clamped means (a burst cannot decide it); the size of the
    // change is told from robust centres of the values as they are, which a clamp
    // would cut short.
    let effect = current_mean.1 - baseline_mean.1;
    let baseline_center = scale.center_of(&baseline_sorted);
    let current_center = scale.center_of(&current_sorted);
    let delta = current_center - baseline_center;
    let delta_relative = (baseline_center != 0.0).then(|| delta / baseline_center.abs());
    let alternative = match spec.direction {
        Direction::IncreaseIsBad => Alternative::Greater,
        Direction::DecreaseIsBad => Alternative::Less,
        Direction::Both => Alternative::TwoSided,
    };
    receipt.scale = Some(scale);
    receipt.baseline.center = Some(baseline_center);
    receipt.current.center = Some(current_center);
    receipt.delta = Some(delta);
    receipt.delta_relative = delta_relative;
    receipt.effect = Some(effect);
    if let Some((test, shift)) =
        stats::rank_comparison(&current_sorted, &baseline_sorted, alternative, 0.95)
    {
        receipt.mann_whitney = Some(test);
        receipt.shift = Some(shift);
    }

    let pooled_rate = (baseline_mean.1 * baseline_mean.0 as f64
        + current_mean.1 * current_mean.0 as f64)
        / (baseline_mean.0 + current_mean.0) as f64;
    let noise_for = |length: i64| {
        geometry.noise(
            &prepared,
            t0,
            length,
            min_samples,
            (baseline_mean.0, current_mean.0),
            pooled_rate,
            spec.direction,
        )
    };
    let noise = noise_for(geometry.length);
    let full_noise = if complete || geometry.length >= geometry.full_length {
        noise
    } else {
        let full_current = (current_mean.0 as f64 * geometry.full_length as f64
            / geometry.length as f64)
            .round() as usize;
        geometry.noise(
            &prepared,
            t0,
            geometry.full_length,
            min_samples,
            (baseline_mean.0, full_current.max(1)),
            pooled_rate,
            spec.direction,
        )
    };
    let sides = if spec.direction == Direction::Both {
        2.0
    } else {
        1.0
    };
    let z_final = stats::normal_quantile(1.0 - CHECK_ALPHA / sides);
    let fraction = if complete {
        1.0
    } else {
        (geometry.length as f64 / geometry.full_length as f64).clamp(1e-6, 1.0)
    };
    let z_bar = z_final / fraction.sqrt();
    let bad_way = |change: f64| spec.direction.bad_way(change);
    let z = noise.map(|noise| bad_way(effect) / noise.sigma);
    receipt.noise = noise;
    receipt.z = z;
    receipt.z_bar = Some(z_bar);
    receipt.p_value = z.map(|z| (stats::normal_sf(z) * sides).min(1.0));
    // Counts are few and lumpy: the windows' totals must also differ beyond a test made
    // for counts (conditional on their sum, the current window's share is binomial),
    // widened by how much more the history spreads than Poisson would.
    let count_p = match (scale, noise) {
        (Scale::Counts, Some(noise)) => {
            let poisson = pooled_rate
                * (1.0 / baseline_mean.0.max(1) as f64 + 1.0 / current_mean.0.max(1) as f64);
            let dispersion = if poisson > 0.0 {
                (noise.sigma * noise.sigma / poisson).max(1.0)
            } else {
                1.0
            };
            Some(conditional_count_p(
                baseline_mean.1 * baseline_mean.0 as f64 / dispersion,
                current_mean.1 * current_mean.0 as f64 / dispersion,
                current_mean.0 as f64 / (baseline_mean.0 + current_mean.0) as f64,
                spec.direction,
            ))
        }
        _ => None,
    };
    receipt.min_detectable_change = full_noise.map(|noise| {
        let step = (z_final + stats::normal_quantile(MDE_POWER)) * noise.sigma;
        scale.relative_change(step, baseline_center)
    });

    // The pipeline's checks, one receipt line each; `decide` weighs them.
    receipt.guards = guards::guard(&guards::GuardInput {
        spec,
        series: data.main,
        scale,
        t0,
        current: geometry.bounds(t0, geometry.length).1,
        full_length: geometry.full_length,
        complete,
    });
    receipt.rule = decide(
        spec,
        &Evidence {
            delta,
            delta_relative,
            z,
            z_bar,
            count_p,
            sides,
            min_detectable_change: receipt.min_detectable_change,
        },
        &receipt.guards,
    );
    receipt.state = receipt.rule.state();
    receipt
}

/// The chance, with nothing changed, of the current window holding at least (or, for
/// `decrease_is_bad`, at most) its share of the two windows' `baseline + current`
/// events, when each event falls in the current window with chance `share`: a
/// binomial tail, on counts already divided by the history's dispersion.
fn conditional_count_p(baseline: f64, current: f64, share: f64, direction: Direction) -> f64 {
    use statrs::distribution::{Binomial, DiscreteCDF};
    let total = (baseline + current).round().max(0.0) as u64;
    let current = current.round().max(0.0) as u64;
    let Ok(binomial) = Binomial::new(share.clamp(0.0, 1.0), total) else {
        return 1.0;
    };
    let upper = if current == 0 {
        1.0
    } else {
        binomial.sf(current - 1)
    };
    let lower = binomial.cdf(current);
    match direction {
        Direction::IncreaseIsBad => upper,
        Direction::DecreaseIsBad => lower,
        Direction::Both => (2.0 * upper.min(lower)).min(1.0),
    }
}

/// A check's receipt with only what a test names set, for the domain's tests.
#[cfg(test)]
pub(crate) fn receipt_for_tests(
    metric: &str,
    direction: Direction,
    state: CheckState,
) -> CheckReceipt {
    let at = DateTime::<Utc>::UNIX_EPOCH;
    let window = WindowReceipt {
        from: at,
        to: at,
        summary: None,
        center: None,
    };
    CheckReceipt {
        metric: MetricName::parse(metric).expect("a metric name"),
        state,
        rule: CheckRule::WithinTolerance,
        direction,
        baseline_kind: BaselineKind::Before,
        critical: false,
        weight: 1.0,
        tolerance: 0.05,
        tolerance_floor: 0.0,
        min_samples: DEFAULT_MIN_SAMPLES,
        runbook: None,
        baseline: window.clone(),
        current: window,
        scale: None,
        delta: None,
        delta_relative: None,
        effect: None,
        noise: None,
        z: None,
        z_bar: None,
        p_value: None,
        mann_whitney: None,
        shift: None,
        min_detectable_change: None,
        complete: true,
        source_unavailable: false,
        guards: Vec::new(),
    }
}

/// What a check's rule decides on at one look (all on the receipt as well).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evidence {
    /// The change of the windows' centres, in the metric's unit.
    pub delta: f64,
    /// `delta` relative to the baseline's centre; `None` from a zero baseline.
    pub delta_relative: Option<f64>,
    /// The effect the bad way over the noise (`None` without a noise).
    pub z: Option<f64>,
    /// The bar `z` must pass at this look: the final look's, raised by 1/√f.
    pub z_bar: f64,
    /// For counts, the conditional binomial test's p on the windows' totals.
    pub count_p: Option<f64>,
    /// 2 for `both`, else 1.
    pub sides: f64,
    /// The smallest relative change a full bake could see.
    pub min_detectable_change: Option<f64>,
}

/// THE rule of a check. In order: a change no larger than the tolerance, or below the
/// absolute floor, is healthy; past both, it regressed when it is past the noise the
/// bad way (`z > z_bar`, and for counts the binomial test agrees); otherwise it is
/// healthy when the check could see a change of the tolerance's size, and "can't
/// tell" when it could not. A broken guard then fails any check but a regression
/// (which keeps its own rule).
pub fn decide(spec: &CheckSpec, evidence: &Evidence, guards: &[GuardReceipt]) -> CheckRule {
    let bad_way = |change: f64| spec.direction.bad_way(change);
    // From a zero baseline, any change the bad way is beyond every relative tolerance.
    let bad_relative = match evidence.delta_relative {
        Some(relative) => bad_way(relative),
        None if bad_way(evidence.delta) > 0.0 => f64::INFINITY,
        None => 0.0,
    };
    // A failure needs each bar passed for certain: NaN passes none.
    let exceeds = |value: f64, bar: f64| value > bar;
    let compared = if !exceeds(bad_relative, spec.tolerance) {
        CheckRule::WithinTolerance
    } else if !exceeds(evidence.delta.abs(), spec.tolerance_floor) {
        CheckRule::BelowFloor
    } else if !evidence.z.is_some_and(|z| z > evidence.z_bar)
        || evidence
            .count_p
            .is_some_and(|p| p >= stats::normal_sf(evidence.z_bar) * evidence.sides)
    {
        // Past the tolerance, and not past the noise: whether that says "healthy"
        // depends on whether a change of the tolerance's size could have shown at all.
        match evidence.min_detectable_change {
            Some(seen) if !exceeds(seen, spec.tolerance) => CheckRule::WithinNoise,
            _ => CheckRule::CouldNotTell,
        }
    } else {
        CheckRule::Regressed
    };
    match guards.iter().find(|g| g.state == CheckState::Unhealthy) {
        Some(broken) if compared != CheckRule::Regressed => match broken.kind {
            GuardKind::Bounds => CheckRule::OutOfBounds,
            GuardKind::Sigma => CheckRule::FarFromHistory,
            GuardKind::Slope => CheckRule::SteepSlope,
        },
        _ => compared,
    }
}

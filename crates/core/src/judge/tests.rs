use super::*;
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .expect("time")
}

/// A deterministic wiggle in [−1, 1] (no randomness in the domain's tests either:
/// they must give the same answer every run).
fn wiggle(i: i64) -> f64 {
    let x = (i as f64 * 12.9898).sin() * 43_758.545_3;
    2.0 * (x - x.floor()) - 1.0
}

/// Four hours before the deploy and the bake after it, every 10 s, around `level`
/// with ±`noise` relative jitter, times `factor` after the deploy.
fn series(level: f64, noise: f64, factor: f64) -> Series {
    let points = (-1440..90)
        .map(|i| {
            let at = t0() + Duration::seconds(10 * i);
            let after = if i >= 0 { factor } else { 1.0 };
            (at, level * after * (1.0 + noise * wiggle(i)))
        })
        .collect();
    Series::new(points)
}

fn judge(series: &Series, spec: &CheckSpec) -> CheckReceipt {
    let timing = Timing::default();
    let look = Look::at(t0(), &timing, None, t0() + Duration::minutes(20));
    let data = CheckData {
        main: series,
        concurrent: None,
        unavailable: false,
    };
    judge_check(&name(), spec, &timing, data, &look, true)
}

fn name() -> MetricName {
    MetricName::parse("latency_p95").expect("name")
}

#[test]
fn a_calm_deploy_is_healthy_and_says_what_it_could_have_seen() {
    let receipt = judge(
        &series(200.0, 0.05, 1.0),
        &CheckSpec::new(Direction::IncreaseIsBad),
    );
    assert_eq!(receipt.state, CheckState::Healthy);
    assert_eq!(receipt.scale, Some(Scale::Log));
    let noise = receipt.noise.expect("noise");
    assert_eq!(noise.method, NoiseMethod::Placebo);
    assert!(noise.windows >= MIN_PLACEBOS);
    let mde = receipt.min_detectable_change.expect("mde");
    assert!(mde > 0.0 && mde < 0.10, "{mde}");
    assert_eq!(receipt.current.summary.expect("current").count, 78);
    assert_eq!(receipt.baseline.summary.expect("baseline").count, 180);
}

#[test]
fn a_step_up_beyond_tolerance_and_noise_is_unhealthy() {
    let receipt = judge(
        &series(200.0, 0.05, 1.3),
        &CheckSpec::new(Direction::IncreaseIsBad),
    );
    assert_eq!(receipt.state, CheckState::Unhealthy);
    assert_eq!(receipt.rule, CheckRule::Regressed);
    let relative = receipt.delta_relative.expect("relative");
    assert!((relative - 0.3).abs() < 0.03, "{relative}");
    let shift = receipt.shift.expect("shift");
    assert!(shift.low > 0.0 && shift.estimate > 40.0);
}

#[test]
fn a_smooth_series_is_not_mistaken_for_a_wandering_one() {
    // Smooth like a Prometheus rate() sampled every 10 s: its differences are
    // correlated, which an AR(1) fitted to differences would read as ρ ≥ 1.
    let points = (-1440..90)
        .map(|i| {
            let step = if i >= 0 { 1.3 } else { 1.0 };
            let wobble = 1.0 + 0.04 * (i as f64 * 0.7).sin();
            (t0() + Duration::seconds(10 * i), 200.0 * wobble * step)
        })
        .collect();
    let receipt = judge(
        &Series::new(points),
        &CheckSpec::new(Direction::IncreaseIsBad),
    );
    assert_eq!(receipt.rule, CheckRule::Regressed);
}

#[test]
fn a_step_the_good_way_is_healthy() {
    let receipt = judge(
        &series(200.0, 0.05, 0.7),
        &CheckSpec::new(Direction::IncreaseIsBad),
    );
    assert_eq!(receipt.state, CheckState::Healthy);
    assert_eq!(receipt.rule, CheckRule::WithinTolerance);
    let both = judge(&series(200.0, 0.05, 0.7), &CheckSpec::new(Direction::Both));
    assert_eq!(both.state, CheckState::Unhealthy);
}

#[test]
fn a_step_inside_the_tolerance_is_healthy_however_clear() {
    let mut spec = CheckSpec::new(Direction::IncreaseIsBad);
    spec.tolerance = 0.10;
    let receipt = judge(&series(200.0, 0.001, 1.08), &spec);
    assert_eq!(receipt.rule, CheckRule::WithinTolerance);
    spec.tolerance = 0.05;
    assert_eq!(
        judge(&series(200.0, 0.001, 1.08), &spec).rule,
        CheckRule::Regressed
    );
    spec.tolerance_floor = 50.0;
    assert_eq!(
        judge(&series(200.0, 0.001, 1.08), &spec).rule,
        CheckRule::BelowFloor
    );
}

#[test]
fn a_step_past_the_tolerance_inside_the_metrics_own_noise_is_cant_tell() {
    // Slow swings of ±50 % (a 40-minute cycle) hide a +12 % step: past the 10 %
    // tolerance, and the check could not have seen a change that size.
    let points = (-1440..90)
        .map(|i| {
            let swing = 1.0 + 0.5 * (i as f64 * std::f64::consts::TAU / 240.0).sin();
            let step = if i >= 0 { 1.12 } else { 1.0 };
            (t0() + Duration::seconds(10 * i), 200.0 * swing * step)
        })
        .collect();
    let receipt = judge(
        &Series::new(points),
        &CheckSpec::new(Direction::IncreaseIsBad),
    );
    assert_eq!(
        (receipt.state, receipt.rule),
        (CheckState::CantTell, CheckRule::CouldNotTell)
    );
    assert!(receipt.min_detectable_change.expect("mde") > 0.12);
}

#[test]
fn early_in_the_bake_a_change_the_check_could_see_reads_healthy_so_far() {
    // ±10 % jitter, +8 % four minutes in: past the 5 % tolerance, under the early
    // (higher) bar, and the full bake could see a change that size (±4 %): healthy so
    // far. At the final look the same step is past the bar.
    let timing = Timing::default();
    let mut spec = CheckSpec::new(Direction::IncreaseIsBad);
    spec.tolerance = 0.05;
    let data = series(200.0, 0.10, 1.08);
    let early = Look::at(t0(), &timing, None, t0() + Duration::minutes(4));
    let data = CheckData {
        main: &data,
        concurrent: None,
        unavailable: false,
    };
    let receipt = judge_check(&name(), &spec, &timing, data, &early, false);
    let mde = receipt.min_detectable_change.expect("mde");
    assert!(mde <= 0.05, "{mde}");
    assert!(receipt.delta_relative.expect("change") > 0.05);
    assert!(receipt.z.expect("z") < receipt.z_bar.expect("bar"));
    assert_eq!(
        (receipt.state, receipt.rule),
        (CheckState::Healthy, CheckRule::WithinNoise)
    );
    assert_eq!(
        judge(&series(200.0, 0.10, 1.08), &spec).rule,
        CheckRule::Regressed
    );
}

#[test]
fn too_few_samples_or_no_source_is_no_data_never_healthy() {
    let spec = CheckSpec::new(Direction::IncreaseIsBad);
    let receipt = judge(&Series::default(), &spec);
    assert_eq!(
        (receipt.state, receipt.rule),
        (CheckState::NoData, CheckRule::TooFewBaselineSamples)
    );
    let before_only = Series::new(
        (-200..0)
            .map(|i| (t0() + Duration::seconds(10 * i), 5.0))
            .collect(),
    );
    assert_eq!(
        judge(&before_only, &spec).rule,
        CheckRule::TooFewCurrentSamples
    );
    let timing = Timing::default();
    let look = Look::at(t0(), &timing, None, t0() + Duration::minutes(20));
    let data = CheckData {
        main: &series(1.0, 0.1, 1.0),
        concurrent: None,
        unavailable: true,
    };
    let receipt = judge_check(&name(), &spec, &timing, data, &look, true);
    assert_eq!(receipt.state, CheckState::NoData);
    assert!(receipt.source_unavailable);
}

#[test]
fn counts_from_zero_are_judged_on_their_mean() {
    // Errors per 10 s: none before, a few after.
    let points = (-1440..90)
        .map(|i| {
            let value = if i >= 0 && i % 3 == 0 { 2.0 } else { 0.0 };
            (t0() + Duration::seconds(10 * i), value)
        })
        .collect();
    let receipt = judge(
        &Series::new(points),
        &CheckSpec::new(Direction::IncreaseIsBad),
    );
    assert_eq!(receipt.scale, Some(Scale::Counts));
    assert_eq!(receipt.state, CheckState::Unhealthy);
    assert_eq!(receipt.delta_relative, None);
}

/// `series(200, 5 %, factor)` with every `every`-th sample of the history reported as 0.
fn with_zeros(factor: f64, every: usize) -> Series {
    let base = series(200.0, 0.05, factor);
    let points = base
        .times
        .iter()
        .zip(&base.values)
        .enumerate()
        .map(|(i, (&ms, &v))| {
            let at = DateTime::from_timestamp_millis(ms).expect("time");
            let zero = i % every == every / 2 && at < t0();
            (at, if zero { 0.0 } else { v })
        })
        .collect();
    Series::new(points)
}

#[test]
fn a_positive_metric_that_rarely_reads_zero_stays_on_the_log_scale() {
    // One sample in 200 is 0 (0.5 %, under RARE_ZEROS): the zeros sit at the calm
    // range's floor, a calm deploy is healthy and +30 % is caught as without them.
    let spec = CheckSpec::new(Direction::IncreaseIsBad);
    let calm = judge(&with_zeros(1.0, 200), &spec);
    assert_eq!(calm.scale, Some(Scale::Log));
    assert_eq!(calm.state, CheckState::Healthy, "{:?}", calm.rule);
    assert!(calm.effect.is_some_and(f64::is_finite));
    let step = judge(&with_zeros(1.3, 200), &spec);
    assert_eq!(step.scale, Some(Scale::Log));
    assert_eq!(step.rule, CheckRule::Regressed);
    let relative = step.delta_relative.expect("relative");
    assert!((relative - 0.3).abs() < 0.03, "{relative}");
    // One in 50 (2 %): zeros are common, and the metric is judged as counts.
    assert_eq!(
        judge(&with_zeros(1.0, 50), &spec).scale,
        Some(Scale::Counts)
    );
}

#[test]
fn a_zero_on_the_log_scale_is_held_at_the_floor_even_when_the_metric_is_flat() {
    // A flat metric has no calm range (its spread is 0); its one zero is held just
    // below its lowest value rather than at minus infinity.
    let points = (-1440..90)
        .map(|i| {
            let value = if i == -700 { 0.0 } else { 100.0 };
            (t0() + Duration::seconds(10 * i), value)
        })
        .collect();
    let receipt = judge(
        &Series::new(points),
        &CheckSpec::new(Direction::IncreaseIsBad),
    );
    assert_eq!(receipt.scale, Some(Scale::Log));
    assert_eq!(receipt.state, CheckState::Healthy, "{:?}", receipt.rule);
}

#[test]
fn error_bins_put_the_deploy_on_an_edge_and_fill_the_quiet_bins() {
    let start = error_bins_start(t0(), Duration::seconds(25));
    assert_eq!(start, t0() - Duration::seconds(30));
    let series = Series::of_counts(
        start,
        t0() + Duration::seconds(15),
        &[(1, 4), (3, 2), (9, 7)],
    );
    // Four whole bins (the one cut short at +15 s is left out), zeros filled in.
    assert_eq!(series.values, [0.0, 4.0, 0.0, 2.0]);
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).expect("time");
    assert_eq!(at(series.times[3]), t0());
    assert!(Series::of_counts(t0(), t0() - Duration::seconds(5), &[(0, 1)]).is_empty());
}

/// Errors per bin over four hours and the bake: `before` a bin until the deploy,
/// `after` a bin from it, spread deterministically (a few bins hold them all).
fn error_counts(before: f64, after: f64) -> Series {
    let timing = Timing::default();
    let start = error_bins_start(t0(), HISTORY + timing.baseline_length());
    let end = t0() + Duration::minutes(20);
    let bins = (end - start).num_seconds() / ERROR_BIN.num_seconds();
    let counts: Vec<(i64, u64)> = (0..bins)
        .filter_map(|b| {
            let at = start + Duration::seconds(b * ERROR_BIN.num_seconds());
            let rate = if at < t0() { before } else { after };
            // Bursty: a bin holds 0, 1 or 2 × the rate, in a fixed pattern.
            let n = (rate * (1.0 + wiggle(b))).round();
            (n > 0.0).then_some((b, n as u64))
        })
        .collect();
    Series::of_counts(start, end, &counts)
}

#[test]
fn the_error_rate_check_passes_a_calm_deploy_and_fails_a_tripled_rate() {
    let calm = judge(&error_counts(0.6, 0.6), &error_rate_spec());
    assert_eq!(calm.state, CheckState::Healthy, "{:?}", calm.rule);
    let worse = judge(&error_counts(0.6, 1.8), &error_rate_spec());
    assert_eq!(worse.state, CheckState::Unhealthy, "{:?}", worse.rule);
    assert!(worse.delta_relative.expect("relative") > 1.5);
    // A stray error after a quiet history is below the floor.
    let stray = judge(&error_counts(0.0, 0.02), &error_rate_spec());
    assert_eq!(stray.state, CheckState::Healthy, "{:?}", stray.rule);
}

#[test]
fn a_short_history_falls_back_to_the_model() {
    let points = (-180..90)
        .map(|i| {
            (
                t0() + Duration::seconds(10 * i),
                100.0 * (1.0 + 0.05 * wiggle(i)),
            )
        })
        .collect();
    let receipt = judge(
        &Series::new(points),
        &CheckSpec::new(Direction::IncreaseIsBad),
    );
    assert_eq!(receipt.noise.expect("noise").method, NoiseMethod::Model);
    assert_eq!(receipt.state, CheckState::Healthy);
}

#[test]
fn early_looks_need_a_larger_effect() {
    let timing = Timing::default();
    let spec = CheckSpec::new(Direction::IncreaseIsBad);
    let data = series(200.0, 0.05, 1.3);
    let early = Look::at(t0(), &timing, None, t0() + Duration::minutes(4));
    let data = CheckData {
        main: &data,
        concurrent: None,
        unavailable: false,
    };
    let receipt = judge_check(&name(), &spec, &timing, data, &early, false);
    let bar = receipt.z_bar.expect("bar");
    assert!(
        bar > stats::normal_quantile(1.0 - CHECK_ALPHA) * 2.0,
        "{bar}"
    );
}

#[test]
fn the_analysis_window_stops_at_the_next_deploy() {
    let timing = Timing::default();
    let next = t0() + Duration::minutes(6);
    let look = Look::at(t0(), &timing, Some(next), t0() + Duration::hours(1));
    assert_eq!(look.analysis_end, next);
    assert!(look.is_final(&timing, Some(next)));
    let running = Look::at(t0(), &timing, None, t0() + Duration::minutes(6));
    assert!(!running.is_final(&timing, None));
}

fn case_json(factor: f64, check: &str) -> String {
    let samples: Vec<String> = (-1440..90)
        .map(|i| {
            let at = t0() + Duration::seconds(10 * i);
            let after = if i >= 0 { factor } else { 1.0 };
            format!(
                "[\"{}\", {}]",
                at.to_rfc3339(),
                200.0 * after * (1.0 + 0.05 * wiggle(i))
            )
        })
        .collect();
    format!(
        r#"{{"check": {check}, "deployed_at": "{}", "samples": [{}]}}"#,
        t0().to_rfc3339(),
        samples.join(",")
    )
}

#[test]
fn an_offline_case_is_judged_as_the_server_would() {
    let check = r#"{"metric": "latency_p95", "direction": "increase_is_bad", "tolerance": 0.05}"#;
    let case: JudgeCase = serde_json::from_str(&case_json(1.3, check)).expect("case");
    let verdict = case.judge().expect("valid");
    assert_eq!(verdict.verdict, VerdictState::Unhealthy);
    assert!(verdict.is_final);
    assert_eq!(verdict.check.rule, CheckRule::Regressed);
    let printed = serde_json::to_value(&verdict).expect("json");
    assert_eq!(printed["verdict"], "unhealthy");
    assert_eq!(printed["final"], true);
    assert_eq!(printed["check"]["metric"], "latency_p95");

    let calm: JudgeCase = serde_json::from_str(&case_json(1.0, check)).expect("case");
    assert_eq!(calm.judge().expect("valid").verdict, VerdictState::Healthy);

    // Five minutes in, a calm deploy is still baking, healthy so far.
    let mut early = calm.clone();
    early.now = Some(t0() + Duration::minutes(5));
    let verdict = early.judge().expect("valid");
    assert_eq!(verdict.verdict, VerdictState::Baking);
    assert_eq!(verdict.provisional, Some(VerdictState::Healthy));
    assert!(!verdict.is_final);
}

#[test]
fn a_bad_offline_case_names_every_problem() {
    let check = r#"{"metric": "9lives", "direction": "up", "tolerance": -1, "weight": 0,
        "min_samples": 1, "runbook": "ftp://x", "baseline": "control", "bake": "1m",
        "warmup": "2m", "interval": "1s"}"#;
    let case: JudgeCase = serde_json::from_str(&case_json(1.0, check)).expect("case");
    let errors = case.judge().expect_err("invalid");
    let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
    for expected in [
        "check.metric",
        "check.direction",
        "check.tolerance",
        "check.weight",
        "check.min_samples",
        "check.runbook",
        "check.bake",
        "check.interval",
    ] {
        assert!(fields.contains(&expected), "{expected} in {fields:?}");
    }
    let no_direction: JudgeCase =
        serde_json::from_str(&case_json(1.0, r#"{"metric": "m"}"#)).expect("case");
    let errors = no_direction.judge().expect_err("invalid");
    assert_eq!(errors.0.len(), 1);
    assert!(
        serde_json::from_str::<JudgeCase>(&case_json(1.0, r#"{"metric": "m", "oops": 1}"#))
            .is_err()
    );
}

#[test]
fn an_override_needs_a_state_and_a_reason() {
    let parse = |state: Option<&str>, reason: Option<&str>| {
        OverrideRequest {
            state: state.map(str::to_owned),
            reason: reason.map(str::to_owned),
        }
        .parse()
    };
    assert_eq!(
        parse(Some(" healthy "), Some(" known noisy neighbour ")),
        Ok((VerdictState::Healthy, "known noisy neighbour".to_owned()))
    );
    for (state, reason, field) in [
        (None, Some("x"), "state"),
        (Some("ailing"), Some("x"), "state"),
        (Some("healthy"), None, "reason"),
        (Some("healthy"), Some("  "), "reason"),
    ] {
        let errors = parse(state, reason).expect_err("invalid");
        assert_eq!(errors.0[0].field, field);
    }
    let long = "x".repeat(MAX_OVERRIDE_REASON_LEN + 1);
    assert!(parse(Some("unhealthy"), Some(&long)).is_err());
}

#[test]
fn stored_names_are_the_names_sent() {
    for rule in VerdictRule::ALL {
        assert_eq!(serde_json::to_value(rule).expect("json"), rule.as_str());
        assert_eq!(VerdictRule::parse(rule.as_str()), Some(rule));
    }
    for state in ["baking", "healthy", "ailing", "unhealthy", "no_data"] {
        let parsed = VerdictState::parse(state).expect("state");
        assert_eq!(serde_json::to_value(parsed).expect("json"), state);
    }
}

#[test]
fn the_settings_form_reads_empty_as_the_default_and_names_bad_fields() {
    let form = CheckForm {
        direction: "increase_is_bad".into(),
        tolerance: " 0.05 ".into(),
        critical: Some("on".into()),
        baseline: "control".into(),
        ..CheckForm::default()
    };
    let spec = form.parse().expect("valid").expect("judged");
    assert_eq!(spec.tolerance, 0.05);
    assert!(spec.critical);
    assert_eq!(spec.baseline, BaselineKind::Control);
    assert_eq!(spec.min_samples, DEFAULT_MIN_SAMPLES);
    // No direction: charted, not judged, whatever else was typed.
    let charted = CheckForm {
        tolerance: "0.5".into(),
        ..CheckForm::default()
    };
    assert_eq!(charted.parse().expect("valid"), None);
    let bad = CheckForm {
        direction: "sideways".into(),
        tolerance: "five".into(),
        min_samples: "2.5".into(),
        ..CheckForm::default()
    };
    let fields: Vec<String> = bad
        .parse()
        .expect_err("invalid")
        .0
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert!(fields.contains(&"tolerance".to_owned()), "{fields:?}");
    assert!(fields.contains(&"min_samples".to_owned()), "{fields:?}");
    assert!(fields.contains(&"direction".to_owned()), "{fields:?}");
}

#[test]
fn the_pipelines_checks_read_from_form_and_file_at_their_boundaries() {
    let form = CheckForm {
        direction: "increase_is_bad".into(),
        min_value: "-5".into(),
        max_value: " 800 ".into(),
        max_sigma: "3".into(),
        max_slope_sigma: "0.5".into(),
        ..CheckForm::default()
    };
    let spec = form.parse().expect("valid").expect("judged");
    assert_eq!(
        (
            spec.min_value,
            spec.max_value,
            spec.max_sigma,
            spec.max_slope_sigma
        ),
        (Some(-5.0), Some(800.0), Some(3.0), Some(0.5))
    );
    // Empty: off.
    let plain = CheckForm {
        direction: "both".into(),
        ..CheckForm::default()
    };
    let spec = plain.parse().expect("valid").expect("judged");
    assert_eq!((spec.min_value, spec.max_sigma), (None, None));
    // A bound pair the wrong way round, a σ of 0 and one past 1000 are refused.
    let bad = CheckForm {
        direction: "both".into(),
        min_value: "10".into(),
        max_value: "9".into(),
        max_sigma: "0".into(),
        max_slope_sigma: "1000.5".into(),
        ..CheckForm::default()
    };
    let fields: Vec<String> = bad
        .parse()
        .expect_err("invalid")
        .0
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(fields, ["max_sigma", "max_slope_sigma", "min_value"]);
    // Equal bounds and the largest σ are allowed.
    let edge = CheckForm {
        direction: "both".into(),
        min_value: "9".into(),
        max_value: "9".into(),
        max_sigma: "1000".into(),
        ..CheckForm::default()
    };
    assert!(edge.parse().is_ok());
    // Without a direction, the pipeline's checks are named as set without one.
    let undirected = CheckFields {
        max_value: Some(800.0),
        ..CheckFields::default()
    };
    let mut p = crate::deploy::Problems::default();
    assert_eq!(undirected.parse_into(&mut p, &|f| f.to_owned()), None);
    let errors = p.into_errors();
    assert!(errors.0[0].message.contains("max_value"), "{errors:?}");
    // A stored check from before these fields reads with them off.
    let old = r#"{"direction":"both","critical":false,"weight":1.0,"tolerance":0.1,
        "tolerance_floor":0.0,"min_samples":10,"runbook":null,"baseline":"before"}"#;
    let old: CheckSpec = serde_json::from_str(old).expect("an old stored check");
    assert_eq!(old, CheckSpec::new(Direction::Both));
}

#[test]
fn a_broken_guard_fails_a_check_the_comparison_passed() {
    let mut spec = CheckSpec::new(Direction::IncreaseIsBad);
    spec.max_value = Some(150.0);
    let receipt = judge(&series(200.0, 0.05, 1.0), &spec);
    assert_eq!(
        (receipt.state, receipt.rule),
        (CheckState::Unhealthy, CheckRule::OutOfBounds)
    );
    assert_eq!(receipt.guards.len(), 1);
    // A regression keeps its own rule, the guard's line beside it.
    let receipt = judge(&series(200.0, 0.05, 1.3), &spec);
    assert_eq!(receipt.rule, CheckRule::Regressed);
    assert_eq!(receipt.guards[0].state, CheckState::Unhealthy);
    // Within the bound: the comparison decides.
    spec.max_value = Some(1000.0);
    let receipt = judge(&series(200.0, 0.05, 1.0), &spec);
    assert_eq!(receipt.state, CheckState::Healthy);
    assert_eq!(receipt.guards[0].state, CheckState::Healthy);
}

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(parse_duration("15m"), Ok(Duration::minutes(15)));
    assert_eq!(parse_duration(" 1h30m "), Ok(Duration::minutes(90)));
    assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
    for bad in ["", "15", "m", "1.5h", "15 m", "-5m", "9999h"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

fn check(state: CheckState, critical: bool, weight: f64) -> CheckReceipt {
    let mut receipt = judge(&series(200.0, 0.05, 1.0), &CheckSpec::new(Direction::Both));
    receipt.state = state;
    receipt.critical = critical;
    receipt.weight = weight;
    receipt
}

#[test]
fn the_reading_weighs_checks_and_lets_critical_ones_decide() {
    use CheckState::*;
    let cases: [(&[CheckReceipt], VerdictState, VerdictRule); 12] = [
        (&[], VerdictState::NoData, VerdictRule::NoChecks),
        (
            &[check(Healthy, false, 1.0)],
            VerdictState::Healthy,
            VerdictRule::Score,
        ),
        (
            &[check(Healthy, false, 9.0), check(Unhealthy, false, 1.0)],
            VerdictState::Ailing,
            VerdictRule::Score,
        ),
        (
            &[check(Healthy, false, 19.0), check(Unhealthy, false, 1.0)],
            VerdictState::Healthy,
            VerdictRule::Score,
        ),
        (
            &[check(Healthy, false, 9.0), check(Unhealthy, true, 1.0)],
            VerdictState::Unhealthy,
            VerdictRule::CriticalCheckFailed,
        ),
        (
            &[check(Healthy, false, 1.0), check(NoData, false, 1.0)],
            VerdictState::NoData,
            VerdictRule::MostChecksWithoutData,
        ),
        (
            &[check(Healthy, false, 5.0), check(NoData, true, 1.0)],
            VerdictState::NoData,
            VerdictRule::CriticalCheckWithoutData,
        ),
        // Checks that cannot tell are left out of the score...
        (
            &[check(Healthy, false, 3.0), check(CantTell, false, 1.0)],
            VerdictState::Healthy,
            VerdictRule::Score,
        ),
        // ...one of two leaves the other to decide...
        (
            &[check(Healthy, false, 1.0), check(CantTell, false, 1.0)],
            VerdictState::Healthy,
            VerdictRule::Score,
        ),
        // ...but more than half of them, a critical one, or all of them: not healthy.
        (
            &[check(Healthy, false, 1.0), check(CantTell, false, 1.1)],
            VerdictState::CantTell,
            VerdictRule::MostChecksCouldNotTell,
        ),
        (
            &[check(Healthy, false, 5.0), check(CantTell, true, 1.0)],
            VerdictState::CantTell,
            VerdictRule::CriticalCheckCouldNotTell,
        ),
        (
            &[check(CantTell, false, 1.0), check(NoData, false, 0.5)],
            VerdictState::CantTell,
            VerdictRule::MostChecksCouldNotTell,
        ),
    ];
    for (checks, state, rule) in cases {
        let reading = read_checks(checks, &[]);
        assert_eq!((reading.state, reading.rule), (state, rule), "{checks:?}");
    }
    let mixed = [check(Healthy, false, 3.0), check(CantTell, false, 1.0)];
    assert_eq!(read_checks(&mixed, &[]).score, Some(100.0));
    let new_group = NewErrorGroup {
        fingerprint: "abc".into(),
        message: "boom".into(),
        first_seen: t0(),
        occurrences: 5,
    };
    let reading = read_checks(&[check(Healthy, false, 1.0)], &[new_group]);
    assert_eq!(reading.state, VerdictState::Unhealthy);
    assert_eq!(reading.rule, VerdictRule::NewErrorGroups);
}

#[test]
fn the_rule_weighs_tolerance_floor_noise_and_sight_in_that_order() {
    let spec = CheckSpec {
        tolerance: 0.10,
        tolerance_floor: 1.0,
        ..CheckSpec::new(Direction::IncreaseIsBad)
    };
    let past_everything = Evidence {
        delta: 30.0,
        delta_relative: Some(0.30),
        z: Some(5.0),
        z_bar: 2.58,
        count_p: None,
        sides: 1.0,
        min_detectable_change: Some(0.05),
    };
    let rule = |evidence: Evidence| decide(&spec, &evidence, &[]);
    assert_eq!(rule(past_everything), CheckRule::Regressed);
    let small = Evidence {
        delta_relative: Some(0.08),
        ..past_everything
    };
    assert_eq!(rule(small), CheckRule::WithinTolerance);
    let tiny = Evidence {
        delta: 0.5,
        ..past_everything
    };
    assert_eq!(rule(tiny), CheckRule::BelowFloor);
    let better = Evidence {
        delta: -30.0,
        delta_relative: Some(-0.30),
        ..past_everything
    };
    assert_eq!(rule(better), CheckRule::WithinTolerance, "the good way");
    let noisy = Evidence {
        z: Some(2.0),
        ..past_everything
    };
    assert_eq!(rule(noisy), CheckRule::WithinNoise);
    let blind = Evidence {
        min_detectable_change: Some(0.40),
        ..noisy
    };
    assert_eq!(rule(blind), CheckRule::CouldNotTell);
    let unknown = Evidence {
        z: Some(f64::NAN),
        ..past_everything
    };
    assert_eq!(rule(unknown), CheckRule::WithinNoise, "NaN passes no bar");
    let counts_disagree = Evidence {
        count_p: Some(0.2),
        ..past_everything
    };
    assert_eq!(rule(counts_disagree), CheckRule::WithinNoise);
    let from_zero = Evidence {
        delta_relative: None,
        ..past_everything
    };
    assert_eq!(rule(from_zero), CheckRule::Regressed);
    assert_eq!(CheckRule::Regressed.state(), CheckState::Unhealthy);
    assert_eq!(CheckRule::CouldNotTell.state(), CheckState::CantTell);
    assert_eq!(CheckRule::TooFewCurrentSamples.state(), CheckState::NoData);
}

#[test]
fn a_broken_guard_fails_every_rule_but_a_regression() {
    let spec = CheckSpec::new(Direction::IncreaseIsBad);
    let broken = GuardReceipt {
        kind: GuardKind::Slope,
        state: CheckState::Unhealthy,
        value: Some(4.0),
        limit: 3.0,
        line: "steep".into(),
    };
    let held = GuardReceipt {
        state: CheckState::Healthy,
        ..broken.clone()
    };
    let calm = Evidence {
        delta: 0.0,
        delta_relative: Some(0.0),
        z: Some(0.0),
        z_bar: 2.58,
        count_p: None,
        sides: 1.0,
        min_detectable_change: Some(0.05),
    };
    assert_eq!(
        decide(&spec, &calm, &[held.clone(), broken.clone()]),
        CheckRule::SteepSlope
    );
    assert_eq!(decide(&spec, &calm, &[held]), CheckRule::WithinTolerance);
    let regressed = Evidence {
        delta: 5.0,
        delta_relative: Some(0.5),
        z: Some(9.0),
        ..calm
    };
    assert_eq!(decide(&spec, &regressed, &[broken]), CheckRule::Regressed);
}

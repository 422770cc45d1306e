//! The judge's golden cases: each `judge_cases/NAME.json` is a case in the format
//! `houston judge` reads, and `NAME.expected.json` is what the judge says of it, the
//! verdict and the whole receipt, number for number. A change to the judge that moves
//! any of it fails here; when the move is meant, bless the new answers with
//! `HOUSTON_BLESS=1 cargo test -p houston-core --test judge_cases` and read their diff.
//! `scripts/judge-cases.py` writes the cases.

// Reading the case files is this test's job; the crate itself does no IO.
#![allow(clippy::disallowed_methods)]

use houston_core::JudgeCase;
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/judge_cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension().is_some_and(|e| e == "json")
                && !path.to_string_lossy().ends_with(".expected.json")
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_golden_case_is_judged_as_written() {
    let bless = std::env::var_os("HOUSTON_BLESS").is_some();
    let paths = cases();
    assert!(paths.len() >= 10, "only {} cases", paths.len());
    let mut wrong = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("case");
        let case: JudgeCase = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a `houston judge` case: {e}", path.display()));
        let verdict = case
            .judge()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let said = serde_json::to_string_pretty(&verdict).expect("json") + "\n";
        let expected_path = path.with_extension("expected.json");
        if bless {
            std::fs::write(&expected_path, &said).expect("bless");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == said => {}
            Ok(_) => wrong.push(format!(
                "{}: the judge now says something else (HOUSTON_BLESS=1 to accept it)",
                path.display()
            )),
            Err(_) => wrong.push(format!(
                "{}: no {} (HOUSTON_BLESS=1 writes it)",
                path.display(),
                expected_path.display()
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The cases say what their names say: the golden files are not blessed blindly.
#[test]
fn each_case_reaches_the_verdict_its_name_promises() {
    let expected = [
        ("calm_latency_is_healthy", "healthy", "within"),
        ("latency_up_40_percent_regresses", "unhealthy", "regressed"),
        (
            "a_step_the_noise_hides_cannot_tell",
            "cant_tell",
            "could_not_tell",
        ),
        (
            "throughput_falling_when_decrease_is_bad_regresses",
            "unhealthy",
            "regressed",
        ),
        (
            "throughput_rising_when_decrease_is_bad_is_healthy",
            "healthy",
            "within_tolerance",
        ),
        ("error_counts_jumping_regress", "unhealthy", "regressed"),
        ("calm_error_counts_are_healthy", "healthy", ""),
        (
            "a_bound_fails_a_check_the_comparison_passed",
            "unhealthy",
            "out_of_bounds",
        ),
        (
            "too_few_samples_after_the_deploy_is_no_data",
            "no_data",
            "too_few_current_samples",
        ),
        (
            "a_reading_while_baking_is_provisional",
            "unhealthy",
            "regressed",
        ),
        ("the_next_deploy_ends_the_bake_early", "healthy", ""),
        ("last_week_as_the_baseline", "unhealthy", "regressed"),
        (
            "a_canary_against_its_control_group",
            "unhealthy",
            "regressed",
        ),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/judge_cases");
    let mut wrong = Vec::new();
    for (name, verdict, rule) in expected {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("case");
        let case: JudgeCase = serde_json::from_str(&text).expect("case");
        let said = case.judge().unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = serde_json::to_value(&said).expect("json");
        let check_rule = json["check"]["rule"].as_str().unwrap_or_default();
        if json["verdict"] != verdict || !check_rule.starts_with(rule) {
            wrong.push(format!(
                "{name}: {} by {check_rule} (provisional {}, z {}, bar {}, change {})",
                json["verdict"],
                json["provisional"],
                json["check"]["z"],
                json["check"]["z_bar"],
                json["check"]["delta_relative"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

//! `houston judge`: the binary judges a file and a batch without a server.

use std::process::Command;

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};

/// Four hours at 10 s before the deploy and the bake after it, around 200 ms with a
/// small deterministic wobble, multiplied by `factor` from the deploy on.
fn case(factor: f64) -> Value {
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .expect("time");
    let samples: Vec<Value> = (-1440..90)
        .map(|i: i64| {
            let wobble = 1.0 + 0.04 * ((i as f64) * 0.7).sin();
            let step = if i >= 0 { factor } else { 1.0 };
            json!([
                (t0 + Duration::seconds(10 * i)).to_rfc3339(),
                200.0 * wobble * step
            ])
        })
        .collect();
    json!({
        "check": {"metric": "latency_p95", "direction": "increase_is_bad", "tolerance": 0.05},
        "deployed_at": t0.to_rfc3339(),
        "samples": samples,
    })
}

fn houston() -> Command {
    Command::new(env!("CARGO_BIN_EXE_houston"))
}

#[test]
fn one_case_prints_its_verdict_and_receipt() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("case.json");
    std::fs::write(&path, case(1.4).to_string()).expect("write");
    let output = houston().arg("judge").arg(&path).output().expect("run");
    assert!(output.status.success(), "{output:?}");
    let verdict: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(verdict["verdict"], "unhealthy");
    assert_eq!(verdict["final"], true);
    assert_eq!(verdict["check"]["rule"], "regressed");
    let relative = verdict["check"]["delta_relative"].as_f64().expect("delta");
    assert!((relative - 0.4).abs() < 0.05, "{relative}");
    assert!(verdict["check"]["min_detectable_change"].as_f64().is_some());
    assert!(verdict["check"]["baseline"]["summary"]["count"].as_u64() == Some(180));
}

#[test]
fn a_batch_prints_one_line_per_case_and_fails_on_a_bad_one() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("cases.jsonl");
    let mut bad = case(1.0);
    bad["check"]["direction"] = json!("sideways");
    let lines = [case(1.0), case(1.5), bad]
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, lines).expect("write");
    let output = houston()
        .args(["judge", "--batch"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!output.status.success());
    let printed: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("json line"))
        .collect();
    assert_eq!(printed.len(), 3);
    assert_eq!(printed[0]["verdict"], "healthy");
    assert_eq!(printed[1]["verdict"], "unhealthy");
    assert_eq!(printed[2]["line"], 3);
    let problem = printed[2]["error"].as_str().expect("error");
    assert!(problem.contains("check.direction"), "{problem}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 of 3 cases"));
}

//! `houston judge FILE.json`: the health judge on a file, without a server or a
//! database, deciding exactly as the scheduler does (the same `judge_check` and
//! `read_checks`), for people who tune checks.

use std::io::{BufRead, Read};
use std::path::Path;

use app::domain::{JudgeCase, ValidationErrors};
use serde_json::json;

/// Judges FILE (`-` for standard input) and prints the verdict as JSON; with `batch`,
/// one case per line in, one verdict line out (a case that cannot be judged prints
/// its problems on its line, and the command fails at the end).
pub fn run(path: &Path, batch: bool) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    if !batch {
        let mut text = String::new();
        let mut reader = reader;
        reader.read_to_string(&mut text)?;
        let verdict = judge_text(&text).map_err(|problem| anyhow::anyhow!("{problem}"))?;
        println!("{}", serde_json::to_string_pretty(&verdict)?);
        return Ok(());
    }
    let (mut cases, mut failed) = (0, 0);
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        cases += 1;
        match judge_text(&line) {
            Ok(verdict) => println!("{verdict}"),
            Err(problem) => {
                failed += 1;
                println!("{}", json!({"line": index + 1, "error": problem}));
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {cases} cases could not be judged");
    }
    Ok(())
}

/// One case's verdict as JSON, or what is wrong with it.
pub fn judge_text(text: &str) -> Result<serde_json::Value, String> {
    let case: JudgeCase =
        serde_json::from_str(text).map_err(|e| format!("not a judge case: {e}"))?;
    let verdict = case.judge().map_err(|errors| describe(&errors))?;
    serde_json::to_value(verdict).map_err(|e| e.to_string())
}

fn describe(errors: &ValidationErrors) -> String {
    errors
        .0
        .iter()
        .map(|error| format!("{}: {}", error.field, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

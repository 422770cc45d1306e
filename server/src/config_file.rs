//! `houston config apply FILE.toml`: the stored metric definitions made to match a
//! file kept in git. Declarative: what the file does not define is deleted. Every
//! change is printed and audited; `--dry-run` only prints.

use app::domain::{Actor, ConfigFile, Configuration, plan_definitions, plan_timings};
use app::ssr::Store;

/// Reads and checks a configuration file: TOML syntax first, then every rule, each
/// problem named (`metric[2].query`).
pub fn read(path: &std::path::Path) -> anyhow::Result<Configuration> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{} is not a valid configuration file:\n{e}", path.display())
    })?;
    file.parse_all().map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(|e| format!("  {e}")).collect();
        anyhow::anyhow!("{} has problems:\n{}", path.display(), lines.join("\n"))
    })
}

/// Plans (and unless `dry_run`, applies: the definitions in one transaction, then the
/// timings in another) what makes the stored configuration match the file. Returns
/// each change as the command prints it.
pub async fn apply(
    store: &dyn Store,
    path: &std::path::Path,
    dry_run: bool,
    by: &Actor,
    reason: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let wanted = read(path)?;
    let metric_changes = plan_definitions(&store.list_metric_definitions().await?, &wanted.metrics);
    let timing_changes = plan_timings(&store.list_service_timings().await?, &wanted.services);
    if !dry_run {
        let now = chrono::Utc::now();
        if !metric_changes.is_empty() {
            store
                .apply_definition_changes(&metric_changes, by, reason, now)
                .await?;
        }
        if !timing_changes.is_empty() {
            store
                .apply_timing_changes(&timing_changes, by, reason, now)
                .await?;
        }
    }
    Ok(metric_changes
        .iter()
        .map(|c| c.describe())
        .chain(timing_changes.iter().map(|c| c.describe()))
        .collect())
}

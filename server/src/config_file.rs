//! `houston config apply FILE.toml`: the stored metric definitions made to match a
//! file kept in git. Declarative: what the file does not define is deleted. Every
//! change is printed and audited; `--dry-run` only prints.

use app::domain::{Actor, ConfigFile, DefinitionChange, plan_definitions};
use app::ssr::Store;

/// Reads and checks a configuration file: TOML syntax first, then every rule, each
/// problem named (`metric[2].query`).
pub fn read(path: &std::path::Path) -> anyhow::Result<Vec<app::domain::MetricDefinition>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{} is not a valid configuration file:\n{e}", path.display())
    })?;
    file.parse().map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(|e| format!("  {e}")).collect();
        anyhow::anyhow!("{} has problems:\n{}", path.display(), lines.join("\n"))
    })
}

/// Plans (and unless `dry_run`, applies in one transaction) what makes the stored
/// definitions match the file. Returns the changes.
pub async fn apply(
    store: &dyn Store,
    path: &std::path::Path,
    dry_run: bool,
    by: &Actor,
    reason: Option<&str>,
) -> anyhow::Result<Vec<DefinitionChange>> {
    let wanted = read(path)?;
    let stored = store.list_metric_definitions().await?;
    let changes = plan_definitions(&stored, &wanted);
    if !dry_run && !changes.is_empty() {
        store
            .apply_definition_changes(&changes, by, reason, chrono::Utc::now())
            .await?;
    }
    Ok(changes)
}

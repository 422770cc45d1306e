//! `houston config apply FILE.toml`: the stored metric definitions made to match a
//! file kept in git. Declarative: what the file does not define is deleted. Every
//! change is printed and audited; `--dry-run` only prints.

use app::domain::{
    Actor, ConfigFile, Configuration, EnvironmentGate, GATE_RULES_SETTING, REPOSITORIES_SETTING,
    RepositoryLink, plan_definitions, plan_timings,
};
use app::server::Store;

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
    // Gate rules and repository links are settings (JSON lists), replaced whole.
    let gates_now = app::server::gate::gate_rules(store).await?;
    let repositories_now: Vec<RepositoryLink> =
        match store.get_setting(REPOSITORIES_SETTING).await? {
            None => Vec::new(),
            Some(json) => serde_json::from_str(&json)?,
        };
    let mut settings_changes: Vec<(&str, String, String)> = Vec::new();
    if gates_now != wanted.gates {
        let said = if wanted.gates.is_empty() {
            "gate rules: none (every environment takes any version)".to_owned()
        } else {
            format!(
                "gate rules: {}",
                wanted
                    .gates
                    .iter()
                    .map(describe_gate)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        settings_changes.push((
            GATE_RULES_SETTING,
            serde_json::to_string(&wanted.gates)?,
            said,
        ));
    }
    if repositories_now != wanted.repositories {
        let said = if wanted.repositories.is_empty() {
            "GitHub repositories: none linked".to_owned()
        } else {
            format!(
                "GitHub repositories: {}",
                wanted
                    .repositories
                    .iter()
                    .map(|r| format!(
                        "{} (merges wait while {} in {} is locked)",
                        r.repository, r.service, r.environment
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        settings_changes.push((
            REPOSITORIES_SETTING,
            serde_json::to_string(&wanted.repositories)?,
            said,
        ));
    }
    if !dry_run {
        for (key, value, _) in &settings_changes {
            store
                .set_setting(key, value, by, reason, chrono::Utc::now())
                .await?;
        }
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
        .chain(settings_changes.into_iter().map(|(_, _, said)| said))
        .collect())
}

/// "production: from the previous stage, healthy, baked 30 min; refs main".
fn describe_gate(gate: &EnvironmentGate) -> String {
    let mut parts = Vec::new();
    if gate.require_previous_stage {
        parts.push(format!(
            "from the previous stage, healthy, baked {} min",
            gate.min_bake_secs / 60
        ));
    }
    if !gate.branches.is_empty() {
        parts.push(format!("refs {}", gate.branches.join(", ")));
    }
    if let Some(least) = gate.stop_on_incident {
        parts.push(format!("stops on {} incidents or worse", least.as_str()));
    }
    if parts.is_empty() {
        parts.push("no rules".to_owned());
    }
    format!("{}: {}", gate.environment, parts.join("; "))
}

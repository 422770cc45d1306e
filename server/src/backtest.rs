//! `houston backtest --config FILE.toml [--since …]`: past deploys judged again with a
//! candidate configuration (its metrics' checks and its services' timings, not yet
//! applied), listing the deploys whose verdict would change. Each deploy is judged as
//! the server judged it, at the end of its analysis, on the data stored now (samples
//! older than the retention are gone: such a deploy reads `no_data`).

use crate::jobs::judge::{Setup, evaluate_with};
use app::domain::{Configuration, Deploy, DeployFilter, PageRequest, VerdictRule, VerdictState};
use app::server::Store;
use app::server::sources::SampleSource;
use chrono::{DateTime, Utc};

/// A deploy whose verdict the candidate changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub deploy: Deploy,
    pub stored: VerdictState,
    pub candidate: VerdictState,
    pub rule: VerdictRule,
}

/// What a backtest found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Deploys with a final verdict that were judged again.
    pub judged: usize,
    pub changed: Vec<Changed>,
}

/// Judges again, with `candidate`, every deploy that started at or after `since` and
/// has a final verdict (newest first, at most `limit`).
pub async fn run(
    store: &dyn Store,
    source: Option<&dyn SampleSource>,
    candidate: Configuration,
    since: DateTime<Utc>,
    limit: usize,
) -> anyhow::Result<Report> {
    let setup = Setup::of(candidate);
    let filter = DeployFilter {
        since: Some(since),
        ..DeployFilter::default()
    };
    let mut page = PageRequest {
        cursor: None,
        limit: app::domain::MAX_PAGE_SIZE,
    };
    let mut report = Report::default();
    loop {
        let read = store.list_deploys(&filter, &page).await?;
        for deploy in read.deploys {
            if report.judged >= limit {
                return Ok(report);
            }
            let Some(verdict) = store.get_verdict(deploy.id).await? else {
                continue;
            };
            if !verdict.is_final || verdict.rule == VerdictRule::DeployDidNotSucceed {
                continue;
            }
            // The moment the analysis was complete: the bake's end, or when the
            // verdict was decided if that was later (a late-registered deploy).
            let at = match (verdict.receipt.bake_end, verdict.decided_at) {
                (Some(end), Some(decided)) => end.max(decided),
                (end, decided) => end.or(decided).unwrap_or_else(Utc::now),
            };
            let (_, evaluation) = evaluate_with(store, source, &setup, deploy.id, at).await?;
            report.judged += 1;
            if evaluation.state != verdict.state {
                report.changed.push(Changed {
                    deploy,
                    stored: verdict.state,
                    candidate: evaluation.state,
                    rule: evaluation.rule,
                });
            }
        }
        match read
            .next_cursor
            .as_deref()
            .and_then(app::domain::Cursor::decode)
        {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(report),
        }
    }
}

/// The report as the command prints it.
pub fn describe(report: &Report, since: DateTime<Utc>) -> Vec<String> {
    let mut lines = vec![format!(
        "{} deploys since {} judged again: {} would change",
        report.judged,
        since.format("%Y-%m-%d %H:%M UTC"),
        report.changed.len()
    )];
    for c in &report.changed {
        lines.push(format!(
            "  deploy {} {} in {} ({}, {}): {} -> {} ({})",
            c.deploy.id,
            c.deploy.service,
            c.deploy.environment,
            c.deploy.version,
            c.deploy.started_at.format("%Y-%m-%d %H:%M"),
            c.stored.as_str(),
            c.candidate.as_str(),
            c.rule.describe(),
        ));
    }
    lines
}

//! `houston demo`'s loading, in the order a running Houston can take it: the
//! definitions and timings, then the signals, then the alerts, then the deploys, then
//! the scene around them (a standing lock, a freeze window, a hotfix deployed through
//! a lock on an override), and last the judge — the real one, reading the stored
//! samples, so no verdict is written by the demo itself.
//!
//! Everything the demo writes is its own: deploys with source `demo` and external ids
//! `demo:…`, the seven services in `SERVICES`, definitions and timings it adds only
//! when their names are free, and audit entries by `cli:demo`.

use super::signals::{Episode, Fate, PlaceSignals, merge_spans};
use super::{DemoDeploy, HOTFIX_ID, UNWIRED, demo_deploys};
use app::domain::freeze::{RangeRequest, ScheduleRequest};
use app::domain::{
    Actor, AlertReport, AlertState, ConfigFile, Configuration, DefinitionChange, DeployStatus,
    EnvironmentName, ErrorBatch, FreezeHeader, GateRule, LockScope, MetricBatch, NewBreakGlass,
    NewLock, ServiceName, TimingChange,
};
use app::server::{LockOutcome, Store};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// Deploys of the last this many days get signals (the judge's verdicts need them);
/// older ones say "no data". Under the signals' retention (8 days by default).
pub const SIGNAL_DAYS: i64 = 7;

/// How far before a deploy its signals start: the judge's four hours of history, its
/// baseline (twice the 5-minute bake) and a margin.
const BEFORE: Duration = Duration::minutes(4 * 60 + 20);
/// How far after a deploy its signals go on: the deploy page charts an hour after.
const AFTER: Duration = Duration::minutes(70);

/// What `houston demo` stored and what the judge made of it.
#[derive(Debug, Default)]
pub struct Seeded {
    pub deploys_created: usize,
    pub samples: u64,
    pub error_occurrences: u64,
    pub alerts: usize,
    /// Verdicts of the deploys created, by state as people read it.
    pub verdicts: BTreeMap<&'static str, usize>,
    /// The deploys, with their fates (for `--live`).
    pub plan: Vec<DemoDeploy>,
}

/// The definitions and timings of `demo.toml`.
pub fn configuration() -> anyhow::Result<Configuration> {
    let file: ConfigFile = toml::from_str(include_str!("demo.toml"))?;
    file.parse_all()
        .map_err(|e| anyhow::anyhow!("demo.toml has problems: {:?}", e.0))
}

/// Adds the demo's definitions and timings whose names are free; changes nothing
/// that is there. `services`: the services the metrics apply to, when not the seven.
async fn configure(
    store: &dyn Store,
    by: &Actor,
    now: DateTime<Utc>,
    services: Option<Vec<String>>,
) -> anyhow::Result<()> {
    let mut wanted = configuration()?;
    if let Some(services) = services {
        for metric in &mut wanted.metrics {
            metric.services.clone_from(&services);
        }
    }
    let stored = store.list_metric_definitions().await?;
    let metrics: Vec<DefinitionChange> = wanted
        .metrics
        .into_iter()
        .filter(|d| stored.iter().all(|s| s.name != d.name))
        .map(DefinitionChange::Create)
        .collect();
    if !metrics.is_empty() {
        store
            .apply_definition_changes(&metrics, by, Some("houston demo"), now)
            .await?;
    }
    let stored = store.list_service_timings().await?;
    let timings: Vec<TimingChange> = wanted
        .services
        .into_iter()
        .filter(|t| stored.iter().all(|s| s.key() != t.key()))
        .map(|after| TimingChange::Set {
            before: None,
            after,
        })
        .collect();
    if !timings.is_empty() {
        store
            .apply_timing_changes(&timings, by, Some("houston demo"), now)
            .await?;
    }
    Ok(())
}

/// The deploys of one place, in the order they started.
type Places<'a> = BTreeMap<(&'a str, &'a str), Vec<&'a DemoDeploy>>;

fn places(plan: &[DemoDeploy]) -> Places<'_> {
    let mut places: Places<'_> = BTreeMap::new();
    for d in plan {
        places
            .entry((d.deploy.service.as_str(), d.deploy.environment.as_str()))
            .or_default()
            .push(d);
    }
    places
}

/// The succeeded deploys of a place as its signals feel them.
pub fn episodes(deploys: &[&DemoDeploy]) -> Vec<Episode> {
    let mut episodes: Vec<Episode> = deploys
        .iter()
        .filter(|d| d.deploy.status == DeployStatus::Succeeded)
        .filter_map(|d| {
            Some(Episode {
                at: d.deploy.finished_at?,
                version: d.deploy.version.clone(),
                fate: d.fate,
            })
        })
        .collect();
    episodes.sort_by_key(|e| e.at);
    episodes
}

/// Samples and error events around every deploy of the last [`SIGNAL_DAYS`], place by
/// place (one transaction each). Returns (samples, error occurrences).
async fn seed_signals(
    store: &dyn Store,
    plan: &[DemoDeploy],
    seed: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<(u64, u64)> {
    let since = now - Duration::days(SIGNAL_DAYS);
    let (mut samples, mut occurrences) = (0, 0);
    for ((service, environment), deploys) in places(plan) {
        if service == UNWIRED {
            continue;
        }
        let spans = merge_spans(
            deploys
                .iter()
                .filter(|d| d.deploy.started_at >= since)
                .map(|d| {
                    let deployed = d.deploy.finished_at.unwrap_or(d.deploy.started_at);
                    (deployed - BEFORE, (deployed + AFTER).min(now))
                })
                .collect(),
        );
        if spans.is_empty() {
            continue;
        }
        let episodes = episodes(&deploys);
        let mut signals = PlaceSignals::new(
            &ServiceName::parse(service)?,
            &EnvironmentName::parse(environment)?,
            seed,
        );
        let mut batch = MetricBatch::default();
        let mut errors = ErrorBatch::default();
        for (from, to) in spans {
            let (series, events) = signals.span(from, to, &episodes);
            if batch.series.is_empty() {
                batch.series = series;
            } else {
                for (all, more) in batch.series.iter_mut().zip(series) {
                    all.samples.extend(more.samples);
                }
            }
            errors.events.extend(events);
        }
        samples += store.store_samples(&batch, now).await?;
        occurrences += store.store_error_events(&errors, now).await?;
    }
    Ok((samples, occurrences))
}

/// An alert on a bad release's place: firing a few minutes after it, resolved a
/// couple of minutes after the next deploy there (or still firing).
fn alerts_for(plan: &[DemoDeploy], now: DateTime<Utc>) -> Vec<AlertReport> {
    let since = now - Duration::days(SIGNAL_DAYS);
    let mut reports = Vec::new();
    for ((service, environment), deploys) in places(plan) {
        let episodes = episodes(&deploys);
        for (i, episode) in episodes.iter().enumerate() {
            let (name, severity, summary, after, lasts) = match episode.fate {
                Fate::SlowAndFailing => (
                    "HighLatencyP95",
                    "page",
                    "p95 latency is over 1.5× its usual level",
                    Duration::minutes(3),
                    None,
                ),
                Fate::HotterCpu => (
                    "HighCpu",
                    "ticket",
                    "CPU has been over its usual level for 5 minutes",
                    Duration::minutes(6),
                    Some(Duration::minutes(20)),
                ),
                Fate::Calm | Fate::NewErrors => continue,
            };
            let starts_at = episode.at + after;
            if starts_at < since || starts_at >= now {
                continue;
            }
            let ends_at = lasts
                .map(|d| starts_at + d)
                .or_else(|| {
                    episodes
                        .get(i + 1)
                        .map(|next| next.at + Duration::minutes(2))
                })
                .filter(|end| *end < now);
            let labels: BTreeMap<String, String> = [
                ("alertname", name),
                ("service", service),
                ("environment", environment),
                ("severity", severity),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            let annotations = BTreeMap::from([
                (
                    "summary".to_owned(),
                    format!("{service} in {environment}: {summary}"),
                ),
                (
                    "runbook_url".to_owned(),
                    "https://runbooks.acme.example/alerts".to_owned(),
                ),
            ]);
            reports.push(AlertReport {
                fingerprint: format!(
                    "{:016x}",
                    super::stable_hash(&[name, service, environment, &episode.version])
                ),
                starts_at,
                ends_at,
                state: if ends_at.is_some() {
                    AlertState::Resolved
                } else {
                    AlertState::Firing
                },
                name: name.to_owned(),
                service: Some(ServiceName::parse(service).ok()).flatten(),
                environment: Some(EnvironmentName::parse(environment).ok()).flatten(),
                labels,
                annotations,
                generator_url: Some(format!(
                    "https://prometheus.acme.example/graph?g0.expr=ALERTS%7Balertname%3D%22{name}%22%7D"
                )),
            });
        }
    }
    reports
}

/// Records the alerts as Alertmanager would send them: each firing first, then the
/// resolutions.
async fn seed_alerts(
    store: &dyn Store,
    plan: &[DemoDeploy],
    by: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let reports = alerts_for(plan, now);
    let firing: Vec<AlertReport> = reports
        .iter()
        .map(|r| AlertReport {
            ends_at: None,
            state: AlertState::Firing,
            ..r.clone()
        })
        .collect();
    store.record_alerts(&firing, by, now).await?;
    let resolved: Vec<AlertReport> = reports
        .iter()
        .filter(|r| r.state == AlertState::Resolved)
        .cloned()
        .collect();
    if !resolved.is_empty() {
        store.record_alerts(&resolved, by, now).await?;
    }
    Ok(reports.len())
}

fn place_scope(service: &str, environment: &str) -> anyhow::Result<LockScope> {
    Ok(LockScope {
        environment: Some(EnvironmentName::parse(environment)?),
        service: Some(ServiceName::parse(service)?),
    })
}

/// The weekly freeze window: payments in production only in Berlin office hours.
const FREEZE_NAME: &str = "Outside business hours";

/// A standing lock, a weekly freeze window, and the hotfix that went out through a
/// lock on a lead's override (spent by its registration). Returns the hotfix's id
/// when it was created now.
async fn scene(
    store: &dyn Store,
    plan: &[DemoDeploy],
    by: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let standing = NewLock {
        scope: place_scope("inventory", "staging")?,
        reason: "Reindexing the warehouse tables: staging deploys wait until it is done (OPS-1432)"
            .to_owned(),
        expires_at: None,
    };
    store.place_lock(&standing, by, now).await?;

    if store
        .list_freezes()
        .await?
        .iter()
        .all(|w| w.name != FREEZE_NAME)
    {
        let range = |days: &[&str], start: &str, end: &str| RangeRequest {
            days: Some(days.iter().map(|d| (*d).to_owned()).collect()),
            start: Some(start.to_owned()),
            end: Some(end.to_owned()),
        };
        let schedule = ScheduleRequest {
            kind: Some("weekly".to_owned()),
            time_zone: Some("Europe/Berlin".to_owned()),
            ranges: Some(vec![
                range(&["mon", "tue", "wed", "thu"], "18:00", "08:00"),
                range(&["fri"], "18:00", "00:00"),
                range(&["sat", "sun"], "00:00", "00:00"),
                range(&["mon"], "00:00", "08:00"),
            ]),
            from: None,
            to: None,
        }
        .parse()
        .map_err(|problems| anyhow::anyhow!("the demo's freeze window: {problems:?}"))?;
        let header = FreezeHeader {
            name: FREEZE_NAME.to_owned(),
            note: Some(
                "Payments goes to production only while its team is in the Berlin office"
                    .to_owned(),
            ),
            scope: place_scope("payments", "production")?,
        };
        store.save_freeze(None, &header, &schedule, by, now).await?;
    }

    let Some(hotfix) = plan
        .iter()
        .find(|d| d.deploy.external_id.as_deref() == Some(HOTFIX_ID))
    else {
        return Ok(None);
    };
    if store.find_deploy_by_external_id(HOTFIX_ID).await?.is_some() {
        return Ok(None);
    }
    let drill = NewLock {
        scope: place_scope("inventory", "production")?,
        reason: "Warehouse database failover drill: production deploys wait".to_owned(),
        expires_at: None,
    };
    let lock = match store.place_lock(&drill, by, now).await? {
        LockOutcome::Placed(lock) | LockOutcome::AlreadyLocked(lock) => lock,
    };
    store
        .grant_override(
            &NewBreakGlass {
                service: hotfix.deploy.service.clone(),
                environment: hotfix.deploy.environment.clone(),
                version: Some(hotfix.deploy.version.clone()),
                reason: "Stock counts round up and oversell: the hotfix cannot wait for the drill"
                    .to_owned(),
                expires_at: now + Duration::hours(1),
                breaks: vec![GateRule::Lock],
            },
            by,
            now,
        )
        .await?;
    let registered = store.register_deploy(&hotfix.deploy, by).await?;
    store
        .unlock(lock.id, Some("Drill over: failover took 41 s"), by, now)
        .await?;
    Ok(registered.created.then_some(registered.deploy.id))
}

/// Loads the demo (a month of deploys over `days` days) and has the judge look at
/// every new deploy. Idempotent: what is stored already is kept.
pub async fn load(store: &dyn Store, days: u32, seed: u64) -> anyhow::Result<Seeded> {
    let now = Utc::now();
    let by = Actor::new("cli:demo", None);
    let plan = demo_deploys(days, seed, now);
    configure(store, &by, now, None).await?;
    // Signals before deploys: a server running beside the demo judges a deploy as
    // soon as it is registered.
    let (samples, error_occurrences) = seed_signals(store, &plan, seed, now).await?;
    let alerts = seed_alerts(store, &plan, &by, now).await?;
    let mut created = Vec::new();
    for d in &plan {
        if d.deploy.external_id.as_deref() == Some(HOTFIX_ID) {
            continue;
        }
        let registered = store.register_deploy(&d.deploy, &by).await?;
        if registered.created {
            created.push(registered.deploy.id);
        }
    }
    created.extend(scene(store, &plan, &by, now).await?);
    Ok(Seeded {
        deploys_created: created.len(),
        samples,
        error_occurrences,
        alerts,
        verdicts: judge(store, &created).await?,
        plan,
    })
}

/// The judge, as the server's job runs it, until nothing is due; the verdicts of
/// `created` by state.
async fn judge(
    store: &dyn Store,
    created: &[i64],
) -> anyhow::Result<BTreeMap<&'static str, usize>> {
    let judged_at = Utc::now();
    while crate::jobs::judge::run(store, None, None, judged_at).await? > 0 {}
    let mut verdicts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for &id in created {
        if let Some(verdict) = store.get_verdict(id).await? {
            *verdicts.entry(verdict.state.label()).or_default() += 1;
        }
    }
    Ok(verdicts)
}

/// Deploys of the last day of a scaled demo get signals and the judge; older ones
/// are imported in bulk (no verdicts: the judge never follows them).
const SCALED_RECENT: Duration = Duration::days(1);

/// Stores `n` scaled demo deploys ([`super::scaled_deploys`]): all but the last
/// day's in batches, then the last day's with their signals, registered one by one
/// and judged. Returns how many deploys were new and what was seeded.
pub async fn load_scaled(store: &dyn Store, n: usize, seed: u64) -> anyhow::Result<Seeded> {
    let now = Utc::now();
    let by = Actor::new("cli:demo", None);
    let services = super::scaled_services(n)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    configure(store, &by, now, Some(services)).await?;
    let recent_from = now - SCALED_RECENT;
    let mut recent: Vec<DemoDeploy> = Vec::new();
    let mut imported = 0u64;
    let mut done = 0usize;
    let mut deploys = super::scaled_deploys(n, seed, now).peekable();
    while deploys.peek().is_some() {
        let (batch, last_day): (Vec<_>, Vec<_>) = deploys
            .by_ref()
            .take(5000)
            .partition(|d| d.started_at < recent_from);
        done += batch.len() + last_day.len();
        recent.extend(last_day.into_iter().map(|deploy| DemoDeploy {
            fate: super::signals::fate_of(seed, deploy.external_id.as_deref().unwrap_or("")),
            deploy,
        }));
        imported += store.import_deploys(&batch, &by).await?;
        if done % 100_000 < 5000 {
            tracing::info!(done, of = n, "demo deploys stored");
        }
    }
    let (samples, error_occurrences) = seed_signals(store, &recent, seed, now).await?;
    let mut created = Vec::new();
    for d in &recent {
        let registered = store.register_deploy(&d.deploy, &by).await?;
        if registered.created {
            created.push(registered.deploy.id);
        }
    }
    // Plans for the history's filters depend on it: without, PostgreSQL plans from
    // an empty table's figures until autovacuum comes by.
    store.refresh_statistics().await?;
    Ok(Seeded {
        deploys_created: usize::try_from(imported)? + created.len(),
        samples,
        error_occurrences,
        alerts: 0,
        verdicts: judge(store, &created).await?,
        plan: recent,
    })
}

/// The places with signals, each with its generator and episodes (for `--live`).
pub fn live_places(plan: &[DemoDeploy], seed: u64) -> anyhow::Result<Vec<LivePlace>> {
    let mut out = Vec::new();
    for ((service, environment), deploys) in places(plan) {
        if service == UNWIRED {
            continue;
        }
        let service = ServiceName::parse(service)?;
        let environment = EnvironmentName::parse(environment)?;
        out.push(LivePlace {
            signals: PlaceSignals::new(&service, &environment, seed ^ 0x5eed),
            episodes: episodes(&deploys),
            service,
            environment,
        });
    }
    Ok(out)
}

/// A place `--live` keeps sending signals for.
pub struct LivePlace {
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub signals: PlaceSignals,
    pub episodes: Vec<Episode>,
}

impl LivePlace {
    /// The episode serving at `at`.
    pub fn serving(&self, at: DateTime<Utc>) -> Option<&Episode> {
        let n = self.episodes.partition_point(|e| e.at <= at);
        n.checked_sub(1).map(|i| &self.episodes[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_parses() {
        let configuration = configuration().expect("demo.toml is valid");
        assert_eq!(configuration.metrics.len(), 4);
        assert!(configuration.metrics.iter().all(|m| m.check.is_some()));
        assert_eq!(configuration.services.len(), 7);
    }

    #[test]
    fn bad_releases_raise_alerts_and_rollbacks_resolve_them() {
        let now = Utc::now();
        let plan = demo_deploys(30, 7, now);
        let reports = alerts_for(&plan, now);
        let firing: Vec<&AlertReport> = reports
            .iter()
            .filter(|r| r.state == AlertState::Firing)
            .collect();
        assert!(
            firing.iter().any(
                |r| r.service.as_ref().map(|s| s.as_str()) == Some("checkout")
                    && r.environment.as_ref().map(|e| e.as_str()) == Some("production")
            ),
            "the scene's unhealthy checkout in production has its alert firing"
        );
        assert!(
            reports
                .iter()
                .filter(|r| r.state == AlertState::Resolved)
                .count()
                >= 2,
            "several resolved"
        );
        assert!(reports.iter().all(|r| r.starts_at < now));
    }
}

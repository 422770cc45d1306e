//! The judge's scheduler: claims the deploys whose next look is due, reads their
//! metrics (stored, or from Prometheus) and new error groups, judges every check that
//! applies, stores the verdict with its receipt and tells open pages. Looks follow the
//! service's interval, with one exactly at the bake's end, so a final verdict is
//! stored within one poll of it. Claims hold for a lease: a worker that dies loses its
//! deploys to the next one, and replicas never judge one deploy at once.

use std::sync::Arc;

use app::domain::{
    BaselineKind, CheckData, CheckReceipt, CheckSpec, Deploy, DeployId, DeployStatus, ERROR_BIN,
    ERROR_RATE_CHECK, ErrorsRead, Evaluation, GroupName, HISTORY, Look, MetricDefinition,
    MetricName, MetricSource, NEW_ERROR_MIN_OCCURRENCES, NewErrorGroup, Series, SeriesKey,
    SeriesRead, TimeWindow, VerdictReceipt, VerdictRule, conclude, error_bins_start,
    error_rate_spec, judge_check, timing_for, waiting,
};
use app::server::Store;
use app::server::sources::{Fetched, SampleSource};
use chrono::{DateTime, Duration, Utc};

/// How long a claim holds a deploy.
pub const LEASE: Duration = Duration::seconds(60);
/// Deploys claimed per run.
pub const BATCH: u32 = 20;

/// Told of each deploy a look was stored for (the live updates).
pub type OnVerdict = Arc<dyn Fn(&Deploy) + Send + Sync>;

/// One round: every due deploy (up to `BATCH`) judged and stored. Returns how many.
pub async fn run(
    store: &dyn Store,
    source: Option<&dyn SampleSource>,
    on_verdict: Option<&OnVerdict>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let due = store.claim_due_verdicts(now, LEASE, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    // What to judge by is read once per round, not once per deploy.
    let setup = Setup::read(store).await?;
    for &id in &due {
        let (deploy, evaluation) = match evaluate_with(store, source, &setup, id, now).await {
            Ok(done) => done,
            Err(e) => {
                // The claim lapses with its lease and the deploy is looked at again.
                tracing::warn!(deploy_id = id, error = %e, "judging the deploy failed");
                continue;
            }
        };
        // Pages hear of a look that changed what they show: while baking with data,
        // every look does (the deltas beside the badge, the bake's progress); a look
        // that only waits does not.
        if !store.save_evaluation(id, &evaluation, now).await? {
            continue;
        }
        if evaluation.is_final {
            tracing::info!(
                deploy_id = id,
                state = evaluation.state.as_str(),
                rule = evaluation.rule.as_str(),
                checks = evaluation.receipt.checks.len(),
                "deploy judged"
            );
        }
        if let Some(tell) = on_verdict {
            tell(&deploy);
        }
    }
    Ok(due.len())
}

/// How long one run of the judge's job keeps going while rounds come back full.
pub const BACKLOG_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Rounds of [`run`] one after another while each finds a full batch due, for at
/// most [`BACKLOG_BUDGET`]: a backlog (a restart after downtime, `houston demo`, an
/// import) is worked through at once rather than `BATCH` deploys per poll, which
/// left the newest deploys "baking" on the board for minutes. Every round uses the
/// same `now`, so a deploy looked at in one round is not due in the next.
pub async fn run_backlog(
    store: &dyn Store,
    source: Option<&dyn SampleSource>,
    on_verdict: Option<&OnVerdict>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let started = std::time::Instant::now();
    let mut judged = 0;
    loop {
        let round = run(store, source, on_verdict, now).await?;
        judged += round;
        if round < BATCH as usize || started.elapsed() >= BACKLOG_BUDGET {
            return Ok(judged);
        }
    }
}

/// The metric definitions and service timings a round judges by.
pub struct Setup {
    definitions: Vec<MetricDefinition>,
    timings: Vec<app::domain::ServiceTiming>,
}

impl Setup {
    pub async fn read(store: &dyn Store) -> anyhow::Result<Setup> {
        Ok(Setup {
            definitions: store.list_metric_definitions().await?,
            timings: store.list_service_timings().await?,
        })
    }

    /// A candidate configuration's (a file's, for `houston backtest`).
    pub fn of(configuration: app::domain::Configuration) -> Setup {
        Setup {
            definitions: configuration.metrics,
            timings: configuration.services,
        }
    }
}

/// The look at deploy `id` at `now`.
pub async fn evaluate(
    store: &dyn Store,
    source: Option<&dyn SampleSource>,
    id: DeployId,
    now: DateTime<Utc>,
) -> anyhow::Result<(Deploy, Evaluation)> {
    evaluate_with(store, source, &Setup::read(store).await?, id, now).await
}

/// The look at deploy `id` at `now`, judged by `setup`.
pub async fn evaluate_with(
    store: &dyn Store,
    source: Option<&dyn SampleSource>,
    setup: &Setup,
    id: DeployId,
    now: DateTime<Utc>,
) -> anyhow::Result<(Deploy, Evaluation)> {
    let deploy = store.get_deploy(id).await?.deploy;
    let timing = timing_for(&setup.timings, &deploy.service, &deploy.environment);
    let interval = Duration::seconds(timing.interval_secs);
    match deploy.status {
        DeployStatus::InProgress => {
            return Ok((deploy, waiting(VerdictRule::WarmingUp, now + interval)));
        }
        DeployStatus::Failed | DeployStatus::RolledBack => {
            return Ok((deploy, waiting(VerdictRule::DeployDidNotSucceed, now)));
        }
        DeployStatus::Succeeded => {}
    }
    // The new version serves from the deploy's finish.
    let deployed_at = deploy.finished_at.unwrap_or(deploy.started_at);
    let warmed = deployed_at + Duration::seconds(timing.warmup_secs);
    if now < warmed {
        return Ok((deploy, waiting(VerdictRule::WarmingUp, warmed + interval)));
    }
    let next_deploy = store.next_deploy_start(id).await?;
    let look = Look::at(deployed_at, &timing, next_deploy, now);
    let complete = look.is_final(&timing, next_deploy);
    // Read first, then judge off the async workers: a check's placebos are
    // milliseconds of arithmetic, and pages must not wait behind them.
    let mut reads: Vec<(MetricName, CheckSpec, CheckRead)> = Vec::new();
    for definition in setup
        .definitions
        .iter()
        .filter(|d| d.applies_to(&deploy.service, &deploy.environment))
    {
        let Some(spec) = &definition.check else {
            continue;
        };
        let window = TimeWindow {
            from: deployed_at - HISTORY - timing.baseline_length(),
            to: look.analysis_end,
        };
        let read = read_check(store, source, definition, spec, &deploy, window).await?;
        reads.push((definition.name.clone(), spec.clone(), read));
    }
    // The error rate, unless a metric definition of that name judges it instead: every
    // place that reported errors in the window gets the check; a place that never
    // reports any has nothing to judge it on.
    let errors_defined = reads
        .iter()
        .any(|(name, _, _)| name.as_str() == ERROR_RATE_CHECK);
    if !errors_defined {
        let start = error_bins_start(deployed_at, HISTORY + timing.baseline_length());
        let read = ErrorsRead {
            service: deploy.service.clone(),
            environment: deploy.environment.clone(),
            window: TimeWindow {
                from: start,
                to: look.analysis_end,
            },
        };
        let counts = store.error_counts(&read, ERROR_BIN).await?;
        if !counts.is_empty() {
            reads.push((
                MetricName::parse(ERROR_RATE_CHECK).map_err(anyhow::Error::msg)?,
                error_rate_spec(),
                CheckRead {
                    main: Series::of_counts(start, look.analysis_end, &counts),
                    concurrent: None,
                    unavailable: false,
                },
            ));
        }
    }
    let checks = tokio::task::spawn_blocking(move || {
        reads
            .iter()
            .map(|(name, spec, read)| {
                let data = CheckData {
                    main: &read.main,
                    concurrent: read.concurrent.as_ref(),
                    unavailable: read.unavailable,
                };
                judge_check(name, spec, &timing, data, &look, complete)
            })
            .collect::<Vec<CheckReceipt>>()
    })
    .await?;
    let new_error_groups = store
        .error_groups(&ErrorsRead {
            service: deploy.service.clone(),
            environment: deploy.environment.clone(),
            window: TimeWindow {
                from: deployed_at,
                to: look.analysis_end,
            },
        })
        .await?
        .into_iter()
        .filter(|group| group.first_seen >= deployed_at && group.count >= NEW_ERROR_MIN_OCCURRENCES)
        .map(|group| NewErrorGroup {
            fingerprint: group.fingerprint,
            message: group.message,
            first_seen: group.first_seen,
            occurrences: group.count,
        })
        .collect();
    let bake_end = deployed_at + Duration::seconds(timing.bake_secs);
    let receipt = VerdictReceipt {
        deployed_at: Some(deployed_at),
        analysis_end: Some(look.analysis_end),
        bake_end: Some(bake_end),
        timing: Some(timing),
        checks,
        new_error_groups,
        new_error_min_occurrences: NEW_ERROR_MIN_OCCURRENCES,
    };
    // One look falls exactly at the bake's end, so the final verdict is not late.
    let next_look_at = (now + interval).min(bake_end.max(now));
    Ok((deploy, conclude(receipt, complete, next_look_at)))
}

/// A check's samples: the series judged and, for `last_week` or `control`, the one
/// it is compared with.
struct CheckRead {
    main: Series,
    concurrent: Option<Series>,
    unavailable: bool,
}

async fn read_check(
    store: &dyn Store,
    source: Option<&dyn SampleSource>,
    definition: &MetricDefinition,
    spec: &CheckSpec,
    deploy: &Deploy,
    window: TimeWindow,
) -> anyhow::Result<CheckRead> {
    let group = |name: &str| GroupName::parse(name).ok();
    let (main_group, other) = match spec.baseline {
        BaselineKind::Before => (None, None),
        BaselineKind::LastWeek => (None, Some((None, Duration::weeks(1)))),
        BaselineKind::Control => (group("canary"), Some((group("baseline"), Duration::zero()))),
    };
    let (main, mut unavailable) = read_series(
        store,
        source,
        definition,
        deploy,
        main_group.clone(),
        window,
    )
    .await?;
    let concurrent = match other {
        None => None,
        Some((other_group, back)) => {
            let earlier = TimeWindow {
                from: window.from - back,
                to: window.to - back,
            };
            let (series, other_unavailable) =
                read_series(store, source, definition, deploy, other_group, earlier).await?;
            unavailable |= other_unavailable;
            Some(series.shifted(back))
        }
    };
    Ok(CheckRead {
        main,
        concurrent,
        unavailable,
    })
}

/// One series over `window`, and whether its source failed to answer.
async fn read_series(
    store: &dyn Store,
    source: Option<&dyn SampleSource>,
    definition: &MetricDefinition,
    deploy: &Deploy,
    group: Option<GroupName>,
    window: TimeWindow,
) -> anyhow::Result<(Series, bool)> {
    match &definition.source {
        MetricSource::Push => {
            let read = SeriesRead {
                key: SeriesKey {
                    service: deploy.service.clone(),
                    environment: deploy.environment.clone(),
                    metric: definition.name.clone(),
                    group,
                },
                window,
            };
            let limit = u32::try_from(app::domain::MAX_POINTS_PER_READ).unwrap_or(u32::MAX);
            let samples = store.read_samples(&read, limit).await?;
            Ok((
                Series::new(samples.into_iter().map(|s| (s.at, s.value)).collect()),
                false,
            ))
        }
        MetricSource::Prometheus { .. } => {
            let (Some(source), Some(query)) = (
                source,
                definition.query_for(&deploy.service, &deploy.environment, group.as_ref()),
            ) else {
                return Ok((Series::default(), true));
            };
            match source.query_range(&query, &window).await {
                Fetched::Unavailable(why) => {
                    tracing::warn!(metric = %definition.name, %why, "a judged metric's source is unavailable");
                    Ok((Series::default(), true))
                }
                // More than one series for one place is a query to fix, not data.
                Fetched::Data(series) if series.len() > 1 => Ok((Series::default(), true)),
                Fetched::Data(series) => Ok((
                    Series::new(
                        series
                            .into_iter()
                            .flat_map(|s| s.samples)
                            .map(|s| (s.at, s.value))
                            .collect(),
                    ),
                    false,
                )),
            }
        }
    }
}

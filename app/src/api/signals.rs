//! Server functions for the signals around a deploy: a chart per metric with data
//! (pushed samples, or Prometheus for metrics defined by a query) and the error
//! groups seen in the same window.

use crate::api::AsOf;
use crate::domain::{DeployId, ErrorGroup};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The most points a chart line carries to the browser (twice the buckets).
pub const CHART_BUCKETS: usize = 300;

/// One line of a chart: a group (`canary`, `baseline`) or the series without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartLine {
    pub group: Option<String>,
    /// (Unix seconds, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

/// A metric around a deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricChart {
    pub metric: String,
    pub unit: String,
    /// `push` or `prometheus`.
    pub source: String,
    pub lines: Vec<ChartLine>,
    /// Why there is no data from the source (Prometheus down, a bad query).
    pub unavailable: Option<String>,
    /// The windows the judge compared for this metric, when it judged it.
    pub judged: Option<JudgedWindows>,
}

/// The baseline and the analysis window of a check, Unix seconds, for shading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgedWindows {
    pub baseline: (i64, i64),
    pub current: (i64, i64),
}

/// Everything the deploy page shows of signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploySignals {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub charts: Vec<MetricChart>,
    /// Error groups with occurrences in the window, most frequent first.
    pub errors: Vec<ErrorGroup>,
}

/// How sharp each check was over the latest final verdicts, for the settings page.
#[server(endpoint = "check-sensitivity")]
pub async fn get_check_sensitivity() -> Result<Vec<crate::domain::Sensitivity>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        let receipts = call.store.recent_receipts(SENSITIVITY_DEPLOYS).await?;
        Ok(crate::domain::sensitivity(&receipts))
    })
    .await
}

/// Changes how a metric is judged (its other fields stay), from the settings page:
/// leads and admins; audited like every definition change, with the reason.
#[server(endpoint = "set-metric-check")]
pub async fn set_metric_check(
    name: String,
    form: crate::domain::CheckForm,
    reason: Option<String>,
) -> Result<(), AppError> {
    use crate::domain::{DefinitionChange, MetricDefinition};
    use crate::server::access::Need;
    crate::server::serve(Need::CONFIGURE, move |call| async move {
        let check = form.parse()?;
        let reason = super::admin::server::reason(reason)?;
        let before = call
            .store
            .list_metric_definitions()
            .await?
            .into_iter()
            .find(|d| d.name.as_str() == name)
            .ok_or_else(|| AppError::not_found(format!("no metric is defined as {name:?}")))?;
        let after = MetricDefinition {
            check,
            ..before.clone()
        };
        if after != before {
            call.store
                .apply_definition_changes(
                    &[DefinitionChange::Update { before, after }],
                    &call.caller.actor(),
                    reason.as_deref(),
                    Utc::now(),
                )
                .await?;
        }
        Ok(())
    })
    .await
}

/// Final verdicts the settings page reads to judge each check's sharpness.
pub const SENSITIVITY_DEPLOYS: u32 = 100;

/// The metric definitions, for the settings page.
#[server(endpoint = "metric-definitions")]
pub async fn get_metric_definitions() -> Result<Vec<crate::domain::MetricDefinition>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        Ok(call.store.list_metric_definitions().await?)
    })
    .await
}

#[server(endpoint = "deploy-signals")]
pub async fn get_deploy_signals(id: DeployId) -> Result<AsOf<DeploySignals>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        let now = Utc::now();
        let deploy = call.store.get_deploy(id).await?.deploy;
        let source =
            use_context::<Option<std::sync::Arc<dyn crate::server::sources::SampleSource>>>()
                .flatten();
        let signals = read_signals(call.store.as_ref(), source.as_deref(), &deploy, now).await?;
        Ok(AsOf {
            now,
            value: signals,
        })
    })
    .await
}

#[cfg(feature = "ssr")]
async fn read_signals(
    store: &dyn crate::server::Store,
    source: Option<&dyn crate::server::sources::SampleSource>,
    deploy: &crate::domain::Deploy,
    now: DateTime<Utc>,
) -> Result<DeploySignals, AppError> {
    use crate::domain::{
        ErrorsRead, MetricSource, SeriesKey, SeriesRead, chart_window, downsample,
    };
    use crate::server::sources::Fetched;
    let window = chart_window(deploy.started_at, deploy.finished_at, now);
    let (service, environment) = (&deploy.service, &deploy.environment);
    let definitions = store.list_metric_definitions().await?;
    let definition = |name: &str| definitions.iter().find(|d| d.name.as_str() == name);
    let line = |group: Option<String>, samples: &[crate::domain::Sample]| ChartLine {
        group,
        points: downsample(samples, &window, CHART_BUCKETS)
            .into_iter()
            .map(|s| (s.at.timestamp(), s.value))
            .collect(),
    };
    let mut charts: Vec<MetricChart> = Vec::new();
    // Pushed series with samples in the window, one chart per metric.
    for (metric, group) in store.series_of(service, environment, window.from).await? {
        let read = SeriesRead {
            key: SeriesKey {
                service: service.clone(),
                environment: environment.clone(),
                metric: metric.clone(),
                group: group.clone(),
            },
            window,
        };
        let samples = store
            .read_samples(
                &read,
                u32::try_from(crate::domain::MAX_POINTS_PER_READ).unwrap_or(u32::MAX),
            )
            .await?;
        if samples.is_empty() {
            continue;
        }
        let new_line = line(group.map(|g| g.to_string()), &samples);
        match charts.iter_mut().find(|c| c.metric == metric.as_str()) {
            Some(chart) => chart.lines.push(new_line),
            None => charts.push(MetricChart {
                metric: metric.to_string(),
                unit: definition(metric.as_str())
                    .map(|d| d.unit.clone())
                    .unwrap_or_default(),
                source: "push".into(),
                lines: vec![new_line],
                unavailable: None,
                judged: None,
            }),
        }
    }
    // Metrics defined by a Prometheus query for this place.
    for d in definitions
        .iter()
        .filter(|d| d.applies_to(service, environment))
    {
        let MetricSource::Prometheus { .. } = &d.source else {
            continue;
        };
        let Some(query) = d.query_for(service, environment, None) else {
            continue;
        };
        let mut chart = MetricChart {
            metric: d.name.to_string(),
            unit: d.unit.clone(),
            source: "prometheus".into(),
            lines: Vec::new(),
            unavailable: None,
            judged: None,
        };
        match source {
            None => chart.unavailable = Some("HOUSTON_PROMETHEUS_URL is not set".into()),
            Some(source) => match source.query_range(&query, &window).await {
                Fetched::Unavailable(why) => chart.unavailable = Some(why),
                Fetched::Data(series) => {
                    chart.lines = series
                        .iter()
                        .filter(|s| !s.samples.is_empty())
                        .map(|s| line(None, &s.samples))
                        .collect();
                }
            },
        }
        charts.push(chart);
    }
    charts.sort_by(|a, b| a.metric.cmp(&b.metric));
    // Each judged metric's chart shades the windows its check compared.
    if let Some(verdict) = store.get_verdict(deploy.id).await? {
        for check in &verdict.receipt.checks {
            if let Some(chart) = charts
                .iter_mut()
                .find(|c| c.metric == check.metric.as_str())
            {
                chart.judged = Some(JudgedWindows {
                    baseline: (
                        check.baseline.from.timestamp(),
                        check.baseline.to.timestamp(),
                    ),
                    current: (check.current.from.timestamp(), check.current.to.timestamp()),
                });
            }
        }
    }
    let errors = store
        .error_groups(&ErrorsRead {
            service: service.clone(),
            environment: environment.clone(),
            window,
        })
        .await?;
    Ok(DeploySignals {
        from: window.from,
        to: window.to,
        started_at: deploy.started_at,
        finished_at: deploy.finished_at,
        charts,
        errors,
    })
}

//! Signals in and out: `/api/v1/metrics`, `/api/v1/errors`, `/api/v1/alerts` and
//! Alertmanager's webhook. Every batch is read with its counting limit in force
//! ([`Counted`]), parsed whole before it reaches the store, and answered only once
//! it is committed.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{
    Alert, AlertmanagerNotification, AlertsQuery, ErrorGroups, ErrorsQuery, ErrorsRequest,
    MAX_ALERTS_LISTED, MAX_POINTS_PER_READ, MetricsRequest, SeriesPoints, SeriesQuery,
    ValidationErrors,
};
use app::error::AppError;
use app::server::sources::Fetched;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::Utc;
use serde::{Deserialize, Serialize};

/// A JSON body read with its counting limit in force
/// (`app::domain::bounded`): the body is taken up to the route's byte limit, then
/// read with serde_json, which stops at the first series, point, event or alert past
/// the limit. Errors answer as axum's `Json` does (415, 413, 400, 422).
pub struct Counted<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Counted<T>
where
    S: Send + Sync,
    T: app::domain::bounded::CountedBody,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        use axum::http::{StatusCode, header};
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !is_json {
            return Err(super::error::body_rejection(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                String::new(),
            )
            .into());
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|r| super::error::body_rejection(r.status(), r.body_text()))?;
        let Json(value) = app::domain::bounded::within::<T, _>(|| Json::<T>::from_bytes(&bytes))?;
        Ok(Counted(value))
    }
}

/// What an ingest call stored.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    /// Points (metrics) or occurrences (errors) stored.
    pub accepted: u64,
}

/// What an Alertmanager notification did.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertsRecorded {
    /// Alerts first heard of, firing.
    pub opened: u64,
    /// Firing alerts heard of again.
    pub updated: u64,
    /// Alerts closed (or first heard of already resolved).
    pub resolved: u64,
    /// Resolved alerts firing again.
    pub reopened: u64,
}

/// Push metric samples. One sample per series and time: sending a point again
/// replaces its value, so retries do not double anything.
#[utoipa::path(
    post,
    path = "/api/v1/metrics",
    tag = "signals",
    operation_id = "push_metrics",
    request_body = MetricsRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored (committed)", body = Accepted),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The caller may not send signals (token scope ingest, or a deployer)", body = AppError),
        (status = 413, description = "Body too large (HOUSTON_MAX_INGEST_BODY_BYTES)", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid series or points, each named; nothing stored", body = AppError),
    )
)]
pub async fn push_metrics(
    State(state): State<AppState>,
    body: Result<Counted<MetricsRequest>, ApiError>,
) -> Result<Json<Accepted>, ApiError> {
    let Counted(request) = body?;
    let now = Utc::now();
    let batch = request.parse(now, now - state.config.signal_retention)?;
    let accepted = state.store.store_samples(&batch, now).await?;
    Ok(Json(Accepted { accepted }))
}

/// One series over a window, oldest first: stored samples for a pushed metric,
/// Prometheus' answer for a metric defined by a PromQL template.
#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    tag = "signals",
    operation_id = "read_metric",
    params(SeriesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The series' points in the window", body = SeriesPoints),
        (status = 400, description = "Malformed query string", body = AppError),
        (status = 401, description = "No or bad API token (unless anonymous reading is on)", body = AppError),
        (status = 422, description = "Invalid query, or a window holding more than 100,000 points", body = AppError),
        (status = 503, description = "The metric comes from Prometheus, which is not configured or did not answer: no data (never read it as healthy)", body = AppError),
    )
)]
pub async fn read_metric(
    State(state): State<AppState>,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Json<SeriesPoints>, ApiError> {
    let Query(query) = query?;
    let read = query.parse()?;
    if let Some(points) = from_prometheus(&state, &read).await? {
        return Ok(Json(points));
    }
    let limit = u32::try_from(MAX_POINTS_PER_READ).unwrap_or(u32::MAX);
    let samples = state
        .store
        .read_samples(&read, limit.saturating_add(1))
        .await?;
    if samples.len() > MAX_POINTS_PER_READ {
        return Err(ValidationErrors(vec![app::domain::FieldError::new(
            "to",
            format!(
                "the window holds more than {MAX_POINTS_PER_READ} points: ask for a shorter one"
            ),
        )])
        .into());
    }
    Ok(Json(SeriesPoints {
        points: samples.into_iter().map(|s| (s.at, s.value)).collect(),
    }))
}

/// The series from Prometheus when its metric is defined by a PromQL template
/// for this place; `None` for a pushed metric.
async fn from_prometheus(
    state: &AppState,
    read: &app::domain::SeriesRead,
) -> Result<Option<SeriesPoints>, ApiError> {
    let definitions = state.store.list_metric_definitions().await?;
    let query = definitions
        .iter()
        .filter(|d| {
            d.name == read.key.metric && d.applies_to(&read.key.service, &read.key.environment)
        })
        .find_map(|d| {
            d.query_for(
                &read.key.service,
                &read.key.environment,
                read.key.group.as_ref(),
            )
        });
    let Some(query) = query else {
        return Ok(None);
    };
    let Some(source) = &state.samples else {
        return Err(AppError::NotConfigured {
            message: format!(
                "{} is defined as a Prometheus query, but HOUSTON_PROMETHEUS_URL is not set",
                read.key.metric
            ),
        }
        .into());
    };
    let unavailable = |why: String| AppError::Unavailable {
        message: format!("Prometheus is unavailable: {why}"),
        retry_after_secs: 30,
    };
    match source.query_range(&query, &read.window).await {
        Fetched::Unavailable(why) => Err(unavailable(why).into()),
        Fetched::Data(series) if series.len() > 1 => Err(unavailable(format!(
            "the query of {} answers {} series for this place; it must answer one (aggregate with sum or avg)",
            read.key.metric,
            series.len()
        ))
        .into()),
        Fetched::Data(series) => Ok(Some(SeriesPoints {
            points: series
                .into_iter()
                .flat_map(|s| s.samples)
                .map(|s| (s.at, s.value))
                .collect(),
        })),
    }
}

/// Push error events. An event stands for `count` occurrences; events repeated
/// within a request add up, and a request sent again replaces what it stored.
#[utoipa::path(
    post,
    path = "/api/v1/errors",
    tag = "signals",
    operation_id = "push_errors",
    request_body = ErrorsRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored (committed); `accepted` counts occurrences", body = Accepted),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The caller may not send signals (token scope ingest, or a deployer)", body = AppError),
        (status = 413, description = "Body too large (HOUSTON_MAX_INGEST_BODY_BYTES)", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid events, each named; nothing stored", body = AppError),
    )
)]
pub async fn push_errors(
    State(state): State<AppState>,
    body: Result<Counted<ErrorsRequest>, ApiError>,
) -> Result<Json<Accepted>, ApiError> {
    let Counted(request) = body?;
    let now = Utc::now();
    let batch = request.parse(now, now - state.config.signal_retention)?;
    let accepted = state.store.store_error_events(&batch, now).await?;
    Ok(Json(Accepted { accepted }))
}

/// Error groups of a service in an environment with occurrences in the window,
/// most frequent first (at most 500).
#[utoipa::path(
    get,
    path = "/api/v1/errors",
    tag = "signals",
    operation_id = "list_error_groups",
    params(ErrorsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Error groups", body = ErrorGroups),
        (status = 400, description = "Malformed query string", body = AppError),
        (status = 401, description = "No or bad API token (unless anonymous reading is on)", body = AppError),
        (status = 422, description = "Invalid query", body = AppError),
    )
)]
pub async fn list_errors(
    State(state): State<AppState>,
    query: Result<Query<ErrorsQuery>, QueryRejection>,
) -> Result<Json<ErrorGroups>, ApiError> {
    let Query(query) = query?;
    let read = query.parse()?;
    Ok(Json(ErrorGroups {
        groups: state.store.error_groups(&read).await?,
    }))
}

/// Alertmanager's webhook (payload version 4). Point a receiver at it with
/// `http_config.authorization` carrying a token of scope `alerts` (that scope
/// alone may call it: not people, not ingest or admin tokens).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/alertmanager",
    tag = "webhooks",
    operation_id = "alertmanager_webhook",
    request_body = AlertmanagerNotification,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded (committed)", body = AlertsRecorded),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "Not a token with the alerts scope", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Not a version 4 notification, or an alert without status, start or fingerprint", body = AppError),
    )
)]
pub async fn alertmanager(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Counted<AlertmanagerNotification>, ApiError>,
) -> Result<Json<AlertsRecorded>, ApiError> {
    let Counted(notification) = body?;
    let reports = notification.parse(&state.config.alert_labels)?;
    let by = super::auth::caller_of(&parts).actor();
    let counts = state.store.record_alerts(&reports, &by, Utc::now()).await?;
    // The timeline and suspects kept in memory hold alerts: every replica reads them
    // again before serving them (as for a lock, not as for a verdict).
    state.events.alerts_heard(reports.len());
    // Alerts of the chosen severity are incidents too: one per firing.
    if let Some(at_least) = state.config.incident_alert_severity {
        for report in reports
            .iter()
            .filter_map(|alert| app::domain::incident_from_alert(alert, at_least))
        {
            let done =
                houston_service::incidents::record(state.store.as_ref(), &by, &report, Utc::now())
                    .await
                    .map_err(app::error::AppError::from)?;
            state.events.publish(done.change);
        }
    }
    if counts.opened + counts.resolved + counts.reopened > 0 {
        tracing::info!(
            opened = counts.opened,
            resolved = counts.resolved,
            reopened = counts.reopened,
            receiver = notification.receiver.as_deref().unwrap_or_default(),
            "alerts from Alertmanager"
        );
    }
    Ok(Json(AlertsRecorded {
        opened: counts.opened,
        updated: counts.updated,
        resolved: counts.resolved,
        reopened: counts.reopened,
    }))
}

/// Alerts, newest first (at most 500).
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "signals",
    operation_id = "list_alerts",
    params(AlertsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Alerts, newest first", body = Vec<Alert>),
        (status = 400, description = "Malformed query string", body = AppError),
        (status = 401, description = "No or bad API token (unless anonymous reading is on)", body = AppError),
        (status = 422, description = "Invalid filter", body = AppError),
    )
)]
pub async fn list_alerts(
    State(state): State<AppState>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let Query(query) = query?;
    let filter = query.parse()?;
    Ok(Json(
        state.store.list_alerts(&filter, MAX_ALERTS_LISTED).await?,
    ))
}

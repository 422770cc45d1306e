//! `/api/v1/metric-definitions`: the metrics Houston watches. Read by anyone who
//! may read; changed by a lead or an admin token, each change audited. A
//! definition that runs PromQL (before or after the change) runs with Houston's
//! Prometheus credentials, so only an admin changes it, and an admin can try one
//! first (`…/dry-run`: the query runs once, nothing is stored). Teams that keep
//! definitions in git use `houston config apply` instead.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{
    DefinitionChange, FieldError, MetricDefinition, MetricDefinitionRequest, MetricName,
    ValidationErrors,
};
use app::error::AppError;
use app::server::access::{Need, authorize};
use app::server::sources::Fetched;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// A definition that runs PromQL (before or after the change) is an admin's to
/// change: its query runs with Houston's Prometheus credentials (review N15).
fn may_change(
    state: &AppState,
    parts: &axum::http::request::Parts,
    touched: &[Option<&MetricDefinition>],
) -> Result<(), ApiError> {
    let runs_promql = touched
        .iter()
        .flatten()
        .any(|d| matches!(d.source, app::domain::MetricSource::Prometheus { .. }));
    if !runs_promql {
        return Ok(());
    }
    let caller = super::auth::caller_of(parts);
    authorize(&caller, Need::ADMIN, state.policy).map_err(|_| {
        let refused = AppError::forbidden(
            "a Prometheus definition runs its query with Houston's Prometheus credentials: only an admin changes one",
        );
        state.security.record(
            &caller.actor(),
            "access.refused",
            parts.uri.path(),
            Some(refused.to_string()),
        );
        refused.into()
    })
}

/// `name` and the body of a definition change, checked against each other.
fn definition_of(
    name: &MetricName,
    body: Result<Json<MetricDefinitionRequest>, JsonRejection>,
) -> Result<MetricDefinition, ApiError> {
    let Json(mut request) = body?;
    match request.name.as_deref().map(str::trim_ascii) {
        None => request.name = Some(name.to_string()),
        Some(given) if given == name.as_str() => {}
        Some(_) => {
            return Err(ValidationErrors(vec![FieldError::new(
                "name",
                "differs from the name in the path",
            )])
            .into());
        }
    }
    Ok(request.parse("")?)
}

/// Every metric definition, by name.
#[utoipa::path(
    get,
    path = "/api/v1/metric-definitions",
    tag = "signals",
    operation_id = "list_metric_definitions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Definitions by name", body = Vec<MetricDefinition>),
        (status = 401, description = "No or bad API token (unless anonymous reading is on)", body = AppError),
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<MetricDefinition>>, ApiError> {
    Ok(Json(state.store.list_metric_definitions().await?))
}

fn name_of(path: Result<Path<String>, PathRejection>) -> Result<MetricName, ApiError> {
    let Path(raw) = path?;
    MetricName::parse(&raw).map_err(|e| ValidationErrors(vec![FieldError::new("name", e)]).into())
}

/// Create or replace one definition. The body's `name`, when sent, must be the
/// path's.
#[utoipa::path(
    put,
    path = "/api/v1/metric-definitions/{name}",
    tag = "signals",
    operation_id = "put_metric_definition",
    request_body = MetricDefinitionRequest,
    params(("name" = String, Path, pattern = "^[A-Za-z_:][A-Za-z0-9_:]{0,199}$", description = "The metric's name")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored (created or replaced)", body = MetricDefinition),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "Only leads and admin tokens change definitions; only admins one that runs PromQL", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid definition, each problem named", body = AppError),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<MetricDefinitionRequest>, JsonRejection>,
) -> Result<Json<MetricDefinition>, ApiError> {
    let name = name_of(path)?;
    let definition = definition_of(&name, body)?;
    let stored = state.store.list_metric_definitions().await?;
    let before = stored.iter().find(|d| d.name == definition.name);
    may_change(&state, &parts, &[before, Some(&definition)])?;
    let change = match before.cloned() {
        None => Some(DefinitionChange::Create(definition.clone())),
        Some(before) if before != definition => Some(DefinitionChange::Update {
            before,
            after: definition.clone(),
        }),
        Some(_) => None,
    };
    if let Some(change) = change {
        let by = super::auth::caller_of(&parts).actor();
        state
            .store
            .apply_definition_changes(&[change], &by, None, chrono::Utc::now())
            .await?;
    }
    Ok(Json(definition))
}

/// Delete one definition (its stored samples stay until retention).
#[utoipa::path(
    delete,
    path = "/api/v1/metric-definitions/{name}",
    tag = "signals",
    operation_id = "delete_metric_definition",
    params(("name" = String, Path, pattern = "^[A-Za-z_:][A-Za-z0-9_:]{0,199}$", description = "The metric's name")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "Only leads and admin tokens change definitions; only admins one that runs PromQL", body = AppError),
        (status = 404, description = "No such definition", body = AppError),
        (status = 422, description = "Not a metric name", body = AppError),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = name_of(path)?;
    let stored = state.store.list_metric_definitions().await?;
    let Some(definition) = stored.into_iter().find(|d| d.name == name) else {
        return Err(AppError::not_found(format!("no metric definition named {name}")).into());
    };
    may_change(&state, &parts, &[Some(&definition)])?;
    let by = super::auth::caller_of(&parts).actor();
    state
        .store
        .apply_definition_changes(
            &[DefinitionChange::Delete(definition)],
            &by,
            None,
            chrono::Utc::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where a dry run renders the query.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DryRunPlace {
    #[param(
        required = true,
        nullable = false,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
    )]
    pub service: Option<String>,
    #[param(
        required = true,
        nullable = false,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
    )]
    pub environment: Option<String>,
}

/// What a definition's query answered over the last 15 minutes for one place.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DryRun {
    /// The PromQL as Houston sends it for this place.
    pub query: String,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// Series answered (Houston judges one per place: aggregate with sum or avg).
    pub series: usize,
    /// Points over all series.
    pub points: usize,
    /// Why Prometheus did not answer, or why Houston could not use the answer;
    /// absent when it could.
    pub problem: Option<String>,
}

/// How far back a dry run reads.
const DRY_RUN_MINUTES: i64 = 15;

/// Runs a Prometheus definition's query once for one place, without storing
/// anything: an admin's check before `PUT`.
#[utoipa::path(
    post,
    path = "/api/v1/metric-definitions/{name}/dry-run",
    tag = "signals",
    operation_id = "dry_run_metric_definition",
    request_body = MetricDefinitionRequest,
    params(
        ("name" = String, Path, pattern = "^[A-Za-z_:][A-Za-z0-9_:]{0,199}$", description = "The metric's name"),
        DryRunPlace,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the query answered (or why it did not); nothing stored", body = DryRun),
        (status = 400, description = "Not JSON, or a malformed query string", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "Only admins run PromQL", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid definition or place, or a pushed metric (nothing to run)", body = AppError),
        (status = 503, description = "HOUSTON_PROMETHEUS_URL is not set", body = AppError),
    )
)]
pub async fn dry_run(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    path: Result<Path<String>, PathRejection>,
    place: Result<Query<DryRunPlace>, QueryRejection>,
    body: Result<Json<MetricDefinitionRequest>, JsonRejection>,
) -> Result<Json<DryRun>, ApiError> {
    let name = name_of(path)?;
    let Query(place) = place?;
    let definition = definition_of(&name, body)?;
    let mut problems = Vec::new();
    let mut named = |field: &str, raw: Option<&str>| match raw.map(str::trim) {
        None | Some("") => {
            problems.push(FieldError::new(
                field,
                "is required: the place to run the query for",
            ));
            None
        }
        Some(raw) => Some(raw.to_owned()),
    };
    let service = named("service", place.service.as_deref());
    let environment = named("environment", place.environment.as_deref());
    let service = service.and_then(|s| {
        app::domain::ServiceName::parse(&s)
            .map_err(|e| problems.push(FieldError::new("service", e.to_string())))
            .ok()
    });
    let environment = environment.and_then(|e| {
        app::domain::EnvironmentName::parse(&e)
            .map_err(|e| problems.push(FieldError::new("environment", e.to_string())))
            .ok()
    });
    let (Some(service), Some(environment)) = (service, environment) else {
        return Err(ValidationErrors(problems).into());
    };
    let Some(query) = definition.query_for(&service, &environment, None) else {
        return Err(ValidationErrors(vec![FieldError::new(
            "source",
            "a pushed metric has no query to run",
        )])
        .into());
    };
    may_change(&state, &parts, &[Some(&definition)])?;
    let Some(source) = &state.samples else {
        return Err(AppError::NotConfigured {
            message: "HOUSTON_PROMETHEUS_URL is not set: there is no Prometheus to ask".to_owned(),
        }
        .into());
    };
    let to = chrono::Utc::now();
    let window = app::domain::TimeWindow {
        from: to - chrono::Duration::minutes(DRY_RUN_MINUTES),
        to,
    };
    let (series, points, problem) = match source.query_range(&query, &window).await {
        Fetched::Unavailable(why) => (0, 0, Some(why)),
        Fetched::Data(answer) => {
            let points = answer.iter().map(|s| s.samples.len()).sum();
            let problem = match answer.len() {
                0 => Some("no series in the last 15 minutes for this place".to_owned()),
                1 => None,
                n => Some(format!(
                    "{n} series for this place; Houston judges one (aggregate with sum or avg)"
                )),
            };
            (answer.len(), points, problem)
        }
    };
    Ok(Json(DryRun {
        query,
        from: window.from,
        to: window.to,
        series,
        points,
        problem,
    }))
}

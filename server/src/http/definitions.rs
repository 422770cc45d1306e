//! `/api/v1/metric-definitions`: the metrics Houston watches. Read by anyone who
//! may read; changed by a lead or an admin token, each change audited. Teams that
//! keep definitions in git use `houston config apply` instead.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{
    DefinitionChange, FieldError, MetricDefinition, MetricDefinitionRequest, MetricName,
    ValidationErrors,
};
use app::error::AppError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;

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
        (status = 403, description = "Only leads and admin tokens change definitions", body = AppError),
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
    let definition = request.parse("")?;
    let stored = state.store.list_metric_definitions().await?;
    let change = match stored.into_iter().find(|d| d.name == definition.name) {
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
        (status = 403, description = "Only leads and admin tokens change definitions", body = AppError),
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

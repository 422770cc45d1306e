//! `/api/v1/deploys`: register (idempotent), change status, list with filters, get one.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{
    ChangeKind, Deploy, DeployDetail, DeployId, DeployPage, DeployQuery, DeployRequest, FieldError,
    StatusDecision, StatusRequest, ValidationErrors,
};
use app::error::AppError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Register a deploy. Services and environments are created on first sight. A
/// registration with an `external_id` (or `Idempotency-Key` header) already stored
/// returns the stored deploy with 200 instead of creating another, to the caller
/// that registered it; another caller's id is a conflict (409), so no caller can
/// take over another's deploy by guessing its id.
#[utoipa::path(
    post,
    path = "/api/v1/deploys",
    tag = "deploys",
    request_body = DeployRequest,
    operation_id = "register_deploy",
    params(("Idempotency-Key" = Option<String>, Header, max_length = 200, pattern = "^(?![ \\t\\n\\f\\r]*([Gg][Ii][Tt][Hh][Uu][Bb]|[Dd][Ee][Mm][Oo]):)[\\t -~]*$", description = "Used as external_id when the body has none; must equal it when both are sent")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = Deploy),
        (status = 200, description = "Already registered with this external id by this caller", body = Deploy),
        (status = 409, description = "This external id is another caller's deploy", body = AppError),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The caller may not register deploys", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid fields", body = AppError),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Json<DeployRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(mut request) = body?;
    if let Some(key) = parts.headers.get(IDEMPOTENCY_KEY) {
        let key = key.to_str().map_err(|_| {
            ValidationErrors(vec![FieldError::new(
                "Idempotency-Key",
                "must be printable ASCII",
            )])
        })?;
        request.take_idempotency_key(key)?;
    }
    let caller = super::auth::caller_of(&parts);
    let done = houston_service::deploys::register(
        state.store.as_ref(),
        &caller,
        &request,
        chrono::Utc::now(),
    )
    .await
    .map_err(AppError::from)?;
    let created = done.value.created;
    state.events.publish(done.change);
    let deploy = done.value.deploy;
    if created {
        let location = format!("/api/v1/deploys/{}", deploy.id);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(deploy),
        )
            .into_response())
    } else {
        Ok((StatusCode::OK, Json(deploy)).into_response())
    }
}

/// Move a deploy to succeeded, failed or rolled_back. The same status again changes
/// nothing; a report older than the current status is ignored.
#[utoipa::path(
    post,
    path = "/api/v1/deploys/{id}/status",
    tag = "deploys",
    operation_id = "set_deploy_status",
    request_body = StatusRequest,
    params(("id" = i64, Path, description = "Deploy id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = Deploy),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The caller may not change deploys", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 404, description = "No such deploy", body = AppError),
        (status = 409, description = "The status rule does not allow this change (a finished deploy going back, a rolled-back deploy changing)", body = AppError),
        (status = 422, description = "Invalid status or time", body = AppError),
    )
)]
pub async fn set_status(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    id: Result<Path<DeployId>, PathRejection>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<Deploy>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    let change = request.parse(chrono::Utc::now())?;
    let by = super::auth::caller_of(&parts).actor();
    let outcome = state.store.change_deploy_status(id, &change, &by).await?;
    match outcome.decision {
        StatusDecision::Apply => {
            tracing::info!(deploy_id = id, status = %outcome.deploy.status, actor = %by.name, "deploy status changed");
            state
                .events
                .deploy_changed(ChangeKind::Status, &outcome.deploy);
            Ok(Json(outcome.deploy))
        }
        // The same status again, or an older report: nothing to do, and no error.
        StatusDecision::Unchanged(_) => Ok(Json(outcome.deploy)),
        StatusDecision::Refused(why) => Err(AppError::Conflict { message: why }.into()),
        StatusDecision::Invalid(why) => {
            Err(ValidationErrors(vec![FieldError::new("finished_at", why)]).into())
        }
    }
}

/// Deploys, newest first, with filters and keyset pagination.
#[utoipa::path(
    get,
    path = "/api/v1/deploys",
    tag = "deploys",
    operation_id = "list_deploys",
    params(DeployQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of deploys", body = DeployPage),
        (status = 400, description = "Malformed query string", body = AppError),
        (status = 401, description = "No or bad API token (unless anonymous reading is on)", body = AppError),
        (status = 422, description = "Invalid filter", body = AppError),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<DeployQuery>, QueryRejection>,
) -> Result<Json<DeployPage>, ApiError> {
    let Query(query) = query?;
    let (filter, page) = query.parse()?;
    Ok(Json(state.store.list_deploys(&filter, &page).await?))
}

/// One deploy with its commits.
#[utoipa::path(
    get,
    path = "/api/v1/deploys/{id}",
    tag = "deploys",
    operation_id = "get_deploy",
    params(("id" = i64, Path, description = "Deploy id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The deploy", body = DeployDetail),
        (status = 401, description = "No or bad API token (unless anonymous reading is on)", body = AppError),
        (status = 404, description = "No such deploy", body = AppError),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    id: Result<Path<DeployId>, PathRejection>,
) -> Result<Json<DeployDetail>, ApiError> {
    let Path(id) = id?;
    Ok(Json(state.store.get_deploy(id).await?))
}

/// The health judge's verdict on a deploy, with its receipt: the windows, samples,
/// summaries, test statistics, p-values, shifts and the rule that decided each check.
#[utoipa::path(
    get,
    path = "/api/v1/deploys/{id}/verdict",
    tag = "deploys",
    operation_id = "get_verdict",
    params(("id" = i64, Path, description = "Deploy id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verdict (`baking` until final)", body = app::domain::Verdict),
        (status = 401, description = "No or bad API token (unless anonymous reading is on)", body = AppError),
        (status = 404, description = "No such deploy, or the judge does not follow it", body = AppError),
    )
)]
pub async fn get_verdict(
    State(state): State<AppState>,
    id: Result<Path<DeployId>, PathRejection>,
) -> Result<Json<app::domain::Verdict>, ApiError> {
    let Path(id) = id?;
    match state.store.get_verdict(id).await? {
        Some(verdict) => Ok(Json(verdict)),
        None => {
            // Tell a missing deploy from one the judge does not follow.
            state.store.get_deploy(id).await?;
            Err(AppError::NotFound {
                message: format!(
                    "deploy {id} has no verdict: it was registered before the judge or imported"
                ),
            }
            .into())
        }
    }
}

/// A lead marks the verdict healthy or unhealthy, with a reason; the judge's verdict
/// stays beside it. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/deploys/{id}/verdict/override",
    tag = "deploys",
    operation_id = "override_verdict",
    params(("id" = i64, Path, description = "Deploy id")),
    request_body = app::domain::OverrideRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verdict, with the override beside the judge's", body = app::domain::Verdict),
        (status = 400, description = "Not JSON, or not this shape", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "Not a lead (or an admin token)", body = AppError),
        (status = 404, description = "No such deploy, or the judge does not follow it", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "No state (healthy or unhealthy) or no reason", body = AppError),
    )
)]
pub async fn override_verdict(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    id: Result<Path<DeployId>, PathRejection>,
    body: Result<Json<app::domain::OverrideRequest>, JsonRejection>,
) -> Result<Json<app::domain::Verdict>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    let caller = super::auth::caller_of(&parts);
    let done = houston_service::verdicts::override_verdict(
        state.store.as_ref(),
        &caller,
        id,
        &request,
        chrono::Utc::now(),
    )
    .await
    .map_err(AppError::from)?;
    state.events.publish(done.change);
    Ok(Json(done.value))
}

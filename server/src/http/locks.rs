//! `/api/v1/locks`, `/api/v1/overrides` and `/api/v1/gate`: stopping deploys, letting
//! one through, and the question CI asks before it deploys.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{
    BreakGlassRequest, GateAnswer, GateQuery, Lock, LockRequest, LocksQuery, Override,
    UnlockRequest,
};
use app::error::AppError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use houston_service::{ServiceError, locks};
use serde::Serialize;

/// The answer when the scope is already locked: the error and the lock in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlreadyLocked {
    /// `conflict`.
    pub error: String,
    pub message: String,
    pub fields: Vec<app::domain::FieldError>,
    /// The lock in force that covers the scope.
    pub lock: Lock,
}

/// Lock a scope: everything, one environment, or one service in one environment.
/// A scope already covered by a lock in force answers 409 with that lock.
#[utoipa::path(
    post,
    path = "/api/v1/locks",
    tag = "locks",
    operation_id = "place_lock",
    request_body = LockRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Locked (committed and audited)", body = Lock),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The caller may not lock (a deployer, or a token with scope admin)", body = AppError),
        (status = 409, description = "Already locked: the lock in force", body = AlreadyLocked),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid fields (reason required, expiry in the future)", body = AppError),
    )
)]
pub async fn place(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Json<LockRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let now = chrono::Utc::now();
    let new = request.parse(now)?;
    let caller = super::auth::caller_of(&parts);
    match locks::place(state.store.as_ref(), &caller, &new, now).await {
        Ok(done) => {
            state.events.publish(done.change);
            Ok((StatusCode::CREATED, Json(done.value)).into_response())
        }
        Err(ServiceError::AlreadyLocked(lock)) => Ok((
            StatusCode::CONFLICT,
            Json(AlreadyLocked {
                error: "conflict".into(),
                message: lock.refusal(),
                fields: Vec::new(),
                lock: *lock,
            }),
        )
            .into_response()),
        Err(other) => Err(AppError::from(other).into()),
    }
}

/// Locks, newest first: `active=true` for those in force now.
#[utoipa::path(
    get,
    path = "/api/v1/locks",
    tag = "locks",
    operation_id = "list_locks",
    params(LocksQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Locks, newest first", body = Vec<Lock>),
        (status = 400, description = "Malformed query string", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope gate", body = AppError),
        (status = 422, description = "Invalid filter", body = AppError),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<LocksQuery>, QueryRejection>,
) -> Result<Json<Vec<Lock>>, ApiError> {
    let Query(query) = query?;
    let filter = query.parse()?;
    Ok(Json(
        state.store.list_locks(&filter, chrono::Utc::now()).await?,
    ))
}

/// Lift a lock in force, with an optional note. A deployer lifts their own locks;
/// a lead or admin (or a token with scope admin) any.
#[utoipa::path(
    post,
    path = "/api/v1/locks/{id}/unlock",
    tag = "locks",
    operation_id = "unlock",
    request_body = UnlockRequest,
    params(("id" = i64, Path, description = "Lock id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Unlocked (committed and audited)", body = Lock),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "Someone else's lock, and the caller is not a lead or admin", body = AppError),
        (status = 404, description = "No such lock", body = AppError),
        (status = 409, description = "The lock already ended (unlocked or expired)", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid note", body = AppError),
    )
)]
pub async fn unlock(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<UnlockRequest>, JsonRejection>,
) -> Result<Json<Lock>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    let caller = super::auth::caller_of(&parts);
    let done = locks::unlock(
        state.store.as_ref(),
        &caller,
        state.policy,
        id,
        &request,
        chrono::Utc::now(),
    )
    .await
    .map_err(AppError::from)?;
    state.events.publish(done.change);
    Ok(Json(done.value))
}

/// Break glass: let one deploy (service, environment, optionally one version)
/// through locks and freezes. Spent by the first matching deploy registered while
/// its place is locked; expires after `expires_in_minutes` (60 by default).
#[utoipa::path(
    post,
    path = "/api/v1/overrides",
    tag = "locks",
    operation_id = "grant_override",
    request_body = BreakGlassRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Granted (committed and audited)", body = Override),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "Only a lead or admin (or a token with scope admin) grants overrides", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid fields", body = AppError),
    )
)]
pub async fn grant_override(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Json<BreakGlassRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let now = chrono::Utc::now();
    let new = request.parse(now)?;
    let caller = super::auth::caller_of(&parts);
    let done = locks::grant_override(state.store.as_ref(), &caller, &new, now)
        .await
        .map_err(AppError::from)?;
    state.events.publish(done.change);
    Ok((StatusCode::CREATED, Json(done.value)).into_response())
}

/// The latest overrides (at most 100), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/overrides",
    tag = "locks",
    operation_id = "list_overrides",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Overrides, newest first", body = Vec<Override>),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope gate", body = AppError),
    )
)]
pub async fn list_overrides(
    State(state): State<AppState>,
) -> Result<Json<Vec<Override>>, ApiError> {
    Ok(Json(state.store.list_overrides(100).await?))
}

/// May this deploy go out now? Every reason that holds: locks and freeze windows in
/// force, firing alerts for the place, the deploy there now judged unhealthy, and the
/// environment's promotion rules (previous stage, bake time, branch). Asking has no
/// side effect: where a lead's override would let the deploy through, the answer
/// stays "denied" and names it in `override_available`; a pipeline run claims it
/// with `POST /api/v1/gate/claim`. Each answer is counted per rule.
#[utoipa::path(
    get,
    path = "/api/v1/gate",
    tag = "locks",
    operation_id = "gate",
    params(GateQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The answer, allowed or not, with every reason", body = GateAnswer),
        (status = 400, description = "Malformed query string", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope gate", body = AppError),
        (status = 422, description = "Invalid service, environment, version or ref", body = AppError),
    )
)]
pub async fn gate(
    State(state): State<AppState>,
    query: Result<Query<GateQuery>, QueryRejection>,
) -> Result<Json<GateAnswer>, ApiError> {
    let Query(query) = query?;
    let ask = query.parse()?;
    let now = chrono::Utc::now();
    let answer = app::server::gate::answer(state.store.as_ref(), &ask, None, now).await?;
    // Counted in memory and written once a minute: asking stays a read.
    state.gate_tally.count(
        &ask.environment,
        answer.allowed,
        &answer.counted_rules(),
        now,
    );
    tracing::info!(service = %ask.service, environment = %ask.environment, allowed = answer.allowed, reasons = answer.reasons.len(), "gate asked");
    Ok(Json(answer))
}

/// Claim a break-glass override for one pipeline run and answer the gate for it.
/// Where the plain gate says an override is available, it is reserved atomically for
/// this `run` and version, and only this run is allowed (asking again with the same
/// run answers the same); every other run is denied and told who holds it. Where
/// nothing blocks, nothing is claimed. The deploy registered next spends it.
#[utoipa::path(
    post,
    path = "/api/v1/gate/claim",
    tag = "locks",
    operation_id = "gate_claim",
    request_body = app::domain::GateClaimRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The answer for this run, allowed or not, with every reason", body = GateAnswer),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope gate", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid service, environment, version, ref or run", body = AppError),
    )
)]
pub async fn claim(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Json<app::domain::GateClaimRequest>, JsonRejection>,
) -> Result<Json<GateAnswer>, ApiError> {
    let Json(request) = body?;
    let by = super::auth::caller_of(&parts).actor();
    let (ask, claimant) = request.parse(&by.name)?;
    let now = chrono::Utc::now();
    let answer = app::server::gate::claim(state.store.as_ref(), &ask, &claimant, &by, now).await?;
    state.gate_tally.count(
        &ask.environment,
        answer.allowed,
        &answer.counted_rules(),
        now,
    );
    tracing::info!(service = %ask.service, environment = %ask.environment, run = %claimant.run, allowed = answer.allowed, "gate claim");
    Ok(Json(answer))
}

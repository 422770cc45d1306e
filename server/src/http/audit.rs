//! `GET /api/v1/audit`: the append-only audit log, for tokens with the admin scope.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{AuditEntry, AuditQuery};
use app::error::AppError;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};

/// The audit log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    operation_id = "list_audit",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Audit entries, newest first", body = Vec<AuditEntry>),
        (status = 400, description = "Malformed query string", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks the admin scope", body = AppError),
        (status = 422, description = "Invalid filter", body = AppError),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let Query(query) = query?;
    let filter = query.parse()?;
    Ok(Json(state.store.list_audit(&filter).await?))
}

//! `GET /api/v1/audit`: the append-only audit log, for tokens with the admin scope.

use crate::AppState;
use crate::http::error::{ApiError, ErrorBody};
use app::domain::{AuditEntry, AuditFilter, FieldError, ValidationErrors, to_stored_precision};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
pub const MAX_AUDIT_LIMIT: u32 = 1000;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// e.g. `token.create`
    pub action: Option<String>,
    /// e.g. `cli:alice` or `token:ci`
    pub actor: Option<String>,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    /// 1 to 1000; default 100.
    pub limit: Option<u32>,
}

impl AuditQuery {
    fn parse(&self) -> Result<AuditFilter, ValidationErrors> {
        let mut errors = Vec::new();
        let mut time = |field: &str, raw: &Option<String>| -> Option<DateTime<Utc>> {
            let raw = raw.as_deref().map(str::trim).filter(|r| !r.is_empty())?;
            match DateTime::parse_from_rfc3339(raw) {
                Ok(t) => Some(to_stored_precision(t.with_timezone(&Utc))),
                Err(_) => {
                    errors.push(FieldError::new(
                        field,
                        format!("must be an RFC 3339 time, got {raw:?}"),
                    ));
                    None
                }
            }
        };
        let since = time("since", &self.since);
        let until = time("until", &self.until);
        let limit = self.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
        if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_AUDIT_LIMIT}"),
            ));
        }
        let text = |raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        };
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        Ok(AuditFilter {
            action: text(&self.action),
            actor: text(&self.actor),
            since,
            until,
            limit,
        })
    }
}

/// The audit log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Audit entries, newest first", body = Vec<AuditEntry>),
        (status = 401, description = "No or bad API token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin scope", body = ErrorBody),
        (status = 422, description = "Invalid filter", body = ErrorBody),
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

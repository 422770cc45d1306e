//! One JSON error shape for the whole API: `{"error": kind, "message": …, "fields": […]}`.

use app::domain::FieldError;
use app::error::AppError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable kind: `validation`, `not_found`, `unauthorized`, …
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds to send as `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: error.to_owned(),
                message: message.into(),
                fields: Vec::new(),
            },
            retry_after: None,
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let status =
            StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match err {
            AppError::Validation { message, fields } => Self {
                status,
                body: ErrorBody {
                    error: "validation".into(),
                    message,
                    fields,
                },
                retry_after: None,
            },
            AppError::RateLimited {
                message,
                retry_after_secs,
            } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(status, "rate_limited", message)
            },
            AppError::Unavailable {
                message,
                retry_after_secs,
            } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(status, "unavailable", message)
            },
            other => {
                let kind = match &other {
                    AppError::NotFound { .. } => "not_found",
                    AppError::Conflict { .. } => "conflict",
                    AppError::Locked { .. } => "locked",
                    AppError::Unauthorized { .. } => "unauthorized",
                    AppError::Forbidden { .. } => "forbidden",
                    AppError::Validation { .. }
                    | AppError::RateLimited { .. }
                    | AppError::Unavailable { .. }
                    | AppError::Internal { .. } => "internal",
                };
                Self::new(status, kind, other.to_string())
            }
        }
    }
}

impl From<app::ssr::StoreError> for ApiError {
    fn from(err: app::ssr::StoreError) -> Self {
        AppError::from(err).into()
    }
}

impl From<app::domain::ValidationErrors> for ApiError {
    fn from(err: app::domain::ValidationErrors) -> Self {
        AppError::from(err).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let (kind, message) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => (
                "unsupported_media_type",
                "send the body as JSON with the header Content-Type: application/json".to_owned(),
            ),
            JsonRejection::JsonSyntaxError(_) => (
                "bad_request",
                format!("the body is not valid JSON: {}", rejection.body_text()),
            ),
            JsonRejection::JsonDataError(_) => ("validation", rejection.body_text()),
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => (
                "payload_too_large",
                "the body is larger than this server accepts (HOUSTON_MAX_BODY_BYTES)".to_owned(),
            ),
            _ => ("bad_request", rejection.body_text()),
        };
        Self::new(status, kind, message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such resource: {}", rejection.body_text()),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

/// Unknown paths under `/api/v1` answer in JSON, not with an HTML page.
pub async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no API route {}; see /api/v1/openapi.json", uri.path()),
    )
}

//! The API's errors are `app::error::AppError` — one type, one list of kinds, for
//! the JSON API and the server functions alike — answered as
//! `{"error": kind, "message": …, "fields": […]}` with the kind's status.
//! `ApiError` wraps it only so axum's rejections convert into it with `?`.

use app::error::AppError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self(err)
    }
}

impl From<app::server::StoreError> for ApiError {
    fn from(err: app::server::StoreError) -> Self {
        Self(err.into())
    }
}

impl From<app::domain::ValidationErrors> for ApiError {
    fn from(err: app::domain::ValidationErrors) -> Self {
        Self(err.into())
    }
}

/// A body axum could not take, as the error kind that says why.
pub fn body_rejection(status: StatusCode, detail: String) -> AppError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge {
            message: "the body is larger than this server accepts (HOUSTON_MAX_BODY_BYTES; for metrics and errors HOUSTON_MAX_INGEST_BODY_BYTES): send it in parts".into(),
        },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType {
            message: "send the body as JSON with the header Content-Type: application/json".into(),
        },
        _ => AppError::bad_request(detail),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self(match &rejection {
            JsonRejection::JsonSyntaxError(_) => AppError::bad_request(format!(
                "the body is not valid JSON: {}",
                rejection.body_text()
            )),
            JsonRejection::JsonDataError(_) => AppError::Validation {
                message: rejection.body_text(),
                fields: Vec::new(),
            },
            _ => body_rejection(rejection.status(), rejection.body_text()),
        })
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self(AppError::bad_request(rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self(AppError::not_found(format!(
            "no such resource: {}",
            rejection.body_text()
        )))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// Unknown paths under `/api/v1` answer in JSON, not with an HTML page.
pub async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    AppError::not_found(format!(
        "no API route {}; see /api/v1/openapi.json",
        uri.path()
    ))
    .into()
}

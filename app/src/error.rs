//! The one error type of Houston's wire: server functions return it, and every JSON
//! API error is it, serialised as `{"error": kind, "message", …}`. Its variants are
//! the one list of error kinds; a kind's HTTP status is `status_code`.

use crate::domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};

/// What went wrong, in words a person can act on. Internal details are logged on
/// the server and never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "error", rename_all = "snake_case", try_from = "WireError")]
pub enum AppError {
    /// The request could not be read: bad JSON, a missing header, arguments that
    /// do not decode.
    #[error("{message}")]
    BadRequest { message: String },
    #[error("{message}")]
    NotFound { message: String },
    #[error("{message}")]
    Validation {
        message: String,
        fields: Vec<FieldError>,
    },
    #[error("{message}")]
    Conflict { message: String },
    #[error("{message}")]
    Locked { message: String },
    #[error("{message}")]
    Unauthorized { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    /// A change sent from another site (the cross-site request check).
    #[error("{message}")]
    CrossSite { message: String },
    #[error("{message}")]
    PayloadTooLarge { message: String },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    /// A feature that needs a setting that is not set (the GitHub webhook secret).
    #[error("{message}")]
    NotConfigured { message: String },
    /// Too many attempts; try again after `retry_after_secs`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// Houston is busy (e.g. every password check slot is taken); try again soon.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{message}")]
    Internal { message: String },
}

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        crate::domain::ValidationErrors(vec![crate::domain::FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
        .into()
    }

    /// An opaque error for the client; the caller logs the detail.
    pub fn internal() -> Self {
        Self::Internal {
            message: "Houston hit an internal error; the server log has the details".into(),
        }
    }

    /// Seconds a client should wait before trying again, for 429 and 503.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited {
                retry_after_secs, ..
            }
            | AppError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The error's kind: the `error` field of its wire shape.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::BadRequest { .. } => ErrorKind::BadRequest,
            AppError::NotFound { .. } => ErrorKind::NotFound,
            AppError::Validation { .. } => ErrorKind::Validation,
            AppError::Conflict { .. } => ErrorKind::Conflict,
            AppError::Locked { .. } => ErrorKind::Locked,
            AppError::Unauthorized { .. } => ErrorKind::Unauthorized,
            AppError::Forbidden { .. } => ErrorKind::Forbidden,
            AppError::CrossSite { .. } => ErrorKind::CrossSite,
            AppError::PayloadTooLarge { .. } => ErrorKind::PayloadTooLarge,
            AppError::UnsupportedMediaType { .. } => ErrorKind::UnsupportedMediaType,
            AppError::NotConfigured { .. } => ErrorKind::NotConfigured,
            AppError::RateLimited { .. } => ErrorKind::RateLimited,
            AppError::Unavailable { .. } => ErrorKind::Unavailable,
            AppError::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self.kind() {
            ErrorKind::BadRequest => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Validation => 422,
            ErrorKind::Conflict => 409,
            ErrorKind::Locked => 423,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden | ErrorKind::CrossSite => 403,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::NotConfigured => 503,
            ErrorKind::RateLimited => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// The kinds of [`AppError`], one per variant (`AppError::kind` and the wire reading
/// below match both ways, so the compiler keeps the two in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    BadRequest,
    NotFound,
    Validation,
    Conflict,
    Locked,
    Unauthorized,
    Forbidden,
    CrossSite,
    PayloadTooLarge,
    UnsupportedMediaType,
    NotConfigured,
    RateLimited,
    Unavailable,
    Internal,
}

/// An error as it is read off the wire: the kind and every kind's fields side by
/// side. Serde's own reading of an internally tagged enum buffers the whole object
/// and compiles a visitor per variant (~40 KB of the browser's wasm, which reads an
/// error from every server function); the shape written stays serde's.
#[derive(Deserialize)]
struct WireError {
    error: ErrorKind,
    message: String,
    fields: Option<Vec<FieldError>>,
    retry_after_secs: Option<u64>,
}

impl TryFrom<WireError> for AppError {
    type Error = &'static str;

    fn try_from(wire: WireError) -> Result<Self, Self::Error> {
        let message = wire.message;
        let retry_after_secs = wire
            .retry_after_secs
            .ok_or("missing field `retry_after_secs`");
        Ok(match wire.error {
            ErrorKind::BadRequest => AppError::BadRequest { message },
            ErrorKind::NotFound => AppError::NotFound { message },
            ErrorKind::Validation => AppError::Validation {
                message,
                fields: wire.fields.ok_or("missing field `fields`")?,
            },
            ErrorKind::Conflict => AppError::Conflict { message },
            ErrorKind::Locked => AppError::Locked { message },
            ErrorKind::Unauthorized => AppError::Unauthorized { message },
            ErrorKind::Forbidden => AppError::Forbidden { message },
            ErrorKind::CrossSite => AppError::CrossSite { message },
            ErrorKind::PayloadTooLarge => AppError::PayloadTooLarge { message },
            ErrorKind::UnsupportedMediaType => AppError::UnsupportedMediaType { message },
            ErrorKind::NotConfigured => AppError::NotConfigured { message },
            ErrorKind::RateLimited => AppError::RateLimited {
                message,
                retry_after_secs: retry_after_secs?,
            },
            ErrorKind::Unavailable => AppError::Unavailable {
                message,
                retry_after_secs: retry_after_secs?,
            },
            ErrorKind::Internal => AppError::Internal { message },
        })
    }
}

impl From<ValidationErrors> for AppError {
    fn from(errors: ValidationErrors) -> Self {
        let message = match errors.0.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.message),
            many => format!("{} fields are invalid: {errors}", many.len()),
        };
        AppError::Validation {
            message,
            fields: errors.0,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr;
        match value {
            // The caller sent arguments that do not decode: their mistake, said plainly.
            ServerFnErrorErr::Args(detail) => {
                AppError::bad_request(format!("the arguments could not be read: {detail}"))
            }
            ServerFnErrorErr::MissingArg(name) => {
                AppError::bad_request(format!("the argument {name} is missing"))
            }
            other => AppError::Internal {
                message: other.to_string(),
            },
        }
    }
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{HeaderValue, StatusCode, header};
        let status =
            StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after_secs();
        let mut response = (status, axum::Json(self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_names_the_kind_and_the_status_follows_it() {
        let cases = [
            (AppError::bad_request("x"), "bad_request", 400),
            (AppError::not_found("x"), "not_found", 404),
            (AppError::validation("f", "x"), "validation", 422),
            (AppError::unauthorized("x"), "unauthorized", 401),
            (AppError::forbidden("x"), "forbidden", 403),
            (AppError::internal(), "internal", 500),
        ];
        for (error, kind, status) in cases {
            let json = serde_json::to_value(&error).expect("serialises");
            assert_eq!(json["error"], kind);
            assert!(json["message"].is_string());
            assert_eq!(error.status_code(), status);
            let back: AppError = serde_json::from_value(json).expect("round trip");
            assert_eq!(back, error);
        }
    }

    #[test]
    fn every_kind_reads_back_as_written() {
        let message = || "x".to_owned();
        let every = [
            AppError::BadRequest { message: message() },
            AppError::NotFound { message: message() },
            AppError::validation("f", "x"),
            AppError::Conflict { message: message() },
            AppError::Locked { message: message() },
            AppError::Unauthorized { message: message() },
            AppError::Forbidden { message: message() },
            AppError::CrossSite { message: message() },
            AppError::PayloadTooLarge { message: message() },
            AppError::UnsupportedMediaType { message: message() },
            AppError::NotConfigured { message: message() },
            AppError::RateLimited {
                message: message(),
                retry_after_secs: 7,
            },
            AppError::Unavailable {
                message: message(),
                retry_after_secs: 3,
            },
            AppError::Internal { message: message() },
        ];
        for error in every {
            let json = serde_json::to_string(&error).expect("serialises");
            let back: AppError = serde_json::from_slice(json.as_bytes()).expect("reads back");
            assert_eq!(back, error, "{json}");
        }
        // What serde's own reading refused, this one refuses too.
        for bad in [
            r#"{"error": "validation", "message": "x"}"#,
            r#"{"error": "rate_limited", "message": "x"}"#,
            r#"{"error": "teapot", "message": "x"}"#,
            r#"{"error": "not_found"}"#,
        ] {
            assert!(serde_json::from_str::<AppError>(bad).is_err(), "{bad}");
        }
        // Fields in any order, and fields of no interest, read as before.
        let back: AppError =
            serde_json::from_str(r#"{"message": "gone", "extra": [1], "error": "not_found"}"#)
                .expect("reads");
        assert_eq!(back, AppError::not_found("gone"));
    }

    #[test]
    fn arguments_that_do_not_decode_are_the_callers_mistake() {
        use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args("expected a string".into()));
        assert_eq!(e.status_code(), 400);
        assert!(e.to_string().contains("expected a string"));
        let e = AppError::from_server_fn_error(ServerFnErrorErr::MissingArg("username".into()));
        assert_eq!(e.status_code(), 400);
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert_eq!(e.status_code(), 500);
    }
}

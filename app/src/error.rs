//! The one error type of Houston's wire: server functions return it, and every JSON
//! API error is it, serialised as `{"error": kind, "message", …}`. Its variants are
//! the one list of error kinds; a kind's HTTP status is `status_code`.

use crate::domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};

/// What went wrong, in words a person can act on. Internal details are logged on
/// the server and never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "error", rename_all = "snake_case")]
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

    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest { .. } => 400,
            AppError::NotFound { .. } => 404,
            AppError::Validation { .. } => 422,
            AppError::Conflict { .. } => 409,
            AppError::Locked { .. } => 423,
            AppError::Unauthorized { .. } => 401,
            AppError::Forbidden { .. } | AppError::CrossSite { .. } => 403,
            AppError::PayloadTooLarge { .. } => 413,
            AppError::UnsupportedMediaType { .. } => 415,
            AppError::NotConfigured { .. } => 503,
            AppError::RateLimited { .. } => 429,
            AppError::Unavailable { .. } => 503,
            AppError::Internal { .. } => 500,
        }
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

//! The one error type that crosses the server-function boundary and shapes every
//! JSON API error.

use crate::domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};

/// What went wrong, in words a person can act on. Internal details are logged on
/// the server and never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AppError {
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
            AppError::NotFound { .. } => 404,
            AppError::Validation { .. } => 422,
            AppError::Conflict { .. } => 409,
            AppError::Locked { .. } => 423,
            AppError::Unauthorized { .. } => 401,
            AppError::Forbidden { .. } => 403,
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
        AppError::Internal {
            message: value.to_string(),
        }
    }
}

//! The use cases' errors. Each edge maps them once into its wire error
//! (`app::error::AppError`), so a refusal reads the same from the API and the pages.

use houston_core::ValidationErrors;
use houston_store::StoreError;

/// The policy's "no": nobody known is calling, or someone known may not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Nobody known is calling: sign in or send a token.
    #[error("{0}")]
    Unauthorized(String),
    /// Someone known is calling, and may not do this.
    #[error("{0}")]
    Forbidden(String),
}

impl Refused {
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// The HTTP status the edges answer with: 401 or 403.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
        }
    }
}

/// Why a use case did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The input does not parse: every field's problem at once.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// What it acts on does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (already ended, say).
    #[error("{0}")]
    Conflict(String),
    /// A lock in force already covers the scope: the API answers with it.
    #[error("{}", .0.refusal())]
    AlreadyLocked(Box<houston_core::Lock>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

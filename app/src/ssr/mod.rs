//! Server-only pieces the pages' server functions need: the storage trait and how
//! a server function finds the store.

pub mod access;
pub mod password;
pub mod security;
pub mod session;
pub mod setup;
mod store;
pub mod token;
pub mod totp;

pub use store::*;

use crate::error::AppError;
use leptos::prelude::use_context;
use std::sync::Arc;

/// The store the server provided to this request.
pub fn store() -> Result<Arc<dyn Store>, AppError> {
    use_context::<Arc<dyn Store>>().ok_or_else(|| {
        tracing::error!("no store in the request context");
        AppError::internal()
    })
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(message) => AppError::NotFound { message },
            StoreError::Conflict(message) => AppError::Conflict { message },
            StoreError::Backend(detail) => {
                tracing::error!(error = %detail, "storage failed");
                AppError::internal()
            }
        }
    }
}

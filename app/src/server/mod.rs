//! What the pages' server functions stand on, on the server only: the one entry
//! ([`serve`]), the request's context (caller, store, publisher, page cache), and
//! the server-side pieces of sign-in (passwords, sessions, second factors, first-run
//! set-up, security events). The store contract is `houston-store`, re-exported here;
//! the policy and the use cases are `houston-service`.

pub mod access;
/// The gate's facts from the store, and the gate: `houston_service::gate`.
pub use houston_service::gate;
pub mod outbound;
mod page_cache;
pub mod password;
pub mod security;
pub mod session;
pub mod setup;
pub mod sources;
pub mod token;
pub mod totp;

pub use houston_store::*;
pub use page_cache::{Freshness, PageCache};

use crate::error::AppError;
use leptos::prelude::use_context;
use std::sync::Arc;

/// What a server function's work receives from [`serve`]: who is calling (already
/// allowed what the function needs) and the store.
pub struct Call {
    pub caller: access::Caller,
    pub store: Arc<dyn Store>,
}

/// The one entry of every server function: checks that the caller may do what
/// `need` says (a known caller's refusal is audited) and hands the work the
/// caller and the store. An error's HTTP status follows from its kind, set by the
/// server for every server-function error (`server_fn_error_status`).
/// `server/tests/it/access/requests.rs` checks that every server function goes through here.
pub async fn serve<T, F, Fut>(need: access::Need, work: F) -> Result<T, AppError>
where
    F: FnOnce(Call) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let caller = access::require(need)?;
    let store = store()?;
    work(Call { caller, store }).await
}

/// How a server function tells open pages of a change it made: the server provides
/// its live-update publisher here (the JSON API calls it directly).
/// Publishes one change of one deploy.
pub type Publish = dyn Fn(crate::domain::ChangeKind, &crate::domain::Deploy) + Send + Sync;

#[derive(Clone)]
pub struct LiveChanges(pub Arc<Publish>);

/// Tells open pages that `deploy` changed; nothing when no publisher was provided.
pub fn tell(kind: crate::domain::ChangeKind, deploy: &crate::domain::Deploy) {
    if let Some(LiveChanges(publish)) = use_context::<LiveChanges>() {
        publish(kind, deploy);
    }
}

/// Publishes one change to locks, windows or overrides.
pub type PublishLock = dyn Fn(crate::domain::LockChange) + Send + Sync;

#[derive(Clone)]
pub struct LiveLocks(pub Arc<PublishLock>);

/// Tells open pages that a lock, window or override changed; nothing when no
/// publisher was provided.
pub fn tell_lock(change: crate::domain::LockChange) {
    if let Some(LiveLocks(publish)) = use_context::<LiveLocks>() {
        publish(change);
    }
}

/// Tells open pages of the change a use case made (`houston_service::Done`), if any.
pub fn publish(change: Option<houston_service::Change>) {
    match change {
        Some(houston_service::Change::Deploy(kind, deploy)) => tell(kind, &deploy),
        Some(houston_service::Change::Lock(change)) => tell_lock(change),
        None => {}
    }
}

/// The server's cache of what every page reads ([`PageCache`]). Where no server
/// provided one, an empty cache of its own: the page then reads the store.
pub fn page_cache() -> Arc<PageCache> {
    use_context::<Arc<PageCache>>().unwrap_or_default()
}

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

impl From<houston_service::Refused> for AppError {
    fn from(refused: houston_service::Refused) -> Self {
        match refused {
            houston_service::Refused::Unauthorized(message) => AppError::Unauthorized { message },
            houston_service::Refused::Forbidden(message) => AppError::Forbidden { message },
        }
    }
}

/// A use case's error on the wire: the one mapping both edges use.
impl From<houston_service::ServiceError> for AppError {
    fn from(err: houston_service::ServiceError) -> Self {
        use houston_service::ServiceError;
        match err {
            ServiceError::Refused(refused) => refused.into(),
            ServiceError::Invalid(errors) => errors.into(),
            ServiceError::NotFound(message) => AppError::NotFound { message },
            ServiceError::Conflict(message) => AppError::Conflict { message },
            ServiceError::AlreadyLocked(lock) => AppError::Conflict {
                message: lock.refusal(),
            },
            ServiceError::Store(err) => err.into(),
        }
    }
}

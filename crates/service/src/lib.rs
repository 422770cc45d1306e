//! Houston's use cases, written once for both edges: the JSON API (`server::http`)
//! and the pages' server functions (`app::api`) call the same function here.
//!
//! A use case takes what it needs as arguments (the store, the caller, the policy,
//! the time), declares the [`access::Need`] an edge must check before calling it as
//! its `NEED` constant, and returns the [`Change`] to tell open pages of beside its
//! value ([`Done`]): each edge publishes it its own way. Errors are
//! [`ServiceError`]s, mapped once into the wire error at the edge.
//!
//! Depends on the core and the store contract; no Leptos, no axum, no SQL.

pub mod access;
pub mod deploys;
mod error;
pub mod gate;
pub mod incidents;
pub mod locks;
pub mod timeline;
pub mod verdicts;

pub use error::{Refused, ServiceError};

use houston_core::{ChangeKind, Deploy, LockChange};

/// What open pages are told of after a use case changed something.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// One deploy changed.
    Deploy(ChangeKind, Box<Deploy>),
    /// A lock, freeze window or override changed.
    Lock(LockChange),
}

/// A use case's result: its value, and the change to publish (none when nothing
/// changed, as when a registration is repeated).
#[derive(Debug, Clone, PartialEq)]
pub struct Done<T> {
    pub value: T,
    pub change: Option<Change>,
}

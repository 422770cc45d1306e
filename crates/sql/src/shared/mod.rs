//! The aggregates whose SQL is the same on SQLite and PostgreSQL, written once.
//!
//! The rule: each file here is one aggregate, a `store!` macro that a backend
//! expands inside a module of its own (`mod tokens { crate::shared::tokens::store!(super::SqliteStore); }`
//! in `sqlite/mod.rs`). Inside it, `super::dialect` is that backend's dialect:
//! `sqlite/dialect.rs` and `postgres/dialect.rs` hold, under the same names, every
//! statement or fragment that differs, each with the reason it differs. What is
//! different throughout (how samples are stored and bulk-inserted, the change feed,
//! connecting and migrating) stays in the backend's own folder.
//!
//! Macros rather than generics over `sqlx::Database`: sqlx's executor and encoding
//! bounds spread over every function and hide the SQL, and each backend's
//! statements stay checked by the contract suite on both databases.

pub(crate) mod accounts;
pub(crate) mod audit;
pub(crate) mod definitions;
pub(crate) mod deliveries;
pub(crate) mod deploys;
pub(crate) mod incidents;
pub(crate) mod jobs;
pub(crate) mod locks;
pub(crate) mod ping;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod signals;
pub(crate) mod tokens;
pub(crate) mod verdicts;

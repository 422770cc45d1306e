//! Houston's core: the domain's types, which parse their input, and its rules (the
//! health judge, locks and freeze windows, access, alerts, notifications), with no
//! IO, no clock and no runtime.
//!
//! The crate graph keeps it so: this crate depends on serde, chrono, statrs and a few
//! small parsers only, so a file here that names `leptos`, `tokio`, `sqlx` or
//! `reqwest` does not compile. What Cargo cannot take away (`std::fs`, `Utc::now`,
//! `SystemTime`, threads, the environment) is refused by this crate's `clippy.toml`,
//! and the suite runs clippy with `-D warnings`: the time is always passed in.
//!
//! Features: `openapi` derives the API document's schemas (utoipa); `tz` adds
//! freeze windows, which need the IANA time-zone database (the server's build; the
//! browser is sent windows already worked out).

pub mod access;
pub mod accounts;
pub mod alerts;
pub mod bounded;
pub mod delivery;
pub mod deploy;
pub mod error_events;
pub mod flash;
/// Freeze windows need the time-zone database: server only.
#[cfg(feature = "tz")]
pub mod freeze;
pub mod headline;
pub mod incidents;
pub mod judge;
pub mod live;
pub mod locks;
pub mod metric_config;
pub mod names;
pub mod notify;
pub mod paging;
pub mod sensitivity;
pub mod signals;
pub mod stats;
pub mod timeline;

pub use access::*;
pub use accounts::*;
pub use alerts::*;
pub use delivery::*;
pub use deploy::*;
pub use error_events::*;
pub use headline::*;
pub use incidents::*;
pub use judge::*;
pub use live::*;
pub use locks::*;
pub use metric_config::*;
pub use names::*;
pub use notify::*;
pub use paging::*;
pub use sensitivity::*;
pub use signals::*;
pub use timeline::*;

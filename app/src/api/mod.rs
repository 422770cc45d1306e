//! Server functions the pages call: thin wrappers from the request context to the store.

mod account;
mod admin;
mod deploys;
mod incidents;
mod locks;
mod notifications;
mod session;
mod signals;
mod verdicts;

pub use account::*;
pub use admin::*;
pub use deploys::*;
pub use incidents::*;
pub use locks::*;
pub use notifications::*;
pub use session::*;
pub use signals::*;
pub use verdicts::*;

//! Server functions the pages call: thin wrappers from the request context to the store.

mod deploys;
mod session;

pub use deploys::*;
pub use session::*;

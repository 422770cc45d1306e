//! Server functions the pages call: thin wrappers from the request context to the store.

mod deploys;

pub use deploys::*;

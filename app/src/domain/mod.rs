//! Pure domain logic: types that parse their input, and rules with no IO and no clock.

pub mod access;
pub mod accounts;
pub mod deploy;
pub mod names;
pub mod page;

pub use access::*;
pub use accounts::*;
pub use deploy::*;
pub use names::*;
pub use page::*;

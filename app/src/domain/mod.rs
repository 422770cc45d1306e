//! Pure domain logic: types that parse their input, and rules with no IO and no clock.

pub mod access;
pub mod accounts;
pub mod delivery;
pub mod deploy;
pub mod live;
pub mod names;
pub mod page;

pub use access::*;
pub use accounts::*;
pub use delivery::*;
pub use deploy::*;
pub use live::*;
pub use names::*;
pub use page::*;

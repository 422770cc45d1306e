//! Small pieces the pages share: status badges, versions, times, live updates.

mod format;
mod live;
mod status;

pub use format::*;
pub use live::*;
pub use status::*;

//! Small pieces the pages share: status badges, versions, times, live updates.

mod chart;
mod filters;
mod format;
mod live;
mod locks;
mod resource;
mod status;

pub use chart::*;
pub use filters::*;
pub use format::*;
pub use live::*;
pub use locks::*;
pub use resource::*;
pub use status::*;

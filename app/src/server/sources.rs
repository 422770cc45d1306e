//! Where metric samples come from when they are not pushed: a Prometheus server.
//! The server crate implements [`SampleSource`] over HTTP and hands it to the API
//! and the pages; the judge reads [`Fetched::Unavailable`] as *no data*, never as
//! healthy.

use crate::domain::{PromSeries, TimeWindow};

/// What one fetch brought back.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// The series the query answered (maybe none: no data in the window).
    Data(Vec<PromSeries>),
    /// The source could not answer: down, slow, or it refused the query. Says why.
    Unavailable(String),
}

/// A source of metric samples queried over a window.
#[async_trait::async_trait]
pub trait SampleSource: Send + Sync {
    /// Runs `query` over `window`, with the step chosen for the window, a timeout
    /// and bounded retries.
    async fn query_range(&self, query: &str, window: &TimeWindow) -> Fetched;
}

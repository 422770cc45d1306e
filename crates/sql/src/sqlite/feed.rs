//! The change feed on SQLite: none. One process serves one SQLite file, so
//! changes stay in the process (`events::Events`).

#[async_trait::async_trait]
impl houston_store::ChangeFeed for super::SqliteStore {
    async fn publish_change(&self, _payload: &str) -> Result<bool, houston_store::StoreError> {
        Ok(false)
    }

    async fn listen_changes(
        &self,
    ) -> Result<
        Option<tokio::sync::mpsc::Receiver<houston_store::FeedItem>>,
        houston_store::StoreError,
    > {
        Ok(None)
    }
}

//! The change feed on PostgreSQL: NOTIFY on one channel, and one LISTEN
//! connection per process, so every replica hears every change.

use houston_store::{FeedItem, StoreError};
use sqlx::postgres::PgListener;
use std::time::Duration;

/// The channel Houston's changes travel on.
const CHANNEL: &str = "houston_changes";

#[async_trait::async_trait]
impl houston_store::ChangeFeed for super::PgStore {
    async fn publish_change(&self, payload: &str) -> Result<bool, StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map_err(crate::backend_error)?;
        Ok(true)
    }

    async fn listen_changes(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<FeedItem>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(crate::backend_error)?;
        listener
            .listen(CHANNEL)
            .await
            .map_err(crate::backend_error)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            // Set while reconnecting failed: what was published meanwhile is gone.
            let mut lost = false;
            loop {
                let item = match listener.try_recv().await {
                    Ok(Some(notice)) if lost => {
                        lost = false;
                        if sender.send(FeedItem::Gap).await.is_err() {
                            break;
                        }
                        FeedItem::Change(notice.payload().to_owned())
                    }
                    Ok(Some(notice)) => FeedItem::Change(notice.payload().to_owned()),
                    // The connection was lost; the next call reconnects and listens
                    // again. Whatever was published meanwhile is gone: say so.
                    Ok(None) => {
                        tracing::warn!("the change feed's connection was lost; reconnecting");
                        FeedItem::Gap
                    }
                    Err(_) if sender.is_closed() => break,
                    Err(e) => {
                        lost = true;
                        tracing::warn!(error = %e, "the change feed cannot reconnect yet");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if sender.send(item).await.is_err() {
                    break;
                }
            }
        });
        Ok(Some(receiver))
    }
}

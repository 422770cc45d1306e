//! Settings changed at run time. Written once for both databases: see `crate::shared`.

/// Implements this aggregate for `$store`, expanded inside a backend's module, where
/// `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl houston_store::SettingStore for $store {
            #[tracing::instrument(skip(self))]
            async fn get_setting(&self, key: &str) -> Result<Option<String>, houston_store::StoreError> {
                sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend_error)
            }

            #[tracing::instrument(skip(self, value, by), fields(actor = %by.name))]
            async fn set_setting(
                &self,
                key: &str,
                value: &str,
                by: &houston_core::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                sqlx::query(
                    "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3, updated_by = $4",
                )
                .bind(key)
                .bind(value)
                .bind(now)
                .bind(by.name.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                let detail = format!("{key} = {}", houston_core::audited_setting(key, value));
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "settings.change",
                    &format!("setting:{key}"),
                    reason,
                    Some(detail.as_str()),
                )
                .await?;
                tx.commit().await.map_err(backend_error)
            }
        }
    };
}
pub(crate) use store;

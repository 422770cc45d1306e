//! Background work: pruning, on SQLite.

#[async_trait::async_trait]
impl app::ssr::JobStore for super::SqliteStore {
    #[tracing::instrument(skip(self))]
    async fn prune(
        &self,
        cutoffs: &app::ssr::PruneCutoffs,
    ) -> Result<app::ssr::PruneCounts, app::ssr::StoreError> {
        use crate::storage::backend_error;
        let at = app::domain::to_stored_precision;
        let sessions =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(at(cutoffs.now))
                .bind(at(cutoffs.sessions_idle_before))
                .execute(&self.pool)
                .await
                .map_err(backend_error)?
                .rows_affected();
        let deliveries = sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < $1")
            .bind(at(cutoffs.deliveries_before))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?
            .rows_affected();
        let attempts = sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(at(cutoffs.attempts_before))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?
            .rows_affected();
        Ok(app::ssr::PruneCounts {
            sessions,
            deliveries,
            attempts,
        })
    }
}

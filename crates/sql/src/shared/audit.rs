//! The audit log, and the one statement that appends to it inside a change's transaction. Written once for both databases: see `crate::shared`.

/// Implements this aggregate for `$store`, expanded inside a backend's module, where
/// `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {

        #[async_trait::async_trait]
        impl houston_store::AuditStore for $store {
            #[tracing::instrument(skip(self, by, detail), fields(actor = %by.name))]
            async fn append_audit(
                &self,
                by: &houston_core::Actor,
                action: &str,
                target: &str,
                detail: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), houston_store::StoreError> {
                let now = houston_core::to_stored_precision(now);
                super::audit::record(&self.pool, now, by, action, target, None::<&str>, detail).await?;
                Ok(())
            }

            #[tracing::instrument(skip(self))]
            async fn list_audit(
                &self,
                filter: &houston_core::AuditFilter,
            ) -> Result<Vec<houston_core::AuditEntry>, houston_store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<super::dialect::Db>::new(
                    "SELECT id, at, actor, source_address, action, target, reason, detail FROM audit_log WHERE 1 = 1",
                );
                if let Some(action) = &filter.action {
                    qb.push(" AND action = ").push_bind(action.clone());
                }
                if let Some(actor) = &filter.actor {
                    qb.push(" AND actor = ").push_bind(actor.clone());
                }
                if let Some(since) = filter.since {
                    qb.push(" AND at >= ").push_bind(since);
                }
                if let Some(until) = filter.until {
                    qb.push(" AND at < ").push_bind(until);
                }
                qb.push(" ORDER BY at DESC, id DESC LIMIT ")
                    .push_bind(i64::from(filter.limit.max(1)));
                let rows = qb
                    .build_query_as::<crate::rows::AuditRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(crate::backend_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }

        /// Appends one audit entry inside the caller's transaction, so the entry and the
        /// change it records commit together or not at all.
        pub(super) async fn record(
            conn: impl sqlx::Executor<'_, Database = super::dialect::Db>,
            at: chrono::DateTime<chrono::Utc>,
            by: &houston_core::Actor,
            action: &str,
            target: &str,
            reason: Option<&str>,
            detail: Option<&str>,
        ) -> Result<(), houston_store::StoreError> {
            sqlx::query(
                "INSERT INTO audit_log (at, actor, source_address, action, target, reason, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(at)
            .bind(by.name.as_str())
            .bind(by.address.as_deref())
            .bind(action)
            .bind(target)
            .bind(reason)
            .bind(detail)
            .execute(conn)
            .await
            .map(|_| ())
            .map_err(crate::backend_error)
        }
    };
}
pub(crate) use store;

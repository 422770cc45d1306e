//! Background work: pruning. Written once for both databases: see `crate::shared`.

/// Implements this aggregate for `$store`, expanded inside a backend's module, where
/// `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl houston_store::JobStore for $store {
            #[tracing::instrument(skip(self))]
            async fn prune(
                &self,
                cutoffs: &houston_store::PruneCutoffs,
            ) -> Result<houston_store::PruneCounts, houston_store::StoreError> {
                use crate::backend_error;
                let at = houston_core::to_stored_precision;
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
                let messages =
                    sqlx::query("DELETE FROM notifications WHERE status <> 'pending' AND created_at < $1")
                        .bind(at(cutoffs.messages_before))
                        .execute(&self.pool)
                        .await
                        .map_err(backend_error)?
                        .rows_affected();
                Ok(houston_store::PruneCounts {
                    sessions,
                    deliveries,
                    attempts,
                    messages,
                })
            }

            #[tracing::instrument(skip(self))]
            async fn refresh_statistics(&self) -> Result<(), houston_store::StoreError> {
                sqlx::query("ANALYZE")
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(crate::backend_error)
            }

            #[tracing::instrument(skip(self, job), fields(kind = %job.kind))]
            async fn enqueue_job(
                &self,
                job: &houston_store::NewJob,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<i64>, houston_store::StoreError> {
                enqueue_in(&self.pool, job, now).await
            }

            #[tracing::instrument(skip(self))]
            async fn claim_jobs(
                &self,
                worker: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease: chrono::Duration,
                limit: u32,
            ) -> Result<Vec<houston_store::ClaimedJob>, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                // One claimant per row (see `dialect::CLAIM_JOBS`).
                let rows: Vec<(i64, String, String, Option<String>, i32, i32)> = sqlx::query_as(super::dialect::CLAIM_JOBS)
                .bind(worker)
                .bind(now + lease)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, kind, payload, unique_key, attempts, max_attempts)| {
                        houston_store::ClaimedJob {
                            id,
                            kind,
                            payload,
                            unique_key,
                            attempts: u32::try_from(attempts).unwrap_or(0),
                            max_attempts: u32::try_from(max_attempts).unwrap_or(0),
                        }
                    })
                    .collect())
            }

            #[tracing::instrument(skip(self, end))]
            async fn end_job(
                &self,
                id: i64,
                worker: &str,
                end: &houston_store::JobEnd,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, houston_store::StoreError> {
                use crate::backend_error;
                use houston_store::JobEnd;
                let now = houston_core::to_stored_precision(now);
                // $1 and $2 pick the claim; $3 is a time and $4 an error where used.
                let (sql, at, error) = match end {
                    JobEnd::Done => (
                        "DELETE FROM jobs WHERE id = $1 AND claimed_by = $2",
                        None,
                        None,
                    ),
                    JobEnd::Again { at } => (
                        "UPDATE jobs SET run_at = $3, attempts = 0, claimed_by = NULL, claimed_until = NULL, \
                         last_error = NULL WHERE id = $1 AND claimed_by = $2",
                        Some(*at),
                        None,
                    ),
                    JobEnd::Retry { at, error } => (
                        "UPDATE jobs SET run_at = $3, claimed_by = NULL, claimed_until = NULL, last_error = $4 \
                         WHERE id = $1 AND claimed_by = $2",
                        Some(*at),
                        Some(error.as_str()),
                    ),
                    JobEnd::Failed { error } => (
                        "UPDATE jobs SET failed_at = $3, claimed_by = NULL, claimed_until = NULL, last_error = $4 \
                         WHERE id = $1 AND claimed_by = $2",
                        Some(now),
                        Some(error.as_str()),
                    ),
                };
                let mut query = sqlx::query(sql).bind(id).bind(worker);
                if let Some(at) = at {
                    query = query.bind(houston_core::to_stored_precision(at));
                }
                if let Some(error) = error {
                    query = query.bind(error);
                }
                let changed = query
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .rows_affected();
                Ok(changed == 1)
            }

            #[tracing::instrument(skip(self))]
            async fn failed_jobs(
                &self,
                limit: u32,
            ) -> Result<Vec<houston_store::FailedJob>, houston_store::StoreError> {
                let rows: Vec<(
                    i64,
                    String,
                    String,
                    i32,
                    Option<String>,
                    chrono::DateTime<chrono::Utc>,
                )> = sqlx::query_as(
                    "SELECT id, kind, payload, attempts, last_error, failed_at FROM jobs \
                         WHERE failed_at IS NOT NULL ORDER BY failed_at DESC, id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend_error)?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(id, kind, payload, attempts, last_error, failed_at)| houston_store::FailedJob {
                            id,
                            kind,
                            payload,
                            attempts: u32::try_from(attempts).unwrap_or(0),
                            last_error,
                            failed_at,
                        },
                    )
                    .collect())
            }
        }

        /// Queues a job with `conn`: the pool, or the transaction of the change that
        /// causes the job, so the job is queued if and only if the change commits.
        pub(super) async fn enqueue_in(
            conn: impl sqlx::Executor<'_, Database = super::dialect::Db>,
            job: &houston_store::NewJob,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Option<i64>, houston_store::StoreError> {
            sqlx::query_scalar(
                "INSERT INTO jobs (kind, payload, unique_key, run_at, max_attempts, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (unique_key) DO NOTHING RETURNING id",
            )
            .bind(job.kind.as_str())
            .bind(job.payload.as_str())
            .bind(job.unique_key.as_deref())
            .bind(houston_core::to_stored_precision(job.run_at))
            .bind(i32::try_from(job.max_attempts).unwrap_or(i32::MAX))
            .bind(houston_core::to_stored_precision(now))
            .fetch_optional(conn)
            .await
            .map_err(crate::backend_error)
        }
    };
}
pub(crate) use store;

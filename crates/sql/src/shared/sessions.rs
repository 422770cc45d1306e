//! Browser sessions and sign-in attempts. Written once for both databases: see `crate::shared`.

/// Implements this aggregate for `$store`, expanded inside a backend's module, where
/// `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl houston_store::SessionStore for $store {
            #[tracing::instrument(skip(self, id_hash, user, by), fields(user = %user.username))]
            async fn create_session(
                &self,
                id_hash: &str,
                user: &houston_core::User,
                expires_at: chrono::DateTime<chrono::Utc>,
                by: &houston_core::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at, address, last_seen_at) VALUES ($1, $2, $3, $4, $5, $3)")
                            .bind(id_hash)
                            .bind(user.id)
                            .bind(now)
                            .bind(houston_core::to_stored_precision(expires_at))
                            .bind(by.address.as_deref())
                            .execute(&mut *tx)
                            .await
                            .map_err(backend_error)?;
                // Expired sessions of this account go as a new one starts, and so do
                // the oldest beyond the cap.
                sqlx::query(
                            "DELETE FROM sessions WHERE user_id = $1 AND (expires_at <= $2 OR id_hash NOT IN \
                             (SELECT id_hash FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id_hash LIMIT $3))",
                        )
                        .bind(user.id)
                        .bind(now)
                        .bind(houston_store::MAX_SESSIONS_PER_USER)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "session.login",
                    &format!("user:{}", user.username),
                    None::<&str>,
                    None::<&str>,
                )
                .await?;
                tx.commit().await.map_err(backend_error)
            }

            #[tracing::instrument(skip(self, limits))]
            async fn reserve_login_attempt(
                &self,
                username: &str,
                address: &str,
                now: chrono::DateTime<chrono::Utc>,
                limits: &houston_core::LoginLimits,
            ) -> Result<houston_store::LoginReservation, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let since = now - limits.window;
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                // Count and insert as one step across connections and replicas (see
                // `dialect::LOCK_LOGIN_FAILURES`).
                if let Some(lock) = super::dialect::LOCK_LOGIN_FAILURES {
                    sqlx::query(lock)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                }
                // The limit-th most recent attempt of the pair, and of the address:
                // while it lies inside the window, the pair (or address) is locked.
                let nth = |limit: u32| i64::from(limit.max(1) - 1);
                let pair: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
                    "SELECT at FROM login_failures WHERE username = $1 AND address = $2 AND at >= $3 \
                             ORDER BY at DESC LIMIT 1 OFFSET $4",
                )
                .bind(username)
                .bind(address)
                .bind(since)
                .bind(nth(limits.per_pair))
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                let by_address: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
                    "SELECT at FROM login_failures WHERE address = $1 AND at >= $2 \
                             ORDER BY at DESC LIMIT 1 OFFSET $3",
                )
                .bind(address)
                .bind(since)
                .bind(nth(limits.per_address))
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                if let Some(oldest) = pair.max(by_address) {
                    return Ok(houston_store::LoginReservation::Locked {
                        until: oldest + limits.window,
                    });
                }
                let account_failures: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM login_failures WHERE username = $1 AND at >= $2",
                )
                .bind(username)
                .bind(since)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend_error)?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO login_failures (username, address, at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(username)
                .bind(address)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)?;
                Ok(houston_store::LoginReservation::Reserved {
                    id,
                    account_failures: u32::try_from(account_failures).unwrap_or(u32::MAX),
                })
            }

            #[tracing::instrument(skip(self))]
            async fn clear_login_attempt(&self, id: i64) -> Result<(), houston_store::StoreError> {
                sqlx::query("DELETE FROM login_failures WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(crate::backend_error)
            }

            #[tracing::instrument(skip(self, id_hash))]
            async fn session_user(
                &self,
                id_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
                idle_since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<houston_core::User>, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let row = sqlx::query_as::<_, crate::rows::SessionUserRow>(sqlx::AssertSqlSafe(format!(
                            "SELECT {}, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id \
                             WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled_at IS NULL",
                            crate::rows::USER_COLUMNS_OF_U
                        )))
                        .bind(id_hash)
                        .bind(now)
                        .bind(houston_core::to_stored_precision(idle_since))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend_error)?;
                let Some(row) = row else { return Ok(None) };
                if row.last_seen_at < now - chrono::Duration::minutes(1) {
                    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                        .bind(now)
                        .bind(id_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(backend_error)?;
                }
                row.user.try_into().map(Some)
            }

            #[tracing::instrument(skip(self, id_hash))]
            async fn delete_session(&self, id_hash: &str) -> Result<(), houston_store::StoreError> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(crate::backend_error)
            }
        }
    };
}
pub(crate) use store;

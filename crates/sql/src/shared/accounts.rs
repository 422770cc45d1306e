//! Accounts: people, roles, passwords and second factors. Written once for both databases: see `crate::shared`.

/// Implements this aggregate for `$store`, expanded inside a backend's module, where
/// `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {

        #[async_trait::async_trait]
        impl houston_store::AccountStore for $store {
            #[tracing::instrument(skip(self, password_hash, by), fields(actor = %by.name))]
            async fn create_user(
                &self,
                username: &houston_core::Username,
                password_hash: &str,
                role: houston_core::Role,
                by: &houston_core::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_core::User, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let row = sqlx::query_as::<_, crate::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                            "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING {}",
                            crate::rows::USER_COLUMNS
                        )))
                        .bind(username.as_str())
                        .bind(password_hash)
                        .bind(role.as_str())
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| {
                            if crate::is_unique_violation(&e) {
                                houston_store::StoreError::Conflict(format!("the user name \"{username}\" is taken"))
                            } else {
                                backend_error(e)
                            }
                        })?;
                let detail = format!("role: {role}");
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "user.create",
                    &format!("user:{username}"),
                    None::<&str>,
                    Some(detail.as_str()),
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self))]
            async fn count_users(&self) -> Result<i64, houston_store::StoreError> {
                sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(crate::backend_error)
            }

            #[tracing::instrument(skip(self))]
            async fn list_users(&self) -> Result<Vec<houston_core::User>, houston_store::StoreError> {
                sqlx::query_as::<_, crate::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users u ORDER BY u.username",
                    crate::rows::USER_COLUMNS_OF_U
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            #[tracing::instrument(skip(self))]
            async fn find_login(
                &self,
                username: &houston_core::Username,
            ) -> Result<Option<(houston_core::User, String)>, houston_store::StoreError> {
                let row = sqlx::query_as::<_, crate::rows::LoginRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, u.password_hash FROM users u WHERE u.username = $1",
                    crate::rows::USER_COLUMNS_OF_U
                )))
                .bind(username.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(crate::backend_error)?;
                row.map(|r| Ok((r.user.try_into()?, r.password_hash)))
                    .transpose()
            }

            #[tracing::instrument(skip(self, password_hash, by), fields(actor = %by.name))]
            async fn create_first_admin(
                &self,
                username: &houston_core::Username,
                password_hash: &str,
                by: &houston_core::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_core::User, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                // Two set-ups must not both see no users (see `dialect::LOCK_USERS`).
                if let Some(lock) = super::dialect::LOCK_USERS {
                    sqlx::query(lock)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                }
                let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                if existing > 0 {
                    return Err(houston_store::StoreError::Conflict(
                        "Houston is already set up: sign in instead".into(),
                    ));
                }
                let row = sqlx::query_as::<_, crate::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                            "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, 'admin', $3) RETURNING {}",
                            crate::rows::USER_COLUMNS
                        )))
                        .bind(username.as_str())
                        .bind(password_hash)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "user.create",
                    &format!("user:{username}"),
                    Some("first-run set-up"),
                    Some("role: admin"),
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn set_user_role(
                &self,
                username: &houston_core::Username,
                role: houston_core::Role,
                by: &houston_core::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_core::User, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let was_admin = lock_users(&mut tx, username).await?;
                let row = sqlx::query_as::<_, crate::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET role = $1 WHERE username = $2 RETURNING {}",
                    crate::rows::USER_COLUMNS
                )))
                .bind(role.as_str())
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| {
                    houston_store::StoreError::NotFound(format!("no user named \"{username}\""))
                })?;
                if was_admin {
                    keep_an_admin(&mut tx).await?;
                }
                let detail = format!("role: {role}");
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "user.role",
                    &format!("user:{username}"),
                    reason,
                    Some(detail.as_str()),
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn set_user_disabled(
                &self,
                username: &houston_core::Username,
                disabled: bool,
                by: &houston_core::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_core::User, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let was_admin = lock_users(&mut tx, username).await?;
                let row = sqlx::query_as::<_, crate::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET disabled_at = $1 WHERE username = $2 RETURNING {}",
                    crate::rows::USER_COLUMNS
                )))
                .bind(disabled.then_some(now))
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| {
                    houston_store::StoreError::NotFound(format!("no user named \"{username}\""))
                })?;
                let user: houston_core::User = row.try_into()?;
                if was_admin {
                    keep_an_admin(&mut tx).await?;
                }
                if disabled {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(user.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                }
                let action = if disabled {
                    "user.disable"
                } else {
                    "user.enable"
                };
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    action,
                    &format!("user:{username}"),
                    reason,
                    None::<&str>,
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(user)
            }

            #[tracing::instrument(skip(self, password_hash, keep_session, by), fields(actor = %by.name))]
            async fn set_password(
                &self,
                username: &houston_core::Username,
                password_hash: &str,
                keep_session: Option<&str>,
                by: &houston_core::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_core::User, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let row = sqlx::query_as::<_, crate::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET password_hash = $1 WHERE username = $2 RETURNING {}",
                    crate::rows::USER_COLUMNS
                )))
                .bind(password_hash)
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| {
                    houston_store::StoreError::NotFound(format!("no user named \"{username}\""))
                })?;
                let user: houston_core::User = row.try_into()?;
                let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                    .bind(user.id)
                    .bind(keep_session.unwrap_or_default())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?
                    .rows_affected();
                let detail = format!("{ended} other session(s) ended");
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "user.password",
                    &format!("user:{username}"),
                    reason,
                    Some(detail.as_str()),
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(user)
            }

            #[tracing::instrument(skip(self, secret))]
            async fn begin_second_factor(
                &self,
                user_id: i64,
                secret: &str,
            ) -> Result<(), houston_store::StoreError> {
                sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
                    .bind(secret)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(crate::backend_error)
            }

            #[tracing::instrument(skip(self))]
            async fn second_factor(
                &self,
                user_id: i64,
            ) -> Result<houston_store::SecondFactor, houston_store::StoreError> {
                use crate::backend_error;
                let (secret, pending): (Option<String>, Option<String>) =
                    sqlx::query_as("SELECT totp_secret, totp_pending FROM users WHERE id = $1")
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend_error)?
                        .ok_or_else(|| houston_store::StoreError::NotFound(format!("no user {user_id}")))?;
                Ok(houston_store::SecondFactor { secret, pending })
            }

            #[tracing::instrument(skip(self, recovery_code_hashes, by), fields(actor = %by.name))]
            async fn enable_second_factor(
                &self,
                user_id: i64,
                recovery_code_hashes: &[String],
                by: &houston_core::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let username: Option<String> = sqlx::query_scalar(
                            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = NULL \
                             WHERE id = $1 AND totp_pending IS NOT NULL RETURNING username",
                        )
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                let Some(username) = username else {
                    return Err(houston_store::StoreError::Conflict(
                        "start setting up the second factor first".into(),
                    ));
                };
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                for hash in recovery_code_hashes {
                    sqlx::query(
                        "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(user_id)
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                }
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "user.second_factor_on",
                    &format!("user:{username}"),
                    None::<&str>,
                    None::<&str>,
                )
                .await?;
                tx.commit().await.map_err(backend_error)
            }

            #[tracing::instrument(skip(self))]
            async fn use_totp_step(
                &self,
                user_id: i64,
                step: i64,
            ) -> Result<bool, houston_store::StoreError> {
                let done = sqlx::query(
                    "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_secret IS NOT NULL \
                             AND (totp_last_step IS NULL OR totp_last_step < $1)",
                )
                .bind(step)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(crate::backend_error)?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(skip(self, code_hash))]
            async fn use_recovery_code(
                &self,
                user_id: i64,
                code_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, houston_store::StoreError> {
                let done = sqlx::query(
                            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
                        )
                        .bind(houston_core::to_stored_precision(now))
                        .bind(user_id)
                        .bind(code_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(crate::backend_error)?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn disable_second_factor(
                &self,
                username: &houston_core::Username,
                by: &houston_core::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let id: Option<i64> = sqlx::query_scalar(
                    "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL \
                             WHERE username = $1 RETURNING id",
                )
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                let Some(id) = id else {
                    return Err(houston_store::StoreError::NotFound(format!(
                        "no user named \"{username}\""
                    )));
                };
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "user.second_factor_off",
                    &format!("user:{username}"),
                    reason,
                    None::<&str>,
                )
                .await?;
                tx.commit().await.map_err(backend_error)
            }
        }

        /// Refuses a change that leaves Houston with no enabled admin. Runs
        /// inside the changing transaction, after the change, with `users`
        /// locked on PostgreSQL (SQLite's BEGIN IMMEDIATE serialises), so two
        /// admins demoting each other at once cannot both succeed.
        pub(super) async fn keep_an_admin(
            tx: &mut sqlx::Transaction<'static, super::dialect::Db>,
        ) -> Result<(), houston_store::StoreError> {
            use crate::backend_error;
            let admins: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
            )
            .fetch_one(&mut **tx)
            .await
            .map_err(backend_error)?;
            if admins == 0 {
                return Err(houston_store::StoreError::Conflict(
                    "this would leave Houston without an enabled admin; make someone else admin first"
                        .into(),
                ));
            }
            Ok(())
        }

        /// Takes the lock on `users` that `keep_an_admin` relies on, and says
        /// whether `username` is an enabled admin before the change.
        pub(super) async fn lock_users(
            tx: &mut sqlx::Transaction<'static, super::dialect::Db>,
            username: &houston_core::Username,
        ) -> Result<bool, houston_store::StoreError> {
            use crate::backend_error;
            if let Some(lock) = super::dialect::LOCK_USERS {
                sqlx::query(lock)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend_error)?;
            }
            let admin: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE username = $1 AND role = 'admin' AND disabled_at IS NULL",
            )
            .bind(username.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(backend_error)?;
            Ok(admin > 0)
        }
    };
}
pub(crate) use store;

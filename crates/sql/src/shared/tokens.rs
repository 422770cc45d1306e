//! API tokens. Written once for both databases: see `crate::shared`.

/// Implements this aggregate for `$store`, expanded inside a backend's module, where
/// `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl houston_store::TokenStore for $store {
            #[tracing::instrument(skip(self, new, by), fields(name = %new.name, actor = %by.name))]
            async fn create_api_token(
                &self,
                new: &houston_core::NewApiToken,
                by: &houston_core::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_store::ApiToken, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let name = new.name.as_str();
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let row = sqlx::query_as::<_, crate::rows::ApiTokenRow>(sqlx::AssertSqlSafe(format!(
                            "INSERT INTO api_tokens (name, token_hash, scopes, created_at, expires_at, owner_user_id, created_by) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {}",
                            crate::rows::TOKEN_COLUMNS
                        )))
                        .bind(name)
                        .bind(&new.token_hash)
                        .bind(houston_core::TokenScope::join(&new.scopes))
                        .bind(now)
                        .bind(new.expires_at.map(houston_core::to_stored_precision))
                        .bind(new.owner_user_id)
                        .bind(by.name.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| {
                            if crate::is_unique_violation(&e) {
                                houston_store::StoreError::Conflict(format!(
                                    "an active token named {name:?} exists; revoke it first or choose another name"
                                ))
                            } else {
                                backend_error(e)
                            }
                        })?;
                let expiry = new
                    .expires_at
                    .map_or_else(|| "never".to_owned(), |e| e.to_rfc3339());
                let detail = format!(
                    "scopes: {}; expires: {expiry}",
                    houston_core::TokenScope::join(&new.scopes)
                );
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "token.create",
                    &format!("token:{name}"),
                    None::<&str>,
                    Some(detail.as_str()),
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self, token_hash))]
            async fn authenticate_api_token(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<houston_store::ApiToken>, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let row = sqlx::query_as::<_, crate::rows::ApiTokenRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM api_tokens t LEFT JOIN users u ON u.id = t.owner_user_id \
                             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
                             AND (t.expires_at IS NULL OR t.expires_at > $2) \
                             AND (t.owner_user_id IS NULL OR u.disabled_at IS NULL)",
                    crate::rows::TOKEN_COLUMNS_OF_T
                )))
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
                let Some(row) = row else { return Ok(None) };
                let token: houston_store::ApiToken = row.try_into()?;
                // The page shows minutes: one write a minute per token is enough,
                // and an API call stays a read the rest of the time.
                if token
                    .last_used_at
                    .is_none_or(|at| at <= now - chrono::Duration::minutes(1))
                {
                    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(token.id)
                        .execute(&self.pool)
                        .await
                        .map_err(backend_error)?;
                }
                Ok(Some(token))
            }

            #[tracing::instrument(skip(self))]
            async fn list_api_tokens(
                &self,
            ) -> Result<Vec<houston_store::ApiToken>, houston_store::StoreError> {
                sqlx::query_as::<_, crate::rows::ApiTokenRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM api_tokens ORDER BY created_at, id",
                    crate::rows::TOKEN_COLUMNS
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn revoke_api_token(
                &self,
                name: &str,
                by: &houston_core::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_store::ApiToken, houston_store::StoreError> {
                use crate::backend_error;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let row = sqlx::query_as::<_, crate::rows::ApiTokenRow>(sqlx::AssertSqlSafe(format!(
                            "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL RETURNING {}",
                            crate::rows::TOKEN_COLUMNS
                        )))
                        .bind(now)
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend_error)?
                        .ok_or_else(|| houston_store::StoreError::NotFound(format!("no active token named {name:?}")))?;
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "token.revoke",
                    &format!("token:{name}"),
                    reason,
                    None::<&str>,
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }
        }
    };
}
pub(crate) use store;

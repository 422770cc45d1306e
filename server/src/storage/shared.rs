//! The `Store` implementation both backends share. The SQL here is portable
//! (`$N` placeholders, `ON CONFLICT`, `RETURNING` work on SQLite and PostgreSQL);
//! a macro stamps it out once per sqlx database type because sqlx's generic
//! executor bounds would cost more clarity than they save. Each backend provides
//! `self.pool` and `self.begin_write()`.

macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:literal) => {
        /// Work that runs inside a caller's transaction, shared by the trait methods.
        impl $store {
            async fn register_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                new: &app::domain::NewDeploy,
                by: &app::domain::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::ssr::Registration, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                use $crate::storage::rows::{DeployRow, deploy_select};
                let by_external_id = concat!(deploy_select!(), " WHERE d.external_id = $1");
                if let Some(external_id) = &new.external_id {
                    let existing = sqlx::query_as::<_, DeployRow>(by_external_id)
                        .bind(external_id)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(backend_error)?;
                    if let Some(row) = existing {
                        return Ok(app::ssr::Registration { deploy: row.try_into()?, created: false });
                    }
                }

                sqlx::query("INSERT INTO services (name, repository_url, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                    .bind(new.service.as_str())
                    .bind(new.repository_url.as_deref())
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend_error)?;
                if let Some(url) = &new.repository_url {
                    sqlx::query("UPDATE services SET repository_url = $1 WHERE name = $2 AND (repository_url IS NULL OR repository_url <> $1)")
                        .bind(url)
                        .bind(new.service.as_str())
                        .execute(&mut **tx)
                        .await
                        .map_err(backend_error)?;
                }
                let service_id: i64 = sqlx::query_scalar("SELECT id FROM services WHERE name = $1")
                    .bind(new.service.as_str())
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(backend_error)?;

                sqlx::query("INSERT INTO environments (name, stage_order, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                    .bind(new.environment.as_str())
                    .bind(app::domain::default_stage_order(&new.environment))
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend_error)?;
                let environment_id: i64 = sqlx::query_scalar("SELECT id FROM environments WHERE name = $1")
                    .bind(new.environment.as_str())
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(backend_error)?;

                let previous_version = match &new.previous_version {
                    Some(v) => Some(v.clone()),
                    None => sqlx::query_scalar::<_, String>(
                        "SELECT version FROM deploys WHERE service_id = $1 AND environment_id = $2 \
                         AND status = 'succeeded' AND started_at < $3 \
                         ORDER BY started_at DESC, id DESC LIMIT 1",
                    )
                    .bind(service_id)
                    .bind(environment_id)
                    .bind(new.started_at)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(backend_error)?,
                };

                let inserted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO deploys (service_id, environment_id, version, previous_version, author, \
                     description, ci_url, status, started_at, finished_at, source, external_id, created_at, \
                     registered_by, status_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                     ON CONFLICT (external_id) DO NOTHING RETURNING id",
                )
                .bind(service_id)
                .bind(environment_id)
                .bind(&new.version)
                .bind(previous_version)
                .bind(new.author.as_deref())
                .bind(new.description.as_deref())
                .bind(new.ci_url.as_deref())
                .bind(new.status.as_str())
                .bind(new.started_at)
                .bind(new.finished_at)
                .bind(new.source.as_str())
                .bind(new.external_id.as_deref())
                .bind(now)
                .bind(by.name.as_str())
                .bind(new.finished_at.unwrap_or(new.started_at))
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend_error)?;

                let Some(id) = inserted else {
                    // A concurrent registration with the same external id committed
                    // first (PostgreSQL waited for it); a new statement sees it.
                    let row = sqlx::query_as::<_, DeployRow>(by_external_id)
                        .bind(new.external_id.as_deref())
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(backend_error)?;
                    return Ok(app::ssr::Registration { deploy: row.try_into()?, created: false });
                };

                if !new.commits.is_empty() {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO deploy_commits (deploy_id, position, sha, message, author, committed_at) ",
                    );
                    qb.push_values(new.commits.iter().enumerate(), |mut b, (i, c)| {
                        b.push_bind(id)
                            .push_bind(i32::try_from(i).unwrap_or(i32::MAX))
                            .push_bind(c.sha.clone())
                            .push_bind(c.message.clone())
                            .push_bind(c.author.clone())
                            .push_bind(c.committed_at);
                    });
                    qb.build().execute(&mut **tx).await.map_err(backend_error)?;
                }

                let row = sqlx::query_as::<_, DeployRow>(concat!(deploy_select!(), " WHERE d.id = $1"))
                    .bind(id)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(backend_error)?;
                let detail = format!("{} to {}: {} ({})", new.service, new.environment, new.version, new.status);
                $crate::storage::shared::append_audit!(&mut **tx, now, by, "deploy.register", &format!("deploy:{id}"), None::<&str>, Some(detail.as_str()));
                tracing::debug!(deploy_id = id, "deploy registered");
                Ok(app::ssr::Registration { deploy: row.try_into()?, created: true })
            }

            /// Refuses a change that leaves Houston with no enabled admin. Runs
            /// inside the changing transaction, after the change, with `users`
            /// locked on PostgreSQL (SQLite's BEGIN IMMEDIATE serialises), so two
            /// admins demoting each other at once cannot both succeed.
            async fn keep_an_admin(
                tx: &mut sqlx::Transaction<'static, $db>,
            ) -> Result<(), app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let admins: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
                )
                .fetch_one(&mut **tx)
                .await
                .map_err(backend_error)?;
                if admins == 0 {
                    return Err(app::ssr::StoreError::Conflict(
                        "this would leave Houston without an enabled admin; make someone else admin first".into(),
                    ));
                }
                Ok(())
            }

            /// Takes the lock on `users` that `keep_an_admin` relies on, and says
            /// whether `username` is an enabled admin before the change.
            async fn lock_users(
                tx: &mut sqlx::Transaction<'static, $db>,
                username: &app::domain::Username,
            ) -> Result<bool, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                if $backend == "postgres" {
                    sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
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

            /// Locks the deploy's row, decides under the status rule and applies.
            async fn change_status_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: app::domain::DeployId,
                change: &app::domain::StatusChange,
                by: &app::domain::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::ssr::StatusOutcome, app::ssr::StoreError> {
                use app::domain::StatusDecision;
                use $crate::storage::backend_error;
                use $crate::storage::rows::{DeployRow, deploy_select};
                // SQLite's BEGIN IMMEDIATE already holds the write lock.
                let lock = if $backend == "postgres" { " FOR UPDATE OF d" } else { "" };
                let current = sqlx::query_as::<_, DeployRow>(sqlx::AssertSqlSafe(format!(
                    "{} WHERE d.id = $1{lock}",
                    deploy_select!()
                )))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| app::ssr::StoreError::NotFound(format!("deploy {id} does not exist")))?;
                let status_at = current.status_at;
                let deploy: app::domain::Deploy = current.try_into()?;
                let decision = app::domain::decide_status(deploy.status, status_at, deploy.started_at, change);
                let target = format!("deploy:{id}");
                match &decision {
                    StatusDecision::Apply => {
                        let finished_at = deploy.finished_at.unwrap_or(change.finished_at);
                        sqlx::query(
                            "UPDATE deploys SET status = $1, finished_at = $2, status_at = $3, status_changed_by = $4 WHERE id = $5",
                        )
                        .bind(change.status.as_str())
                        .bind(finished_at)
                        .bind(change.finished_at)
                        .bind(by.name.as_str())
                        .bind(id)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend_error)?;
                        let detail = format!("{} -> {}", deploy.status, change.status);
                        $crate::storage::shared::append_audit!(&mut **tx, now, by, "deploy.status", &target, None::<&str>, Some(detail.as_str()));
                    }
                    StatusDecision::Refused(why) => {
                        let detail = format!("{} -> {} refused: {why}", deploy.status, change.status);
                        $crate::storage::shared::append_audit!(&mut **tx, now, by, "deploy.status_refused", &target, None::<&str>, Some(detail.as_str()));
                        return Ok(app::ssr::StatusOutcome { deploy, decision });
                    }
                    StatusDecision::Unchanged(_) | StatusDecision::Invalid(_) => {
                        return Ok(app::ssr::StatusOutcome { deploy, decision });
                    }
                }
                let row = sqlx::query_as::<_, DeployRow>(concat!(deploy_select!(), " WHERE d.id = $1"))
                    .bind(id)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(backend_error)?;
                tracing::debug!(deploy_id = id, status = %change.status, "deploy status changed");
                Ok(app::ssr::StatusOutcome { deploy: row.try_into()?, decision })
            }
        }

        #[async_trait::async_trait]
        impl app::ssr::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            #[tracing::instrument(skip(self))]
            async fn ping(&self) -> Result<(), app::ssr::StoreError> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err($crate::storage::backend_error)
            }

            #[tracing::instrument(skip(self, new, by), fields(service = %new.service, environment = %new.environment, version = %new.version, actor = %by.name))]
            async fn register_deploy(
                &self,
                new: &app::domain::NewDeploy,
                by: &app::domain::Actor,
            ) -> Result<app::ssr::Registration, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let now = app::domain::to_stored_precision(chrono::Utc::now());
                let registration = Self::register_in(&mut tx, new, by, now).await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(registration)
            }

            #[tracing::instrument(skip(self))]
            async fn find_deploy_by_external_id(
                &self,
                external_id: &str,
            ) -> Result<Option<app::domain::Deploy>, app::ssr::StoreError> {
                use $crate::storage::rows::{DeployRow, deploy_select};
                sqlx::query_as::<_, DeployRow>(concat!(deploy_select!(), " WHERE d.external_id = $1"))
                    .bind(external_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::storage::backend_error)?
                    .map(TryInto::try_into)
                    .transpose()
            }

            #[tracing::instrument(skip(self, change, by), fields(status = %change.status, actor = %by.name))]
            async fn change_deploy_status(
                &self,
                id: app::domain::DeployId,
                change: &app::domain::StatusChange,
                by: &app::domain::Actor,
            ) -> Result<app::ssr::StatusOutcome, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let now = app::domain::to_stored_precision(chrono::Utc::now());
                let outcome = Self::change_status_in(&mut tx, id, change, by, now).await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(outcome)
            }

            #[tracing::instrument(skip(self, work, by), fields(actor = %by.name))]
            async fn apply_webhook_delivery(
                &self,
                delivery_id: Option<&str>,
                work: &app::ssr::DeliveryWork,
                by: &app::domain::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::ssr::DeliveryOutcome, app::ssr::StoreError> {
                use app::ssr::{DeliveryOutcome, DeliveryWork};
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                if let Some(delivery_id) = delivery_id {
                    let claimed = sqlx::query(
                        "INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES ($1, $2) \
                         ON CONFLICT (delivery_id) DO NOTHING",
                    )
                    .bind(delivery_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    if claimed.rows_affected() == 0 {
                        return Ok(DeliveryOutcome::Duplicate);
                    }
                }
                let outcome = match work {
                    DeliveryWork::Register(new) => {
                        DeliveryOutcome::Registered(Self::register_in(&mut tx, new, by, now).await?)
                    }
                    DeliveryWork::Status { deploy, change } => {
                        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM deploys WHERE external_id = $1")
                            .bind(deploy.external_id.as_deref())
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(backend_error)?;
                        match existing {
                            Some(id) => DeliveryOutcome::Status(Self::change_status_in(&mut tx, id, change, by, now).await?),
                            None => DeliveryOutcome::Registered(Self::register_in(&mut tx, deploy, by, now).await?),
                        }
                    }
                };
                tx.commit().await.map_err(backend_error)?;
                Ok(outcome)
            }

            #[tracing::instrument(skip(self))]
            async fn get_deploy(
                &self,
                id: app::domain::DeployId,
            ) -> Result<app::domain::DeployDetail, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                use $crate::storage::rows::{CommitRow, DeployRow, deploy_select};
                let row = sqlx::query_as::<_, DeployRow>(concat!(deploy_select!(), " WHERE d.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .ok_or_else(|| app::ssr::StoreError::NotFound(format!("deploy {id} does not exist")))?;
                let commits = sqlx::query_as::<_, CommitRow>(
                    "SELECT sha, message, author, committed_at FROM deploy_commits WHERE deploy_id = $1 ORDER BY position",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                let repository_url = row.repository_url.clone();
                Ok(app::domain::DeployDetail {
                    deploy: row.try_into()?,
                    commits: commits.into_iter().map(Into::into).collect(),
                    repository_url,
                })
            }

            #[tracing::instrument(skip(self))]
            async fn list_deploys(
                &self,
                filter: &app::domain::DeployFilter,
                page: &app::domain::PageRequest,
            ) -> Result<app::domain::DeployPage, app::ssr::StoreError> {
                use $crate::storage::rows::{DeployRow, deploy_select};
                let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(deploy_select!(), " WHERE 1 = 1"));
                if let Some(service) = &filter.service {
                    qb.push(" AND s.name = ").push_bind(service.as_str().to_owned());
                }
                if let Some(environment) = &filter.environment {
                    qb.push(" AND e.name = ").push_bind(environment.as_str().to_owned());
                }
                if let Some(author) = &filter.author {
                    qb.push(" AND LOWER(d.author) LIKE ")
                        .push_bind($crate::storage::shared::like_pattern(author))
                        .push(" ESCAPE '\\'");
                }
                if let Some(status) = filter.status {
                    qb.push(" AND d.status = ").push_bind(status.as_str());
                }
                if let Some(since) = filter.since {
                    qb.push(" AND d.started_at >= ").push_bind(since);
                }
                if let Some(until) = filter.until {
                    qb.push(" AND d.started_at < ").push_bind(until);
                }
                if let Some(cursor) = page.cursor {
                    qb.push(" AND (d.started_at < ")
                        .push_bind(cursor.started_at)
                        .push(" OR (d.started_at = ")
                        .push_bind(cursor.started_at)
                        .push(" AND d.id < ")
                        .push_bind(cursor.id)
                        .push("))");
                }
                qb.push(" ORDER BY d.started_at DESC, d.id DESC LIMIT ")
                    .push_bind(i64::from(page.limit) + 1);
                let rows = qb
                    .build_query_as::<DeployRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::backend_error)?;
                let mut deploys = $crate::storage::rows::deploys(rows)?;
                let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
                let next_cursor = if deploys.len() > limit {
                    deploys.truncate(limit);
                    deploys.last().map(|d| app::domain::Cursor::after(d).encode())
                } else {
                    None
                };
                Ok(app::domain::DeployPage { deploys, next_cursor })
            }

            #[tracing::instrument(skip(self))]
            async fn list_services(&self) -> Result<Vec<app::domain::Service>, app::ssr::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::ServiceRow>(
                    "SELECT name, repository_url FROM services ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::backend_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            #[tracing::instrument(skip(self))]
            async fn list_environments(&self) -> Result<Vec<app::domain::Environment>, app::ssr::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::EnvironmentRow>(
                    "SELECT name, stage_order FROM environments ORDER BY stage_order, name",
                )
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::backend_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            #[tracing::instrument(skip(self))]
            async fn board(&self) -> Result<app::domain::Board, app::ssr::StoreError> {
                use $crate::storage::rows::{DeployRow, deploy_columns};
                // One index lookup (deploys_by_place) per service × environment, not a
                // subquery per stored deploy: the board costs the same with a million
                // deploys as with a hundred.
                let rows = sqlx::query_as::<_, DeployRow>(concat!(
                    deploy_columns!(),
                    " FROM services s CROSS JOIN environments e \
                     JOIN deploys d ON d.id = (SELECT d2.id FROM deploys d2 \
                       WHERE d2.service_id = s.id AND d2.environment_id = e.id \
                       ORDER BY d2.started_at DESC, d2.id DESC LIMIT 1)"
                ))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::backend_error)?;
                Ok(app::domain::Board {
                    environments: self.list_environments().await?,
                    services: self.list_services().await?,
                    latest: $crate::storage::rows::deploys(rows)?,
                })
            }

            #[tracing::instrument(skip(self, new, by), fields(name = %new.name, actor = %by.name))]
            async fn create_api_token(
                &self,
                new: &app::domain::NewApiToken,
                by: &app::domain::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::ssr::ApiToken, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let name = new.name.as_str();
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let row = sqlx::query_as::<_, $crate::storage::rows::ApiTokenRow>(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO api_tokens (name, token_hash, scopes, created_at, expires_at, owner_user_id, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {}",
                    $crate::storage::rows::TOKEN_COLUMNS
                )))
                .bind(name)
                .bind(&new.token_hash)
                .bind(app::domain::TokenScope::join(&new.scopes))
                .bind(now)
                .bind(new.expires_at.map(app::domain::to_stored_precision))
                .bind(new.owner_user_id)
                .bind(by.name.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| {
                    if $crate::storage::is_unique_violation(&e) {
                        app::ssr::StoreError::Conflict(format!(
                            "an active token named {name:?} exists; revoke it first or choose another name"
                        ))
                    } else {
                        backend_error(e)
                    }
                })?;
                let expiry = new.expires_at.map_or_else(|| "never".to_owned(), |e| e.to_rfc3339());
                let detail = format!("scopes: {}; expires: {expiry}", app::domain::TokenScope::join(&new.scopes));
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "token.create", &format!("token:{name}"), None::<&str>, Some(detail.as_str()));
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self, token_hash))]
            async fn authenticate_api_token(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<app::ssr::ApiToken>, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let row = sqlx::query_as::<_, $crate::storage::rows::ApiTokenRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM api_tokens t LEFT JOIN users u ON u.id = t.owner_user_id \
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
                     AND (t.expires_at IS NULL OR t.expires_at > $2) \
                     AND (t.owner_user_id IS NULL OR u.disabled_at IS NULL)",
                    $crate::storage::rows::TOKEN_COLUMNS_OF_T
                )))
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
                let Some(row) = row else { return Ok(None) };
                let token: app::ssr::ApiToken = row.try_into()?;
                // The page shows minutes: one write a minute per token is enough,
                // and an API call stays a read the rest of the time.
                if token.last_used_at.is_none_or(|at| at <= now - chrono::Duration::minutes(1)) {
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
            async fn list_api_tokens(&self) -> Result<Vec<app::ssr::ApiToken>, app::ssr::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::ApiTokenRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM api_tokens ORDER BY created_at, id",
                    $crate::storage::rows::TOKEN_COLUMNS
                )))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::backend_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn revoke_api_token(
                &self,
                name: &str,
                by: &app::domain::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::ssr::ApiToken, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let row = sqlx::query_as::<_, $crate::storage::rows::ApiTokenRow>(sqlx::AssertSqlSafe(format!(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL RETURNING {}",
                    $crate::storage::rows::TOKEN_COLUMNS
                )))
                .bind(now)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| app::ssr::StoreError::NotFound(format!("no active token named {name:?}")))?;
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "token.revoke", &format!("token:{name}"), reason, None::<&str>);
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self, by, detail), fields(actor = %by.name))]
            async fn append_audit(
                &self,
                by: &app::domain::Actor,
                action: &str,
                target: &str,
                detail: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::ssr::StoreError> {
                let now = app::domain::to_stored_precision(now);
                $crate::storage::shared::append_audit!(&self.pool, now, by, action, target, None::<&str>, detail);
                Ok(())
            }

            #[tracing::instrument(skip(self))]
            async fn list_audit(
                &self,
                filter: &app::domain::AuditFilter,
            ) -> Result<Vec<app::domain::AuditEntry>, app::ssr::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
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
                qb.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(i64::from(filter.limit.max(1)));
                let rows = qb
                    .build_query_as::<$crate::storage::rows::AuditRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::backend_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            #[tracing::instrument(skip(self, password_hash, by), fields(actor = %by.name))]
            async fn create_user(
                &self,
                username: &app::domain::Username,
                password_hash: &str,
                role: app::domain::Role,
                by: &app::domain::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::domain::User, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let row = sqlx::query_as::<_, $crate::storage::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING {}",
                    $crate::storage::rows::USER_COLUMNS
                )))
                .bind(username.as_str())
                .bind(password_hash)
                .bind(role.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| {
                    if $crate::storage::is_unique_violation(&e) {
                        app::ssr::StoreError::Conflict(format!("the user name \"{username}\" is taken"))
                    } else {
                        backend_error(e)
                    }
                })?;
                let detail = format!("role: {role}");
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "user.create", &format!("user:{username}"), None::<&str>, Some(detail.as_str()));
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self))]
            async fn count_users(&self) -> Result<i64, app::ssr::StoreError> {
                sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::storage::backend_error)
            }

            #[tracing::instrument(skip(self))]
            async fn list_users(&self) -> Result<Vec<app::domain::User>, app::ssr::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users u ORDER BY u.username",
                    $crate::storage::rows::USER_COLUMNS_OF_U
                )))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::backend_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            #[tracing::instrument(skip(self))]
            async fn find_login(
                &self,
                username: &app::domain::Username,
            ) -> Result<Option<(app::domain::User, String)>, app::ssr::StoreError> {
                let row = sqlx::query_as::<_, $crate::storage::rows::LoginRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, u.password_hash FROM users u WHERE u.username = $1",
                    $crate::storage::rows::USER_COLUMNS_OF_U
                )))
                .bind(username.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::storage::backend_error)?;
                row.map(|r| Ok((r.user.try_into()?, r.password_hash))).transpose()
            }

            #[tracing::instrument(skip(self, password_hash, by), fields(actor = %by.name))]
            async fn create_first_admin(
                &self,
                username: &app::domain::Username,
                password_hash: &str,
                by: &app::domain::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::domain::User, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                if $backend == "postgres" {
                    // SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL
                    // needs the table locked so two set-ups cannot both see no users.
                    sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                }
                let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                if existing > 0 {
                    return Err(app::ssr::StoreError::Conflict("Houston is already set up: sign in instead".into()));
                }
                let row = sqlx::query_as::<_, $crate::storage::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, 'admin', $3) RETURNING {}",
                    $crate::storage::rows::USER_COLUMNS
                )))
                .bind(username.as_str())
                .bind(password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend_error)?;
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "user.create", &format!("user:{username}"), Some("first-run set-up"), Some("role: admin"));
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn set_user_role(
                &self,
                username: &app::domain::Username,
                role: app::domain::Role,
                by: &app::domain::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::domain::User, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let was_admin = Self::lock_users(&mut tx, username).await?;
                let row = sqlx::query_as::<_, $crate::storage::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET role = $1 WHERE username = $2 RETURNING {}",
                    $crate::storage::rows::USER_COLUMNS
                )))
                .bind(role.as_str())
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| app::ssr::StoreError::NotFound(format!("no user named \"{username}\"")))?;
                if was_admin {
                    Self::keep_an_admin(&mut tx).await?;
                }
                let detail = format!("role: {role}");
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "user.role", &format!("user:{username}"), reason, Some(detail.as_str()));
                tx.commit().await.map_err(backend_error)?;
                row.try_into()
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn set_user_disabled(
                &self,
                username: &app::domain::Username,
                disabled: bool,
                by: &app::domain::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::domain::User, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let was_admin = Self::lock_users(&mut tx, username).await?;
                let row = sqlx::query_as::<_, $crate::storage::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET disabled_at = $1 WHERE username = $2 RETURNING {}",
                    $crate::storage::rows::USER_COLUMNS
                )))
                .bind(disabled.then_some(now))
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| app::ssr::StoreError::NotFound(format!("no user named \"{username}\"")))?;
                let user: app::domain::User = row.try_into()?;
                if was_admin {
                    Self::keep_an_admin(&mut tx).await?;
                }
                if disabled {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(user.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                }
                let action = if disabled { "user.disable" } else { "user.enable" };
                $crate::storage::shared::append_audit!(&mut *tx, now, by, action, &format!("user:{username}"), reason, None::<&str>);
                tx.commit().await.map_err(backend_error)?;
                Ok(user)
            }

            #[tracing::instrument(skip(self, password_hash, keep_session, by), fields(actor = %by.name))]
            async fn set_password(
                &self,
                username: &app::domain::Username,
                password_hash: &str,
                keep_session: Option<&str>,
                by: &app::domain::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::domain::User, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let row = sqlx::query_as::<_, $crate::storage::rows::UserRow>(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET password_hash = $1 WHERE username = $2 RETURNING {}",
                    $crate::storage::rows::USER_COLUMNS
                )))
                .bind(password_hash)
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| app::ssr::StoreError::NotFound(format!("no user named \"{username}\"")))?;
                let user: app::domain::User = row.try_into()?;
                let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                    .bind(user.id)
                    .bind(keep_session.unwrap_or_default())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?
                    .rows_affected();
                let detail = format!("{ended} other session(s) ended");
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "user.password", &format!("user:{username}"), reason, Some(detail.as_str()));
                tx.commit().await.map_err(backend_error)?;
                Ok(user)
            }

            #[tracing::instrument(skip(self))]
            async fn get_setting(&self, key: &str) -> Result<Option<String>, app::ssr::StoreError> {
                sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::storage::backend_error)
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn set_setting(
                &self,
                key: &str,
                value: &str,
                by: &app::domain::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
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
                let detail = format!("{key} = {value}");
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "settings.change", &format!("setting:{key}"), reason, Some(detail.as_str()));
                tx.commit().await.map_err(backend_error)
            }

            #[tracing::instrument(skip(self, secret))]
            async fn begin_second_factor(&self, user_id: i64, secret: &str) -> Result<(), app::ssr::StoreError> {
                sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
                    .bind(secret)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err($crate::storage::backend_error)
            }

            #[tracing::instrument(skip(self))]
            async fn second_factor(&self, user_id: i64) -> Result<app::ssr::SecondFactor, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let (secret, pending): (Option<String>, Option<String>) =
                    sqlx::query_as("SELECT totp_secret, totp_pending FROM users WHERE id = $1")
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend_error)?
                        .ok_or_else(|| app::ssr::StoreError::NotFound(format!("no user {user_id}")))?;
                Ok(app::ssr::SecondFactor { secret, pending })
            }

            #[tracing::instrument(skip(self, recovery_code_hashes, by), fields(actor = %by.name))]
            async fn enable_second_factor(
                &self,
                user_id: i64,
                recovery_code_hashes: &[String],
                by: &app::domain::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
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
                    return Err(app::ssr::StoreError::Conflict("start setting up the second factor first".into()));
                };
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                for hash in recovery_code_hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                        .bind(user_id)
                        .bind(hash)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                }
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "user.second_factor_on", &format!("user:{username}"), None::<&str>, None::<&str>);
                tx.commit().await.map_err(backend_error)
            }

            #[tracing::instrument(skip(self))]
            async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool, app::ssr::StoreError> {
                let done = sqlx::query(
                    "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_secret IS NOT NULL \
                     AND (totp_last_step IS NULL OR totp_last_step < $1)",
                )
                .bind(step)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err($crate::storage::backend_error)?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(skip(self, code_hash))]
            async fn use_recovery_code(
                &self,
                user_id: i64,
                code_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::ssr::StoreError> {
                let done = sqlx::query(
                    "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
                )
                .bind(app::domain::to_stored_precision(now))
                .bind(user_id)
                .bind(code_hash)
                .execute(&self.pool)
                .await
                .map_err($crate::storage::backend_error)?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
            async fn disable_second_factor(
                &self,
                username: &app::domain::Username,
                by: &app::domain::Actor,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
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
                    return Err(app::ssr::StoreError::NotFound(format!("no user named \"{username}\"")));
                };
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "user.second_factor_off", &format!("user:{username}"), reason, None::<&str>);
                tx.commit().await.map_err(backend_error)
            }

            #[tracing::instrument(skip(self, id_hash, user, by), fields(user = %user.username))]
            async fn create_session(
                &self,
                id_hash: &str,
                user: &app::domain::User,
                expires_at: chrono::DateTime<chrono::Utc>,
                by: &app::domain::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at, address, last_seen_at) VALUES ($1, $2, $3, $4, $5, $3)")
                    .bind(id_hash)
                    .bind(user.id)
                    .bind(now)
                    .bind(app::domain::to_stored_precision(expires_at))
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
                .bind(app::ssr::MAX_SESSIONS_PER_USER)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                $crate::storage::shared::append_audit!(&mut *tx, now, by, "session.login", &format!("user:{}", user.username), None::<&str>, None::<&str>);
                tx.commit().await.map_err(backend_error)
            }

            #[tracing::instrument(skip(self, limits))]
            async fn reserve_login_attempt(
                &self,
                username: &str,
                address: &str,
                now: chrono::DateTime<chrono::Utc>,
                limits: &app::domain::LoginLimits,
            ) -> Result<app::ssr::LoginReservation, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let since = now - limits.window;
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                if $backend == "postgres" {
                    // Count and insert as one step across connections and replicas;
                    // SQLite's BEGIN IMMEDIATE already serialises writers.
                    sqlx::query("LOCK TABLE login_failures IN SHARE ROW EXCLUSIVE MODE")
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
                    return Ok(app::ssr::LoginReservation::Locked { until: oldest + limits.window });
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
                Ok(app::ssr::LoginReservation::Reserved {
                    id,
                    account_failures: u32::try_from(account_failures).unwrap_or(u32::MAX),
                })
            }

            #[tracing::instrument(skip(self))]
            async fn prune(
                &self,
                cutoffs: &app::ssr::PruneCutoffs,
            ) -> Result<app::ssr::PruneCounts, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let at = app::domain::to_stored_precision;
                let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
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
                Ok(app::ssr::PruneCounts { sessions, deliveries, attempts })
            }

            #[tracing::instrument(skip(self))]
            async fn clear_login_attempt(&self, id: i64) -> Result<(), app::ssr::StoreError> {
                sqlx::query("DELETE FROM login_failures WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err($crate::storage::backend_error)
            }

            #[tracing::instrument(skip(self, id_hash))]
            async fn session_user(
                &self,
                id_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
                idle_since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<app::domain::User>, app::ssr::StoreError> {
                use $crate::storage::backend_error;
                let now = app::domain::to_stored_precision(now);
                let row = sqlx::query_as::<_, $crate::storage::rows::SessionUserRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled_at IS NULL",
                    $crate::storage::rows::USER_COLUMNS_OF_U
                )))
                .bind(id_hash)
                .bind(now)
                .bind(app::domain::to_stored_precision(idle_since))
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
            async fn delete_session(&self, id_hash: &str) -> Result<(), app::ssr::StoreError> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err($crate::storage::backend_error)
            }
        }
    };
}

pub(crate) use impl_store;

/// Appends one audit entry inside the caller's transaction, so the entry and the
/// change it records commit together or not at all.
macro_rules! append_audit {
    ($executor:expr, $at:expr, $by:expr, $action:expr, $target:expr, $reason:expr, $detail:expr) => {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, source_address, action, target, reason, detail)              VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($at)
        .bind($by.name.as_str())
        .bind($by.address.as_deref())
        .bind($action)
        .bind($target)
        .bind($reason)
        .bind($detail)
        .execute($executor)
        .await
        .map_err($crate::storage::backend_error)?
    };
}

pub(crate) use append_audit;

/// A case-insensitive "contains" pattern for `LIKE … ESCAPE '\'`.
pub(crate) fn like_pattern(needle: &str) -> String {
    let mut out = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("Ada"), "%ada%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}

//! Deploys, services, environments and the board. Written once for both databases: see `crate::shared`.

/// Implements this aggregate for `$store`, expanded inside a backend's module, where
/// `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {

        #[async_trait::async_trait]
        impl houston_store::DeployStore for $store {
            #[tracing::instrument(skip(self, new, by), fields(service = %new.service, environment = %new.environment, version = %new.version, actor = %by.name))]
            async fn register_deploy(
                &self,
                new: &houston_core::NewDeploy,
                by: &houston_core::Actor,
            ) -> Result<houston_store::Registration, houston_store::StoreError> {
                use crate::backend_error;
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let now = houston_core::to_stored_precision(chrono::Utc::now());
                let registration = register_in(&mut tx, new, by, now).await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(registration)
            }

            #[tracing::instrument(skip(self, deploys, by), fields(count = deploys.len()))]
            async fn import_deploys(
                &self,
                deploys: &[houston_core::NewDeploy],
                by: &houston_core::Actor,
            ) -> Result<u64, houston_store::StoreError> {
                use crate::backend_error;
                use std::collections::HashMap;
                if deploys.is_empty() {
                    return Ok(0);
                }
                let now = houston_core::to_stored_precision(chrono::Utc::now());
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let mut places: HashMap<(&str, &str), (i64, i64)> = HashMap::new();
                for d in deploys {
                    let key = (d.service.as_str(), d.environment.as_str());
                    if let std::collections::hash_map::Entry::Vacant(slot) = places.entry(key) {
                        slot.insert(
                            place_ids(
                                &mut tx,
                                &d.service,
                                d.repository_url.as_deref(),
                                &d.environment,
                                now,
                            )
                            .await?,
                        );
                    }
                }
                let mut created = 0u64;
                // 15 values a row: 1,000 rows stay under both databases' parameter limits.
                for chunk in deploys.chunks(1000) {
                    let mut qb = sqlx::QueryBuilder::<super::dialect::Db>::new(
                        "INSERT INTO deploys (service_id, environment_id, version, previous_version, author, \
                         description, ci_url, status, started_at, finished_at, source, external_id, created_at, \
                         registered_by, status_at) ",
                    );
                    qb.push_values(chunk, |mut row, d| {
                        let ids = places.get(&(d.service.as_str(), d.environment.as_str()));
                        row.push_bind(ids.map(|ids| ids.0))
                            .push_bind(ids.map(|ids| ids.1))
                            .push_bind(d.version.clone())
                            .push_bind(d.previous_version.clone())
                            .push_bind(d.author.clone())
                            .push_bind(d.description.clone())
                            .push_bind(d.ci_url.clone())
                            .push_bind(d.status.as_str())
                            .push_bind(d.started_at)
                            .push_bind(d.finished_at)
                            .push_bind(d.source.as_str())
                            .push_bind(d.external_id.clone())
                            .push_bind(now)
                            .push_bind(by.name.clone())
                            .push_bind(d.finished_at.unwrap_or(d.started_at));
                    });
                    qb.push(" ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id");
                    let inserted: Vec<(i64, Option<String>)> = qb
                        .build_query_as()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                    created += inserted.len() as u64;
                    let ids: HashMap<&str, i64> = inserted
                        .iter()
                        .filter_map(|(id, external)| external.as_deref().map(|e| (e, *id)))
                        .collect();
                    let commits: Vec<(i64, usize, &houston_core::Commit)> = chunk
                        .iter()
                        .filter_map(|d| {
                            let id = d.external_id.as_deref().and_then(|e| ids.get(e))?;
                            Some(d.commits.iter().enumerate().map(move |(i, c)| (*id, i, c)))
                        })
                        .flatten()
                        .collect();
                    // 6 values a row.
                    for commits in commits.chunks(2000) {
                        let mut qb = sqlx::QueryBuilder::<super::dialect::Db>::new(
                            "INSERT INTO deploy_commits (deploy_id, position, sha, message, author, committed_at) ",
                        );
                        qb.push_values(commits, |mut row, (id, i, c)| {
                            row.push_bind(*id)
                                .push_bind(i32::try_from(*i).unwrap_or(i32::MAX))
                                .push_bind(c.sha.clone())
                                .push_bind(c.message.clone())
                                .push_bind(c.author.clone())
                                .push_bind(c.committed_at);
                        });
                        qb.build().execute(&mut *tx).await.map_err(backend_error)?;
                    }
                }
                let detail = format!("{created} of {} deploys imported", deploys.len());
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "deploy.import",
                    "deploys",
                    None,
                    Some(&detail),
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(created)
            }

            #[tracing::instrument(skip(self))]
            async fn find_deploy_by_external_id(
                &self,
                external_id: &str,
            ) -> Result<Option<houston_core::Deploy>, houston_store::StoreError> {
                use crate::rows::{DeployRow, deploy_select};
                sqlx::query_as::<_, DeployRow>(concat!(deploy_select!(), " WHERE d.external_id = $1"))
                    .bind(external_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend_error)?
                    .map(TryInto::try_into)
                    .transpose()
            }

            #[tracing::instrument(skip(self, change, by), fields(status = %change.status, actor = %by.name))]
            async fn change_deploy_status(
                &self,
                id: houston_core::DeployId,
                change: &houston_core::StatusChange,
                by: &houston_core::Actor,
            ) -> Result<houston_store::StatusOutcome, houston_store::StoreError> {
                use crate::backend_error;
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let now = houston_core::to_stored_precision(chrono::Utc::now());
                let outcome = change_status_in(&mut tx, id, change, by, now).await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(outcome)
            }

            #[tracing::instrument(skip(self))]
            async fn get_deploy(
                &self,
                id: houston_core::DeployId,
            ) -> Result<houston_core::DeployDetail, houston_store::StoreError> {
                use crate::backend_error;
                use crate::rows::{CommitRow, DeployRow, deploy_select};
                let row = sqlx::query_as::<_, DeployRow>(concat!(deploy_select!(), " WHERE d.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .ok_or_else(|| {
                        houston_store::StoreError::NotFound(format!("deploy {id} does not exist"))
                    })?;
                let commits = sqlx::query_as::<_, CommitRow>(
                            "SELECT sha, message, author, committed_at FROM deploy_commits WHERE deploy_id = $1 ORDER BY position",
                        )
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend_error)?;
                let repository_url = row.repository_url.clone();
                Ok(houston_core::DeployDetail {
                    deploy: row.try_into()?,
                    commits: commits.into_iter().map(Into::into).collect(),
                    repository_url,
                })
            }

            #[tracing::instrument(skip(self))]
            async fn list_deploys(
                &self,
                filter: &houston_core::DeployFilter,
                page: &houston_core::PageRequest,
            ) -> Result<houston_core::DeployPage, houston_store::StoreError> {
                use crate::rows::{DeployRow, deploy_select};
                let mut qb = sqlx::QueryBuilder::<super::dialect::Db>::new(concat!(deploy_select!(), " WHERE 1 = 1"));
                super::dialect::push_place_filters(&mut qb, filter);
                if let Some(status) = filter.status {
                    qb.push(" AND d.status = ").push_bind(status.as_str());
                }
                if let Some(verdict) = filter.verdict {
                    qb.push(" AND d.verdict = ").push_bind(verdict.as_str());
                }
                if let Some(since) = filter.since {
                    qb.push(" AND d.started_at >= ").push_bind(since);
                }
                if let Some(until) = filter.until {
                    qb.push(" AND d.started_at < ").push_bind(until);
                }
                if let Some(cursor) = page.cursor {
                    super::dialect::push_before(&mut qb, cursor);
                }
                qb.push(" ORDER BY d.started_at DESC, d.id DESC LIMIT ")
                    .push_bind(i64::from(page.limit) + 1);
                let rows = qb
                    .build_query_as::<DeployRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(crate::backend_error)?;
                let mut deploys = crate::rows::deploys(rows)?;
                let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
                let next_cursor = if deploys.len() > limit {
                    deploys.truncate(limit);
                    deploys
                        .last()
                        .map(|d| houston_core::Cursor::after(d).encode())
                } else {
                    None
                };
                Ok(houston_core::DeployPage {
                    deploys,
                    next_cursor,
                })
            }

            #[tracing::instrument(skip(self))]
            async fn list_services(&self) -> Result<Vec<houston_core::Service>, houston_store::StoreError> {
                sqlx::query_as::<_, crate::rows::ServiceRow>(
                    "SELECT name, repository_url FROM services ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            #[tracing::instrument(skip(self))]
            async fn list_environments(
                &self,
            ) -> Result<Vec<houston_core::Environment>, houston_store::StoreError> {
                sqlx::query_as::<_, crate::rows::EnvironmentRow>(
                    "SELECT name, stage_order FROM environments ORDER BY stage_order, name",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            #[tracing::instrument(skip(self))]
            async fn board(&self) -> Result<houston_core::Board, houston_store::StoreError> {
                use crate::rows::DeployRow;
                let rows = sqlx::query_as::<_, DeployRow>(super::dialect::BOARD)
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend_error)?;
                Ok(houston_core::Board {
                    environments: self.list_environments().await?,
                    services: self.list_services().await?,
                    latest: crate::rows::deploys(rows)?,
                    firing: Vec::new(),
                })
            }
        }

        pub(super) async fn register_in(
            tx: &mut sqlx::Transaction<'static, super::dialect::Db>,
            new: &houston_core::NewDeploy,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<houston_store::Registration, houston_store::StoreError> {
            use crate::backend_error;
            use crate::rows::{DeployRow, deploy_select};
            let by_external_id = concat!(deploy_select!(), " WHERE d.external_id = $1");
            if let Some(external_id) = &new.external_id {
                let existing = sqlx::query_as::<_, DeployRow>(by_external_id)
                    .bind(external_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(backend_error)?;
                if let Some(row) = existing {
                    return Ok(houston_store::Registration {
                        deploy: row.try_into()?,
                        created: false,
                    });
                }
            }

            let (service_id, environment_id) = place_ids(
                tx,
                &new.service,
                new.repository_url.as_deref(),
                &new.environment,
                now,
            )
            .await?;
            if let Some(url) = &new.repository_url {
                // Filled on first sight, never rewritten by a registration: commit links are
                // built from it, and any deploy token could otherwise point them elsewhere.
                sqlx::query(
                    "UPDATE services SET repository_url = $1 WHERE id = $2 AND repository_url IS NULL",
                )
                .bind(url)
                .bind(service_id)
                .execute(&mut **tx)
                .await
                .map_err(backend_error)?;
            }

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
                 registered_by, status_at, verdict) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'baking') \
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
                return Ok(houston_store::Registration {
                    deploy: row.try_into()?,
                    created: false,
                });
            };

            if !new.commits.is_empty() {
                let mut qb = sqlx::QueryBuilder::<super::dialect::Db>::new(
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

            // The judge follows every new deploy: this row is its place in the judge's queue,
            // written with the deploy (due at once; the first look sets the next).
            sqlx::query(
                "INSERT INTO verdicts (deploy_id, state, rule, next_look_at) \
                 VALUES ($1, 'baking', 'warming_up', $2)",
            )
            .bind(id)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(backend_error)?;

            // Registered while its place is locked: an override is spent, or the deploy is
            // marked as having gone out through the lock.
            crate::shared::locks::through_lock_in!(tx, id, new, by, now);

            let row = sqlx::query_as::<_, DeployRow>(concat!(deploy_select!(), " WHERE d.id = $1"))
                .bind(id)
                .fetch_one(&mut **tx)
                .await
                .map_err(backend_error)?;
            let detail = format!(
                "{} to {}: {} ({})",
                new.service, new.environment, new.version, new.status
            );
            super::audit::record(
                &mut **tx,
                now,
                by,
                "deploy.register",
                &format!("deploy:{id}"),
                None::<&str>,
                Some(detail.as_str()),
            )
            .await?;
            tracing::debug!(deploy_id = id, "deploy registered");
            Ok(houston_store::Registration {
                deploy: row.try_into()?,
                created: true,
            })
        }

        /// Locks the deploy's row, decides under the status rule and applies.
        pub(super) async fn change_status_in(
            tx: &mut sqlx::Transaction<'static, super::dialect::Db>,
            id: houston_core::DeployId,
            change: &houston_core::StatusChange,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<houston_store::StatusOutcome, houston_store::StoreError> {
            use crate::backend_error;
            use crate::rows::{DeployRow, deploy_select};
            use houston_core::StatusDecision;
            let lock = super::dialect::LOCK_DEPLOY_ROW;
            let current = sqlx::query_as::<_, DeployRow>(sqlx::AssertSqlSafe(format!(
                "{} WHERE d.id = $1{lock}",
                deploy_select!()
            )))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend_error)?
            .ok_or_else(|| houston_store::StoreError::NotFound(format!("deploy {id} does not exist")))?;
            let status_at = current.status_at;
            let deploy: houston_core::Deploy = current.try_into()?;
            let decision = houston_core::decide_status(deploy.status, status_at, deploy.started_at, change);
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
                    super::audit::record(
                        &mut **tx,
                        now,
                        by,
                        "deploy.status",
                        &target,
                        None::<&str>,
                        Some(detail.as_str()),
                    )
                    .await?;
                }
                StatusDecision::Refused(why) => {
                    let detail = format!("{} -> {} refused: {why}", deploy.status, change.status);
                    super::audit::record(
                        &mut **tx,
                        now,
                        by,
                        "deploy.status_refused",
                        &target,
                        None::<&str>,
                        Some(detail.as_str()),
                    )
                    .await?;
                    return Ok(houston_store::StatusOutcome { deploy, decision });
                }
                StatusDecision::Unchanged(_) | StatusDecision::Invalid(_) => {
                    return Ok(houston_store::StatusOutcome { deploy, decision });
                }
            }
            let row = sqlx::query_as::<_, DeployRow>(concat!(deploy_select!(), " WHERE d.id = $1"))
                .bind(id)
                .fetch_one(&mut **tx)
                .await
                .map_err(backend_error)?;
            tracing::debug!(deploy_id = id, status = %change.status, "deploy status changed");
            Ok(houston_store::StatusOutcome {
                deploy: row.try_into()?,
                decision,
            })
        }

        /// The ids of a service and an environment, each created on first sight (the
        /// environment with its default stage order).
        pub(super) async fn place_ids(
            conn: &mut <super::dialect::Db as sqlx::Database>::Connection,
            service: &houston_core::ServiceName,
            repository_url: Option<&str>,
            environment: &houston_core::EnvironmentName,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(i64, i64), houston_store::StoreError> {
            use crate::backend_error;
            sqlx::query("INSERT INTO services (name, repository_url, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                .bind(service.as_str())
                .bind(repository_url)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(backend_error)?;
            let service_id: i64 = sqlx::query_scalar("SELECT id FROM services WHERE name = $1")
                .bind(service.as_str())
                .fetch_one(&mut *conn)
                .await
                .map_err(backend_error)?;
            sqlx::query("INSERT INTO environments (name, stage_order, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                .bind(environment.as_str())
                .bind(houston_core::default_stage_order(environment))
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(backend_error)?;
            let environment_id: i64 = sqlx::query_scalar("SELECT id FROM environments WHERE name = $1")
                .bind(environment.as_str())
                .fetch_one(&mut *conn)
                .await
                .map_err(backend_error)?;
            Ok((service_id, environment_id))
        }
    };
}
pub(crate) use store;

//! The signal store, written once for both databases (see `crate::shared`): reading
//! samples, the series of a place, error groups and counts, alerts and pruning are
//! the same SQL or the dialect's. How samples and error events are written in bulk is
//! each backend's own: the backend's `signals.rs` holds `store_samples` and
//! `insert_error_events`, and expands this macro at its end, so the implementation
//! here calls them by name. Times of samples and events are the dialect's
//! `SignalTime`.

/// Implements `houston_store::SignalStore` for `$store`, expanded at the end of a
/// backend's `signals.rs`; `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl houston_store::SignalStore for $store {
            #[tracing::instrument(skip(self, batch), fields(series = batch.series.len(), points = batch.points()))]
            async fn store_samples(
                &self,
                batch: &MetricBatch,
                now: DateTime<Utc>,
            ) -> Result<u64, houston_store::StoreError> {
                store_samples(self, batch, now).await
            }

            #[tracing::instrument(skip(self, read), fields(metric = %read.key.metric))]
            async fn read_samples(&self, read: &SeriesRead, limit: u32) -> Result<Vec<Sample>, StoreError> {
                let rows: Vec<(super::dialect::SignalTime, f64)> = sqlx::query_as(
                    "SELECT at, value FROM metric_samples WHERE series_id = (\
                         SELECT id FROM metric_series \
                         WHERE service_id = (SELECT id FROM services WHERE name = $1) \
                           AND environment_id = (SELECT id FROM environments WHERE name = $2) \
                           AND metric = $3 AND group_name = $4) \
                     AND at >= $5 AND at <= $6 ORDER BY at LIMIT $7",
                )
                .bind(read.key.service.as_str())
                .bind(read.key.environment.as_str())
                .bind(read.key.metric.as_str())
                .bind(
                    read.key
                        .group
                        .as_ref()
                        .map(GroupName::as_str)
                        .unwrap_or_default(),
                )
                .bind(super::dialect::signal_time(read.window.from))
                .bind(super::dialect::signal_time(read.window.to))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                rows.into_iter()
                    .map(|(at, value)| {
                        Ok(Sample {
                            at: super::dialect::from_signal_time(at)?,
                            value,
                        })
                    })
                    .collect()
            }

            #[tracing::instrument(skip(self))]
            async fn series_of(
                &self,
                service: &houston_core::ServiceName,
                environment: &houston_core::EnvironmentName,
                since: DateTime<Utc>,
            ) -> Result<Vec<(MetricName, Option<GroupName>)>, StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT metric, group_name FROM metric_series s \
                     WHERE service_id = (SELECT id FROM services WHERE name = $1) \
                       AND environment_id = (SELECT id FROM environments WHERE name = $2) \
                       AND EXISTS (SELECT 1 FROM metric_samples WHERE series_id = s.id AND at >= $3) \
                     ORDER BY metric, group_name",
                )
                .bind(service.as_str())
                .bind(environment.as_str())
                .bind(super::dialect::signal_time(since))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(crate::rows::series_names(rows))
            }

            #[tracing::instrument(skip(self, batch), fields(events = batch.events.len()))]
            async fn store_error_events(
                &self,
                batch: &ErrorBatch,
                now: DateTime<Utc>,
            ) -> Result<u64, houston_store::StoreError> {
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(crate::backend_error)?;
                let ids = error_group_ids(&mut tx, batch, now).await?;
                insert_error_events(&mut tx, batch, &ids).await?;
                tx.commit().await.map_err(crate::backend_error)?;
                Ok(batch.occurrences())
            }

            #[tracing::instrument(skip(self, read), fields(service = %read.service, environment = %read.environment))]
            async fn error_groups(&self, read: &ErrorsRead) -> Result<Vec<ErrorGroup>, StoreError> {
                error_groups(self, read).await
            }

            #[tracing::instrument(skip(self, read), fields(service = %read.service, environment = %read.environment))]
            async fn error_counts(
                &self,
                read: &ErrorsRead,
                bin: chrono::Duration,
            ) -> Result<Vec<(i64, u64)>, StoreError> {
                error_counts(self, read, bin).await
            }

            #[tracing::instrument(skip(self, reports, by), fields(alerts = reports.len(), actor = %by.name))]
            async fn record_alerts(
                &self,
                reports: &[AlertReport],
                by: &houston_core::Actor,
                now: DateTime<Utc>,
            ) -> Result<AlertCounts, StoreError> {
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let counts = record_alerts_in(&mut tx, reports, by, now).await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(counts)
            }

            #[tracing::instrument(skip(self))]
            async fn list_alerts(
                &self,
                filter: &AlertFilter,
                limit: u32,
            ) -> Result<Vec<Alert>, StoreError> {
                list_alerts_in(&self.pool, filter, limit).await
            }

            #[tracing::instrument(skip(self))]
            async fn prune_signals(
                &self,
                before: DateTime<Utc>,
                batch: u32,
            ) -> Result<SignalPruneCounts, StoreError> {
                prune(self, before, batch).await
            }
        }

        /// Records Alertmanager's reports inside `tx`: new alerts are inserted, changed
        /// ones updated, repeats skipped; each change the audit log keeps is appended.
        async fn record_alerts_in(
            tx: &mut sqlx::Transaction<'static, super::dialect::Db>,
            reports: &[houston_core::AlertReport],
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<houston_store::AlertCounts, houston_store::StoreError> {
            use crate::backend_error;
            use houston_core::AlertState;
            use houston_store::{AlertChange, AlertCounts, StoreError};
            let mut counts = AlertCounts::default();
            for report in reports {
                let stored: Option<(i64, String)> = sqlx::query_as(
                    "SELECT id, state FROM alerts WHERE fingerprint = $1 AND starts_at = $2",
                )
                .bind(&report.fingerprint)
                .bind(report.starts_at)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend_error)?;
                let labels = serde_json::to_string(&report.labels)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                let annotations = serde_json::to_string(&report.annotations)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                let was = stored
                    .as_ref()
                    .and_then(|(_, state)| AlertState::parse(state));
                let change = AlertChange::of(was, report.state);
                let resolved_by = (report.state == AlertState::Resolved).then_some(by.name.as_str());
                let id = match (stored, change) {
                    (_, AlertChange::Repeat) => continue,
                    (None, _) => {
                        let (id,): (i64,) = sqlx::query_as(super::dialect::INSERT_ALERT)
                        .bind(&report.fingerprint)
                        .bind(report.starts_at)
                        .bind(report.ends_at)
                        .bind(report.state.as_str())
                        .bind(&report.name)
                        .bind(report.service.as_ref().map(|s| s.as_str()))
                        .bind(report.environment.as_ref().map(|e| e.as_str()))
                        .bind(&labels)
                        .bind(&annotations)
                        .bind(report.generator_url.as_deref())
                        .bind(resolved_by)
                        .bind(now)
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(backend_error)?;
                        id
                    }
                    (Some((id, _)), _) => {
                        sqlx::query(super::dialect::UPDATE_ALERT)
                        .bind(id)
                        .bind(report.ends_at)
                        .bind(report.state.as_str())
                        .bind(&report.name)
                        .bind(report.service.as_ref().map(|s| s.as_str()))
                        .bind(report.environment.as_ref().map(|e| e.as_str()))
                        .bind(&labels)
                        .bind(&annotations)
                        .bind(report.generator_url.as_deref())
                        .bind(resolved_by)
                        .bind(now)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend_error)?;
                        id
                    }
                };
                counts.count(change);
                if let Some(action) = change.audited_as() {
                    super::audit::record(
                        &mut **tx,
                        now,
                        by,
                        action,
                        &format!("alert:{id}"),
                        None,
                        Some(&format!("{} ({})", report.name, report.fingerprint)),
                    )
                    .await?;
                }
            }
            Ok(counts)
        }

        /// Alerts, newest first, by state and place.
        async fn list_alerts_in(
            pool: &sqlx::Pool<super::dialect::Db>,
            filter: &houston_core::AlertFilter,
            limit: u32,
        ) -> Result<Vec<houston_core::Alert>, houston_store::StoreError> {
            use crate::backend_error;
            use houston_core::{Alert, AlertState};
            let rows: Vec<crate::rows::AlertRow> = sqlx::query_as(super::dialect::LIST_ALERTS)
            .bind(filter.state.map(AlertState::as_str))
            .bind(filter.service.as_ref().map(|s| s.as_str()))
            .bind(filter.environment.as_ref().map(|e| e.as_str()))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(backend_error)?;
            rows.into_iter().map(Alert::try_from).collect()
        }

        /// The id of a series, created (with its service and environment) on first sight.
        pub(super) async fn series_id(
            conn: &mut <super::dialect::Db as sqlx::Database>::Connection,
            key: &houston_core::SeriesKey,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<i64, houston_store::StoreError> {
            let (service_id, environment_id) =
                super::deploys::place_ids(&mut *conn, &key.service, None, &key.environment, now).await?;
            let group = key
                .group
                .as_ref()
                .map(houston_core::GroupName::as_str)
                .unwrap_or_default();
            sqlx::query(
                "INSERT INTO metric_series (service_id, environment_id, metric, group_name, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(service_id)
            .bind(environment_id)
            .bind(key.metric.as_str())
            .bind(group)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(crate::backend_error)?;
            sqlx::query_scalar(
                "SELECT id FROM metric_series \
                 WHERE service_id = $1 AND environment_id = $2 AND metric = $3 AND group_name = $4",
            )
            .bind(service_id)
            .bind(environment_id)
            .bind(key.metric.as_str())
            .bind(group)
            .fetch_one(&mut *conn)
            .await
            .map_err(crate::backend_error)
        }

        /// Prunes samples, error events and resolved alerts older than `before`: at most
        /// `batch` rows in all, samples first.
        async fn prune(
            store: &$store,
            before: chrono::DateTime<chrono::Utc>,
            batch: u32,
        ) -> Result<houston_store::SignalPruneCounts, houston_store::StoreError> {
                let mut counts = houston_store::SignalPruneCounts::default();
                let mut budget = u64::from(batch);
                counts.samples = prune_along_key(
                        store,
                        "metric_samples",
                        "series_id",
                        "metric_series",
                        before,
                        budget,
                    )
                    .await?;
                budget -= counts.samples;
                counts.error_events = prune_along_key(
                        store,"error_events", "group_id", "error_groups", before, budget)
                    .await?;
                budget -= counts.error_events;
                if budget > 0 {
                    counts.alerts = sqlx::query(
                        "DELETE FROM alerts WHERE id IN (\
                           SELECT id FROM alerts WHERE state = 'resolved' AND ends_at < $1 LIMIT $2)",
                    )
                    .bind(before)
                    .bind(i64::try_from(budget).unwrap_or(i64::MAX))
                    .execute(&store.pool)
                    .await
                    .map_err(crate::backend_error)?
                    .rows_affected();
                }
                Ok(counts)
        }

        /// Deletes at most `budget` rows of `table` older than `before`, owner by owner
        /// (each a series or an error group, listed from `owners`) along the table's
        /// key, one short transaction per owner so writers never wait long.
        async fn prune_along_key(
            store: &$store,
            table: &'static str,
            owner: &'static str,
            owners: &'static str,
            before: chrono::DateTime<chrono::Utc>,
            budget: u64,
        ) -> Result<u64, houston_store::StoreError> {
            let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM {owners} ORDER BY id"
            )))
            .fetch_all(&store.pool)
            .await
            .map_err(crate::backend_error)?;
            let sql = format!(
                "DELETE FROM {table} WHERE {owner} = $1 AND at <= (\
                   SELECT max(at) FROM (SELECT at FROM {table} WHERE {owner} = $1 AND at < $2 ORDER BY at LIMIT $3) oldest)"
            );
            let mut deleted = 0u64;
            for id in ids {
                if deleted >= budget {
                    break;
                }
                let mut tx = store.begin_write().await.map_err(crate::backend_error)?;
                deleted += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(id)
                    .bind(super::dialect::signal_time(before))
                    .bind(i64::try_from(budget - deleted).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::backend_error)?
                    .rows_affected();
                tx.commit().await.map_err(crate::backend_error)?;
            }
            Ok(deleted)
        }


        /// Inside `tx`: the id of every error group of `batch` (by `error_key`), each made
        /// on first sight and otherwise brought up to date (its latest message and level,
        /// its first and last time seen).
        async fn error_group_ids(
            tx: &mut sqlx::Transaction<'static, super::dialect::Db>,
            batch: &houston_core::ErrorBatch,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<std::collections::HashMap<String, i64>, houston_store::StoreError> {
            use crate::{backend_error, error_groups_of, error_key};
            let mut ids = std::collections::HashMap::new();
            for (key, latest, first, last) in error_groups_of(batch) {
                let (service_id, environment_id) =
                    super::deploys::place_ids(&mut *tx, &key.service, None, &key.environment, now)
                        .await?;
                let id: i64 = sqlx::query_scalar(super::dialect::UPSERT_ERROR_GROUP)
                .bind(service_id)
                .bind(environment_id)
                .bind(&key.fingerprint)
                .bind(&latest.message)
                .bind(latest.level.as_str())
                .bind(super::dialect::signal_time(first))
                .bind(super::dialect::signal_time(last))
                .fetch_one(&mut **tx)
                .await
                .map_err(backend_error)?;
                ids.insert(error_key(key), id);
            }
            Ok(ids)
        }

        #[tracing::instrument(skip(store, read), fields(service = %read.service, environment = %read.environment))]
        async fn error_groups(store: &$store, read: &houston_core::ErrorsRead) -> Result<Vec<houston_core::ErrorGroup>, houston_store::StoreError> {
            let rows: Vec<(
                String,
                String,
                String,
                super::dialect::SignalTime,
                super::dialect::SignalTime,
                i64,
                super::dialect::Versions,
            )> = sqlx::query_as(super::dialect::ERROR_GROUPS)
            .bind(read.service.as_str())
            .bind(read.environment.as_str())
            .bind(super::dialect::signal_time(read.window.from))
            .bind(super::dialect::signal_time(read.window.to))
            .fetch_all(&store.pool)
            .await
            .map_err(crate::backend_error)?;
            rows.into_iter()
                .map(
                    |(fingerprint, message, level, first, last, count, versions)| {
                        let versions = super::dialect::versions(versions)?;
                        Ok(houston_core::ErrorGroup {
                            fingerprint,
                            message,
                            level: houston_core::ErrorLevel::parse(&level).ok_or_else(|| {
                                houston_store::StoreError::Backend(format!("stored level {level:?}"))
                            })?,
                            first_seen: super::dialect::from_signal_time(first)?,
                            last_seen: super::dialect::from_signal_time(last)?,
                            count: u64::try_from(count).unwrap_or_default(),
                            versions: crate::rows::named_versions(versions),
                        })
                    },
                )
                .collect()
        }

        #[tracing::instrument(skip(store, read), fields(service = %read.service, environment = %read.environment))]
        async fn error_counts(
            store: &$store,
            read: &houston_core::ErrorsRead,
            bin: chrono::Duration,
        ) -> Result<Vec<(i64, u64)>, houston_store::StoreError> {
            let bin = bin.num_microseconds().filter(|b| *b > 0).ok_or_else(|| {
                houston_store::StoreError::Backend(format!("error bins of {bin} are not a positive length"))
            })?;
            let rows: Vec<(i64, i64)> = sqlx::query_as(super::dialect::ERROR_COUNTS)
            .bind(read.service.as_str())
            .bind(read.environment.as_str())
            .bind(super::dialect::signal_time(read.window.from))
            .bind(super::dialect::signal_time(read.window.to))
            .bind(bin)
            .fetch_all(&store.pool)
            .await
            .map_err(crate::backend_error)?;
            Ok(rows
                .into_iter()
                .map(|(b, n)| (b, u64::try_from(n).unwrap_or_default()))
                .collect())
        }
    };
}
pub(crate) use store;

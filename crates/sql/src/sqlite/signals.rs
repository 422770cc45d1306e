//! Metric samples, error events and alerts, on SQLite. Samples and events keep
//! their times as Unix microseconds (see migration 0010).

use crate::{backend_error, error_groups_of, error_key, series_key};
use chrono::{DateTime, Utc};
use houston_core::{
    Alert, AlertFilter, AlertReport, AlertState, ErrorBatch, ErrorGroup, ErrorLevel, ErrorsRead,
    GroupName, MetricBatch, MetricName, Sample, SeriesRead,
};
use houston_store::{AlertChange, AlertCounts, SignalPruneCounts, StoreError};
use sqlx::{Sqlite, SqliteConnection};

/// Sample rows per INSERT: 3 values a row stays under SQLite's 32,766 parameters,
/// and full chunks share one prepared statement.
const SAMPLE_ROWS_PER_STATEMENT: usize = 2000;

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Backend(format!("stored time {us} is out of range")))
}

#[async_trait::async_trait]
impl houston_store::SignalStore for super::SqliteStore {
    #[tracing::instrument(skip(self, batch), fields(series = batch.series.len(), points = batch.points()))]
    async fn store_samples(
        &self,
        batch: &MetricBatch,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let now = houston_core::to_stored_precision(now);
        let mut tx = self.begin_write().await.map_err(backend_error)?;
        let mut learnt = Vec::new();
        let mut rows: Vec<(i64, &Sample)> = Vec::with_capacity(batch.points());
        for series in &batch.series {
            let cache_key = series_key(&series.key);
            let id = match self.ids.get(&cache_key) {
                Some(id) => id,
                None => {
                    let id = series_id(&mut tx, &series.key, now).await?;
                    learnt.push((cache_key, id));
                    id
                }
            };
            rows.extend(series.samples.iter().map(|s| (id, s)));
        }
        for chunk in rows.chunks(SAMPLE_ROWS_PER_STATEMENT) {
            let mut qb = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO metric_samples (series_id, at, value) ",
            );
            qb.push_values(chunk, |mut row, (id, sample)| {
                row.push_bind(*id)
                    .push_bind(micros(sample.at))
                    .push_bind(sample.value);
            });
            qb.push(" ON CONFLICT (series_id, at) DO UPDATE SET value = excluded.value");
            qb.build().execute(&mut *tx).await.map_err(backend_error)?;
        }
        tx.commit().await.map_err(backend_error)?;
        self.ids.remember(learnt);
        Ok(rows.len() as u64)
    }

    #[tracing::instrument(skip(self, read), fields(metric = %read.key.metric))]
    async fn read_samples(&self, read: &SeriesRead, limit: u32) -> Result<Vec<Sample>, StoreError> {
        let rows: Vec<(i64, f64)> = sqlx::query_as(
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
        .bind(micros(read.window.from))
        .bind(micros(read.window.to))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.into_iter()
            .map(|(at, value)| {
                Ok(Sample {
                    at: from_micros(at)?,
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
        .bind(micros(since))
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
    ) -> Result<u64, StoreError> {
        let now = houston_core::to_stored_precision(now);
        let mut tx = self.begin_write().await.map_err(backend_error)?;
        let mut ids = std::collections::HashMap::new();
        for (key, latest, first, last) in error_groups_of(batch) {
            let (service_id, environment_id) =
                super::deploys::place_ids(&mut tx, &key.service, None, &key.environment, now)
                    .await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO error_groups (service_id, environment_id, fingerprint, message, level, first_seen, last_seen) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (service_id, environment_id, fingerprint) DO UPDATE SET \
                   message = CASE WHEN excluded.last_seen >= error_groups.last_seen THEN excluded.message ELSE error_groups.message END, \
                   level = CASE WHEN excluded.last_seen >= error_groups.last_seen THEN excluded.level ELSE error_groups.level END, \
                   first_seen = min(error_groups.first_seen, excluded.first_seen), \
                   last_seen = max(error_groups.last_seen, excluded.last_seen) \
                 RETURNING id",
            )
            .bind(service_id)
            .bind(environment_id)
            .bind(&key.fingerprint)
            .bind(&latest.message)
            .bind(latest.level.as_str())
            .bind(micros(first))
            .bind(micros(last))
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?;
            ids.insert(error_key(key), id);
        }
        // 4 values a row.
        for chunk in batch.events.chunks(4000) {
            let mut qb = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO error_events (group_id, at, version, count) ",
            );
            qb.push_values(chunk, |mut row, event| {
                row.push_bind(ids.get(&error_key(&event.key)).copied())
                    .push_bind(micros(event.at))
                    .push_bind(event.version.as_str())
                    .push_bind(i64::try_from(event.count).unwrap_or(i64::MAX));
            });
            qb.push(" ON CONFLICT (group_id, at, version) DO UPDATE SET count = excluded.count");
            qb.build().execute(&mut *tx).await.map_err(backend_error)?;
        }
        tx.commit().await.map_err(backend_error)?;
        Ok(batch.occurrences())
    }

    #[tracing::instrument(skip(self, read), fields(service = %read.service, environment = %read.environment))]
    async fn error_groups(&self, read: &ErrorsRead) -> Result<Vec<ErrorGroup>, StoreError> {
        let rows: Vec<(String, String, String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT g.fingerprint, g.message, g.level, g.first_seen, g.last_seen, \
                    sum(e.count) AS n, json_group_array(DISTINCT e.version) \
             FROM error_groups g JOIN error_events e ON e.group_id = g.id \
             WHERE g.service_id = (SELECT id FROM services WHERE name = $1) \
               AND g.environment_id = (SELECT id FROM environments WHERE name = $2) \
               AND e.at >= $3 AND e.at <= $4 \
             GROUP BY g.id ORDER BY n DESC, g.last_seen DESC, g.id LIMIT 500",
        )
        .bind(read.service.as_str())
        .bind(read.environment.as_str())
        .bind(micros(read.window.from))
        .bind(micros(read.window.to))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.into_iter()
            .map(
                |(fingerprint, message, level, first, last, count, versions)| {
                    let versions: Vec<String> = serde_json::from_str(&versions).map_err(|e| {
                        StoreError::Backend(format!("versions of an error group: {e}"))
                    })?;
                    Ok(ErrorGroup {
                        fingerprint,
                        message,
                        level: ErrorLevel::parse(&level).ok_or_else(|| {
                            StoreError::Backend(format!("stored level {level:?}"))
                        })?,
                        first_seen: from_micros(first)?,
                        last_seen: from_micros(last)?,
                        count: u64::try_from(count).unwrap_or_default(),
                        versions: crate::rows::named_versions(versions),
                    })
                },
            )
            .collect()
    }

    #[tracing::instrument(skip(self, read), fields(service = %read.service, environment = %read.environment))]
    async fn error_counts(
        &self,
        read: &ErrorsRead,
        bin: chrono::Duration,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        let bin = bin.num_microseconds().filter(|b| *b > 0).ok_or_else(|| {
            StoreError::Backend(format!("error bins of {bin} are not a positive length"))
        })?;
        // Every event is at or after the window's start, so integer division floors.
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT (e.at - $3) / $5 AS b, sum(e.count) \
             FROM error_groups g JOIN error_events e ON e.group_id = g.id \
             WHERE g.service_id = (SELECT id FROM services WHERE name = $1) \
               AND g.environment_id = (SELECT id FROM environments WHERE name = $2) \
               AND g.level IN ('error', 'fatal') AND e.at >= $3 AND e.at < $4 \
             GROUP BY b ORDER BY b",
        )
        .bind(read.service.as_str())
        .bind(read.environment.as_str())
        .bind(micros(read.window.from))
        .bind(micros(read.window.to))
        .bind(bin)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(rows
            .into_iter()
            .map(|(b, n)| (b, u64::try_from(n).unwrap_or_default()))
            .collect())
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
        let mut counts = AlertCounts::default();
        for report in reports {
            let stored: Option<(i64, String)> = sqlx::query_as(
                "SELECT id, state FROM alerts WHERE fingerprint = $1 AND starts_at = $2",
            )
            .bind(&report.fingerprint)
            .bind(report.starts_at)
            .fetch_optional(&mut *tx)
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
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO alerts (fingerprint, starts_at, ends_at, state, name, service, environment, \
                           labels, annotations, generator_url, resolved_by, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
                    )
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
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    id
                }
                (Some((id, _)), _) => {
                    sqlx::query(
                        "UPDATE alerts SET ends_at = $2, state = $3, name = $4, service = $5, environment = $6, \
                           labels = $7, annotations = $8, generator_url = $9, resolved_by = $10, \
                           updated_at = $11 WHERE id = $1",
                    )
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
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    id
                }
            };
            counts.count(change);
            if let Some(action) = change.audited_as() {
                super::audit::record(
                    &mut *tx,
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
        tx.commit().await.map_err(backend_error)?;
        Ok(counts)
    }

    #[tracing::instrument(skip(self))]
    async fn list_alerts(
        &self,
        filter: &AlertFilter,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let rows: Vec<crate::rows::AlertRow> = sqlx::query_as(
            "SELECT id, fingerprint, name, state, starts_at, ends_at, service, environment, labels, \
                    annotations, generator_url, resolved_by, updated_at \
             FROM alerts \
             WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR service = $2) AND ($3 IS NULL OR environment = $3) \
             ORDER BY starts_at DESC, id DESC LIMIT $4",
        )
        .bind(filter.state.map(AlertState::as_str))
        .bind(filter.service.as_ref().map(|s| s.as_str()))
        .bind(filter.environment.as_ref().map(|e| e.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.into_iter().map(Alert::try_from).collect()
    }

    #[tracing::instrument(skip(self))]
    async fn prune_signals(
        &self,
        before: DateTime<Utc>,
        batch: u32,
    ) -> Result<SignalPruneCounts, StoreError> {
        let mut counts = SignalPruneCounts::default();
        let mut budget = u64::from(batch);
        counts.samples = self
            .prune_along_key(
                "metric_samples",
                "series_id",
                "metric_series",
                before,
                budget,
            )
            .await?;
        budget -= counts.samples;
        counts.error_events = self
            .prune_along_key("error_events", "group_id", "error_groups", before, budget)
            .await?;
        budget -= counts.error_events;
        if budget > 0 {
            counts.alerts = sqlx::query(
                "DELETE FROM alerts WHERE id IN (\
                   SELECT id FROM alerts WHERE state = 'resolved' AND ends_at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(i64::try_from(budget).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?
            .rows_affected();
        }
        Ok(counts)
    }
}

impl super::SqliteStore {
    /// Deletes at most `budget` rows of `table` older than `before`, owner by owner
    /// (each a series or an error group, listed from `owners`) along the table's
    /// key, one short transaction per owner so writers never wait long.
    async fn prune_along_key(
        &self,
        table: &'static str,
        owner: &'static str,
        owners: &'static str,
        before: DateTime<Utc>,
        budget: u64,
    ) -> Result<u64, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {owners} ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let sql = format!(
            "DELETE FROM {table} WHERE {owner} = $1 AND at <= (\
               SELECT max(at) FROM (SELECT at FROM {table} WHERE {owner} = $1 AND at < $2 ORDER BY at LIMIT $3))"
        );
        let mut deleted = 0u64;
        for id in ids {
            if deleted >= budget {
                break;
            }
            let mut tx = self.begin_write().await.map_err(backend_error)?;
            deleted += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id)
                .bind(micros(before))
                .bind(i64::try_from(budget - deleted).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?
                .rows_affected();
            tx.commit().await.map_err(backend_error)?;
        }
        Ok(deleted)
    }
}

/// The id of a series, created (with its service and environment) on first sight.
async fn series_id(
    conn: &mut SqliteConnection,
    key: &houston_core::SeriesKey,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let (service_id, environment_id) =
        super::deploys::place_ids(&mut *conn, &key.service, None, &key.environment, now).await?;
    let group = key
        .group
        .as_ref()
        .map(GroupName::as_str)
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
    .map_err(backend_error)?;
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
    .map_err(backend_error)
}

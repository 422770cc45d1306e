//! Metric samples, error events and alerts, on PostgreSQL. Samples and events go
//! in with one `INSERT … SELECT FROM UNNEST(arrays)` per batch: one statement and
//! three parameters, however many rows.

use crate::{backend_error, error_groups_of, error_key, series_key};
use chrono::{DateTime, Utc};
use houston_core::{
    Alert, AlertFilter, AlertReport, AlertState, ErrorBatch, ErrorGroup, ErrorLevel, ErrorsRead,
    GroupName, MetricBatch, MetricName, Sample, SeriesRead,
};
use houston_store::{AlertChange, AlertCounts, SignalPruneCounts, StoreError};
use sqlx::PgConnection;

#[async_trait::async_trait]
impl houston_store::SignalStore for super::PgStore {
    #[tracing::instrument(skip(self, batch), fields(series = batch.series.len(), points = batch.points()))]
    async fn store_samples(
        &self,
        batch: &MetricBatch,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let now = houston_core::to_stored_precision(now);
        let mut rows: Vec<(i64, &Sample)> = Vec::with_capacity(batch.points());
        let mut unknown = Vec::new();
        for series in &batch.series {
            match self.ids.get(&series_key(&series.key)) {
                Some(id) => rows.extend(series.samples.iter().map(|s| (id, s))),
                None => unknown.push(series),
            }
        }
        if unknown.is_empty() {
            // Every series is known (the steady state): the samples go in as one
            // statement, committed on its own. New samples are a plain insert,
            // which PostgreSQL takes about ×1.8 faster than an upsert (measured:
            // docs/BENCHMARKS.md); a batch that repeats a stored sample fails as a
            // whole, storing nothing, and goes in again as an upsert.
            let columns = Columns::of(&rows);
            let mut conn = self.pool.acquire().await.map_err(backend_error)?;
            match columns.insert(&mut conn, false).await {
                Err(e) if crate::is_unique_violation(&e) => {
                    columns
                        .insert(&mut conn, true)
                        .await
                        .map_err(backend_error)?;
                }
                done => {
                    done.map_err(backend_error)?;
                }
            }
            return Ok(rows.len() as u64);
        }
        // A series seen for the first time: made, with its place, in the samples'
        // transaction.
        let mut tx = self.begin_write().await.map_err(backend_error)?;
        let mut learnt = Vec::new();
        for series in unknown {
            let id = series_id(&mut tx, &series.key, now).await?;
            learnt.push((series_key(&series.key), id));
            rows.extend(series.samples.iter().map(|s| (id, s)));
        }
        Columns::of(&rows)
            .insert(&mut tx, true)
            .await
            .map_err(backend_error)?;
        tx.commit().await.map_err(backend_error)?;
        self.ids.remember(learnt);
        Ok(rows.len() as u64)
    }

    #[tracing::instrument(skip(self, read), fields(metric = %read.key.metric))]
    async fn read_samples(&self, read: &SeriesRead, limit: u32) -> Result<Vec<Sample>, StoreError> {
        let rows: Vec<(DateTime<Utc>, f64)> = sqlx::query_as(
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
        .bind(read.window.from)
        .bind(read.window.to)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.into_iter()
            .map(|(at, value)| Ok(Sample { at, value }))
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
        .bind(since)
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
                   first_seen = LEAST(error_groups.first_seen, excluded.first_seen), \
                   last_seen = GREATEST(error_groups.last_seen, excluded.last_seen) \
                 RETURNING id",
            )
            .bind(service_id)
            .bind(environment_id)
            .bind(&key.fingerprint)
            .bind(&latest.message)
            .bind(latest.level.as_str())
            .bind(first)
            .bind(last)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?;
            ids.insert(error_key(key), id);
        }
        let mut groups = Vec::with_capacity(batch.events.len());
        let mut times = Vec::with_capacity(batch.events.len());
        let mut versions = Vec::with_capacity(batch.events.len());
        let mut occurrences = Vec::with_capacity(batch.events.len());
        for event in &batch.events {
            groups.push(ids.get(&error_key(&event.key)).copied());
            times.push(event.at);
            versions.push(event.version.as_str());
            occurrences.push(i64::try_from(event.count).unwrap_or(i64::MAX));
        }
        sqlx::query(
            "INSERT INTO error_events (group_id, at, version, count) \
             SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::text[], $4::int8[]) \
             ON CONFLICT (group_id, at, version) DO UPDATE SET count = EXCLUDED.count",
        )
        .bind(groups)
        .bind(times)
        .bind(versions)
        .bind(occurrences)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        tx.commit().await.map_err(backend_error)?;
        Ok(batch.occurrences())
    }

    #[tracing::instrument(skip(self, read), fields(service = %read.service, environment = %read.environment))]
    async fn error_groups(&self, read: &ErrorsRead) -> Result<Vec<ErrorGroup>, StoreError> {
        let rows: Vec<(
            String,
            String,
            String,
            DateTime<Utc>,
            DateTime<Utc>,
            i64,
            Vec<String>,
        )> = sqlx::query_as(
            "SELECT g.fingerprint, g.message, g.level, g.first_seen, g.last_seen, \
                    sum(e.count)::int8 AS n, array_agg(DISTINCT e.version) \
             FROM error_groups g JOIN error_events e ON e.group_id = g.id \
             WHERE g.service_id = (SELECT id FROM services WHERE name = $1) \
               AND g.environment_id = (SELECT id FROM environments WHERE name = $2) \
               AND e.at >= $3 AND e.at <= $4 \
             GROUP BY g.id ORDER BY n DESC, g.last_seen DESC, g.id LIMIT 500",
        )
        .bind(read.service.as_str())
        .bind(read.environment.as_str())
        .bind(read.window.from)
        .bind(read.window.to)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.into_iter()
            .map(
                |(fingerprint, message, level, first, last, count, versions)| {
                    Ok(ErrorGroup {
                        fingerprint,
                        message,
                        level: ErrorLevel::parse(&level).ok_or_else(|| {
                            StoreError::Backend(format!("stored level {level:?}"))
                        })?,
                        first_seen: first,
                        last_seen: last,
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
        // Microseconds since the window's start, whole: the same bins as SQLite's.
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT floor(extract(epoch FROM e.at - $3) * 1000000 / $5)::int8 AS b, \
                    sum(e.count)::int8 \
             FROM error_groups g JOIN error_events e ON e.group_id = g.id \
             WHERE g.service_id = (SELECT id FROM services WHERE name = $1) \
               AND g.environment_id = (SELECT id FROM environments WHERE name = $2) \
               AND g.level IN ('error', 'fatal') AND e.at >= $3 AND e.at < $4 \
             GROUP BY b ORDER BY b",
        )
        .bind(read.service.as_str())
        .bind(read.environment.as_str())
        .bind(read.window.from)
        .bind(read.window.to)
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
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12, $12) RETURNING id",
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
                           labels = $7::jsonb, annotations = $8::jsonb, generator_url = $9, resolved_by = $10, \
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
            "SELECT id, fingerprint, name, state, starts_at, ends_at, service, environment, labels::text AS labels, \
                    annotations::text AS annotations, generator_url, resolved_by, updated_at \
             FROM alerts \
             WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR service = $2) AND ($3::text IS NULL OR environment = $3) \
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

impl super::PgStore {
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
               SELECT max(at) FROM (SELECT at FROM {table} WHERE {owner} = $1 AND at < $2 ORDER BY at LIMIT $3) oldest)"
        );
        let mut deleted = 0u64;
        for id in ids {
            if deleted >= budget {
                break;
            }
            let mut tx = self.begin_write().await.map_err(backend_error)?;
            deleted += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id)
                .bind(before)
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
/// A batch of samples as three parallel arrays, bound as three parameters
/// however many rows there are.
struct Columns {
    ids: Vec<i64>,
    times: Vec<DateTime<Utc>>,
    values: Vec<f64>,
}

impl Columns {
    fn of(rows: &[(i64, &Sample)]) -> Self {
        let (ids, (times, values)) = rows
            .iter()
            .map(|(id, sample)| (*id, (sample.at, sample.value)))
            .unzip();
        Self { ids, times, values }
    }

    /// Inserts the rows; with `upsert`, a sample already stored takes the new value,
    /// else such a sample fails the statement (a unique violation) and nothing is
    /// stored.
    async fn insert(&self, conn: &mut PgConnection, upsert: bool) -> Result<(), sqlx::Error> {
        let sql = if upsert {
            "INSERT INTO metric_samples (series_id, at, value) \
             SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::float8[]) \
             ON CONFLICT (series_id, at) DO UPDATE SET value = EXCLUDED.value"
        } else {
            "INSERT INTO metric_samples (series_id, at, value) \
             SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::float8[])"
        };
        sqlx::query(sql)
            .bind(&self.ids)
            .bind(&self.times)
            .bind(&self.values)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    }
}

async fn series_id(
    conn: &mut PgConnection,
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

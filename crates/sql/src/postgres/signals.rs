//! Metric samples, error events and alerts, on PostgreSQL. Samples and events go
//! in with one `INSERT … SELECT FROM UNNEST(arrays)` per batch: one statement and
//! three parameters, however many rows.

use crate::{backend_error, error_key, series_key};
use chrono::{DateTime, Utc};
use houston_core::{
    Alert, AlertFilter, AlertReport, ErrorBatch, ErrorGroup, ErrorsRead, GroupName, MetricBatch,
    MetricName, Sample, SeriesRead,
};
use houston_store::{AlertCounts, SignalPruneCounts, StoreError};
use sqlx::PgConnection;

#[tracing::instrument(skip(store, batch), fields(series = batch.series.len(), points = batch.points()))]
async fn store_samples(
    store: &super::PgStore,
    batch: &MetricBatch,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = houston_core::to_stored_precision(now);
    let mut rows: Vec<(i64, &Sample)> = Vec::with_capacity(batch.points());
    let mut unknown = Vec::new();
    for series in &batch.series {
        match store.ids.get(&series_key(&series.key)) {
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
        let mut conn = store.pool.acquire().await.map_err(backend_error)?;
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
    let mut tx = store.begin_write().await.map_err(backend_error)?;
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
    store.ids.remember(learnt);
    Ok(rows.len() as u64)
}

/// Inside `tx`: the events of `batch`, each under its group's id in `ids`; an event
/// stored before (same group, time and version) takes the new count.
async fn insert_error_events(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    batch: &ErrorBatch,
    ids: &std::collections::HashMap<String, i64>,
) -> Result<(), StoreError> {
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
    .execute(&mut **tx)
    .await
    .map_err(backend_error)?;
    Ok(())
}

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

crate::shared::signals::store!(super::PgStore);

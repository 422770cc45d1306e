//! Metric samples, error events and alerts, on SQLite. Samples and events keep
//! their times as Unix microseconds (see migration 0010).

use crate::{backend_error, error_key, series_key};
use chrono::{DateTime, Utc};
use houston_core::{
    Alert, AlertFilter, AlertReport, ErrorBatch, ErrorGroup, ErrorsRead, GroupName, MetricBatch,
    MetricName, Sample, SeriesRead,
};
use houston_store::{AlertCounts, SignalPruneCounts, StoreError};
use sqlx::Sqlite;

/// Sample rows per INSERT: 3 values a row stays under SQLite's 32,766 parameters,
/// and full chunks share one prepared statement.
const SAMPLE_ROWS_PER_STATEMENT: usize = 2000;

fn micros(t: DateTime<Utc>) -> i64 {
    super::dialect::signal_time(t)
}

#[tracing::instrument(skip(store, batch), fields(series = batch.series.len(), points = batch.points()))]
async fn store_samples(
    store: &super::SqliteStore,
    batch: &MetricBatch,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = houston_core::to_stored_precision(now);
    let mut tx = store.begin_write().await.map_err(backend_error)?;
    let mut learnt = Vec::new();
    let mut rows: Vec<(i64, &Sample)> = Vec::with_capacity(batch.points());
    for series in &batch.series {
        let cache_key = series_key(&series.key);
        let id = match store.ids.get(&cache_key) {
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
        let mut qb =
            sqlx::QueryBuilder::<Sqlite>::new("INSERT INTO metric_samples (series_id, at, value) ");
        qb.push_values(chunk, |mut row, (id, sample)| {
            row.push_bind(*id)
                .push_bind(micros(sample.at))
                .push_bind(sample.value);
        });
        qb.push(" ON CONFLICT (series_id, at) DO UPDATE SET value = excluded.value");
        qb.build().execute(&mut *tx).await.map_err(backend_error)?;
    }
    tx.commit().await.map_err(backend_error)?;
    store.ids.remember(learnt);
    Ok(rows.len() as u64)
}

/// Inside `tx`: the events of `batch`, each under its group's id in `ids`; an event
/// stored before (same group, time and version) takes the new count.
async fn insert_error_events(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
    batch: &ErrorBatch,
    ids: &std::collections::HashMap<String, i64>,
) -> Result<(), StoreError> {
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
        qb.build().execute(&mut **tx).await.map_err(backend_error)?;
    }
    Ok(())
}

crate::shared::signals::store!(super::SqliteStore);

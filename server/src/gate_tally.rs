//! The gate's answers counted in memory and written once a minute: asking the gate
//! is a read, so a busy (or hostile) pipeline cannot turn it into a stream of
//! writes to the database. Only environments the store knows are written, so
//! made-up names add no rows. A crash loses at most the last minute's counts.

use app::domain::EnvironmentName;
use app::server::{GateCount, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How often counts are written.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Distinct (day, environment, outcome, rule) keys kept between flushes; answers
/// beyond it are not counted (a flood of made-up names cannot grow memory).
const MAX_KEYS: usize = 10_000;

type Key = (NaiveDate, String, bool, String);

/// Counts not yet written.
#[derive(Clone, Default)]
pub struct GateTally {
    pending: Arc<Mutex<HashMap<Key, i64>>>,
}

impl GateTally {
    /// Counts one answer under each of `rules` for its day and environment.
    pub fn count(
        &self,
        environment: &EnvironmentName,
        allowed: bool,
        rules: &[&str],
        now: DateTime<Utc>,
    ) {
        let mut pending = match self.pending.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        for rule in rules {
            let key = (
                now.date_naive(),
                environment.as_str().to_owned(),
                allowed,
                (*rule).to_owned(),
            );
            if pending.len() >= MAX_KEYS && !pending.contains_key(&key) {
                continue;
            }
            *pending.entry(key).or_insert(0) += 1;
        }
    }

    /// Writes what was counted for the environments the store knows, and forgets
    /// the rest. On a failed write the counts are kept for the next flush.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let taken: HashMap<Key, i64> = match self.pending.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        if taken.is_empty() {
            return Ok(0);
        }
        let known: Vec<String> = match store.list_environments().await {
            Ok(environments) => environments
                .into_iter()
                .map(|e| e.name.as_str().to_owned())
                .collect(),
            Err(e) => {
                self.put_back(taken);
                return Err(e);
            }
        };
        let counts: Vec<GateCount> = taken
            .iter()
            .filter(|((_, environment, _, _), _)| known.contains(environment))
            .map(|((day, environment, allowed, rule), count)| GateCount {
                day: *day,
                environment: environment.clone(),
                allowed: *allowed,
                rule: rule.clone(),
                count: *count,
            })
            .collect();
        if let Err(e) = store.add_gate_counts(&counts).await {
            self.put_back(taken);
            return Err(e);
        }
        Ok(counts.len())
    }

    /// Counts taken for a flush that failed, kept for the next one.
    fn put_back(&self, taken: HashMap<Key, i64>) {
        let mut pending = match self.pending.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (key, count) in taken {
            *pending.entry(key).or_insert(0) += count;
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until `stop`, then once more.
    pub async fn run(self, store: Arc<dyn Store>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = tokio::time::sleep(FLUSH_EVERY) => {}
                () = &mut stop => break,
            }
            if let Err(e) = self.flush(store.as_ref()).await {
                tracing::warn!(error = %e, "could not write the gate's counts; kept for the next minute");
            }
        }
        if let Err(e) = self.flush(store.as_ref()).await {
            tracing::warn!(error = %e, "could not write the gate's last counts");
        }
    }
}

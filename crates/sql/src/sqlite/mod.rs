//! SQLite backend: one file, WAL journal, foreign keys on, a busy timeout, and
//! write transactions that start IMMEDIATE so a read-then-write never deadlocks
//! on the upgrade from a read lock.

mod accounts;
mod audit;
mod deliveries;
mod deploys;
mod feed;
mod jobs;
mod sessions;
mod settings;
mod signals;
mod tokens;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
    /// Ids of metric series, learnt after their first batch committed.
    ids: crate::IdCache,
}

impl SqliteStore {
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("../../migrations/sqlite").run(&pool).await?;
        Ok(Self {
            pool,
            ids: crate::IdCache::default(),
        })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

#[async_trait::async_trait]
impl houston_store::Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    #[tracing::instrument(skip(self))]
    async fn ping(&self) -> Result<(), houston_store::StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(crate::backend_error)
    }
}

crate::definitions::definition_store!(SqliteStore);
// One writer at a time: the UPDATE claims atomically without row locks.
crate::verdicts::verdict_store!(
    SqliteStore,
    "UPDATE verdicts SET claimed_until = $2 WHERE deploy_id IN ( \
       SELECT deploy_id FROM verdicts WHERE is_final = 0 AND next_look_at <= $1 \
          AND (claimed_until IS NULL OR claimed_until < $1) \
        ORDER BY next_look_at LIMIT $3) \
     RETURNING deploy_id",
    "UPDATE notifications SET claimed_until = $2, attempts = attempts + 1 WHERE id IN ( \
       SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $1 \
          AND (claimed_until IS NULL OR claimed_until < $1) \
        ORDER BY next_attempt_at LIMIT $3)"
);
// SQLite's BEGIN IMMEDIATE already serialises placing locks.
crate::locks::lock_store!(SqliteStore, "");

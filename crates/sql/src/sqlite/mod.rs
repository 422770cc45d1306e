//! SQLite backend: one file, WAL journal, foreign keys on, a busy timeout, and
//! write transactions that start IMMEDIATE so a read-then-write never deadlocks
//! on the upgrade from a read lock.

mod dialect;
mod feed;
mod signals;

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

// The aggregates written once (`crate::shared`), each in a module of its own here so
// that `super::dialect` inside it is this backend's.
mod accounts {
    crate::shared::accounts::store!(super::SqliteStore);
}
mod audit {
    crate::shared::audit::store!(super::SqliteStore);
}
mod definitions {
    crate::shared::definitions::store!(super::SqliteStore);
}
mod deploys {
    crate::shared::deploys::store!(super::SqliteStore);
}
mod deliveries {
    crate::shared::deliveries::store!(super::SqliteStore);
}
mod incidents {
    crate::shared::incidents::store!(super::SqliteStore);
}
mod jobs {
    crate::shared::jobs::store!(super::SqliteStore);
}
mod locks {
    crate::shared::locks::store!(super::SqliteStore);
}
mod ping {
    crate::shared::ping::store!(super::SqliteStore);
}
mod sessions {
    crate::shared::sessions::store!(super::SqliteStore);
}
mod settings {
    crate::shared::settings::store!(super::SqliteStore);
}
mod tokens {
    crate::shared::tokens::store!(super::SqliteStore);
}
mod verdicts {
    crate::shared::verdicts::store!(super::SqliteStore);
}

//! PostgreSQL backend, for teams running several Houston replicas against one database.

mod dialect;
mod feed;
mod signals;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

pub struct PgStore {
    pool: PgPool,
    /// Ids of metric series, learnt after their first batch committed.
    ids: crate::IdCache,
}

impl PgStore {
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, None).await
    }

    /// Opens the store at `url`. With `owner_url`, migrations run through that
    /// (owning) role instead, and the role of `url` is granted what Houston needs
    /// and no more: on `audit_log` only SELECT and INSERT, so not even a bug or
    /// an injected statement in Houston can rewrite history.
    pub async fn open_with(url: &str, owner_url: Option<&str>) -> anyhow::Result<Self> {
        // JIT compilation pays off for long analytic queries; Houston's are short,
        // and JIT added ~10 ms to each board read when the planner overestimated it.
        let options: sqlx::postgres::PgConnectOptions = url.parse()?;
        // No ping before each use of a pooled connection (sqlx's default): it doubled
        // the round trips of every query. A connection that died since its last use
        // fails that one query, and the pool drops it.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .connect_with(options.options([("jit", "off")]))
            .await?;
        // Replicas starting together take turns: sqlx holds an advisory lock while migrating.
        match owner_url {
            None => {
                sqlx::migrate!("../../migrations/postgres")
                    .run(&pool)
                    .await?
            }
            Some(owner_url) => {
                let owner = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(owner_url)
                    .await?;
                sqlx::migrate!("../../migrations/postgres")
                    .run(&owner)
                    .await?;
                let options: sqlx::postgres::PgConnectOptions = url.parse()?;
                grant_runtime_role(&owner, options.get_username()).await?;
                owner.close().await;
            }
        }
        Ok(Self {
            pool,
            ids: crate::IdCache::default(),
        })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

/// Grants `role` what Houston's runtime needs on every table — and on the audit
/// log only SELECT and INSERT. Run by the owner after each migration, so new
/// tables are covered too.
async fn grant_runtime_role(owner: &PgPool, role: &str) -> anyhow::Result<()> {
    let owner_role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(owner)
        .await?;
    if owner_role == role {
        tracing::warn!(
            role,
            "HOUSTON_MIGRATION_DATABASE_URL uses the same role as HOUSTON_DATABASE_URL: the audit log is protected by its triggers only"
        );
        return Ok(());
    }
    let role = quote_identifier(role);
    for statement in [
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        format!("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM {role}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(owner)
            .await?;
    }
    Ok(())
}

/// `name` as a PostgreSQL identifier in double quotes.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

// The aggregates written once (`crate::shared`), each in a module of its own here so
// that `super::dialect` inside it is this backend's.
mod accounts {
    crate::shared::accounts::store!(super::PgStore);
}
mod audit {
    crate::shared::audit::store!(super::PgStore);
}
mod definitions {
    crate::shared::definitions::store!(super::PgStore);
}
mod deploys {
    crate::shared::deploys::store!(super::PgStore);
}
mod deliveries {
    crate::shared::deliveries::store!(super::PgStore);
}
mod incidents {
    crate::shared::incidents::store!(super::PgStore);
}
mod jobs {
    crate::shared::jobs::store!(super::PgStore);
}
mod locks {
    crate::shared::locks::store!(super::PgStore);
}
mod ping {
    crate::shared::ping::store!(super::PgStore);
}
mod sessions {
    crate::shared::sessions::store!(super::PgStore);
}
mod settings {
    crate::shared::settings::store!(super::PgStore);
}
mod tokens {
    crate::shared::tokens::store!(super::PgStore);
}
mod verdicts {
    crate::shared::verdicts::store!(super::PgStore);
}

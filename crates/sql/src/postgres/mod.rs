//! PostgreSQL backend, for teams running several Houston replicas against one database.

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

#[async_trait::async_trait]
impl houston_store::Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
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

crate::definitions::definition_store!(PgStore);
// Replicas claim side by side: rows another one is claiming are skipped, not waited on.
crate::verdicts::verdict_store!(
    PgStore,
    "UPDATE verdicts SET claimed_until = $2 WHERE deploy_id IN ( \
       SELECT deploy_id FROM verdicts WHERE NOT is_final AND next_look_at <= $1 \
          AND (claimed_until IS NULL OR claimed_until < $1) \
        ORDER BY next_look_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING deploy_id",
    "UPDATE notifications SET claimed_until = $2, attempts = attempts + 1 WHERE id IN ( \
       SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $1 \
          AND (claimed_until IS NULL OR claimed_until < $1) \
        ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
);
// Two placements never both see a scope free: the second waits for the first.
crate::locks::lock_store!(PgStore, "LOCK TABLE locks IN SHARE ROW EXCLUSIVE MODE");

//! The SQLite and PostgreSQL implementations of the `Store` trait, chosen by the
//! database URL's scheme.

mod postgres;
mod rows;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use app::ssr::Store;
use std::sync::Arc;

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Connects to the database at `url`, applies pending migrations and returns the store.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    open_with(url, None).await
}

/// [`open`], with migrations run through `owner_url` on PostgreSQL (see
/// `PgStore::open_with`): Houston then runs as a role that cannot rewrite the
/// audit log.
pub async fn open_with(url: &str, owner_url: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    match Backend::of_url(url) {
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore::open(url).await?)),
        Some(Backend::Postgres) => Ok(Arc::new(PgStore::open_with(url, owner_url).await?)),
        None => anyhow::bail!(
            "unsupported database URL {:?}: use sqlite:PATH or postgres://…",
            crate::config::redact_database_url(url)
        ),
    }
}

/// sqlx errors become opaque backend errors, except a unique-key violation.
pub(crate) fn backend_error(err: sqlx::Error) -> app::ssr::StoreError {
    app::ssr::StoreError::Backend(err.to_string())
}

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A case-insensitive "contains" pattern for `LIKE … ESCAPE '\'`.
pub(crate) fn like_pattern(needle: &str) -> String {
    let mut out = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("Ada"), "%ada%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}

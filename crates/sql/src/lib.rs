//! The SQLite and PostgreSQL implementations of the `Store` trait, chosen by the
//! database URL's scheme.

mod postgres;
mod rows;
mod shared;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use houston_store::Store;
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
            redact_database_url(url)
        ),
    }
}
/// A database URL fit for messages and logs: the password goes, in any of the
/// forms libpq and sqlx accept (`user:pass@`, `?password=`, `&sslpassword=`).
pub fn redact_database_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &base[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    format!("{}{user}:***{}", &base[..scheme + 3], &base[at..])
                }
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    match query {
        None => base,
        Some(query) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
    }
}

/// Ids of rows that are never deleted (metric series, error groups), by a key
/// made of their names, learnt once their transaction committed: an id once seen
/// stays right, and a batch of samples skips the lookups of its series.
#[derive(Default)]
pub(crate) struct IdCache(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl IdCache {
    /// Forgets everything past this many entries, so the cache stays small.
    const MAX_ENTRIES: usize = 100_000;

    pub(crate) fn get(&self, key: &str) -> Option<i64> {
        self.0.lock().ok()?.get(key).copied()
    }

    pub(crate) fn remember(&self, learnt: Vec<(String, i64)>) {
        if learnt.is_empty() {
            return;
        }
        if let Ok(mut ids) = self.0.lock() {
            if ids.len() + learnt.len() > Self::MAX_ENTRIES {
                ids.clear();
            }
            ids.extend(learnt);
        }
    }
}

/// The cache key of a series.
pub(crate) fn series_key(key: &houston_core::SeriesKey) -> String {
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        key.service,
        key.environment,
        key.metric,
        key.group.as_ref().map(|g| g.as_str()).unwrap_or_default()
    )
}

/// The cache key of an error group.
pub(crate) fn error_key(key: &houston_core::ErrorKey) -> String {
    format!(
        "{}\u{0}{}\u{0}{}",
        key.service, key.environment, key.fingerprint
    )
}

/// Rows of a batch, merged per error group: the earliest and latest time, and the
/// message and level of the latest event.
pub(crate) fn error_groups_of(
    batch: &houston_core::ErrorBatch,
) -> Vec<(
    &houston_core::ErrorKey,
    &houston_core::ErrorEvent,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
)> {
    let mut groups: std::collections::BTreeMap<
        &houston_core::ErrorKey,
        (
            &houston_core::ErrorEvent,
            chrono::DateTime<chrono::Utc>,
            chrono::DateTime<chrono::Utc>,
        ),
    > = std::collections::BTreeMap::new();
    for event in &batch.events {
        let entry = groups
            .entry(&event.key)
            .or_insert((event, event.at, event.at));
        entry.1 = entry.1.min(event.at);
        if event.at >= entry.2 {
            entry.0 = event;
            entry.2 = event.at;
        }
    }
    groups
        .into_iter()
        .map(|(key, (latest, first, last))| (key, latest, first, last))
        .collect()
}

/// sqlx errors become opaque backend errors, except a unique-key violation.
pub(crate) fn backend_error(err: sqlx::Error) -> houston_store::StoreError {
    houston_store::StoreError::Backend(err.to_string())
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
    use super::{like_pattern, redact_database_url};

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("Ada"), "%ada%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact_database_url("postgres://houston:s3cret@db:5432/houston"),
            "postgres://houston:***@db:5432/houston"
        );
        assert_eq!(
            redact_database_url("postgres://houston:p%40ss@w@db/houston"),
            "postgres://houston:***@db/houston"
        );
        assert_eq!(
            redact_database_url("postgresql://houston@db/houston?password=s3cret&sslmode=require"),
            "postgresql://houston@db/houston?password=***&sslmode=require"
        );
        assert_eq!(
            redact_database_url("postgres://db/houston?user=h&sslpassword=k3y"),
            "postgres://db/houston?user=h&sslpassword=***"
        );
        assert_eq!(
            redact_database_url("postgres://houston@db/houston"),
            "postgres://houston@db/houston"
        );
        assert_eq!(
            redact_database_url("sqlite:data/houston.db"),
            "sqlite:data/houston.db"
        );
    }
}

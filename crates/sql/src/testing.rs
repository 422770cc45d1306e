//! Throwaway databases for tests (feature `testing`): a temporary SQLite file, or a
//! fresh PostgreSQL database on the server named by `HOUSTON_TEST_POSTGRES_URL`
//! (default: the local server on 127.0.0.1:5432), copied from a migrated template
//! and dropped when the test ends, even when it fails. [`contract!`] runs a case on
//! both. The storage contract (`tests/contract/`) and the server's tests use them.

/// Runs each named case (an `async fn(Arc<dyn Store>)` in the calling module) on a
/// fresh SQLite file and on a fresh PostgreSQL database: the storage contract.
#[macro_export]
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = $crate::testing::sqlite().await;
                    super::$case(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = $crate::testing::postgres().await;
                    super::$case(db.store.clone()).await;
                }
            )*
        }
    };
}

/// [`contract!`] for cases that also reach the database behind the store's back:
/// each is an `async fn(Arc<dyn Store>, String)`, given the database's URL.
#[macro_export]
macro_rules! contract_with_url {
    ($($case:ident),* $(,)?) => {
        mod sqlite_raw {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = $crate::testing::sqlite().await;
                    super::$case(db.store.clone(), db.url.clone()).await;
                }
            )*
        }
        mod postgres_raw {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = $crate::testing::postgres().await;
                    super::$case(db.store.clone(), db.url.clone()).await;
                }
            )*
        }
    };
}

use houston_store::Store;
use sqlx::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub url: String,
    _cleanup: Cleanup,
}

enum Cleanup {
    /// Kept only to be dropped: the folder goes with it.
    Dir(#[allow(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    PgDatabase {
        admin_url: String,
        name: String,
    },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Cleanup::PgDatabase { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime the test may still hold: use a thread of our own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("houston.db").display());
    let store = crate::open(&url).await.expect("open sqlite store");
    TestDb {
        store,
        url,
        _cleanup: Cleanup::Dir(dir),
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("HOUSTON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub async fn postgres() -> TestDb {
    let admin_url = postgres_admin_url();
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is needed for this test and did not answer at {admin_url}: {e}. \
             Run scripts/test.sh (it starts a throwaway server when none runs) or set HOUSTON_TEST_POSTGRES_URL."
        )
    });
    let template = migrated_template(&mut admin, &admin_url).await;
    let name = format!(
        "houston_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros() % 1_000_000
    );
    // A copy of the migrated template: far cheaper than running every migration
    // for every test.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
    )))
    .execute(&mut admin)
    .await
    .expect("create test database from the template");
    let url = with_database(&admin_url, &name);
    let store = crate::open(&url).await.expect("open postgres store");
    TestDb {
        store,
        url,
        _cleanup: Cleanup::PgDatabase { admin_url, name },
    }
}

/// The name of a database with every migration applied, made once per set of
/// migrations (its name carries their digest, so a changed migration makes a new
/// one) and shared by test processes; an advisory lock lets one process make it.
async fn migrated_template(admin: &mut sqlx::PgConnection, admin_url: &str) -> String {
    use sha2::{Digest, Sha256};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut digest = Sha256::new();
    for file in &files {
        digest.update(
            file.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        digest.update(std::fs::read(file).expect("migration"));
    }
    let template = format!("houston_template_{}", &hex::encode(digest.finalize())[..16]);
    sqlx::query("SELECT pg_advisory_lock(7276873)")
        .execute(&mut *admin)
        .await
        .expect("template lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut *admin)
            .await
            .expect("look for the template");
    if !exists {
        let building = format!("{template}_building");
        for statement in [
            format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{building}\""),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *admin)
                .await
                .expect("create the template");
        }
        // One connection, closed before the rename: PostgreSQL renames and copies
        // only databases nobody is connected to.
        let mut conn = sqlx::PgConnection::connect(&with_database(admin_url, &building))
            .await
            .expect("connect to the template");
        sqlx::migrate!("../../migrations/postgres")
            .run(&mut conn)
            .await
            .expect("migrate the template");
        conn.close().await.expect("close the template connection");
        // Renamed only once complete, so a crash mid-way leaves no half template.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
        )))
        .execute(&mut *admin)
        .await
        .expect("name the template");
        // Templates of earlier migration sets are of no more use.
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'houston\\_template\\_%' AND datname <> $1",
        )
        .bind(&template)
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
        for name in stale {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut *admin)
            .await;
        }
    }
    sqlx::query("SELECT pg_advisory_unlock(7276873)")
        .execute(&mut *admin)
        .await
        .expect("template unlock");
    template
}

/// The same server URL with another database name.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// Runs one statement on the test database behind the store's back, as an operator
/// with a SQL shell would; the error text on failure.
pub async fn execute_raw(url: &str, sql: &'static str) -> Result<(), String> {
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// A token to store with no expiry and no owner, as `houston token create` makes.
pub fn new_token(
    name: &str,
    token_hash: &str,
    scopes: &[houston_core::TokenScope],
) -> houston_core::NewApiToken {
    houston_core::NewApiToken {
        name: name.to_owned(),
        token_hash: token_hash.to_owned(),
        scopes: scopes.to_vec(),
        expires_at: None,
        owner_user_id: None,
    }
}

/// The same URL with another user (and no password: the test server trusts loopback).
pub fn with_user(url: &str, user: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{}{user}@{host}", &url[..scheme_end])
}

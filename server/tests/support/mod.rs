//! Throwaway databases for tests: a temporary SQLite file, or a fresh PostgreSQL
//! database on the server named by `HOUSTON_TEST_POSTGRES_URL` (default: the local
//! server on 127.0.0.1:5432), dropped when the test ends, even when it fails.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use app::ssr::Store;
use sqlx::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub url: String,
    _cleanup: Cleanup,
}

enum Cleanup {
    Dir(tempfile::TempDir),
    PgDatabase { admin_url: String, name: String },
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
    let store = houston::storage::open(&url)
        .await
        .expect("open sqlite store");
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
    let name = format!(
        "houston_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros() % 1_000_000
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let url = with_database(&admin_url, &name);
    let store = houston::storage::open(&url)
        .await
        .expect("open postgres store");
    TestDb {
        store,
        url,
        _cleanup: Cleanup::PgDatabase { admin_url, name },
    }
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

/// A response, read whole.
pub struct Reply {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's value, or "" when it is absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// Sends one request through the router, as a client on a socket would.
pub async fn send(app: &axum::Router, request: axum::http::Request<axum::body::Body>) -> Reply {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A token to store with no expiry and no owner, as `houston token create` makes.
pub fn new_token(
    name: &str,
    token_hash: &str,
    scopes: &[app::domain::TokenScope],
) -> app::domain::NewApiToken {
    app::domain::NewApiToken {
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

//! What Houston writes to its log: never a typed password, and names people type
//! escaped (a tab or newline in a name cannot forge a log line). In a binary of its
//! own: tracing caches per call site whether anyone listens, so a test that listens
//! on its thread must not share the process with tests that do not.

#[path = "it/support.rs"]
mod support;

use app::domain::{Actor, NewPassword, Role, Username};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use houston::config::{Config, Overrides};
use houston::{AppState, router};
use std::net::SocketAddr;

use support::PASSWORD;

fn request(uri: &str, body: String, peer: &str) -> Request<Body> {
    let mut r = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    r.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
    r
}

/// Log lines written while `work` runs on this thread.
async fn logs_of<F: std::future::Future<Output = ()>>(work: F) -> String {
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    work.await;
    drop(guard);
    let bytes = buffer.0.lock().expect("lock").clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn logs_show_no_typed_password_and_escape_typed_names() {
    let db = support::sqlite().await;
    let vars = [
        ("HOUSTON_TRUSTED_PROXIES", "10.0.0.1"),
        ("HOUSTON_PROXY_USER_HEADER", "X-Forwarded-User"),
    ];
    let config = Config::from_lookup(
        |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        },
        &Overrides::default(),
    )
    .expect("config");
    let app = router(AppState::new(db.store.clone(), config));
    let hash = app::server::password::hash_password(&NewPassword::parse(PASSWORD).expect("valid"))
        .expect("hash");
    db.store
        .create_user(
            &Username::parse("ada").expect("valid"),
            &hash,
            Role::Viewer,
            &Actor::new("cli:test", None),
            chrono::Utc::now(),
        )
        .await
        .expect("user");
    let login = |password: &str, peer: &str| {
        request(
            "/api/login",
            format!("username=ada&password={}", password.replace(' ', "+")),
            peer,
        )
    };
    let logs = logs_of(async {
        let wrong = support::send(&app, login("hunter2 typed by mistake", "10.9.0.1:4000")).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
        support::send(&app, login(PASSWORD, "10.9.0.2:4000")).await;
        let mut r = request("/api/whoami", String::new(), "10.0.0.1:5000");
        r.headers_mut().insert(
            "x-forwarded-user",
            "mallory\tforged".parse().expect("value"),
        );
        support::send(&app, r).await;
    })
    .await;
    assert!(
        logs.contains("sign-in failed"),
        "the log was captured: {logs}"
    );
    assert!(logs.contains("signed in"), "{logs}");
    assert!(!logs.contains("hunter2"), "{logs}");
    assert!(!logs.contains(PASSWORD), "{logs}");
    assert!(
        !logs.contains("mallory\tforged"),
        "a raw tab from a typed name: {logs}"
    );
    assert!(logs.contains("mallory\\tforged"), "escaped instead: {logs}");
}

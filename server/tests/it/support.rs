//! What the server's tests share: throwaway databases (`houston_sql::testing`) and
//! requests sent through the router.

#![allow(
    dead_code,
    reason = "tests/logs.rs, a binary of its own, uses a part of this module"
)]

#[allow(
    unused_imports,
    reason = "tests/logs.rs, a binary of its own, uses only some"
)]
pub use houston_sql::testing::{
    TestDb, execute_raw, new_token, postgres, postgres_admin_url, sqlite, with_database, with_user,
};

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

/// The password every test account is given.
pub const PASSWORD: &str = "correct horse battery";

/// One Houston for a test: its router, its state and its database. Made by
/// [`TestApp::on`]: `TestApp::on(sqlite().await).env("HOUSTON_X", "1").with_token(…).build()`.
pub struct TestApp {
    pub app: axum::Router,
    pub state: houston::AppState,
    pub db: TestDb,
    /// The API token `with_token` made (empty without one).
    pub api_token: String,
}

/// How a [`TestApp`] is set up: its settings (as environment variables, the way an
/// operator gives them), an API token, and any change to the read configuration.
pub struct TestAppBuilder {
    db: TestDb,
    vars: Vec<(String, String)>,
    token: Option<(String, Vec<app::domain::TokenScope>)>,
    adjust: Vec<Adjust>,
}

/// A change to the configuration, made before the app is built.
type Adjust = Box<dyn FnOnce(&mut houston::config::Config)>;

impl TestApp {
    pub fn on(db: TestDb) -> TestAppBuilder {
        TestAppBuilder {
            db,
            vars: Vec::new(),
            token: None,
            adjust: Vec::new(),
        }
    }

    /// Sends one request through the router.
    pub async fn send(&self, request: axum::http::Request<axum::body::Body>) -> Reply {
        send(&self.app, request).await
    }

    /// An account with [`PASSWORD`], signed in: the account and its session cookie.
    pub async fn person(&self, name: &str, role: app::domain::Role) -> (app::domain::User, String) {
        use app::domain::{Actor, NewPassword, Username};
        static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = HASH.get_or_init(|| {
            app::server::password::hash_password(&NewPassword::parse(PASSWORD).expect("valid"))
                .expect("hash")
        });
        let now = chrono::Utc::now();
        let user = self
            .db
            .store
            .create_user(
                &Username::parse(name).expect("valid"),
                hash,
                role,
                &Actor::new("cli:test", None),
                now,
            )
            .await
            .expect("user");
        let id = app::server::session::new_session_id();
        self.db
            .store
            .create_session(
                &app::server::session::hash_session_id(&id),
                &user,
                now + chrono::Duration::hours(1),
                &Actor::new(format!("user:{name}"), None),
                now,
            )
            .await
            .expect("session");
        (user, format!("houston_session={id}"))
    }

    /// A token with `scopes`, as `houston token create` stores it: its secret.
    pub async fn token(&self, name: &str, scopes: &[app::domain::TokenScope]) -> String {
        let secret = app::server::token::generate_token();
        self.db
            .store
            .create_api_token(
                &new_token(name, &app::server::token::hash_token(&secret), scopes),
                &app::domain::Actor::new("cli:test", None),
                chrono::Utc::now(),
            )
            .await
            .expect("token");
        secret
    }
}

impl TestAppBuilder {
    /// A setting, as the environment variable `name` would give it.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn envs(self, vars: &[(&str, &str)]) -> Self {
        vars.iter()
            .fold(self, |b, (name, value)| b.env(name, value))
    }

    /// An API token with `scopes`, kept as the app's `api_token`.
    pub fn with_token(mut self, name: &str, scopes: &[app::domain::TokenScope]) -> Self {
        self.token = Some((name.to_owned(), scopes.to_vec()));
        self
    }

    /// A change to the configuration read from the settings (what no variable sets).
    pub fn config(mut self, adjust: impl FnOnce(&mut houston::config::Config) + 'static) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    pub async fn build(self) -> TestApp {
        let vars = self.vars;
        let mut config = houston::config::Config::from_lookup(
            |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            &houston::config::Overrides::default(),
        )
        .expect("config");
        for adjust in self.adjust {
            adjust(&mut config);
        }
        let state = houston::AppState::new(self.db.store.clone(), config);
        let mut app = TestApp {
            app: houston::router(state.clone()),
            state,
            db: self.db,
            api_token: String::new(),
        };
        if let Some((name, scopes)) = self.token {
            app.api_token = app.token(&name, &scopes).await;
        }
        app
    }
}

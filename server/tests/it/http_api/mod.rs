//! The HTTP API driven through `router(state)`: registration, validation, auth,
//! history queries, GitHub webhooks, health, OpenAPI and the server-rendered pages.

use crate::support::{Reply, TestApp};

use app::domain::{Actor, TokenScope};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

type Harness = TestApp;

/// A Houston on a fresh SQLite file with `vars`, and a token for deploying, ingesting,
/// reading and sending alerts.
async fn harness_with(vars: &[(&str, &str)]) -> Harness {
    TestApp::on(crate::support::sqlite().await)
        .envs(vars)
        .with_token(
            "test",
            &[
                TokenScope::Deploy,
                TokenScope::Ingest,
                TokenScope::Read,
                TokenScope::Alerts,
            ],
        )
        .build()
        .await
}

/// Unsigned GitHub deliveries are allowed here so webhook tests can leave the
/// signature out; the signing tests set a secret.
async fn harness() -> Harness {
    harness_with(&[("HOUSTON_GITHUB_WEBHOOK_ALLOW_UNSIGNED", "true")]).await
}

impl TestApp {
    /// A GET with the harness's token: reading needs a signed-in caller.
    async fn get(&self, uri: &str) -> Reply {
        self.send(
            Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {}", self.api_token))
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    async fn post_json(&self, uri: &str, body: &Value) -> Reply {
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", self.api_token))
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await
    }

    async fn deploy_count(&self) -> usize {
        let r = self.get("/api/v1/deploys?limit=200").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["deploys"].as_array().map_or(0, Vec::len)
    }
}

fn checkout(version: &str) -> Value {
    json!({ "service": "checkout", "environment": "production", "version": version })
}

mod deploys;
mod gate;
mod github;
mod incidents;
mod pages;
mod signals;

/// A harness's app served on a loopback port, for the `houston` binary to call;
/// [`Serving::stop`] ends it.
pub(crate) struct Serving {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Serving {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("task").expect("serve");
    }
}

impl TestApp {
    /// Serves the app on 127.0.0.1; answers its base URL.
    pub(crate) async fn serve_on_loopback(&self) -> (String, Serving) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(houston::listener::serve(
            listener,
            self.app.clone(),
            houston::listener::ListenerLimits {
                header_read_timeout: std::time::Duration::from_secs(5),
                shutdown_grace: std::time::Duration::from_secs(1),
            },
            async move {
                let _ = stopped.await;
            },
        ));
        (server, Serving { stop, task })
    }
}

/// `houston COMMAND ARGS` run as CI runs it, against `server` with `token`: its exit
/// code, standard output and standard error.
pub(crate) async fn houston_cli(
    server: &str,
    token: &str,
    command: &str,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_houston"));
    cli.args(command.split(' '))
        .args(args)
        .env("HOUSTON_URL", server)
        .env("HOUSTON_TOKEN", token);
    let output = tokio::task::spawn_blocking(move || cli.output())
        .await
        .expect("task")
        .expect("run houston");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

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

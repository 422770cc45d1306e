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

#[tokio::test]
async fn registering_a_deploy_returns_201_with_location_and_the_deploy() {
    let h = harness().await;
    let body = json!({
        "service": "checkout", "environment": "production", "version": "v1.4.0",
        "author": "ada", "ci_url": "https://ci.example/1",
        "commits": [{ "sha": "abc1234", "message": "Speed up cart", "author": "ada" }]
    });
    let r = h.post_json("/api/v1/deploys", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let deploy = r.json();
    let id = deploy["id"].as_i64().expect("id");
    assert_eq!(
        r.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/deploys/{id}").as_str())
    );
    assert_eq!(deploy["status"], "in_progress");

    let detail = h.get(&format!("/api/v1/deploys/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(detail.json()["commits"][0]["message"], "Speed up cart");
}

#[tokio::test]
async fn registration_is_idempotent_by_external_id_and_idempotency_key() {
    let h = harness().await;
    let mut body = checkout("v1");
    body["external_id"] = json!("run-77");
    let first = h.post_json("/api/v1/deploys", &body).await;
    let second = h.post_json("/api/v1/deploys", &body).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(first.json()["id"], second.json()["id"]);

    let keyed = |key: &str| {
        Request::post("/api/v1/deploys")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
            .header("Idempotency-Key", key)
            .body(Body::from(checkout("v2").to_string()))
            .expect("request")
    };
    let a = h.send(keyed("key-1")).await;
    let b = h.send(keyed("key-1")).await;
    assert_eq!((a.status, b.status), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a.json()["id"], b.json()["id"]);
    assert_eq!(h.deploy_count().await, 2);

    // Another caller's id is not theirs to take over (review M5): 409, nothing
    // changes, and the owner still gets its deploy back.
    let other = app::server::token::generate_token();
    h.state
        .store
        .create_api_token(
            &crate::support::new_token(
                "other-pipeline",
                &app::server::token::hash_token(&other),
                &[TokenScope::Deploy, TokenScope::Read],
            ),
            &Actor::new("cli:test", None),
            chrono::Utc::now(),
        )
        .await
        .expect("token");
    let squat = h
        .send(
            Request::post("/api/v1/deploys")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {other}"))
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(squat.status, StatusCode::CONFLICT, "{}", squat.text);
    assert!(!squat.text.contains("token:test"), "the owner is not named");
    let again = h.post_json("/api/v1/deploys", &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(h.deploy_count().await, 2);
}

#[tokio::test]
async fn writes_need_a_valid_token() {
    let h = harness().await;
    let anonymous = h
        .send(
            Request::post("/api/v1/deploys")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(checkout("v1").to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json()["error"], "unauthorized");
    assert_eq!(
        anonymous
            .headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );

    let forged = h
        .send(
            Request::post("/api/v1/deploys")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, "Bearer hst_not-a-real-token")
                .body(Body::from(checkout("v1").to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.deploy_count().await, 0, "nothing was stored");
    assert_eq!(
        h.send(
            Request::get("/api/v1/deploys")
                .body(Body::empty())
                .expect("request")
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED,
        "reads need a caller too (HOUSTON_ALLOW_ANONYMOUS_READ is off)"
    );
}

#[tokio::test]
async fn invalid_registrations_get_clear_errors_and_store_nothing() {
    let h = harness_with(&[("HOUSTON_MAX_BODY_BYTES", "2048")]).await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({ "environment": "production", "version": "v1" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "service",
        ),
        (
            json!({ "service": "checkout", "environment": "production", "version": "  " }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "version",
        ),
        (
            json!({ "service": "checkout", "environment": "production", "version": "v1", "started_at": "last tuesday" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "started_at",
        ),
        (
            json!({ "service": "checkout", "environment": "production", "version": "v1", "status": "done" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "status",
        ),
        (
            json!({ "service": "bad name!", "environment": "production", "version": "v1" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "service",
        ),
    ];
    for (body, status, field) in cases {
        let r = h.post_json("/api/v1/deploys", &body).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        let err = r.json();
        assert_eq!(err["error"], "validation");
        assert!(
            err["message"].as_str().is_some_and(|m| m.contains(field)),
            "{}",
            r.text
        );
        assert_eq!(err["fields"][0]["field"], field);
    }

    let unknown_field = h
        .post_json(
            "/api/v1/deploys",
            &json!({ "service": "a", "environment": "b", "verison": "1" }),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown_field.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("verison"))
    );

    let raw = |content_type: &str, body: String| {
        Request::post("/api/v1/deploys")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
            .body(Body::from(body))
            .expect("request")
    };
    let not_json = h.send(raw("application/json", "{not json".into())).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.json()["error"], "bad_request");
    let wrong_type = h.send(raw("text/plain", checkout("v1").to_string())).await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        wrong_type.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("application/json"))
    );
    let mut huge = checkout("v1");
    huge["description"] = json!("x".repeat(4096));
    let too_large = h.send(raw("application/json", huge.to_string())).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.json()["error"], "payload_too_large");

    assert_eq!(
        h.deploy_count().await,
        0,
        "no invalid request stored anything"
    );
}

#[tokio::test]
async fn status_moves_a_deploy_to_finished() {
    let h = harness().await;
    let mut body = checkout("v1");
    body["started_at"] = json!("2026-11-20T10:00:00Z");
    let id = h.post_json("/api/v1/deploys", &body).await.json()["id"]
        .as_i64()
        .expect("id");

    let ok = h
        .post_json(
            &format!("/api/v1/deploys/{id}/status"),
            &json!({ "status": "succeeded", "finished_at": "2026-11-20T10:04:00Z" }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.json()["status"], "succeeded");
    assert_eq!(ok.json()["finished_at"], "2026-11-20T10:04:00Z");

    let back = h
        .post_json(
            &format!("/api/v1/deploys/{id}/status"),
            &json!({ "status": "in_progress" }),
        )
        .await;
    assert_eq!(back.status, StatusCode::UNPROCESSABLE_ENTITY);
    let early = h
        .post_json(
            &format!("/api/v1/deploys/{id}/status"),
            &json!({ "status": "failed", "finished_at": "2026-11-20T09:00:00Z" }),
        )
        .await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(early.json()["fields"][0]["field"], "finished_at");
    let missing = h
        .post_json(
            "/api/v1/deploys/999999/status",
            &json!({ "status": "failed" }),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "not_found");
    let stored = h.get(&format!("/api/v1/deploys/{id}")).await.json();
    assert_eq!(
        stored["status"], "succeeded",
        "refused changes changed nothing"
    );
    assert_eq!(stored["registered_by"], "token:test");
    assert_eq!(stored["status_changed_by"], "token:test");

    // The same status again changes nothing; a report older than the current
    // status is ignored; the rule refuses a failed deploy becoming succeeded.
    let uri = format!("/api/v1/deploys/{id}/status");
    let status = |body: Value| {
        let (h, uri) = (&h, &uri);
        async move { h.post_json(uri, &body).await }
    };
    let same =
        status(json!({ "status": "succeeded", "finished_at": "2026-11-20T10:09:00Z" })).await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(same.json()["finished_at"], "2026-11-20T10:04:00Z");
    let late = status(json!({ "status": "failed", "finished_at": "2026-11-20T10:02:00Z" })).await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(
        late.json()["status"],
        "succeeded",
        "an older report never wins"
    );
    let failed = status(json!({ "status": "failed", "finished_at": "2026-11-20T10:30:00Z" })).await;
    assert_eq!(failed.json()["status"], "failed", "{}", failed.text);
    let revived =
        status(json!({ "status": "succeeded", "finished_at": "2026-11-20T10:40:00Z" })).await;
    assert_eq!(revived.status, StatusCode::CONFLICT, "{}", revived.text);
    assert_eq!(revived.json()["error"], "conflict");
}

#[tokio::test]
async fn api_callers_cannot_take_the_webhooks_external_ids() {
    let h = harness().await;
    let mut body = checkout("v1");
    body["external_id"] = json!("github:Codertocat/Hello-World#145988746");
    let squat = h.post_json("/api/v1/deploys", &body).await;
    assert_eq!(
        squat.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        squat.text
    );
    assert_eq!(squat.json()["fields"][0]["field"], "external_id");
    let squat = h
        .send(
            Request::post("/api/v1/deploys")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
                .header("Idempotency-Key", "github:Codertocat/Hello-World#145988746")
                .body(Body::from(checkout("v1").to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(
        squat.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        squat.text
    );
    assert_eq!(h.deploy_count().await, 0);
    // The real deployment then registers as GitHub's.
    let body = fixture("deployment.json");
    let created = h.send(github("deployment", "g-1", body, None)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(
        created.json()["deploy"]["registered_by"],
        "github:Codertocat/Hello-World"
    );
}

#[tokio::test]
async fn github_webhooks_are_closed_without_a_secret() {
    let h = harness_with(&[]).await;
    let r = h
        .send(github(
            "deployment",
            "c-1",
            fixture("deployment.json"),
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.json()["error"], "not_configured");
    assert!(
        r.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("HOUSTON_GITHUB_WEBHOOK_SECRET")),
        "{}",
        r.text
    );
    assert_eq!(h.deploy_count().await, 0, "nothing was created");
}

#[tokio::test]
async fn history_filters_and_pages_through_the_api() {
    let h = harness().await;
    for i in 0..5 {
        let body = json!({
            "service": if i % 2 == 0 { "checkout" } else { "search" },
            "environment": "production", "version": format!("v{i}"),
            "started_at": format!("2026-11-20T10:0{i}:00Z"), "author": "ada"
        });
        assert_eq!(
            h.post_json("/api/v1/deploys", &body).await.status,
            StatusCode::CREATED
        );
    }
    let page = h
        .get("/api/v1/deploys?service=checkout&limit=2")
        .await
        .json();
    let versions: Vec<_> = page["deploys"]
        .as_array()
        .expect("array")
        .iter()
        .map(|d| d["version"].clone())
        .collect();
    assert_eq!(versions, [json!("v4"), json!("v2")]);
    let cursor = page["next_cursor"].as_str().expect("more pages");
    let next = h
        .get(&format!(
            "/api/v1/deploys?service=checkout&limit=2&cursor={cursor}"
        ))
        .await
        .json();
    assert_eq!(next["deploys"][0]["version"], "v0");
    assert!(next["next_cursor"].is_null());

    let window = h
        .get("/api/v1/deploys?since=2026-11-20T10:01:00Z&until=2026-11-20T10:03:00Z")
        .await
        .json();
    assert_eq!(window["deploys"].as_array().map(Vec::len), Some(2));

    let bad = h.get("/api/v1/deploys?status=great&limit=0").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = bad.json()["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].clone())
        .collect();
    assert_eq!(fields, [json!("status"), json!("limit")]);
    assert_eq!(
        h.get("/api/v1/deploys?limit=abc").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.get("/api/v1/deploys/999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get("/api/v1/deploys/not-a-number").await.status,
        StatusCode::NOT_FOUND
    );
    let unknown = h.get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"], "not_found");
}

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn github(event: &str, delivery: &str, body: Vec<u8>, signature: Option<String>) -> Request<Body> {
    let mut r = Request::post("/api/v1/webhooks/github")
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header(header::USER_AGENT, "GitHub-Hookshot/test");
    if let Some(sig) = signature {
        r = r.header("X-Hub-Signature-256", sig);
    }
    r.body(Body::from(body)).expect("request")
}

#[tokio::test]
async fn every_github_fixture_lands_as_the_right_deploy_and_status() {
    for (deployment_file, status_file) in [
        ("deployment.json", "deployment_status.json"),
        (
            "deployment_with-installation.json",
            "deployment_status_with-installation.json",
        ),
    ] {
        let secret = "webhook-secret";
        let h = harness_with(&[("HOUSTON_GITHUB_WEBHOOK_SECRET", secret)]).await;
        let body = fixture(deployment_file);
        let created = h
            .send(github(
                "deployment",
                "d-1",
                body.clone(),
                Some(sign(secret, &body)),
            ))
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{deployment_file}: {}",
            created.text
        );
        let deploy = &created.json()["deploy"];
        assert_eq!(deploy["service"], "Hello-World");
        assert_eq!(deploy["environment"], "production");
        assert_eq!(
            deploy["version"],
            "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
        );
        assert_eq!(deploy["author"], "Codertocat");
        assert_eq!(deploy["status"], "in_progress");
        assert_eq!(deploy["source"], "github_webhook");
        assert_eq!(deploy["started_at"], "2019-05-15T15:20:53Z");
        assert_eq!(
            deploy["external_id"],
            "github:Codertocat/Hello-World#145988746"
        );

        let body = fixture(status_file);
        let updated = h
            .send(github(
                "deployment_status",
                "d-2",
                body.clone(),
                Some(sign(secret, &body)),
            ))
            .await;
        assert_eq!(
            updated.status,
            StatusCode::OK,
            "{status_file}: {}",
            updated.text
        );
        assert_eq!(updated.json()["outcome"], "updated");
        let deploys = h.get("/api/v1/deploys").await.json();
        assert_eq!(
            deploys["deploys"].as_array().map(Vec::len),
            Some(1),
            "one deploy, not two"
        );
        assert_eq!(deploys["deploys"][0]["status"], "succeeded");
        assert_eq!(deploys["deploys"][0]["finished_at"], "2019-05-15T15:20:55Z");
    }
}

#[tokio::test]
async fn a_status_before_its_deployment_registers_the_deploy_finished() {
    let h = harness().await;
    let r = h
        .send(github(
            "deployment_status",
            "only-status",
            fixture("deployment_status.json"),
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["deploy"]["status"], "succeeded");
    let later = h
        .send(github(
            "deployment",
            "late-deployment",
            fixture("deployment.json"),
            None,
        ))
        .await;
    assert_eq!(later.status, StatusCode::OK);
    assert_eq!(
        later.json()["deploy"]["status"],
        "succeeded",
        "the late deployment event changes nothing"
    );
}

#[tokio::test]
async fn github_signatures_are_enforced_and_repeated_deliveries_change_nothing() {
    let secret = "s3cret";
    let h = harness_with(&[("HOUSTON_GITHUB_WEBHOOK_SECRET", secret)]).await;
    let body = fixture("deployment.json");

    let unsigned = h
        .send(github("deployment", "x-1", body.clone(), None))
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let wrong = h
        .send(github(
            "deployment",
            "x-2",
            body.clone(),
            Some(sign("other-secret", &body)),
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let tampered_reply = h
        .send(github(
            "deployment",
            "x-3",
            tampered,
            Some(sign(secret, &body)),
        ))
        .await;
    assert_eq!(tampered_reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.deploy_count().await, 0, "refused webhooks stored nothing");

    let status_body = fixture("deployment_status.json");
    let first = h
        .send(github(
            "deployment_status",
            "same-delivery",
            status_body.clone(),
            Some(sign(secret, &status_body)),
        ))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = h
        .send(github(
            "deployment_status",
            "same-delivery",
            status_body.clone(),
            Some(sign(secret, &status_body)),
        ))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["outcome"], "duplicate_delivery");
    assert_eq!(h.deploy_count().await, 1);

    let ping = h
        .send(github(
            "ping",
            "p-1",
            b"{}".to_vec(),
            Some(sign(secret, b"{}")),
        ))
        .await;
    assert_eq!(ping.status, StatusCode::OK);
    assert_eq!(ping.json()["outcome"], "ignored");
    let garbage = h
        .send(github(
            "deployment",
            "g-1",
            b"{}".to_vec(),
            Some(sign(secret, b"{}")),
        ))
        .await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn health_readiness_and_openapi_are_served() {
    let h = harness().await;
    assert_eq!(h.get("/healthz").await.status, StatusCode::OK);
    let ready = h.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["database"], "sqlite");

    let doc = h.get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for path in [
        "/api/v1/deploys",
        "/api/v1/deploys/{id}",
        "/api/v1/deploys/{id}/status",
        "/api/v1/webhooks/github",
    ] {
        assert!(doc["paths"][path].is_object(), "OpenAPI lacks {path}");
    }
    assert!(doc["components"]["schemas"]["DeployRequest"].is_object());
}

#[tokio::test]
async fn pages_render_on_the_server_with_stored_deploys() {
    let h = harness().await;
    let body = json!({
        "service": "checkout", "environment": "production", "version": "v9.9.9", "author": "grace",
        "commits": [{ "sha": "0123456789abcdef", "message": "Make checkout faster" }]
    });
    let id = h.post_json("/api/v1/deploys", &body).await.json()["id"]
        .as_i64()
        .expect("id");

    let board = h.get("/").await;
    assert_eq!(board.status, StatusCode::OK);
    assert!(board.text.contains("Mission control"));
    assert!(
        board.text.contains("checkout")
            && board.text.contains("v9.9.9")
            && board.text.contains("grace"),
        "{}",
        board.text
    );

    let detail = h.get(&format!("/deploys/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.text.contains("Make checkout faster"));

    let history = h.get("/deploys?service=checkout").await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(history.text.contains("v9.9.9"));
    let empty = h.get("/deploys?service=search").await;
    assert!(empty.text.contains("No deploys match"));

    assert_eq!(h.get("/no/such/page").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let h = harness().await;
    for uri in [
        "/",
        "/deploys",
        "/api/v1/deploys",
        "/api/v1/nothing",
        "/healthz",
    ] {
        let r = h.get(uri).await;
        let get = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(get("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(get("x-frame-options"), "DENY", "{uri}");
        assert_eq!(get("referrer-policy"), "same-origin", "{uri}");
        assert!(
            get("content-security-policy").contains("frame-ancestors 'none'"),
            "{uri}"
        );
        assert_eq!(
            get("cache-control"),
            "no-store",
            "{uri}: nothing personal is cached"
        );
    }
    let file = h.get("/favicon.svg").await;
    assert_ne!(
        file.header("cache-control"),
        "no-store",
        "static files may be cached"
    );
}

#[tokio::test]
async fn token_scopes_decide_what_a_token_may_call() {
    let h = harness().await;
    let id = h.post_json("/api/v1/deploys", &checkout("v1")).await.json()["id"]
        .as_i64()
        .expect("id");
    let store = h.db.store.clone();
    let mut tokens = vec![("none", None)];
    for scopes in [
        vec![TokenScope::Deploy],
        vec![TokenScope::Gate, TokenScope::Ingest],
        vec![TokenScope::Admin],
    ] {
        let secret = app::server::token::generate_token();
        let name = TokenScope::join(&scopes);
        store
            .create_api_token(
                &crate::support::new_token(
                    &name,
                    &app::server::token::hash_token(&secret),
                    &scopes,
                ),
                &Actor::new("cli:test", None),
                chrono::Utc::now(),
            )
            .await
            .expect("token");
        tokens.push((
            if scopes == [TokenScope::Deploy] {
                "deploy"
            } else if scopes.contains(&TokenScope::Admin) {
                "admin"
            } else {
                "gate,ingest"
            },
            Some(secret),
        ));
    }
    let call = |method: &str, uri: &str, body: Option<Value>, token: &Option<String>| {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        r.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request")
    };
    let register = checkout("v2");
    let status = json!({ "status": "succeeded" });
    let status_uri = format!("/api/v1/deploys/{id}/status");
    let metrics = json!({"series": [{"service": "checkout", "environment": "production", "metric": "m", "points": []}]});
    // (who, register, status change, audit read, history read, metrics push): only
    // a `read` (or `admin`) token reads history.
    let expected = [
        ("none", 401, 401, 401, 401, 401),
        ("deploy", 201, 200, 403, 403, 403),
        ("gate,ingest", 403, 403, 403, 403, 200),
        ("admin", 201, 200, 200, 200, 200),
    ];
    for (who, token) in &tokens {
        let want = expected.iter().find(|e| e.0 == *who).expect("row");
        let got = (
            h.send(call(
                "POST",
                "/api/v1/deploys",
                Some(register.clone()),
                token,
            ))
            .await
            .status
            .as_u16(),
            h.send(call("POST", &status_uri, Some(status.clone()), token))
                .await
                .status
                .as_u16(),
            h.send(call("GET", "/api/v1/audit", None, token))
                .await
                .status
                .as_u16(),
            h.send(call("GET", "/api/v1/deploys", None, token))
                .await
                .status
                .as_u16(),
            h.send(call(
                "POST",
                "/api/v1/metrics",
                Some(metrics.clone()),
                token,
            ))
            .await
            .status
            .as_u16(),
        );
        assert_eq!(
            got,
            (want.1, want.2, want.3, want.4, want.5),
            "token with scopes {who}"
        );
    }
}

#[tokio::test]
async fn the_audit_log_lists_token_changes_for_admins() {
    let h = harness().await;
    let store = h.db.store.clone();
    let admin = app::server::token::generate_token();
    store
        .create_api_token(
            &crate::support::new_token(
                "root",
                &app::server::token::hash_token(&admin),
                &[TokenScope::Admin],
            ),
            &Actor::new("cli:ops", None),
            chrono::Utc::now(),
        )
        .await
        .expect("token");
    store
        .revoke_api_token(
            "test",
            &Actor::new("cli:ops", None),
            None,
            chrono::Utc::now(),
        )
        .await
        .expect("revoke");
    let get = |uri: &str| {
        Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .body(Body::empty())
            .expect("request")
    };
    let all = h.send(get("/api/v1/audit")).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let entries = all.json();
    let actions: Vec<_> = entries
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        actions,
        ["token.revoke", "token.create", "token.create"],
        "newest first"
    );
    assert_eq!(entries[0]["target"], "token:test");
    assert_eq!(entries[0]["actor"], "cli:ops");
    let only_creates = h
        .send(get("/api/v1/audit?action=token.create&actor=cli:ops"))
        .await
        .json();
    assert_eq!(only_creates.as_array().map(Vec::len), Some(1));
    assert_eq!(only_creates[0]["detail"], "scopes: admin; expires: never");
    assert_eq!(
        h.send(get("/api/v1/audit?limit=0")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        h.send(get("/api/v1/audit?since=yesterday")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn signing_in_sets_a_session_cookie_that_opens_the_account_page() {
    let h = harness().await;
    let password = app::domain::NewPassword::parse("correct horse battery").expect("valid");
    let hash = app::server::password::hash_password(&password).expect("hash");
    h.db.store
        .create_user(
            &app::domain::Username::parse("ada").expect("valid"),
            &hash,
            app::domain::Role::Lead,
            &Actor::new("cli:test", None),
            chrono::Utc::now(),
        )
        .await
        .expect("user");
    let form = |uri: &str, body: &str, cookie: Option<&str>| {
        // As a browser submits the form before the page has hydrated.
        let mut r = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header("sec-fetch-site", "same-origin");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        r.body(Body::from(body.to_owned())).expect("request")
    };
    let get_with = |uri: &str, cookie: Option<&str>| {
        let mut r = Request::get(uri);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        r.body(Body::empty()).expect("request")
    };

    let anonymous = h.send(get_with("/account", None)).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some("/login?next=/account")
    );

    let wrong = h
        .send(form(
            "/api/login",
            "username=ada&password=wrong+password+here",
            None,
        ))
        .await;
    assert!(
        wrong.headers.get(header::SET_COOKIE).is_none(),
        "no session for a wrong password"
    );
    let unknown = h
        .send(form(
            "/api/login",
            "username=nobody&password=correct+horse+battery",
            None,
        ))
        .await;
    assert!(unknown.headers.get(header::SET_COOKIE).is_none());
    assert_eq!(
        (unknown.status, &unknown.text),
        (wrong.status, &wrong.text),
        "an unknown name and a wrong password look the same"
    );

    let ok = h
        .send(form(
            "/api/login",
            "username=Ada&password=correct+horse+battery&next=%2Faccount",
            None,
        ))
        .await;
    assert!(ok.status.is_redirection(), "{} {}", ok.status, ok.text);
    assert_eq!(
        ok.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some("/account")
    );
    let set_cookie = ok
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(set_cookie.starts_with("houston_session="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    let account = h.send(get_with("/account", Some(&cookie))).await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(
        account.text.contains("ada") && account.text.contains("lead"),
        "{}",
        account.text
    );

    let again = h
        .send(form(
            "/api/login",
            "username=ada&password=correct+horse+battery",
            Some(&cookie),
        ))
        .await;
    let rotated = again
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("cookie");
    assert_ne!(
        rotated.split(';').next(),
        Some(cookie.as_str()),
        "a new session id at every login"
    );
    assert_eq!(
        h.send(get_with("/account", Some(&cookie))).await.status,
        StatusCode::SEE_OTHER,
        "the old session ended"
    );

    let new_cookie = rotated.split(';').next().expect("pair").to_owned();
    let out = h.send(form("/api/logout", "", Some(&new_cookie))).await;
    assert!(
        out.headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    assert_eq!(
        h.send(get_with("/account", Some(&new_cookie))).await.status,
        StatusCode::SEE_OTHER,
        "signed out"
    );
}

/// A time `minutes` from now, as RFC 3339 and as Unix seconds.
fn recent(minutes: i64) -> (String, i64) {
    use chrono::Timelike;
    let t =
        chrono::Utc::now().with_nanosecond(0).expect("time") + chrono::Duration::minutes(minutes);
    (t.to_rfc3339(), t.timestamp())
}

fn metrics_read_uri(metric: &str, group: Option<&str>) -> String {
    let (from, _) = recent(-120);
    let (to, _) = recent(10);
    let group = group.map(|g| format!("&group={g}")).unwrap_or_default();
    format!(
        "/api/v1/metrics?service=checkout&environment=production&metric={metric}{group}&from={}&to={}",
        urlencoding(&from),
        urlencoding(&to)
    )
}

fn urlencoding(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn metrics_are_pushed_once_per_time_and_read_back() {
    let h = harness().await;
    let (t1, _) = recent(-3);
    let (_, t2) = recent(-2);
    let body = json!({"series": [
        {"service": "checkout", "environment": "production", "metric": "http_5xx_ratio",
         "group": "canary", "points": [[t1, 0.013], [t2, 0.02]]},
    ]});
    let r = h.post_json("/api/v1/metrics", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), json!({"accepted": 2}));
    // The same points again, one value changed: one sample per time.
    let again = json!({"series": [
        {"service": "checkout", "environment": "production", "metric": "http_5xx_ratio",
         "group": "canary", "points": [[t2, 0.5]]},
    ]});
    assert_eq!(
        h.post_json("/api/v1/metrics", &again).await.status,
        StatusCode::OK
    );
    let r = h
        .get(&metrics_read_uri("http_5xx_ratio", Some("canary")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let points = r.json()["points"].clone();
    let points = points.as_array().expect("points");
    assert_eq!(points.len(), 2);
    assert_eq!(points[0][1], json!(0.013));
    assert_eq!(points[1][1], json!(0.5), "the last value wins");
    let first = points[0][0].as_str().expect("time");
    assert!(first.ends_with('Z'), "RFC 3339 in UTC: {first}");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(first)
            .expect("time")
            .timestamp(),
        chrono::DateTime::parse_from_rfc3339(&t1)
            .expect("time")
            .timestamp()
    );
    // Without the group it is another series, empty here.
    let r = h.get(&metrics_read_uri("http_5xx_ratio", None)).await;
    assert_eq!(r.json(), json!({"points": []}));
    // A read that makes no sense says why.
    let r = h
        .get("/api/v1/metrics?service=checkout&environment=production&metric=m&from=2026-11-22T10:00:00Z&to=2026-11-21T10:00:00Z")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json()["fields"][0]["field"], "to");
}

/// A raw body to `uri` with the harness's token.
fn raw_post(h: &Harness, uri: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
        .body(Body::from(body))
        .expect("request")
}

#[tokio::test]
async fn ingest_limits_are_counted_while_the_body_is_read_and_each_route_has_its_own_size() {
    let h = harness().await;
    // 2 MiB of empty series (about 700,000): refused at the first past the limit,
    // with nothing stored.
    let many = |item: &str, key: &str, n: usize| {
        let mut body = format!("{{\"{key}\":[");
        body.push_str(&vec![item; n].join(","));
        body.push_str("]}");
        body.into_bytes()
    };
    let r = h
        .send(raw_post(
            &h,
            "/api/v1/metrics",
            many("{}", "series", 700_000),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("too many items"), "{}", r.text);
    let r = h
        .send(raw_post(&h, "/api/v1/errors", many("{}", "events", 10_001)))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("too many items"), "{}", r.text);
    // Free fields take a string or a number, never a nest of lists.
    let nested = format!(
        r#"{{"events":[{{"service":"a","environment":"b","fingerprint":"f","message":"m","level":"info","timestamp":{}}}]}}"#,
        "[".repeat(100) + &"]".repeat(100)
    );
    let r = h
        .send(raw_post(&h, "/api/v1/errors", nested.into_bytes()))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Alertmanager's route takes the ordinary 1 MiB: 2 MiB is 413, not read.
    let mut big = br#"{"version":"4","alerts":[],"receiver":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    big.extend(br#""}"#);
    let r = h
        .send(raw_post(&h, "/api/v1/webhooks/alertmanager", big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    // A body sent as something other than JSON is 415, as everywhere.
    let r = h
        .send(
            Request::post("/api/v1/metrics")
                .header(header::CONTENT_TYPE, "text/plain")
                .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
                .body(Body::from(r#"{"series":[]}"#))
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    assert_eq!(
        h.get("/api/v1/alerts").await.json(),
        json!([]),
        "nothing stored"
    );
}

#[tokio::test]
async fn bad_metric_batches_store_nothing_and_name_each_problem() {
    let h = harness_with(&[("HOUSTON_MAX_INGEST_BODY_BYTES", "4096")]).await;
    let (now, _) = recent(0);
    let (future, _) = recent(30);
    let good = json!({"service": "checkout", "environment": "production", "metric": "m", "points": [[now, 1]]});
    for (body, field) in [
        (
            json!({"series": [good, {"service": "checkout", "environment": "production", "metric": "m", "points": [[now, "NaN"]]}]}),
            "series[1].points[0]",
        ),
        (
            json!({"series": [good, {"service": "checkout", "environment": "production", "metric": "m", "points": [[future, 1]]}]}),
            "series[1].points[0]",
        ),
        (
            json!({"series": [good, {"service": " ", "environment": "production", "metric": "m", "points": []}]}),
            "series[1].service",
        ),
        (
            json!({"series": [good, {"service": "checkout", "environment": "production", "metric": "2xx", "points": []}]}),
            "series[1].metric",
        ),
    ] {
        let r = h.post_json("/api/v1/metrics", &body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json()["fields"][0]["field"], field, "{}", r.text);
    }
    // 1e999 is valid JSON but no finite number.
    let r = h
        .send(
            Request::post("/api/v1/metrics")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
                .body(Body::from(format!(
                    r#"{{"series": [{{"service": "checkout", "environment": "production", "metric": "m", "points": [["{now}", 1e999]]}}]}}"#
                )))
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json()["fields"][0]["field"], "series[0].points[0]");
    let r = h
        .post_json("/api/v1/metrics", &json!({"series": [], "extra": true}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Over the ingest body limit: 413.
    let big: Vec<Value> = (0..200).map(|_| json!([now, 1])).collect();
    let r = h
        .post_json(
            "/api/v1/metrics",
            &json!({"series": [{"service": "checkout", "environment": "production", "metric": "m", "points": big}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.json()["error"], "payload_too_large");
    // Nothing of any refused batch was stored, not even its good series.
    let r = h.get(&metrics_read_uri("m", None)).await;
    assert_eq!(r.json(), json!({"points": []}), "{}", r.text);
}

#[tokio::test]
async fn error_events_are_pushed_and_listed_as_groups() {
    let h = harness().await;
    let (t1, _) = recent(-5);
    let (_, t2) = recent(-1);
    let body = json!({"events": [
        {"service": "checkout", "environment": "production", "fingerprint": "TypeError:cart.js:42",
         "message": "cart is undefined", "level": "error", "timestamp": t1, "version": "v1.4.0", "count": 3},
        {"service": "checkout", "environment": "production", "fingerprint": "TypeError:cart.js:42",
         "message": "cart is undefined", "level": "error", "timestamp": t2, "version": "v1.4.1"},
    ]});
    let r = h.post_json("/api/v1/errors", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), json!({"accepted": 4}));
    // A retry changes nothing.
    assert_eq!(
        h.post_json("/api/v1/errors", &body).await.json(),
        json!({"accepted": 4})
    );
    let (from, _) = recent(-60);
    let (to, _) = recent(1);
    let r = h
        .get(&format!(
            "/api/v1/errors?service=checkout&environment=production&from={}&to={}",
            urlencoding(&from),
            urlencoding(&to)
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let groups = r.json()["groups"].clone();
    assert_eq!(groups.as_array().map(Vec::len), Some(1), "{groups}");
    assert_eq!(groups[0]["count"], 4);
    assert_eq!(groups[0]["level"], "error");
    assert_eq!(groups[0]["versions"], json!(["v1.4.0", "v1.4.1"]));
    let bad = json!({"events": [{"service": "checkout", "environment": "production",
        "fingerprint": "x", "message": "m", "level": "loud", "timestamp": t1}]});
    let r = h.post_json("/api/v1/errors", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json()["fields"][0]["field"], "events[0].level");
}

#[tokio::test]
async fn alertmanager_notifications_open_and_close_alerts() {
    let h = harness().await;
    let firing = json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "truncatedAlerts": 0,
        "status": "firing", "receiver": "houston", "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate"}, "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [{"status": "firing",
            "labels": {"alertname": "HighErrorRate", "service": "checkout", "environment": "production"},
            "annotations": {"summary": "5xx above 2%"},
            "startsAt": "2026-11-29T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up", "fingerprint": "5f1e2d3c4b5a6978"}]
    });
    let r = h.post_json("/api/v1/webhooks/alertmanager", &firing).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"opened": 1, "updated": 0, "resolved": 0, "reopened": 0})
    );
    let r = h.get("/api/v1/alerts?state=firing&service=checkout").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let alerts = r.json();
    assert_eq!(alerts[0]["name"], "HighErrorRate");
    assert_eq!(alerts[0]["environment"], "production");
    assert_eq!(
        alerts[0]["generator_url"],
        "http://127.0.0.1:9090/graph?g0.expr=up"
    );
    let mut resolved = firing.clone();
    resolved["status"] = json!("resolved");
    resolved["alerts"][0]["status"] = json!("resolved");
    resolved["alerts"][0]["endsAt"] = json!("2026-11-29T10:20:00Z");
    let r = h
        .post_json("/api/v1/webhooks/alertmanager", &resolved)
        .await;
    assert_eq!(
        r.json(),
        json!({"opened": 0, "updated": 0, "resolved": 1, "reopened": 0})
    );
    assert_eq!(h.get("/api/v1/alerts?state=firing").await.json(), json!([]));
    let r = h.get("/api/v1/alerts?state=resolved").await;
    assert_eq!(r.json()[0]["resolved_by"], "token:test", "who resolved it");
    // Alertmanager's next "firing" for the same alert reopens it: a forged or
    // stale "resolved" does not stick.
    let r = h.post_json("/api/v1/webhooks/alertmanager", &firing).await;
    assert_eq!(
        r.json(),
        json!({"opened": 0, "updated": 0, "resolved": 0, "reopened": 1})
    );
    let r = h
        .post_json("/api/v1/webhooks/alertmanager", &resolved)
        .await;
    assert_eq!(r.json()["resolved"], 1);
    // Only the alert source's token sends alerts: an ingest token (a metrics
    // sidecar) cannot forge a resolution, and nothing changes.
    let sidecar = h.token("sidecar", &[TokenScope::Ingest]).await;
    let forged = h
        .call_as(
            &sidecar,
            "POST",
            "/api/v1/webhooks/alertmanager",
            Some(&firing),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    assert_eq!(h.get("/api/v1/alerts?state=firing").await.json(), json!([]));
    let r = h.get("/api/v1/alerts?state=resolved").await;
    assert_eq!(r.json()[0]["ends_at"], "2026-11-29T10:20:00Z");
    // Another version of the payload is refused and stores nothing.
    let mut v3 = firing.clone();
    v3["version"] = json!("3");
    v3["alerts"][0]["fingerprint"] = json!("other");
    let r = h.post_json("/api/v1/webhooks/alertmanager", &v3).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        h.get("/api/v1/alerts")
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

impl TestApp {
    /// A call with another token; a JSON body when given.
    async fn call_as(&self, token: &str, method: &str, uri: &str, body: Option<&Value>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        self.send(request).await
    }
}

/// The rules of a gate answer, in order.
fn rules(answer: &Value) -> Vec<String> {
    answer["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["rule"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A time in the future, whole seconds, as RFC 3339.
fn in_hours(hours: i64) -> String {
    use chrono::SubsecRound;
    (chrono::Utc::now() + chrono::Duration::hours(hours))
        .trunc_subsecs(0)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn a_scope_is_locked_once_and_a_second_lock_is_told_the_first() {
    let h = harness().await;
    let ops = h.token("ops", &[TokenScope::Admin]).await;
    let until = in_hours(2);
    let body =
        json!({ "environment": "production", "reason": "  Black Friday  ", "expires_at": until });
    let r = h.call_as(&ops, "POST", "/api/v1/locks", Some(&body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let lock = r.json();
    let id = lock["id"].as_i64().expect("id");
    assert_eq!(lock["environment"], "production");
    assert_eq!(lock["service"], Value::Null);
    assert_eq!(lock["reason"], "Black Friday", "the reason is trimmed");
    assert_eq!(lock["locked_by"], "token:ops");
    assert_eq!(lock["active"], true);
    assert_eq!(lock["unlocked_at"], Value::Null);
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(lock["expires_at"].clone()).expect("expiry");
    assert_eq!(
        expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        until
    );

    // The same scope, and a narrower one inside it, are refused with the lock in force.
    for body in [
        json!({ "environment": "production", "reason": "again" }),
        json!({ "environment": "production", "service": "checkout", "reason": "narrower" }),
    ] {
        let r = h.call_as(&ops, "POST", "/api/v1/locks", Some(&body)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{body}: {}", r.text);
        let refused = r.json();
        assert_eq!(refused["error"], "conflict");
        assert_eq!(refused["fields"], json!([]));
        assert_eq!(refused["lock"]["id"].as_i64(), Some(id));
        assert_eq!(refused["lock"]["reason"], "Black Friday");
        assert!(
            refused["message"]
                .as_str()
                .is_some_and(|m| m.contains("Black Friday") && m.contains("token:ops")),
            "{}",
            r.text
        );
    }
    // Another environment is free.
    let staging = h
        .call_as(
            &ops,
            "POST",
            "/api/v1/locks",
            Some(&json!({ "environment": "staging", "service": "search", "reason": "load test" })),
        )
        .await;
    assert_eq!(staging.status, StatusCode::CREATED, "{}", staging.text);

    let active = h
        .call_as(&ops, "GET", "/api/v1/locks?active=true", None)
        .await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.text);
    let ids: Vec<i64> = active
        .json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|l| l["id"].as_i64())
        .collect();
    assert_eq!(
        ids,
        [staging.json()["id"].as_i64().expect("id"), id],
        "newest first"
    );
    let ended = h
        .call_as(&ops, "GET", "/api/v1/locks?active=false", None)
        .await;
    assert_eq!(ended.json(), json!([]));
    let filtered = h
        .call_as(
            &ops,
            "GET",
            "/api/v1/locks?environment=staging&q=LOAD",
            None,
        )
        .await;
    assert_eq!(filtered.json().as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn bad_lock_requests_name_their_fields_and_store_nothing() {
    let h = harness().await;
    let ops = h.token("ops", &[TokenScope::Admin]).await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({ "environment": "production" }), vec!["reason"]),
        (
            json!({ "environment": "production", "reason": " \n\t " }),
            vec!["reason"],
        ),
        (
            json!({ "environment": "production", "reason": "x".repeat(4097) }),
            vec!["reason"],
        ),
        (
            json!({ "service": "checkout", "reason": "why" }),
            vec!["environment"],
        ),
        (
            json!({ "environment": "bad name!", "reason": "why" }),
            vec!["environment"],
        ),
        (
            json!({ "environment": "production", "reason": "why", "expires_at": "2020-01-01T00:00:00Z" }),
            vec!["expires_at"],
        ),
        (
            json!({ "environment": "production", "reason": "why", "expires_at": "tomorrow" }),
            vec!["expires_at"],
        ),
        (
            json!({ "service": "checkout", "reason": "", "expires_at": "2020-01-01T00:00:00Z" }),
            vec!["environment", "reason", "expires_at"],
        ),
    ];
    for (body, fields) in cases {
        let r = h.call_as(&ops, "POST", "/api/v1/locks", Some(&body)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        let err = r.json();
        assert_eq!(err["error"], "validation", "{}", r.text);
        let named: Vec<&str> = err["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["field"].as_str())
            .collect();
        assert_eq!(named, fields, "{body}");
    }
    // At most 4096 characters, counted as characters.
    let longest = json!({ "environment": "production", "reason": "é".repeat(4096) });
    let r = h
        .call_as(&ops, "POST", "/api/v1/locks", Some(&longest))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_i64().expect("id");
    let unknown = h
        .call_as(
            &ops,
            "POST",
            "/api/v1/locks",
            Some(&json!({ "environment": "staging", "reason": "why", "until": "never" })),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.text
    );
    let all = h.call_as(&ops, "GET", "/api/v1/locks", None).await;
    let ids: Vec<i64> = all
        .json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|l| l["id"].as_i64())
        .collect();
    assert_eq!(ids, [id], "only the valid lock was stored");
    let bad_filter = h
        .call_as(&ops, "GET", "/api/v1/locks?active=yes", None)
        .await;
    assert_eq!(bad_filter.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_filter.json()["fields"][0]["field"], "active");
}

#[tokio::test]
async fn the_gate_says_why_a_place_is_locked_until_it_is_unlocked() {
    let h = harness().await;
    let ops = h.token("ops", &[TokenScope::Admin]).await;
    let ci = h.token("ci-gate", &[TokenScope::Gate]).await;
    let until = in_hours(3);
    let lock = h
        .call_as(
            &ops,
            "POST",
            "/api/v1/locks",
            Some(&json!({ "environment": "production", "reason": "Black Friday: only fixes", "expires_at": until })),
        )
        .await;
    assert_eq!(lock.status, StatusCode::CREATED, "{}", lock.text);
    let id = lock.json()["id"].as_i64().expect("id");
    let gate = "/api/v1/gate?service=checkout&environment=production&version=v2";

    let r = h.call_as(&ci, "GET", gate, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let answer = r.json();
    assert_eq!(answer["allowed"], false, "{answer}");
    assert_eq!(rules(&answer), ["lock"]);
    let reason = &answer["reasons"][0];
    assert!(
        reason["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Black Friday: only fixes") && d.contains("production")),
        "{reason}"
    );
    assert_eq!(reason["by"], "token:ops");
    assert_eq!(reason["id"].as_i64(), Some(id));
    let reason_until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(reason["until"].clone()).expect("until");
    assert_eq!(
        reason_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        until
    );
    let elsewhere = h
        .call_as(
            &ci,
            "GET",
            "/api/v1/gate?service=checkout&environment=staging",
            None,
        )
        .await;
    assert_eq!(elsewhere.json(), json!({ "allowed": true, "reasons": [] }));

    let unlocked = h
        .call_as(
            &ops,
            "POST",
            &format!("/api/v1/locks/{id}/unlock"),
            Some(&json!({ "note": "  sale is over " })),
        )
        .await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.text);
    let ended = unlocked.json();
    assert_eq!(ended["active"], false);
    assert_eq!(ended["unlocked_by"], "token:ops");
    assert_eq!(ended["unlock_note"], "sale is over");
    assert!(ended["unlocked_at"].is_string());
    let again = h
        .call_as(
            &ops,
            "POST",
            &format!("/api/v1/locks/{id}/unlock"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let unknown = h
        .call_as(
            &ops,
            "POST",
            &format!("/api/v1/locks/{}/unlock", id + 100),
            Some(&json!({})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);

    let r = h.call_as(&ci, "GET", gate, None).await;
    assert_eq!(r.json(), json!({ "allowed": true, "reasons": [] }));
    // A name no deploy ever used is answered, and never written.
    let r = h
        .call_as(
            &ci,
            "GET",
            "/api/v1/gate?service=checkout&environment=made-up",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Asking the gate wrote nothing; the minute's flush writes every answer under
    // its rules, for today, for the environments Houston knows.
    let today = chrono::Utc::now().date_naive();
    assert!(
        h.db.store
            .gate_counts(today - chrono::Duration::days(1))
            .await
            .expect("counts")
            .is_empty(),
        "no write per answer"
    );
    for environment in ["production", "staging"] {
        let mut known = checkout("v1");
        known["environment"] = json!(environment);
        let r = h.post_json("/api/v1/deploys", &known).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    h.state
        .gate_tally
        .flush(h.db.store.as_ref())
        .await
        .expect("flush");
    let counts: Vec<(String, bool, String, i64)> =
        h.db.store
            .gate_counts(today - chrono::Duration::days(1))
            .await
            .expect("counts")
            .into_iter()
            .map(|c| (c.environment, c.allowed, c.rule, c.count))
            .collect();
    assert_eq!(
        counts,
        [
            ("production".to_owned(), false, "lock".to_owned(), 1),
            ("production".to_owned(), true, "none".to_owned(), 1),
            ("staging".to_owned(), true, "none".to_owned(), 1),
        ]
    );
}

#[tokio::test]
async fn an_override_opens_the_gate_and_lets_one_deploy_through() {
    let h = harness().await;
    let ops = h.token("ops", &[TokenScope::Admin]).await;
    let placed = h
        .call_as(
            &ops,
            "POST",
            "/api/v1/locks",
            Some(&json!({ "environment": "production", "service": "checkout", "reason": "Payment provider migration" })),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let gate = "/api/v1/gate?service=checkout&environment=production&version=v2";
    assert_eq!(
        rules(&h.call_as(&ops, "GET", gate, None).await.json()),
        ["lock"]
    );

    for (body, field) in [
        (
            json!({ "service": "checkout", "environment": "production" }),
            "reason",
        ),
        (
            json!({ "service": "checkout", "environment": "production", "reason": "hotfix", "expires_in_minutes": 0 }),
            "expires_in_minutes",
        ),
        (
            json!({ "environment": "production", "reason": "hotfix" }),
            "service",
        ),
    ] {
        let r = h
            .call_as(&ops, "POST", "/api/v1/overrides", Some(&body))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.json()["fields"][0]["field"], field, "{body}");
    }
    let granted = h
        .call_as(
            &ops,
            "POST",
            "/api/v1/overrides",
            Some(&json!({ "service": "checkout", "environment": "production", "reason": "INC-231 hotfix", "expires_in_minutes": 30 })),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.text);
    let granted = granted.json();
    assert_eq!(granted["granted_by"], "token:ops");
    assert_eq!(granted["used_by"], Value::Null);

    // Asking the gate spends nothing and lets nothing through: it says an override
    // is available, as often as it is asked.
    for _ in 0..5 {
        let answer = h.call_as(&ops, "GET", gate, None).await.json();
        assert_eq!(answer["allowed"], false, "{answer}");
        assert_eq!(answer["override_available"], granted["id"], "{answer}");
        assert_eq!(rules(&answer), ["lock", "override"]);
        assert!(
            answer["reasons"][1]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("INC-231 hotfix")),
            "{answer}"
        );
    }
    // Twenty pipeline runs claim it at once: exactly one is allowed.
    let ci = h.token("ci-gate", &[TokenScope::Gate]).await;
    let claim = |run: usize| json!({ "service": "checkout", "environment": "production", "version": "v2", "run": format!("run-{run}") });
    let claims: Vec<Value> = (0..20).map(claim).collect();
    let answers = futures_util::future::join_all(
        claims
            .iter()
            .map(|body| h.call_as(&ci, "POST", "/api/v1/gate/claim", Some(body))),
    )
    .await;
    let allowed: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.json()["allowed"] == true
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(allowed.len(), 1, "one claimant: {allowed:?}");
    let winner = claim(allowed[0]);
    let again = h
        .call_as(&ci, "POST", "/api/v1/gate/claim", Some(&winner))
        .await
        .json();
    assert_eq!(again["allowed"], true, "the claimant asking again: {again}");
    let plain = h.call_as(&ops, "GET", gate, None).await.json();
    assert_eq!(plain["allowed"], false, "{plain}");
    assert_eq!(plain["override_available"], Value::Null, "{plain}");
    // A claim needs the run, named.
    let nameless = h
        .call_as(
            &ci,
            "POST",
            "/api/v1/gate/claim",
            Some(&json!({ "service": "checkout", "environment": "production" })),
        )
        .await;
    assert_eq!(
        nameless.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        nameless.text
    );
    assert_eq!(nameless.json()["fields"][0]["field"], "run");

    // The claimed version's deploy spends it, and is marked with the override; the
    // second goes out through the lock and says so.
    let first = h.post_json("/api/v1/deploys", &checkout("v2")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let first_id = first.json()["id"].as_i64().expect("id");
    let detail = h.get(&format!("/api/v1/deploys/{first_id}")).await.json();
    assert!(
        detail["through_lock"]
            .as_str()
            .is_some_and(|t| t.starts_with(&format!("override #{}", granted["id"]))),
        "{detail}"
    );
    let overrides = h
        .call_as(&ops, "GET", "/api/v1/overrides", None)
        .await
        .json();
    assert_eq!(overrides[0]["used_by"].as_i64(), Some(first_id));
    assert!(overrides[0]["used_at"].is_string());
    assert_eq!(overrides[0]["claim"]["run"], winner["run"]);

    let answer = h.call_as(&ops, "GET", gate, None).await.json();
    assert_eq!(answer["allowed"], false, "a spent override opens nothing");
    assert_eq!(rules(&answer), ["lock"]);

    let second = h.post_json("/api/v1/deploys", &checkout("v3")).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let second_id = second.json()["id"].as_i64().expect("id");
    let detail = h.get(&format!("/api/v1/deploys/{second_id}")).await.json();
    assert!(
        detail["through_lock"]
            .as_str()
            .is_some_and(|t| t.contains("Payment provider migration")),
        "{detail}"
    );
    // Another service in production was never locked.
    let search = h
        .post_json(
            "/api/v1/deploys",
            &json!({ "service": "search", "environment": "production", "version": "v1" }),
        )
        .await;
    assert_eq!(search.json().get("through_lock"), None, "{}", search.text);
}

#[tokio::test]
async fn promotion_and_branch_rules_hold_back_what_did_not_pass_staging() {
    let h = harness().await;
    let ops = h.token("ops", &[TokenScope::Admin]).await;
    h.db
        .store
        .set_setting(
            app::domain::GATE_RULES_SETTING,
            r#"[{"environment":"production","require_previous_stage":true,"min_bake_secs":0,"branches":["main"]}]"#,
            &Actor::new("cli:test", None),
            Some("promotion rules"),
            chrono::Utc::now(),
        )
        .await
        .expect("setting");
    let mut staged = checkout("v1");
    staged["environment"] = json!("staging");
    let staged = h.post_json("/api/v1/deploys", &staged).await;
    assert_eq!(staged.status, StatusCode::CREATED, "{}", staged.text);
    let staged_id = staged.json()["id"].as_i64().expect("id");
    let live = h.post_json("/api/v1/deploys", &checkout("v0")).await;
    assert_eq!(live.status, StatusCode::CREATED, "{}", live.text);
    let ask = |version: &str, git_ref: &str| {
        format!(
            "/api/v1/gate?service=checkout&environment=production&version={version}&ref={git_ref}"
        )
    };

    let never = h
        .call_as(&ops, "GET", &ask("v2", "main"), None)
        .await
        .json();
    assert_eq!(never["allowed"], false, "{never}");
    assert_eq!(rules(&never), ["promotion"]);
    assert_eq!(
        never["reasons"][0]["detail"],
        "v2 has not been deployed to staging"
    );

    // Deployed to staging but still baking there.
    let baking = h
        .call_as(&ops, "GET", &ask("v1", "main"), None)
        .await
        .json();
    assert_eq!(rules(&baking), ["promotion"], "{baking}");
    assert_eq!(baking["reasons"][0]["id"].as_i64(), Some(staged_id));

    // Judged healthy there (a lead's override makes it final): promoted, from main only.
    let judged = h
        .call_as(
            &ops,
            "POST",
            &format!("/api/v1/deploys/{staged_id}/verdict/override"),
            Some(&json!({ "state": "healthy", "reason": "checked by hand" })),
        )
        .await;
    assert_eq!(judged.status, StatusCode::OK, "{}", judged.text);
    let passed = h
        .call_as(&ops, "GET", &ask("v1", "main"), None)
        .await
        .json();
    assert_eq!(passed, json!({ "allowed": true, "reasons": [] }));
    let full_ref = h
        .call_as(&ops, "GET", &ask("v1", "refs/heads/main"), None)
        .await
        .json();
    assert_eq!(full_ref["allowed"], true, "{full_ref}");
    let branch = h
        .call_as(&ops, "GET", &ask("v1", "feature/x"), None)
        .await
        .json();
    assert_eq!(branch["allowed"], false, "{branch}");
    assert_eq!(rules(&branch), ["branch"]);
    assert_eq!(
        branch["reasons"][0]["detail"],
        "production accepts only main, not feature/x"
    );
    let no_ref = h
        .call_as(
            &ops,
            "GET",
            "/api/v1/gate?service=checkout&environment=production&version=v1",
            None,
        )
        .await
        .json();
    assert_eq!(rules(&no_ref), ["branch"], "{no_ref}");
    // Staging has no rules of its own.
    let staging = h
        .call_as(
            &ops,
            "GET",
            "/api/v1/gate?service=checkout&environment=staging&version=v9&ref=feature/x",
            None,
        )
        .await
        .json();
    assert_eq!(staging["allowed"], true, "{staging}");
}

#[tokio::test]
async fn a_firing_alert_for_the_place_closes_the_gate() {
    let h = harness().await;
    let ci = h.token("ci-gate", &[TokenScope::Gate]).await;
    let alert = |name: &str, fingerprint: &str, labels: Value| {
        json!({
            "version": "4", "groupKey": "{}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "houston", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093",
            "alerts": [{"status": "firing", "labels": labels,
                "annotations": {"summary": format!("{name} summary")},
                "startsAt": "2026-11-29T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": fingerprint}]
        })
    };
    let firing = alert(
        "HighErrorRate",
        "5f1e2d3c4b5a6978",
        json!({"alertname": "HighErrorRate", "service": "checkout", "environment": "production"}),
    );
    let r = h.post_json("/api/v1/webhooks/alertmanager", &firing).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let gate = |service: &str, environment: &str| {
        format!("/api/v1/gate?service={service}&environment={environment}")
    };
    let denied = h
        .call_as(&ci, "GET", &gate("checkout", "production"), None)
        .await
        .json();
    assert_eq!(denied["allowed"], false, "{denied}");
    assert_eq!(rules(&denied), ["alert"]);
    assert!(
        denied["reasons"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("HighErrorRate") && d.contains("HighErrorRate summary")),
        "{denied}"
    );
    for (service, environment) in [("search", "production"), ("checkout", "staging")] {
        let other = h
            .call_as(&ci, "GET", &gate(service, environment), None)
            .await
            .json();
        assert_eq!(
            other["allowed"], true,
            "{service} in {environment}: {other}"
        );
    }
    // An alert on the environment without a service stops every service there.
    let everyone = alert(
        "DiskFull",
        "0a1b2c3d4e5f6071",
        json!({"alertname": "DiskFull", "environment": "production"}),
    );
    let r = h
        .post_json("/api/v1/webhooks/alertmanager", &everyone)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let search = h
        .call_as(&ci, "GET", &gate("search", "production"), None)
        .await
        .json();
    assert_eq!(rules(&search), ["alert"], "{search}");
    assert!(
        search["reasons"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("DiskFull")),
        "{search}"
    );
}

#[tokio::test]
async fn the_gate_needs_a_service_an_environment_and_scope_gate() {
    let h = harness().await;
    let ci = h.token("ci-gate", &[TokenScope::Gate]).await;
    for (query, field) in [
        ("environment=production", "service"),
        ("service=checkout", "environment"),
        ("service=bad%20name!&environment=production", "service"),
    ] {
        let r = h
            .call_as(&ci, "GET", &format!("/api/v1/gate?{query}"), None)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            r.text
        );
        assert_eq!(r.json()["fields"][0]["field"], field, "{query}");
    }
    let gate = "/api/v1/gate?service=checkout&environment=production";
    // A token that may deploy and ingest may not ask the gate.
    let writer = h
        .token("writer", &[TokenScope::Deploy, TokenScope::Ingest])
        .await;
    assert_eq!(
        h.call_as(&writer, "GET", gate, None).await.status,
        StatusCode::FORBIDDEN
    );
    let anonymous = h
        .send(Request::get(gate).body(Body::empty()).expect("request"))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.call_as(&ci, "GET", gate, None).await.status,
        StatusCode::OK
    );
    // Production becomes an environment Houston knows; the flush writes its count.
    let known = h.post_json("/api/v1/deploys", &checkout("v1")).await;
    assert_eq!(known.status, StatusCode::CREATED, "{}", known.text);
    h.state
        .gate_tally
        .flush(h.db.store.as_ref())
        .await
        .expect("flush");
    let counts: Vec<(String, bool, String, i64)> =
        h.db.store
            .gate_counts(chrono::Utc::now().date_naive() - chrono::Duration::days(1))
            .await
            .expect("counts")
            .into_iter()
            .map(|c| (c.environment, c.allowed, c.rule, c.count))
            .collect();
    assert_eq!(
        counts,
        [("production".to_owned(), true, "none".to_owned(), 1)],
        "refused and invalid questions are not counted"
    );
}

/// `houston gate` run as CI runs it, against `server` with `token`.
async fn houston_gate(server: &str, token: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_houston"));
    command
        .arg("gate")
        .args(args)
        .env("HOUSTON_URL", server)
        .env("HOUSTON_TOKEN", token);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("task")
        .expect("run houston");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn houston_gate_exits_0_allowed_1_denied_2_without_an_answer() {
    let place = ["--service", "checkout", "--environment", "production"];
    // Nothing listens on the discard port.
    let (code, _, stderr) = houston_gate("http://127.0.0.1:9", "hst_x", &place).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");

    let h = harness().await;
    let ops = h.token("ops", &[TokenScope::Admin]).await;
    let ci = h.token("ci-gate", &[TokenScope::Gate]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(houston::listener::serve(
        listener,
        h.app.clone(),
        houston::listener::ListenerLimits {
            header_read_timeout: std::time::Duration::from_secs(5),
            shutdown_grace: std::time::Duration::from_secs(1),
        },
        async move {
            let _ = stopped.await;
        },
    ));

    let (code, stdout, stderr) = houston_gate(&server, &ci, &place).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("allowed: checkout to production"),
        "{stdout}"
    );

    let r = h
        .call_as(
            &ops,
            "POST",
            "/api/v1/locks",
            Some(&json!({ "environment": "production", "reason": "Black Friday", "expires_at": in_hours(1) })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (code, stdout, stderr) = houston_gate(
        &server,
        &ci,
        &[
            "--service",
            "checkout",
            "--environment",
            "production",
            "--version",
            "v2",
            "--ref",
            "main",
        ],
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("denied: checkout to production"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lock: production is locked by token:ops: Black Friday (until "),
        "{stdout}"
    );

    // An error answer is no answer: a bad token, a question Houston refuses.
    let (code, _, stderr) = houston_gate(&server, "hst_not-a-real-token", &place).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    let (code, _, stderr) = houston_gate(
        &server,
        &ci,
        &["--service", "bad name!", "--environment", "production"],
    )
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("422") && stderr.contains("service"),
        "{stderr}"
    );

    let _ = stop.send(());
    serving.await.expect("task").expect("serve");
}

/// What the pages' shared reads answer now (a server function of no arguments).
async fn page_read(h: &Harness, token: &str, function: &str) -> Value {
    let request = Request::post(format!("/api/{function}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::OK, "{function}: {}", r.text);
    r.json()
}

#[tokio::test]
async fn pages_read_what_every_page_shares_from_memory_but_never_from_before_a_change() {
    let h = harness().await;
    let ops = h
        .token("ops", &[TokenScope::Admin, TokenScope::Deploy])
        .await;
    let reasons = |standing: &Value| -> Vec<String> {
        standing["value"]["locks"]
            .as_array()
            .expect("locks")
            .iter()
            .map(|l| l["reason"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let services = |options: &Value| -> Vec<String> {
        options["services"]
            .as_array()
            .expect("services")
            .iter()
            .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // Read once, so the answers are kept.
    assert!(reasons(&page_read(&h, &ops, "locks-in-force").await).is_empty());
    assert!(services(&page_read(&h, &ops, "filter-options").await).is_empty());

    let body = json!({ "environment": "production", "reason": "Black Friday" });
    let placed = h.call_as(&ops, "POST", "/api/v1/locks", Some(&body)).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    assert_eq!(
        reasons(&page_read(&h, &ops, "locks-in-force").await),
        ["Black Friday"],
        "the next page shows the lock"
    );
    let id = placed.json()["id"].as_i64().expect("id");
    let unlock = json!({ "note": "over" });
    let r = h
        .call_as(
            &ops,
            "POST",
            &format!("/api/v1/locks/{id}/unlock"),
            Some(&unlock),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(reasons(&page_read(&h, &ops, "locks-in-force").await).is_empty());

    let deploy = json!({ "service": "checkout", "environment": "production", "version": "v1" });
    let r = h
        .call_as(&ops, "POST", "/api/v1/deploys", Some(&deploy))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        services(&page_read(&h, &ops, "filter-options").await),
        ["checkout"],
        "a deploy's new service is offered at once"
    );
}

/// PagerDuty's documented `incident.priority_updated` event (status triggered, P1),
/// signed as PagerDuty signs: `v1=` and the HMAC-SHA256 of the body.
fn pagerduty_request(secret: &str, body: &str) -> Request<Body> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    let signature = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    Request::post("/api/v1/webhooks/pagerduty")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-pagerduty-signature", signature)
        .body(Body::from(body.to_owned()))
        .expect("request")
}

const PAGERDUTY_EVENT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/core/tests/data/pagerduty/incident_priority_updated.json"
));

#[tokio::test]
async fn pagerdutys_signed_event_opens_an_incident_and_a_bad_one_changes_nothing() {
    let h = harness_with(&[("HOUSTON_PAGERDUTY_WEBHOOK_SECRET", "pd-s3cret")]).await;
    // A wrong signature first: refused, nothing stored.
    let r = h
        .send(pagerduty_request("not-the-secret", PAGERDUTY_EVENT))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = h.get("/api/v1/incidents").await;
    assert_eq!(r.json(), json!([]), "{}", r.text);
    let mut unsigned = pagerduty_request("pd-s3cret", PAGERDUTY_EVENT);
    unsigned.headers_mut().remove("x-pagerduty-signature");
    assert_eq!(h.send(unsigned).await.status, StatusCode::UNAUTHORIZED);

    let r = h
        .send(pagerduty_request("pd-s3cret", PAGERDUTY_EVENT))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = r.json();
    assert_eq!(body["change"], "opened");
    let incident = &body["incident"];
    assert_eq!(incident["severity"], "critical");
    assert_eq!(incident["state"], "open");
    assert_eq!(incident["services"], json!(["api-service"]));
    assert_eq!(incident["environments"], json!(["production"]));
    assert_eq!(incident["opened_by"], "webhook:pagerduty");
    let id = incident["id"].as_i64().expect("id");

    // The same incident resolved: moved, not a second one.
    let mut resolved: Value = serde_json::from_str(PAGERDUTY_EVENT).expect("json");
    resolved["event"]["event_type"] = json!("incident.resolved");
    let r = h
        .send(pagerduty_request("pd-s3cret", &resolved.to_string()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["change"], "resolved");
    let r = h.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(r.json()["state"], "resolved", "{}", r.text);

    // An event about a service, not an incident: answered, ignored.
    let service = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/core/tests/data/pagerduty/service_updated.json"
    ));
    let r = h.send(pagerduty_request("pd-s3cret", service)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["outcome"], "ignored");
    // Signed but not PagerDuty's shape: 422, nothing stored.
    let r = h
        .send(pagerduty_request("pd-s3cret", r#"{"hello":1}"#))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = h.get("/api/v1/incidents").await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(1), "{}", r.text);
}

#[tokio::test]
async fn a_declared_incident_names_the_deploy_that_broke_it_first() {
    let h = harness().await;
    let now = chrono::Utc::now();
    let at = |minutes: i64| (now - chrono::Duration::minutes(minutes)).to_rfc3339();
    for (service, version, minutes) in [
        ("checkout", "v1", 300),
        ("search", "s1", 20),
        ("checkout", "v2", 90),
    ] {
        let r = h
            .post_json(
                "/api/v1/deploys",
                &json!({"service": service, "environment": "production", "version": version,
                    "status": "succeeded", "started_at": at(minutes),
                    "finished_at": at(minutes - 3)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    // New errors after checkout v2.
    let r = h
        .post_json(
            "/api/v1/errors",
            &json!({"events": [{"service": "checkout", "environment": "production",
                "fingerprint": "TypeError:cart.js:42", "message": "cart is undefined",
                "level": "error", "timestamp": at(60), "version": "v2"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let bad = h
        .post_json(
            "/api/v1/incidents",
            &json!({"title": "  ", "severity": "sev9", "at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    let problems = bad.json();
    let fields: Vec<&str> = problems["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["title", "severity", "at"]);

    let declared = json!({"id": "INC-7", "title": "Checkout errors", "severity": "P1",
        "services": ["checkout"], "environments": ["production"], "at": at(10)});
    let r = h.post_json("/api/v1/incidents", &declared).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["incident"]["id"].as_i64().expect("id");
    let again = h.post_json("/api/v1/incidents", &declared).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json()["change"], "unchanged");

    let r = h.get(&format!("/api/v1/incidents/{id}/suspects")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let suspects = r.json()["suspects"].clone();
    let versions: Vec<&str> = suspects
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["version"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(versions, ["v2", "s1", "v1"], "{suspects:#}");
    let reasons = suspects[0]["reasons"].to_string();
    assert!(
        reasons.contains("1 new error group appeared after it"),
        "{reasons}"
    );

    // A person's word reorders them: the confirmed cause first, the rejected last.
    let id_of = |version: &str| {
        suspects
            .as_array()
            .and_then(|s| s.iter().find(|s| s["version"] == version))
            .and_then(|s| s["deploy_id"].as_i64())
            .expect("a suspect")
    };
    let (s1, v2) = (id_of("s1"), id_of("v2"));
    let h = &h;
    let decide = |deploy: i64, body: Value| {
        let uri = format!("/api/v1/incidents/{id}/suspects/{deploy}");
        async move { h.post_json(&uri, &body).await }
    };
    let r = decide(
        s1,
        json!({"decision": "confirmed", "note": "the index rebuild"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["decision"], "confirmed");
    let r = decide(v2, json!({"decision": "rejected"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = decide(v2, json!({"decision": "maybe"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = decide(999_999, json!({"decision": "confirmed"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = h.get(&format!("/api/v1/incidents/{id}/suspects")).await;
    let reordered: Vec<String> = r.json()["suspects"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        s["version"].as_str().unwrap_or_default(),
                        s["cause"].as_str().unwrap_or("-")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(reordered, ["s1 confirmed", "v1 -", "v2 rejected"]);

    // The postmortem: JSON with the timeline, or Markdown.
    let r = h.get(&format!("/api/v1/incidents/{id}/export")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let kinds: Vec<String> = r.json()["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        kinds,
        ["deploy", "deploy", "deploy", "incident"],
        "{}",
        r.text
    );
    let r = h
        .get(&format!("/api/v1/incidents/{id}/export?format=markdown"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.header("content-type").starts_with("text/markdown"));
    assert!(r.text.starts_with("# Incident"), "{}", r.text);
    assert!(r.text.contains("1. Deploy #"), "{}", r.text);
    assert!(r.text.contains(" s1 to production"), "{}", r.text);
    let r = h
        .get(&format!("/api/v1/incidents/{id}/export?format=pdf"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    let r = h
        .get(&format!("/api/v1/incidents/{id}/suspects?window_minutes=0"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = h.get("/api/v1/incidents/999999/suspects").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

/// Stop the line: production stops on high incidents or worse. A PagerDuty-style
/// critical incident on checkout denies checkout's deploys (not search's), an
/// override breaks glass by default, and resolving the incident lifts it.
#[tokio::test]
async fn an_open_incident_stops_the_line_until_it_resolves() {
    let h = harness().await;
    h.db.store
        .set_setting(
            app::domain::GATE_RULES_SETTING,
            r#"[{"environment":"production","stop_on_incident":"high"}]"#,
            &Actor::new("cli:test", None),
            Some("stop the line"),
            chrono::Utc::now(),
        )
        .await
        .expect("setting");
    let gate =
        |service: &str| format!("/api/v1/gate?service={service}&environment=production&version=v9");
    let allowed = |r: &crate::support::Reply| r.json()["allowed"].as_bool();
    assert_eq!(allowed(&h.get(&gate("checkout")).await), Some(true));

    let low = json!({"id": "INC-1", "title": "Slow search", "severity": "low",
        "services": ["checkout"], "environments": ["production"]});
    assert_eq!(
        h.post_json("/api/v1/incidents", &low).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        allowed(&h.get(&gate("checkout")).await),
        Some(true),
        "below the environment's severity"
    );

    let critical = json!({"id": "INC-2", "title": "Checkout errors", "severity": "critical",
        "services": ["checkout"], "environments": ["production"]});
    let r = h.post_json("/api/v1/incidents", &critical).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["incident"]["id"].as_i64().expect("id");
    let r = h.get(&gate("checkout")).await;
    assert_eq!(allowed(&r), Some(false), "{}", r.text);
    let reason = &r.json()["reasons"][0];
    assert_eq!(reason["rule"], "incident");
    assert_eq!(
        reason["detail"],
        format!("incident {id} is open: Checkout errors (critical)")
    );
    assert_eq!(
        allowed(&h.get(&gate("search")).await),
        Some(true),
        "not its place"
    );

    let resolved = json!({"id": "INC-2", "title": "Checkout errors", "severity": "critical",
        "state": "resolved", "services": ["checkout"], "environments": ["production"]});
    let r = h.post_json("/api/v1/incidents", &resolved).await;
    assert_eq!(r.json()["change"], "resolved", "{}", r.text);
    assert_eq!(
        allowed(&h.get(&gate("checkout")).await),
        Some(true),
        "lifted"
    );
}

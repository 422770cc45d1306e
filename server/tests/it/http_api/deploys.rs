//! Registering deploys, their status, and reading the history.

use super::github::{fixture, github};
use super::*;

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

//! Merges wait while locked: a `pull_request` webhook of a linked repository records
//! the pull request, and the `github_statuses` pass posts the `houston/gate` commit
//! status to a local fake of GitHub's REST API — `failure` with the lock's reason
//! while the place is locked, `success` once it opens, nothing when nothing changed,
//! again after GitHub failed. On SQLite and PostgreSQL.

use app::domain::{Actor, LockRequest, REPOSITORIES_SETTING};
use app::server::{LockOutcome, Store};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use houston::config::{Config, Overrides};
use houston::jobs::github::{GithubApi, run};
use houston::{AppState, router};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// What the fake GitHub was sent: the path, the bearer token and the body.
type Posted = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A fake of `POST /repos/{owner}/{repo}/statuses/{sha}` on loopback; it answers 502
/// while `failing` holds.
async fn fake_github(failing: Arc<Mutex<bool>>) -> (String, Posted) {
    let posted: Posted = Arc::default();
    let seen = posted.clone();
    let app = axum::Router::new().route(
        "/repos/{owner}/{repo}/statuses/{sha}",
        axum::routing::post(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let (seen, failing) = (seen.clone(), failing.clone());
                async move {
                    if *failing.lock().expect("lock") {
                        return StatusCode::BAD_GATEWAY;
                    }
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock()
                        .expect("lock")
                        .push((uri.path().to_owned(), auth, body.0));
                    StatusCode::CREATED
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), posted)
}

fn pull_request_event(action: &str, number: i64, sha: &str, state: &str, updated: &str) -> Value {
    json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": state,
            "title": "Faster cart totals",
            "updated_at": updated,
            "head": { "ref": "faster-totals", "sha": sha, "label": "acme:faster-totals" },
            "base": { "ref": "main", "sha": "0000000000000000000000000000000000000000", "label": "acme:main" },
        },
        "repository": {
            "id": 1296269,
            "name": "checkout",
            "full_name": "acme/checkout",
            "html_url": "https://github.com/acme/checkout",
        },
        "sender": { "login": "amara" },
    })
}

async fn deliver(app: &axum::Router, event: &str, body: &Value) -> crate::support::Reply {
    let request = Request::post("/api/v1/webhooks/github")
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", uuid_like())
        .body(Body::from(body.to_string()))
        .expect("request");
    crate::support::send(app, request).await
}

fn uuid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

const HEAD: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const NEXT: &str = "7dcb09b5b57875f334f61aebed695e2e4193db5f";

async fn statuses_follow_locks(store: Arc<dyn Store>) {
    let failing = Arc::new(Mutex::new(false));
    let (base, posted) = fake_github(failing.clone()).await;
    let api = GithubApi {
        base_url: base,
        token: "ghp_test".into(),
    };
    let client = reqwest::Client::new();
    let config = Config::from_lookup(
        |k| (k == "HOUSTON_GITHUB_WEBHOOK_ALLOW_UNSIGNED").then(|| "true".to_owned()),
        &Overrides::default(),
    )
    .expect("config");
    let app = router(AppState::new(store.clone(), config));
    let by = Actor::new("user:lena", None);
    let now = chrono::Utc::now();

    // Not linked yet: the pull request is ignored and nothing is posted.
    let event = pull_request_event("opened", 7, HEAD, "open", "2026-11-30T10:00:00Z");
    let reply = deliver(&app, "pull_request", &event).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["outcome"], "ignored");
    store
        .set_setting(
            REPOSITORIES_SETTING,
            r#"[{"repository":"acme/checkout","service":"checkout","environment":"production"}]"#,
            &by,
            None,
            now,
        )
        .await
        .expect("link");
    assert_eq!(
        run(store.as_ref(), &api, &client, None, now)
            .await
            .expect("pass"),
        0
    );

    // Linked: recorded, and the first pass posts success (nothing is locked).
    let reply = deliver(&app, "pull_request", &event).await;
    assert_eq!(reply.json()["outcome"], "updated", "{}", reply.text);
    assert_eq!(
        run(
            store.as_ref(),
            &api,
            &client,
            Some("https://houston.example"),
            now
        )
        .await
        .expect("pass"),
        1
    );
    {
        let seen = posted.lock().expect("lock");
        let (path, auth, body) = &seen[0];
        assert_eq!(path, &format!("/repos/acme/checkout/statuses/{HEAD}"));
        assert_eq!(auth, "Bearer ghp_test");
        assert_eq!(body["state"], "success");
        assert_eq!(body["context"], "houston/gate");
        assert_eq!(body["target_url"], "https://houston.example/locks");
    }
    // Nothing changed: nothing is posted again.
    assert_eq!(
        run(store.as_ref(), &api, &client, None, now)
            .await
            .expect("pass"),
        0
    );

    // Production is locked: failure, in neutral words (the repository may be public).
    let lock = match store
        .place_lock(
            &LockRequest {
                environment: Some("production".into()),
                service: None,
                reason: Some("Black Friday: only fixes".into()),
                expires_at: None,
            }
            .parse(now)
            .expect("lock request"),
            &by,
            now,
        )
        .await
        .expect("place")
    {
        LockOutcome::Placed(lock) => lock,
        other => panic!("{other:?}"),
    };
    // GitHub fails first: the pass says so, and the next one posts it.
    *failing.lock().expect("lock") = true;
    let error = run(store.as_ref(), &api, &client, None, now)
        .await
        .expect_err("GitHub failed");
    assert!(
        error
            .to_string()
            .contains("acme/checkout#7: GitHub answered 502"),
        "{error}"
    );
    *failing.lock().expect("lock") = false;
    assert_eq!(
        run(store.as_ref(), &api, &client, None, now)
            .await
            .expect("pass"),
        1
    );
    {
        let seen = posted.lock().expect("lock");
        let body = &seen[1].2;
        assert_eq!(body["state"], "failure");
        assert_eq!(body["description"], "production is locked: see Houston");
    }

    // A new head commit needs its own status; an older event changes nothing.
    let pushed = pull_request_event("synchronize", 7, NEXT, "open", "2026-11-30T11:00:00Z");
    deliver(&app, "pull_request", &pushed).await;
    deliver(&app, "pull_request", &event).await;
    assert_eq!(
        run(store.as_ref(), &api, &client, None, now)
            .await
            .expect("pass"),
        1
    );
    assert_eq!(
        posted.lock().expect("lock")[2].0,
        format!("/repos/acme/checkout/statuses/{NEXT}")
    );

    // Unlocked: success again.
    store
        .unlock(lock.id, Some("fix is out"), &by, now)
        .await
        .expect("unlock");
    assert_eq!(
        run(store.as_ref(), &api, &client, None, now)
            .await
            .expect("pass"),
        1
    );
    assert_eq!(posted.lock().expect("lock")[3].2["state"], "success");

    // Closed: no more statuses for it.
    let closed = pull_request_event("closed", 7, NEXT, "closed", "2026-11-30T12:00:00Z");
    deliver(&app, "pull_request", &closed).await;
    assert!(
        store
            .open_pull_requests("acme/checkout")
            .await
            .expect("read")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_statuses_follow_locks() {
    let db = crate::support::sqlite().await;
    statuses_follow_locks(db.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statuses_follow_locks() {
    let db = crate::support::postgres().await;
    statuses_follow_locks(db.store.clone()).await;
}

//! Several replicas on one PostgreSQL database behave as one Houston: a change
//! made through one replica reaches the live-update streams of every replica
//! (LISTEN/NOTIFY), and says what changed.

use app::domain::{Actor, TokenScope};
use houston::config::{Config, Overrides};
use houston::{AppState, router};
use std::net::SocketAddr;
use std::time::Duration;

/// One replica: its own store (pool), state and listening socket.
async fn replica(url: &str) -> (SocketAddr, AppState) {
    let store = houston::storage::open(url).await.expect("open");
    let config = Config::from_lookup(|_| None, &Overrides::default()).expect("config");
    let state = AppState::new(store, config);
    state.events.start().await.expect("listen for changes");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(houston::listener::serve(
        listener,
        router(state.clone()),
        houston::listener::ListenerLimits {
            header_read_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(1),
        },
        std::future::pending(),
    ));
    (address, state)
}

/// Two replicas on one fresh database, and the secret of a token with `scopes`.
async fn two_replicas(
    scopes: &[TokenScope],
) -> (crate::support::TestDb, String, SocketAddr, SocketAddr) {
    let db = crate::support::postgres().await;
    let secret = app::server::token::generate_token();
    db.store
        .create_api_token(
            &crate::support::new_token("test", &app::server::token::hash_token(&secret), scopes),
            &Actor::new("cli:test", None),
            chrono::Utc::now(),
        )
        .await
        .expect("token");
    let (a, _) = replica(&db.url).await;
    let (b, _) = replica(&db.url).await;
    (db, secret, a, b)
}

/// The live-update stream of the replica at `at`.
async fn events(client: &reqwest::Client, at: SocketAddr, secret: &str) -> reqwest::Response {
    client
        .get(format!("http://{at}/api/v1/events"))
        .bearer_auth(secret)
        .send()
        .await
        .expect("a live-update stream")
}

/// Reads a live-update stream until an event whose data contains `needle`.
async fn wait_for(stream: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event with {needle:?} within 5 s; saw {seen:?}"))
            .expect("stream")
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(event) = seen.split("\n\n").find(|e| e.contains(needle)) {
            return event.to_owned();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_reaches_the_pages_of_another() {
    let (_db, secret, a, b) = two_replicas(&[TokenScope::Deploy, TokenScope::Read]).await;
    let client = reqwest::Client::new();
    let mut on_a = events(&client, a, &secret).await;
    let mut on_b = events(&client, b, &secret).await;
    assert_eq!(on_b.status(), 200);

    let registered: serde_json::Value = client
        .post(format!("http://{a}/api/v1/deploys"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"service": "checkout", "environment": "production", "version": "v7"}))
        .send()
        .await
        .expect("register through a")
        .json()
        .await
        .expect("json");
    let id = registered["id"].as_i64().expect("id");

    for stream in [&mut on_b, &mut on_a] {
        let event = wait_for(stream, &format!("\"deploy\":{id}")).await;
        assert!(event.contains("event: deploy"), "{event}");
        assert!(event.contains("\"kind\":\"registered\""), "{event}");
        assert!(event.contains("\"service\":\"checkout\""), "{event}");
        assert!(event.contains("\"environment\":\"production\""), "{event}");
    }

    // A status change through b reaches a.
    let status = client
        .post(format!("http://{b}/api/v1/deploys/{id}/status"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"status": "succeeded"}))
        .send()
        .await
        .expect("status through b");
    assert_eq!(status.status(), 200);
    let event = wait_for(&mut on_a, "\"kind\":\"status\"").await;
    assert!(event.contains("\"status\":\"succeeded\""), "{event}");
}

/// What the pages of `at` show as locked now (the banner's read, through the
/// page cache).
async fn locks_shown(client: &reqwest::Client, at: SocketAddr, secret: &str) -> Vec<String> {
    let standing: serde_json::Value = client
        .post(format!("http://{at}/api/locks-in-force"))
        .bearer_auth(secret)
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("locks in force")
        .json()
        .await
        .expect("json");
    standing["value"]["locks"]
        .as_array()
        .expect("a list of locks")
        .iter()
        .map(|l| l["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_a_lock_at_once_on_the_replica_that_placed_it_and_on_the_others() {
    let (_db, secret, a, b) = two_replicas(&[TokenScope::Admin]).await;
    let client = reqwest::Client::new();
    // Both replicas' pages have read (and kept) that nothing is locked.
    assert!(locks_shown(&client, a, &secret).await.is_empty());
    assert!(locks_shown(&client, b, &secret).await.is_empty());
    let mut on_b = events(&client, b, &secret).await;

    let placed = client
        .post(format!("http://{a}/api/v1/locks"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"environment": "production", "reason": "Black Friday"}))
        .send()
        .await
        .expect("lock through a");
    assert_eq!(placed.status(), 201);
    // The replica that placed it shows it on the next page, kept entry or not.
    assert_eq!(locks_shown(&client, a, &secret).await, ["Black Friday"]);
    // Another replica shows it once it has heard of it, well before its kept
    // entry would have run out.
    wait_for(&mut on_b, "event: lock").await;
    assert_eq!(locks_shown(&client, b, &secret).await, ["Black Friday"]);
}

/// The alerts the timeline of `at` shows for the last hour (through its kept view).
async fn alerts_shown(client: &reqwest::Client, at: SocketAddr, secret: &str) -> usize {
    let view: serde_json::Value = client
        .get(format!("http://{at}/api/v1/timeline?span=1h&kind=alert"))
        .bearer_auth(secret)
        .send()
        .await
        .expect("timeline")
        .json()
        .await
        .expect("json");
    view["events"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_through_one_replica_shows_on_the_timelines_of_the_others() {
    let (_db, secret, a, b) = two_replicas(&[TokenScope::Alerts, TokenScope::Read]).await;
    let client = reqwest::Client::new();
    // Both replicas have read (and kept) a timeline with no alert on it.
    assert_eq!(alerts_shown(&client, a, &secret).await, 0);
    assert_eq!(alerts_shown(&client, b, &secret).await, 0);
    let mut on_b = events(&client, b, &secret).await;
    let started = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let posted = client
        .post(format!("http://{a}/api/v1/webhooks/alertmanager"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({
            "version": "4", "status": "firing", "receiver": "houston",
            "alerts": [{
                "status": "firing", "fingerprint": "f1", "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "labels": {"alertname": "HighLatency", "service": "checkout", "environment": "production"},
                "annotations": {"summary": "p99 over 800 ms"}
            }]
        }))
        .send()
        .await
        .expect("alert through a");
    assert_eq!(posted.status(), 200);
    assert_eq!(alerts_shown(&client, a, &secret).await, 1);
    // The other replica's pages hear of it and its kept view is read again, well
    // before the view would have run out.
    let event = wait_for(&mut on_b, "event: alerts").await;
    assert!(event.contains("\"alerts\":1"), "{event}");
    assert_eq!(alerts_shown(&client, b, &secret).await, 1);
}

//! Connections: live-update streams, kept-alive pages, slow clients and slow answers.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_update_streams_are_capped_and_end_with_their_session() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let db = crate::support::sqlite().await;
    let h = TestApp::on(db)
        .env("HOUSTON_MAX_STREAMS_PER_CALLER", "2")
        .config(|config| config.stream_recheck = std::time::Duration::from_millis(100))
        .build()
        .await;
    let (_, cookie) = h.person("ada", Role::Viewer).await;
    let open = || async {
        h.app
            .clone()
            .oneshot(request(
                "GET",
                "/api/v1/events",
                Payload::None,
                Some(&cookie),
            ))
            .await
            .expect("response")
    };
    let first = open().await;
    let second = open().await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let third = open().await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key(header::RETRY_AFTER));
    drop(second);
    let again = open().await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a closed stream frees its slot"
    );
    drop(again);

    // Signing out ends the open stream within a recheck.
    let r = h
        .send(request("POST", "/api/logout", Payload::None, Some(&cookie)))
        .await;
    assert!(r.status.is_success() || r.status.is_redirection());
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        first.into_body().collect(),
    )
    .await;
    assert!(ended.is_ok(), "the stream of an ended session closes");

    // A revoked token's open stream ends within a recheck too.
    let secret = h.token("watcher", &[TokenScope::Read]).await;
    let watching = h
        .app
        .clone()
        .oneshot(with_token(
            request("GET", "/api/v1/events", Payload::None, None),
            &secret,
        ))
        .await
        .expect("response");
    assert_eq!(watching.status(), StatusCode::OK);
    h.db.store
        .revoke_api_token(
            "watcher",
            &Actor::new("user:ada", None),
            None,
            chrono::Utc::now(),
        )
        .await
        .expect("revoke");
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        watching.into_body().collect(),
    )
    .await;
    assert!(ended.is_ok(), "the stream of a revoked token closes");
}

/// The router served on a loopback port by Houston's own accept loop.
struct Served {
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(app: &Router, header_read_timeout: std::time::Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(houston::listener::serve(
            listener,
            app.clone(),
            houston::listener::ListenerLimits {
                header_read_timeout,
                shutdown_grace: std::time::Duration::from_secs(1),
            },
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            address,
            stop,
            task,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("task").expect("serve");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_page_on_a_kept_alive_connection_is_as_quick_as_the_first() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = harness(crate::support::sqlite().await, &[]).await;
    let server = Served::start(&h.app, std::time::Duration::from_secs(5)).await;
    let address = server.address;
    // The sign-in page is streamed in several writes: with Nagle's algorithm on,
    // every response after the first on a connection waited ~40 ms for an ACK.
    let mut connection = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    async fn round_trip(connection: &mut tokio::net::TcpStream) -> std::time::Duration {
        let started = std::time::Instant::now();
        connection
            .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut seen = Vec::new();
        let mut buffer = [0u8; 16384];
        while !seen.ends_with(b"0\r\n\r\n") {
            let n = connection.read(&mut buffer).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            seen.extend_from_slice(&buffer[..n]);
        }
        assert!(seen.starts_with(b"HTTP/1.1 200"));
        started.elapsed()
    }
    round_trip(&mut connection).await;
    // The stall hit every later response, so the quickest of five shows it; a busy
    // machine slows some of them, not all.
    let mut quickest = std::time::Duration::MAX;
    for _ in 0..5 {
        quickest = quickest.min(round_trip(&mut connection).await);
    }
    assert!(
        quickest < std::time::Duration::from_millis(30),
        "every later page on the same connection took {quickest:?} or more"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_cannot_hold_connections_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = harness(crate::support::sqlite().await, &[]).await;
    let server = Served::start(&h.app, std::time::Duration::from_millis(300)).await;
    let address = server.address;
    // A whole request is answered, with the peer address known.
    let mut quick = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    quick
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    quick.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Headers that never finish: the connection is closed after the deadline.
    let mut slow = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the server hung up on the slow client");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // HTTP/2 with prior knowledge (h2c) and then nothing: not served on the
    // plaintext port, so the connection ends at once instead of idling forever.
    let mut idle = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    idle.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("write");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        idle.read_to_end(&mut rest),
    )
    .await;
    assert!(
        closed.is_ok(),
        "an idle h2c connection is closed; read {:?}",
        String::from_utf8_lossy(&rest)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_takes_too_long_is_answered_408() {
    let h = harness(
        crate::support::sqlite().await,
        &[("HOUSTON_REQUEST_TIMEOUT_SECS", "1")],
    )
    .await;
    h.person("ada", Role::Viewer).await;
    for i in 0..10 {
        let r = h
            .send(login(
                "ada",
                "not the password",
                &format!("10.8.0.{i}:4000"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The account is now slowed down by a second or more per attempt: longer
    // than this server lets a request take.
    let started = std::time::Instant::now();
    let slow = h.send(login("ada", PASSWORD, "10.8.1.1:4000")).await;
    assert_eq!(slow.status, StatusCode::REQUEST_TIMEOUT, "{}", slow.text);
    assert!(started.elapsed() < std::time::Duration::from_millis(1900));
}

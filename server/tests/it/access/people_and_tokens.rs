//! What people may do that tokens may not, whose locks a deployer lifts, pages for strangers, and a trusted proxy's names.

use super::*;

#[tokio::test]
async fn admin_power_belongs_to_people_not_tokens() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let token = h.token("root", &[TokenScope::Admin]).await;
    let bearer = |method: &str, uri: &str, body: Payload| {
        let mut r = request(method, uri, body, None);
        r.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("value"),
        );
        r
    };
    for (uri, body) in [
        ("/api/admin/users", Payload::None),
        (
            "/api/admin/create-user",
            Payload::Form("username=mallory&password=long+enough+password&role=admin"),
        ),
        ("/api/admin/tokens", Payload::None),
        (
            "/api/admin/create-token",
            Payload::Form("name=more&scopes[admin]=on"),
        ),
        ("/api/admin/revoke-token", Payload::Form("name=root")),
    ] {
        let r = h.send(bearer("POST", uri, body)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}: {}", r.text);
    }
    assert_eq!(h.db.store.count_users().await.expect("count"), 0);
    assert_eq!(h.db.store.list_api_tokens().await.expect("tokens").len(), 1);
    // Reading the audit log stays open to admin tokens.
    let audit = h.send(bearer("GET", "/api/v1/audit", Payload::None)).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);

    // A token an admin makes in the UI is theirs: it expires as asked and stops
    // when its owner's account is disabled.
    let (_, cookie) = h.person("ada", Role::Admin).await;
    h.person("root", Role::Admin).await;
    let made = h
        .send(request(
            "POST",
            "/api/admin/create-token",
            Payload::Form("name=ada-ci&scopes[read]=on&expires_in_days=30"),
            Some(&cookie),
        ))
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let json: serde_json::Value = serde_json::from_str(&made.text).expect("json");
    let secret = json["secret"].as_str().expect("secret").to_owned();
    assert_eq!(json["token"]["created_by"], "user:ada");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(json["token"]["expires_at"].clone()).expect("expiry");
    let days = (expires - chrono::Utc::now()).num_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days} hours");
    let use_it = || {
        let mut r = request("GET", "/api/v1/deploys", Payload::None, None);
        r.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {secret}").parse().expect("value"),
        );
        r
    };
    assert_eq!(h.send(use_it()).await.status, StatusCode::OK);
    h.db.store
        .set_user_disabled(
            &Username::parse("ada").expect("valid"),
            true,
            &Actor::new("user:root", None),
            None,
            chrono::Utc::now(),
        )
        .await
        .expect("disable");
    assert_eq!(h.send(use_it()).await.status, StatusCode::UNAUTHORIZED);
    let bad = h
        .send(request(
            "POST",
            "/api/admin/create-token",
            Payload::Form("name=x&scopes[deploy]=on&expires_in_days=forever"),
            Some(&h.person("eve", Role::Admin).await.1),
        ))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
}

#[tokio::test]
async fn gate_tokens_read_locks_and_only_admin_tokens_change_them() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let gate = h.token("ci-gate", &[TokenScope::Gate]).await;
    let deploy = h.token("ci-deploy", &[TokenScope::Deploy]).await;
    let admin = h.token("ops", &[TokenScope::Admin]).await;
    let lock = Payload::Json(r#"{"environment":"production","reason":"token matrix"}"#);
    let grant = Payload::Json(
        r#"{"service":"checkout","environment":"production","reason":"token matrix"}"#,
    );
    // (call, gate token, deploy token, admin token)
    let cases: [(&str, &str, Payload, [u16; 3]); 5] = [
        (
            "GET",
            "/api/v1/gate?service=checkout&environment=production",
            Payload::None,
            [200, 403, 200],
        ),
        ("GET", "/api/v1/locks", Payload::None, [200, 403, 200]),
        ("GET", "/api/v1/overrides", Payload::None, [200, 403, 200]),
        ("POST", "/api/v1/overrides", grant, [403, 403, 201]),
        ("POST", "/api/v1/locks", lock, [403, 403, 201]),
    ];
    let mut failures = Vec::new();
    for (method, uri, body, want) in cases {
        for (who, token, want) in [
            ("gate", &gate, want[0]),
            ("deploy", &deploy, want[1]),
            ("admin", &admin, want[2]),
        ] {
            let got = h
                .send(with_token(request(method, uri, body, None), token))
                .await;
            if got.status.as_u16() != want {
                failures.push(format!(
                    "{method} {uri} with the {who} token: want {want}, got {} {}",
                    got.status.as_u16(),
                    got.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Only the admin token's lock was placed; a token with scope admin lifts any lock.
    let locks =
        h.db.store
            .list_locks(
                &app::domain::LockFilter {
                    limit: 10,
                    ..Default::default()
                },
                chrono::Utc::now(),
            )
            .await
            .expect("locks");
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0].locked_by, "token:ops");
    let lifted = h
        .send(with_token(
            request(
                "POST",
                &format!("/api/v1/locks/{}/unlock", locks[0].id),
                Payload::Json("{}"),
                None,
            ),
            &gate,
        ))
        .await;
    assert_eq!(lifted.status, StatusCode::FORBIDDEN, "{}", lifted.text);
}

#[tokio::test]
async fn a_deployer_lifts_their_own_lock_and_a_lead_any() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, dana) = h.person("dana", Role::Deployer).await;
    let (_, dave) = h.person("dave", Role::Deployer).await;
    let (_, lena) = h.person("lena", Role::Lead).await;
    let place = |body: &'static str, cookie: &str| {
        request("POST", "/api/v1/locks", Payload::Json(body), Some(cookie))
    };
    let mine = h
        .send(place(
            r#"{"environment":"production","reason":"dana's"}"#,
            &dana,
        ))
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text);
    let mine: serde_json::Value = serde_json::from_str(&mine.text).expect("json");
    assert_eq!(mine["locked_by"], "user:dana");
    let theirs = h
        .send(place(
            r#"{"environment":"staging","reason":"dave's"}"#,
            &dave,
        ))
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
    let theirs: serde_json::Value = serde_json::from_str(&theirs.text).expect("json");
    let unlock = |lock: &serde_json::Value, cookie: &str| {
        let uri = format!("/api/v1/locks/{}/unlock", lock["id"]);
        request("POST", &uri, Payload::Json("{}"), Some(cookie))
    };

    let refused = h.send(unlock(&theirs, &dana)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("user:dave"), "{}", refused.text);
    let own = h.send(unlock(&mine, &dana)).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    let by_lead = h.send(unlock(&theirs, &lena)).await;
    assert_eq!(by_lead.status, StatusCode::OK, "{}", by_lead.text);
    assert!(
        by_lead.text.contains(r#""unlocked_by":"user:lena""#),
        "{}",
        by_lead.text
    );

    // The same rule for the pages' server functions.
    let placed = h
        .send(request(
            "POST",
            "/api/place-lock",
            Payload::Form("environment=qa&service=checkout&reason=dana%27s+again"),
            Some(&dana),
        ))
        .await;
    assert_eq!(placed.status, StatusCode::OK, "{}", placed.text);
    let lock =
        h.db.store
            .list_locks(
                &app::domain::LockFilter {
                    active: Some(true),
                    limit: 10,
                    ..Default::default()
                },
                chrono::Utc::now(),
            )
            .await
            .expect("locks")
            .into_iter()
            .find(|l| l.locked_by == "user:dana")
            .expect("dana's lock");
    let unlock_form = |cookie: &str| {
        let mut r = request("POST", "/api/unlock", Payload::Form(""), Some(cookie));
        *r.body_mut() = Body::from(format!("id={}&note=mine+now", lock.id));
        r
    };
    let refused = h.send(unlock_form(&dave)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let lifted = h.send(unlock_form(&lena)).await;
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.text);
    let ended =
        h.db.store
            .get_lock(lock.id, chrono::Utc::now())
            .await
            .expect("get")
            .expect("kept");
    assert_eq!(ended.unlocked_by.as_deref(), Some("user:lena"));
    assert_eq!(ended.unlock_note.as_deref(), Some("mine now"));
}

#[tokio::test]
async fn pages_send_strangers_to_sign_in_unless_anonymous_reading_is_on() {
    let closed = harness(crate::support::sqlite().await, &[]).await;
    let r = closed
        .send(request(
            "GET",
            "/deploys?service=checkout",
            Payload::None,
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        "/login?next=/deploys%3Fservice%3Dcheckout"
    );
    for open_path in ["/login", "/setup", "/healthz", "/favicon.svg"] {
        let r = closed
            .send(request("GET", open_path, Payload::None, None))
            .await;
        assert_ne!(r.status, StatusCode::SEE_OTHER, "{open_path}");
    }
    let (_, cookie) = closed.person("ada", Role::Viewer).await;
    let page = closed
        .send(request("GET", "/", Payload::None, Some(&cookie)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Mission control"));
    // A path no route takes renders the not-found page in the same context as every
    // page (the store, the session): the signed-in person's menu, not an error.
    let missing = closed
        .send(request(
            "GET",
            "/no-such-page",
            Payload::None,
            Some(&cookie),
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text.contains("signed-in-as"), "{}", missing.text);

    let open = harness(
        crate::support::sqlite().await,
        &[("HOUSTON_ALLOW_ANONYMOUS_READ", "true")],
    )
    .await;
    let page = open.send(request("GET", "/", Payload::None, None)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(!page.text.contains("Sign in to see this"), "{}", page.text);
    let list = open
        .send(request("GET", "/api/v1/deploys", Payload::None, None))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let write = open
        .send(request(
            "POST",
            "/api/v1/deploys",
            Payload::Json(r#"{"service":"a","environment":"b","version":"c"}"#),
            None,
        ))
        .await;
    assert_eq!(write.status, StatusCode::UNAUTHORIZED, "reading only");
    let admin = open
        .send(request("POST", "/api/admin/users", Payload::None, None))
        .await;
    assert_eq!(admin.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_trusted_proxy_names_the_user() {
    let h = harness(
        crate::support::sqlite().await,
        &[
            ("HOUSTON_TRUSTED_PROXIES", "10.0.0.1"),
            ("HOUSTON_PROXY_USER_HEADER", "X-Forwarded-User"),
        ],
    )
    .await;
    h.person("ada", Role::Lead).await;
    let whoami = |peer: &str, user: &str| {
        let mut r = request("POST", "/api/whoami", Payload::None, None);
        r.headers_mut()
            .insert("x-forwarded-user", user.parse().expect("value"));
        from_peer(r, peer)
    };
    let trusted = h.send(whoami("10.0.0.1:50000", "ada")).await;
    assert_eq!(trusted.status, StatusCode::OK);
    assert!(
        trusted.text.contains(r#""username":"ada""#),
        "{}",
        trusted.text
    );
    assert!(
        trusted.text.contains(r#""role":"lead""#),
        "{}",
        trusted.text
    );

    let spoofed = h.send(whoami("10.0.0.2:50000", "ada")).await;
    assert_eq!(
        spoofed.text, "null",
        "the header counts only from the proxy"
    );

    let unknown = h.send(whoami("10.0.0.1:50000", "mallory")).await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN, "{}", unknown.text);
    assert_eq!(
        settled_count(&h, "session.proxy_login", 1).await,
        1,
        "audited, once per window"
    );
}

#[tokio::test]
async fn with_a_proxy_secret_the_address_alone_is_not_enough() {
    let h = harness(
        crate::support::sqlite().await,
        &[
            ("HOUSTON_TRUSTED_PROXIES", "10.0.0.0/24"),
            ("HOUSTON_PROXY_USER_HEADER", "X-Forwarded-User"),
            ("HOUSTON_PROXY_SECRET", "a-long-shared-proxy-secret"),
        ],
    )
    .await;
    h.person("ada", Role::Lead).await;
    let whoami = |secret: Option<&str>| {
        let mut r = request("POST", "/api/whoami", Payload::None, None);
        r.headers_mut()
            .insert("x-forwarded-user", "ada".parse().expect("value"));
        if let Some(secret) = secret {
            r.headers_mut()
                .insert("x-houston-proxy-secret", secret.parse().expect("value"));
        }
        from_peer(r, "10.0.0.5:50000")
    };
    let good = h.send(whoami(Some("a-long-shared-proxy-secret"))).await;
    assert!(good.text.contains(r#""username":"ada""#), "{}", good.text);
    for bad in [None, Some("a-long-shared-proxy-secreT"), Some("")] {
        let r = h.send(whoami(bad)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad:?}: {}", r.text);
    }
    assert_eq!(settled_count(&h, "proxy.bad_secret", 1).await, 1);
}

//! Health, the API document, pages rendered on the server, security headers, token scopes, the audit log and signing in.

use super::*;

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

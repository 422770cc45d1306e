//! Requests from other sites, the pages' security policy, and the one entry of every server function.

use super::*;

#[tokio::test]
async fn state_changes_from_another_site_are_refused() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, cookie) = h.person("root", Role::Admin).await;
    let create = |extra: (&'static str, &'static str)| {
        let mut r = request(
            "POST",
            "/api/admin/create-token",
            Payload::Form("name=forged&scopes[deploy]=on"),
            Some(&cookie),
        );
        r.headers_mut().insert(extra.0, extra.1.parse().expect("v"));
        r
    };
    for header in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let mut r = create(header);
        if header.0 == "origin" {
            r.headers_mut().remove("sec-fetch-site");
        }
        let r = h.send(r).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{header:?}: {}", r.text);
        assert!(r.text.contains("cross_site"), "{}", r.text);
    }
    // A cookie-carrying change that says nothing about where it comes from.
    let mut silent = create(("x-nothing", "1"));
    silent.headers_mut().remove("sec-fetch-site");
    let r = h.send(silent).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        h.db.store
            .list_api_tokens()
            .await
            .expect("tokens")
            .is_empty(),
        "nothing was created"
    );
    let same = h.send(create(("sec-fetch-site", "same-origin"))).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert!(same.text.contains("hst_"), "the secret is shown once");
    // GET never changes anything: server functions that change state refuse it.
    let get = h
        .send(request(
            "GET",
            "/api/admin/revoke-token?name=forged",
            Payload::None,
            Some(&cookie),
        ))
        .await;
    assert_ne!(get.status, StatusCode::OK);
    assert!(
        h.db.store.list_api_tokens().await.expect("tokens")[0]
            .revoked_at
            .is_none()
    );
}

#[tokio::test]
async fn pages_carry_a_nonce_policy_and_https_adds_hsts() {
    let h = harness(
        crate::support::sqlite().await,
        &[("HOUSTON_PUBLIC_URL", "https://houston.example")],
    )
    .await;
    let (user, _) = h.person("ada", Role::Viewer).await;
    // Over https the cookie is __Host-houston_session.
    let id = app::server::session::new_session_id();
    let now = chrono::Utc::now();
    h.db.store
        .create_session(
            &hash_session_id(&id),
            &user,
            now + chrono::Duration::hours(1),
            &Actor::new("user:ada", None),
            now,
        )
        .await
        .expect("session");
    let cookie = format!("__Host-houston_session={id}");
    let page = h
        .send(request("GET", "/", Payload::None, Some(&cookie)))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let csp = page.header("content-security-policy").to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    assert!(nonce.len() >= 16, "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        page.text.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the nonce"
    );
    let again = h
        .send(request("GET", "/", Payload::None, Some(&cookie)))
        .await;
    assert_ne!(
        again.header("content-security-policy"),
        csp,
        "a new nonce per response"
    );
    assert!(
        page.header("strict-transport-security")
            .contains("max-age=")
    );
    let api = h
        .send(request("GET", "/healthz", Payload::None, None))
        .await;
    assert!(
        api.header("content-security-policy")
            .starts_with("default-src 'none'")
    );
    assert_eq!(api.header("x-content-type-options"), "nosniff");

    let plain = harness(crate::support::sqlite().await, &[]).await;
    let r = plain
        .send(request("GET", "/healthz", Payload::None, None))
        .await;
    assert!(r.header("strict-transport-security").is_empty());
}

/// Every server function enters through `app::server::serve`, which authorises and
/// hands over the store: none can forget the check (a use case of
/// `houston_service` declares its own `NEED`, which the function passes). Read from the source, so a
/// new function that skips it fails here.
#[test]
fn every_server_function_goes_through_the_one_entry() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src/api");
    let mut functions = 0;
    for entry in std::fs::read_dir(&dir).expect("app/src/api") {
        let path = entry.expect("entry").path();
        let source = std::fs::read_to_string(&path).expect("source");
        // Each piece after a `#[server` attribute at the start of a line (an
        // argument's `#[server(default)]` is not one), up to the next item.
        for piece in source.split("\n#[server(").skip(1) {
            let body = piece
                .split("\n#[")
                .next()
                .expect("a function follows the attribute");
            let name = body
                .split("pub async fn ")
                .nth(1)
                .and_then(|rest| rest.split('(').next())
                .expect("a server function");
            functions += 1;
            // The need is written where the function is (`Need::…`), or is the one
            // its use case declares (`locks::NEED`).
            let need = body
                .split("crate::server::serve(")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap_or_default();
            assert!(
                need.starts_with("Need::") || need.ends_with("NEED"),
                "{}: the server function {name} does not go through crate::server::serve with its need",
                path.display()
            );
        }
    }
    assert!(functions >= 20, "found only {functions} server functions");
}

#[tokio::test]
async fn server_function_arguments_that_do_not_decode_answer_400() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, cookie) = h.person("root", Role::Admin).await;
    for (uri, body) in [
        // A required argument missing.
        ("/api/admin/create-user", "username=someone"),
        // An argument of the wrong type.
        ("/api/deploy", "id=not-a-number"),
        // Not form data at all.
        ("/api/admin/set-role", "%%%"),
    ] {
        let r = h
            .send(request("POST", uri, Payload::Form(body), Some(&cookie)))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.text);
        let json: serde_json::Value = serde_json::from_str(&r.text).expect("a JSON error");
        assert_eq!(json["error"], "bad_request", "{uri}: {}", r.text);
        assert!(
            json["message"]
                .as_str()
                .is_some_and(|m| m.contains("argument")),
            "{uri}: {}",
            r.text
        );
    }
    assert_eq!(
        h.db.store.count_users().await.expect("count"),
        1,
        "nothing was created"
    );
}

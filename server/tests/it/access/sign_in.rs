//! Signing in: throttling, security events, redirects, passwords, second factors and first-run set-up.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_can_lock_a_victim_out_but_guessers_are_stopped() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    h.person("ada", Role::Viewer).await;
    h.person("bob", Role::Viewer).await;
    // Ten wrong passwords for ada from ten addresses: each answered 401.
    for i in 0..10 {
        let r = h
            .send(login(
                "ada",
                "not the password",
                &format!("10.0.1.{i}:4000"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {}", i + 1);
    }
    // Ada herself, from her own address, still gets in: slowed down, not refused.
    let started = std::time::Instant::now();
    let own = h.send(login("ada", PASSWORD, "10.0.2.1:4000")).await;
    assert!(
        own.status.is_success() || own.status.is_redirection(),
        "{} {}",
        own.status,
        own.text
    );
    assert!(own.header("set-cookie").starts_with("houston_session="));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "the account under attack answers slowly: {:?}",
        started.elapsed()
    );

    // Ten wrong passwords for bob from one address lock that pair: the eleventh
    // is refused before the password is checked, even the right one…
    for _ in 0..10 {
        let r = h
            .send(login("bob", "not the password", "10.0.3.1:4000"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let locked = h.send(login("bob", PASSWORD, "10.0.3.1:4000")).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    let retry: i64 = locked.header("retry-after").parse().expect("Retry-After");
    assert!((800..=900).contains(&retry), "{retry}");
    assert!(locked.header("set-cookie").is_empty());
    // … but bob from anywhere else is not locked out.
    let elsewhere = h.send(login("bob", PASSWORD, "10.0.3.2:4000")).await;
    assert!(
        elsewhere
            .header("set-cookie")
            .starts_with("houston_session="),
        "{}",
        elsewhere.text
    );

    // IPv6 clients are one client per /64: rotating the last bits does not help.
    for i in 0..10 {
        let r = h
            .send(login(
                "dave",
                "not the password",
                &format!("[2001:db8:7:7::{i:x}]:4000"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let rotated = h
        .send(login(
            "dave",
            "not the password",
            "[2001:db8:7:7:ffff::1]:4000",
        ))
        .await;
    assert_eq!(
        rotated.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        rotated.text
    );

    // One address trying many names is stopped at the address limit.
    let limit = app::domain::LoginLimits::DEFAULT.per_address;
    for i in 0..limit {
        let r = h
            .send(login(
                &format!("guess{i}"),
                "whatever it is",
                "10.0.4.1:4000",
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let sprayed = h
        .send(login("someone", "whatever it is", "10.0.4.1:4000"))
        .await;
    assert_eq!(sprayed.status, StatusCode::TOO_MANY_REQUESTS);

    assert_eq!(
        audit_count(&h, "session.login_failed").await,
        10 + 10 + 10 + usize::try_from(limit).expect("small"),
        "throttled attempts are not checked, so not recorded as failures"
    );
    // Throttled attempts are security events (rate-limited, written in the background).
    let mut throttled = 0;
    for _ in 0..50 {
        throttled = audit_count(&h, "session.throttled").await;
        if throttled >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(throttled, 3, "one row per address and window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_parallel_guesses_checks_at_most_the_limit() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    h.person("carol", Role::Viewer).await;
    let app = h.app.clone();
    let ready = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut worst = std::time::Duration::ZERO;
            let mut answers = Vec::new();
            for _ in 0..40 {
                let started = std::time::Instant::now();
                let r = crate::support::send(&app, request("GET", "/readyz", Payload::None, None))
                    .await;
                worst = worst.max(started.elapsed());
                answers.push(r.status);
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            (answers, worst)
        })
    };
    let guesses: Vec<_> = (0..300)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                crate::support::send(
                    &app,
                    login("carol", &format!("guess number {i}"), "10.9.9.9:4000"),
                )
                .await
                .status
            })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for g in guesses {
        *counts.entry(g.await.expect("task").as_u16()).or_insert(0) += 1;
    }
    let (answers, worst) = ready.await.expect("readiness task");
    let checked = counts.get(&401).copied().unwrap_or(0);
    assert!(checked <= 10, "at most the limit was verified: {counts:?}");
    assert!(
        counts.keys().all(|s| [401, 429, 503].contains(s)),
        "only checked, throttled or busy: {counts:?}"
    );
    assert_eq!(counts.values().sum::<usize>(), 300);
    assert!(answers.iter().all(|s| *s == StatusCode::OK), "{answers:?}");
    assert!(
        worst < std::time::Duration::from_secs(2),
        "readiness waited {worst:?}"
    );
    // Too long a password is refused before anything is hashed or counted.
    let long = "x".repeat(app::domain::MAX_PASSWORD_BYTES + 1);
    let r = h.send(login("carol", &long, "10.9.9.10:4000")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

/// The review's probe (N11): strangers from 70 addresses, then a known caller's
/// refusal, which is still written; the strangers' overflow is one counted row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_hide_a_known_callers_refusal() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    for i in 0..70 {
        let mut r = from_peer(
            request("GET", "/api/v1/deploys", Payload::None, None),
            &format!("127.0.0.{}:5000", i + 2),
        );
        r.headers_mut().insert(
            header::AUTHORIZATION,
            "Bearer hst_guess".parse().expect("v"),
        );
        assert_eq!(h.send(r).await.status, StatusCode::UNAUTHORIZED);
    }
    let strangers = settled_count(&h, "token.unknown", 30).await;
    assert!(strangers < 70, "strangers have a budget: {strangers} rows");
    let (_, cookie) = h.person("bob", Role::Viewer).await;
    let r = h
        .send(request(
            "GET",
            "/api/v1/audit",
            Payload::None,
            Some(&cookie),
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        settled_count(&h, "access.refused", 1).await,
        1,
        "bob's refusal is recorded despite the strangers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_reach_the_audit_log_without_flooding_it() {
    let secret = "webhook-secret";
    let h = harness(
        crate::support::sqlite().await,
        &[("HOUSTON_GITHUB_WEBHOOK_SECRET", secret)],
    )
    .await;
    // A flood of bad bearer tokens from one address: one row.
    for _ in 0..200 {
        let mut r = from_peer(
            request("GET", "/api/v1/deploys", Payload::None, None),
            "10.1.1.1:5000",
        );
        r.headers_mut().insert(
            header::AUTHORIZATION,
            "Bearer hst_guess".parse().expect("v"),
        );
        assert_eq!(h.send(r).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(settled_count(&h, "token.unknown", 1).await, 1);
    // A viewer asking for admin pages and routes: refused and recorded once per window.
    let (_, cookie) = h.person("vera", Role::Viewer).await;
    for _ in 0..20 {
        let r = h
            .send(request(
                "POST",
                "/api/admin/users",
                Payload::None,
                Some(&cookie),
            ))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = h
            .send(request(
                "GET",
                "/api/v1/audit",
                Payload::None,
                Some(&cookie),
            ))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        settled_count(&h, "access.refused", 1).await,
        1,
        "same actor, same address"
    );
    // Wrong webhook signatures and set-up secrets.
    for i in 0..10 {
        let r = h
            .send(
                Request::post("/api/v1/webhooks/github")
                    .header("X-GitHub-Event", "deployment")
                    .header("X-GitHub-Delivery", format!("bad-{i}"))
                    .header("X-Hub-Signature-256", "sha256=00")
                    .body(Body::from("{}"))
                    .expect("request"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(settled_count(&h, "webhook.bad_signature", 1).await, 1);
    h.state.setup.open();
    let r = h
        .send(request(
            "POST",
            "/api/setup",
            Payload::Form("secret=guess&username=eve&password=long+enough+password"),
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(settled_count(&h, "setup.bad_secret", 1).await, 1);
    // Signing out is recorded.
    let r = h
        .send(request("POST", "/api/logout", Payload::None, Some(&cookie)))
        .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.status
    );
    assert_eq!(audit_count(&h, "session.logout").await, 1);
}

#[tokio::test]
async fn sign_in_never_sends_people_off_site() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    h.person("ada", Role::Viewer).await;
    for (i, next) in [
        "%2F%0D%0ASet-Cookie%3A+x%3D1",
        "%2F%09%2Fevil.example",
        "%2F%250d",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "https%3A%2F%2Fevil.example%2F",
    ]
    .iter()
    .enumerate()
    {
        let body: &'static str = Box::leak(
            format!(
                "username=ada&password={}&next={next}",
                PASSWORD.replace(' ', "+")
            )
            .into_boxed_str(),
        );
        let r = h
            .send(from_peer(
                request("POST", "/api/login", Payload::Form(body), None),
                &format!("10.3.0.{i}:4000"),
            ))
            .await;
        assert!(
            r.header("set-cookie").starts_with("houston_session="),
            "{next}: {} {}",
            r.status,
            r.text
        );
        assert_eq!(r.header("location"), "/", "{next}");
    }
}

#[tokio::test]
async fn people_rotate_their_password_and_admins_reset_others() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, here) = h.person("ada", Role::Viewer).await;
    // A second session of ada's, on another device.
    let elsewhere = h
        .send(login("ada", PASSWORD, "10.5.0.2:4000"))
        .await
        .header("set-cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let whoami = |cookie: &str| request("POST", "/api/whoami", Payload::None, Some(cookie));
    assert!(h.send(whoami(&elsewhere)).await.text.contains("ada"));
    let change = |current: &str, new: &str| {
        let body: &'static str = Box::leak(
            format!(
                "current={}&new={}",
                current.replace(' ', "+"),
                new.replace(' ', "+")
            )
            .into_boxed_str(),
        );
        request(
            "POST",
            "/api/account/password",
            Payload::Form(body),
            Some(&here),
        )
    };
    let wrong = h
        .send(change("not my password", "a brand new passphrase"))
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.text
    );
    assert!(wrong.text.contains("current"), "{}", wrong.text);
    let common = h.send(change(PASSWORD, "qwertyuiop123")).await;
    assert_eq!(
        common.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        common.text
    );
    let done = h.send(change(PASSWORD, "a brand new passphrase")).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(
        h.send(whoami(&here)).await.text.contains("ada"),
        "this session stays"
    );
    assert_eq!(
        h.send(whoami(&elsewhere)).await.text,
        "null",
        "the other one ended"
    );
    let old = h.send(login("ada", PASSWORD, "10.5.0.3:4000")).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = h
        .send(login("ada", "a brand new passphrase", "10.5.0.3:4000"))
        .await;
    assert!(
        new.header("set-cookie").starts_with("houston_session="),
        "{}",
        new.text
    );
    assert_eq!(audit_count(&h, "user.password").await, 1);

    // An admin resets ada's password: every session of hers ends, the new
    // generated password works, and it is shown only in the answer.
    let (_, admin) = h.person("root", Role::Admin).await;
    let reset = h
        .send(request(
            "POST",
            "/api/admin/reset-password",
            Payload::Form("username=ada&reason=forgot+it"),
            Some(&admin),
        ))
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
    let generated: String = serde_json::from_str(&reset.text).expect("password");
    assert_eq!(generated.len(), 24);
    assert_eq!(h.send(whoami(&here)).await.text, "null");
    let with_it = h.send(login("ada", &generated, "10.5.0.4:4000")).await;
    assert!(
        with_it.header("set-cookie").starts_with("houston_session="),
        "{}",
        with_it.text
    );
    let entries =
        h.db.store
            .list_audit(&app::domain::AuditFilter {
                action: Some("user.password".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("audit");
    assert_eq!(entries[0].actor, "user:root");
    assert_eq!(entries[0].reason.as_deref(), Some("forgot it"));
    assert!(
        !entries
            .iter()
            .any(|e| format!("{e:?}").contains(&generated)),
        "never logged"
    );
}

#[tokio::test]
async fn a_second_factor_guards_sign_in_and_can_be_required() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, admin) = h.person("root", Role::Admin).await;
    // An admin without a second factor cannot require one of admins…
    let require = |rule: &'static str| {
        let body: &'static str = Box::leak(format!("rule={rule}&reason=policy").into_boxed_str());
        request(
            "POST",
            "/api/admin/set-second-factor-rule",
            Payload::Form(body),
            Some(&admin),
        )
    };
    let r = h.send(require("lead")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = h.send(require("everyone")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // … so here the rule is stored as an admin with one would store it.
    h.db.store
        .set_setting(
            "second_factor_required_from",
            "lead",
            &Actor::new("user:root", None),
            Some("policy"),
            chrono::Utc::now(),
        )
        .await
        .expect("setting");
    // Another replica would see it within seconds; this one is told at once.
    h.state
        .second_factor
        .remember(app::server::access::SecondFactorRule::From(Role::Lead));
    let (_, cookie) = h.person("ada", Role::Lead).await;
    let post = |uri: &'static str, body: Payload| request("POST", uri, body, Some(&cookie));
    // A lead without a second factor reads, but may not act until they set one up.
    let token = h
        .send(post(
            "/api/admin/create-token",
            Payload::Form("name=x&scopes[deploy]=on"),
        ))
        .await;
    assert_eq!(token.status, StatusCode::FORBIDDEN);
    let deploy = h
        .send(post(
            "/api/v1/deploys",
            Payload::Json(r#"{"service":"a","environment":"b","version":"1"}"#),
        ))
        .await;
    assert_eq!(deploy.status, StatusCode::FORBIDDEN, "{}", deploy.text);
    assert!(deploy.text.contains("second factor"), "{}", deploy.text);

    let refused = h
        .send(post(
            "/api/account/second-factor/begin",
            Payload::Form("password=a+borrowed+session"),
        ))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    let begun = h
        .send(post(
            "/api/account/second-factor/begin",
            Payload::Form("password=correct+horse+battery"),
        ))
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text);
    let enrolment: serde_json::Value = serde_json::from_str(&begun.text).expect("json");
    let secret = enrolment["secret"].as_str().expect("secret").to_owned();
    assert!(
        enrolment["qr_svg"]
            .as_str()
            .expect("svg")
            .starts_with("<svg")
    );
    let now = || u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970");
    let wrong = h
        .send(post(
            "/api/account/second-factor/confirm",
            Payload::Form("code=000000"),
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let code = app::server::totp::code_at(&secret, now()).expect("code");
    let body: &'static str = Box::leak(format!("code={code}").into_boxed_str());
    let confirmed = h
        .send(post(
            "/api/account/second-factor/confirm",
            Payload::Form(body),
        ))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    let recovery: Vec<String> = serde_json::from_str(&confirmed.text).expect("codes");
    assert_eq!(recovery.len(), 10);
    // Now the lead may act.
    let deploy = h
        .send(post(
            "/api/v1/deploys",
            Payload::Json(r#"{"service":"a","environment":"b","version":"1"}"#),
        ))
        .await;
    assert_eq!(deploy.status, StatusCode::CREATED, "{}", deploy.text);

    let sign_in = |code: Option<&str>, peer: &str| {
        let mut body = format!("username=ada&password={}", PASSWORD.replace(' ', "+"));
        if let Some(code) = code {
            body.push_str(&format!("&code={code}"));
        }
        let mut r = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
        r
    };
    let signed_in = |r: &Reply| r.header("set-cookie").starts_with("houston_session=");
    // The password alone no longer signs in; a wrong code neither; the code that
    // turned it on was spent, so the next step's code (or a recovery code) works.
    let r = h.send(sign_in(None, "10.7.0.1:4000")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(!signed_in(&r));
    let r = h.send(sign_in(Some("123456"), "10.7.0.2:4000")).await;
    assert!(!signed_in(&r), "{}", r.text);
    let r = h.send(sign_in(Some(&code), "10.7.0.3:4000")).await;
    assert!(!signed_in(&r), "a code works once: {}", r.text);
    let next = app::server::totp::code_at(&secret, now() + 30).expect("code");
    let r = h.send(sign_in(Some(&next), "10.7.0.4:4000")).await;
    assert!(signed_in(&r), "{}", r.text);
    let r = h
        .send(sign_in(Some(&recovery[0].to_uppercase()), "10.7.0.5:4000"))
        .await;
    assert!(signed_in(&r), "a recovery code signs in once: {}", r.text);
    let r = h.send(sign_in(Some(&recovery[0]), "10.7.0.6:4000")).await;
    assert!(!signed_in(&r), "and only once");
    // A lead may not turn a required factor off; an admin can reset it (lost phone).
    let off = h
        .send(post(
            "/api/account/second-factor/off",
            Payload::Form("password=correct+horse+battery"),
        ))
        .await;
    assert_eq!(off.status, StatusCode::CONFLICT, "{}", off.text);
    let reset = h
        .send(request(
            "POST",
            "/api/admin/reset-second-factor",
            Payload::Form("username=ada&reason=lost+phone"),
            Some(&admin),
        ))
        .await;
    assert_eq!(
        reset.status,
        StatusCode::FORBIDDEN,
        "the admin needs one first: {}",
        reset.text
    );
    assert_eq!(audit_count(&h, "user.second_factor_on").await, 1);
}

#[tokio::test]
async fn first_run_set_up_creates_one_admin_with_the_printed_secret() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let secret = h.state.setup.open();
    let setup = |secret: &str, name: &str| {
        request(
            "POST",
            "/api/setup",
            Payload::Form(Box::leak(
                format!("secret={secret}&username={name}&password=long+enough+password")
                    .into_boxed_str(),
            )),
            None,
        )
    };
    assert_eq!(
        h.send(setup("wrong", "eve")).await.status,
        StatusCode::FORBIDDEN
    );
    let short = h
        .send(request(
            "POST",
            "/api/setup",
            Payload::Form(Box::leak(
                format!("secret={secret}&username=ada&password=short").into_boxed_str(),
            )),
            None,
        ))
        .await;
    assert_eq!(
        short.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        short.text
    );
    let done = h.send(setup(&secret, "ada")).await;
    assert!(
        done.status.is_success() || done.status.is_redirection(),
        "{} {}",
        done.status,
        done.text
    );
    assert!(done.header("set-cookie").starts_with("houston_session="));
    let users = h.db.store.list_users().await.expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].username.as_str(), users[0].role),
        ("ada", Role::Admin)
    );
    assert_eq!(
        h.send(setup(&secret, "eve")).await.status,
        StatusCode::FORBIDDEN,
        "the secret works once"
    );
    assert_eq!(h.db.store.count_users().await.expect("count"), 1);
}

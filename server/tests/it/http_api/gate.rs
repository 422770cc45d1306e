//! Locks, overrides, promotion rules and the gate, over HTTP and through `houston gate`.

use super::*;

impl TestApp {
    /// A call with another token; a JSON body when given.
    pub(super) async fn call_as(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        body: Option<&Value>,
    ) -> Reply {
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
    houston_cli(server, token, "gate", args).await
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
    let (server, stop) = h.serve_on_loopback().await;

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

    stop.stop().await;
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

//! Incidents: PagerDuty's webhook, declaring, suspects, the export, stop the line.

use super::*;

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

    // The confirmed cause's rows say so, in the API and on its page and history.
    let r = h.get(&format!("/api/v1/deploys/{s1}")).await;
    assert_eq!(r.json()["caused_incident"], id, "{}", r.text);
    let page = h.get(&format!("/deploys/{s1}")).await;
    assert!(
        page.text.contains(&format!("Caused incident {id}")),
        "{}",
        page.text
    );
    let history = h.get("/deploys?service=search").await;
    assert!(history.text.contains(&format!("caused incident {id}")));

    // The incident's page ranks its suspects with their evidence.
    let page = h.get(&format!("/incidents/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Which deploy broke it?",
        "confirmed cause",
        "1 new error group appeared after it",
    ] {
        assert!(page.text.contains(text), "{text}: {}", page.text);
    }
    assert!(h.get("/incidents").await.text.contains("Checkout errors"));

    // The timeline opened from the incident: the deploys, then the incident, with
    // the incident as its focus; drawn on the server.
    let r = h.get(&format!("/api/v1/timeline?incident={id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let view = r.json();
    let kinds: Vec<&str> = view["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        ["deploy", "deploy", "deploy", "incident"],
        "{view:#}"
    );
    assert_eq!(view["span"], "12h");
    assert!(
        view["focus"]
            .as_f64()
            .is_some_and(|f| (f - 0.5).abs() < 1e-6)
    );
    assert_eq!(view["lanes"][0]["name"], "Incidents");
    // An alert arrives: the same view read again at once holds it (the facts kept
    // between reads are dropped by every alert, not only after their 5 s).
    let firing = json!({"version": "4", "status": "firing", "receiver": "houston", "alerts": [{
        "status": "firing", "fingerprint": "timeline-1", "startsAt": at(5),
        "endsAt": "0001-01-01T00:00:00Z", "labels": {"alertname": "CheckoutSlow",
            "service": "checkout", "environment": "production"},
        "annotations": {}}]});
    let r = h.post_json("/api/v1/webhooks/alertmanager", &firing).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let again = h
        .get(&format!("/api/v1/timeline?incident={id}"))
        .await
        .json();
    let kinds: Vec<&str> = again["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        ["deploy", "deploy", "deploy", "incident", "alert"],
        "{again:#}"
    );
    let page = h.get(&format!("/timeline?incident={id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("timeline-chart") && page.text.contains("Checkout errors"));
    let only = h
        .get("/api/v1/timeline?kind=incident&service=search")
        .await
        .json();
    assert_eq!(only["events"].as_array().map(Vec::len), Some(0), "{only:#}");
    let bad = h
        .get("/api/v1/timeline?span=2h&kind=explosion&at=soon")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    let problems = bad.json();
    let fields: Vec<&str> = problems["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["at", "span", "kind"]);
    let r = h.get("/api/v1/timeline?incident=999999").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = h.get("/api/v1/timeline?colour=red").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

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
        ["deploy", "deploy", "deploy", "incident", "alert"],
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

/// `houston incident declare` opens one and prints its id; `move` resolves it by the
/// caller's id; a bad severity fails with the field named and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn houston_incident_declares_and_resolves_from_the_command_line() {
    let h = harness().await;
    let token = h.token("on-call", &[TokenScope::Deploy]).await;
    let (server, stop) = h.serve_on_loopback().await;
    let (code, stdout, stderr) = houston_cli(
        &server,
        &token,
        "incident declare",
        &[
            "--title",
            "Checkout errors",
            "--severity",
            "P1",
            "--service",
            "checkout",
            "--environment",
            "production",
            "--id",
            "INC-9",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let id: i64 = stdout.trim().parse().expect("the id on standard output");
    assert!(stderr.contains("is open (opened)"), "{stderr}");
    let incident = h.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(incident["severity"], "critical");
    assert_eq!(incident["opened_by"], "token:on-call");

    let (code, stdout, stderr) = houston_cli(
        &server,
        &token,
        "incident declare",
        &["--title", "x", "--severity", "sev9"],
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("severity"), "{stderr}");
    assert_eq!(
        h.get("/api/v1/incidents")
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let (code, stdout, stderr) = houston_cli(
        &server,
        &token,
        "incident move",
        &[
            "--id",
            "INC-9",
            "--title",
            "Checkout errors",
            "--severity",
            "P1",
            "--state",
            "resolved",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.trim(), id.to_string());
    let incident = h.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(incident["state"], "resolved");
    stop.stop().await;
}

/// Any tool's signed JSON: `sha256=` HMAC of the body, as GitHub signs. A good one
/// opens and later moves the incident; unsigned, badly signed or invalid ones change
/// nothing.
#[tokio::test]
async fn a_signed_incident_webhook_opens_and_moves_one_and_a_bad_one_changes_nothing() {
    let h = harness_with(&[("HOUSTON_INCIDENT_WEBHOOK_SECRET", "inc-s3cret")]).await;
    let send = |secret: &str, body: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body.as_bytes());
        Request::post("/api/v1/webhooks/incidents")
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                "x-houston-signature",
                format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            )
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    let opened = r#"{"id":"OG-42","title":"Search is slow","severity":"SEV2","services":["search"],"environments":["production"],"url":"https://acme.app.opsgenie.com/alert/detail/42"}"#;
    let r = h.send(send("wrong", opened)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let unsigned = Request::post("/api/v1/webhooks/incidents")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(opened))
        .expect("request");
    assert_eq!(h.send(unsigned).await.status, StatusCode::UNAUTHORIZED);
    let r = h
        .send(send("inc-s3cret", r#"{"title":"","severity":"sev9"}"#))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(h.get("/api/v1/incidents").await.json(), json!([]));

    let r = h.send(send("inc-s3cret", opened)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let incident = r.json()["incident"].clone();
    assert_eq!(incident["source"], "webhook");
    assert_eq!(incident["severity"], "high");
    assert_eq!(incident["opened_by"], "webhook:incidents");
    let resolved = opened.replace(
        r#""severity":"SEV2""#,
        r#""severity":"SEV2","state":"resolved""#,
    );
    let r = h.send(send("inc-s3cret", &resolved)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["change"], "resolved");
    assert_eq!(r.json()["incident"]["id"], incident["id"]);
}

/// With `HOUSTON_INCIDENT_ALERT_SEVERITY=high`, a critical alert opens an incident on
/// its place and its resolution resolves it; a warning stays an alert.
#[tokio::test]
async fn alerts_of_the_chosen_severity_open_and_resolve_incidents() {
    let h = harness_with(&[("HOUSTON_INCIDENT_ALERT_SEVERITY", "high")]).await;
    let alert = |fingerprint: &str, severity: &str, status: &str, ends: &str| {
        json!({"version": "4", "status": status, "receiver": "houston", "alerts": [{
            "status": status, "fingerprint": fingerprint, "startsAt": "2026-12-07T10:00:00Z",
            "endsAt": ends, "generatorURL": "http://prometheus:9090/graph",
            "labels": {"alertname": "CheckoutErrors", "service": "checkout",
                "environment": "production", "severity": severity},
            "annotations": {"summary": "5xx over 2%"}}]})
    };
    const OPEN: &str = "0001-01-01T00:00:00Z";
    for body in [
        alert("warn-1", "warning", "firing", OPEN),
        alert("crit-1", "critical", "firing", OPEN),
        alert("crit-1", "critical", "firing", OPEN),
    ] {
        let r = h.post_json("/api/v1/webhooks/alertmanager", &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let incidents = h.get("/api/v1/incidents").await.json();
    assert_eq!(incidents.as_array().map(Vec::len), Some(1), "{incidents:#}");
    let incident = &incidents[0];
    assert_eq!(incident["source"], "alertmanager");
    assert_eq!(incident["title"], "CheckoutErrors: 5xx over 2%");
    assert_eq!(incident["severity"], "critical");
    assert_eq!(incident["services"], json!(["checkout"]));
    assert_eq!(incident["state"], "open");
    let r = h
        .post_json(
            "/api/v1/webhooks/alertmanager",
            &alert("crit-1", "critical", "resolved", "2026-12-07T10:30:00Z"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let resolved = h
        .get(&format!("/api/v1/incidents/{}", incident["id"]))
        .await
        .json();
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(resolved["resolved_at"], "2026-12-07T10:30:00Z");
}

/// incident.io's documented event, signed as Svix signs (base64 HMAC of
/// `id.timestamp.body` with the `whsec_` key), opens an incident; a bad or stale
/// signature changes nothing.
#[tokio::test]
async fn incident_ios_signed_event_opens_an_incident_and_a_stale_one_changes_nothing() {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let key = b"houston-incident-io-key";
    let secret = format!("whsec_{}", engine.encode(key));
    let h = harness_with(&[("HOUSTON_INCIDENT_IO_WEBHOOK_SECRET", &secret)]).await;
    let body = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/core/tests/data/incidentio/incident_created_v2.json"
    ))
    .expect("fixture");
    let send = |timestamp: i64, key: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
        mac.update(format!("msg_1.{timestamp}.{body}").as_bytes());
        Request::post("/api/v1/webhooks/incident-io")
            .header(header::CONTENT_TYPE, "application/json")
            .header("webhook-id", "msg_1")
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                format!("v1,{}", engine.encode(mac.finalize().into_bytes())),
            )
            .body(Body::from(body.clone()))
            .expect("request")
    };
    let now = chrono::Utc::now().timestamp();
    let r = h.send(send(now - 600, key)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "stale: {}", r.text);
    let r = h.send(send(now, b"another key")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(h.get("/api/v1/incidents").await.json(), json!([]));
    let r = h.send(send(now, key)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let incident = &r.json()["incident"];
    assert_eq!(incident["source"], "incident_io");
    assert_eq!(incident["title"], "Our database is sad");
    assert_eq!(incident["opened_by"], "webhook:incident.io");
    assert_eq!(incident["link"], "https://app.incident.io/incidents/123");
}

/// Opsgenie's documented alert actions, with the shared secret in the custom header
/// `X-Houston-Token`, open and acknowledge an incident; without it, nothing changes.
#[tokio::test]
async fn opsgenies_alert_actions_open_and_move_an_incident_with_the_shared_secret() {
    let h = harness_with(&[("HOUSTON_OPSGENIE_WEBHOOK_SECRET", "og-s3cret")]).await;
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/../crates/core/tests/data/opsgenie/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture")
    };
    let send = |token: Option<&str>, body: String| {
        let mut request = Request::post("/api/v1/webhooks/opsgenie")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header("x-houston-token", token);
        }
        request.body(Body::from(body)).expect("request")
    };
    let r = h.send(send(None, fixture("create.json"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = h.send(send(Some("og-s3cre"), fixture("create.json"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(h.get("/api/v1/incidents").await.json(), json!([]));
    let r = h
        .send(send(Some("og-s3cret"), fixture("create.json")))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["incident"]["source"], "opsgenie");
    assert_eq!(r.json()["incident"]["title"], "test alert");
    let r = h
        .send(send(Some("og-s3cret"), fixture("acknowledge.json")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["change"], "acknowledged");
    let r = h
        .send(send(
            Some("og-s3cret"),
            r#"{"action":"AddNote","alert":{"alertId":"x"}}"#.into(),
        ))
        .await;
    assert_eq!(r.json()["outcome"], "ignored", "{}", r.text);
    let r = h
        .send(send(Some("og-s3cret"), r#"{"action":"Create"}"#.into()))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

//! Metrics, error events and Alertmanager notifications pushed and read back.

use super::*;

/// A time `minutes` from now, as RFC 3339 and as Unix seconds.
fn recent(minutes: i64) -> (String, i64) {
    use chrono::Timelike;
    let t =
        chrono::Utc::now().with_nanosecond(0).expect("time") + chrono::Duration::minutes(minutes);
    (t.to_rfc3339(), t.timestamp())
}

fn metrics_read_uri(metric: &str, group: Option<&str>) -> String {
    let (from, _) = recent(-120);
    let (to, _) = recent(10);
    let group = group.map(|g| format!("&group={g}")).unwrap_or_default();
    format!(
        "/api/v1/metrics?service=checkout&environment=production&metric={metric}{group}&from={}&to={}",
        urlencoding(&from),
        urlencoding(&to)
    )
}

fn urlencoding(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn metrics_are_pushed_once_per_time_and_read_back() {
    let h = harness().await;
    let (t1, _) = recent(-3);
    let (_, t2) = recent(-2);
    let body = json!({"series": [
        {"service": "checkout", "environment": "production", "metric": "http_5xx_ratio",
         "group": "canary", "points": [[t1, 0.013], [t2, 0.02]]},
    ]});
    let r = h.post_json("/api/v1/metrics", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), json!({"accepted": 2}));
    // The same points again, one value changed: one sample per time.
    let again = json!({"series": [
        {"service": "checkout", "environment": "production", "metric": "http_5xx_ratio",
         "group": "canary", "points": [[t2, 0.5]]},
    ]});
    assert_eq!(
        h.post_json("/api/v1/metrics", &again).await.status,
        StatusCode::OK
    );
    let r = h
        .get(&metrics_read_uri("http_5xx_ratio", Some("canary")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let points = r.json()["points"].clone();
    let points = points.as_array().expect("points");
    assert_eq!(points.len(), 2);
    assert_eq!(points[0][1], json!(0.013));
    assert_eq!(points[1][1], json!(0.5), "the last value wins");
    let first = points[0][0].as_str().expect("time");
    assert!(first.ends_with('Z'), "RFC 3339 in UTC: {first}");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(first)
            .expect("time")
            .timestamp(),
        chrono::DateTime::parse_from_rfc3339(&t1)
            .expect("time")
            .timestamp()
    );
    // Without the group it is another series, empty here.
    let r = h.get(&metrics_read_uri("http_5xx_ratio", None)).await;
    assert_eq!(r.json(), json!({"points": []}));
    // A read that makes no sense says why.
    let r = h
        .get("/api/v1/metrics?service=checkout&environment=production&metric=m&from=2026-11-22T10:00:00Z&to=2026-11-21T10:00:00Z")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json()["fields"][0]["field"], "to");
}

/// A raw body to `uri` with the harness's token.
fn raw_post(h: &Harness, uri: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
        .body(Body::from(body))
        .expect("request")
}

#[tokio::test]
async fn ingest_limits_are_counted_while_the_body_is_read_and_each_route_has_its_own_size() {
    let h = harness().await;
    // 2 MiB of empty series (about 700,000): refused at the first past the limit,
    // with nothing stored.
    let many = |item: &str, key: &str, n: usize| {
        let mut body = format!("{{\"{key}\":[");
        body.push_str(&vec![item; n].join(","));
        body.push_str("]}");
        body.into_bytes()
    };
    let r = h
        .send(raw_post(
            &h,
            "/api/v1/metrics",
            many("{}", "series", 700_000),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("too many items"), "{}", r.text);
    let r = h
        .send(raw_post(&h, "/api/v1/errors", many("{}", "events", 10_001)))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("too many items"), "{}", r.text);
    // Free fields take a string or a number, never a nest of lists.
    let nested = format!(
        r#"{{"events":[{{"service":"a","environment":"b","fingerprint":"f","message":"m","level":"info","timestamp":{}}}]}}"#,
        "[".repeat(100) + &"]".repeat(100)
    );
    let r = h
        .send(raw_post(&h, "/api/v1/errors", nested.into_bytes()))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Alertmanager's route takes the ordinary 1 MiB: 2 MiB is 413, not read.
    let mut big = br#"{"version":"4","alerts":[],"receiver":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    big.extend(br#""}"#);
    let r = h
        .send(raw_post(&h, "/api/v1/webhooks/alertmanager", big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    // A body sent as something other than JSON is 415, as everywhere.
    let r = h
        .send(
            Request::post("/api/v1/metrics")
                .header(header::CONTENT_TYPE, "text/plain")
                .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
                .body(Body::from(r#"{"series":[]}"#))
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    assert_eq!(
        h.get("/api/v1/alerts").await.json(),
        json!([]),
        "nothing stored"
    );
}

#[tokio::test]
async fn bad_metric_batches_store_nothing_and_name_each_problem() {
    let h = harness_with(&[("HOUSTON_MAX_INGEST_BODY_BYTES", "4096")]).await;
    let (now, _) = recent(0);
    let (future, _) = recent(30);
    let good = json!({"service": "checkout", "environment": "production", "metric": "m", "points": [[now, 1]]});
    for (body, field) in [
        (
            json!({"series": [good, {"service": "checkout", "environment": "production", "metric": "m", "points": [[now, "NaN"]]}]}),
            "series[1].points[0]",
        ),
        (
            json!({"series": [good, {"service": "checkout", "environment": "production", "metric": "m", "points": [[future, 1]]}]}),
            "series[1].points[0]",
        ),
        (
            json!({"series": [good, {"service": " ", "environment": "production", "metric": "m", "points": []}]}),
            "series[1].service",
        ),
        (
            json!({"series": [good, {"service": "checkout", "environment": "production", "metric": "2xx", "points": []}]}),
            "series[1].metric",
        ),
    ] {
        let r = h.post_json("/api/v1/metrics", &body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json()["fields"][0]["field"], field, "{}", r.text);
    }
    // 1e999 is valid JSON but no finite number.
    let r = h
        .send(
            Request::post("/api/v1/metrics")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", h.api_token))
                .body(Body::from(format!(
                    r#"{{"series": [{{"service": "checkout", "environment": "production", "metric": "m", "points": [["{now}", 1e999]]}}]}}"#
                )))
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json()["fields"][0]["field"], "series[0].points[0]");
    let r = h
        .post_json("/api/v1/metrics", &json!({"series": [], "extra": true}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Over the ingest body limit: 413.
    let big: Vec<Value> = (0..200).map(|_| json!([now, 1])).collect();
    let r = h
        .post_json(
            "/api/v1/metrics",
            &json!({"series": [{"service": "checkout", "environment": "production", "metric": "m", "points": big}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.json()["error"], "payload_too_large");
    // Nothing of any refused batch was stored, not even its good series.
    let r = h.get(&metrics_read_uri("m", None)).await;
    assert_eq!(r.json(), json!({"points": []}), "{}", r.text);
}

#[tokio::test]
async fn error_events_are_pushed_and_listed_as_groups() {
    let h = harness().await;
    let (t1, _) = recent(-5);
    let (_, t2) = recent(-1);
    let body = json!({"events": [
        {"service": "checkout", "environment": "production", "fingerprint": "TypeError:cart.js:42",
         "message": "cart is undefined", "level": "error", "timestamp": t1, "version": "v1.4.0", "count": 3},
        {"service": "checkout", "environment": "production", "fingerprint": "TypeError:cart.js:42",
         "message": "cart is undefined", "level": "error", "timestamp": t2, "version": "v1.4.1"},
    ]});
    let r = h.post_json("/api/v1/errors", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), json!({"accepted": 4}));
    // A retry changes nothing.
    assert_eq!(
        h.post_json("/api/v1/errors", &body).await.json(),
        json!({"accepted": 4})
    );
    let (from, _) = recent(-60);
    let (to, _) = recent(1);
    let r = h
        .get(&format!(
            "/api/v1/errors?service=checkout&environment=production&from={}&to={}",
            urlencoding(&from),
            urlencoding(&to)
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let groups = r.json()["groups"].clone();
    assert_eq!(groups.as_array().map(Vec::len), Some(1), "{groups}");
    assert_eq!(groups[0]["count"], 4);
    assert_eq!(groups[0]["level"], "error");
    assert_eq!(groups[0]["versions"], json!(["v1.4.0", "v1.4.1"]));
    let bad = json!({"events": [{"service": "checkout", "environment": "production",
        "fingerprint": "x", "message": "m", "level": "loud", "timestamp": t1}]});
    let r = h.post_json("/api/v1/errors", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json()["fields"][0]["field"], "events[0].level");
}

#[tokio::test]
async fn alertmanager_notifications_open_and_close_alerts() {
    let h = harness().await;
    let firing = json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "truncatedAlerts": 0,
        "status": "firing", "receiver": "houston", "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate"}, "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [{"status": "firing",
            "labels": {"alertname": "HighErrorRate", "service": "checkout", "environment": "production"},
            "annotations": {"summary": "5xx above 2%"},
            "startsAt": "2026-11-29T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up", "fingerprint": "5f1e2d3c4b5a6978"}]
    });
    let r = h.post_json("/api/v1/webhooks/alertmanager", &firing).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"opened": 1, "updated": 0, "resolved": 0, "reopened": 0})
    );
    let r = h.get("/api/v1/alerts?state=firing&service=checkout").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let alerts = r.json();
    assert_eq!(alerts[0]["name"], "HighErrorRate");
    assert_eq!(alerts[0]["environment"], "production");
    assert_eq!(
        alerts[0]["generator_url"],
        "http://127.0.0.1:9090/graph?g0.expr=up"
    );
    let mut resolved = firing.clone();
    resolved["status"] = json!("resolved");
    resolved["alerts"][0]["status"] = json!("resolved");
    resolved["alerts"][0]["endsAt"] = json!("2026-11-29T10:20:00Z");
    let r = h
        .post_json("/api/v1/webhooks/alertmanager", &resolved)
        .await;
    assert_eq!(
        r.json(),
        json!({"opened": 0, "updated": 0, "resolved": 1, "reopened": 0})
    );
    assert_eq!(h.get("/api/v1/alerts?state=firing").await.json(), json!([]));
    let r = h.get("/api/v1/alerts?state=resolved").await;
    assert_eq!(r.json()[0]["resolved_by"], "token:test", "who resolved it");
    // Alertmanager's next "firing" for the same alert reopens it: a forged or
    // stale "resolved" does not stick.
    let r = h.post_json("/api/v1/webhooks/alertmanager", &firing).await;
    assert_eq!(
        r.json(),
        json!({"opened": 0, "updated": 0, "resolved": 0, "reopened": 1})
    );
    let r = h
        .post_json("/api/v1/webhooks/alertmanager", &resolved)
        .await;
    assert_eq!(r.json()["resolved"], 1);
    // Only the alert source's token sends alerts: an ingest token (a metrics
    // sidecar) cannot forge a resolution, and nothing changes.
    let sidecar = h.token("sidecar", &[TokenScope::Ingest]).await;
    let forged = h
        .call_as(
            &sidecar,
            "POST",
            "/api/v1/webhooks/alertmanager",
            Some(&firing),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    assert_eq!(h.get("/api/v1/alerts?state=firing").await.json(), json!([]));
    let r = h.get("/api/v1/alerts?state=resolved").await;
    assert_eq!(r.json()[0]["ends_at"], "2026-11-29T10:20:00Z");
    // Another version of the payload is refused and stores nothing.
    let mut v3 = firing.clone();
    v3["version"] = json!("3");
    v3["alerts"][0]["fingerprint"] = json!("other");
    let r = h.post_json("/api/v1/webhooks/alertmanager", &v3).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        h.get("/api/v1/alerts")
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

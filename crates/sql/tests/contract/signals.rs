//! Signals: metric samples, error events, alerts and their retention.

use chrono::{DateTime, Duration, TimeZone, Utc};
use houston_core::{
    AlertFilter, AlertLabels, AlertState, AlertmanagerNotification, EnvironmentName, ErrorBatch,
    ErrorsQuery, ErrorsRequest, MetricBatch, MetricsRequest, Sample, SeriesQuery, ServiceName,
};
use houston_store::Store;
use std::sync::Arc;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 5, 0)
        .single()
        .expect("valid time")
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
        .single()
        .expect("valid time")
        + Duration::minutes(minutes)
}

fn metrics(body: serde_json::Value) -> MetricBatch {
    serde_json::from_value::<MetricsRequest>(body)
        .expect("decodes")
        .parse(now(), now() - Duration::days(8))
        .expect("valid batch")
}

fn errors(body: serde_json::Value) -> ErrorBatch {
    serde_json::from_value::<ErrorsRequest>(body)
        .expect("decodes")
        .parse(now(), now() - Duration::days(8))
        .expect("valid batch")
}

fn series(metric: &str, group: Option<&str>, points: &[(i64, f64)]) -> serde_json::Value {
    let points: Vec<serde_json::Value> = points
        .iter()
        .map(|(m, v)| serde_json::json!([at(*m).to_rfc3339(), v]))
        .collect();
    serde_json::json!({"service": "checkout", "environment": "production",
        "metric": metric, "group": group, "points": points})
}

async fn read(
    store: &dyn Store,
    metric: &str,
    group: Option<&str>,
    from: i64,
    to: i64,
    limit: u32,
) -> Vec<(i64, f64)> {
    let read = SeriesQuery {
        service: Some("checkout".into()),
        environment: Some("production".into()),
        metric: Some(metric.into()),
        group: group.map(str::to_owned),
        from: Some(at(from).to_rfc3339()),
        to: Some(at(to).to_rfc3339()),
    }
    .parse()
    .expect("valid read");
    store
        .read_samples(&read, limit)
        .await
        .expect("read")
        .into_iter()
        .map(|Sample { at: t, value }| ((t - at(0)).num_minutes(), value))
        .collect()
}

async fn samples_are_one_per_series_and_time_and_the_last_value_wins(store: Arc<dyn Store>) {
    let first = metrics(serde_json::json!({"series": [
        series("http_5xx_ratio", Some("canary"), &[(0, 0.01), (1, 0.02), (2, 0.03)]),
        series("http_5xx_ratio", Some("baseline"), &[(0, 0.5)]),
        series("http_5xx_ratio", None, &[(0, 7.0)]),
    ]}));
    assert_eq!(store.store_samples(&first, now()).await.expect("store"), 5);
    // Sent again with one value changed and one point more: nothing doubles.
    let again = metrics(serde_json::json!({"series": [
        series("http_5xx_ratio", Some("canary"), &[(1, 0.25), (2, 0.03), (3, 0.04)]),
    ]}));
    assert_eq!(store.store_samples(&again, now()).await.expect("store"), 3);

    let canary = read(store.as_ref(), "http_5xx_ratio", Some("canary"), 0, 60, 100).await;
    assert_eq!(canary, [(0, 0.01), (1, 0.25), (2, 0.03), (3, 0.04)]);
    assert_eq!(
        read(
            store.as_ref(),
            "http_5xx_ratio",
            Some("baseline"),
            0,
            60,
            100
        )
        .await,
        [(0, 0.5)],
        "groups are series of their own"
    );
    assert_eq!(
        read(store.as_ref(), "http_5xx_ratio", None, 0, 60, 100).await,
        [(0, 7.0)]
    );
    assert_eq!(
        read(store.as_ref(), "http_5xx_ratio", Some("canary"), 1, 2, 100).await,
        [(1, 0.25), (2, 0.03)],
        "both ends of the window are in it"
    );
    assert_eq!(
        read(store.as_ref(), "http_5xx_ratio", Some("canary"), 0, 60, 2).await,
        [(0, 0.01), (1, 0.25)],
        "the limit keeps the oldest"
    );
    assert!(
        read(store.as_ref(), "latency_p95", None, 0, 60, 100)
            .await
            .is_empty(),
        "an unknown series reads empty"
    );

    let names = store
        .series_of(
            &ServiceName::parse("checkout").expect("name"),
            &EnvironmentName::parse("production").expect("name"),
            at(1),
        )
        .await
        .expect("series");
    let names: Vec<(String, Option<String>)> = names
        .into_iter()
        .map(|(m, g)| (m.to_string(), g.map(|g| g.to_string())))
        .collect();
    assert_eq!(
        names,
        [("http_5xx_ratio".to_owned(), Some("canary".to_owned()))],
        "only series with samples since the time given"
    );
    // Services and environments are created on first sight, as deploys do.
    let services: Vec<String> = store
        .list_services()
        .await
        .expect("services")
        .into_iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(services, ["checkout"]);
}

async fn concurrent_batches_to_one_series_all_land(store: Arc<dyn Store>) {
    let mut writers = Vec::new();
    for w in 0..6i64 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let points: Vec<(i64, f64)> = (0..15).map(|m| (m, (w * 100 + m) as f64)).collect();
            // Every writer writes every time: the values differ, the times do not.
            let batch = metrics(serde_json::json!({"series": [
                series("rps", Some("canary"), &points),
                series(&format!("own_{w}"), None, &points),
            ]}));
            store.store_samples(&batch, now()).await.expect("store")
        }));
    }
    for writer in writers {
        assert_eq!(writer.await.expect("join"), 30);
    }
    let shared = read(store.as_ref(), "rps", Some("canary"), 0, 60, 1000).await;
    assert_eq!(shared.len(), 15, "one sample per time, whoever wrote last");
    for w in 0..6 {
        assert_eq!(
            read(store.as_ref(), &format!("own_{w}"), None, 0, 60, 1000)
                .await
                .len(),
            15
        );
    }
}

fn event(fingerprint: &str, minute: i64, version: &str, count: u64) -> serde_json::Value {
    serde_json::json!({"service": "checkout", "environment": "production",
        "fingerprint": fingerprint, "message": format!("{fingerprint} at {minute}"),
        "level": "error", "timestamp": at(minute).to_rfc3339(), "version": version,
        "count": count})
}

async fn error_groups(store: &dyn Store, from: i64, to: i64) -> Vec<houston_core::ErrorGroup> {
    let read = ErrorsQuery {
        service: Some("checkout".into()),
        environment: Some("production".into()),
        from: Some(at(from).to_rfc3339()),
        to: Some(at(to).to_rfc3339()),
    }
    .parse()
    .expect("valid read");
    store.error_groups(&read).await.expect("groups")
}

async fn error_events_group_by_fingerprint_and_retries_do_not_double(store: Arc<dyn Store>) {
    let batch = errors(serde_json::json!({"events": [
        event("E1", 0, "v1", 3),
        event("E1", 1, "v2", 1),
        event("E2", 2, "", 10),
    ]}));
    assert_eq!(
        store
            .store_error_events(&batch, now())
            .await
            .expect("store"),
        14
    );
    // The same request again (a retry): counts are replaced, not added.
    store
        .store_error_events(&batch, now())
        .await
        .expect("store");
    // An earlier occurrence arrives late: the group's first time moves back, its
    // message stays the latest one's.
    let late = errors(serde_json::json!({"events": [event("E1", -30, "v1", 2)]}));
    store.store_error_events(&late, now()).await.expect("store");

    let groups = error_groups(store.as_ref(), -60, 60).await;
    let summary: Vec<(String, u64, Vec<String>)> = groups
        .iter()
        .map(|g| (g.fingerprint.clone(), g.count, g.versions.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("E2".to_owned(), 10, vec![]),
            ("E1".to_owned(), 6, vec!["v1".to_owned(), "v2".to_owned()]),
        ],
        "most frequent first"
    );
    let e1 = &groups[1];
    assert_eq!(e1.first_seen, at(-30));
    assert_eq!(e1.last_seen, at(1));
    assert_eq!(e1.message, "E1 at 1");
    // A window counts only its own occurrences, but first seen is Houston's memory.
    let recent = error_groups(store.as_ref(), 1, 60).await;
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[1].fingerprint, "E1");
    assert_eq!(recent[1].count, 1);
    assert_eq!(recent[1].first_seen, at(-30));
    assert!(error_groups(store.as_ref(), 30, 60).await.is_empty());
}

fn notification(alerts: serde_json::Value) -> Vec<houston_core::AlertReport> {
    serde_json::from_value::<AlertmanagerNotification>(serde_json::json!({
        "version": "4", "status": "firing", "receiver": "houston", "alerts": alerts}))
    .expect("decodes")
    .parse(&AlertLabels::default())
    .expect("valid")
}

fn alert(fingerprint: &str, status: &str, service: &str, ends: &str) -> serde_json::Value {
    serde_json::json!({"status": status, "fingerprint": fingerprint,
        "labels": {"alertname": "HighErrorRate", "service": service, "environment": "production"},
        "annotations": {"summary": "5xx over 2%"}, "startsAt": "2026-11-22T09:00:00Z",
        "endsAt": ends, "generatorURL": "http://prometheus:9090/graph"})
}

/// The alert source's token, as the Alertmanager route names its caller.
fn source() -> houston_core::Actor {
    houston_core::Actor::new("token:alertmanager", Some("10.0.0.9".into()))
}

async fn alerts_open_refresh_close_and_reopen_while_they_fire(store: Arc<dyn Store>) {
    const ZERO: &str = "0001-01-01T00:00:00Z";
    let counts = store
        .record_alerts(
            &notification(serde_json::json!([
                alert("a1", "firing", "checkout", ZERO),
                alert("a2", "firing", "cart", ZERO)
            ])),
            &source(),
            now(),
        )
        .await
        .expect("record");
    assert_eq!((counts.opened, counts.updated, counts.resolved), (2, 0, 0));
    let counts = store
        .record_alerts(
            &notification(serde_json::json!([alert("a1", "firing", "checkout", ZERO)])),
            &source(),
            now(),
        )
        .await
        .expect("record");
    assert_eq!((counts.opened, counts.updated), (0, 1));
    store
        .record_alerts(
            &notification(serde_json::json!([alert(
                "a1",
                "resolved",
                "checkout",
                "2026-11-22T09:30:00Z"
            )])),
            &source(),
            now(),
        )
        .await
        .expect("record");
    let resolved = store
        .list_alerts(&AlertFilter::default(), 100)
        .await
        .expect("list")
        .into_iter()
        .find(|a| a.fingerprint == "a1")
        .expect("a1");
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some("token:alertmanager"));
    // Alertmanager repeats "firing" only while the alert fires: a resolution that
    // was forged (or stale) does not stick, and both changes are in the audit log.
    let counts = store
        .record_alerts(
            &notification(serde_json::json!([alert("a1", "firing", "checkout", ZERO)])),
            &source(),
            now(),
        )
        .await
        .expect("record");
    assert_eq!(
        (
            counts.opened,
            counts.updated,
            counts.resolved,
            counts.reopened
        ),
        (0, 0, 0, 1)
    );
    let firing_again = store
        .list_alerts(&AlertFilter::default(), 100)
        .await
        .expect("list")
        .into_iter()
        .find(|a| a.fingerprint == "a1")
        .expect("a1");
    assert_eq!(firing_again.state, AlertState::Firing);
    assert_eq!(firing_again.resolved_by, None);
    let audit = store
        .list_audit(&houston_core::AuditFilter {
            limit: 100,
            ..houston_core::AuditFilter::default()
        })
        .await
        .expect("audit");
    let alert_rows: Vec<(String, String)> = audit
        .iter()
        .filter(|e| e.action.starts_with("alert."))
        .map(|e| (e.action.clone(), e.actor.clone()))
        .collect();
    assert_eq!(
        alert_rows,
        [
            ("alert.reopen".to_owned(), "token:alertmanager".to_owned()),
            ("alert.resolve".to_owned(), "token:alertmanager".to_owned()),
        ],
        "newest first"
    );
    // Resolved once more, and a repeat of that resolution changes nothing.
    for expected in [1, 0] {
        let counts = store
            .record_alerts(
                &notification(serde_json::json!([alert(
                    "a1",
                    "resolved",
                    "checkout",
                    "2026-11-22T09:30:00Z"
                )])),
                &source(),
                now(),
            )
            .await
            .expect("record");
        assert_eq!(counts.resolved, expected);
    }

    let firing = store
        .list_alerts(
            &AlertFilter {
                state: Some(AlertState::Firing),
                ..AlertFilter::default()
            },
            100,
        )
        .await
        .expect("list");
    assert_eq!(firing.len(), 1);
    assert_eq!(firing[0].fingerprint, "a2");
    assert_eq!(
        firing[0].labels.get("alertname").map(String::as_str),
        Some("HighErrorRate")
    );
    assert_eq!(
        firing[0].annotations.get("summary").map(String::as_str),
        Some("5xx over 2%")
    );
    let checkout = store
        .list_alerts(
            &AlertFilter {
                service: Some(ServiceName::parse("checkout").expect("name")),
                ..AlertFilter::default()
            },
            100,
        )
        .await
        .expect("list");
    assert_eq!(checkout.len(), 1);
    assert_eq!(checkout[0].state, AlertState::Resolved);
    assert_eq!(checkout[0].ends_at, Some(at(-30)));
    assert_eq!(
        checkout[0]
            .environment
            .as_ref()
            .map(EnvironmentName::as_str),
        Some("production")
    );
}

async fn retention_deletes_old_signals_in_batches_and_keeps_the_rest(store: Arc<dyn Store>) {
    // 30 old and 5 recent samples in each of two series, old and recent errors, a
    // resolved alert and a firing one from long ago.
    let old: Vec<(i64, f64)> = (0..30).map(|m| (-2 * 24 * 60 + m, 1.0)).collect();
    let recent: Vec<(i64, f64)> = (0..5).map(|m| (m, 2.0)).collect();
    let all: Vec<(i64, f64)> = old.iter().chain(&recent).copied().collect();
    store
        .store_samples(
            &metrics(
                serde_json::json!({"series": [series("a", None, &all), series("b", None, &all)]}),
            ),
            now(),
        )
        .await
        .expect("store");
    store
        .store_error_events(
            &errors(serde_json::json!({"events": [event("E", -2 * 24 * 60, "", 1), event("E", 0, "", 1)]})),
            now(),
        )
        .await
        .expect("store");
    store
        .record_alerts(
            &notification(serde_json::json!([
                alert("gone", "resolved", "checkout", "2026-11-20T09:00:00Z"),
                alert("on", "firing", "checkout", "0001-01-01T00:00:00Z"),
            ])),
            &source(),
            now(),
        )
        .await
        .expect("record");

    let before = at(-24 * 60);
    let first = store.prune_signals(before, 25).await.expect("prune");
    assert_eq!(first.total(), 25, "a pass stops at its batch");
    let mut total = first;
    loop {
        let pass = store.prune_signals(before, 25).await.expect("prune");
        total.samples += pass.samples;
        total.error_events += pass.error_events;
        total.alerts += pass.alerts;
        if pass.total() < 25 {
            break;
        }
    }
    assert_eq!(
        (total.samples, total.error_events, total.alerts),
        (60, 1, 1),
        "the alert resolved before the cut goes, the firing one stays"
    );
    assert_eq!(
        read(store.as_ref(), "a", None, -3 * 24 * 60, 60, 100)
            .await
            .len(),
        5
    );
    assert_eq!(
        read(store.as_ref(), "b", None, -3 * 24 * 60, 60, 100)
            .await
            .len(),
        5
    );
    let groups = error_groups(store.as_ref(), -3 * 24 * 60, 60).await;
    assert_eq!(groups[0].count, 1);
    assert_eq!(
        groups[0].first_seen,
        at(-2 * 24 * 60),
        "a group remembers its first time"
    );
    let swept = store.prune_signals(now(), 1000).await.expect("prune");
    assert_eq!(
        (swept.samples, swept.error_events, swept.alerts),
        (10, 1, 0),
        "a firing alert is never deleted, however old"
    );
    assert_eq!(
        store
            .list_alerts(&AlertFilter::default(), 10)
            .await
            .expect("list")
            .len(),
        1
    );
}

houston_sql::contract!(
    samples_are_one_per_series_and_time_and_the_last_value_wins,
    concurrent_batches_to_one_series_all_land,
    error_events_group_by_fingerprint_and_retries_do_not_double,
    alerts_open_refresh_close_and_reopen_while_they_fire,
    retention_deletes_old_signals_in_batches_and_keeps_the_rest,
);

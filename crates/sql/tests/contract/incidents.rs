//! Incidents: reports that open and move them, audited; and the evidence their
//! suspects are weighed by, ranked on a history with a known answer.

use crate::common::*;
use houston_core::{
    ErrorsRequest, Incident, IncidentChange, IncidentReport, IncidentSource, IncidentState,
    Severity, VerdictState,
};

fn report(id: &str, state: IncidentState, minutes: i64) -> IncidentReport {
    IncidentReport {
        source: IncidentSource::Pagerduty,
        external_id: id.into(),
        title: "Checkout errors".into(),
        severity: Severity::Critical,
        state,
        services: vec![ServiceName::parse("checkout").expect("name")],
        environments: vec![EnvironmentName::parse("production").expect("name")],
        at: t0() + Duration::minutes(minutes),
        link: Some("https://acme.pagerduty.com/incidents/PGR0VU2".into()),
    }
}

fn pagerduty() -> Actor {
    Actor::new("webhook:pagerduty", None)
}

async fn record(store: &dyn Store, report: &IncidentReport) -> (Incident, IncidentChange) {
    let recorded = store
        .record_incident(report, &pagerduty(), t0() + Duration::hours(1))
        .await
        .expect("record");
    (recorded.incident, recorded.change)
}

async fn reports_open_an_incident_and_move_it_and_every_move_is_audited(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let (opened, change) = record(s, &report("PGR0VU2", IncidentState::Open, 0)).await;
    assert_eq!(change, IncidentChange::Opened);
    assert_eq!(opened.state, IncidentState::Open);
    assert_eq!(opened.opened_at, t0());
    assert_eq!(opened.opened_by, "webhook:pagerduty");
    assert_eq!(opened.services[0].as_str(), "checkout");
    let target = format!("incident:{}", opened.id);

    let (again, change) = record(s, &report("PGR0VU2", IncidentState::Open, 1)).await;
    assert_eq!((again.id, change), (opened.id, IncidentChange::Unchanged));
    assert_eq!(again.opened_at, t0(), "a repeat does not move the opening");

    let (acked, change) = record(s, &report("PGR0VU2", IncidentState::Acknowledged, 5)).await;
    assert_eq!(change, IncidentChange::Acknowledged);
    assert_eq!(acked.acknowledged_at, Some(t0() + Duration::minutes(5)));

    let mut resolving = report("PGR0VU2", IncidentState::Resolved, 30);
    resolving.severity = Severity::High;
    resolving.link = None;
    let (resolved, change) = record(s, &resolving).await;
    assert_eq!(change, IncidentChange::Resolved);
    assert_eq!(resolved.resolved_at, Some(t0() + Duration::minutes(30)));
    assert_eq!(
        resolved.severity,
        Severity::High,
        "the latest report's severity"
    );
    assert!(
        resolved.link.is_some(),
        "a report without a link keeps the one stored"
    );
    assert!(s.list_incidents(true, 10).await.expect("list").is_empty());

    let (reopened, change) = record(s, &report("PGR0VU2", IncidentState::Open, 40)).await;
    assert_eq!(change, IncidentChange::Reopened);
    assert_eq!(reopened.resolved_at, None);
    assert_eq!(
        reopened.acknowledged_at,
        Some(t0() + Duration::minutes(5)),
        "kept from the first acknowledgement"
    );
    assert_eq!(
        audit_actions(s, &target).await,
        [
            "incident.open webhook:pagerduty",
            "incident.acknowledge webhook:pagerduty",
            "incident.resolve webhook:pagerduty",
            "incident.reopen webhook:pagerduty"
        ]
    );

    // The same id from another source is another incident.
    let mut declared = report("PGR0VU2", IncidentState::Open, 50);
    declared.source = IncidentSource::Declared;
    let (other, change) = record(s, &declared).await;
    assert_eq!(change, IncidentChange::Opened);
    assert_ne!(other.id, opened.id);
    let open = s.list_incidents(true, 10).await.expect("list");
    assert_eq!(
        open.iter().map(|i| i.id).collect::<Vec<_>>(),
        [other.id, opened.id],
        "newest opened first"
    );
    assert_eq!(s.get_incident(opened.id).await.expect("get"), reopened);
    assert!(matches!(
        s.get_incident(999_999).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn racing_reports_of_one_new_incident_store_one(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let state = if i % 2 == 0 {
                IncidentState::Open
            } else {
                IncidentState::Acknowledged
            };
            store
                .record_incident(&report("RACE", state, i), &pagerduty(), t0())
                .await
                .expect("record")
                .incident
                .id
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one incident: {ids:?}");
    assert_eq!(
        store.list_incidents(false, 10).await.expect("list").len(),
        1
    );
}

fn errors(body: serde_json::Value) -> houston_core::ErrorBatch {
    serde_json::from_value::<ErrorsRequest>(body)
        .expect("decodes")
        .parse(t0() + Duration::days(1), t0() - Duration::days(7))
        .expect("valid batch")
}

/// A history with a known answer: checkout v2 went out to production two hours
/// before the incident, was judged unhealthy, and a new error group appeared after
/// it; search went out closer to the incident, calm; checkout v3 after it.
async fn the_bad_deploy_ranks_first_from_what_the_store_holds(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let opened = t0() + Duration::hours(6);
    let v1 = register(s, deploy("checkout", "production", "v1", t0())).await;
    let v2 = register(
        s,
        deploy("checkout", "production", "v2", t0() + Duration::hours(4)),
    )
    .await;
    let search = register(
        s,
        deploy(
            "search",
            "production",
            "s1",
            t0() + Duration::minutes(5 * 60 + 45),
        ),
    )
    .await;
    register(
        s,
        deploy("checkout", "production", "v3", opened + Duration::hours(1)),
    )
    .await;
    s.override_verdict(v2.id, VerdictState::Unhealthy, "errors", &ci(), t0())
        .await
        .expect("verdict");
    let at = (t0() + Duration::hours(4) + Duration::minutes(20)).to_rfc3339();
    let old = (t0() - Duration::minutes(30)).to_rfc3339();
    s.store_error_events(
        &errors(serde_json::json!({"events": [
            {"service": "checkout", "environment": "production", "fingerprint": "TypeError:cart.js:42",
             "message": "cart is undefined", "level": "error", "timestamp": at, "version": "v2"},
            {"service": "checkout", "environment": "production", "fingerprint": "Old:1",
             "message": "old", "level": "error", "timestamp": old, "version": "v1"},
        ]})),
        t0(),
    )
    .await
    .expect("errors");
    let (incident, _) = record(
        s,
        &IncidentReport {
            at: opened,
            ..report("PGR0VU2", IncidentState::Open, 0)
        },
    )
    .await;

    let from = opened - houston_core::SUSPECT_WINDOW;
    let deploys = all(
        s,
        DeployFilter {
            since: Some(from),
            until: Some(opened),
            ..Default::default()
        },
    )
    .await;
    let evidence = s.incident_evidence(from, opened).await.expect("evidence");
    assert_eq!(
        evidence.new_error_groups.len(),
        1,
        "only the group first seen in the window"
    );
    let facts = houston_core::suspect_facts(&incident, deploys, &evidence);
    let suspects = houston_core::rank_suspects(&incident, houston_core::SUSPECT_WINDOW, facts);
    let order: Vec<i64> = suspects.iter().map(|s| s.deploy_id).collect();
    assert_eq!(order, [v2.id, search.id, v1.id]);
    assert!(
        suspects[0]
            .reasons
            .contains(&"its verdict is unhealthy".to_owned()),
        "{:?}",
        suspects[0].reasons
    );
    assert!(
        suspects[0]
            .reasons
            .contains(&"1 new error group appeared after it".to_owned()),
        "{:?}",
        suspects[0].reasons
    );
}

async fn a_persons_word_on_a_suspect_is_kept_replaced_and_audited(store: Arc<dyn Store>) {
    use houston_core::CauseDecision;
    let s = store.as_ref();
    let deploy = register(s, deploy("checkout", "production", "v2", t0())).await;
    let (incident, _) = record(s, &report("PGR0VU2", IncidentState::Open, 60)).await;
    let lead = Actor::new("user:lena", None);
    let cause = s
        .decide_cause(
            incident.id,
            deploy.id,
            CauseDecision::Rejected,
            None,
            &lead,
            t0() + Duration::hours(2),
        )
        .await
        .expect("rejected");
    assert_eq!(cause.decision, CauseDecision::Rejected);
    s.decide_cause(
        incident.id,
        deploy.id,
        CauseDecision::Confirmed,
        Some("the cart change"),
        &lead,
        t0() + Duration::hours(3),
    )
    .await
    .expect("confirmed");
    let causes = s.incident_causes(incident.id).await.expect("causes");
    assert_eq!(causes.len(), 1, "a later word replaces the earlier");
    let marked = s.get_deploy(deploy.id).await.expect("deploy").deploy;
    assert_eq!(marked.caused_incident, Some(incident.id), "its rows say so");
    let listed = all(s, DeployFilter::default()).await;
    assert_eq!(listed[0].caused_incident, Some(incident.id));
    assert_eq!(causes[0].decision, CauseDecision::Confirmed);
    assert_eq!(causes[0].note.as_deref(), Some("the cart change"));
    assert_eq!(causes[0].decided_by, "user:lena");
    assert_eq!(
        audit_actions(s, &format!("incident:{}", incident.id)).await,
        [
            "incident.open webhook:pagerduty",
            "incident.cause_reject user:lena",
            "incident.cause_confirm user:lena"
        ]
    );
    for (incident_id, deploy_id) in [(999_999, deploy.id), (incident.id, 999_999)] {
        assert!(matches!(
            s.decide_cause(
                incident_id,
                deploy_id,
                CauseDecision::Confirmed,
                None,
                &lead,
                t0()
            )
            .await,
            Err(StoreError::NotFound(_))
        ));
    }
}

/// An alert's fingerprint, name, start and (when resolved) end.
type AlertSpan = (
    &'static str,
    &'static str,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// Alerts as Alertmanager reports them, placed on checkout in production.
fn alerts(list: &[AlertSpan]) -> Vec<houston_core::AlertReport> {
    let alerts: Vec<serde_json::Value> = list
        .iter()
        .map(|(fingerprint, name, from, to)| {
            serde_json::json!({"status": if to.is_some() { "resolved" } else { "firing" },
                "fingerprint": fingerprint,
                "labels": {"alertname": name, "service": "checkout", "environment": "production"},
                "startsAt": from.to_rfc3339(),
                "endsAt": to.map_or("0001-01-01T00:00:00Z".to_owned(), |t| t.to_rfc3339())})
        })
        .collect();
    serde_json::from_value::<houston_core::AlertmanagerNotification>(serde_json::json!({
        "version": "4", "status": "firing", "receiver": "houston", "alerts": alerts}))
    .expect("decodes")
    .parse(&houston_core::AlertLabels::default())
    .expect("valid")
}

async fn the_timeline_reads_what_overlaps_its_span_and_says_when_it_cut(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let at = |minutes: i64| t0() + Duration::minutes(minutes);
    let (from, to) = (at(60), at(360));
    let long_before = register(s, deploy("checkout", "production", "v0", at(-600))).await;
    let judged = register(s, deploy("checkout", "production", "v1", at(-30))).await;
    let inside = register(s, deploy("checkout", "production", "v2", at(120))).await;
    register(s, deploy("checkout", "production", "v3", at(400))).await;
    let verdict = |deploy: i64, when: DateTime<Utc>| {
        let evaluation = houston_core::Evaluation {
            state: VerdictState::Unhealthy,
            provisional: None,
            is_final: true,
            score: Some(10.0),
            rule: houston_core::VerdictRule::CriticalCheckFailed,
            receipt: Default::default(),
            next_look_at: when,
        };
        async move {
            s.save_evaluation(deploy, &evaluation, when)
                .await
                .expect("verdict")
        }
    };
    // v1's verdict lands in the span; v0's (before it) does not.
    assert!(verdict(judged.id, at(70)).await);
    assert!(verdict(long_before.id, at(-500)).await);
    let early = register(s, deploy("checkout", "production", "v0b", at(-120))).await;
    assert!(verdict(early.id, at(-100)).await);
    s.record_alerts(
        &alerts(&[
            ("old", "Ended", at(0), Some(at(30))),
            ("across", "Across", at(30), Some(at(90))),
            ("firing", "Firing", at(130), None),
        ]),
        &Actor::new("token:alertmanager", None),
        at(140),
    )
    .await
    .expect("alerts");
    let lock = LockRequest {
        environment: Some("production".into()),
        service: None,
        reason: Some("incident".into()),
        expires_at: None,
    }
    .parse(at(150))
    .expect("a lock");
    s.place_lock(&lock, &Actor::new("user:lena", None), at(150))
        .await
        .expect("lock");
    let (incident, _) = record(s, &report("PGR0VU2", IncidentState::Open, 140)).await;

    let facts = s
        .timeline_facts(from, to, 100, at(200))
        .await
        .expect("facts");
    let versions: Vec<&str> = facts.deploys.iter().map(|d| d.version.as_str()).collect();
    assert_eq!(
        versions,
        ["v1", "v2"],
        "started in the span, or in the six hours before it with its verdict landing in it"
    );
    assert_eq!(facts.deploys[0].verdict_at, Some(at(70)));
    assert!(facts.deploys.iter().all(|d| d.id != early.id));
    assert_eq!(facts.deploys[1].id, inside.id);
    assert!(facts.deploys.iter().all(|d| d.id != long_before.id));
    let names: Vec<&str> = facts.alerts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Across", "Firing"]);
    assert_eq!(facts.locks.len(), 1);
    assert!(facts.locks[0].active);
    assert_eq!(facts.incidents.len(), 1);
    assert_eq!(facts.incidents[0].id, incident.id);
    assert!(!facts.truncated);

    let cut = s.timeline_facts(from, to, 1, at(200)).await.expect("facts");
    assert_eq!(cut.deploys.len(), 1);
    assert_eq!(cut.alerts.len(), 1);
    assert!(
        cut.truncated,
        "two deploys and two alerts, one read of each"
    );
}

houston_sql::contract!(
    the_timeline_reads_what_overlaps_its_span_and_says_when_it_cut,
    a_persons_word_on_a_suspect_is_kept_replaced_and_audited,
    reports_open_an_incident_and_move_it_and_every_move_is_audited,
    racing_reports_of_one_new_incident_store_one,
    the_bad_deploy_ranks_first_from_what_the_store_holds,
);

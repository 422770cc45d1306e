use super::*;
use crate::deploy::DeploySource;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn svc(name: &str) -> ServiceName {
    ServiceName::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn env(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn severities_read_names_and_the_tools_priorities() {
    for (raw, want) in [
        ("critical", Severity::Critical),
        (" P1 ", Severity::Critical),
        ("SEV1", Severity::Critical),
        ("sev-2", Severity::High),
        ("high", Severity::High),
        ("P3", Severity::Medium),
        ("Medium", Severity::Medium),
        ("P4", Severity::Low),
        ("p5", Severity::Low),
        ("low", Severity::Low),
    ] {
        assert_eq!(Severity::parse(raw), Some(want), "{raw}");
    }
    for raw in ["", "urgent", "P9", "sev"] {
        assert_eq!(Severity::parse(raw), None, "{raw}");
    }
    assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
    for severity in Severity::ALL {
        assert_eq!(Severity::parse(severity.as_str()), Some(severity));
    }
}

#[test]
fn a_declared_incident_is_read_whole_or_every_problem_is_named() {
    let now = at("2026-12-07T10:00:00Z");
    let request = IncidentRequest {
        id: None,
        title: Some("  Checkout errors after the release ".into()),
        severity: Some("P1".into()),
        state: None,
        services: Some(vec!["checkout".into(), " checkout".into()]),
        environments: Some(vec!["production".into()]),
        at: Some("2026-12-07T09:58:00Z".into()),
        url: Some("https://status.example/inc/1".into()),
    };
    let report = request
        .parse(IncidentSource::Declared, || "declared-1".into(), now)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(report.external_id, "declared-1");
    assert_eq!(report.title, "Checkout errors after the release");
    assert_eq!(report.severity, Severity::Critical);
    assert_eq!(report.state, IncidentState::Open);
    assert_eq!(report.services, [svc("checkout")], "repeats are one");
    assert_eq!(report.at, at("2026-12-07T09:58:00Z"));

    let bad = IncidentRequest {
        id: Some("x\ny".into()),
        title: None,
        severity: Some("urgent".into()),
        state: Some("closed".into()),
        services: Some(vec!["no spaces".into()]),
        environments: None,
        at: Some("2026-12-08T00:00:00Z".into()),
        url: Some("javascript:alert(1)".into()),
    };
    let fields: Vec<String> = bad
        .parse(IncidentSource::Webhook, String::new, now)
        .err()
        .map(|e| e.0.into_iter().map(|f| f.field).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        [
            "id",
            "title",
            "severity",
            "state",
            "services[0]",
            "at",
            "url"
        ]
    );
}

#[test]
fn pagerdutys_documented_event_opens_an_incident_on_its_service() {
    let body = include_str!("../../tests/data/pagerduty/incident_priority_updated.json");
    let webhook: PagerDutyWebhook = serde_json::from_str(body).expect("the documented payload");
    let report = webhook
        .report(&env("production"))
        .expect("readable")
        .expect("an incident event");
    assert_eq!(report.source, IncidentSource::Pagerduty);
    assert_eq!(report.external_id, "PGR0VU2");
    assert_eq!(report.title, "A little bump in the road");
    assert_eq!(report.severity, Severity::Critical, "priority P1");
    assert_eq!(report.state, IncidentState::Open, "status triggered");
    assert_eq!(report.services, [svc("api-service")]);
    assert_eq!(report.environments, [env("production")]);
    assert_eq!(report.at, at("2020-10-02T18:45:22.169Z"));
    assert_eq!(
        report.link.as_deref(),
        Some("https://acme.pagerduty.com/incidents/PGR0VU2")
    );

    // The same incident resolved, and one without a priority.
    let mut resolved: serde_json::Value = serde_json::from_str(body).expect("json");
    resolved["event"]["event_type"] = "incident.resolved".into();
    resolved["event"]["data"]["priority"] = serde_json::Value::Null;
    resolved["event"]["data"]["urgency"] = "low".into();
    let webhook: PagerDutyWebhook = serde_json::from_value(resolved).expect("json");
    let report = webhook
        .report(&env("production"))
        .expect("readable")
        .expect("an incident event");
    assert_eq!(report.state, IncidentState::Resolved);
    assert_eq!(report.severity, Severity::Low, "urgency low");
}

#[test]
fn pagerduty_events_that_are_not_about_an_incident_change_nothing() {
    let body = include_str!("../../tests/data/pagerduty/service_updated.json");
    let webhook: PagerDutyWebhook = serde_json::from_str(body).expect("the documented payload");
    assert_eq!(webhook.report(&env("production")), Ok(None));
    assert_eq!(slug("API Service"), "api-service");
    assert_eq!(slug("  Checkout / EU (prod) "), "checkout-eu-prod");
}

fn deploy(id: i64, service: &str, environment: &str, finished: &str) -> Deploy {
    let finished = at(finished);
    Deploy {
        id,
        service: svc(service),
        environment: env(environment),
        version: format!("v{id}"),
        previous_version: None,
        author: None,
        description: None,
        ci_url: None,
        status: DeployStatus::Succeeded,
        started_at: finished - Duration::minutes(3),
        finished_at: Some(finished),
        source: DeploySource::Api,
        external_id: None,
        created_at: finished,
        registered_by: None,
        status_changed_by: None,
        verdict: None,
        through_lock: None,
        caused_incident: None,
    }
}

fn facts(deploy: Deploy) -> SuspectFacts {
    SuspectFacts {
        deploy,
        verdict: Some(VerdictState::Healthy),
        new_error_groups: 0,
        alerts_after: 0,
        superseded: false,
    }
}

fn incident(opened: &str) -> Incident {
    Incident {
        id: 7,
        source: IncidentSource::Pagerduty,
        external_id: "PGR0VU2".into(),
        title: "Checkout errors".into(),
        severity: Severity::Critical,
        state: IncidentState::Open,
        services: vec![svc("checkout")],
        environments: vec![env("production")],
        opened_at: at(opened),
        acknowledged_at: None,
        resolved_at: None,
        link: None,
        opened_by: "webhook:pagerduty".into(),
    }
}

/// A history with a known answer: the bad release of checkout in production went out
/// two hours before the incident, judged unhealthy, with new errors; a healthy
/// search deploy went out closer to it, and checkout's canary in between.
#[test]
fn the_bad_deploy_in_the_incidents_place_ranks_first_and_says_why() {
    let incident = incident("2026-12-07T12:00:00Z");
    let mut bad = facts(deploy(1, "checkout", "production", "2026-12-07T10:00:00Z"));
    bad.verdict = Some(VerdictState::Unhealthy);
    bad.new_error_groups = 2;
    bad.alerts_after = 1;
    let near = facts(deploy(2, "search", "production", "2026-12-07T11:50:00Z"));
    let canary = facts(deploy(3, "checkout", "canary", "2026-12-07T11:00:00Z"));
    let later = facts(deploy(4, "checkout", "production", "2026-12-07T12:30:00Z"));
    let old = facts(deploy(5, "checkout", "production", "2026-12-07T05:00:00Z"));
    let mut failed = facts(deploy(6, "checkout", "production", "2026-12-07T11:55:00Z"));
    failed.deploy.status = DeployStatus::Failed;
    let suspects = rank_suspects(
        &incident,
        SUSPECT_WINDOW,
        vec![near, canary, bad, later, old, failed],
    );
    let order: Vec<i64> = suspects.iter().map(|s| s.deploy_id).collect();
    assert_eq!(
        order,
        [1, 2, 3],
        "after, too old and failed are no suspects"
    );
    let first = &suspects[0];
    assert_eq!(
        first.reasons[0],
        "deployed to checkout in production, where the incident is"
    );
    assert!(
        first
            .reasons
            .contains(&"its verdict is unhealthy".to_owned())
    );
    assert!(
        first
            .reasons
            .contains(&"2 new error groups appeared after it".to_owned())
    );
    assert!(
        first
            .reasons
            .contains(&"1 alert on its service started after it".to_owned())
    );
    assert!(
        first
            .reasons
            .contains(&"went out 2 h before the incident opened".to_owned())
    );
    assert!(
        suspects[1].reasons[0].contains("went out 10 min before"),
        "{:?}",
        suspects[1].reasons
    );
}

#[test]
fn between_equal_evidence_the_closer_deploy_is_more_suspect() {
    let incident = incident("2026-12-07T12:00:00Z");
    let suspects = rank_suspects(
        &incident,
        SUSPECT_WINDOW,
        vec![
            facts(deploy(1, "checkout", "production", "2026-12-07T09:00:00Z")),
            facts(deploy(2, "checkout", "production", "2026-12-07T11:30:00Z")),
        ],
    );
    assert_eq!(
        suspects.iter().map(|s| s.deploy_id).collect::<Vec<_>>(),
        [2, 1]
    );
    assert!(suspects[0].score > suspects[1].score);
}

#[test]
fn an_incident_without_places_touches_everything() {
    let mut everywhere = incident("2026-12-07T12:00:00Z");
    everywhere.services.clear();
    everywhere.environments.clear();
    assert!(everywhere.touches(&svc("search"), &env("staging")));
    let placed = incident("2026-12-07T12:00:00Z");
    assert!(placed.touches(&svc("checkout"), &env("production")));
    assert!(!placed.touches(&svc("checkout"), &env("staging")));
    assert!(!placed.touches(&svc("search"), &env("production")));
}

#[test]
fn a_report_changes_an_incident_only_by_its_state() {
    use IncidentState::{Acknowledged, Open, Resolved};
    assert_eq!(IncidentChange::of(None, Resolved), IncidentChange::Opened);
    assert_eq!(
        IncidentChange::of(Some(Open), Acknowledged),
        IncidentChange::Acknowledged
    );
    assert_eq!(
        IncidentChange::of(Some(Acknowledged), Resolved),
        IncidentChange::Resolved
    );
    assert_eq!(
        IncidentChange::of(Some(Resolved), Open),
        IncidentChange::Reopened
    );
    assert_eq!(
        IncidentChange::of(Some(Resolved), Acknowledged),
        IncidentChange::Reopened
    );
    assert_eq!(
        IncidentChange::of(Some(Open), Open),
        IncidentChange::Unchanged
    );
    assert_eq!(
        IncidentChange::of(Some(Acknowledged), Open),
        IncidentChange::Unchanged
    );
    assert_eq!(IncidentChange::Unchanged.audited_as(), None);
    assert_eq!(
        IncidentChange::Reopened.audited_as(),
        Some("incident.reopen")
    );
}

#[test]
fn evidence_counts_for_the_deploy_it_followed_until_the_next_one() {
    let incident = incident("2026-12-07T12:00:00Z");
    let first = deploy(1, "checkout", "production", "2026-12-07T09:00:00Z");
    let second = deploy(2, "checkout", "production", "2026-12-07T11:00:00Z");
    let other = deploy(3, "search", "production", "2026-12-07T10:00:00Z");
    let evidence = IncidentEvidence {
        new_error_groups: vec![
            (
                svc("checkout"),
                env("production"),
                at("2026-12-07T09:30:00Z"),
            ),
            (
                svc("checkout"),
                env("production"),
                at("2026-12-07T11:30:00Z"),
            ),
            (
                svc("checkout"),
                env("production"),
                at("2026-12-07T11:40:00Z"),
            ),
            (svc("checkout"), env("staging"), at("2026-12-07T11:40:00Z")),
            (
                svc("checkout"),
                env("production"),
                at("2026-12-07T12:10:00Z"),
            ),
        ],
        alerts: vec![
            (Some(svc("checkout")), at("2026-12-07T11:45:00Z")),
            (Some(svc("search")), at("2026-12-07T08:00:00Z")),
            (None, at("2026-12-07T11:45:00Z")),
        ],
    };
    let facts = suspect_facts(&incident, vec![first, second, other], &evidence);
    let counts: Vec<(i64, u32, u32)> = facts
        .iter()
        .map(|f| (f.deploy.id, f.new_error_groups, f.alerts_after))
        .collect();
    assert_eq!(counts, [(1, 1, 0), (2, 2, 1), (3, 0, 0)]);
    let superseded: Vec<bool> = facts.iter().map(|f| f.superseded).collect();
    assert_eq!(
        superseded,
        [true, false, false],
        "v1 was replaced before the incident"
    );
}

#[test]
fn the_postmortem_tells_the_story_in_order_with_text_kept_literal() {
    let mut incident = incident("2026-12-07T12:00:00Z");
    incident.title = "Checkout *down* | [bad]".into();
    incident.acknowledged_at = Some(at("2026-12-07T12:05:00Z"));
    incident.resolved_at = Some(at("2026-12-07T12:40:00Z"));
    let deploys = vec![deploy(1, "checkout", "production", "2026-12-07T10:00:00Z")];
    let alerts = vec![crate::alerts::Alert {
        id: 3,
        fingerprint: "f".into(),
        name: "HighErrorRate".into(),
        state: crate::alerts::AlertState::Resolved,
        starts_at: at("2026-12-07T11:55:00Z"),
        ends_at: Some(at("2026-12-07T12:30:00Z")),
        service: Some(svc("checkout")),
        environment: Some(env("production")),
        labels: Default::default(),
        annotations: Default::default(),
        generator_url: None,
        resolved_by: None,
        updated_at: at("2026-12-07T12:30:00Z"),
    }];
    let timeline = incident_timeline(&incident, &deploys, &alerts);
    let what: Vec<&str> = timeline.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "deploy #1 of checkout v1 to production (succeeded)",
            "alert HighErrorRate fired on checkout",
            "incident 7 opened: Checkout *down* | [bad] (critical)",
            "incident 7 acknowledged",
            "alert HighErrorRate resolved on checkout",
            "incident 7 resolved",
        ]
    );
    let suspects = rank_suspects(&incident, SUSPECT_WINDOW, vec![facts(deploys[0].clone())]);
    let md = postmortem_markdown(&incident, &suspects, &timeline);
    assert!(
        md.starts_with("# Incident 7: Checkout \\*down\\* \\| \\[bad\\]\n"),
        "{md}"
    );
    assert!(
        md.contains("1. Deploy #1: checkout v1 to production, went out 2026-12-07 10:00:00 UTC"),
        "{md}"
    );
    assert!(
        md.contains("   - deployed to checkout in production, where the incident is"),
        "{md}"
    );
    assert!(
        md.contains("| 2026-12-07 12:40:00 | incident 7 resolved |"),
        "{md}"
    );
    assert!(md.contains("- Resolved 2026-12-07 12:40:00 UTC"), "{md}");
}

#[test]
fn a_persons_word_on_a_suspect_is_read_and_leads_the_order() {
    let ok = CauseRequest {
        decision: Some(" confirmed ".into()),
        note: Some("  the cart change  ".into()),
    };
    assert_eq!(
        ok.parse(),
        Ok((CauseDecision::Confirmed, Some("the cart change".into())))
    );
    let bad = CauseRequest {
        decision: Some("maybe".into()),
        note: Some("two\nlines".into()),
    };
    let fields: Vec<String> = bad
        .parse()
        .err()
        .map(|e| e.0.into_iter().map(|f| f.field).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["decision", "note"]);
    assert!(
        CauseRequest::default().parse().is_err(),
        "a decision is required"
    );

    let incident = incident("2026-12-07T12:00:00Z");
    let mut suspects = rank_suspects(
        &incident,
        SUSPECT_WINDOW,
        vec![
            facts(deploy(1, "checkout", "production", "2026-12-07T11:50:00Z")),
            facts(deploy(2, "checkout", "production", "2026-12-07T10:00:00Z")),
            facts(deploy(3, "search", "production", "2026-12-07T11:00:00Z")),
        ],
    );
    assert_eq!(
        suspects.iter().map(|s| s.deploy_id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    suspects[0].cause = Some(CauseDecision::Rejected);
    suspects[2].cause = Some(CauseDecision::Confirmed);
    order_by_decisions(&mut suspects);
    assert_eq!(
        suspects.iter().map(|s| s.deploy_id).collect::<Vec<_>>(),
        [3, 2, 1]
    );
}

fn alert_report(severity: &str, resolved: bool) -> crate::alerts::AlertReport {
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("severity".to_owned(), severity.to_owned());
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert("summary".to_owned(), "5xx over 2%".to_owned());
    crate::alerts::AlertReport {
        fingerprint: "c0ffee".into(),
        starts_at: at("2026-12-07T10:00:00Z"),
        ends_at: resolved.then(|| at("2026-12-07T10:40:00Z")),
        state: if resolved {
            crate::alerts::AlertState::Resolved
        } else {
            crate::alerts::AlertState::Firing
        },
        name: "CheckoutErrors".into(),
        service: Some(svc("checkout")),
        environment: Some(env("production")),
        labels,
        annotations,
        generator_url: Some("http://prometheus:9090/graph?g0.expr=x".into()),
    }
}

#[test]
fn an_alert_of_the_chosen_severity_is_an_incident_and_its_resolution_resolves_it() {
    let firing = incident_from_alert(&alert_report("critical", false), Severity::High)
        .expect("critical is at least high");
    assert_eq!(firing.source, IncidentSource::Alertmanager);
    assert_eq!(firing.external_id, "c0ffee@2026-12-07T10:00:00+00:00");
    assert_eq!(firing.title, "CheckoutErrors: 5xx over 2%");
    assert_eq!(firing.state, IncidentState::Open);
    assert_eq!(firing.at, at("2026-12-07T10:00:00Z"));
    assert_eq!(firing.services, [svc("checkout")]);
    assert_eq!(firing.environments, [env("production")]);
    assert!(firing.link.is_some());
    let resolved = incident_from_alert(&alert_report("critical", true), Severity::High)
        .expect("the same firing");
    assert_eq!(
        resolved.external_id, firing.external_id,
        "one incident per firing"
    );
    assert_eq!(
        (resolved.state, resolved.at),
        (IncidentState::Resolved, at("2026-12-07T10:40:00Z"))
    );
    // Below the line, or without a severity Houston reads, it stays an alert.
    assert!(incident_from_alert(&alert_report("warning", false), Severity::High).is_none());
    assert!(incident_from_alert(&alert_report("whatever", false), Severity::Low).is_none());
    assert_eq!(alert_severity("page"), Some(Severity::High));
    assert_eq!(alert_severity("warning"), Some(Severity::Medium));
    assert_eq!(alert_severity("info"), Some(Severity::Low));
    assert_eq!(alert_severity("P1"), Some(Severity::Critical));
}

use super::*;
use crate::incidents::IncidentSource;
use chrono::TimeZone;

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0)
        .single()
        .expect("a valid time")
}

fn svc(name: &str) -> ServiceName {
    ServiceName::parse(name).expect("a valid service")
}

fn env(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).expect("a valid environment")
}

fn deploy(id: i64, service: &str, at: DateTime<Utc>) -> TimelineDeploy {
    TimelineDeploy {
        id,
        service: svc(service),
        environment: env("production"),
        version: format!("v{id}"),
        status: DeployStatus::Succeeded,
        started_at: at,
        verdict: None,
        verdict_at: None,
    }
}

fn alert(name: &str, service: &str, from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Alert {
    Alert {
        id: 1,
        fingerprint: name.to_owned(),
        name: name.to_owned(),
        state: if to.is_some() {
            AlertState::Resolved
        } else {
            AlertState::Firing
        },
        starts_at: from,
        ends_at: to,
        service: Some(svc(service)),
        environment: Some(env("production")),
        labels: Default::default(),
        annotations: Default::default(),
        generator_url: None,
        resolved_by: None,
        updated_at: from,
    }
}

fn incident(id: i64, opened: DateTime<Utc>, resolved: Option<DateTime<Utc>>) -> Incident {
    Incident {
        id,
        source: IncidentSource::Pagerduty,
        external_id: format!("P{id}"),
        title: "Checkout errors".to_owned(),
        severity: Severity::Critical,
        state: if resolved.is_some() {
            IncidentState::Resolved
        } else {
            IncidentState::Open
        },
        services: vec![svc("checkout")],
        environments: vec![env("production")],
        opened_at: opened,
        acknowledged_at: None,
        resolved_at: resolved,
        link: None,
        opened_by: "webhook:pagerduty".to_owned(),
    }
}

fn lock(environment: &str, at: DateTime<Utc>, unlocked: Option<DateTime<Utc>>) -> Lock {
    Lock {
        id: 3,
        environment: Some(env(environment)),
        service: None,
        reason: "incident 7".to_owned(),
        locked_by: "user:ada".to_owned(),
        locked_at: at,
        expires_at: None,
        unlocked_by: unlocked.map(|_| "user:bo".to_owned()),
        unlocked_at: unlocked,
        unlock_note: None,
        active: unlocked.is_none(),
    }
}

fn filter(query: TimelineQuery) -> TimelineFilter {
    query.parse().expect("a valid query")
}

fn all() -> TimelineFilter {
    filter(TimelineQuery::default())
}

#[test]
fn the_query_names_every_problem_and_accepts_a_good_one() {
    let bad = TimelineQuery {
        at: Some("yesterday".into()),
        span: Some("2h".into()),
        service: Some("Not A Name".into()),
        kind: Some("deploy,explosion".into()),
        incident: Some(0),
        ..TimelineQuery::default()
    }
    .parse()
    .expect_err("every field is wrong");
    let fields: Vec<&str> = bad.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["at", "span", "service", "kind", "incident"]);

    let good = filter(TimelineQuery {
        at: Some("2026-12-07T12:00:00Z".into()),
        span: Some("6h".into()),
        kind: Some("alert, deploy,deploy".into()),
        ..TimelineQuery::default()
    });
    assert_eq!(good.at, Some(t(12, 0)));
    assert_eq!(good.span_or_default().minutes, 360);
    assert_eq!(good.kinds, [TimelineKind::Deploy, TimelineKind::Alert]);
    assert!(good.shows(TimelineKind::Alert) && !good.shows(TimelineKind::Lock));
}

#[test]
fn a_view_opened_from_an_incident_defaults_to_the_focus_span() {
    let focused = filter(TimelineQuery {
        incident: Some(4),
        ..TimelineQuery::default()
    });
    assert_eq!(focused.span_or_default().name, FOCUS_SPAN);
    assert_eq!(all().span_or_default().name, DEFAULT_SPAN);
    // Given both, the incident is the centre (the service reads it first).
    let both = filter(TimelineQuery {
        incident: Some(4),
        deploy: Some(5),
        ..TimelineQuery::default()
    });
    assert_eq!((both.incident, both.deploy), (Some(4), Some(5)));
}

#[test]
fn zooming_steps_through_the_spans_and_stops_at_the_ends() {
    let day = Span::parse("24h").expect("a span");
    assert_eq!(day.shorter().map(|s| s.name), Some("12h"));
    assert_eq!(day.longer().map(|s| s.name), Some("3d"));
    assert_eq!(Span::parse("15m").and_then(Span::shorter), None);
    assert_eq!(Span::parse("7d").and_then(Span::longer), None);
    let (from, to) = view_range(t(12, 0), day);
    assert_eq!((from, to), (t(0, 0), t(0, 0) + Duration::hours(24)));
}

#[test]
fn the_story_of_an_incident_reads_in_order_on_its_lanes() {
    let mut bad = deploy(11, "checkout", t(10, 0));
    bad.verdict = Some(VerdictState::Unhealthy);
    bad.verdict_at = Some(t(10, 15));
    let facts = TimelineFacts {
        deploys: vec![deploy(10, "search", t(9, 0)), bad],
        alerts: vec![alert(
            "HighErrorRate",
            "checkout",
            t(10, 20),
            Some(t(11, 0)),
        )],
        incidents: vec![incident(7, t(10, 30), Some(t(11, 30)))],
        locks: vec![lock("production", t(10, 35), Some(t(11, 30)))],
        ..TimelineFacts::default()
    };
    let view = build_timeline(
        &facts,
        &filter(TimelineQuery {
            span: Some("6h".into()),
            ..TimelineQuery::default()
        }),
        t(10, 0),
        Some(t(10, 30)),
        t(12, 0),
    );
    let kinds: Vec<&str> = view.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["deploy", "deploy", "verdict", "alert", "incident", "lock"]
    );
    assert_eq!(
        view.events[2].what,
        "deploy #11 of checkout v11 judged unhealthy"
    );
    assert_eq!(view.events[2].tone, Tone::Bad);
    let lanes: Vec<&str> = view.lanes.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        lanes,
        [INCIDENT_LANE, EVERY_SERVICE_LANE, "checkout", "search"]
    );
    // 10:30 in a 6 h view from 07:00: 3.5 / 6 of the way, to five decimals.
    let focus = view.focus.expect("the incident is in view");
    assert_eq!(focus, 0.58333);
    let incident_bar = &view.lanes[0].marks[0];
    assert!((incident_bar.width - 1.0 / 6.0).abs() < 1e-5);
    assert_eq!(incident_bar.href.as_deref(), Some("/incidents/7"));
    // Now, 12:00, is 5 / 6 of the way to 13:00.
    let now = view.now.expect("now is in view");
    assert_eq!(now, 0.83333);
}

#[test]
fn filters_keep_their_places_and_kinds_and_what_holds_everywhere() {
    let facts = TimelineFacts {
        deploys: vec![
            deploy(1, "checkout", t(10, 0)),
            deploy(2, "search", t(10, 5)),
        ],
        alerts: vec![alert("Slow", "search", t(10, 6), None)],
        locks: vec![
            lock("production", t(9, 0), None),
            lock("staging", t(9, 0), None),
        ],
        ..TimelineFacts::default()
    };
    let only_checkout = filter(TimelineQuery {
        service: Some("checkout".into()),
        environment: Some("production".into()),
        ..TimelineQuery::default()
    });
    let events = timeline_events(&facts, &only_checkout, t(0, 0), t(23, 0), t(12, 0));
    let what: Vec<&str> = events.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "deploy #1 of checkout v1 to production (succeeded)",
            "every service in production locked by user:ada: incident 7"
        ]
    );
    assert!(events[1].ongoing, "a lock in force lasts until now");

    let only_alerts = filter(TimelineQuery {
        kind: Some("alert".into()),
        ..TimelineQuery::default()
    });
    let events = timeline_events(&facts, &only_alerts, t(0, 0), t(23, 0), t(12, 0));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].what, "alert Slow on search (firing)");
    assert_eq!(events[0].tone, Tone::Bad);
}

#[test]
fn what_ended_before_the_view_or_starts_after_it_is_left_out() {
    let facts = TimelineFacts {
        deploys: vec![deploy(1, "checkout", t(3, 0))],
        alerts: vec![
            alert("Before", "checkout", t(1, 0), Some(t(2, 0))),
            alert("Across", "checkout", t(1, 0), Some(t(5, 0))),
        ],
        incidents: vec![incident(1, t(8, 0), None)],
        ..TimelineFacts::default()
    };
    let events = timeline_events(&facts, &all(), t(4, 0), t(6, 0), t(12, 0));
    let what: Vec<&str> = events.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(what, ["alert Across on checkout (resolved)"]);
}

#[test]
fn points_close_together_become_one_mark_with_their_count_and_worst_tone() {
    let mut failed = deploy(3, "checkout", t(10, 2));
    failed.status = DeployStatus::Failed;
    let facts = TimelineFacts {
        deploys: vec![
            deploy(1, "checkout", t(10, 0)),
            deploy(2, "checkout", t(10, 1)),
            failed,
            deploy(4, "checkout", t(16, 0)),
        ],
        ..TimelineFacts::default()
    };
    // A day: 0.006 of it is 8.6 minutes.
    let view = build_timeline(&facts, &all(), t(12, 0), None, t(23, 0));
    let marks = &view.lanes[0].marks;
    assert_eq!(marks.len(), 2);
    assert_eq!(marks[0].count, 3);
    assert_eq!(marks[0].tone, Tone::Bad);
    assert_eq!(marks[0].href, None, "a cluster links nowhere in particular");
    assert!(
        marks[0]
            .label
            .starts_with("3 deploys from Dec 7 10:00; the worst: Dec 7 10:02 · deploy #3"),
        "{}",
        marks[0].label
    );
    assert_eq!(marks[1].count, 1);
    assert_eq!(marks[1].href.as_deref(), Some("/deploys/4"));
    // Zoomed in to 15 minutes, the three stand apart.
    let zoomed = filter(TimelineQuery {
        span: Some("15m".into()),
        ..TimelineQuery::default()
    });
    let view = build_timeline(&facts, &zoomed, t(10, 5), None, t(23, 0));
    assert_eq!(view.lanes[0].marks.len(), 3);
}

#[test]
fn ticks_fall_on_round_times_and_midnight_names_the_day() {
    let view = build_timeline(&TimelineFacts::default(), &all(), t(12, 0), None, t(12, 0));
    let labels: Vec<&str> = view.ticks.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"
        ]
    );
    assert_eq!(view.now, Some(0.5));
    assert!(view.ticks.iter().all(|t| (0.0..=1.0).contains(&t.x)));
}

#[test]
fn a_crowded_view_lists_the_events_nearest_its_centre_and_says_how_many() {
    let facts = TimelineFacts {
        deploys: (0..600)
            .map(|i| deploy(i, "checkout", t(0, 0) + Duration::minutes(2 * i)))
            .collect(),
        ..TimelineFacts::default()
    };
    // With now in view (23:00), the latest are listed: those of 11:40 to 19:58.
    let latest = build_timeline(&facts, &all(), t(12, 0), None, t(23, 0));
    assert_eq!(latest.events.len(), MAX_LISTED_EVENTS);
    assert_eq!(latest.events.first().map(|e| e.at), Some(t(11, 40)));
    assert_eq!(latest.events.last().map(|e| e.at), Some(t(19, 58)));
    // With a focus, those around it.
    let focused = build_timeline(&facts, &all(), t(12, 0), Some(t(4, 0)), t(23, 0));
    assert_eq!(focused.events.first().map(|e| e.at), Some(t(0, 0)));
    // A view of the past: those around its centre.
    let view = build_timeline(&facts, &all(), t(12, 0), None, t(23, 0) + Duration::days(2));
    assert_eq!(view.events_total, 600);
    assert_eq!(view.events.len(), MAX_LISTED_EVENTS);
    let first = view.events.first().map(|e| e.at).expect("events");
    let last = view.events.last().map(|e| e.at).expect("events");
    assert!(
        first < t(12, 0) && t(12, 0) < last,
        "around the centre: {first} to {last}"
    );
    assert!(
        view.events.windows(2).all(|w| w[0].at <= w[1].at),
        "in time order"
    );
    let marked: u32 = view
        .lanes
        .iter()
        .flat_map(|l| &l.marks)
        .map(|m| m.count)
        .sum();
    assert_eq!(marked, 600, "every event keeps its mark");
}

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn env(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn svc(name: &str) -> ServiceName {
    ServiceName::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn lock(id: i64, environment: Option<&str>, service: Option<&str>) -> Lock {
    Lock {
        id,
        environment: environment.map(env),
        service: service.map(svc),
        reason: "Black Friday".to_owned(),
        locked_by: "user:lena".to_owned(),
        locked_at: at("2026-11-27T08:00:00Z"),
        expires_at: Some(at("2026-11-30T08:00:00Z")),
        unlocked_by: None,
        unlocked_at: None,
        unlock_note: None,
        active: true,
    }
}

fn ask(version: Option<&str>, branch: Option<&str>) -> GateAsk {
    GateAsk {
        service: svc("checkout"),
        environment: env("production"),
        version: version.map(str::to_owned),
        branch: branch.map(str::to_owned),
    }
}

#[test]
fn scopes_cover_contain_and_overlap() {
    let everything = LockScope::default();
    let prod = lock(1, Some("production"), None).scope();
    let checkout = lock(2, Some("production"), Some("checkout")).scope();
    assert!(everything.covers(&svc("a"), &env("staging")));
    assert!(prod.covers(&svc("a"), &env("production")));
    assert!(!prod.covers(&svc("a"), &env("staging")));
    assert!(checkout.covers(&svc("checkout"), &env("production")));
    assert!(!checkout.covers(&svc("search"), &env("production")));
    assert!(everything.contains(&checkout) && prod.contains(&checkout));
    assert!(!checkout.contains(&prod) && !prod.contains(&everything));
    assert!(checkout.overlaps(&prod) && prod.overlaps(&everything));
    let staging = lock(3, Some("staging"), None).scope();
    assert!(!staging.overlaps(&checkout));
    assert_eq!(checkout.describe(), "checkout in production");
    assert_eq!(everything.describe(), "everything");
}

#[test]
fn a_lock_is_told_in_one_way_wherever_it_is_met() {
    let whole = lock(1, Some("production"), None);
    assert_eq!(
        whole.said(),
        "production is locked by user:lena: Black Friday"
    );
    let place = lock(2, Some("production"), Some("checkout"));
    assert_eq!(
        place.said(),
        "checkout in production is locked by user:lena: Black Friday"
    );
    assert_eq!(
        lock(3, None, None).refusal(),
        "everything is already locked by user:lena since 2026-11-27T08:00:00+00:00: Black Friday"
    );
    assert_eq!(
        freeze_said("Weekend", Some("only fixes")),
        "freeze window 'Weekend': only fixes"
    );
    assert_eq!(freeze_said("Weekend", None), "freeze window 'Weekend'");
}

#[test]
fn the_lock_form_takes_minutes_and_reports_every_field_at_once() {
    let now = at("2026-11-30T10:00:00Z");
    let form = LockForm {
        environment: Some("production".into()),
        service: None,
        reason: "migration".into(),
        expires_in: Some(" 90 ".into()),
    };
    let new = form.parse(now).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(new.expires_at, Some(at("2026-11-30T11:30:00Z")));
    assert_eq!(new.scope.describe(), "production");
    let until_unlocked = LockForm {
        expires_in: Some("  ".into()),
        ..form.clone()
    };
    assert_eq!(until_unlocked.parse(now).map(|l| l.expires_at), Ok(None));
    for bad in ["0", "-5", "525601", "an hour", "1.5"] {
        let wrong = LockForm {
            service: Some("checkout".into()),
            environment: None,
            reason: " ".into(),
            expires_in: Some(bad.into()),
        };
        let fields: Vec<String> = wrong
            .parse(now)
            .err()
            .map(|e| e.0)
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["environment", "reason", "expires_in"], "{bad}");
    }
    let a_year = LockForm {
        expires_in: Some("525600".into()),
        ..form
    };
    assert_eq!(
        a_year.parse(now).map(|l| l.expires_at),
        Ok(Some(now + chrono::Duration::minutes(525_600)))
    );
}

#[test]
fn a_lock_request_needs_a_reason_and_a_future_expiry() {
    let now = at("2026-11-30T10:00:00Z");
    let request = LockRequest {
        environment: Some(" production ".into()),
        service: Some("checkout".into()),
        reason: Some("  Black Friday  ".into()),
        expires_at: Some("2026-11-30T18:00:00+01:00".into()),
    };
    let new = request.parse(now).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(new.reason, "Black Friday");
    assert_eq!(new.expires_at, Some(at("2026-11-30T17:00:00Z")));
    assert_eq!(new.scope.describe(), "checkout in production");

    let bad = LockRequest {
        environment: None,
        service: Some("checkout".into()),
        reason: Some(" \n ".into()),
        expires_at: Some("2026-11-30T09:00:00Z".into()),
    };
    let fields: Vec<String> = bad
        .parse(now)
        .err()
        .map(|e| e.0)
        .unwrap_or_default()
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(fields, ["environment", "reason", "expires_at"]);

    let long = LockRequest {
        reason: Some("x".repeat(MAX_REASON_CHARS + 1)),
        ..LockRequest::default()
    };
    assert!(long.parse(now).is_err());
    let blank_expiry = LockRequest {
        reason: Some("why".into()),
        expires_at: Some(String::new()),
        ..LockRequest::default()
    };
    assert_eq!(
        blank_expiry.parse(now).err().map(|e| e.0[0].field.clone()),
        Some("expires_at".to_owned())
    );
    let longest = LockRequest {
        reason: Some("é".repeat(MAX_REASON_CHARS)),
        ..LockRequest::default()
    };
    assert_eq!(
        longest.parse(now).map(|l| l.scope),
        Ok(LockScope::default())
    );
}

#[test]
fn a_lock_is_in_force_until_unlocked_or_expired() {
    let mut l = lock(1, Some("production"), None);
    assert!(l.in_force(at("2026-11-30T07:59:59Z")));
    assert!(!l.in_force(at("2026-11-30T08:00:00Z")));
    assert_eq!(
        l.ended_at(at("2026-11-30T09:00:00Z")),
        Some(at("2026-11-30T08:00:00Z"))
    );
    l.unlocked_at = Some(at("2026-11-28T00:00:00Z"));
    assert!(!l.in_force(at("2026-11-28T00:00:01Z")));
    assert!(may_unlock(&l, "user:lena", false));
    assert!(!may_unlock(&l, "user:dev", false));
    assert!(may_unlock(&l, "user:dev", true));
}

#[test]
fn overrides_default_to_an_hour_and_match_their_version() {
    let now = at("2026-11-30T10:00:00Z");
    let request = BreakGlassRequest {
        service: Some("checkout".into()),
        environment: Some("production".into()),
        version: Some("v2".into()),
        reason: Some("hotfix".into()),
        expires_in_minutes: None,
        breaks: None,
    };
    let new = request.parse(now).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(new.expires_at, at("2026-11-30T11:00:00Z"));
    assert_eq!(
        new.breaks,
        [GateRule::Lock, GateRule::Freeze, GateRule::Incident],
        "by default"
    );
    let granted = Override {
        id: 1,
        service: new.service,
        environment: new.environment,
        version: new.version,
        reason: new.reason,
        granted_by: "user:lena".into(),
        granted_at: now,
        expires_at: new.expires_at,
        used_by: None,
        used_at: None,
        breaks: new.breaks,
        claim: None,
    };
    assert!(granted.matches(&svc("checkout"), &env("production"), Some("v2")));
    assert!(!granted.matches(&svc("checkout"), &env("production"), Some("v3")));
    assert!(!granted.matches(&svc("checkout"), &env("production"), None));
    assert!(!granted.matches(&svc("checkout"), &env("staging"), Some("v2")));
    assert!(granted.usable(at("2026-11-30T10:59:59Z")));
    assert!(!granted.usable(at("2026-11-30T11:00:00Z")));
    let too_long = BreakGlassRequest {
        expires_in_minutes: Some(MAX_OVERRIDE_MINUTES + 1),
        ..request.clone()
    };
    assert!(too_long.parse(now).is_err());
    let named = |names: &[&str]| BreakGlassRequest {
        breaks: Some(names.iter().map(|n| (*n).to_owned()).collect()),
        ..request.clone()
    };
    let chosen = named(&["branch", "alert", "lock", "alert"])
        .parse(now)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        chosen.breaks,
        [GateRule::Lock, GateRule::Alert, GateRule::Branch],
        "each once, in the gate's order"
    );
    for refused in [&[][..], &["override"], &["everything"]] {
        let errors = named(refused).parse(now).expect_err("refused");
        assert_eq!(errors.0[0].field, "breaks", "{refused:?}");
    }
}

#[test]
fn reasons_are_one_line_of_text_and_gate_lines_are_inert_in_ci_logs() {
    let now = at("2026-11-30T10:00:00Z");
    for reason in [
        "maintenance\n::error::approved",
        "a\u{1b}[2K",
        "tab\there",
        "reads \u{202e}desrever",
    ] {
        let request = LockRequest {
            environment: Some("qa".into()),
            reason: Some(reason.into()),
            ..LockRequest::default()
        };
        assert!(request.parse(now).is_err(), "{reason:?} must be refused");
    }
    let answer = GateAnswer {
        allowed: false,
        reasons: vec![GateReason::new(
            GateRule::Alert,
            "alert X is firing: ::add-mask::hst_ :::x \u{1b}[1A\u{1b}[32mallowed\nnext",
        )],
        override_available: None,
    };
    let lines = gate_lines(&answer);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert!(!line.contains("::"), "{line}");
    assert!(!line.chars().any(char::is_control), "{line:?}");
    assert!(line.contains("\\u{1b}"), "escapes are visible: {line}");
}

#[test]
fn branch_patterns() {
    assert!(branch_matches("main", "main"));
    assert!(!branch_matches("main", "main2"));
    assert!(branch_matches("release/*", "release/2026.11"));
    assert!(!branch_matches("release/*", "hotfix/1"));
    assert!(branch_matches("*", "anything"));
    assert!(branch_matches("a*b*c", "a-x-b-y-c"));
    assert!(!branch_matches("a*b*c", "a-x-c-y-b"));
    assert!(!branch_matches("ab*ba", "aba"));
}

#[test]
fn the_gate_lists_every_reason_and_an_override_lets_one_through() {
    let mut facts = GateFacts {
        locks: vec![lock(7, Some("production"), None)],
        alerts: vec![("HighErrorRate".into(), None, at("2026-11-30T09:00:00Z"))],
        current: Some((41, "v1".into(), Some(VerdictState::Unhealthy))),
        ..GateFacts::default()
    };
    let answer = decide_gate(&ask(Some("v2"), None), &facts);
    assert!(!answer.allowed);
    let rules: Vec<GateRule> = answer.reasons.iter().map(|r| r.rule).collect();
    assert_eq!(
        rules,
        [GateRule::Lock, GateRule::Alert, GateRule::Unhealthy]
    );
    assert_eq!(
        answer.reasons[0].detail,
        "production is locked by user:lena: Black Friday"
    );
    assert_eq!(answer.reasons[0].until, Some(at("2026-11-30T08:00:00Z")));
    assert_eq!(answer.counted_rules(), ["alert", "lock", "unhealthy"]);

    facts.granted = Some(Override {
        id: 3,
        service: svc("checkout"),
        environment: env("production"),
        version: None,
        reason: "INC-231 fix".into(),
        granted_by: "user:lena".into(),
        granted_at: at("2026-11-30T09:30:00Z"),
        expires_at: at("2026-11-30T10:30:00Z"),
        used_by: None,
        used_at: None,
        breaks: GateRule::BREAKABLE.to_vec(),
        claim: None,
    });
    // The plain gate spends nothing and lets nothing through: it says an
    // override is available.
    let answer = decide_gate(&ask(Some("v2"), None), &facts);
    assert!(!answer.allowed);
    assert_eq!(answer.override_available, Some(3));
    assert_eq!(
        answer.reasons.last().map(|r| r.rule),
        Some(GateRule::Override)
    );
    assert_eq!(answer.counted_rules(), ["alert", "lock", "unhealthy"]);

    // The run that holds the claim is let through; another run is told who has it.
    let run = |id: &str| Claimant {
        run: id.into(),
        version: Some("v2".into()),
        by: "token:ci".into(),
    };
    if let Some(granted) = facts.granted.as_mut() {
        granted.claim = Some(OverrideClaim {
            run: "gh-1".into(),
            version: Some("v2".into()),
            by: "token:ci".into(),
            at: at("2026-11-30T09:40:00Z"),
        });
    }
    facts.claimant = Some(run("gh-1"));
    let answer = decide_gate(&ask(Some("v2"), None), &facts);
    assert!(answer.allowed);
    assert_eq!(answer.override_available, None);
    assert_eq!(answer.counted_rules(), ["override"]);
    facts.claimant = Some(run("gh-2"));
    let answer = decide_gate(&ask(Some("v2"), None), &facts);
    assert!(!answer.allowed);
    assert_eq!(answer.override_available, None);
    assert!(
        answer.reasons.last().is_some_and(
            |r| r.detail.contains("claimed by another run") && !r.detail.contains("gh-1")
        ),
        "{answer:?}"
    );
    // The run's id alone is not the claim: another caller naming it is not let through.
    facts.claimant = Some(Claimant {
        by: "token:other".into(),
        ..run("gh-1")
    });
    assert!(!decide_gate(&ask(Some("v2"), None), &facts).allowed);

    // An override that does not break every blocking rule clears nothing.
    facts.claimant = Some(run("gh-1"));
    if let Some(granted) = facts.granted.as_mut() {
        granted.breaks = GateRule::BROKEN_BY_DEFAULT.to_vec();
    }
    let answer = decide_gate(&ask(Some("v2"), None), &facts);
    assert!(
        !answer.allowed,
        "the alert and the unhealthy deploy still block"
    );
    assert!(
        answer
            .reasons
            .last()
            .is_some_and(|r| r.detail.contains("breaks only lock,freeze")),
        "{answer:?}"
    );

    let clear = decide_gate(&ask(None, None), &GateFacts::default());
    assert!(clear.allowed && clear.reasons.is_empty());
    assert_eq!(clear.counted_rules(), ["none"]);
}

#[test]
fn a_running_deploy_the_judge_cannot_tell_about_does_not_block() {
    let facts = GateFacts {
        current: Some((41, "v1".into(), Some(VerdictState::CantTell))),
        ..GateFacts::default()
    };
    let answer = decide_gate(&ask(Some("v2"), None), &facts);
    assert!(answer.allowed, "{:?}", answer.reasons);
}

#[test]
fn promotion_needs_a_healthy_baked_deploy_in_the_previous_stage() {
    let rules = EnvironmentGate {
        environment: env("production"),
        require_previous_stage: true,
        min_bake_secs: 1800,
        branches: vec!["main".into()],
        stop_on_incident: None,
    };
    let record = |verdict, is_final, mins| StageRecord {
        environment: env("staging"),
        deploy_id: 9,
        verdict,
        is_final,
        baked: Duration::minutes(mins),
    };
    let facts = |previous| GateFacts {
        rules: Some(rules.clone()),
        previous_stage: Some(env("staging")),
        previous,
        ..GateFacts::default()
    };
    let details = |a: &GateAnswer| {
        a.reasons
            .iter()
            .map(|r| r.detail.clone())
            .collect::<Vec<_>>()
    };

    let ok = decide_gate(
        &ask(Some("v2"), Some("main")),
        &facts(Some(record(Some(VerdictState::Healthy), true, 45))),
    );
    assert!(ok.allowed, "{:?}", ok.reasons);

    let young = decide_gate(
        &ask(Some("v2"), Some("main")),
        &facts(Some(record(Some(VerdictState::Healthy), true, 10))),
    );
    assert_eq!(
        details(&young),
        ["v2 has baked 10 min in staging; production needs 30 min"]
    );

    let sick = decide_gate(
        &ask(Some("v2"), Some("main")),
        &facts(Some(record(Some(VerdictState::Unhealthy), true, 45))),
    );
    assert_eq!(
        details(&sick),
        ["v2 was judged unhealthy in staging (deploy #9)"]
    );

    // "Can't tell" is no evidence of health: it does not promote.
    let unsure = decide_gate(
        &ask(Some("v2"), Some("main")),
        &facts(Some(record(Some(VerdictState::CantTell), true, 45))),
    );
    assert_eq!(
        details(&unsure),
        ["v2 was judged can't tell in staging (deploy #9)"]
    );

    let never = decide_gate(&ask(Some("v2"), Some("feature/x")), &facts(None));
    assert_eq!(
        details(&never),
        [
            "v2 has not been deployed to staging",
            "production accepts only main, not feature/x"
        ]
    );
    let unnamed = decide_gate(&ask(None, None), &facts(None));
    assert_eq!(unnamed.reasons.len(), 2);
    assert!(unnamed.reasons.iter().all(|r| r.blocks()));

    // The first stage has no previous one: the rule is off.
    let first = GateFacts {
        rules: Some(rules.clone()),
        previous_stage: None,
        ..GateFacts::default()
    };
    assert!(
        decide_gate(&ask(Some("v2"), Some("refs/heads/main")), &first)
            .reasons
            .len()
            == 1
    );
    let parsed = GateQuery {
        service: Some("checkout".into()),
        environment: Some("production".into()),
        version: None,
        r#ref: Some("refs/heads/main".into()),
    }
    .parse()
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(decide_gate(&parsed, &first).allowed);
}

#[test]
fn lock_filters_parse() {
    let q = LocksQuery {
        active: Some("true".into()),
        limit: Some("500".into()),
        ..LocksQuery::default()
    };
    assert_eq!(
        q.parse().map(|f| (f.active, f.limit)),
        Ok((Some(true), 500))
    );
    let bad = LocksQuery {
        active: Some("yes".into()),
        limit: Some("501".into()),
        ..LocksQuery::default()
    };
    assert_eq!(bad.parse().err().map(|e| e.0.len()), Some(2));
}

#[test]
fn an_open_incident_stops_the_line_where_the_environment_asks() {
    use crate::incidents::{Incident, IncidentSource, IncidentState, Severity};
    let incident = |id, severity, state, service: &str| Incident {
        id,
        source: IncidentSource::Pagerduty,
        external_id: format!("P{id}"),
        title: "Checkout errors".into(),
        severity,
        state,
        services: vec![svc(service)],
        environments: vec![env("production")],
        opened_at: at("2026-12-07T12:00:00Z"),
        acknowledged_at: None,
        resolved_at: None,
        link: None,
        opened_by: "webhook:pagerduty".into(),
    };
    let rules = |least| EnvironmentGate {
        environment: env("production"),
        require_previous_stage: false,
        min_bake_secs: 0,
        branches: Vec::new(),
        stop_on_incident: least,
    };
    let facts = |least| GateFacts {
        rules: Some(rules(least)),
        incidents: vec![
            incident(7, Severity::Critical, IncidentState::Open, "checkout"),
            incident(8, Severity::Low, IncidentState::Acknowledged, "checkout"),
            incident(9, Severity::Critical, IncidentState::Resolved, "checkout"),
            incident(10, Severity::Critical, IncidentState::Open, "search"),
        ],
        ..GateFacts::default()
    };
    // The banner and the board see the same lines the gate stops.
    let lines = stopped_lines(&facts(None).incidents, &[rules(Some(Severity::High))]);
    assert_eq!(
        lines.iter().map(|l| l.incident).collect::<Vec<_>>(),
        [7, 10],
        "open and severe enough, in the environment; not the low or the resolved one"
    );
    assert!(lines[0].covers(&LockScope {
        environment: Some(env("production")),
        service: Some(svc("checkout")),
    }));
    assert!(!lines[0].covers(&LockScope {
        environment: Some(env("production")),
        service: Some(svc("search")),
    }));
    assert!(!lines[0].covers(&LockScope {
        environment: Some(env("staging")),
        service: Some(svc("checkout")),
    }));
    assert_eq!(lines[0].describe(), "checkout in production");
    assert!(stopped_lines(&facts(None).incidents, &[rules(None)]).is_empty());

    let stopped = decide_gate(&ask(Some("v2"), None), &facts(Some(Severity::High)));
    assert!(!stopped.allowed);
    let details: Vec<&str> = stopped.reasons.iter().map(|r| r.detail.as_str()).collect();
    assert_eq!(details, ["incident 7 is open: Checkout errors (critical)"]);
    assert_eq!(stopped.reasons[0].rule, GateRule::Incident);
    assert_eq!(stopped.reasons[0].id, Some(7));

    let low = decide_gate(&ask(Some("v2"), None), &facts(Some(Severity::Low)));
    assert_eq!(
        low.reasons.len(),
        2,
        "the acknowledged low one too: {:?}",
        low.reasons
    );
    let off = decide_gate(&ask(Some("v2"), None), &facts(None));
    assert!(off.allowed, "an environment that does not stop the line");
    assert!(
        GateRule::BROKEN_BY_DEFAULT.contains(&GateRule::Incident),
        "break glass"
    );
    assert_eq!(GateRule::parse("incident"), Some(GateRule::Incident));
}

//! Locks, overrides, freeze windows and the gate's counts.

use crate::common::*;

fn lena() -> Actor {
    Actor::new("user:lena", Some("10.0.0.4".into()))
}

fn lead() -> Actor {
    Actor::new("user:lead", None)
}

/// A lock as a caller asks for it, parsed by the domain at `now`.
fn lock_request(
    environment: Option<&str>,
    service: Option<&str>,
    reason: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> NewLock {
    LockRequest {
        environment: environment.map(str::to_owned),
        service: service.map(str::to_owned),
        reason: Some(reason.into()),
        expires_at: expires_at.map(|t| t.to_rfc3339()),
    }
    .parse(now)
    .expect("a valid lock")
}

async fn place(store: &dyn Store, new: &NewLock, now: DateTime<Utc>) -> Lock {
    match store.place_lock(new, &lena(), now).await.expect("place") {
        LockOutcome::Placed(lock) => lock,
        LockOutcome::AlreadyLocked(lock) => panic!("already locked by {lock:?}"),
    }
}

fn lock_filter(active: Option<bool>) -> LockFilter {
    LockFilter {
        active,
        limit: 100,
        ..LockFilter::default()
    }
}

async fn lock_ids(store: &dyn Store, filter: LockFilter, now: DateTime<Utc>) -> Vec<i64> {
    store
        .list_locks(&filter, now)
        .await
        .expect("list locks")
        .into_iter()
        .map(|l| l.id)
        .collect()
}

/// An override as a lead asks for it, parsed by the domain at `now`.
fn break_glass(version: Option<&str>, reason: &str, now: DateTime<Utc>) -> NewBreakGlass {
    BreakGlassRequest {
        service: Some("checkout".into()),
        environment: Some("production".into()),
        version: version.map(str::to_owned),
        reason: Some(reason.into()),
        expires_in_minutes: None,
        breaks: None,
    }
    .parse(now)
    .expect("a valid override")
}

/// Whether a deploy went out through an override (its mark names it).
fn through_an_override(deploy: &houston_core::Deploy) -> bool {
    deploy
        .through_lock
        .as_deref()
        .is_some_and(|t| t.starts_with("override #"))
}

fn freeze_header(name: &str, environment: Option<&str>) -> FreezeHeader {
    let mut problems = Vec::new();
    FreezeForm {
        name: Some(name.into()),
        note: Some("release week".into()),
        environment: environment.map(str::to_owned),
        ..FreezeForm::default()
    }
    .header(&mut problems)
    .unwrap_or_else(|| panic!("a valid window: {problems:?}"))
}

async fn locks_cover_their_scope_and_a_covered_scope_cannot_be_locked_again(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let now = t0();
    let production = place(
        s,
        &lock_request(Some("production"), None, "Black Friday", None, now),
        now,
    )
    .await;
    assert_eq!(
        production.environment.as_ref().map(|e| e.as_str()),
        Some("production")
    );
    assert_eq!(production.service, None);
    assert_eq!(production.reason, "Black Friday");
    assert_eq!(production.locked_by, "user:lena");
    assert_eq!(production.locked_at, now);
    assert_eq!(production.expires_at, None);
    assert!(production.active);

    let later = now + Duration::minutes(1);
    for (environment, service) in [
        (Some("production"), None),
        (Some("production"), Some("checkout")),
    ] {
        let again = lock_request(environment, service, "again", None, later);
        assert_eq!(
            s.place_lock(&again, &lead(), later).await.expect("place"),
            LockOutcome::AlreadyLocked(production.clone()),
            "{environment:?} {service:?} is covered by the production lock"
        );
    }
    // Another environment, and one service there, are free.
    let staging = place(
        s,
        &lock_request(Some("staging"), Some("search"), "Load test", None, later),
        later,
    )
    .await;
    let other = place(
        s,
        &lock_request(Some("staging"), Some("checkout"), "Migration", None, later),
        later,
    )
    .await;
    assert_ne!(staging.id, other.id);
    // Locking everything is broader than any lock in force, so it is placed; after
    // that every scope is covered.
    let everything = place(s, &lock_request(None, None, "Outage", None, later), later).await;
    assert_eq!(everything.scope(), houston_core::LockScope::default());
    assert_eq!(
        s.place_lock(
            &lock_request(Some("dev"), None, "more", None, later),
            &lead(),
            later
        )
        .await
        .expect("place"),
        LockOutcome::AlreadyLocked(everything.clone())
    );
    assert_eq!(
        lock_ids(s, lock_filter(Some(true)), later).await.len(),
        4,
        "refused placements stored nothing"
    );
    assert_eq!(
        audit_actions(s, &format!("lock:{}", production.id)).await,
        ["lock.place user:lena"]
    );
    assert_eq!(
        s.get_lock(production.id, later).await.expect("get"),
        Some(production)
    );
    assert_eq!(s.get_lock(9999, later).await.expect("get"), None);
}

async fn a_lock_past_its_expiry_is_no_longer_in_force(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let now = t0();
    let expires = now + Duration::minutes(10);
    let lock = place(
        s,
        &lock_request(
            Some("production"),
            None,
            "Until the migration ends",
            Some(expires),
            now,
        ),
        now,
    )
    .await;
    assert_eq!(lock.expires_at, Some(expires));
    let before = now + Duration::minutes(9);
    let after = now + Duration::minutes(11);
    assert_eq!(
        lock_ids(s, lock_filter(Some(true)), before).await,
        [lock.id]
    );
    assert!(lock_ids(s, lock_filter(Some(true)), after).await.is_empty());
    assert_eq!(
        lock_ids(s, lock_filter(Some(false)), after).await,
        [lock.id]
    );
    let read = s
        .get_lock(lock.id, after)
        .await
        .expect("get")
        .expect("kept");
    assert!(!read.active, "read after its expiry it is not in force");
    assert_eq!(read.unlocked_at, None);
    // The scope is free again, and the expired lock cannot be lifted any more.
    let again = place(
        s,
        &lock_request(Some("production"), None, "Second round", None, after),
        after,
    )
    .await;
    assert_ne!(again.id, lock.id);
    assert!(matches!(
        s.unlock(lock.id, None, &lena(), after).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn unlocking_records_who_when_and_why_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let now = t0();
    let lock = place(
        s,
        &lock_request(
            Some("production"),
            Some("checkout"),
            "Bad release",
            None,
            now,
        ),
        now,
    )
    .await;
    let at = now + Duration::minutes(30);
    let ended = s
        .unlock(lock.id, Some("rolled back"), &lead(), at)
        .await
        .expect("unlock");
    assert_eq!(ended.id, lock.id);
    assert_eq!(ended.unlocked_by.as_deref(), Some("user:lead"));
    assert_eq!(ended.unlocked_at, Some(at));
    assert_eq!(ended.unlock_note.as_deref(), Some("rolled back"));
    assert!(!ended.active);
    assert_eq!(
        s.get_lock(lock.id, at).await.expect("get"),
        Some(ended.clone())
    );
    assert!(matches!(
        s.unlock(lock.id, None, &lead(), at + Duration::minutes(1))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.unlock(lock.id + 1000, None, &lead(), at).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        s.get_lock(lock.id, at + Duration::minutes(1))
            .await
            .expect("get"),
        Some(ended),
        "the refused second unlock changed nothing"
    );
    assert_eq!(
        audit_actions(s, &format!("lock:{}", lock.id)).await,
        ["lock.place user:lena", "lock.unlock user:lead"]
    );
    // A lifted lock frees its scope.
    place(
        s,
        &lock_request(Some("production"), Some("checkout"), "Again", None, at),
        at,
    )
    .await;
}

async fn lock_history_filters_by_state_place_and_words(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let production = place(
        s,
        &lock_request(
            Some("production"),
            None,
            "Black Friday: only fixes",
            None,
            t0(),
        ),
        t0(),
    )
    .await;
    let search = place(
        s,
        &lock_request(
            Some("staging"),
            Some("search"),
            "Load test at 100% traffic",
            None,
            t0() + Duration::minutes(1),
        ),
        t0() + Duration::minutes(1),
    )
    .await;
    let dev = place(
        s,
        &lock_request(
            Some("dev"),
            None,
            "Database migration",
            None,
            t0() + Duration::minutes(2),
        ),
        t0() + Duration::minutes(2),
    )
    .await;
    s.unlock(
        dev.id,
        Some("Finished EARLY"),
        &lena(),
        t0() + Duration::minutes(3),
    )
    .await
    .expect("unlock");
    let now = t0() + Duration::minutes(10);
    let text = |t: &str| LockFilter {
        text: Some(t.into()),
        ..lock_filter(None)
    };
    let cases: Vec<(&str, LockFilter, Vec<i64>)> = vec![
        (
            "all, newest first",
            lock_filter(None),
            vec![dev.id, search.id, production.id],
        ),
        (
            "in force",
            lock_filter(Some(true)),
            vec![search.id, production.id],
        ),
        ("ended", lock_filter(Some(false)), vec![dev.id]),
        (
            "one environment",
            LockFilter {
                environment: Some(EnvironmentName::parse("production").expect("valid")),
                ..lock_filter(None)
            },
            vec![production.id],
        ),
        (
            "one service",
            LockFilter {
                service: Some(ServiceName::parse("search").expect("valid")),
                ..lock_filter(None)
            },
            vec![search.id],
        ),
        (
            "ended in staging",
            LockFilter {
                environment: Some(EnvironmentName::parse("staging").expect("valid")),
                ..lock_filter(Some(false))
            },
            vec![],
        ),
        (
            "words in any case",
            text("black FRIDAY"),
            vec![production.id],
        ),
        ("words of the unlock note", text("early"), vec![dev.id]),
        ("a literal percent sign", text("100%"), vec![search.id]),
        (
            "a percent sign is no wildcard",
            text("load%traffic"),
            vec![],
        ),
        ("an underscore is no wildcard", text("black_friday"), vec![]),
        (
            "the newest only",
            LockFilter {
                limit: 1,
                ..lock_filter(None)
            },
            vec![dev.id],
        ),
    ];
    for (what, filter, want) in cases {
        assert_eq!(lock_ids(s, filter, now).await, want, "{what}");
    }
}

async fn an_override_lets_one_deploy_through_a_lock(store: Arc<dyn Store>) {
    let s = store.as_ref();
    // Registration reads the clock: the lock and the overrides are placed now.
    let now = Utc::now();
    let lock = place(
        s,
        &lock_request(
            Some("production"),
            None,
            "Code freeze for the audit",
            None,
            now,
        ),
        now,
    )
    .await;
    let other_version = s
        .grant_override(&break_glass(Some("v9"), "only v9", now), &lead(), now)
        .await
        .expect("grant");
    let any_version = s
        .grant_override(&break_glass(None, "INC-231 hotfix", now), &lead(), now)
        .await
        .expect("grant");
    assert_eq!(any_version.granted_by, "user:lead");
    assert_eq!(any_version.version, None);
    assert_eq!(any_version.used_by, None);
    assert_eq!(other_version.version.as_deref(), Some("v9"));

    let first = register(s, deploy("checkout", "production", "v2", t0())).await;
    let marked = first
        .through_lock
        .clone()
        .expect("marked with what it passed");
    assert!(
        marked.starts_with(&format!(
            "override #{} granted by user:lead: INC-231 hotfix; past lock: ",
            any_version.id
        )),
        "the override let it through, and the mark says so: {marked}"
    );
    let overrides = s.list_overrides(10).await.expect("overrides");
    let spent = overrides
        .iter()
        .find(|o| o.id == any_version.id)
        .expect("listed");
    assert_eq!(spent.used_by, Some(first.id));
    assert!(spent.used_at.is_some());
    let kept = overrides
        .iter()
        .find(|o| o.id == other_version.id)
        .expect("listed");
    assert_eq!(
        kept.used_by, None,
        "an override for another version is not spent"
    );
    assert_eq!(kept.used_at, None);

    let second = register(
        s,
        deploy("checkout", "production", "v3", t0() + Duration::minutes(5)),
    )
    .await;
    let through = second
        .through_lock
        .clone()
        .expect("marked as through a lock");
    assert!(
        through.contains("Code freeze for the audit") && through.contains("user:lena"),
        "{through}"
    );
    assert_eq!(
        s.get_deploy(second.id)
            .await
            .expect("get")
            .deploy
            .through_lock,
        Some(through)
    );
    assert_eq!(
        s.get_deploy(first.id)
            .await
            .expect("get")
            .deploy
            .through_lock,
        Some(marked)
    );
    // Elsewhere nothing stands in the way, and nothing is spent.
    let staging = register(s, deploy("checkout", "staging", "v3", t0())).await;
    assert_eq!(staging.through_lock, None);
    assert_eq!(
        s.list_overrides(10)
            .await
            .expect("overrides")
            .iter()
            .filter(|o| o.used_by.is_some())
            .count(),
        1
    );

    assert_eq!(
        audit_actions(s, &format!("override:{}", any_version.id)).await,
        ["override.grant user:lead", "override.use token:ci"]
    );
    assert_eq!(
        audit_actions(s, &format!("override:{}", other_version.id)).await,
        ["override.grant user:lead"]
    );
    assert_eq!(
        audit_actions(s, &format!("deploy:{}", first.id)).await,
        ["deploy.register token:ci"]
    );
    assert_eq!(
        audit_actions(s, &format!("deploy:{}", second.id)).await,
        ["deploy.through_lock token:ci", "deploy.register token:ci"]
    );
    assert_eq!(
        audit_actions(s, &format!("lock:{}", lock.id)).await,
        ["lock.place user:lena"]
    );
}

async fn racing_deploys_through_a_lock_spend_one_override_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let now = Utc::now();
    place(
        s,
        &lock_request(Some("production"), None, "Code freeze", None, now),
        now,
    )
    .await;
    // The place exists before the race, as it does in practice.
    register(s, deploy("checkout", "production", "v0", t0())).await;
    for round in 0..4 {
        let granted = s
            .grant_override(&break_glass(None, "one hotfix", now), &lead(), now)
            .await
            .expect("grant");
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let new = deploy(
                        "checkout",
                        "production",
                        &format!("v{round}.{i}"),
                        t0() + Duration::minutes(i),
                    );
                    store
                        .register_deploy(&new, &ci())
                        .await
                        .expect("register")
                        .deploy
                })
            })
            .collect();
        let mut through = Vec::new();
        for task in tasks {
            let d = task.await.expect("task");
            assert!(d.through_lock.is_some(), "every one is marked");
            if through_an_override(&d) {
                through.push(d.id);
            }
        }
        assert_eq!(
            through.len(),
            1,
            "round {round}: one override let {through:?} through"
        );
        let spent = s
            .list_overrides(1)
            .await
            .expect("overrides")
            .into_iter()
            .find(|o| o.id == granted.id)
            .expect("listed");
        assert_eq!(spent.used_by, Some(through[0]), "round {round}");
        assert_eq!(
            audit_actions(s, &format!("override:{}", granted.id)).await,
            ["override.grant user:lead", "override.use token:ci"],
            "round {round}"
        );
    }
}

/// A block the gate saw before the registration (a firing alert), as the API
/// handler passes it.
fn alert_block() -> houston_core::GateReason {
    serde_json::from_value(serde_json::json!({
        "rule": "alert",
        "detail": "alert PaymentsDown is firing: payments failing"
    }))
    .expect("a reason")
}

async fn a_deploy_over_any_block_spends_an_override_that_breaks_it_or_is_marked(
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let now = Utc::now();
    // Only an alert blocks: an override for locks and freezes does not apply and
    // is kept; the deploy is marked and audited with the rule it passed.
    let lock_only = s
        .grant_override(&break_glass(None, "for locks", now), &lead(), now)
        .await
        .expect("grant");
    let mut over_alert = deploy("checkout", "production", "v1", t0());
    over_alert.other_blocks = vec![alert_block()];
    let first = register(s, over_alert.clone()).await;
    assert_eq!(
        first.through_lock.as_deref(),
        Some("alert: alert PaymentsDown is firing: payments failing")
    );
    assert_eq!(
        audit_actions(s, &format!("deploy:{}", first.id)).await,
        ["deploy.through_lock token:ci", "deploy.register token:ci"]
    );
    // One that breaks alerts too is spent by the next deploy over the alert, and
    // then by nobody else.
    let mut request = BreakGlassRequest {
        service: Some("checkout".into()),
        environment: Some("production".into()),
        reason: Some("payments hotfix".into()),
        breaks: Some(vec!["alert".into()]),
        ..BreakGlassRequest::default()
    };
    let for_alerts = s
        .grant_override(&request.parse(now).expect("valid"), &lead(), now)
        .await
        .expect("grant");
    assert_eq!(for_alerts.breaks, [houston_core::GateRule::Alert]);
    let mut next = over_alert.clone();
    next.version = "v2".into();
    let second = register(s, next.clone()).await;
    assert!(through_an_override(&second), "{:?}", second.through_lock);
    next.version = "v3".into();
    let third = register(s, next).await;
    assert!(
        !through_an_override(&third),
        "spent once: {:?}",
        third.through_lock
    );
    let overrides = s.list_overrides(10).await.expect("overrides");
    let used = |id: i64| {
        overrides
            .iter()
            .find(|o| o.id == id)
            .and_then(|o| o.used_by)
    };
    assert_eq!(used(for_alerts.id), Some(second.id));
    assert_eq!(used(lock_only.id), None, "it does not break alerts");
    let detail = s
        .list_audit(&AuditFilter {
            action: Some("override.use".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(detail.len(), 1);
    assert!(
        detail[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains(&format!("deploy:{} past alert", second.id))),
        "{detail:?}"
    );
    request.breaks = Some(vec!["override".into()]);
    assert!(
        request.parse(now).is_err(),
        "an override breaks gate rules only"
    );
}

async fn twenty_racing_claims_leave_one_run_allowed(store: Arc<dyn Store>) {
    use houston_core::{Claimant, GateAsk};
    let s = store.as_ref();
    let now = Utc::now();
    place(
        s,
        &lock_request(Some("production"), None, "Code freeze", None, now),
        now,
    )
    .await;
    let granted = s
        .grant_override(&break_glass(None, "one hotfix", now), &lead(), now)
        .await
        .expect("grant");
    let ask = GateAsk {
        service: ServiceName::parse("checkout").expect("valid"),
        environment: EnvironmentName::parse("production").expect("valid"),
        version: Some("v7".into()),
        branch: None,
    };
    // The plain gate lets nothing through and reserves nothing.
    let plain = houston_service::gate::answer(s, &ask, None, now)
        .await
        .expect("answer");
    assert!(!plain.allowed);
    assert_eq!(plain.override_available, Some(granted.id));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let ask = ask.clone();
            tokio::spawn(async move {
                let run = Claimant {
                    run: format!("run-{i}"),
                    version: Some("v7".into()),
                    by: "token:ci".into(),
                };
                let answer = houston_service::gate::claim(store.as_ref(), &ask, &run, &ci(), now)
                    .await
                    .expect("claim");
                (run, answer)
            })
        })
        .collect();
    let mut allowed = Vec::new();
    for task in tasks {
        let (run, answer) = task.await.expect("task");
        if answer.allowed {
            allowed.push(run);
        } else {
            assert!(
                answer
                    .reasons
                    .iter()
                    .any(|r| r.detail.contains("is claimed by another run")),
                "the others are told who holds it: {answer:?}"
            );
        }
    }
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    let winner = allowed.remove(0);
    // The winner asking again is answered the same; the plain gate still says no.
    let again = houston_service::gate::claim(s, &ask, &winner, &ci(), now)
        .await
        .expect("claim");
    assert!(again.allowed);
    assert!(
        !houston_service::gate::answer(s, &ask, None, now)
            .await
            .expect("answer")
            .allowed
    );
    let held = s
        .list_overrides(10)
        .await
        .expect("overrides")
        .into_iter()
        .find(|o| o.id == granted.id)
        .expect("listed");
    assert_eq!(
        held.claim.as_ref().map(|c| c.run.clone()),
        Some(winner.run.clone())
    );
    assert_eq!(
        audit_actions(s, &format!("override:{}", granted.id)).await,
        ["override.grant user:lead", "override.claim token:ci"]
    );
    // A deploy of another version does not spend a claim made for v7; v7's does.
    let other = register(s, deploy("checkout", "production", "v8", t0())).await;
    assert!(!through_an_override(&other), "{:?}", other.through_lock);
    let claimed = register(
        s,
        deploy("checkout", "production", "v7", t0() + Duration::minutes(1)),
    )
    .await;
    assert!(through_an_override(&claimed), "{:?}", claimed.through_lock);
    let after = houston_service::gate::claim(s, &ask, &winner, &ci(), now)
        .await
        .expect("claim");
    assert!(!after.allowed, "spent: {after:?}");
}

async fn lock_messages_show_reasons_as_text_not_chat_markup(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let now = Utc::now();
    s.set_setting(
        houston_core::WEBHOOKS_SETTING,
        r#"["https://hooks.slack.com/services/T0/B0/secret"]"#,
        &lead(),
        None,
        now,
    )
    .await
    .expect("webhooks");
    place(
        s,
        &lock_request(
            Some("sandbox"),
            None,
            "<!channel> deploys frozen. <https://evil.example/sso|Click here> & confirm",
            None,
            now,
        ),
        now,
    )
    .await;
    let queued = s.list_notifications(10).await.expect("messages");
    assert_eq!(queued.len(), 1);
    let houston_core::MessageAbout::Lock { text } = &queued[0].about else {
        panic!("a lock message: {queued:?}");
    };
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
    assert!(
        text.contains("&lt;!channel&gt; deploys frozen. &lt;https://evil.example/sso|Click here&gt; &amp; confirm"),
        "{text}"
    );
    // The setting's audit row keeps the URL's host, not its secret path.
    let audit = s
        .list_audit(&AuditFilter {
            action: Some("settings.change".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    let detail = audit[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("hooks.slack.com") && !detail.contains("secret"),
        "{detail}"
    );
}

async fn freeze_windows_are_saved_and_stop_deploys_while_active(store: Arc<dyn Store>) {
    use houston_core::freeze::Schedule;
    let s = store.as_ref();
    let now = Utc::now();
    let active = Schedule::Once {
        from: houston_core::to_stored_precision(now - Duration::hours(1)),
        to: houston_core::to_stored_precision(now + Duration::hours(1)),
    };
    let id = s
        .save_freeze(
            None,
            &freeze_header("Release week", Some("production")),
            &active,
            &lead(),
            now,
        )
        .await
        .expect("create");
    let windows = s.list_freezes().await.expect("list");
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0].id, id);
    assert_eq!(windows[0].name, "Release week");
    assert_eq!(windows[0].note.as_deref(), Some("release week"));
    assert_eq!(windows[0].schedule, active);
    assert_eq!(windows[0].updated_by, "user:lead");

    let frozen = register(s, deploy("checkout", "production", "v2", t0())).await;
    let through = frozen.through_lock.expect("marked as through a freeze");
    assert!(
        through.contains("freeze window 'Release week'"),
        "{through}"
    );
    assert_eq!(
        register(s, deploy("checkout", "staging", "v2", t0()))
            .await
            .through_lock,
        None,
        "the window covers production only"
    );

    // Moved into the past: it no longer stops anything.
    let past = Schedule::Once {
        from: houston_core::to_stored_precision(now - Duration::hours(3)),
        to: houston_core::to_stored_precision(now - Duration::hours(2)),
    };
    assert_eq!(
        s.save_freeze(
            Some(id),
            &freeze_header("Last week", Some("production")),
            &past,
            &lena(),
            now
        )
        .await
        .expect("update"),
        id
    );
    let windows = s.list_freezes().await.expect("list");
    assert_eq!(
        (
            windows[0].name.as_str(),
            &windows[0].schedule,
            windows[0].updated_by.as_str()
        ),
        ("Last week", &past, "user:lena")
    );
    assert_eq!(
        register(
            s,
            deploy("checkout", "production", "v3", t0() + Duration::minutes(1))
        )
        .await
        .through_lock,
        None
    );
    assert!(matches!(
        s.save_freeze(
            Some(id + 1000),
            &freeze_header("Nope", None),
            &past,
            &lead(),
            now
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    s.delete_freeze(id, &lead(), now).await.expect("delete");
    assert!(s.list_freezes().await.expect("list").is_empty());
    assert!(matches!(
        s.delete_freeze(id, &lead(), now).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        audit_actions(s, &format!("freeze:{id}")).await,
        [
            "freeze.create user:lead",
            "freeze.update user:lena",
            "freeze.delete user:lead"
        ]
    );
    assert_eq!(
        audit_actions(s, &format!("deploy:{}", frozen.id)).await,
        ["deploy.through_lock token:ci", "deploy.register token:ci"]
    );
}

async fn gate_answers_are_counted_per_day_environment_and_rule(store: Arc<dyn Store>) {
    use houston_store::GateCount;
    let s = store.as_ref();
    let next_day = t0() + Duration::days(1);
    let count =
        |day: DateTime<Utc>, environment: &str, allowed: bool, rule: &str, count: i64| GateCount {
            day: day.date_naive(),
            environment: environment.into(),
            allowed,
            rule: rule.into(),
            count,
        };
    // Two flushes' batches add up.
    s.add_gate_counts(&[
        count(t0(), "production", false, "alert", 1),
        count(t0(), "production", false, "lock", 1),
    ])
    .await
    .expect("count");
    s.add_gate_counts(&[
        count(t0(), "production", false, "alert", 1),
        count(t0(), "production", false, "lock", 1),
        count(t0(), "production", true, "none", 1),
        count(next_day, "staging", true, "override", 1),
    ])
    .await
    .expect("count");
    assert_eq!(
        s.gate_counts(t0().date_naive()).await.expect("counts"),
        [
            count(t0(), "production", false, "alert", 2),
            count(t0(), "production", false, "lock", 2),
            count(t0(), "production", true, "none", 1),
            count(next_day, "staging", true, "override", 1),
        ]
    );
    assert_eq!(
        s.gate_counts(next_day.date_naive()).await.expect("counts"),
        [count(next_day, "staging", true, "override", 1)]
    );
}

houston_sql::contract!(
    locks_cover_their_scope_and_a_covered_scope_cannot_be_locked_again,
    a_lock_past_its_expiry_is_no_longer_in_force,
    unlocking_records_who_when_and_why_once,
    lock_history_filters_by_state_place_and_words,
    an_override_lets_one_deploy_through_a_lock,
    racing_deploys_through_a_lock_spend_one_override_once,
    a_deploy_over_any_block_spends_an_override_that_breaks_it_or_is_marked,
    twenty_racing_claims_leave_one_run_allowed,
    lock_messages_show_reasons_as_text_not_chat_markup,
    freeze_windows_are_saved_and_stop_deploys_while_active,
    gate_answers_are_counted_per_day_environment_and_rule,
);

//! Accounts, sessions, sign-in attempts, API tokens and the audit log.

use crate::common::*;

async fn api_tokens_authenticate_until_revoked(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ops = Actor::new("cli:ops", Some("10.0.0.7".into()));
    let scopes = [TokenScope::Deploy, TokenScope::Gate];
    let created = s
        .create_api_token(
            &houston_sql::testing::new_token("ci", "hash-1", &scopes),
            &ops,
            t0(),
        )
        .await
        .expect("create");
    assert_eq!(created.last_used_at, None);
    assert_eq!(created.scopes, scopes);
    assert!(matches!(
        s.create_api_token(
            &houston_sql::testing::new_token("ci", "hash-2", &scopes),
            &ops,
            t0()
        )
        .await,
        Err(StoreError::Conflict(_))
    ));

    let used = s
        .authenticate_api_token("hash-1", t0() + Duration::minutes(1))
        .await
        .expect("auth")
        .expect("known token");
    assert_eq!(used.name, "ci");
    assert_eq!(used.scopes, scopes);
    assert_eq!(used.created_by.as_deref(), Some("cli:ops"));
    let last_used = || async { s.list_api_tokens().await.expect("list")[0].last_used_at };
    assert_eq!(last_used().await, Some(t0() + Duration::minutes(1)));
    // Within the minute, authenticating is a read: the stored time stays.
    s.authenticate_api_token("hash-1", t0() + Duration::seconds(100))
        .await
        .expect("auth")
        .expect("known token");
    assert_eq!(last_used().await, Some(t0() + Duration::minutes(1)));
    s.authenticate_api_token("hash-1", t0() + Duration::minutes(3))
        .await
        .expect("auth")
        .expect("known token");
    assert_eq!(last_used().await, Some(t0() + Duration::minutes(3)));
    assert_eq!(
        s.authenticate_api_token("unknown", t0())
            .await
            .expect("auth"),
        None
    );

    s.revoke_api_token(
        "ci",
        &ops,
        Some("leaked in a log"),
        t0() + Duration::minutes(2),
    )
    .await
    .expect("revoke");
    assert_eq!(
        s.authenticate_api_token("hash-1", t0())
            .await
            .expect("auth"),
        None
    );
    assert!(matches!(
        s.revoke_api_token("ci", &ops, None, t0()).await,
        Err(StoreError::NotFound(_))
    ));
    s.create_api_token(
        &houston_sql::testing::new_token("ci", "hash-3", &[TokenScope::Admin]),
        &ops,
        t0(),
    )
    .await
    .expect("a revoked name can be reused");
    assert_eq!(s.list_api_tokens().await.expect("list").len(), 2);
}

async fn tokens_expire_and_stop_with_their_owner(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ada = s
        .create_user(
            &Username::parse("ada").expect("valid"),
            "$argon2id$fake",
            Role::Admin,
            &Actor::new("cli:ops", None),
            t0(),
        )
        .await
        .expect("user");
    s.create_user(
        &Username::parse("root").expect("valid"),
        "$argon2id$fake",
        Role::Admin,
        &Actor::new("cli:ops", None),
        t0(),
    )
    .await
    .expect("second admin");
    let expiring = houston_core::NewApiToken {
        expires_at: Some(t0() + Duration::days(1)),
        ..houston_sql::testing::new_token("short", "h-short", &[TokenScope::Deploy])
    };
    let created = s
        .create_api_token(&expiring, &Actor::new("user:ada", None), t0())
        .await
        .expect("create");
    assert_eq!(created.expires_at, Some(t0() + Duration::days(1)));
    assert!(
        s.authenticate_api_token("h-short", t0() + Duration::hours(23))
            .await
            .expect("auth")
            .is_some()
    );
    assert!(
        s.authenticate_api_token("h-short", t0() + Duration::days(1))
            .await
            .expect("auth")
            .is_none(),
        "expired at its expiry time"
    );

    let owned = houston_core::NewApiToken {
        owner_user_id: Some(ada.id),
        ..houston_sql::testing::new_token("ada-ci", "h-owned", &[TokenScope::Deploy])
    };
    s.create_api_token(&owned, &Actor::new("user:ada", None), t0())
        .await
        .expect("create");
    assert!(
        s.authenticate_api_token("h-owned", t0())
            .await
            .expect("auth")
            .is_some()
    );
    s.set_user_disabled(
        &ada.username,
        true,
        &Actor::new("user:root", None),
        Some("left"),
        t0(),
    )
    .await
    .expect("disable");
    assert!(
        s.authenticate_api_token("h-owned", t0())
            .await
            .expect("auth")
            .is_none(),
        "a disabled person's tokens stop working"
    );
    s.set_user_disabled(
        &ada.username,
        false,
        &Actor::new("user:root", None),
        None,
        t0(),
    )
    .await
    .expect("enable");
    assert!(
        s.authenticate_api_token("h-owned", t0())
            .await
            .expect("auth")
            .is_some()
    );
}

async fn houston_always_keeps_an_enabled_admin(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ops = Actor::new("cli:ops", None);
    for name in ["ada", "bob"] {
        s.create_user(
            &Username::parse(name).expect("valid"),
            "$argon2id$fake",
            Role::Admin,
            &ops,
            t0(),
        )
        .await
        .expect("admin");
    }
    let (ada, bob) = (
        Username::parse("ada").expect("valid"),
        Username::parse("bob").expect("valid"),
    );
    // The two admins demote each other at the same moment: one wins.
    let (as_ada, as_bob) = (Actor::new("user:ada", None), Actor::new("user:bob", None));
    let (a, b) = tokio::join!(
        s.set_user_role(&bob, Role::Viewer, &as_ada, None, t0()),
        s.set_user_role(&ada, Role::Viewer, &as_bob, None, t0()),
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one demotion: {a:?} / {b:?}"
    );
    assert!(matches!(a.err().or(b.err()), Some(StoreError::Conflict(_))));
    let admins = s
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .filter(|u| u.role == Role::Admin && u.disabled_at.is_none())
        .count();
    assert_eq!(admins, 1);
    // Disabling the last one is refused the same way.
    let last = s
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.role == Role::Admin)
        .expect("one admin");
    assert!(matches!(
        s.set_user_disabled(&last.username, true, &ops, None, t0())
            .await,
        Err(StoreError::Conflict(_))
    ));
}

async fn racing_demotions_leave_an_admin(store: Arc<dyn Store>) {
    // Many rounds on a multi-threaded runtime, with the demotions on separate tasks.
    for round in 0..5 {
        let ops = Actor::new("cli:ops", None);
        let names = [format!("a{round}"), format!("b{round}")];
        for name in &names {
            store
                .create_user(
                    &Username::parse(name).expect("valid"),
                    "$argon2id$fake",
                    Role::Admin,
                    &ops,
                    t0(),
                )
                .await
                .expect("admin");
        }
        // Earlier rounds' admins step down first, so only this round's two remain.
        for user in store.list_users().await.expect("users") {
            if user.role == Role::Admin && !names.contains(&user.username.to_string()) {
                store
                    .set_user_role(&user.username, Role::Viewer, &ops, None, t0())
                    .await
                    .expect("step down");
            }
        }
        let tasks: Vec<_> = [(0, 1), (1, 0)]
            .into_iter()
            .map(|(by, target)| {
                let store = store.clone();
                let (by, target) = (names[by].clone(), names[target].clone());
                tokio::spawn(async move {
                    store
                        .set_user_role(
                            &Username::parse(&target).expect("valid"),
                            Role::Viewer,
                            &Actor::new(format!("user:{by}"), None),
                            None,
                            t0(),
                        )
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            if t.await.expect("task").is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 1, "round {round}");
    }
}

async fn token_changes_are_audited_and_the_log_refuses_changes(store: Arc<dyn Store>, url: String) {
    let s = store.as_ref();
    let ops = Actor::new("cli:ops", Some("10.0.0.7".into()));
    s.create_api_token(
        &houston_sql::testing::new_token("ci", "h1", &[TokenScope::Deploy]),
        &ops,
        t0(),
    )
    .await
    .expect("create");
    s.revoke_api_token(
        "ci",
        &Actor::new("cli:lead", None),
        Some("rotated"),
        t0() + Duration::minutes(5),
    )
    .await
    .expect("revoke");
    let failed = s
        .create_api_token(
            &houston_sql::testing::new_token("x", "h1", &[TokenScope::Deploy]),
            &ops,
            t0(),
        )
        .await;
    assert!(failed.is_err(), "a reused hash is refused");

    let all = s
        .list_audit(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    let summary: Vec<_> = all
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("token.revoke", "token:ci", "cli:lead"),
            ("token.create", "token:ci", "cli:ops")
        ],
        "a failed change leaves no entry"
    );
    assert_eq!(all[1].source_address.as_deref(), Some("10.0.0.7"));
    assert_eq!(
        all[1].detail.as_deref(),
        Some("scopes: deploy; expires: never")
    );
    assert_eq!(all[1].at, t0());
    let filtered = s
        .list_audit(&AuditFilter {
            actor: Some("cli:lead".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(filtered.len(), 1);
    let window = s
        .list_audit(&AuditFilter {
            since: Some(t0() + Duration::minutes(1)),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(window.len(), 1);

    // The database itself refuses to rewrite history, whoever asks.
    let update =
        houston_sql::testing::execute_raw(&url, "UPDATE audit_log SET actor = 'someone-else'")
            .await;
    assert!(update.is_err_and(|e| e.contains("append-only")));
    let delete = houston_sql::testing::execute_raw(&url, "DELETE FROM audit_log").await;
    assert!(delete.is_err_and(|e| e.contains("append-only")));
    assert_eq!(
        s.list_audit(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit")
        .len(),
        2
    );
}

async fn accounts_and_sessions(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ops = Actor::new("cli:ops", None);
    let ada = Username::parse("ada").expect("valid");
    assert_eq!(s.count_users().await.expect("count"), 0);
    let user = s
        .create_user(&ada, "$argon2id$fake", Role::Lead, &ops, t0())
        .await
        .expect("create");
    assert_eq!(
        (user.username.as_str(), user.role, user.created_at),
        ("ada", Role::Lead, t0())
    );
    assert!(matches!(
        s.create_user(&ada, "$argon2id$other", Role::Viewer, &ops, t0())
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.create_user(
        &Username::parse("bob").expect("valid"),
        "h",
        Role::Viewer,
        &ops,
        t0(),
    )
    .await
    .expect("create");
    assert_eq!(s.count_users().await.expect("count"), 2);
    let names: Vec<_> = s
        .list_users()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.username.to_string())
        .collect();
    assert_eq!(names, ["ada", "bob"]);

    let (found, hash) = s.find_login(&ada).await.expect("find").expect("exists");
    assert_eq!((found, hash.as_str()), (user.clone(), "$argon2id$fake"));
    assert!(
        s.find_login(&Username::parse("nobody").expect("valid"))
            .await
            .expect("find")
            .is_none()
    );

    let expires = t0() + Duration::hours(12);
    let ada_here = Actor::new("user:ada", Some("127.0.0.1".into()));
    s.create_session("sess-hash", &user, expires, &ada_here, t0())
        .await
        .expect("session");
    let hour = Duration::hours(1);
    assert_eq!(
        s.session_user("sess-hash", t0(), t0() - hour)
            .await
            .expect("lookup"),
        Some(user.clone())
    );
    assert_eq!(
        s.session_user("sess-hash", expires, expires - Duration::hours(24))
            .await
            .expect("lookup"),
        None,
        "expired at its expiry time"
    );
    // Idle: unused for longer than the idle timeout, the session has ended; used
    // within it, it lives on (and is marked seen).
    let t = t0() + Duration::minutes(50);
    assert_eq!(
        s.session_user("sess-hash", t, t - hour)
            .await
            .expect("lookup"),
        Some(user.clone())
    );
    let t = t0() + Duration::minutes(100);
    assert_eq!(
        s.session_user("sess-hash", t, t - hour)
            .await
            .expect("lookup"),
        Some(user.clone()),
        "seen at minute 50, so not idle at minute 100"
    );
    let t = t0() + Duration::minutes(161);
    assert_eq!(
        s.session_user("sess-hash", t, t - hour)
            .await
            .expect("lookup"),
        None,
        "idle for an hour"
    );
    assert_eq!(
        s.session_user("other", t0(), t0() - hour)
            .await
            .expect("lookup"),
        None
    );
    s.delete_session("sess-hash").await.expect("delete");
    assert_eq!(
        s.session_user("sess-hash", t0(), t0() - hour)
            .await
            .expect("lookup"),
        None
    );
    // A person keeps at most MAX_SESSIONS_PER_USER sessions: the oldest go.
    for i in 0..12 {
        s.create_session(
            &format!("many-{i:02}"),
            &user,
            expires,
            &ada_here,
            t0() + Duration::seconds(i),
        )
        .await
        .expect("session");
    }
    let alive = |id: &'static str| async move {
        s.session_user(id, t0() + Duration::minutes(1), t0())
            .await
            .expect("lookup")
            .is_some()
    };
    assert!(!alive("many-00").await && !alive("many-01").await);
    assert!(alive("many-02").await && alive("many-11").await);

    let audit = s
        .list_audit(&AuditFilter {
            action: Some("user.create".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(
        audit.len(),
        2,
        "one entry per created account, none for the refused one"
    );
    let logins = s
        .list_audit(&AuditFilter {
            action: Some("session.login".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(
        (
            logins.len(),
            logins[0].actor.as_str(),
            logins[0].source_address.as_deref()
        ),
        (13, "user:ada", Some("127.0.0.1"))
    );
}

async fn roles_change_and_disabling_ends_sessions(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let admin = Actor::new("user:root", Some("10.0.0.1".into()));
    let bob = Username::parse("bob").expect("valid");
    let user = s
        .create_user(&bob, "h", Role::Viewer, &admin, t0())
        .await
        .expect("create");
    let later = t0() + Duration::minutes(1);
    let promoted = s
        .set_user_role(&bob, Role::Lead, &admin, Some("on call this week"), later)
        .await
        .expect("role");
    assert_eq!(promoted.role, Role::Lead);
    s.create_session(
        "bob-session",
        &promoted,
        t0() + Duration::hours(1),
        &admin,
        later,
    )
    .await
    .expect("session");
    let disabled = s
        .set_user_disabled(&bob, true, &admin, Some("left the team"), later)
        .await
        .expect("disable");
    assert_eq!(disabled.disabled_at, Some(later));
    assert_eq!(
        s.session_user("bob-session", later, later - Duration::hours(1))
            .await
            .expect("lookup"),
        None,
        "a disabled account's sessions end"
    );
    let enabled = s
        .set_user_disabled(&bob, false, &admin, None, later)
        .await
        .expect("enable");
    assert_eq!((enabled.id, enabled.disabled_at), (user.id, None));
    let nobody = Username::parse("nobody").expect("valid");
    assert!(matches!(
        s.set_user_role(&nobody, Role::Admin, &admin, None, later)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.set_user_disabled(&nobody, true, &admin, None, later)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let actions: Vec<String> = s
        .list_audit(&AuditFilter {
            actor: Some("user:root".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.reason.unwrap_or_default()))
        .collect();
    assert_eq!(
        actions,
        [
            "user.enable ",
            "user.disable left the team",
            "session.login ",
            "user.role on call this week",
            "user.create "
        ]
    );
}

async fn only_the_first_set_up_creates_an_admin(store: Arc<dyn Store>) {
    let by = Actor::new("setup:ada", None);
    let mut attempts = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        let by = by.clone();
        attempts.push(tokio::spawn(async move {
            let name = Username::parse(&format!("admin{i}")).expect("valid");
            store.create_first_admin(&name, "h", &by, t0()).await
        }));
    }
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.expect("join") {
            Ok(user) => {
                assert_eq!(user.role, Role::Admin);
                created += 1;
            }
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1, "exactly one racing set-up wins");
    assert_eq!(store.count_users().await.expect("count"), 1);
}

async fn sign_in_attempts_are_counted_before_they_are_checked(store: Arc<dyn Store>) {
    use houston_core::LoginLimits;
    use houston_store::LoginReservation;
    let s = store.as_ref();
    let limits = LoginLimits::DEFAULT;
    let at = |secs: i64| t0() + Duration::seconds(secs);
    let reserve = |name: &'static str, address: &'static str, secs: i64| async move {
        s.reserve_login_attempt(name, address, at(secs), &limits)
            .await
            .expect("reserve")
    };
    // Ten attempts on ada from one address are counted; the eleventh is locked
    // until the window has passed over the oldest of the ten.
    for i in 0..10 {
        let r = reserve("ada", "10.0.0.1", i).await;
        assert!(
            matches!(r, LoginReservation::Reserved { account_failures, .. } if account_failures == u32::try_from(i).expect("small")),
            "{r:?}"
        );
    }
    assert_eq!(
        reserve("ada", "10.0.0.1", 20).await,
        LoginReservation::Locked {
            until: t0() + limits.window
        }
    );
    // From another address ada is not locked, only slowed: ten failures known.
    let LoginReservation::Reserved {
        id,
        account_failures,
    } = reserve("ada", "10.0.0.2", 21).await
    else {
        panic!("another address is not locked out");
    };
    assert_eq!(account_failures, 10);
    // A successful sign-in clears its own attempt.
    s.clear_login_attempt(id).await.expect("clear");
    assert!(matches!(
        reserve("ada", "10.0.0.2", 22).await,
        LoginReservation::Reserved {
            account_failures: 10,
            ..
        }
    ));
    // After the window the pair is free again.
    let later = 15 * 60 + 1;
    assert!(matches!(
        reserve("ada", "10.0.0.1", later).await,
        LoginReservation::Reserved { .. }
    ));
    // One address spraying many names is locked at its own limit.
    for i in 0..limits.per_address {
        let name: &'static str = Box::leak(format!("user{i}").into_boxed_str());
        reserve(name, "10.0.0.3", 100).await;
    }
    assert!(matches!(
        reserve("someone", "10.0.0.3", 101).await,
        LoginReservation::Locked { .. }
    ));
}

async fn parallel_attempts_never_pass_the_limit(store: Arc<dyn Store>) {
    use houston_core::LoginLimits;
    use houston_store::LoginReservation;
    let limits = LoginLimits::DEFAULT;
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve_login_attempt("ada", "10.0.0.1", t0(), &limits)
                    .await
                    .expect("reserve")
            })
        })
        .collect();
    let mut reserved = 0;
    for t in tasks {
        if matches!(t.await.expect("task"), LoginReservation::Reserved { .. }) {
            reserved += 1;
        }
    }
    assert_eq!(
        reserved, limits.per_pair,
        "60 at once, exactly the limit counted through"
    );
}

houston_sql::contract!(
    api_tokens_authenticate_until_revoked,
    accounts_and_sessions,
    roles_change_and_disabling_ends_sessions,
    only_the_first_set_up_creates_an_admin,
    sign_in_attempts_are_counted_before_they_are_checked,
    parallel_attempts_never_pass_the_limit,
    tokens_expire_and_stop_with_their_owner,
    houston_always_keeps_an_enabled_admin,
    racing_demotions_leave_an_admin,
);
houston_sql::contract_with_url!(token_changes_are_audited_and_the_log_refuses_changes);

//! The storage contract: every case runs on SQLite and on PostgreSQL, and both
//! backends must give the same answers.

#[macro_use]
mod support;

use app::domain::{
    Actor, AuditFilter, BreakGlassRequest, Commit, CommitRequest, Cursor, DeployFilter,
    DeployRequest, DeploySource, DeployStatus, EnvironmentName, FreezeForm, FreezeHeader, Lock,
    LockFilter, LockRequest, NewBreakGlass, NewDeploy, NewLock, PageRequest, Role, ServiceName,
    StatusChange, StatusDecision, TokenScope, Username,
};
use app::ssr::{LockOutcome, Store, StoreError};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::Arc;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
        .single()
        .expect("valid time")
}

/// A registration as an API caller sends it.
fn request(
    service: &str,
    environment: &str,
    version: &str,
    started_at: DateTime<Utc>,
) -> DeployRequest {
    DeployRequest {
        service: Some(service.into()),
        environment: Some(environment.into()),
        version: Some(version.into()),
        author: Some("ada".into()),
        status: Some("succeeded".into()),
        started_at: Some(started_at.to_rfc3339()),
        finished_at: Some((started_at + Duration::minutes(3)).to_rfc3339()),
        ..Default::default()
    }
}

/// A deploy is only built by the domain's parsing, here as everywhere.
fn parsed_as(request: DeployRequest, source: DeploySource) -> NewDeploy {
    request
        .parse_as(Utc::now(), source)
        .expect("a valid registration")
}

fn parsed(request: DeployRequest) -> NewDeploy {
    parsed_as(request, DeploySource::Api)
}

fn deploy(service: &str, environment: &str, version: &str, started_at: DateTime<Utc>) -> NewDeploy {
    parsed(request(service, environment, version, started_at))
}

fn ci() -> Actor {
    Actor::new("token:ci", Some("10.0.0.9".into()))
}

async fn register(store: &dyn Store, new: NewDeploy) -> app::domain::Deploy {
    store
        .register_deploy(&new, &ci())
        .await
        .expect("register")
        .deploy
}

async fn audit_actions(store: &dyn Store, target: &str) -> Vec<String> {
    let mut entries = store
        .list_audit(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    entries.reverse();
    entries
        .into_iter()
        .filter(|e| e.target == target)
        .map(|e| format!("{} {}", e.action, e.actor))
        .collect()
}

async fn all(store: &dyn Store, filter: DeployFilter) -> Vec<app::domain::Deploy> {
    store
        .list_deploys(
            &filter,
            &PageRequest {
                cursor: None,
                limit: 200,
            },
        )
        .await
        .expect("list")
        .deploys
}

async fn registers_with_commits_and_round_trips_every_field(store: Arc<dyn Store>) {
    let started = t0() + Duration::microseconds(123_456);
    let new = parsed(DeployRequest {
        author: Some("Grace Hopper".into()),
        description: Some("Faster checkout".into()),
        ci_url: Some("https://ci.example/run/1".into()),
        repository_url: Some("https://github.com/acme/checkout".into()),
        status: Some("in_progress".into()),
        finished_at: None,
        external_id: Some("ci-1".into()),
        commits: vec![
            CommitRequest {
                sha: Some("a1".into()),
                message: Some("First".into()),
                author: Some("grace".into()),
                committed_at: Some((t0() - Duration::hours(1)).to_rfc3339()),
            },
            CommitRequest {
                sha: Some("b2".into()),
                message: Some("Second\n\nbody".into()),
                author: None,
                committed_at: None,
            },
        ],
        ..request("checkout", "production", "v1.2.3", started)
    });
    let registration = store.register_deploy(&new, &ci()).await.expect("register");
    assert!(registration.created);
    let d = registration.deploy;
    assert_eq!(d.service.as_str(), "checkout");
    assert_eq!(d.environment.as_str(), "production");
    assert_eq!(d.version, "v1.2.3");
    assert_eq!(d.status, DeployStatus::InProgress);
    assert_eq!(d.started_at, started, "times keep their microseconds");
    assert_eq!(d.finished_at, None);
    assert_eq!(d.external_id.as_deref(), Some("ci-1"));

    let detail = store.get_deploy(d.id).await.expect("get");
    assert_eq!(detail.deploy, d);
    assert_eq!(
        detail.commits, new.commits,
        "commits come back in order, unchanged"
    );
    assert_eq!(
        detail.repository_url.as_deref(),
        Some("https://github.com/acme/checkout")
    );
    // A later registration cannot point the service's commit links elsewhere.
    let elsewhere = parsed(DeployRequest {
        repository_url: Some("https://evil.example/acme/checkout".into()),
        ..request(
            "checkout",
            "production",
            "v1.2.4",
            started + Duration::minutes(5),
        )
    });
    let later = store
        .register_deploy(&elsewhere, &ci())
        .await
        .expect("register");
    assert_eq!(
        store
            .get_deploy(later.deploy.id)
            .await
            .expect("get")
            .repository_url
            .as_deref(),
        Some("https://github.com/acme/checkout")
    );
}

async fn same_external_id_returns_the_first_deploy(store: Arc<dyn Store>) {
    let first = parsed(DeployRequest {
        external_id: Some("gh-42".into()),
        ..request("api", "staging", "v1", t0())
    });
    let again = parsed(DeployRequest {
        external_id: Some("gh-42".into()),
        ..request("api", "staging", "v2-different", t0() + Duration::hours(1))
    });
    let a = store.register_deploy(&first, &ci()).await.expect("first");
    let b = store.register_deploy(&again, &ci()).await.expect("second");
    assert!(a.created);
    assert!(!b.created);
    assert_eq!(
        a.deploy, b.deploy,
        "the stored deploy is returned unchanged"
    );
    assert_eq!(all(store.as_ref(), DeployFilter::default()).await.len(), 1);
    assert_eq!(
        store
            .find_deploy_by_external_id("gh-42")
            .await
            .expect("find")
            .map(|d| d.id),
        Some(a.deploy.id)
    );
    assert_eq!(
        store
            .find_deploy_by_external_id("nope")
            .await
            .expect("find"),
        None
    );
}

async fn concurrent_registrations_with_one_external_id_store_one_deploy(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let new = parsed(DeployRequest {
                    external_id: Some("race".into()),
                    ..request("race", "prod", &format!("v{i}"), t0())
                });
                store.register_deploy(&new, &ci()).await.expect("register")
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let r = task.await.expect("task");
        created += usize::from(r.created);
        ids.insert(r.deploy.id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(all(store.as_ref(), DeployFilter::default()).await.len(), 1);
}

async fn previous_version_is_the_last_succeeded_deploy_to_the_same_place(store: Arc<dyn Store>) {
    let s = store.as_ref();
    register(s, deploy("web", "prod", "v1", t0())).await;
    register(
        s,
        parsed(DeployRequest {
            status: Some("failed".into()),
            ..request("web", "prod", "v2-broken", t0() + Duration::hours(1))
        }),
    )
    .await;
    register(
        s,
        deploy(
            "web",
            "staging",
            "v3-staging-only",
            t0() + Duration::hours(2),
        ),
    )
    .await;
    let d = register(s, deploy("web", "prod", "v3", t0() + Duration::hours(3))).await;
    assert_eq!(d.previous_version.as_deref(), Some("v1"));

    let first_elsewhere = register(s, deploy("web", "dev", "v0", t0())).await;
    assert_eq!(first_elsewhere.previous_version, None);

    let explicit = register(
        s,
        parsed(DeployRequest {
            previous_version: Some("v0.9".into()),
            ..request("web", "prod", "v4", t0() + Duration::hours(4))
        }),
    )
    .await;
    assert_eq!(explicit.previous_version.as_deref(), Some("v0.9"));
}

async fn status_changes_are_stored_and_missing_deploys_are_not_found(store: Arc<dyn Store>) {
    let d = register(
        store.as_ref(),
        parsed(DeployRequest {
            status: Some("in_progress".into()),
            finished_at: None,
            ..request("a", "prod", "1", t0())
        }),
    )
    .await;
    assert_eq!(d.registered_by.as_deref(), Some("token:ci"));
    assert_eq!(
        d.author.as_deref(),
        Some("ada"),
        "what the caller claims stays apart"
    );
    let lead = Actor::new("user:grace", None);
    let change = StatusChange {
        status: DeployStatus::Succeeded,
        finished_at: t0() + Duration::minutes(7),
    };
    let done = store
        .change_deploy_status(d.id, &change, &lead)
        .await
        .expect("update");
    assert_eq!(done.decision, StatusDecision::Apply);
    let updated = done.deploy;
    assert_eq!(updated.status, DeployStatus::Succeeded);
    assert_eq!(updated.finished_at, Some(change.finished_at));
    assert_eq!(updated.status_changed_by.as_deref(), Some("user:grace"));
    assert_eq!(store.get_deploy(d.id).await.expect("get").deploy, updated);

    // The same status again, an older report, and going back: nothing changes.
    let again = store
        .change_deploy_status(d.id, &change, &ci())
        .await
        .expect("again");
    assert!(matches!(again.decision, StatusDecision::Unchanged(_)));
    let late = StatusChange {
        status: DeployStatus::Failed,
        finished_at: t0() + Duration::minutes(6),
    };
    let late = store
        .change_deploy_status(d.id, &late, &ci())
        .await
        .expect("late");
    assert!(
        matches!(late.decision, StatusDecision::Unchanged(_)),
        "{:?}",
        late.decision
    );
    let back = StatusChange {
        status: DeployStatus::InProgress,
        finished_at: t0() + Duration::minutes(9),
    };
    let back = store
        .change_deploy_status(d.id, &back, &ci())
        .await
        .expect("back");
    assert!(matches!(back.decision, StatusDecision::Refused(_)));
    assert_eq!(store.get_deploy(d.id).await.expect("get").deploy, updated);
    // A newer report that the rule allows applies; the first finish time stays.
    let rollback = StatusChange {
        status: DeployStatus::RolledBack,
        finished_at: t0() + Duration::minutes(20),
    };
    let rolled = store
        .change_deploy_status(d.id, &rollback, &ci())
        .await
        .expect("rollback");
    assert_eq!(rolled.deploy.status, DeployStatus::RolledBack);
    assert_eq!(rolled.deploy.finished_at, Some(change.finished_at));
    assert_eq!(
        audit_actions(store.as_ref(), &format!("deploy:{}", d.id)).await,
        [
            "deploy.register token:ci",
            "deploy.status user:grace",
            "deploy.status_refused token:ci",
            "deploy.status token:ci"
        ]
    );

    assert!(matches!(
        store
            .change_deploy_status(d.id + 1000, &change, &ci())
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_deploy(d.id + 1000).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn concurrent_status_reports_follow_the_rule(store: Arc<dyn Store>) {
    let d = register(
        store.as_ref(),
        parsed(DeployRequest {
            status: Some("in_progress".into()),
            finished_at: None,
            ..request("race", "prod", "1", t0())
        }),
    )
    .await;
    // Eight reports at once, each later than the last: whatever the order they
    // commit in, the deploy ends with a status the rule allows and the history
    // of applied changes is a valid path.
    let reports = [
        DeployStatus::Succeeded,
        DeployStatus::Failed,
        DeployStatus::RolledBack,
        DeployStatus::InProgress,
    ];
    let tasks: Vec<_> = (0..8i64)
        .map(|i| {
            let store = store.clone();
            let change = StatusChange {
                status: reports[usize::try_from(i).expect("small") % reports.len()],
                finished_at: t0() + Duration::minutes(i + 1),
            };
            tokio::spawn(async move { store.change_deploy_status(d.id, &change, &ci()).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("change");
    }
    let end = store.get_deploy(d.id).await.expect("get").deploy;
    assert!(end.status.is_finished(), "{}", end.status);
}

async fn filters_narrow_the_history(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let a = register(
        s,
        parsed(DeployRequest {
            author: Some("Ada Lovelace".into()),
            ..request("checkout", "prod", "1", t0())
        }),
    )
    .await;
    let b = register(
        s,
        parsed(DeployRequest {
            status: Some("failed".into()),
            author: Some("grace".into()),
            ..request("checkout", "staging", "2", t0() + Duration::hours(1))
        }),
    )
    .await;
    let c = register(
        s,
        parsed(DeployRequest {
            author: Some("ada_99%".into()),
            ..request("search", "prod", "3", t0() + Duration::hours(2))
        }),
    )
    .await;
    let ids = |v: Vec<app::domain::Deploy>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();

    let by_service = DeployFilter {
        service: Some(ServiceName::parse("checkout").expect("valid")),
        ..Default::default()
    };
    assert_eq!(ids(all(s, by_service).await), [b.id, a.id]);
    let by_env = DeployFilter {
        environment: Some(EnvironmentName::parse("prod").expect("valid")),
        ..Default::default()
    };
    assert_eq!(ids(all(s, by_env).await), [c.id, a.id]);
    let by_status = DeployFilter {
        status: Some(DeployStatus::Failed),
        ..Default::default()
    };
    assert_eq!(ids(all(s, by_status).await), [b.id]);
    let by_author = DeployFilter {
        author: Some("ADA".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(all(s, by_author).await),
        [c.id, a.id],
        "author matches a case-insensitive part"
    );
    let wildcard = DeployFilter {
        author: Some("%".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(all(s, wildcard).await),
        [c.id],
        "LIKE wildcards in the filter are literal"
    );
    let window = DeployFilter {
        since: Some(t0() + Duration::hours(1)),
        until: Some(t0() + Duration::hours(2)),
        ..Default::default()
    };
    assert_eq!(
        ids(all(s, window).await),
        [b.id],
        "since is inclusive, until exclusive"
    );
    let none = DeployFilter {
        service: Some(ServiceName::parse("ghost").expect("valid")),
        ..Default::default()
    };
    assert!(all(s, none).await.is_empty());
}

async fn keyset_pages_visit_every_deploy_once_in_order(store: Arc<dyn Store>) {
    let s = store.as_ref();
    // Ties on started_at are broken by id, so pages never skip or repeat.
    for i in 0..23 {
        let at = t0() + Duration::minutes(i / 3);
        register(s, deploy("svc", "prod", &format!("v{i}"), at)).await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s
            .list_deploys(&DeployFilter::default(), &PageRequest { cursor, limit: 5 })
            .await
            .expect("page");
        pages += 1;
        assert!(page.deploys.len() <= 5);
        seen.extend(page.deploys.iter().map(|d| (d.started_at, d.id)));
        match page.next_cursor {
            Some(next) => cursor = Some(Cursor::decode(&next).expect("cursor decodes")),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 23);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no repeats");
}

async fn board_has_the_latest_deploy_per_place_and_stages_in_order(store: Arc<dyn Store>) {
    let s = store.as_ref();
    register(s, deploy("checkout", "production", "v1", t0())).await;
    let latest = register(
        s,
        parsed(DeployRequest {
            status: Some("failed".into()),
            ..request("checkout", "production", "v2", t0() + Duration::hours(1))
        }),
    )
    .await;
    register(s, deploy("checkout", "staging", "v2", t0())).await;
    register(s, deploy("accounts", "dev", "v9", t0())).await;

    let board = s.board().await.expect("board");
    let envs: Vec<_> = board
        .environments
        .iter()
        .map(|e| e.name.as_str().to_owned())
        .collect();
    assert_eq!(envs, ["dev", "staging", "production"]);
    let services: Vec<_> = board
        .services
        .iter()
        .map(|s| s.name.as_str().to_owned())
        .collect();
    assert_eq!(services, ["accounts", "checkout"]);
    assert_eq!(board.latest.len(), 3);
    let cell = board
        .cell(
            &ServiceName::parse("checkout").expect("valid"),
            &EnvironmentName::parse("production").expect("valid"),
        )
        .expect("cell");
    assert_eq!(cell.id, latest.id);
    assert!(
        board
            .cell(
                &ServiceName::parse("accounts").expect("valid"),
                &EnvironmentName::parse("production").expect("valid")
            )
            .is_none()
    );
}

async fn api_tokens_authenticate_until_revoked(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ops = Actor::new("cli:ops", Some("10.0.0.7".into()));
    let scopes = [TokenScope::Deploy, TokenScope::Gate];
    let created = s
        .create_api_token(&support::new_token("ci", "hash-1", &scopes), &ops, t0())
        .await
        .expect("create");
    assert_eq!(created.last_used_at, None);
    assert_eq!(created.scopes, scopes);
    assert!(matches!(
        s.create_api_token(&support::new_token("ci", "hash-2", &scopes), &ops, t0())
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
        &support::new_token("ci", "hash-3", &[TokenScope::Admin]),
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
    let expiring = app::domain::NewApiToken {
        expires_at: Some(t0() + Duration::days(1)),
        ..support::new_token("short", "h-short", &[TokenScope::Deploy])
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

    let owned = app::domain::NewApiToken {
        owner_user_id: Some(ada.id),
        ..support::new_token("ada-ci", "h-owned", &[TokenScope::Deploy])
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
        &support::new_token("ci", "h1", &[TokenScope::Deploy]),
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
            &support::new_token("x", "h1", &[TokenScope::Deploy]),
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
    let update = support::execute_raw(&url, "UPDATE audit_log SET actor = 'someone-else'").await;
    assert!(update.is_err_and(|e| e.contains("append-only")));
    let delete = support::execute_raw(&url, "DELETE FROM audit_log").await;
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
    use app::domain::LoginLimits;
    use app::ssr::LoginReservation;
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
    use app::domain::LoginLimits;
    use app::ssr::LoginReservation;
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

async fn pruning_deletes_only_what_is_no_longer_needed(store: Arc<dyn Store>) {
    use app::domain::DeliveryWork;
    use app::domain::LoginLimits;
    use app::ssr::{DeliveryOutcome, PruneCounts};
    let s = store.as_ref();
    let user = s
        .create_user(
            &Username::parse("ada").expect("valid"),
            "$argon2id$fake",
            Role::Viewer,
            &ci(),
            t0(),
        )
        .await
        .expect("user");
    let me = Actor::new("user:ada", None);
    // Expired, idle and live sessions (the expired one already goes when ada's
    // next session starts; the idle one only by pruning).
    s.create_session("expired", &user, t0() + Duration::hours(1), &me, t0())
        .await
        .expect("s");
    s.create_session(
        "idle",
        &user,
        t0() + Duration::hours(12),
        &me,
        t0() + Duration::minutes(30),
    )
    .await
    .expect("s");
    s.create_session(
        "live",
        &user,
        t0() + Duration::hours(12),
        &me,
        t0() + Duration::minutes(110),
    )
    .await
    .expect("s");
    // Old and recent delivery ids.
    let work = DeliveryWork::Register(parsed_as(
        DeployRequest {
            external_id: Some("github:a/b#1".into()),
            ..request("b", "prod", "1", t0())
        },
        DeploySource::GithubWebhook,
    ));
    s.apply_webhook_delivery(Some("old"), &work, &ci(), t0() - Duration::days(40))
        .await
        .expect("d");
    s.apply_webhook_delivery(Some("new"), &work, &ci(), t0())
        .await
        .expect("d");
    // Old and recent sign-in attempts.
    let limits = LoginLimits::DEFAULT;
    s.reserve_login_attempt("ada", "10.0.0.1", t0() - Duration::hours(1), &limits)
        .await
        .expect("r");
    s.reserve_login_attempt("ada", "10.0.0.1", t0() + Duration::minutes(115), &limits)
        .await
        .expect("r");

    let now = t0() + Duration::minutes(120);
    let counts = houston::jobs::prune::run(s, now, Duration::hours(1))
        .await
        .expect("prune");
    assert_eq!(
        counts,
        PruneCounts {
            sessions: 1,
            deliveries: 1,
            attempts: 1,
            messages: 0
        }
    );
    assert!(
        s.session_user("live", now, now - Duration::hours(1))
            .await
            .expect("s")
            .is_some()
    );
    assert_eq!(
        s.apply_webhook_delivery(Some("new"), &work, &ci(), now)
            .await
            .expect("again"),
        DeliveryOutcome::Duplicate,
        "recent delivery ids are kept"
    );
    assert!(matches!(
        s.apply_webhook_delivery(Some("old"), &work, &ci(), now)
            .await
            .expect("again"),
        DeliveryOutcome::Registered(_)
    ));
    let again = houston::jobs::prune::run(s, now, Duration::hours(1))
        .await
        .expect("prune");
    assert_eq!(again, PruneCounts::default(), "a second pass finds nothing");
}

async fn settings_are_stored_shared_and_audited(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(
        s.get_setting("second_factor_required_from")
            .await
            .expect("get"),
        None
    );
    let root = Actor::new("user:root", Some("10.0.0.1".into()));
    for value in ["lead", "admin"] {
        s.set_setting(
            "second_factor_required_from",
            value,
            &root,
            Some("policy"),
            t0(),
        )
        .await
        .expect("set");
    }
    assert_eq!(
        s.get_setting("second_factor_required_from")
            .await
            .expect("get")
            .as_deref(),
        Some("admin"),
        "the last value wins"
    );
    assert_eq!(
        audit_actions(s, "setting:second_factor_required_from").await,
        ["settings.change user:root", "settings.change user:root"]
    );
}

async fn webhook_deliveries_are_claimed_with_their_effect(store: Arc<dyn Store>) {
    use app::domain::DeliveryWork;
    use app::ssr::DeliveryOutcome;
    let s = store.as_ref();
    let github = Actor::new("github:acme/shop", None);
    let new = parsed_as(
        DeployRequest {
            status: Some("in_progress".into()),
            finished_at: None,
            external_id: Some("github:acme/shop#7".into()),
            ..request("shop", "prod", "abc", t0())
        },
        DeploySource::GithubWebhook,
    );
    let register = DeliveryWork::Register(new.clone());
    let first = s
        .apply_webhook_delivery(Some("d-1"), &register, &github, t0())
        .await
        .expect("first");
    let DeliveryOutcome::Registered(reg) = first else {
        panic!("registered: {first:?}");
    };
    assert!(reg.created);
    assert_eq!(
        reg.deploy.registered_by.as_deref(),
        Some("github:acme/shop")
    );
    assert_eq!(
        s.apply_webhook_delivery(Some("d-1"), &register, &github, t0())
            .await
            .expect("again"),
        DeliveryOutcome::Duplicate
    );

    // When the work fails, the claim goes with it: the redelivery is handled.
    // A record the domain would never build (no version), to make the store fail.
    let mut unbuildable = new.clone();
    unbuildable.external_id = Some("github:acme/shop#8".into());
    unbuildable.version = String::new();
    let broken = DeliveryWork::Status {
        deploy: unbuildable,
        change: StatusChange {
            status: DeployStatus::Succeeded,
            finished_at: t0() + Duration::minutes(5),
        },
    };
    assert!(
        s.apply_webhook_delivery(Some("d-2"), &broken, &github, t0())
            .await
            .is_err(),
        "the database refuses an empty version"
    );
    let success = DeliveryWork::Status {
        deploy: new.clone(),
        change: StatusChange {
            status: DeployStatus::Succeeded,
            finished_at: t0() + Duration::minutes(5),
        },
    };
    let retried = s
        .apply_webhook_delivery(Some("d-2"), &success, &github, t0())
        .await
        .expect("redelivery");
    let DeliveryOutcome::Status(done) = retried else {
        panic!("status: {retried:?}");
    };
    assert_eq!(done.decision, StatusDecision::Apply);
    assert_eq!(done.deploy.status, DeployStatus::Succeeded);

    // A late in-progress or an older failure never overwrites the newer success.
    for (delivery, status, minutes) in [
        ("d-3", DeployStatus::InProgress, 1),
        ("d-4", DeployStatus::Failed, 4),
    ] {
        let late = DeliveryWork::Status {
            deploy: new.clone(),
            change: StatusChange {
                status,
                finished_at: t0() + Duration::minutes(minutes),
            },
        };
        let outcome = s
            .apply_webhook_delivery(Some(delivery), &late, &github, t0())
            .await
            .expect("late");
        assert!(
            matches!(&outcome, DeliveryOutcome::Status(o) if matches!(o.decision, StatusDecision::Unchanged(_))),
            "{outcome:?}"
        );
    }
    assert_eq!(
        s.get_deploy(reg.deploy.id)
            .await
            .expect("get")
            .deploy
            .status,
        DeployStatus::Succeeded
    );
}

fn job(kind: &str, run_at: DateTime<Utc>, unique_key: Option<&str>) -> app::ssr::NewJob {
    app::ssr::NewJob {
        kind: kind.to_owned(),
        payload: format!("{{\"kind\":\"{kind}\"}}"),
        run_at,
        unique_key: unique_key.map(str::to_owned),
        max_attempts: 2,
    }
}

async fn jobs_are_claimed_when_due_ended_and_retried(store: Arc<dyn Store>) {
    use app::ssr::JobEnd;
    let now = t0();
    let lease = Duration::minutes(5);
    let a = store
        .enqueue_job(&job("a", now, None), now)
        .await
        .expect("queue")
        .expect("new");
    store
        .enqueue_job(&job("later", now + Duration::hours(1), None), now)
        .await
        .expect("queue");
    // A unique key queues once.
    assert!(
        store
            .enqueue_job(&job("p", now, Some("periodic:p")), now)
            .await
            .expect("queue")
            .is_some()
    );
    assert_eq!(
        store
            .enqueue_job(&job("p", now, Some("periodic:p")), now)
            .await
            .expect("queue"),
        None,
        "a second job with the same unique key is not queued"
    );

    let claimed = store.claim_jobs("w1", now, lease, 10).await.expect("claim");
    let kinds: Vec<&str> = claimed.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, ["a", "p"], "only due jobs, oldest first");
    assert!(
        claimed
            .iter()
            .all(|j| j.attempts == 1 && j.max_attempts == 2)
    );
    assert_eq!(claimed[0].payload, "{\"kind\":\"a\"}");
    assert_eq!(claimed[1].unique_key.as_deref(), Some("periodic:p"));
    assert!(
        store
            .claim_jobs("w2", now, lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "claimed jobs are not claimed again while their lease holds"
    );

    // Another worker cannot end a claim it does not hold.
    assert!(
        !store
            .end_job(a, "w2", &JobEnd::Done, now)
            .await
            .expect("end")
    );
    // A failed run is retried at its time; used-up attempts fail it for good.
    let retry_at = now + Duration::seconds(10);
    assert!(
        store
            .end_job(
                a,
                "w1",
                &JobEnd::Retry {
                    at: retry_at,
                    error: "boom".into()
                },
                now
            )
            .await
            .expect("end")
    );
    assert!(
        store
            .claim_jobs("w2", now, lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let again = store
        .claim_jobs("w2", retry_at, lease, 10)
        .await
        .expect("claim");
    assert_eq!((again.len(), again[0].id, again[0].attempts), (1, a, 2));
    assert!(
        store
            .end_job(
                a,
                "w2",
                &JobEnd::Failed {
                    error: "boom twice".into()
                },
                retry_at
            )
            .await
            .expect("end")
    );
    let failed = store.failed_jobs(10).await.expect("failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (
            failed[0].id,
            failed[0].attempts,
            failed[0].last_error.as_deref()
        ),
        (a, 2, Some("boom twice"))
    );
    assert_eq!(failed[0].failed_at, retry_at);
    assert!(
        store
            .claim_jobs("w3", retry_at + Duration::minutes(1), lease, 10)
            .await
            .expect("claim")
            .iter()
            .all(|j| j.id != a),
        "a failed job is never claimed again"
    );

    // A periodic run ends by rescheduling with its attempts reset.
    let p = claimed[1].id;
    let next = now + Duration::minutes(10);
    assert!(
        store
            .end_job(p, "w1", &JobEnd::Again { at: next }, now)
            .await
            .expect("end")
    );
    let rerun = store.claim_jobs("w1", next, lease, 1).await.expect("claim");
    assert_eq!((rerun[0].id, rerun[0].attempts), (p, 1));
    assert!(
        store
            .end_job(p, "w1", &JobEnd::Done, next)
            .await
            .expect("end")
    );
    assert!(
        store
            .enqueue_job(&job("p", next, Some("periodic:p")), next)
            .await
            .expect("queue")
            .is_some(),
        "a done job is deleted, so its key is free again"
    );
}

async fn a_dead_workers_claim_is_taken_over_after_its_lease(store: Arc<dyn Store>) {
    let now = t0();
    let lease = Duration::minutes(5);
    let id = store
        .enqueue_job(&job("a", now, None), now)
        .await
        .expect("queue")
        .expect("new");
    assert_eq!(
        store
            .claim_jobs("dead", now, lease, 1)
            .await
            .expect("claim")
            .len(),
        1
    );
    assert!(
        store
            .claim_jobs("alive", now + Duration::minutes(4), lease, 1)
            .await
            .expect("claim")
            .is_empty()
    );
    let taken = store
        .claim_jobs("alive", now + Duration::minutes(6), lease, 1)
        .await
        .expect("claim");
    assert_eq!((taken[0].id, taken[0].attempts), (id, 2));
    assert!(
        !store
            .end_job(
                id,
                "dead",
                &app::ssr::JobEnd::Done,
                now + Duration::minutes(7)
            )
            .await
            .expect("end"),
        "the dead worker's late end changes nothing"
    );
    assert!(
        store
            .end_job(
                id,
                "alive",
                &app::ssr::JobEnd::Done,
                now + Duration::minutes(7)
            )
            .await
            .expect("end")
    );
}

async fn parallel_workers_never_claim_one_job_twice(store: Arc<dyn Store>) {
    let now = t0();
    for i in 0..60 {
        store
            .enqueue_job(&job(&format!("j{i}"), now, None), now)
            .await
            .expect("queue");
    }
    let workers = (0..6).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .claim_jobs(&format!("w{w}"), now, Duration::minutes(5), 4)
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|j| j.id));
            }
        })
    });
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("worker"));
    }
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        (count, all.len()),
        (60, 60),
        "every job claimed exactly once"
    );
}

async fn bulk_imports_store_many_deploys_once(store: Arc<dyn Store>) {
    let mut first = deploy("search", "prod", "v1", t0());
    first.external_id = Some("import-1".into());
    first.commits = vec![Commit {
        sha: "c1".into(),
        message: "One".into(),
        author: None,
        committed_at: None,
    }];
    let mut second = deploy("new-service", "qa", "v9", t0() + Duration::hours(1));
    second.external_id = Some("import-2".into());
    second.previous_version = Some("v8".into());
    let by = Actor::new("cli:demo", None);
    assert_eq!(
        store
            .import_deploys(&[first.clone(), second.clone()], &by)
            .await
            .expect("import"),
        2
    );
    let mut third = deploy("search", "prod", "v2", t0() + Duration::hours(2));
    third.external_id = Some("import-3".into());
    assert_eq!(
        store
            .import_deploys(&[first, second, third], &by)
            .await
            .expect("again"),
        1,
        "deploys already stored are skipped"
    );
    let stored = store
        .find_deploy_by_external_id("import-1")
        .await
        .expect("find")
        .expect("there");
    let detail = store.get_deploy(stored.id).await.expect("detail");
    assert_eq!(detail.commits.len(), 1);
    assert_eq!(detail.deploy.registered_by.as_deref(), Some("cli:demo"));
    let new = store
        .find_deploy_by_external_id("import-2")
        .await
        .expect("find")
        .expect("there");
    assert_eq!(
        new.previous_version.as_deref(),
        Some("v8"),
        "stored as given"
    );
    let board = store.board().await.expect("board");
    assert!(
        board
            .services
            .iter()
            .any(|s| s.name.as_str() == "new-service")
    );
    assert!(board.environments.iter().any(|e| e.name.as_str() == "qa"));
    let actions = audit_actions(store.as_ref(), "deploys").await;
    assert_eq!(
        actions,
        ["deploy.import cli:demo", "deploy.import cli:demo"]
    );
}

async fn racing_first_reports_about_one_deploy_both_count(store: Arc<dyn Store>) {
    use app::domain::DeliveryWork;
    let github = Actor::new("github:acme/shop", None);
    for round in 0..8 {
        let external = format!("github:acme/shop#race-{round}");
        let report = |status: DeployStatus, minutes: i64| {
            let at = t0() + Duration::minutes(minutes);
            let deploy = parsed_as(
                DeployRequest {
                    external_id: Some(external.clone()),
                    status: Some(status.as_str().into()),
                    finished_at: status.is_finished().then(|| at.to_rfc3339()),
                    ..request("shop", "prod", "abc", t0())
                },
                DeploySource::GithubWebhook,
            );
            DeliveryWork::Status {
                deploy,
                change: StatusChange {
                    status,
                    finished_at: at,
                },
            }
        };
        let (started, finished) = (
            report(DeployStatus::InProgress, 1),
            report(DeployStatus::Succeeded, 5),
        );
        let (a, b) = (store.clone(), store.clone());
        let (id_a, id_b) = (format!("race-a-{round}"), format!("race-b-{round}"));
        let (ga, gb) = (github.clone(), github.clone());
        let first = tokio::spawn(async move {
            a.apply_webhook_delivery(Some(&id_a), &started, &ga, t0())
                .await
        });
        let second = tokio::spawn(async move {
            b.apply_webhook_delivery(Some(&id_b), &finished, &gb, t0())
                .await
        });
        first.await.expect("task").expect("first report");
        second.await.expect("task").expect("second report");
        let stored = store
            .find_deploy_by_external_id(&external)
            .await
            .expect("find")
            .expect("registered");
        assert_eq!(
            stored.status,
            DeployStatus::Succeeded,
            "round {round}: the later report wins whichever registered"
        );
    }
}

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

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
fn through_an_override(deploy: &app::domain::Deploy) -> bool {
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
    assert_eq!(everything.scope(), app::domain::LockScope::default());
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
fn alert_block() -> app::domain::GateReason {
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
    assert_eq!(for_alerts.breaks, [app::domain::GateRule::Alert]);
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
    use app::domain::{Claimant, GateAsk};
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
    let plain = app::ssr::gate::answer(s, &ask, None, now)
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
                let answer = app::ssr::gate::claim(store.as_ref(), &ask, &run, &ci(), now)
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
    let again = app::ssr::gate::claim(s, &ask, &winner, &ci(), now)
        .await
        .expect("claim");
    assert!(again.allowed);
    assert!(
        !app::ssr::gate::answer(s, &ask, None, now)
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
    let after = app::ssr::gate::claim(s, &ask, &winner, &ci(), now)
        .await
        .expect("claim");
    assert!(!after.allowed, "spent: {after:?}");
}

async fn lock_messages_show_reasons_as_text_not_chat_markup(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let now = Utc::now();
    s.set_setting(
        app::domain::WEBHOOKS_SETTING,
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
    let app::domain::MessageAbout::Lock { text } = &queued[0].about else {
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
    use app::domain::freeze::Schedule;
    let s = store.as_ref();
    let now = Utc::now();
    let active = Schedule::Once {
        from: app::domain::to_stored_precision(now - Duration::hours(1)),
        to: app::domain::to_stored_precision(now + Duration::hours(1)),
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
        from: app::domain::to_stored_precision(now - Duration::hours(3)),
        to: app::domain::to_stored_precision(now - Duration::hours(2)),
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
    use app::ssr::GateCount;
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

macro_rules! contract_with_url {
    ($($case:ident),* $(,)?) => {
        mod sqlite_raw {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = crate::support::sqlite().await;
                    super::$case(db.store.clone(), db.url.clone()).await;
                }
            )*
        }
        mod postgres_raw {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = crate::support::postgres().await;
                    super::$case(db.store.clone(), db.url.clone()).await;
                }
            )*
        }
    };
}

contract_with_url!(token_changes_are_audited_and_the_log_refuses_changes);

contract!(
    registers_with_commits_and_round_trips_every_field,
    same_external_id_returns_the_first_deploy,
    concurrent_registrations_with_one_external_id_store_one_deploy,
    previous_version_is_the_last_succeeded_deploy_to_the_same_place,
    status_changes_are_stored_and_missing_deploys_are_not_found,
    filters_narrow_the_history,
    keyset_pages_visit_every_deploy_once_in_order,
    board_has_the_latest_deploy_per_place_and_stages_in_order,
    api_tokens_authenticate_until_revoked,
    accounts_and_sessions,
    roles_change_and_disabling_ends_sessions,
    only_the_first_set_up_creates_an_admin,
    sign_in_attempts_are_counted_before_they_are_checked,
    parallel_attempts_never_pass_the_limit,
    tokens_expire_and_stop_with_their_owner,
    houston_always_keeps_an_enabled_admin,
    racing_demotions_leave_an_admin,
    pruning_deletes_only_what_is_no_longer_needed,
    settings_are_stored_shared_and_audited,
    webhook_deliveries_are_claimed_with_their_effect,
    concurrent_status_reports_follow_the_rule,
    jobs_are_claimed_when_due_ended_and_retried,
    a_dead_workers_claim_is_taken_over_after_its_lease,
    parallel_workers_never_claim_one_job_twice,
    bulk_imports_store_many_deploys_once,
    racing_first_reports_about_one_deploy_both_count,
    ping_answers,
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

#[tokio::test]
async fn sqlite_data_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite:{}",
        dir.path().join("nested/dir/houston.db").display()
    );
    let id = {
        let store = houston::storage::open(&url)
            .await
            .expect("first open creates the file");
        register(store.as_ref(), deploy("persist", "prod", "v1", t0()))
            .await
            .id
    };
    let store = houston::storage::open(&url).await.expect("second open");
    assert_eq!(
        store
            .get_deploy(id)
            .await
            .expect("still there")
            .deploy
            .version,
        "v1"
    );
}

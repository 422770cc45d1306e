//! Deploys: registration, status, history, the board, bulk imports; the data outliving a restart.

use crate::common::*;

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
    let ids = |v: Vec<houston_core::Deploy>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();

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
    use houston_core::DeliveryWork;
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

#[tokio::test]
async fn sqlite_data_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite:{}",
        dir.path().join("nested/dir/houston.db").display()
    );
    let id = {
        let store = houston_sql::open(&url)
            .await
            .expect("first open creates the file");
        register(store.as_ref(), deploy("persist", "prod", "v1", t0()))
            .await
            .id
    };
    let store = houston_sql::open(&url).await.expect("second open");
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

houston_sql::contract!(
    registers_with_commits_and_round_trips_every_field,
    same_external_id_returns_the_first_deploy,
    concurrent_registrations_with_one_external_id_store_one_deploy,
    previous_version_is_the_last_succeeded_deploy_to_the_same_place,
    status_changes_are_stored_and_missing_deploys_are_not_found,
    filters_narrow_the_history,
    keyset_pages_visit_every_deploy_once_in_order,
    board_has_the_latest_deploy_per_place_and_stages_in_order,
    concurrent_status_reports_follow_the_rule,
    bulk_imports_store_many_deploys_once,
    racing_first_reports_about_one_deploy_both_count,
    ping_answers,
);

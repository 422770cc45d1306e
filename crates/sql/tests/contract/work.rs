//! Background work: pruning, settings, webhook deliveries and the job queue.

use crate::common::*;

/// Where the server's pruning pass cuts at `now` (`jobs::prune::cutoffs`, with
/// sessions idle for an hour ending).
fn cutoffs(now: DateTime<Utc>) -> houston_store::PruneCutoffs {
    houston_store::PruneCutoffs {
        now,
        sessions_idle_before: now - Duration::hours(1),
        deliveries_before: now - Duration::days(30),
        attempts_before: now - houston_core::LoginLimits::DEFAULT.window,
        messages_before: now - Duration::days(30),
    }
}

async fn pruning_deletes_only_what_is_no_longer_needed(store: Arc<dyn Store>) {
    use houston_core::DeliveryWork;
    use houston_core::LoginLimits;
    use houston_store::{DeliveryOutcome, PruneCounts};
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
    let counts = s.prune(&cutoffs(now)).await.expect("prune");
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
    let again = s.prune(&cutoffs(now)).await.expect("prune");
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
    use houston_core::DeliveryWork;
    use houston_store::DeliveryOutcome;
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

fn job(kind: &str, run_at: DateTime<Utc>, unique_key: Option<&str>) -> houston_store::NewJob {
    houston_store::NewJob {
        kind: kind.to_owned(),
        payload: format!("{{\"kind\":\"{kind}\"}}"),
        run_at,
        unique_key: unique_key.map(str::to_owned),
        max_attempts: 2,
    }
}

async fn jobs_are_claimed_when_due_ended_and_retried(store: Arc<dyn Store>) {
    use houston_store::JobEnd;
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
                &houston_store::JobEnd::Done,
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
                &houston_store::JobEnd::Done,
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

houston_sql::contract!(
    pruning_deletes_only_what_is_no_longer_needed,
    settings_are_stored_shared_and_audited,
    webhook_deliveries_are_claimed_with_their_effect,
    jobs_are_claimed_when_due_ended_and_retried,
    a_dead_workers_claim_is_taken_over_after_its_lease,
    parallel_workers_never_claim_one_job_twice,
);

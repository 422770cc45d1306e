//! The health judge end to end on both databases: samples pushed for two deploys,
//! one with a regression and one without, judged by the scheduler's round and read
//! back through the API with their receipts; the judge's queue claims.

use app::domain::{
    Actor, DefinitionChange, DeployRequest, DeploySource, ErrorsRequest, MetricDefinitionRequest,
    MetricsRequest, TokenScope, VerdictRule, VerdictState,
};
use app::server::Store;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use houston::config::{Config, Overrides};
use houston::{AppState, router};
use serde_json::{Value, json};
use std::sync::Arc;

fn admin() -> Actor {
    Actor::new("user:lead", None)
}

/// `latency_p95`, pushed, judged when it rises by more than 5 %: critical, with a runbook.
async fn define_latency_check(store: &dyn Store) {
    define(
        store,
        MetricDefinitionRequest {
            critical: Some(true),
            runbook: Some("https://runbooks.example/latency".into()),
            ..latency_definition()
        },
    )
    .await;
}

/// `latency_p95` in ms, pushed for every service, worse when it rises by more than 5 %.
fn latency_definition() -> MetricDefinitionRequest {
    MetricDefinitionRequest {
        name: Some("latency_p95".into()),
        unit: Some("ms".into()),
        source: Some("push".into()),
        services: Some(vec!["*".into()]),
        direction: Some("increase_is_bad".into()),
        tolerance: Some(0.05),
        ..Default::default()
    }
}

async fn define(store: &dyn Store, request: MetricDefinitionRequest) {
    let definition = request.parse("").expect("valid definition");
    store
        .apply_definition_changes(
            &[DefinitionChange::Create(definition)],
            &admin(),
            None,
            Utc::now(),
        )
        .await
        .expect("defined");
}

/// A succeeded deploy that finished `minutes_ago`.
async fn register(store: &dyn Store, service: &str, finished: DateTime<Utc>, status: &str) -> i64 {
    let request = DeployRequest {
        service: Some(service.into()),
        environment: Some("production".into()),
        version: Some("v2".into()),
        status: Some(status.into()),
        started_at: Some((finished - Duration::minutes(1)).to_rfc3339()),
        finished_at: (status != "in_progress").then(|| finished.to_rfc3339()),
        ..Default::default()
    };
    let new = request
        .parse_as(Utc::now(), DeploySource::Api)
        .expect("valid deploy");
    store
        .register_deploy(&new, &Actor::new("token:ci", None))
        .await
        .expect("registered")
        .deploy
        .id
}

/// Four and a half hours of 10 s samples up to now around `level`, with a small
/// deterministic wobble, times `factor` from `deployed_at` on.
async fn push_latency(
    store: &dyn Store,
    service: &str,
    deployed_at: DateTime<Utc>,
    level: f64,
    factor: f64,
) {
    push_latency_shaped(
        store,
        service,
        deployed_at,
        |i| level * (1.0 + 0.03 * ((i as f64) * 0.9).sin()),
        factor,
    )
    .await;
}

/// As [`push_latency`], the calm series being `calm(i)` for the sample `i` steps of
/// 10 s before now.
async fn push_latency_shaped(
    store: &dyn Store,
    service: &str,
    deployed_at: DateTime<Utc>,
    calm: impl Fn(i64) -> f64,
    factor: f64,
) {
    let now = Utc::now();
    let points: Vec<Value> = (0..1620)
        .map(|i: i64| {
            let at = now - Duration::seconds(10 * i);
            let step = if at >= deployed_at { factor } else { 1.0 };
            json!([at.to_rfc3339(), calm(i) * step])
        })
        .collect();
    let batch = serde_json::from_value::<MetricsRequest>(json!({"series": [{
        "service": service, "environment": "production", "metric": "latency_p95", "points": points,
    }]}))
    .expect("decodes")
    .parse(now, now - Duration::days(8))
    .expect("valid batch");
    store.store_samples(&batch, now).await.expect("stored");
}

/// One round of the judge now, then deploy `id`'s verdict.
async fn judged(store: &dyn Store, id: i64) -> app::domain::Verdict {
    houston::jobs::judge::run(store, None, None, Utc::now())
        .await
        .expect("a round");
    store
        .get_verdict(id)
        .await
        .expect("read")
        .expect("followed")
}

async fn verdict_json(store: Arc<dyn Store>, id: i64) -> Value {
    let config = Config::from_lookup(|_| None, &Overrides::default()).expect("config");
    let token = app::server::token::generate_token();
    store
        .create_api_token(
            &crate::support::new_token(
                &format!("reader-{id}"),
                &app::server::token::hash_token(&token),
                &[TokenScope::Read],
            ),
            &Actor::new("cli:test", None),
            Utc::now(),
        )
        .await
        .expect("token");
    let app = router(AppState::new(store, config));
    let reply = crate::support::send(
        &app,
        Request::get(format!("/api/v1/deploys/{id}/verdict"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()
}

async fn a_regression_is_unhealthy_and_a_calm_deploy_healthy_with_receipts(store: Arc<dyn Store>) {
    define_latency_check(store.as_ref()).await;
    let deployed_at = Utc::now() - Duration::minutes(20);
    let regressed = register(store.as_ref(), "checkout", deployed_at, "succeeded").await;
    let calm = register(store.as_ref(), "search", deployed_at, "succeeded").await;
    push_latency(store.as_ref(), "checkout", deployed_at, 200.0, 1.3).await;
    push_latency(store.as_ref(), "search", deployed_at, 80.0, 1.0).await;

    // Registered after the fact, with the data there: judged at the first round.
    let judged = houston::jobs::judge::run(store.as_ref(), None, None, Utc::now())
        .await
        .expect("a round");
    assert_eq!(judged, 2);

    let verdict = store
        .get_verdict(regressed)
        .await
        .expect("read")
        .expect("followed");
    assert_eq!(verdict.state, VerdictState::Unhealthy);
    assert!(verdict.is_final);
    assert_eq!(verdict.rule, VerdictRule::CriticalCheckFailed);
    assert!(verdict.decided_at.is_some());

    let body = verdict_json(store.clone(), regressed).await;
    assert_eq!(body["state"], "unhealthy");
    assert_eq!(body["final"], true);
    let check = &body["checks"][0];
    assert_eq!(check["metric"], "latency_p95");
    assert_eq!(check["state"], "unhealthy");
    assert_eq!(check["rule"], "regressed");
    assert_eq!(check["runbook"], "https://runbooks.example/latency");
    assert_eq!(check["baseline"]["summary"]["count"], 180);
    // From the warm-up's end (2 min) to the bake's (15 min), every 10 s.
    assert_eq!(check["current"]["summary"]["count"], 78);
    let relative = check["delta_relative"].as_f64().expect("delta");
    assert!((relative - 0.3).abs() < 0.05, "{relative}");
    assert!(check["p_value"].as_f64().expect("p") < 0.001);
    assert!(check["mann_whitney"]["p_value"].as_f64().is_some());
    assert!(check["shift"]["low"].as_f64().expect("shift") > 0.0);
    assert_eq!(body["new_error_groups"], json!([]));
    assert_eq!(body["override"], Value::Null);

    let body = verdict_json(store.clone(), calm).await;
    assert_eq!(body["state"], "healthy", "{body}");
    assert_eq!(body["score"], 100.0);
    assert_eq!(body["checks"][0]["rule"], "within_tolerance");

    // A lead's word over the judge's: both shown, audited.
    store
        .override_verdict(
            regressed,
            VerdictState::Healthy,
            "a known noisy neighbour",
            &admin(),
            Utc::now(),
        )
        .await
        .expect("overridden");
    let verdict = store
        .get_verdict(regressed)
        .await
        .expect("read")
        .expect("followed");
    assert_eq!(
        verdict.state,
        VerdictState::Unhealthy,
        "the judge's verdict stays"
    );
    assert_eq!(verdict.shown_state(), VerdictState::Healthy);
    let o = verdict.verdict_override.expect("override");
    assert_eq!(
        (o.reason.as_str(), o.by.as_str()),
        ("a known noisy neighbour", "user:lead")
    );
    let audit = store
        .list_audit(&app::domain::AuditFilter {
            action: Some("verdict.override".into()),
            actor: None,
            since: None,
            until: None,
            limit: 50,
        })
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "verdict.override" && e.target == format!("deploy:{regressed}")),
        "{audit:?}"
    );
    assert!(matches!(
        store
            .override_verdict(999_999, VerdictState::Healthy, "x", &admin(), Utc::now())
            .await,
        Err(app::server::StoreError::NotFound(_))
    ));

    // Final verdicts are not claimed again.
    let again =
        houston::jobs::judge::run(store.as_ref(), None, None, Utc::now() + Duration::hours(1))
            .await
            .expect("a round");
    assert_eq!(again, 0);
}

async fn new_error_groups_fail_a_deploy_whatever_the_baseline(store: Arc<dyn Store>) {
    define_latency_check(store.as_ref()).await;
    let deployed_at = Utc::now() - Duration::minutes(20);
    let id = register(store.as_ref(), "checkout", deployed_at, "succeeded").await;
    push_latency(store.as_ref(), "checkout", deployed_at, 200.0, 1.0).await;
    let now = Utc::now();
    let events: Vec<Value> = (0..6)
        .map(|i| {
            json!({"service": "checkout", "environment": "production", "fingerprint": "NilPointer@cart.rs:12",
                   "message": "nil pointer", "level": "error", "timestamp": (deployed_at + Duration::minutes(5) + Duration::seconds(i)).to_rfc3339()})
        })
        .collect();
    let batch = serde_json::from_value::<ErrorsRequest>(json!({"events": events}))
        .expect("decodes")
        .parse(now, now - Duration::days(8))
        .expect("valid");
    store.store_error_events(&batch, now).await.expect("stored");
    let verdict = judged(store.as_ref(), id).await;
    assert_eq!(verdict.state, VerdictState::Unhealthy);
    assert_eq!(verdict.rule, VerdictRule::NewErrorGroups);
    assert_eq!(verdict.receipt.new_error_groups.len(), 1);
    assert_eq!(verdict.receipt.new_error_groups[0].occurrences, 6);
}

/// Error events of one long-known group at `service`: one event per 10 s bin over
/// four and a half hours, each counting `before` until `deployed_at` and `after` from
/// it (a deterministic 0–2× wobble, so bins differ).
async fn push_errors(
    store: &dyn Store,
    service: &str,
    deployed_at: DateTime<Utc>,
    before: f64,
    after: f64,
) {
    let now = Utc::now();
    let events: Vec<Value> = (0..1620)
        .filter_map(|i: i64| {
            let at = now - Duration::seconds(10 * i);
            let rate = if at >= deployed_at { after } else { before };
            let count = (rate * (1.0 + ((i as f64) * 2.3).sin())).round();
            (count >= 1.0).then(|| {
                json!({"service": service, "environment": "production", "fingerprint": "Timeout@pay.rs:40",
                       "message": "upstream timeout", "level": "error", "timestamp": at.to_rfc3339(), "count": count as u64})
            })
        })
        .collect();
    let batch = serde_json::from_value::<ErrorsRequest>(json!({ "events": events }))
        .expect("decodes")
        .parse(now, now - Duration::days(8))
        .expect("valid");
    store.store_error_events(&batch, now).await.expect("stored");
}

async fn the_error_rate_is_judged_and_deploy_rows_carry_the_verdict(store: Arc<dyn Store>) {
    define_latency_check(store.as_ref()).await;
    let deployed_at = Utc::now() - Duration::minutes(20);
    let worse = register(store.as_ref(), "payments", deployed_at, "succeeded").await;
    let calm = register(store.as_ref(), "checkout", deployed_at, "succeeded").await;
    for service in ["payments", "checkout"] {
        push_latency(store.as_ref(), service, deployed_at, 200.0, 1.0).await;
    }
    push_errors(store.as_ref(), "payments", deployed_at, 2.0, 6.0).await;
    push_errors(store.as_ref(), "checkout", deployed_at, 2.0, 2.0).await;
    // Before any look, rows say the judge follows the deploy.
    let page = |verdict: Option<&str>| app::domain::DeployQuery {
        verdict: verdict.map(str::to_owned),
        ..Default::default()
    };
    let (filter, request) = page(Some("baking")).parse().expect("valid");
    let baking = store.list_deploys(&filter, &request).await.expect("listed");
    assert_eq!(baking.deploys.len(), 2);
    houston::jobs::judge::run(store.as_ref(), None, None, Utc::now())
        .await
        .expect("a round");

    let read = |id| {
        let store = store.clone();
        async move {
            store
                .get_verdict(id)
                .await
                .expect("read")
                .expect("followed")
        }
    };
    let verdict = read(worse).await;
    assert_eq!(verdict.state, VerdictState::Unhealthy, "{:?}", verdict.rule);
    let errors = verdict
        .receipt
        .checks
        .iter()
        .find(|c| c.metric.as_str() == "errors")
        .expect("the error-rate check");
    assert_eq!(errors.state, app::domain::CheckState::Unhealthy);
    assert!(errors.delta_relative.expect("relative") > 1.5, "{errors:?}");
    assert!(
        verdict.receipt.new_error_groups.is_empty(),
        "the group is old"
    );
    let verdict = read(calm).await;
    assert_eq!(
        verdict.state,
        VerdictState::Healthy,
        "{:?}",
        verdict.receipt.checks
    );

    // The rows carry the shown verdict and its headline; history filters by it.
    let (filter, request) = page(Some("unhealthy")).parse().expect("valid");
    let rows = store.list_deploys(&filter, &request).await.expect("listed");
    assert_eq!(rows.deploys.len(), 1);
    let row = rows.deploys[0].verdict.clone().expect("a verdict");
    assert_eq!(rows.deploys[0].id, worse);
    assert!(row.is_final);
    assert_eq!(row.headline.deltas[0].metric, "errors");
    assert!(row.headline.deltas[0].failed);
    assert_eq!(
        row.headline.bake_end,
        Some(app::domain::to_stored_precision(deployed_at) + Duration::minutes(15))
    );
    let board = store.board().await.expect("board");
    let shown: Vec<(String, Option<VerdictState>)> = board
        .latest
        .iter()
        .map(|d| {
            (
                d.service.to_string(),
                d.verdict.as_ref().map(|v| v.shown_state()),
            )
        })
        .collect();
    assert!(
        shown.contains(&("checkout".into(), Some(VerdictState::Healthy))),
        "{shown:?}"
    );
    assert!(
        shown.contains(&("payments".into(), Some(VerdictState::Unhealthy))),
        "{shown:?}"
    );

    // A lead's override moves the deploy between the history's verdicts.
    store
        .override_verdict(
            worse,
            VerdictState::Healthy,
            "a known upstream outage",
            &admin(),
            Utc::now(),
        )
        .await
        .expect("overridden");
    let (filter, request) = page(Some("unhealthy")).parse().expect("valid");
    assert!(
        store
            .list_deploys(&filter, &request)
            .await
            .expect("listed")
            .deploys
            .is_empty()
    );
    let (filter, request) = page(Some("healthy")).parse().expect("valid");
    let healthy = store.list_deploys(&filter, &request).await.expect("listed");
    assert_eq!(healthy.deploys.len(), 2);
    let row = healthy
        .deploys
        .iter()
        .find(|d| d.id == worse)
        .expect("listed");
    let summary = row.verdict.as_ref().expect("a verdict");
    assert_eq!(summary.state, VerdictState::Unhealthy);
    assert_eq!(summary.override_state, Some(VerdictState::Healthy));
}

/// A chat server on loopback: answers 500 to the first `failures` posts, then 200,
/// and keeps every body it was sent.
async fn webhook_receiver(failures: usize) -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::new(AtomicUsize::new(0));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook/T0/secret",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            let seen = seen.clone();
            async move {
                kept.lock().expect("lock").push(body);
                if seen.fetch_add(1, Ordering::SeqCst) < failures {
                    (StatusCode::INTERNAL_SERVER_ERROR, "down for a moment")
                } else {
                    (StatusCode::OK, "ok")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook/T0/secret"), received)
}

async fn verdict_messages_are_queued_with_the_look_and_delivered_with_retries(
    store: Arc<dyn Store>,
) {
    use app::domain::{DeliveryStatus, NoticeKind, WEBHOOKS_SETTING};
    let (url, received) = webhook_receiver(1).await;
    store
        .set_setting(
            WEBHOOKS_SETTING,
            &serde_json::to_string(&[&url]).expect("json"),
            &admin(),
            Some("tell the team"),
            Utc::now(),
        )
        .await
        .expect("set");
    define_latency_check(store.as_ref()).await;
    let deployed_at = Utc::now() - Duration::minutes(20);
    let id = register(store.as_ref(), "checkout", deployed_at, "succeeded").await;
    push_latency(store.as_ref(), "checkout", deployed_at, 200.0, 1.5).await;
    let now = Utc::now();
    houston::jobs::judge::run(store.as_ref(), None, None, now)
        .await
        .expect("a round");
    let queued = store.list_notifications(10).await.expect("listed");
    assert_eq!(queued.len(), 1, "one message per URL: {queued:?}");
    assert_eq!(
        queued[0].about,
        app::domain::MessageAbout::Verdict {
            deploy_id: id,
            kind: NoticeKind::Final,
            state: VerdictState::Unhealthy
        }
    );
    assert_eq!(queued[0].status, DeliveryStatus::Pending);

    // By default a webhook on loopback is refused before anything is sent.
    let refusing = houston::jobs::notify::Deliverer::new(
        store.clone(),
        Some("https://houston.example/".into()),
        app::server::outbound::OutboundPolicy::default(),
    )
    .expect("client");
    assert_eq!(refusing.deliver_due(now).await.expect("a round"), 1);
    let refused = store.list_notifications(10).await.expect("listed");
    assert!(
        refused[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("internal address") && !e.contains("secret")),
        "{refused:?}"
    );
    assert!(
        received.lock().expect("lock").is_empty(),
        "nothing was sent"
    );
    let retry_at = refused[0].next_attempt_at.expect("a retry");

    // An operator who allows the loopback network gets the messages there.
    let deliverer = houston::jobs::notify::Deliverer::new(
        store.clone(),
        Some("https://houston.example/".into()),
        app::server::outbound::OutboundPolicy::new(vec!["127.0.0.0/8".parse().expect("net")]),
    )
    .expect("client");
    let now = retry_at;
    assert_eq!(deliverer.deliver_due(now).await.expect("a round"), 1);
    let after_one = store.list_notifications(10).await.expect("listed");
    assert_eq!(after_one[0].status, DeliveryStatus::Pending);
    assert_eq!(after_one[0].attempts, 2);
    // The status line only: what the target answered is never kept or shown.
    assert_eq!(
        after_one[0].last_error.as_deref(),
        Some("answered 500 Internal Server Error"),
        "{after_one:?}"
    );
    let retry_at = after_one[0].next_attempt_at.expect("a retry");
    assert!(retry_at > now, "backs off");
    // Not due before its time; delivered at it.
    assert_eq!(deliverer.deliver_due(now).await.expect("a round"), 0);
    assert_eq!(deliverer.deliver_due(retry_at).await.expect("a round"), 1);
    let done = store.list_notifications(10).await.expect("listed");
    assert_eq!(done[0].status, DeliveryStatus::Delivered);
    assert_eq!(done[0].attempts, 3);

    let bodies = received.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 2);
    let text = bodies[1]["text"].as_str().expect("Slack's text");
    assert!(
        text.contains("*checkout*") && text.contains("*unhealthy* (final verdict)"),
        "{text}"
    );
    assert!(text.contains("latency_p95 +"), "the evidence: {text}");
    assert!(
        text.contains(&format!("<https://houston.example/deploys/{id}|")),
        "{text}"
    );
    // A final verdict is told once: more rounds queue nothing.
    houston::jobs::judge::run(store.as_ref(), None, None, now + Duration::hours(1))
        .await
        .expect("a round");
    assert_eq!(store.list_notifications(10).await.expect("listed").len(), 1);
    // Pruning keeps it for its retention, then drops it.
    let prune = |at| houston::jobs::prune::cutoffs(at, Duration::hours(1));
    let kept = store
        .prune(&prune(now + Duration::days(29)))
        .await
        .expect("pruned");
    assert_eq!(kept.messages, 0);
    let gone = store
        .prune(&prune(now + Duration::days(31)))
        .await
        .expect("pruned");
    assert_eq!(gone.messages, 1);
    assert!(
        store
            .list_notifications(10)
            .await
            .expect("listed")
            .is_empty()
    );
}

async fn a_backtest_lists_the_deploys_a_candidate_configuration_would_judge_otherwise(
    store: Arc<dyn Store>,
) {
    define_latency_check(store.as_ref()).await;
    let deployed_at = Utc::now() - Duration::minutes(20);
    let regressed = register(store.as_ref(), "checkout", deployed_at, "succeeded").await;
    push_latency(store.as_ref(), "checkout", deployed_at, 200.0, 1.3).await;
    let calm = register(store.as_ref(), "search", deployed_at, "succeeded").await;
    push_latency(store.as_ref(), "search", deployed_at, 200.0, 1.0).await;
    houston::jobs::judge::run(store.as_ref(), None, None, Utc::now())
        .await
        .expect("a round");
    let candidate_with = |tolerance: f64, more: &str| {
        let file: app::domain::ConfigFile = toml::from_str(&format!(
            "[[metric]]\nname = \"latency_p95\"\nunit = \"ms\"\nsource = \"push\"\n\
             services = [\"*\"]\ndirection = \"increase_is_bad\"\ntolerance = {tolerance}\ncritical = true\n{more}"
        ))
        .expect("toml");
        file.parse_all().expect("valid")
    };
    let candidate = |tolerance: f64| candidate_with(tolerance, "");
    let since = Utc::now() - Duration::days(1);
    // The same rule changes nothing; a 50 % tolerance lets the +30 % deploy pass.
    let same = houston::backtest::run(store.as_ref(), None, candidate(0.05), since, 100)
        .await
        .expect("backtest");
    assert_eq!(same.judged, 2);
    assert!(same.changed.is_empty(), "{:?}", same.changed);
    let loose = houston::backtest::run(store.as_ref(), None, candidate(0.5), since, 100)
        .await
        .expect("backtest");
    assert_eq!(loose.judged, 2);
    assert_eq!(loose.changed.len(), 1, "{:?}", loose.changed);
    let changed = &loose.changed[0];
    assert_eq!(changed.deploy.id, regressed);
    assert_eq!(
        (changed.stored, changed.candidate),
        (VerdictState::Unhealthy, VerdictState::Healthy)
    );
    let lines = houston::backtest::describe(&loose, since);
    assert!(
        lines[0].contains("2 deploys") && lines[0].contains("1 would change"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(&format!("deploy {regressed} checkout")),
        "{lines:?}"
    );
    assert!(lines[1].contains("unhealthy -> healthy"), "{lines:?}");
    // The pipeline's checks are backtested too: a bound under the calm deploy's
    // latency (≈ 200 ms) fails it, with the bound's receipt line.
    let bounded = houston::backtest::run(
        store.as_ref(),
        None,
        candidate_with(0.05, "max_value = 150\nmax_sigma = 50\n"),
        since,
        100,
    )
    .await
    .expect("backtest");
    assert_eq!(bounded.changed.len(), 1, "{:?}", bounded.changed);
    assert_eq!(bounded.changed[0].deploy.id, calm);
    assert_eq!(
        (bounded.changed[0].stored, bounded.changed[0].candidate),
        (VerdictState::Healthy, VerdictState::Unhealthy)
    );
    // Nothing is stored: the verdicts stay as judged.
    let stored = store
        .get_verdict(calm)
        .await
        .expect("read")
        .expect("followed");
    assert_eq!(stored.state, VerdictState::Healthy);
    let stored = store
        .get_verdict(regressed)
        .await
        .expect("read")
        .expect("followed");
    assert_eq!(stored.state, VerdictState::Unhealthy);
}

async fn a_backlog_is_judged_in_one_run_of_the_job(store: Arc<dyn Store>) {
    // More finished deploys than one round claims, all due (as after `houston demo`).
    let finished = Utc::now() - Duration::days(2);
    let count = houston::jobs::judge::BATCH as usize * 2 + 5;
    for i in 0..count {
        register(store.as_ref(), &format!("svc{i}"), finished, "succeeded").await;
    }
    let judged = houston::jobs::judge::run_backlog(
        store.as_ref(),
        None,
        None,
        Utc::now() + Duration::seconds(1),
    )
    .await
    .expect("judged");
    assert_eq!(judged, count, "every due deploy in one run, none twice");
    assert!(
        store
            .claim_due_verdicts(
                Utc::now() + Duration::seconds(1),
                Duration::seconds(60),
                100
            )
            .await
            .expect("claim")
            .is_empty(),
        "nothing is left due"
    );
}

async fn a_running_deploy_waits_and_claims_are_exclusive(store: Arc<dyn Store>) {
    let id = register(store.as_ref(), "checkout", Utc::now(), "in_progress").await;
    let now = Utc::now() + Duration::seconds(1);
    let lease = Duration::seconds(60);
    assert_eq!(
        store
            .claim_due_verdicts(now, lease, 10)
            .await
            .expect("claim"),
        vec![id]
    );
    // Held: another worker gets nothing until the lease runs out.
    assert!(
        store
            .claim_due_verdicts(now, lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due_verdicts(now + Duration::seconds(61), lease, 10)
            .await
            .expect("claim"),
        vec![id]
    );
    let later = now + Duration::seconds(62);
    let (_, evaluation) = houston::jobs::judge::evaluate(store.as_ref(), None, id, later)
        .await
        .expect("evaluated");
    assert_eq!(evaluation.state, VerdictState::Baking);
    assert_eq!(evaluation.rule, VerdictRule::WarmingUp);
    // Stored, but a look that only waits changes nothing pages show.
    assert!(
        !store
            .save_evaluation(id, &evaluation, later)
            .await
            .expect("saved")
    );
    // The next look is the interval away.
    assert!(
        store
            .claim_due_verdicts(later, lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let verdict = store
        .get_verdict(id)
        .await
        .expect("read")
        .expect("followed");
    assert_eq!(
        (verdict.state, verdict.is_final),
        (VerdictState::Baking, false)
    );
}

async fn a_services_timing_decides_its_bake(store: Arc<dyn Store>) {
    define_latency_check(store.as_ref()).await;
    let file: app::domain::ConfigFile = serde_json::from_value(json!({"service": [
        {"name": "checkout", "environments": ["production"], "warmup": "1m", "bake": "5m"}
    ]}))
    .expect("decodes");
    let wanted = file.parse_all().expect("valid").services;
    let changes = app::domain::plan_timings(&[], &wanted);
    assert_eq!(changes.len(), 1);
    store
        .apply_timing_changes(&changes, &admin(), Some("short bakes"), Utc::now())
        .await
        .expect("applied");
    assert_eq!(store.list_service_timings().await.expect("listed"), wanted);
    assert!(app::domain::plan_timings(&wanted, &wanted).is_empty());

    // Finished 8 minutes ago: past a 5-minute bake, inside the default 15.
    let deployed_at = Utc::now() - Duration::minutes(8);
    let id = register(store.as_ref(), "checkout", deployed_at, "succeeded").await;
    push_latency(store.as_ref(), "checkout", deployed_at, 200.0, 1.0).await;
    let verdict = judged(store.as_ref(), id).await;
    assert_eq!(
        (verdict.state, verdict.is_final),
        (VerdictState::Healthy, true)
    );
    assert_eq!(verdict.receipt.timing.map(|t| t.bake_secs), Some(300));
    // Four minutes from the warm-up's end to the bake's, every 10 s.
    let current = verdict.receipt.checks[0].current.summary.expect("current");
    assert_eq!(current.count, 24);
}

/// A +12 % step under slow ±50 % swings: past the 5 % tolerance, and the check could
/// not have seen a change that size. The verdict, the API, the history filter, the row
/// and the message all say "can't tell" (what the gate makes of it is `domain::locks`'
/// unit tests).
async fn a_deploy_the_judge_cannot_tell_about_says_so_everywhere(store: Arc<dyn Store>) {
    use app::domain::{MessageAbout, NoticeKind, WEBHOOKS_SETTING};
    store
        .set_setting(
            WEBHOOKS_SETTING,
            r#"["https://chat.example/hook"]"#,
            &admin(),
            None,
            Utc::now(),
        )
        .await
        .expect("set");
    define_latency_check(store.as_ref()).await;
    let deployed_at = Utc::now() - Duration::minutes(20);
    let id = register(store.as_ref(), "checkout", deployed_at, "succeeded").await;
    let swing = |i: i64| 200.0 * (1.0 + 0.5 * (i as f64 * std::f64::consts::TAU / 240.0).sin());
    push_latency_shaped(store.as_ref(), "checkout", deployed_at, swing, 1.12).await;
    houston::jobs::judge::run(store.as_ref(), None, None, Utc::now())
        .await
        .expect("a round");

    let verdict = store
        .get_verdict(id)
        .await
        .expect("read")
        .expect("followed");
    assert_eq!(
        (verdict.state, verdict.rule, verdict.is_final),
        (
            VerdictState::CantTell,
            VerdictRule::CriticalCheckCouldNotTell,
            true
        )
    );
    let json = verdict_json(store.clone(), id).await;
    assert_eq!(json["state"], "cant_tell");
    assert_eq!(json["rule"], "critical_check_could_not_tell");
    assert_eq!(json["checks"][0]["state"], "cant_tell");
    assert_eq!(json["checks"][0]["rule"], "could_not_tell");
    let seen = json["checks"][0]["min_detectable_change"]
        .as_f64()
        .expect("what it could see");
    assert!(seen > 0.05, "{seen}");

    let (filter, request) = app::domain::DeployQuery {
        verdict: Some("cant_tell".into()),
        ..Default::default()
    }
    .parse()
    .expect("valid");
    let rows = store.list_deploys(&filter, &request).await.expect("listed");
    assert_eq!(rows.deploys.len(), 1);
    let summary = rows.deploys[0].verdict.clone().expect("a verdict");
    assert_eq!(summary.state, VerdictState::CantTell);
    assert_eq!(summary.headline.cant_tell, ["latency_p95"]);

    let queued = store.list_notifications(10).await.expect("listed");
    assert_eq!(
        queued.iter().map(|n| n.about.clone()).collect::<Vec<_>>(),
        [MessageAbout::Verdict {
            deploy_id: id,
            kind: NoticeKind::Final,
            state: VerdictState::CantTell
        }]
    );
}

/// Bounds, σ from history and slope, from a definition, judged by the scheduler's
/// round: a calm deploy over its bound fails on the bound, with the receipt's lines.
async fn the_pipelines_checks_are_judged_by_the_scheduler(store: Arc<dyn Store>) {
    define(
        store.as_ref(),
        MetricDefinitionRequest {
            max_value: Some(150.0),
            max_sigma: Some(4.0),
            max_slope_sigma: Some(6.0),
            ..latency_definition()
        },
    )
    .await;
    let deployed_at = Utc::now() - Duration::minutes(20);
    let id = register(store.as_ref(), "checkout", deployed_at, "succeeded").await;
    push_latency(store.as_ref(), "checkout", deployed_at, 200.0, 1.0).await;
    houston::jobs::judge::run(store.as_ref(), None, None, Utc::now())
        .await
        .expect("a round");
    let json = verdict_json(store.clone(), id).await;
    assert_eq!(json["state"], "unhealthy", "{json}");
    let check = &json["checks"][0];
    assert_eq!(check["rule"], "out_of_bounds");
    let kinds: Vec<&str> = check["guards"]
        .as_array()
        .expect("the guards' lines")
        .iter()
        .map(|g| g["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["bounds", "sigma", "slope"]);
    assert_eq!(check["guards"][0]["state"], "unhealthy");
    assert!(
        check["guards"][0]["line"]
            .as_str()
            .is_some_and(|l| l.contains("at most 150")),
        "{check}"
    );
    // A calm bake sits near its history: σ and slope pass.
    assert_eq!(check["guards"][1]["state"], "healthy", "{check}");
    assert_eq!(check["guards"][2]["state"], "healthy", "{check}");
}

/// `houston demo`: the real judge, reading the seeded samples, gives the board every
/// state; loading it again adds nothing.
async fn the_demo_is_judged_by_the_real_judge_into_every_board_state(store: Arc<dyn Store>) {
    let seeded = houston::demo::load(store.as_ref(), 30, 7)
        .await
        .expect("demo");
    assert!(seeded.samples > 100_000, "{} samples", seeded.samples);
    assert!(seeded.error_occurrences > 0 && seeded.alerts >= 2);
    for state in ["healthy", "ailing", "unhealthy", "baking", "no data"] {
        assert!(
            seeded.verdicts.get(state).is_some_and(|n| *n > 0),
            "the judge gave some {state}: {:?}",
            seeded.verdicts
        );
    }
    let board = store.board().await.expect("board");
    let cell = |service: &str, environment: &str| {
        board
            .latest
            .iter()
            .find(|d| d.service.as_str() == service && d.environment.as_str() == environment)
            .unwrap_or_else(|| panic!("{service} in {environment} has a deploy"))
            .clone()
    };
    let verdict = |service: &str, environment: &str| {
        cell(service, environment)
            .verdict
            .map(|v| v.state)
            .unwrap_or_else(|| panic!("{service} in {environment} is judged"))
    };
    assert_eq!(verdict("checkout", "production"), VerdictState::Unhealthy);
    let checkout = cell("checkout", "production").verdict.expect("verdict");
    assert!(
        checkout
            .headline
            .deltas
            .iter()
            .any(|d| d.metric == "latency_p95" && d.failed),
        "{:?}",
        checkout.headline
    );
    assert_eq!(verdict("payments", "canary"), VerdictState::Ailing);
    assert_eq!(verdict("search", "production"), VerdictState::Baking);
    assert_eq!(verdict("notifications", "production"), VerdictState::NoData);
    assert_eq!(
        verdict("accounts", "production"),
        VerdictState::Healthy,
        "rolled back"
    );
    let firing = store
        .list_alerts(
            &app::domain::AlertFilter {
                state: Some(app::domain::AlertState::Firing),
                service: None,
                environment: None,
            },
            100,
        )
        .await
        .expect("alerts");
    assert!(
        firing
            .iter()
            .any(|a| a.service.as_ref().is_some_and(|s| s.as_str() == "checkout")),
        "the unhealthy deploy's alert fires"
    );
    let overrides = store.list_overrides(10).await.expect("overrides");
    assert!(
        overrides.iter().any(|o| o.used_by.is_some()),
        "the hotfix spent its override"
    );
    assert_eq!(store.list_freezes().await.expect("freezes").len(), 1);

    let again = houston::demo::load(store.as_ref(), 30, 7)
        .await
        .expect("again");
    assert_eq!(again.deploys_created, 0, "nothing new the second time");
    assert_eq!(store.list_freezes().await.expect("freezes").len(), 1);
}

houston_sql::contract!(
    the_demo_is_judged_by_the_real_judge_into_every_board_state,
    a_deploy_the_judge_cannot_tell_about_says_so_everywhere,
    the_pipelines_checks_are_judged_by_the_scheduler,
    a_regression_is_unhealthy_and_a_calm_deploy_healthy_with_receipts,
    new_error_groups_fail_a_deploy_whatever_the_baseline,
    the_error_rate_is_judged_and_deploy_rows_carry_the_verdict,
    verdict_messages_are_queued_with_the_look_and_delivered_with_retries,
    a_backtest_lists_the_deploys_a_candidate_configuration_would_judge_otherwise,
    a_backlog_is_judged_in_one_run_of_the_job,
    a_running_deploy_waits_and_claims_are_exclusive,
    a_services_timing_decides_its_bake,
);

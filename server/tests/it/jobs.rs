//! The job runner against a real store: queued jobs run once, failures retry,
//! periodic jobs are queued once however many replicas start, and a runner stops
//! when told. On SQLite and PostgreSQL.

use app::server::{NewJob, Store};
use houston::jobs::{Runner, RunnerSettings};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn settings() -> RunnerSettings {
    RunnerSettings {
        poll: Duration::from_millis(20),
        lease: Duration::from_secs(60),
        batch: 4,
    }
}

fn queued(kind: &str) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        payload: "{\"n\":7}".into(),
        run_at: chrono::Utc::now() - chrono::Duration::seconds(1),
        unique_key: None,
        max_attempts: 1,
    }
}

async fn runs_queued_periodic_and_failing_jobs(store: Arc<dyn Store>) {
    let runs = Arc::new(AtomicU32::new(0));
    let ticks = Arc::new(AtomicU32::new(0));
    let runner = |store: Arc<dyn Store>| {
        let (runs, ticks) = (runs.clone(), ticks.clone());
        Runner::new(store, settings())
            .handle("count", move |job| {
                let runs = runs.clone();
                async move {
                    assert_eq!(job.payload, "{\"n\":7}");
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .handle("break", |_| async { anyhow::bail!("broken on purpose") })
            .every("tick", Duration::from_secs(3600), move || {
                let ticks = ticks.clone();
                async move {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
    };
    let now = chrono::Utc::now();
    for _ in 0..3 {
        store
            .enqueue_job(&queued("count"), now)
            .await
            .expect("queue");
    }
    store
        .enqueue_job(&queued("break"), now)
        .await
        .expect("queue");
    store
        .enqueue_job(&queued("unknown"), now)
        .await
        .expect("queue");

    // Two replicas start: the periodic job is queued once and runs once.
    let (a, b) = (runner(store.clone()), runner(store.clone()));
    a.schedule_periodic(now).await.expect("schedule");
    b.schedule_periodic(now).await.expect("schedule");
    let mut ran = 0;
    for _ in 0..10 {
        ran += a.run_due().await.expect("run") + b.run_due().await.expect("run");
    }
    assert_eq!(ran, 6, "three counts, one tick, one broken, one unknown");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        1,
        "the next tick is an hour away"
    );

    let mut failed = store.failed_jobs(10).await.expect("failed");
    failed.sort_by(|x, y| x.kind.cmp(&y.kind));
    let summary: Vec<(&str, bool)> = failed
        .iter()
        .map(|j| {
            let error = j.last_error.as_deref().unwrap_or_default();
            (
                j.kind.as_str(),
                error.contains("broken on purpose") || error.contains("no handler"),
            )
        })
        .collect();
    assert_eq!(summary, [("break", true), ("unknown", true)]);

    // A running runner stops when told, and picks up work queued meanwhile.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner(store.clone()).run(async {
        let _ = stopped.await;
    }));
    store
        .enqueue_job(&queued("count"), chrono::Utc::now())
        .await
        .expect("queue");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while runs.load(Ordering::SeqCst) < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the running runner did not pick up the job"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the runner stops")
        .expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runner() {
    let db = crate::support::sqlite().await;
    runs_queued_periodic_and_failing_jobs(db.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_runner() {
    let db = crate::support::postgres().await;
    runs_queued_periodic_and_failing_jobs(db.store.clone()).await;
}

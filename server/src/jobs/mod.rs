//! Background jobs: a small runner inside `houston serve` (or alone, as `houston
//! worker`) for queued and periodic jobs, kept in the database's `jobs` table.
//!
//! - Queued jobs are rows; a change that causes one queues it in its own
//!   transaction (`enqueue_in`, in houston-sql's `shared/jobs.rs`).
//! - A periodic job is one row per job name (`unique_key`), queued by every
//!   replica at start (only the first insert lands) and rescheduled after each run.
//! - A worker claims due rows for a lease (`JobStore::claim_jobs`: `FOR UPDATE SKIP
//!   LOCKED` on PostgreSQL), so replicas share the work and never run one job
//!   twice at once; a claim whose worker died is claimed again after its lease.
//! - A failed run is retried with a growing delay until its attempts are used up,
//!   then kept as failed (`JobStore::failed_jobs`). A periodic job never fails for
//!   good: it runs again at its next time.

pub mod github;
pub mod judge;
pub mod notify;
pub mod prune;
pub mod retention;

use app::server::{ClaimedJob, JobEnd, NewJob, Store};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A job's work: given the claimed job, succeed or say why not.
pub type Handler = Arc<dyn Fn(ClaimedJob) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// Attempts a queued job gets unless its queuer says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// The delay before attempt `attempts + 1` of a failed job: 10 s, 20 s, 40 s, …
/// at most an hour.
pub fn retry_delay(attempts: u32) -> chrono::Duration {
    let secs = 10u64.saturating_mul(1u64 << attempts.saturating_sub(1).min(12));
    chrono::Duration::seconds(i64::try_from(secs.min(3600)).unwrap_or(3600))
}

/// How a run's result ends the claim: `every` is the period of a periodic job.
pub fn end_of_run(
    job: &ClaimedJob,
    result: Result<(), String>,
    every: Option<chrono::Duration>,
    now: DateTime<Utc>,
) -> JobEnd {
    match (result, every) {
        (Ok(()), None) => JobEnd::Done,
        (Ok(()), Some(every)) => JobEnd::Again { at: now + every },
        (Err(error), Some(every)) => JobEnd::Retry {
            at: now + every.min(retry_delay(job.attempts)),
            error,
        },
        (Err(error), None) if job.attempts >= job.max_attempts => JobEnd::Failed { error },
        (Err(error), None) => JobEnd::Retry {
            at: now + retry_delay(job.attempts),
            error,
        },
    }
}

/// Where the runner takes its settings from.
#[derive(Debug, Clone, Copy)]
pub struct RunnerSettings {
    /// How often an idle runner looks for due jobs.
    pub poll: Duration,
    /// How long a claim holds; a run longer than this is cut off.
    pub lease: Duration,
    /// Jobs claimed at once. They run one after another within one lease, so
    /// each gets only what is left of it.
    pub batch: u32,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(300),
            batch: 1,
        }
    }
}

/// The job runner of one process.
pub struct Runner {
    store: Arc<dyn Store>,
    worker: String,
    settings: RunnerSettings,
    handlers: HashMap<&'static str, Handler>,
    periodic: HashMap<&'static str, chrono::Duration>,
}

impl Runner {
    pub fn new(store: Arc<dyn Store>, settings: RunnerSettings) -> Self {
        Self {
            store,
            worker: worker_name(),
            settings,
            handlers: HashMap::new(),
            periodic: HashMap::new(),
        }
    }

    /// This runner's name in claims (`claimed_by`).
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Runs jobs of `kind` with `work`.
    pub fn handle<F, Fut>(mut self, kind: &'static str, work: F) -> Self
    where
        F: Fn(ClaimedJob) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.handlers
            .insert(kind, Arc::new(move |job| Box::pin(work(job))));
        self
    }

    /// Runs `work` every `every`, once across all replicas.
    pub fn every<F, Fut>(mut self, kind: &'static str, every: Duration, work: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::hours(1));
        self.periodic.insert(kind, every);
        self.handle(kind, move |_| work())
    }

    /// Queues each periodic job once (a replica that finds it queued adds nothing).
    pub async fn schedule_periodic(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        for kind in self.periodic.keys() {
            self.store
                .enqueue_job(
                    &NewJob {
                        kind: (*kind).to_owned(),
                        payload: "{}".into(),
                        run_at: now,
                        unique_key: Some(format!("periodic:{kind}")),
                        max_attempts: u32::MAX,
                    },
                    now,
                )
                .await?;
        }
        Ok(())
    }

    /// Claims one batch of due jobs and runs them; returns how many ran.
    pub async fn run_due(&self) -> anyhow::Result<usize> {
        let lease = chrono::Duration::from_std(self.settings.lease)?;
        let jobs = self
            .store
            .claim_jobs(&self.worker, Utc::now(), lease, self.settings.batch)
            .await?;
        let count = jobs.len();
        // Each run is cut off before the claim's lease ends, so no other worker
        // takes the job over while it still runs.
        let deadline = std::time::Instant::now() + self.settings.lease.mul_f64(0.9);
        for job in jobs {
            self.run_one(job, deadline).await?;
        }
        Ok(count)
    }

    async fn run_one(&self, job: ClaimedJob, deadline: std::time::Instant) -> anyhow::Result<()> {
        let kind = job.kind.clone();
        let result = match self.handlers.get(kind.as_str()) {
            None => Err(format!(
                "no handler for job kind {kind:?} in this version of Houston"
            )),
            Some(handler) => {
                let limit = deadline.saturating_duration_since(std::time::Instant::now());
                match tokio::time::timeout(limit, handler(job.clone())).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("{e:#}")),
                    Err(_) => Err(format!("did not finish within {limit:?}")),
                }
            }
        };
        if let Err(error) = &result {
            tracing::warn!(job = job.id, kind, attempts = job.attempts, %error, "job failed");
        }
        let now = Utc::now();
        let end = end_of_run(&job, result, self.periodic.get(kind.as_str()).copied(), now);
        if matches!(end, JobEnd::Failed { .. }) {
            tracing::error!(job = job.id, kind, "job gave up after its attempts");
        }
        if !self.store.end_job(job.id, &self.worker, &end, now).await? {
            tracing::warn!(
                job = job.id,
                kind,
                "job's claim was lost (its lease ran out)"
            );
        }
        Ok(())
    }

    /// Runs until `shutdown` completes: periodic jobs queued, then due jobs claimed
    /// and run, polling when there are none. Database errors are logged and
    /// retried after the poll interval.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tracing::info!(worker = %self.worker, "job runner started");
        let mut scheduled = false;
        tokio::pin!(shutdown);
        loop {
            let busy = async {
                if !scheduled {
                    self.schedule_periodic(Utc::now()).await?;
                    scheduled = true;
                }
                self.run_due().await
            };
            let ran = tokio::select! {
                _ = &mut shutdown => break,
                ran = busy => ran,
            };
            let pause = match ran {
                Ok(n) if n == self.settings.batch as usize => Duration::ZERO,
                Ok(_) => self.settings.poll,
                Err(e) => {
                    tracing::error!(error = %e, "job runner could not reach the database");
                    self.settings.poll
                }
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!(worker = %self.worker, "job runner stopped");
    }
}

/// The jobs every Houston runs.
pub fn standard(
    store: Arc<dyn Store>,
    config: &crate::config::Config,
    settings: RunnerSettings,
    judging: Judging,
) -> Runner {
    let session_idle = config.session_idle;
    let retention = config.signal_retention;
    let prune_store = store.clone();
    let retention_store = store.clone();
    let judge_store = store.clone();
    let github_store = store.clone();
    let github = config.github_api.clone().and_then(|api| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(|client| (api, client))
            .map_err(|e| tracing::error!(error = %e, "no HTTP client for GitHub: commit statuses stay unposted"))
            .ok()
    });
    let public_url = config.public_url.clone();
    let runner = Runner::new(store, settings)
        .every("prune", Duration::from_secs(600), move || {
            let store = prune_store.clone();
            async move {
                prune::run(store.as_ref(), Utc::now(), session_idle).await?;
                Ok(())
            }
        })
        .every("signal_retention", Duration::from_secs(300), move || {
            let store = retention_store.clone();
            async move {
                retention::run(store.as_ref(), Utc::now(), retention).await?;
                Ok(())
            }
        })
        .every("judge", JUDGE_EVERY, move || {
            let store = judge_store.clone();
            let judging = judging.clone();
            async move {
                judge::run_backlog(
                    store.as_ref(),
                    judging.source.as_deref(),
                    judging.on_verdict.as_ref(),
                    Utc::now(),
                )
                .await?;
                Ok(())
            }
        });
    match github {
        Some((api, client)) => runner.every("github_statuses", GITHUB_EVERY, move || {
            let (store, api, client, public_url) = (
                github_store.clone(),
                api.clone(),
                client.clone(),
                public_url.clone(),
            );
            async move {
                github::run(
                    store.as_ref(),
                    &api,
                    &client,
                    public_url.as_deref(),
                    Utc::now(),
                )
                .await?;
                Ok(())
            }
        }),
        None => runner,
    }
}

/// How often pull requests' `houston/gate` statuses are brought up to date.
pub const GITHUB_EVERY: Duration = Duration::from_secs(5);

/// How often the judge looks for deploys due a look: a final verdict is stored at
/// most this long (plus the runner's poll) after the bake's end.
pub const JUDGE_EVERY: Duration = Duration::from_secs(2);

/// What the judge reads from and whom it tells.
#[derive(Clone, Default)]
pub struct Judging {
    /// Prometheus, for metrics defined by a query.
    pub source: Option<Arc<dyn app::server::sources::SampleSource>>,
    /// Called with each deploy whose verdict changed.
    pub on_verdict: Option<judge::OnVerdict>,
}

/// A name for this process's claims: host, process id and a random part.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(attempts: u32, max_attempts: u32) -> ClaimedJob {
        ClaimedJob {
            id: 1,
            kind: "k".into(),
            payload: "{}".into(),
            unique_key: None,
            attempts,
            max_attempts,
        }
    }

    #[test]
    fn retries_grow_and_stop_at_an_hour() {
        assert_eq!(retry_delay(1), chrono::Duration::seconds(10));
        assert_eq!(retry_delay(2), chrono::Duration::seconds(20));
        assert_eq!(retry_delay(4), chrono::Duration::seconds(80));
        assert_eq!(retry_delay(40), chrono::Duration::hours(1));
    }

    #[test]
    fn a_run_ends_its_claim_by_its_result_and_kind() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(end_of_run(&job(1, 5), Ok(()), None, now), JobEnd::Done);
        assert_eq!(
            end_of_run(&job(1, 5), Ok(()), Some(hour), now),
            JobEnd::Again { at: now + hour }
        );
        assert_eq!(
            end_of_run(&job(2, 5), Err("x".into()), None, now),
            JobEnd::Retry {
                at: now + chrono::Duration::seconds(20),
                error: "x".into()
            }
        );
        assert_eq!(
            end_of_run(&job(5, 5), Err("x".into()), None, now),
            JobEnd::Failed { error: "x".into() }
        );
        // A periodic job never fails for good, and retries no later than its period.
        assert_eq!(
            end_of_run(
                &job(99, u32::MAX),
                Err("x".into()),
                Some(chrono::Duration::seconds(30)),
                now
            ),
            JobEnd::Retry {
                at: now + chrono::Duration::seconds(30),
                error: "x".into()
            }
        );
    }
}

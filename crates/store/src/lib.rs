//! The storage contract: one trait per aggregate under the [`Store`] supertrait, its
//! records and its one error, [`StoreError`]. `houston-sql` implements it for SQLite
//! and PostgreSQL, and one contract suite checks both.
//!
//! Depends on the core and nothing of the web: no Leptos, no axum, no sqlx.

use chrono::{DateTime, Utc};
use houston_core::{
    Actor, Alert, AlertFilter, AlertReport, AuditEntry, AuditFilter, Board, DefinitionChange,
    DeliveryWork, Deploy, DeployDetail, DeployFilter, DeployId, DeployPage, Environment,
    EnvironmentName, ErrorBatch, ErrorGroup, ErrorsRead, GroupName, LoginLimits, MetricBatch,
    MetricDefinition, MetricName, NewApiToken, NewDeploy, PageRequest, Role, Sample, SeriesRead,
    Service, ServiceName, StatusChange, StatusDecision, User, Username,
};
use houston_core::{Evaluation, ServiceTiming, TimingChange, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("storage backend: {0}")]
    Backend(String),
}

/// The result of registering a deploy: the stored deploy, and whether this call
/// created it (`false` when an earlier registration with the same external id won).
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub deploy: Deploy,
    pub created: bool,
}

pub use houston_core::ApiToken;

/// The answer to a sign-in attempt's reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReservation {
    /// Too many attempts: refuse without checking, until `until`.
    Locked { until: DateTime<Utc> },
    /// Counted; `account_failures` attempts on this account (from any address)
    /// were already in the window.
    Reserved { id: i64, account_failures: u32 },
}

/// An account's second factor as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecondFactor {
    /// The TOTP secret (base32) when the second factor is on.
    pub secret: Option<String>,
    /// The secret of an enrolment waiting for its first code.
    pub pending: Option<String>,
}

/// Where pruning cuts: rows older than these go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneCutoffs {
    pub now: DateTime<Utc>,
    pub sessions_idle_before: DateTime<Utc>,
    pub deliveries_before: DateTime<Utc>,
    pub attempts_before: DateTime<Utc>,
    /// Verdict messages queued before this, delivered or failed (pending ones stay).
    pub messages_before: DateTime<Utc>,
}

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    pub sessions: u64,
    pub deliveries: u64,
    pub attempts: u64,
    pub messages: u64,
}

/// A job to queue (see `server/src/jobs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Which handler runs it (`prune`, …).
    pub kind: String,
    /// The handler's input, as JSON.
    pub payload: String,
    /// When it may run first.
    pub run_at: DateTime<Utc>,
    /// At most one queued job per key (a periodic job's name).
    pub unique_key: Option<String>,
    /// Claims before it is given up as failed.
    pub max_attempts: u32,
}

/// A job a worker claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub unique_key: Option<String>,
    /// Claims so far, this one included.
    pub attempts: u32,
    pub max_attempts: u32,
}

/// How a claimed job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// Done: the job is deleted.
    Done,
    /// Done, and due again at `at` with its attempts reset (periodic jobs).
    Again { at: DateTime<Utc> },
    /// Failed this time; tried again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// Failed for good: kept, with the error, for people to look at.
    Failed { error: String },
}

/// A job given up after its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub failed_at: DateTime<Utc>,
}

/// Sessions one person may hold at once (browsers, devices); signing in again
/// beyond this ends the oldest.
pub const MAX_SESSIONS_PER_USER: i64 = 10;

/// What a status report did to a deploy: the deploy as it now stands, and the
/// decision of the one status rule (`houston_core::decide_status`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusOutcome {
    pub deploy: Deploy,
    pub decision: StatusDecision,
}

/// What one webhook delivery did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The delivery id was handled before; nothing changed.
    Duplicate,
    Registered(Registration),
    Status(StatusOutcome),
}

/// Deploys, their services and environments, and the board.
#[async_trait::async_trait]
pub trait DeployStore: Send + Sync {
    /// Stores a deploy with its commits, creating its service and environment on
    /// first sight. A registration whose `external_id` is already stored returns
    /// the stored deploy unchanged. When `previous_version` is empty it becomes
    /// the version of the latest earlier succeeded deploy to the same place.
    /// Records `by` as who registered it and `deploy.register` in the audit log,
    /// in the same transaction.
    async fn register_deploy(
        &self,
        new: &NewDeploy,
        by: &Actor,
    ) -> Result<Registration, StoreError>;

    /// Stores many deploys in one transaction, for demo data and imports:
    /// services and environments created on first sight, deploys whose external id
    /// is already stored skipped, commits kept (for deploys with an external id,
    /// which is how they are matched to their rows). `previous_version` is stored as
    /// given (no lookup), and one `deploy.import` entry records the batch in the
    /// audit log. Returns how many deploys were new.
    async fn import_deploys(&self, deploys: &[NewDeploy], by: &Actor) -> Result<u64, StoreError>;

    async fn find_deploy_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Deploy>, StoreError>;

    /// Applies a status report under the one status rule, decided inside the
    /// transaction that applies it (the deploy's row is locked meanwhile); an
    /// applied or refused change is audited with `by`. `NotFound` when there is no
    /// such deploy.
    async fn change_deploy_status(
        &self,
        id: DeployId,
        change: &StatusChange,
        by: &Actor,
    ) -> Result<StatusOutcome, StoreError>;

    async fn get_deploy(&self, id: DeployId) -> Result<DeployDetail, StoreError>;

    /// Deploys matching `filter`, newest first (`started_at DESC, id DESC`).
    async fn list_deploys(
        &self,
        filter: &DeployFilter,
        page: &PageRequest,
    ) -> Result<DeployPage, StoreError>;

    async fn list_services(&self) -> Result<Vec<Service>, StoreError>;

    /// Environments in stage order.
    async fn list_environments(&self) -> Result<Vec<Environment>, StoreError>;

    /// Every service × environment with the latest deploy there.
    async fn board(&self) -> Result<Board, StoreError>;
}

/// Webhook deliveries: claimed once, applied in the same transaction.
#[async_trait::async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Claims the delivery id and does its work in one transaction, so a crash
    /// between the two loses nothing and a repeated delivery changes nothing.
    async fn apply_webhook_delivery(
        &self,
        delivery_id: Option<&str>,
        work: &DeliveryWork,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<DeliveryOutcome, StoreError>;
}

/// API tokens.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a token and records `token.create` in the audit log, in one
    /// transaction; `Conflict` when an active token has that name.
    async fn create_api_token(
        &self,
        new: &NewApiToken,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, StoreError>;

    /// The token with this hash when it works at `now`: not revoked, not expired,
    /// and its owner (if a person made it) not disabled. A read: the last-used time
    /// is written at most once a minute, and unknown tokens write nothing.
    async fn authenticate_api_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiToken>, StoreError>;

    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes the active token called `name` and records `token.revoke` with the
    /// reason given, in one transaction; `NotFound` when there is none.
    async fn revoke_api_token(
        &self,
        name: &str,
        by: &Actor,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, StoreError>;
}

/// The append-only audit log.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one entry to the audit log on its own: for events that change
    /// nothing else (security events, sign-out).
    async fn append_audit(
        &self,
        by: &Actor,
        action: &str,
        target: &str,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Audit entries matching `filter`, newest first. The log is append-only: the
    /// database refuses UPDATE and DELETE on it.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Accounts: people, their roles, passwords and second factors.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account and records `user.create`, in one transaction; `Conflict`
    /// when the name is taken.
    async fn create_user(
        &self,
        username: &Username,
        password_hash: &str,
        role: Role,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    async fn count_users(&self) -> Result<i64, StoreError>;

    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// The account and its password hash, for checking a login.
    async fn find_login(&self, username: &Username) -> Result<Option<(User, String)>, StoreError>;

    /// Creates the first account, an admin, and records `user.create`; `Conflict`
    /// when any account exists (two set-up attempts racing: one wins).
    async fn create_first_admin(
        &self,
        username: &Username,
        password_hash: &str,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    /// Changes an account's role and records `user.role`; `NotFound` when there is
    /// no such account.
    async fn set_user_role(
        &self,
        username: &Username,
        role: Role,
        by: &Actor,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    /// Disables (ending its sessions) or enables an account and records
    /// `user.disable` / `user.enable`.
    async fn set_user_disabled(
        &self,
        username: &Username,
        disabled: bool,
        by: &Actor,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    /// Replaces an account's password hash and records `user.password`; ends the
    /// account's sessions except `keep_session` (the one changing its own
    /// password stays signed in). `NotFound` when there is no such account.
    async fn set_password(
        &self,
        username: &Username,
        password_hash: &str,
        keep_session: Option<&str>,
        by: &Actor,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    /// Stores the secret of a second-factor enrolment that waits for its first
    /// code (replacing an earlier unconfirmed one).
    async fn begin_second_factor(&self, user_id: i64, secret: &str) -> Result<(), StoreError>;

    /// An account's second-factor state, for sign-in and enrolment.
    async fn second_factor(&self, user_id: i64) -> Result<SecondFactor, StoreError>;

    /// Turns the pending enrolment on with its recovery codes (stored hashed) and
    /// records `user.second_factor_on`; `Conflict` when nothing is pending.
    async fn enable_second_factor(
        &self,
        user_id: i64,
        recovery_code_hashes: &[String],
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Uses a time step of the account's TOTP: `false` when that step (or a
    /// later one) was used before, so every code works once.
    async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError>;

    /// Uses a recovery code: `false` when it is unknown or used.
    async fn use_recovery_code(
        &self,
        user_id: i64,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Turns the second factor off (and forgets recovery codes), recording
    /// `user.second_factor_off` with the reason; `NotFound` without such account.
    async fn disable_second_factor(
        &self,
        username: &Username,
        by: &Actor,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// Settings an admin changes at run time, shared by replicas.
#[async_trait::async_trait]
pub trait SettingStore: Send + Sync {
    /// A setting's stored value (see `access::SecondFactorRule::KEY`).
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Stores a setting and records `settings.change` with the reason, in one
    /// transaction.
    async fn set_setting(
        &self,
        key: &str,
        value: &str,
        by: &Actor,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// Browser sessions and the sign-in attempts that precede them.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a session under the hash of its id and records `session.login`, in
    /// one transaction. A person keeps at most `MAX_SESSIONS_PER_USER` sessions: the
    /// oldest go.
    async fn create_session(
        &self,
        id_hash: &str,
        user: &User,
        expires_at: DateTime<Utc>,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Counts a sign-in attempt before its password is checked, in one
    /// transaction with the check of the limits (replicas and parallel attempts
    /// cannot slip past it): `Locked` when this (account, address) pair or this
    /// address has used up its attempts in the window, otherwise the attempt is
    /// stored and `Reserved` says how many failures the account has from all
    /// addresses. A successful sign-in clears its reservation.
    async fn reserve_login_attempt(
        &self,
        username: &str,
        address: &str,
        now: DateTime<Utc>,
        limits: &LoginLimits,
    ) -> Result<LoginReservation, StoreError>;

    /// Forgets a reserved attempt whose password was right.
    async fn clear_login_attempt(&self, id: i64) -> Result<(), StoreError>;

    /// The user of a session that has not expired at `now` and was last seen after
    /// `idle_since`, whose account is enabled. Marks the session seen at most once a
    /// minute, so reading a page is not a write each time.
    async fn session_user(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle_since: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
}

/// Background work: the job queue and pruning.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync {
    /// Deletes what is no longer needed: sessions expired or idle before
    /// `sessions_idle_before`, webhook delivery ids received before
    /// `deliveries_before`, sign-in attempts before `attempts_before`.
    async fn prune(&self, cutoffs: &PruneCutoffs) -> Result<PruneCounts, StoreError>;

    /// Refreshes the query planner's statistics, after a bulk load (PostgreSQL's
    /// autovacuum gets there too, later; SQLite has no such thing on its own).
    async fn refresh_statistics(&self) -> Result<(), StoreError>;

    /// Queues a job; `None` when a job with the same `unique_key` is already
    /// queued (periodic jobs are queued once this way, by every replica).
    async fn enqueue_job(
        &self,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError>;

    /// Claims up to `limit` due jobs for `worker` until `now + lease`: jobs whose
    /// `run_at` has come, not failed, and not claimed (or whose claim's lease ran
    /// out: its worker died). Several workers, on several replicas, never claim
    /// the same job at once (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has
    /// one writer). Each claim counts an attempt.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, StoreError>;

    /// Ends `worker`'s claim on a job as `end` says; `false` when the claim was
    /// lost (its lease ran out and another worker claimed the job).
    async fn end_job(
        &self,
        id: i64,
        worker: &str,
        end: &JobEnd,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Jobs that used up their attempts, newest first, for people to look at.
    async fn failed_jobs(&self, limit: u32) -> Result<Vec<FailedJob>, StoreError>;
}

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalPruneCounts {
    pub samples: u64,
    pub error_events: u64,
    pub alerts: u64,
}

impl SignalPruneCounts {
    pub fn total(&self) -> u64 {
        self.samples + self.error_events + self.alerts
    }
}

/// What alert reports did: how many alerts were new, how many changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertCounts {
    pub opened: u64,
    pub updated: u64,
    pub resolved: u64,
    /// Resolved alerts firing again.
    pub reopened: u64,
}

impl AlertCounts {
    pub fn count(&mut self, change: AlertChange) {
        match change {
            AlertChange::Opened => self.opened += 1,
            AlertChange::Updated => self.updated += 1,
            AlertChange::Resolved => self.resolved += 1,
            AlertChange::Reopened => self.reopened += 1,
            AlertChange::Repeat => {}
        }
    }
}

/// What one alert report does to the stored alert of the same fingerprint and start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertChange {
    /// New (firing, or first heard of already resolved: counted as resolved).
    Opened,
    /// Firing, heard of again.
    Updated,
    Resolved,
    /// Resolved, and firing again: the last word is Alertmanager's.
    Reopened,
    /// Resolved, and resolved again: nothing changes.
    Repeat,
}

impl AlertChange {
    /// `was`: the stored state (`None`: first heard of).
    pub fn of(was: Option<houston_core::AlertState>, now: houston_core::AlertState) -> Self {
        use houston_core::AlertState::{Firing, Resolved};
        match (was, now) {
            (None, Firing) => AlertChange::Opened,
            (None | Some(Firing), Resolved) => AlertChange::Resolved,
            (Some(Firing), Firing) => AlertChange::Updated,
            (Some(Resolved), Firing) => AlertChange::Reopened,
            (Some(Resolved), Resolved) => AlertChange::Repeat,
        }
    }

    /// The audit log's action for it, when it is one a person reviewing an incident
    /// must be able to trace to its sender.
    pub fn audited_as(self) -> Option<&'static str> {
        match self {
            AlertChange::Resolved => Some("alert.resolve"),
            AlertChange::Reopened => Some("alert.reopen"),
            _ => None,
        }
    }
}

/// Signals: metric samples, error events and alerts.
#[async_trait::async_trait]
pub trait SignalStore: Send + Sync {
    /// Stores a batch of samples in one transaction, creating services,
    /// environments and series on first sight: one sample per series and time, a
    /// sample sent again replaces the stored value. Returns the samples written.
    async fn store_samples(
        &self,
        batch: &MetricBatch,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// One series' samples within the window, oldest first, at most `limit`
    /// (the caller asks for one more than it answers to tell a window too wide).
    async fn read_samples(&self, read: &SeriesRead, limit: u32) -> Result<Vec<Sample>, StoreError>;

    /// The metrics (and their groups) with samples for a service in an
    /// environment at or after `since`, by name.
    async fn series_of(
        &self,
        service: &ServiceName,
        environment: &EnvironmentName,
        since: DateTime<Utc>,
    ) -> Result<Vec<(MetricName, Option<GroupName>)>, StoreError>;

    /// Stores error events in one transaction: groups created on first sight
    /// (keeping their first time), an event sent again replaces its count.
    /// Returns the occurrences the batch stands for.
    async fn store_error_events(
        &self,
        batch: &ErrorBatch,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Error groups of a place with occurrences in the window, most frequent first.
    async fn error_groups(&self, read: &ErrorsRead) -> Result<Vec<ErrorGroup>, StoreError>;

    /// Occurrences of errors (levels `error` and `fatal`) at a place, summed per bin of
    /// `bin` counted from the window's start: `(bin index, occurrences)` for the bins
    /// that have any, in order.
    async fn error_counts(
        &self,
        read: &ErrorsRead,
        bin: chrono::Duration,
    ) -> Result<Vec<(i64, u64)>, StoreError>;

    /// Records alert reports from `by` (the alert source's token) in one
    /// transaction: a new firing is opened, a known one refreshed, a resolution
    /// closes it and names `by` as who resolved it, and a firing for a resolved
    /// alert reopens it (Alertmanager repeats "firing" only while the alert fires, so
    /// a forged or stale "resolved" does not stick). Resolutions and reopenings are
    /// audited in the same transaction.
    async fn record_alerts(
        &self,
        reports: &[AlertReport],
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<AlertCounts, StoreError>;

    /// Alerts matching the filter, newest first, at most `limit`.
    async fn list_alerts(&self, filter: &AlertFilter, limit: u32)
    -> Result<Vec<Alert>, StoreError>;

    /// Deletes at most `batch` samples, error events and resolved alerts older
    /// than `before`, series by series, in short transactions: ingest never waits
    /// long. Call again while it returns a full batch.
    async fn prune_signals(
        &self,
        before: DateTime<Utc>,
        batch: u32,
    ) -> Result<SignalPruneCounts, StoreError>;
}

/// Metric definitions: what Houston watches, shared by replicas.
#[async_trait::async_trait]
pub trait DefinitionStore: Send + Sync {
    /// Every definition, by name.
    async fn list_metric_definitions(&self) -> Result<Vec<MetricDefinition>, StoreError>;

    /// Applies the changes in one transaction, each recorded in the audit log
    /// (`metric.create`, `metric.update`, `metric.delete`) with its description.
    async fn apply_definition_changes(
        &self,
        changes: &[DefinitionChange],
        by: &Actor,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The judge's timings per service (and environments), by key.
    async fn list_service_timings(&self) -> Result<Vec<ServiceTiming>, StoreError>;

    /// Applies the changes in one transaction, each audited (`service.timing.set`,
    /// `service.timing.delete`) with its description.
    async fn apply_timing_changes(
        &self,
        changes: &[TimingChange],
        by: &Actor,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// The judge's verdicts: its queue (one row per deploy it follows, due at
/// `next_look_at`) and what it decided, with the receipt.
#[async_trait::async_trait]
pub trait VerdictStore: Send + Sync {
    /// Claims up to `limit` verdicts that are not final and are due at `now`, for
    /// `lease`; a claim whose lease ran out (its worker died) can be claimed again.
    /// Replicas never hold the same deploy at once (SKIP LOCKED on PostgreSQL).
    async fn claim_due_verdicts(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<DeployId>, StoreError>;

    /// The deploy's verdict, `None` when the judge does not follow it.
    async fn get_verdict(&self, deploy: DeployId) -> Result<Option<Verdict>, StoreError>;

    /// Stores a look's outcome and releases the claim; `decided_at` is set when it
    /// turns final. A final verdict is never changed by a look. Returns whether what
    /// pages show changed (the states, the rule or the headline): `false` for a look
    /// that only waited, or at a final verdict. When
    /// the look calls for a message (`notify::notice_for`), one per webhook URL in the
    /// `notifications.webhooks` setting is queued in the same transaction.
    async fn save_evaluation(
        &self,
        deploy: DeployId,
        evaluation: &Evaluation,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Sets a lead's verdict over the judge's (which stays), audited as
    /// `verdict.override` with the reason, in one transaction. `NotFound` when the
    /// judge does not follow the deploy.
    async fn override_verdict(
        &self,
        deploy: DeployId,
        state: houston_core::VerdictState,
        reason: &str,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// When the next deploy of the same service and environment started, if one did
    /// after this one.
    async fn next_deploy_start(
        &self,
        deploy: DeployId,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Claims up to `limit` messages due for delivery at `now`, for `lease`, counting
    /// the attempt; replicas never hold one at once.
    async fn claim_due_notifications(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<houston_core::Notification>, StoreError>;

    /// Records how a claimed attempt went: delivered, failed for good, or (with
    /// `retry_at`) due again then.
    async fn record_delivery(
        &self,
        id: i64,
        outcome: Result<(), String>,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The receipts of the latest `limit` final verdicts (by deploy, newest first).
    async fn recent_receipts(
        &self,
        limit: u32,
    ) -> Result<Vec<houston_core::VerdictReceipt>, StoreError>;

    /// The latest messages, newest first.
    async fn list_notifications(
        &self,
        limit: u32,
    ) -> Result<Vec<houston_core::Notification>, StoreError>;
}

/// What placing a lock did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    Placed(houston_core::Lock),
    /// A lock in force already covers the scope: this one.
    AlreadyLocked(houston_core::Lock),
}

/// A freeze window as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeWindow {
    pub id: i64,
    pub name: String,
    pub note: Option<String>,
    pub scope: houston_core::LockScope,
    pub schedule: houston_core::freeze::Schedule,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// One count of the gate's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateCount {
    pub day: chrono::NaiveDate,
    pub environment: String,
    pub allowed: bool,
    pub rule: String,
    pub count: i64,
}

/// An open (or closed) pull request of a linked repository, with the `houston/gate`
/// status last posted on its head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// `owner/name`.
    pub repository: String,
    pub number: i64,
    pub head_sha: String,
    pub base_ref: String,
    pub is_open: bool,
    /// GitHub's time of the pull request's last change: an older event changes nothing.
    pub updated_at: DateTime<Utc>,
    pub posted_state: Option<String>,
    pub posted_description: Option<String>,
}

/// Locks, freeze windows, overrides and the gate's counts.
#[async_trait::async_trait]
pub trait LockStore: Send + Sync {
    /// Places a lock, unless one in force at `now` already covers its scope (that one
    /// is returned). Audited as `lock.place` in the same transaction.
    async fn place_lock(
        &self,
        new: &houston_core::NewLock,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<LockOutcome, StoreError>;

    /// Ends a lock in force, recording who, when and the note; audited as
    /// `lock.unlock`. `NotFound` for no such lock, `Conflict` when it already ended.
    async fn unlock(
        &self,
        id: i64,
        note: Option<&str>,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<houston_core::Lock, StoreError>;

    async fn get_lock(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<houston_core::Lock>, StoreError>;

    /// Locks by the filter, newest first; `active` is judged at `now`.
    async fn list_locks(
        &self,
        filter: &houston_core::LockFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<houston_core::Lock>, StoreError>;

    /// Grants a break-glass override; audited as `override.grant`.
    async fn grant_override(
        &self,
        new: &houston_core::NewBreakGlass,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<houston_core::Override, StoreError>;

    /// The latest overrides, newest first.
    async fn list_overrides(&self, limit: u32) -> Result<Vec<houston_core::Override>, StoreError>;

    /// Reserves override `id` for `claimant` if, at `now`, it is unspent, unexpired
    /// and unclaimed (or already held by the same claimant): one conditional UPDATE,
    /// so of any number of racing claims exactly one wins. Audited as `override.claim`
    /// when newly claimed. Returns whether `claimant` holds it.
    async fn claim_override(
        &self,
        id: i64,
        claimant: &houston_core::Claimant,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Every freeze window, by name.
    async fn list_freezes(&self) -> Result<Vec<FreezeWindow>, StoreError>;

    /// Creates (`id` none) or replaces a window; audited as `freeze.create` /
    /// `freeze.update`. Returns its id; `NotFound` for an unknown id.
    async fn save_freeze(
        &self,
        id: Option<i64>,
        header: &houston_core::FreezeHeader,
        schedule: &houston_core::freeze::Schedule,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Deletes a window; audited as `freeze.delete`. `NotFound` for an unknown id.
    async fn delete_freeze(
        &self,
        id: i64,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Adds counted gate answers (counted in memory, written in batches) to their
    /// day, environment, outcome and rule, in one transaction.
    async fn add_gate_counts(&self, counts: &[GateCount]) -> Result<(), StoreError>;

    /// The latest deploy of `version` to the place (the promotion rule's record).
    async fn latest_deploy_of_version(
        &self,
        service: &ServiceName,
        environment: &EnvironmentName,
        version: &str,
    ) -> Result<Option<Deploy>, StoreError>;

    /// The gate's counts from `since` on.
    async fn gate_counts(&self, since: chrono::NaiveDate) -> Result<Vec<GateCount>, StoreError>;

    /// Records a pull request as GitHub last described it (an event older than the
    /// stored one changes nothing); a new head commit needs its status posted again.
    async fn upsert_pull_request(&self, pull: &PullRequest) -> Result<(), StoreError>;

    /// The open pull requests of a repository.
    async fn open_pull_requests(&self, repository: &str) -> Result<Vec<PullRequest>, StoreError>;

    /// Notes the status posted on a pull request's head commit (unless the head moved
    /// on meanwhile).
    async fn record_status_posted(
        &self,
        repository: &str,
        number: i64,
        head_sha: &str,
        state: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// What a change-feed listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    /// A change some replica published.
    Change(String),
    /// The listener lost its connection for a while and may have missed changes.
    Gap,
}

/// Changes every replica hears: on PostgreSQL through LISTEN/NOTIFY, so a page
/// served by one replica hears of a change made through another. SQLite serves
/// one process and has no feed; changes stay in the process.
#[async_trait::async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Sends `payload` to every replica's listener (this one's too); `false` when
    /// the backend has no shared feed.
    async fn publish_change(&self, payload: &str) -> Result<bool, StoreError>;

    /// Starts listening: what every replica publishes arrives on the receiver
    /// until it is dropped. `None` when the backend has no shared feed.
    async fn listen_changes(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<FeedItem>>, StoreError>;
}

/// What recording an incident report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecorded {
    pub incident: houston_core::Incident,
    pub change: houston_core::IncidentChange,
}

/// Incidents: reported by an incident tool or declared by a person, one row per
/// incident (its source and the source's id), every change of state audited in its
/// own transaction.
#[async_trait::async_trait]
pub trait IncidentStore {
    /// Opens the incident the report names, or moves it to the report's state
    /// (`IncidentChange::of`); its title, severity, places and link take the report's.
    async fn record_incident(
        &self,
        report: &houston_core::IncidentReport,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<IncidentRecorded, StoreError>;

    async fn get_incident(&self, id: i64) -> Result<houston_core::Incident, StoreError>;

    /// Incidents, newest opened first; `open_only`: those not resolved.
    async fn list_incidents(
        &self,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<houston_core::Incident>, StoreError>;

    /// Error groups first seen and alerts started between `from` and `to`: what the
    /// suspects of an incident are weighed by.
    async fn incident_evidence(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<houston_core::IncidentEvidence, StoreError>;

    /// A person's word on whether deploy `deploy` caused incident `incident`; a later
    /// word replaces the earlier one. Audited (`incident.cause_confirm`,
    /// `incident.cause_reject`) in the same transaction. `NotFound` when either is
    /// missing.
    async fn decide_cause(
        &self,
        incident: i64,
        deploy: DeployId,
        decision: houston_core::CauseDecision,
        note: Option<&str>,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<houston_core::IncidentCause, StoreError>;

    /// The words given on an incident's suspects.
    async fn incident_causes(
        &self,
        incident: i64,
    ) -> Result<Vec<houston_core::IncidentCause>, StoreError>;

    /// What the timeline shows from `from` to `to`: deploys started in it, or in the
    /// six hours before with their verdict landing in it, alerts, locks and incidents
    /// that overlap it, overrides granted or spent in it; at most `limit` of each
    /// kind, the earliest first (`truncated` when one kind had more). Freeze windows
    /// are schedules, not rows: the caller adds their periods.
    async fn timeline_facts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<houston_core::TimelineFacts, StoreError>;
}

/// The whole store: every aggregate, on one backend. Callers hold an
/// `Arc<dyn Store>`; a trait object answers the methods of every aggregate.
#[async_trait::async_trait]
pub trait Store:
    DeployStore
    + DeliveryStore
    + TokenStore
    + AuditStore
    + AccountStore
    + SettingStore
    + SessionStore
    + JobStore
    + SignalStore
    + DefinitionStore
    + VerdictStore
    + LockStore
    + IncidentStore
    + ChangeFeed
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<(), StoreError>;
}

//! Locks, freeze windows, overrides and the gate's counts, written once for both
//! databases (see `crate::shared`); placing a lock first runs the dialect's
//! `SERIALIZE_LOCKS`. `through_lock_in!` is what a registration asks inside its own
//! transaction.

use chrono::{DateTime, Utc};
use houston_core::{EnvironmentName, Lock, Override, ServiceName};
use houston_store::{FreezeWindow, StoreError};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {value:?} is not valid"))
}

fn environment(raw: Option<String>) -> Result<Option<EnvironmentName>, StoreError> {
    raw.map(|e| EnvironmentName::parse(&e).map_err(|_| corrupt("environment", &e)))
        .transpose()
}

fn service(raw: Option<String>) -> Result<Option<ServiceName>, StoreError> {
    raw.map(|s| ServiceName::parse(&s).map_err(|_| corrupt("service", &s)))
        .transpose()
}

/// The columns of `locks` that make a `LockRow`.
pub const LOCK_COLUMNS: &str = "id, environment, service, reason, locked_by, locked_at, \
     expires_at, unlocked_by, unlocked_at, unlock_note";

/// In force at $1: not unlocked, not expired.
pub const IN_FORCE: &str = "unlocked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)";

#[derive(sqlx::FromRow)]
pub struct LockRow {
    id: i64,
    environment: Option<String>,
    service: Option<String>,
    reason: String,
    locked_by: String,
    locked_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    unlocked_by: Option<String>,
    unlocked_at: Option<DateTime<Utc>>,
    unlock_note: Option<String>,
}

impl LockRow {
    pub fn into_lock(self, now: DateTime<Utc>) -> Result<Lock, StoreError> {
        let mut lock = Lock {
            id: self.id,
            environment: environment(self.environment)?,
            service: service(self.service)?,
            reason: self.reason,
            locked_by: self.locked_by,
            locked_at: self.locked_at,
            expires_at: self.expires_at,
            unlocked_by: self.unlocked_by,
            unlocked_at: self.unlocked_at,
            unlock_note: self.unlock_note,
            active: false,
        };
        lock.active = lock.in_force(now);
        Ok(lock)
    }
}

/// The columns of `lock_overrides` that make an `OverrideRow`.
pub const OVERRIDE_COLUMNS: &str = "id, service, environment, version, reason, granted_by, \
     granted_at, expires_at, used_by, used_at, breaks, claimed_run, claimed_version, claimed_by, \
     claimed_at";

#[derive(sqlx::FromRow)]
pub struct OverrideRow {
    id: i64,
    service: String,
    environment: String,
    version: Option<String>,
    reason: String,
    granted_by: String,
    granted_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_by: Option<i64>,
    used_at: Option<DateTime<Utc>>,
    breaks: String,
    claimed_run: Option<String>,
    claimed_version: Option<String>,
    claimed_by: Option<String>,
    claimed_at: Option<DateTime<Utc>>,
}

impl TryFrom<OverrideRow> for Override {
    type Error = StoreError;

    fn try_from(row: OverrideRow) -> Result<Self, StoreError> {
        Ok(Override {
            id: row.id,
            service: ServiceName::parse(&row.service)
                .map_err(|_| corrupt("service", &row.service))?,
            environment: EnvironmentName::parse(&row.environment)
                .map_err(|_| corrupt("environment", &row.environment))?,
            version: row.version,
            reason: row.reason,
            granted_by: row.granted_by,
            granted_at: row.granted_at,
            expires_at: row.expires_at,
            used_by: row.used_by,
            used_at: row.used_at,
            breaks: houston_core::GateRule::parse_stored(&row.breaks)
                .ok_or_else(|| corrupt("override rules", &row.breaks))?,
            claim: match (row.claimed_run, row.claimed_by, row.claimed_at) {
                (Some(run), Some(by), Some(at)) => Some(houston_core::OverrideClaim {
                    run,
                    version: row.claimed_version,
                    by,
                    at,
                }),
                _ => None,
            },
        })
    }
}

/// The columns of `freeze_windows` that make a `FreezeRow`.
pub const FREEZE_COLUMNS: &str =
    "id, name, note, environment, service, schedule, updated_by, updated_at";

#[derive(sqlx::FromRow)]
pub struct FreezeRow {
    id: i64,
    name: String,
    note: Option<String>,
    environment: Option<String>,
    service: Option<String>,
    schedule: String,
    updated_by: String,
    updated_at: DateTime<Utc>,
}

impl TryFrom<FreezeRow> for FreezeWindow {
    type Error = StoreError;

    fn try_from(row: FreezeRow) -> Result<Self, StoreError> {
        Ok(FreezeWindow {
            id: row.id,
            name: row.name,
            note: row.note,
            scope: houston_core::LockScope {
                environment: environment(row.environment)?,
                service: service(row.service)?,
            },
            schedule: serde_json::from_str(&row.schedule)
                .map_err(|_| corrupt("freeze schedule", &row.schedule))?,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
        })
    }
}

/// What stands in the way of a deploy to a place at `now`, each with its rule: the
/// locks in force and the active windows that cover it, then `others` (what the
/// gate said besides, read before the registration's transaction). Empty: nothing.
pub fn obstacles(
    locks: &[Lock],
    windows: &[FreezeWindow],
    others: &[houston_core::GateReason],
    now: DateTime<Utc>,
) -> Vec<(houston_core::GateRule, String)> {
    use houston_core::GateRule;
    let mut said: Vec<(GateRule, String)> =
        locks.iter().map(|l| (GateRule::Lock, l.said())).collect();
    said.extend(
        windows
            .iter()
            .filter(|w| w.schedule.active_at(now).is_some())
            .map(|w| {
                (
                    GateRule::Freeze,
                    houston_core::freeze_said(&w.name, w.note.as_deref()),
                )
            }),
    );
    said.extend(
        others
            .iter()
            .filter(|r| r.blocks() && !matches!(r.rule, GateRule::Lock | GateRule::Freeze))
            .map(|r| (r.rule, r.detail.clone())),
    );
    said
}

/// The override a deploy of `version` spends when `rules` block it: one that breaks
/// them all and is unclaimed or claimed for that version; a claimed one first, then
/// one for this version, then the oldest.
pub fn spendable<'a>(
    candidates: &'a [Override],
    rules: &[houston_core::GateRule],
    version: &str,
) -> Vec<&'a Override> {
    let mut fit: Vec<&Override> = candidates
        .iter()
        .filter(|o| o.breaks_all(rules) && o.spendable_by(version))
        .collect();
    fit.sort_by_key(|o| (o.claim.is_none(), o.version.is_none(), o.granted_at, o.id));
    fit
}

/// Inside a registration's transaction (`$tx`): when the deploy's place is locked or
/// frozen at `$now`, spends a matching override (audited `override.use`) or marks the
/// deploy as deployed through a lock (audited `deploy.through_lock`).
macro_rules! through_lock_in {
    ($tx:expr, $id:expr, $new:expr, $by:expr, $now:expr) => {{
        let now: chrono::DateTime<chrono::Utc> = $now;
        let new: &houston_core::NewDeploy = $new;
        let id: i64 = $id;
        let locks: Vec<$crate::shared::locks::LockRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM locks WHERE {} AND (environment IS NULL OR environment = $2) \
               AND (service IS NULL OR service = $3) ORDER BY locked_at, id",
                $crate::shared::locks::LOCK_COLUMNS,
                $crate::shared::locks::IN_FORCE
            )))
            .bind(now)
            .bind(new.environment.as_str())
            .bind(new.service.as_str())
            .fetch_all(&mut **$tx)
            .await
            .map_err($crate::backend_error)?;
        let locks = locks
            .into_iter()
            .map(|row| row.into_lock(now))
            .collect::<Result<Vec<_>, _>>()?;
        let windows: Vec<$crate::shared::locks::FreezeRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM freeze_windows WHERE (environment IS NULL OR environment = $1) \
               AND (service IS NULL OR service = $2) ORDER BY name, id",
                $crate::shared::locks::FREEZE_COLUMNS
            )))
            .bind(new.environment.as_str())
            .bind(new.service.as_str())
            .fetch_all(&mut **$tx)
            .await
            .map_err($crate::backend_error)?;
        let windows = windows
            .into_iter()
            .map(houston_store::FreezeWindow::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let obstacles = $crate::shared::locks::obstacles(&locks, &windows, &new.other_blocks, now);
        if !obstacles.is_empty() {
            let rules: Vec<houston_core::GateRule> = obstacles.iter().map(|(r, _)| *r).collect();
            let said = obstacles
                .iter()
                .map(|(rule, said)| format!("{}: {said}", rule.as_str()))
                .collect::<Vec<_>>()
                .join("; ");
            let candidates: Vec<$crate::shared::locks::OverrideRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM lock_overrides WHERE used_at IS NULL AND expires_at > $1 \
                       AND service = $2 AND environment = $3 AND (version IS NULL OR version = $4)",
                    $crate::shared::locks::OVERRIDE_COLUMNS
                )))
                .bind(now)
                .bind(new.service.as_str())
                .bind(new.environment.as_str())
                .bind(new.version.as_str())
                .fetch_all(&mut **$tx)
                .await
                .map_err($crate::backend_error)?;
            let candidates = candidates
                .into_iter()
                .map(houston_core::Override::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            // An override is spent only if it is still unspent when taken: a racing
            // registration may have taken it since it was read (PostgreSQL waits for
            // that one and then finds the row used); then the next one is tried.
            let mut granted: Option<&houston_core::Override> = None;
            for candidate in $crate::shared::locks::spendable(&candidates, &rules, &new.version) {
                // Checked again as it is taken: a claim for another version made
                // since the read (PostgreSQL reads committed rows) is not spent.
                let taken = sqlx::query(
                    "UPDATE lock_overrides SET used_by = $2, used_at = $3 \
                     WHERE id = $1 AND used_at IS NULL \
                       AND (claimed_version IS NULL OR claimed_version = $4)",
                )
                .bind(candidate.id)
                .bind(id)
                .bind(now)
                .bind(new.version.as_str())
                .execute(&mut **$tx)
                .await
                .map_err($crate::backend_error)?;
                if taken.rows_affected() == 1 {
                    granted = Some(candidate);
                    break;
                }
            }
            // Every deploy that went out over a block is marked with what it passed,
            // and by which override when one let it through.
            let (mark, action, target) = match granted {
                Some(granted) => (
                    format!(
                        "override #{} granted by {}: {}; past {said}",
                        granted.id, granted.granted_by, granted.reason
                    ),
                    "override.use",
                    format!("override:{}", granted.id),
                ),
                None => (said.clone(), "deploy.through_lock", format!("deploy:{id}")),
            };
            sqlx::query("UPDATE deploys SET through_lock = $2 WHERE id = $1")
                .bind(id)
                .bind(mark.as_str())
                .execute(&mut **$tx)
                .await
                .map_err($crate::backend_error)?;
            let rules_passed = houston_core::GateRule::join(&rules);
            super::audit::record(
                &mut **$tx,
                now,
                $by,
                action,
                &target,
                None::<&str>,
                Some(format!("deploy:{id} past {rules_passed}: {said}").as_str()),
            )
            .await?;
        }
    }};
}
pub(crate) use through_lock_in;

/// Inside a lock change's transaction (`$tx`): queues `$text` for every webhook URL
/// in the `notifications.webhooks` setting, so the message exists if and only if the
/// change committed. The text is escaped for Slack's mrkdwn here, once: it carries
/// people's reasons and notes, which must show as written, never as markup.
macro_rules! queue_lock_message {
    ($tx:expr, $text:expr, $now:expr) => {{
        let urls = $crate::shared::verdicts::webhook_urls!($tx);
        let text: String = houston_core::escape(&$text);
        for url in urls {
            sqlx::query(
                "INSERT INTO notifications (url, kind, message, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(url)
            .bind(houston_core::LOCK_MESSAGE_KIND)
            .bind(text.as_str())
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map_err($crate::backend_error)?;
        }
    }};
}
pub(crate) use queue_lock_message;

/// Implements `houston_store::LockStore` for a backend's store type; the dialect's
/// `SERIALIZE_LOCKS` is run first in the transaction that places a lock, so two
/// placements never both see the scope free.
macro_rules! store {
    ($store:ty) => {
    #[async_trait::async_trait]
    impl houston_store::LockStore for $store {
        #[tracing::instrument(skip(self, new, by), fields(actor = %by.name))]
        async fn place_lock(
            &self,
            new: &houston_core::NewLock,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<houston_store::LockOutcome, houston_store::StoreError> {
            use $crate::backend_error;
            use $crate::shared::locks::{IN_FORCE, LOCK_COLUMNS, LockRow};
            let now = houston_core::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err(backend_error)?;
            if let Some(serialize) = super::dialect::SERIALIZE_LOCKS {
                sqlx::query(serialize)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
            }
            let in_force: Vec<LockRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {LOCK_COLUMNS} FROM locks WHERE {IN_FORCE} ORDER BY locked_at, id"
            )))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend_error)?;
            for row in in_force {
                let lock = row.into_lock(now)?;
                if lock.scope().contains(&new.scope) {
                    return Ok(houston_store::LockOutcome::AlreadyLocked(lock));
                }
            }
            let row: LockRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "INSERT INTO locks (environment, service, reason, locked_by, locked_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {LOCK_COLUMNS}"
            )))
            .bind(new.scope.environment.as_ref().map(|e| e.as_str()))
            .bind(new.scope.service.as_ref().map(|s| s.as_str()))
            .bind(new.reason.as_str())
            .bind(by.name.as_str())
            .bind(now)
            .bind(new.expires_at.map(houston_core::to_stored_precision))
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?;
            let lock = row.into_lock(now)?;
            let detail = match lock.expires_at {
                Some(at) => format!("{} until {}", lock.scope().describe(), at.to_rfc3339()),
                None => lock.scope().describe(),
            };
            super::audit::record(
                &mut *tx,
                now,
                by,
                "lock.place",
                &format!("lock:{}", lock.id),
                Some(lock.reason.as_str()),
                Some(detail.as_str()),
            )
            .await?;
            $crate::shared::locks::queue_lock_message!(
                tx,
                format!(
                    "Locked: {} by {}{}: {}",
                    lock.scope().describe(),
                    lock.locked_by,
                    lock.expires_at.map(|at| format!(" until {}", at.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default(),
                    lock.reason
                ),
                now
            );
            tx.commit().await.map_err(backend_error)?;
            Ok(houston_store::LockOutcome::Placed(lock))
        }

        #[tracing::instrument(skip(self, note, by), fields(actor = %by.name))]
        async fn unlock(
            &self,
            id: i64,
            note: Option<&str>,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<houston_core::Lock, houston_store::StoreError> {
            use $crate::backend_error;
            use $crate::shared::locks::{IN_FORCE, LOCK_COLUMNS, LockRow};
            let now = houston_core::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err(backend_error)?;
            let row: Option<LockRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE locks SET unlocked_by = $2, unlocked_at = $1, unlock_note = $3 \
                 WHERE id = $4 AND {IN_FORCE} RETURNING {LOCK_COLUMNS}"
            )))
            .bind(now)
            .bind(by.name.as_str())
            .bind(note)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_error)?;
            let Some(row) = row else {
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM locks WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                return Err(match exists {
                    None => houston_store::StoreError::NotFound(format!("no lock {id}")),
                    Some(_) => houston_store::StoreError::Conflict(format!(
                        "lock {id} is no longer in force (unlocked or expired)"
                    )),
                });
            };
            let lock = row.into_lock(now)?;
            super::audit::record(
                &mut *tx,
                now,
                by,
                "lock.unlock",
                &format!("lock:{id}"),
                note,
                Some(format!("{} (locked by {}: {})", lock.scope().describe(), lock.locked_by, lock.reason).as_str()),
            )
            .await?;
            $crate::shared::locks::queue_lock_message!(
                tx,
                format!(
                    "Unlocked: {} by {}{} (locked by {}: {})",
                    lock.scope().describe(),
                    by.name,
                    note.map(|n| format!(": {n}")).unwrap_or_default(),
                    lock.locked_by,
                    lock.reason
                ),
                now
            );
            tx.commit().await.map_err(backend_error)?;
            Ok(lock)
        }

        #[tracing::instrument(skip(self))]
        async fn get_lock(
            &self,
            id: i64,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Option<houston_core::Lock>, houston_store::StoreError> {
            let row: Option<$crate::shared::locks::LockRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM locks WHERE id = $1",
                $crate::shared::locks::LOCK_COLUMNS
            )))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            row.map(|r| r.into_lock(now)).transpose()
        }

        #[tracing::instrument(skip(self))]
        async fn list_locks(
            &self,
            filter: &houston_core::LockFilter,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Vec<houston_core::Lock>, houston_store::StoreError> {
            use $crate::shared::locks::{IN_FORCE, LOCK_COLUMNS};
            let now = houston_core::to_stored_precision(now);
            // Every parameter is always there (PostgreSQL refuses unused ones): $2 is
            // 0 for any lock, 1 for those in force, 2 for ended ones.
            let sql = format!(
                "SELECT {LOCK_COLUMNS} FROM locks \
                 WHERE ($2 = 0 OR ($2 = 1 AND {IN_FORCE}) OR ($2 = 2 AND NOT ({IN_FORCE}))) \
                   AND ($3 IS NULL OR environment = $3) AND ($4 IS NULL OR service = $4) \
                   AND ($5 IS NULL OR LOWER(reason) LIKE $5 ESCAPE '\\' \
                        OR LOWER(COALESCE(unlock_note, '')) LIKE $5 ESCAPE '\\') \
                 ORDER BY locked_at DESC, id DESC LIMIT $6"
            );
            let active: i32 = match filter.active {
                None => 0,
                Some(true) => 1,
                Some(false) => 2,
            };
            let pattern = filter.text.as_ref().map(|t| {
                let escaped = t.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                format!("%{escaped}%")
            });
            let rows: Vec<$crate::shared::locks::LockRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(active)
                .bind(filter.environment.as_ref().map(|e| e.as_str().to_owned()))
                .bind(filter.service.as_ref().map(|s| s.as_str().to_owned()))
                .bind(pattern)
                .bind(i64::from(filter.limit.max(1)))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::backend_error)?;
            rows.into_iter().map(|r| r.into_lock(now)).collect()
        }

        #[tracing::instrument(skip(self, new, by), fields(actor = %by.name))]
        async fn grant_override(
            &self,
            new: &houston_core::NewBreakGlass,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<houston_core::Override, houston_store::StoreError> {
            use $crate::backend_error;
            let now = houston_core::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err(backend_error)?;
            let row: $crate::shared::locks::OverrideRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "INSERT INTO lock_overrides (service, environment, version, reason, granted_by, granted_at, expires_at, breaks) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
                $crate::shared::locks::OVERRIDE_COLUMNS
            )))
            .bind(new.service.as_str())
            .bind(new.environment.as_str())
            .bind(new.version.as_deref())
            .bind(new.reason.as_str())
            .bind(by.name.as_str())
            .bind(now)
            .bind(houston_core::to_stored_precision(new.expires_at))
            .bind(houston_core::GateRule::join(&new.breaks))
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?;
            let granted = houston_core::Override::try_from(row)?;
            let detail = format!(
                "{} to {}{} past {} until {}",
                granted.service,
                granted.environment,
                granted.version.as_deref().map(|v| format!(" ({v})")).unwrap_or_default(),
                houston_core::GateRule::join(&granted.breaks),
                granted.expires_at.to_rfc3339()
            );
            super::audit::record(
                &mut *tx,
                now,
                by,
                "override.grant",
                &format!("override:{}", granted.id),
                Some(granted.reason.as_str()),
                Some(detail.as_str()),
            )
            .await?;
            $crate::shared::locks::queue_lock_message!(
                tx,
                format!(
                    "Override: {} lets one deploy of {}: {}",
                    granted.granted_by, detail, granted.reason
                ),
                now
            );
            tx.commit().await.map_err(backend_error)?;
            Ok(granted)
        }

        #[tracing::instrument(skip(self))]
        async fn list_overrides(
            &self,
            limit: u32,
        ) -> Result<Vec<houston_core::Override>, houston_store::StoreError> {
            let rows: Vec<$crate::shared::locks::OverrideRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM lock_overrides ORDER BY granted_at DESC, id DESC LIMIT $1",
                $crate::shared::locks::OVERRIDE_COLUMNS
            )))
            .bind(i64::from(limit.max(1)))
            .fetch_all(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        #[tracing::instrument(skip(self, claimant, by), fields(run = %claimant.run, actor = %by.name))]
        async fn claim_override(
            &self,
            id: i64,
            claimant: &houston_core::Claimant,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<bool, houston_store::StoreError> {
            use $crate::backend_error;
            let now = houston_core::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err(backend_error)?;
            let claimed = sqlx::query(
                "UPDATE lock_overrides SET claimed_run = $2, claimed_version = $3, claimed_by = $4, \
                   claimed_at = $5 \
                 WHERE id = $1 AND used_at IS NULL AND expires_at > $5 AND claimed_run IS NULL",
            )
            .bind(id)
            .bind(claimant.run.as_str())
            .bind(claimant.version.as_deref())
            .bind(by.name.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
            if claimed.rows_affected() == 1 {
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    "override.claim",
                    &format!("override:{id}"),
                    None,
                    Some(
                        format!(
                            "run {}{}",
                            claimant.run,
                            claimant.version.as_deref().map(|v| format!(" ({v})")).unwrap_or_default()
                        )
                        .as_str(),
                    ),
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                return Ok(true);
            }
            // Not newly claimed: held already by this very claimant (a retried call)?
            let held: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM lock_overrides WHERE id = $1 AND used_at IS NULL AND expires_at > $2 \
                   AND claimed_run = $3 AND ((claimed_version IS NULL AND $4 IS NULL) OR claimed_version = $4) \
                   AND claimed_by = $5",
            )
            .bind(id)
            .bind(now)
            .bind(claimant.run.as_str())
            .bind(claimant.version.as_deref())
            .bind(claimant.by.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_error)?;
            tx.commit().await.map_err(backend_error)?;
            Ok(held.is_some())
        }

        #[tracing::instrument(skip(self))]
        async fn list_freezes(&self) -> Result<Vec<houston_store::FreezeWindow>, houston_store::StoreError> {
            let rows: Vec<$crate::shared::locks::FreezeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM freeze_windows ORDER BY name, id",
                $crate::shared::locks::FREEZE_COLUMNS
            )))
            .fetch_all(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        #[tracing::instrument(skip(self, header, schedule, by), fields(actor = %by.name))]
        async fn save_freeze(
            &self,
            id: Option<i64>,
            header: &houston_core::FreezeHeader,
            schedule: &houston_core::freeze::Schedule,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<i64, houston_store::StoreError> {
            use $crate::backend_error;
            let now = houston_core::to_stored_precision(now);
            let json = serde_json::to_string(schedule)
                .map_err(|e| houston_store::StoreError::Backend(e.to_string()))?;
            let mut tx = self.begin_write().await.map_err(backend_error)?;
            let environment = header.scope.environment.as_ref().map(|e| e.as_str());
            let service = header.scope.service.as_ref().map(|s| s.as_str());
            let (saved, action): (Option<i64>, &str) = match id {
                None => (
                    sqlx::query_scalar(
                        "INSERT INTO freeze_windows (name, note, environment, service, schedule, \
                           created_by, created_at, updated_by, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7) RETURNING id",
                    )
                    .bind(header.name.as_str())
                    .bind(header.note.as_deref())
                    .bind(environment)
                    .bind(service)
                    .bind(json.as_str())
                    .bind(by.name.as_str())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?,
                    "freeze.create",
                ),
                Some(id) => (
                    sqlx::query_scalar(
                        "UPDATE freeze_windows SET name = $1, note = $2, environment = $3, \
                           service = $4, schedule = $5, updated_by = $6, updated_at = $7 \
                         WHERE id = $8 RETURNING id",
                    )
                    .bind(header.name.as_str())
                    .bind(header.note.as_deref())
                    .bind(environment)
                    .bind(service)
                    .bind(json.as_str())
                    .bind(by.name.as_str())
                    .bind(now)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?,
                    "freeze.update",
                ),
            };
            let Some(saved) = saved else {
                return Err(houston_store::StoreError::NotFound(format!(
                    "no freeze window {}",
                    id.unwrap_or_default()
                )));
            };
            let detail = format!("{}: {} on {}", header.name, schedule.describe(), header.scope.describe());
            super::audit::record(
                &mut *tx,
                now,
                by,
                action,
                &format!("freeze:{saved}"),
                header.note.as_deref(),
                Some(detail.as_str()),
            )
            .await?;
            tx.commit().await.map_err(backend_error)?;
            Ok(saved)
        }

        #[tracing::instrument(skip(self, by), fields(actor = %by.name))]
        async fn delete_freeze(
            &self,
            id: i64,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), houston_store::StoreError> {
            use $crate::backend_error;
            let now = houston_core::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err(backend_error)?;
            let name: Option<String> =
                sqlx::query_scalar("DELETE FROM freeze_windows WHERE id = $1 RETURNING name")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?;
            let Some(name) = name else {
                return Err(houston_store::StoreError::NotFound(format!("no freeze window {id}")));
            };
            super::audit::record(
                &mut *tx,
                now,
                by,
                "freeze.delete",
                &format!("freeze:{id}"),
                None::<&str>,
                Some(name.as_str()),
            )
            .await?;
            tx.commit().await.map_err(backend_error)
        }

        #[tracing::instrument(skip(self, counts), fields(counts = counts.len()))]
        async fn add_gate_counts(
            &self,
            counts: &[houston_store::GateCount],
        ) -> Result<(), houston_store::StoreError> {
            use $crate::backend_error;
            let mut tx = self.pool.begin().await.map_err(backend_error)?;
            for count in counts {
                sqlx::query(
                    "INSERT INTO gate_answers (day, environment, allowed, rule, count) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (day, environment, allowed, rule) DO UPDATE SET count = gate_answers.count + $5",
                )
                .bind(count.day)
                .bind(count.environment.as_str())
                .bind(count.allowed)
                .bind(count.rule.as_str())
                .bind(count.count)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            }
            tx.commit().await.map_err(backend_error)
        }

        #[tracing::instrument(skip(self, pull), fields(repository = %pull.repository, number = pull.number))]
        async fn upsert_pull_request(
            &self,
            pull: &houston_store::PullRequest,
        ) -> Result<(), houston_store::StoreError> {
            // SET reads the row as it was: the posted status is kept only while the
            // head commit stays the same.
            sqlx::query(
                "INSERT INTO github_pull_requests (repository, number, head_sha, base_ref, is_open, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (repository, number) DO UPDATE SET \
                   posted_state = CASE WHEN github_pull_requests.head_sha = excluded.head_sha \
                     THEN github_pull_requests.posted_state ELSE NULL END, \
                   posted_description = CASE WHEN github_pull_requests.head_sha = excluded.head_sha \
                     THEN github_pull_requests.posted_description ELSE NULL END, \
                   head_sha = excluded.head_sha, base_ref = excluded.base_ref, \
                   is_open = excluded.is_open, updated_at = excluded.updated_at \
                 WHERE excluded.updated_at >= github_pull_requests.updated_at",
            )
            .bind(pull.repository.as_str())
            .bind(pull.number)
            .bind(pull.head_sha.as_str())
            .bind(pull.base_ref.as_str())
            .bind(pull.is_open)
            .bind(houston_core::to_stored_precision(pull.updated_at))
            .execute(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            Ok(())
        }

        #[tracing::instrument(skip(self))]
        async fn open_pull_requests(
            &self,
            repository: &str,
        ) -> Result<Vec<houston_store::PullRequest>, houston_store::StoreError> {
            let rows: Vec<(String, i64, String, String, bool, chrono::DateTime<chrono::Utc>, Option<String>, Option<String>)> =
                sqlx::query_as(
                    "SELECT repository, number, head_sha, base_ref, is_open, updated_at, posted_state, \
                       posted_description FROM github_pull_requests \
                     WHERE repository = $1 AND is_open ORDER BY number",
                )
                .bind(repository)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::backend_error)?;
            Ok(rows
                .into_iter()
                .map(|(repository, number, head_sha, base_ref, is_open, updated_at, posted_state, posted_description)| {
                    houston_store::PullRequest {
                        repository,
                        number,
                        head_sha,
                        base_ref,
                        is_open,
                        updated_at,
                        posted_state,
                        posted_description,
                    }
                })
                .collect())
        }

        #[tracing::instrument(skip(self, description))]
        async fn record_status_posted(
            &self,
            repository: &str,
            number: i64,
            head_sha: &str,
            state: &str,
            description: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), houston_store::StoreError> {
            sqlx::query(
                "UPDATE github_pull_requests SET posted_state = $4, posted_description = $5, posted_at = $6 \
                 WHERE repository = $1 AND number = $2 AND head_sha = $3",
            )
            .bind(repository)
            .bind(number)
            .bind(head_sha)
            .bind(state)
            .bind(description)
            .bind(houston_core::to_stored_precision(now))
            .execute(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            Ok(())
        }

        #[tracing::instrument(skip(self))]
        async fn latest_deploy_of_version(
            &self,
            service: &houston_core::ServiceName,
            environment: &houston_core::EnvironmentName,
            version: &str,
        ) -> Result<Option<houston_core::Deploy>, houston_store::StoreError> {
            let row: Option<$crate::rows::DeployRow> = sqlx::query_as(concat!(
                $crate::rows::deploy_select!(),
                " WHERE s.name = $1 AND e.name = $2 AND d.version = $3 \
                  ORDER BY d.started_at DESC, d.id DESC LIMIT 1"
            ))
            .bind(service.as_str())
            .bind(environment.as_str())
            .bind(version)
            .fetch_optional(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            row.map(houston_core::Deploy::try_from).transpose()
        }

        #[tracing::instrument(skip(self))]
        async fn gate_counts(
            &self,
            since: chrono::NaiveDate,
        ) -> Result<Vec<houston_store::GateCount>, houston_store::StoreError> {
            let rows: Vec<(chrono::NaiveDate, String, bool, String, i64)> = sqlx::query_as(
                "SELECT day, environment, allowed, rule, count FROM gate_answers \
                 WHERE day >= $1 ORDER BY day, environment, allowed, rule",
            )
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            Ok(rows
                .into_iter()
                .map(|(day, environment, allowed, rule, count)| houston_store::GateCount {
                    day,
                    environment,
                    allowed,
                    rule,
                    count,
                })
                .collect())
        }
    }
    };
}
pub(crate) use store;

//! Locks and break glass: placing a lock, lifting one, granting an override.

use crate::access::{Caller, Need, Policy, authorize};
use crate::{Change, Done, ServiceError};
use chrono::{DateTime, Utc};
use houston_core::{
    Lock, LockChange, LockEvent, NewBreakGlass, NewLock, Override, UnlockRequest, may_unlock,
};
use houston_store::{LockOutcome, Store};

/// Placing a lock, and lifting one's own: a deployer, or a token with scope
/// `admin`. Lifting someone else's is decided in [`unlock`].
pub const NEED: Need = Need::LOCK;

/// Granting a break-glass override: a lead or admin, or a token with scope `admin`.
pub const GRANT_NEED: Need = Need::CONFIGURE;

/// Locks `new.scope` for `caller`; audited in the same transaction. A scope a lock
/// in force already covers is refused with that lock
/// ([`ServiceError::AlreadyLocked`]).
pub async fn place(
    store: &dyn Store,
    caller: &Caller,
    new: &NewLock,
    now: DateTime<Utc>,
) -> Result<Done<Lock>, ServiceError> {
    match store.place_lock(new, &caller.actor(), now).await? {
        LockOutcome::Placed(lock) => {
            tracing::info!(lock_id = lock.id, scope = %lock.scope().describe(), "locked");
            Ok(Done {
                change: Some(Change::Lock(LockChange::of(LockEvent::Locked, &lock))),
                value: lock,
            })
        }
        LockOutcome::AlreadyLocked(lock) => Err(ServiceError::AlreadyLocked(Box::new(lock))),
    }
}

/// Lifts lock `id`, with an optional note: a caller lifts their own locks, and
/// anyone the policy lets configure (a lead, an admin, an `admin` token) any.
pub async fn unlock(
    store: &dyn Store,
    caller: &Caller,
    policy: Policy,
    id: i64,
    request: &UnlockRequest,
    now: DateTime<Utc>,
) -> Result<Done<Lock>, ServiceError> {
    let note = request.parse()?;
    let lock = store
        .get_lock(id, now)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no lock {id}")))?;
    let may_any = authorize(caller, Need::CONFIGURE, policy).is_ok();
    let by = caller.actor();
    if !may_unlock(&lock, &by.name, may_any) {
        return Err(crate::Refused::forbidden(format!(
            "lock {id} is {}'s: only they, a lead or an admin may lift it",
            lock.locked_by
        ))
        .into());
    }
    let lock = store.unlock(id, note.as_deref(), &by, now).await?;
    tracing::info!(lock_id = lock.id, scope = %lock.scope().describe(), actor = %by.name, "unlocked");
    Ok(Done {
        change: Some(Change::Lock(LockChange::of(LockEvent::Unlocked, &lock))),
        value: lock,
    })
}

/// Grants break glass: one deploy through the rules `new.breaks` names, spent by
/// the first matching deploy registered while its place is blocked.
pub async fn grant_override(
    store: &dyn Store,
    caller: &Caller,
    new: &NewBreakGlass,
    now: DateTime<Utc>,
) -> Result<Done<Override>, ServiceError> {
    let granted = store.grant_override(new, &caller.actor(), now).await?;
    tracing::info!(override_id = granted.id, service = %granted.service, environment = %granted.environment, "override granted");
    Ok(Done {
        change: Some(Change::Lock(LockChange {
            event: LockEvent::Override,
            id: granted.id,
            environment: Some(granted.environment.clone()),
            service: Some(granted.service.clone()),
        })),
        value: granted,
    })
}

//! The judge's verdicts: a lead's override.

use crate::access::{Caller, Need};
use crate::{Change, Done, ServiceError};
use chrono::{DateTime, Utc};
use houston_core::{ChangeKind, DeployId, OverrideRequest, Verdict};
use houston_store::Store;

/// Overriding a verdict: a lead or admin, or a token with scope `admin`.
pub const NEED: Need = Need::CONFIGURE;

/// A lead marks deploy `id` healthy or unhealthy, with a required reason; the
/// judge's verdict stays beside it. Audited as `verdict.override`. Returns the
/// verdict as it now reads.
pub async fn override_verdict(
    store: &dyn Store,
    caller: &Caller,
    id: DeployId,
    request: &OverrideRequest,
    now: DateTime<Utc>,
) -> Result<Done<Verdict>, ServiceError> {
    let (state, reason) = request.parse()?;
    let by = caller.actor();
    store.override_verdict(id, state, &reason, &by, now).await?;
    tracing::info!(deploy_id = id, state = state.as_str(), actor = %by.name, "verdict overridden");
    let deploy = store.get_deploy(id).await?.deploy;
    let verdict = store
        .get_verdict(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("deploy {id} has no verdict")))?;
    Ok(Done {
        value: verdict,
        change: Some(Change::Deploy(ChangeKind::Verdict, Box::new(deploy))),
    })
}

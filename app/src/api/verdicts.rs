//! Server functions for the health judge's verdicts.

use crate::api::AsOf;
use crate::domain::{DeployId, Verdict};
use crate::error::AppError;
use leptos::prelude::*;

/// A deploy's verdict with its receipt; `None` when the judge does not follow it
/// (registered before the judge, or imported).
#[server(endpoint = "deploy-verdict")]
pub async fn get_deploy_verdict(id: DeployId) -> Result<AsOf<Option<Verdict>>, AppError> {
    use crate::ssr::access::Need;
    crate::ssr::serve(Need::Read, move |call| async move {
        Ok(AsOf::now(call.store.get_verdict(id).await?))
    })
    .await
}

/// A lead's verdict over the judge's (`healthy` or `unhealthy`, with a required
/// reason); the judge's stays beside it. Audited as `verdict.override`; open pages
/// hear of it.
#[server(endpoint = "override-verdict")]
pub async fn override_deploy_verdict(
    id: DeployId,
    state: String,
    reason: String,
) -> Result<(), AppError> {
    use crate::ssr::access::Need;
    crate::ssr::serve(Need::CONFIGURE, move |call| async move {
        let request = crate::domain::OverrideRequest {
            state: Some(state),
            reason: Some(reason),
        };
        let (verdict_state, reason) = request.parse()?;
        call.store
            .override_verdict(
                id,
                verdict_state,
                &reason,
                &call.caller.actor(),
                chrono::Utc::now(),
            )
            .await?;
        let deploy = call.store.get_deploy(id).await?.deploy;
        crate::ssr::tell(crate::domain::ChangeKind::Verdict, &deploy);
        Ok(())
    })
    .await
}

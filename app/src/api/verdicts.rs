//! Server functions for the health judge's verdicts.

use crate::api::AsOf;
use crate::domain::{DeployId, Verdict};
use crate::error::AppError;
use leptos::prelude::*;

/// A deploy's verdict with its receipt; `None` when the judge does not follow it
/// (registered before the judge, or imported).
#[server(endpoint = "deploy-verdict")]
pub async fn get_deploy_verdict(id: DeployId) -> Result<AsOf<Option<Verdict>>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
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
    use houston_service::verdicts;
    crate::server::serve(verdicts::NEED, move |call| async move {
        let request = crate::domain::OverrideRequest {
            state: Some(state),
            reason: Some(reason),
        };
        let done = verdicts::override_verdict(
            call.store.as_ref(),
            &call.caller,
            id,
            &request,
            chrono::Utc::now(),
        )
        .await?;
        crate::server::publish(done.change);
        Ok(())
    })
    .await
}

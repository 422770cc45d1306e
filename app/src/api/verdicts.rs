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

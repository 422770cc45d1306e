//! Server functions for verdict messages: the webhook URLs they go to and their
//! delivery attempts. Admins only (`Need::ADMIN`); each checks before it reads or
//! changes anything.

use crate::api::AsOf;
use crate::domain::Notification;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Messages shown at once.
pub const NOTIFICATIONS_SHOWN: u32 = 100;

/// The webhook URLs in force and the latest messages (their URLs redacted: a webhook's
/// path is its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationsView {
    pub webhooks: Vec<String>,
    pub messages: Vec<Notification>,
}

#[server(endpoint = "admin/notifications")]
pub async fn get_notifications() -> Result<AsOf<NotificationsView>, AppError> {
    use crate::ssr::access::Need;
    crate::ssr::serve(Need::ADMIN, move |call| async move {
        let webhooks = ssr::webhooks(call.store.as_ref()).await?;
        let mut messages = call.store.list_notifications(NOTIFICATIONS_SHOWN).await?;
        for message in &mut messages {
            message.url = crate::domain::redact_webhook(&message.url);
        }
        Ok(AsOf::now(NotificationsView { webhooks, messages }))
    })
    .await
}

/// Replaces the webhook URLs (one per line; none stops the messages), audited as
/// `settings.change` with the reason. Returns how many there are now.
#[server(endpoint = "admin/set-webhooks")]
pub async fn set_webhooks(webhooks: String, reason: Option<String>) -> Result<usize, AppError> {
    use crate::ssr::access::Need;
    crate::ssr::serve(Need::ADMIN, move |call| async move {
        let urls = crate::domain::parse_webhooks(&webhooks)?;
        let reason = super::admin::ssr::reason(reason)?;
        let value = serde_json::to_string(&urls).map_err(|e| {
            tracing::error!(error = %e, "encoding the webhook URLs");
            AppError::internal()
        })?;
        call.store
            .set_setting(
                crate::domain::WEBHOOKS_SETTING,
                &value,
                &call.caller.actor(),
                reason.as_deref(),
                chrono::Utc::now(),
            )
            .await?;
        Ok(urls.len())
    })
    .await
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::error::AppError;
    use crate::ssr::Store;

    /// The URLs in force; none when the setting was never made.
    pub async fn webhooks(store: &dyn Store) -> Result<Vec<String>, AppError> {
        match store.get_setting(crate::domain::WEBHOOKS_SETTING).await? {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                tracing::error!(error = %e, "the stored webhook URLs are not a list");
                AppError::internal()
            }),
        }
    }
}

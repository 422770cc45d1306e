//! Server functions for verdict messages: the webhook URLs they go to and their
//! delivery attempts. Signed-in admins only (`Need::MANAGE_ACCESS`: a webhook URL
//! decides where Houston sends requests, so no token sets or reads it); each checks
//! before it reads or changes anything.

use crate::api::AsOf;
use crate::domain::Notification;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Messages shown at once.
pub const NOTIFICATIONS_SHOWN: u32 = 100;

/// The webhook URLs in force and the latest messages, every URL redacted: a
/// webhook's path is its secret, so the list is write-only once saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationsView {
    pub webhooks: Vec<String>,
    pub messages: Vec<Notification>,
}

#[server(endpoint = "admin/notifications")]
pub async fn get_notifications() -> Result<AsOf<NotificationsView>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let webhooks = server::webhooks(call.store.as_ref())
            .await?
            .iter()
            .map(|url| crate::domain::redact_webhook(url))
            .collect();
        let mut messages = call.store.list_notifications(NOTIFICATIONS_SHOWN).await?;
        for message in &mut messages {
            message.url = crate::domain::redact_webhook(&message.url);
        }
        Ok(AsOf::now(NotificationsView { webhooks, messages }))
    })
    .await
}

/// Replaces the webhook URLs (one per line; none stops the messages), audited as
/// `settings.change` with the reason and the URLs redacted. A URL whose host is an
/// internal address is refused (names are checked again at every send). Returns how
/// many there are now.
#[server(endpoint = "admin/set-webhooks")]
pub async fn set_webhooks(webhooks: String, reason: Option<String>) -> Result<usize, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let urls = crate::domain::parse_webhooks(&webhooks)?;
        let policy = use_context::<std::sync::Arc<crate::server::outbound::OutboundPolicy>>()
            .unwrap_or_default();
        let refused: Vec<crate::domain::FieldError> = urls
            .iter()
            .enumerate()
            .filter_map(|(i, url)| {
                policy
                    .check_url(url)
                    .err()
                    .map(|why| crate::domain::FieldError::new(format!("webhooks[{i}]"), why))
            })
            .collect();
        if !refused.is_empty() {
            return Err(crate::domain::ValidationErrors(refused).into());
        }
        let reason = super::admin::server::reason(reason)?;
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
pub(crate) mod server {
    use crate::error::AppError;
    use crate::server::Store;

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

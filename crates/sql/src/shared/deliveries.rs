//! Webhook deliveries: the claim of a delivery id and its work, in one transaction. Written once for both databases: see `crate::shared`.

/// Implements this aggregate for `$store`, expanded inside a backend's module, where
/// `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl houston_store::DeliveryStore for $store {
            #[tracing::instrument(skip(self, work, by), fields(actor = %by.name))]
            async fn apply_webhook_delivery(
                &self,
                delivery_id: Option<&str>,
                work: &houston_core::DeliveryWork,
                by: &houston_core::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_store::DeliveryOutcome, houston_store::StoreError> {
                use crate::backend_error;
                use houston_core::DeliveryAction;
                use houston_store::DeliveryOutcome;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                if let Some(delivery_id) = delivery_id {
                    let claimed = sqlx::query(
                        "INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES ($1, $2) \
                                 ON CONFLICT (delivery_id) DO NOTHING",
                    )
                    .bind(delivery_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    if claimed.rows_affected() == 0 {
                        return Ok(DeliveryOutcome::Duplicate);
                    }
                }
                // The deploy this delivery is about, if Houston has it; what that means is
                // the domain's decision (`delivery_action`).
                let existing: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM deploys WHERE external_id = $1")
                        .bind(work.deploy().external_id.as_deref())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                let outcome = match houston_core::delivery_action(work, existing) {
                    DeliveryAction::Register(new) => {
                        let registration =
                            super::deploys::register_in(&mut tx, new, by, now).await?;
                        match work {
                            // Two first reports about one deploy raced and the other registered
                            // it: this one's status still applies, under the status rule.
                            houston_core::DeliveryWork::Status { change, .. }
                                if !registration.created =>
                            {
                                DeliveryOutcome::Status(
                                    super::deploys::change_status_in(
                                        &mut tx,
                                        registration.deploy.id,
                                        change,
                                        by,
                                        now,
                                    )
                                    .await?,
                                )
                            }
                            _ => DeliveryOutcome::Registered(registration),
                        }
                    }
                    DeliveryAction::ChangeStatus { id, change } => DeliveryOutcome::Status(
                        super::deploys::change_status_in(&mut tx, id, &change, by, now).await?,
                    ),
                };
                tx.commit().await.map_err(backend_error)?;
                Ok(outcome)
            }
        }
    };
}
pub(crate) use store;

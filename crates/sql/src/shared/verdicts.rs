//! The judge's verdicts, written once for both databases (see `crate::shared`): the
//! SQL is the same but for the claims, which are the dialect's (PostgreSQL's skip
//! rows another replica holds).

/// Copies the verdict deploy $1 shows (the override, else the judge's) onto the deploy,
/// where history filters by it.
pub(crate) const SHOWN_ON_DEPLOY: &str = "UPDATE deploys SET verdict = \
     (SELECT COALESCE(v.override_state, v.state) FROM verdicts v WHERE v.deploy_id = $1) \
     WHERE id = $1";

/// Inside a transaction (`$tx`): the webhook URLs of the `notifications.webhooks`
/// setting, to queue one message per URL with the change that calls for it.
macro_rules! webhook_urls {
    ($tx:expr) => {{
        let urls: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(houston_core::WEBHOOKS_SETTING)
            .fetch_optional(&mut *$tx)
            .await
            .map_err($crate::backend_error)?;
        match urls {
            None => Vec::<String>::new(),
            Some(json) => serde_json::from_str::<Vec<String>>(&json)
                .map_err(|e| houston_store::StoreError::Backend(e.to_string()))?,
        }
    }};
}
pub(crate) use webhook_urls;

/// Implements `houston_store::VerdictStore` for a backend's store type; the dialect's
/// `CLAIM_VERDICTS` claims due verdicts ($1 now, $2 lease end, $3 limit; returns
/// deploy ids), `CLAIM_NOTIFICATIONS` the same for messages (returns their ids).
macro_rules! store {
    ($store:ty) => {
    #[async_trait::async_trait]
    impl houston_store::VerdictStore for $store {
        #[tracing::instrument(skip(self))]
        async fn claim_due_verdicts(
            &self,
            now: chrono::DateTime<chrono::Utc>,
            lease: chrono::Duration,
            limit: u32,
        ) -> Result<Vec<houston_core::DeployId>, houston_store::StoreError> {
            let now = houston_core::to_stored_precision(now);
            sqlx::query_scalar(super::dialect::CLAIM_VERDICTS)
                .bind(now)
                .bind(now + lease)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::backend_error)
        }

        #[tracing::instrument(skip(self))]
        async fn get_verdict(
            &self,
            deploy: houston_core::DeployId,
        ) -> Result<Option<houston_core::Verdict>, houston_store::StoreError> {
            let row: Option<$crate::rows::VerdictRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM verdicts WHERE deploy_id = $1",
                $crate::rows::VERDICT_COLUMNS
            )))
            .bind(deploy)
            .fetch_optional(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            row.map(houston_core::Verdict::try_from).transpose()
        }

        #[tracing::instrument(skip(self, evaluation), fields(state = evaluation.state.as_str()))]
        async fn save_evaluation(
            &self,
            deploy: houston_core::DeployId,
            evaluation: &houston_core::Evaluation,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<bool, houston_store::StoreError> {
            let now = houston_core::to_stored_precision(now);
            let backend = |e: serde_json::Error| houston_store::StoreError::Backend(e.to_string());
            let receipt = serde_json::to_string(&evaluation.receipt).map_err(backend)?;
            let headline = serde_json::to_string(&houston_core::Headline::of(&evaluation.receipt))
                .map_err(backend)?;
            let mut tx = self.begin_write().await.map_err($crate::backend_error)?;
            let before: Option<(String, Option<String>, bool, String, Option<String>)> = sqlx::query_as(
                "SELECT state, provisional, is_final, rule, headline FROM verdicts WHERE deploy_id = $1",
            )
            .bind(deploy)
            .fetch_optional(&mut *tx)
            .await
            .map_err($crate::backend_error)?;
            let result = sqlx::query(
                "UPDATE verdicts SET state = $2, provisional = $3, is_final = $4, score = $5, rule = $6, \
                   receipt = $7, evaluated_at = $8, decided_at = CASE WHEN $4 THEN $8 ELSE NULL END, \
                   next_look_at = $9, claimed_until = NULL, headline = $10 \
                 WHERE deploy_id = $1 AND NOT is_final",
            )
            .bind(deploy)
            .bind(evaluation.state.as_str())
            .bind(evaluation.provisional.map(houston_core::VerdictState::as_str))
            .bind(evaluation.is_final)
            .bind(evaluation.score)
            .bind(evaluation.rule.as_str())
            .bind(receipt)
            .bind(now)
            .bind(houston_core::to_stored_precision(evaluation.next_look_at))
            .bind(headline.as_str())
            .execute(&mut *tx)
            .await
            .map_err($crate::backend_error)?;
            let saved = result.rows_affected() == 1;
            // What pages show: the states, the rule and the headline (none stored yet
            // reads as an empty one).
            let empty = serde_json::to_string(&houston_core::Headline::default()).map_err(backend)?;
            let changed = before.as_ref().is_none_or(|(state, provisional, is_final, rule, shown)| {
                (state.as_str(), provisional.as_deref(), *is_final, rule.as_str(), shown.as_deref().unwrap_or(&empty))
                    != (
                        evaluation.state.as_str(),
                        evaluation.provisional.map(houston_core::VerdictState::as_str),
                        evaluation.is_final,
                        evaluation.rule.as_str(),
                        headline.as_str(),
                    )
            });
            if saved {
                sqlx::query($crate::shared::verdicts::SHOWN_ON_DEPLOY)
                    .bind(deploy)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::backend_error)?;
                let notice = before
                    .map(|(state, provisional, is_final, _, _)| {
                        let state_of = |text: &str| {
                            houston_core::VerdictState::parse(text).ok_or_else(|| {
                                houston_store::StoreError::Backend(format!("stored verdict state {text:?}"))
                            })
                        };
                        Ok::<_, houston_store::StoreError>(houston_core::Said {
                            state: state_of(&state)?,
                            provisional: provisional.as_deref().map(state_of).transpose()?,
                            is_final,
                        })
                    })
                    .transpose()?
                    .and_then(|said| houston_core::notice_for(said, evaluation));
                if let Some(notice) = notice {
                    for url in $crate::shared::verdicts::webhook_urls!(tx) {
                        sqlx::query(
                            "INSERT INTO notifications (deploy_id, url, kind, state, next_attempt_at, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $5)",
                        )
                        .bind(deploy)
                        .bind(url)
                        .bind(notice.kind.as_str())
                        .bind(notice.state.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::backend_error)?;
                    }
                }
            }
            tx.commit().await.map_err($crate::backend_error)?;
            Ok(saved && changed)
        }

        #[tracing::instrument(skip(self, reason, by), fields(actor = %by.name))]
        async fn override_verdict(
            &self,
            deploy: houston_core::DeployId,
            state: houston_core::VerdictState,
            reason: &str,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), houston_store::StoreError> {
            let now = houston_core::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err($crate::backend_error)?;
            let previous: Option<(String, Option<String>)> = sqlx::query_as(
                "SELECT state, override_state FROM verdicts WHERE deploy_id = $1",
            )
            .bind(deploy)
            .fetch_optional(&mut *tx)
            .await
            .map_err($crate::backend_error)?;
            let Some((judged, before)) = previous else {
                return Err(houston_store::StoreError::NotFound(format!(
                    "deploy {deploy} has no verdict to override"
                )));
            };
            sqlx::query(
                "UPDATE verdicts SET override_state = $2, override_reason = $3, override_by = $4, \
                   override_at = $5 WHERE deploy_id = $1",
            )
            .bind(deploy)
            .bind(state.as_str())
            .bind(reason)
            .bind(by.name.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err($crate::backend_error)?;
            sqlx::query($crate::shared::verdicts::SHOWN_ON_DEPLOY)
                .bind(deploy)
                .execute(&mut *tx)
                .await
                .map_err($crate::backend_error)?;
            let detail = format!(
                "{} (the judge: {judged}{})",
                state.as_str(),
                before.map(|b| format!("; was overridden as {b}")).unwrap_or_default()
            );
            super::audit::record(
                &mut *tx,
                now,
                by,
                "verdict.override",
                &format!("deploy:{deploy}"),
                Some(reason),
                Some(detail.as_str()),
            )
            .await?;
            tx.commit().await.map_err($crate::backend_error)
        }

        #[tracing::instrument(skip(self))]
        async fn claim_due_notifications(
            &self,
            now: chrono::DateTime<chrono::Utc>,
            lease: chrono::Duration,
            limit: u32,
        ) -> Result<Vec<houston_core::Notification>, houston_store::StoreError> {
            let now = houston_core::to_stored_precision(now);
            let rows: Vec<$crate::rows::NotificationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{} RETURNING {}",
                super::dialect::CLAIM_NOTIFICATIONS,
                $crate::rows::NOTIFICATION_COLUMNS
            )))
            .bind(now)
            .bind(now + lease)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        #[tracing::instrument(skip(self, outcome))]
        async fn record_delivery(
            &self,
            id: i64,
            outcome: Result<(), String>,
            retry_at: Option<chrono::DateTime<chrono::Utc>>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), houston_store::StoreError> {
            let now = houston_core::to_stored_precision(now);
            let (status, error, next) = match outcome {
                Ok(()) => (houston_core::DeliveryStatus::Delivered, None, None),
                Err(error) => match retry_at {
                    Some(at) => (houston_core::DeliveryStatus::Pending, Some(error), Some(houston_core::to_stored_precision(at))),
                    None => (houston_core::DeliveryStatus::Failed, Some(error), None),
                },
            };
            sqlx::query(
                "UPDATE notifications SET status = $2, last_error = $3, last_attempt_at = $4, \
                   next_attempt_at = $5, claimed_until = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(error)
            .bind(now)
            .bind(next)
            .execute(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            Ok(())
        }

        #[tracing::instrument(skip(self))]
        async fn recent_receipts(
            &self,
            limit: u32,
        ) -> Result<Vec<houston_core::VerdictReceipt>, houston_store::StoreError> {
            // Newest deploys first along the primary key: no sort of the whole table.
            let receipts: Vec<String> = sqlx::query_scalar(
                "SELECT receipt FROM verdicts WHERE is_final AND receipt <> '{}' \
                 ORDER BY deploy_id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            receipts
                .iter()
                .map(|text| {
                    serde_json::from_str(text).map_err(|e| {
                        houston_store::StoreError::Backend(format!("a stored verdict receipt: {e}"))
                    })
                })
                .collect()
        }

        #[tracing::instrument(skip(self))]
        async fn list_notifications(
            &self,
            limit: u32,
        ) -> Result<Vec<houston_core::Notification>, houston_store::StoreError> {
            let rows: Vec<$crate::rows::NotificationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM notifications ORDER BY created_at DESC, id DESC LIMIT $1",
                $crate::rows::NOTIFICATION_COLUMNS
            )))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        #[tracing::instrument(skip(self))]
        async fn next_deploy_start(
            &self,
            deploy: houston_core::DeployId,
        ) -> Result<Option<chrono::DateTime<chrono::Utc>>, houston_store::StoreError> {
            sqlx::query_scalar(
                "SELECT MIN(n.started_at) FROM deploys d JOIN deploys n \
                   ON n.service_id = d.service_id AND n.environment_id = d.environment_id \
                  AND n.started_at > d.started_at \
                 WHERE d.id = $1",
            )
            .bind(deploy)
            .fetch_one(&self.pool)
            .await
            .map_err($crate::backend_error)
        }
    }
    };
}
pub(crate) use store;

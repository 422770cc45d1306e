//! Metric definitions, written once for both databases (see `crate::shared`): the
//! SQL is the same.

/// Implements `houston_store::DefinitionStore` for a backend's store type.
macro_rules! store {
    ($store:ty) => {
    #[async_trait::async_trait]
    impl houston_store::DefinitionStore for $store {
        #[tracing::instrument(skip(self))]
        async fn list_metric_definitions(&self) -> Result<Vec<houston_core::MetricDefinition>, houston_store::StoreError> {
            let rows: Vec<$crate::rows::DefinitionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM metric_definitions ORDER BY name",
                $crate::rows::DEFINITION_COLUMNS
            )))
            .fetch_all(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            rows.into_iter().map(houston_core::MetricDefinition::try_from).collect()
        }

        #[tracing::instrument(skip(self, changes, by), fields(changes = changes.len(), actor = %by.name))]
        async fn apply_definition_changes(
            &self,
            changes: &[houston_core::DefinitionChange],
            by: &houston_core::Actor,
            reason: Option<&str>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), houston_store::StoreError> {
            let now = houston_core::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err($crate::backend_error)?;
            for change in changes {
                let action = match change {
                    houston_core::DefinitionChange::Create(d) | houston_core::DefinitionChange::Update { after: d, .. } => {
                        let (source, query, services, environments, check) = $crate::rows::definition_columns(d);
                        sqlx::query(
                            "INSERT INTO metric_definitions (name, unit, source, query, services, environments, updated_at, updated_by, check_spec) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                             ON CONFLICT (name) DO UPDATE SET unit = $2, source = $3, query = $4, services = $5, \
                               environments = $6, updated_at = $7, updated_by = $8, check_spec = $9",
                        )
                        .bind(d.name.as_str())
                        .bind(&d.unit)
                        .bind(source)
                        .bind(query)
                        .bind(services)
                        .bind(environments)
                        .bind(now)
                        .bind(by.name.as_str())
                        .bind(check)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::backend_error)?;
                        if matches!(change, houston_core::DefinitionChange::Create(_)) {
                            "metric.create"
                        } else {
                            "metric.update"
                        }
                    }
                    houston_core::DefinitionChange::Delete(d) => {
                        sqlx::query("DELETE FROM metric_definitions WHERE name = $1")
                            .bind(d.name.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::backend_error)?;
                        "metric.delete"
                    }
                };
                let detail = change.describe();
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    action,
                    &format!("metric:{}", change.name()),
                    reason,
                    Some(detail.as_str()),
                )
                .await?;
            }
            tx.commit().await.map_err($crate::backend_error)
        }

        #[tracing::instrument(skip(self))]
        async fn list_service_timings(&self) -> Result<Vec<houston_core::ServiceTiming>, houston_store::StoreError> {
            let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
                "SELECT service, environments, warmup_secs, bake_secs, interval_secs \
                 FROM service_timings ORDER BY service, environments",
            )
            .fetch_all(&self.pool)
            .await
            .map_err($crate::backend_error)?;
            rows.into_iter()
                .map(|(service, environments, warmup_secs, bake_secs, interval_secs)| {
                    $crate::rows::service_timing(service, &environments, houston_core::Timing {
                        warmup_secs,
                        bake_secs,
                        interval_secs,
                    })
                })
                .collect()
        }

        #[tracing::instrument(skip(self, changes, by), fields(changes = changes.len(), actor = %by.name))]
        async fn apply_timing_changes(
            &self,
            changes: &[houston_core::TimingChange],
            by: &houston_core::Actor,
            reason: Option<&str>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), houston_store::StoreError> {
            let now = houston_core::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err($crate::backend_error)?;
            for change in changes {
                let action = match change {
                    houston_core::TimingChange::Set { after: t, .. } => {
                        sqlx::query(
                            "INSERT INTO service_timings (service, environments, warmup_secs, bake_secs, interval_secs, updated_at, updated_by) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (service, environments) DO UPDATE SET warmup_secs = $3, bake_secs = $4, \
                               interval_secs = $5, updated_at = $6, updated_by = $7",
                        )
                        .bind(&t.service)
                        .bind($crate::rows::environments_key(t))
                        .bind(t.timing.warmup_secs)
                        .bind(t.timing.bake_secs)
                        .bind(t.timing.interval_secs)
                        .bind(now)
                        .bind(by.name.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::backend_error)?;
                        "service.timing.set"
                    }
                    houston_core::TimingChange::Delete(t) => {
                        sqlx::query("DELETE FROM service_timings WHERE service = $1 AND environments = $2")
                            .bind(&t.service)
                            .bind($crate::rows::environments_key(t))
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::backend_error)?;
                        "service.timing.delete"
                    }
                };
                let detail = change.describe();
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    action,
                    &format!("service:{}", change.key()),
                    reason,
                    Some(detail.as_str()),
                )
                .await?;
            }
            tx.commit().await.map_err($crate::backend_error)
        }
    }
    };
}
pub(crate) use store;

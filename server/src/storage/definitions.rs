//! Metric definitions, written once for both backends: the SQL is the same, and
//! each backend's `mod.rs` expands `definition_store!` for its store, where
//! `audit::record` and the pool are that backend's own.

/// Implements `app::ssr::DefinitionStore` for a backend's store type.
macro_rules! definition_store {
    ($store:ty) => {
    #[async_trait::async_trait]
    impl app::ssr::DefinitionStore for $store {
        #[tracing::instrument(skip(self))]
        async fn list_metric_definitions(&self) -> Result<Vec<app::domain::MetricDefinition>, app::ssr::StoreError> {
            let rows: Vec<$crate::storage::rows::DefinitionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM metric_definitions ORDER BY name",
                $crate::storage::rows::DEFINITION_COLUMNS
            )))
            .fetch_all(&self.pool)
            .await
            .map_err($crate::storage::backend_error)?;
            rows.into_iter().map(app::domain::MetricDefinition::try_from).collect()
        }

        #[tracing::instrument(skip(self, changes, by), fields(changes = changes.len(), actor = %by.name))]
        async fn apply_definition_changes(
            &self,
            changes: &[app::domain::DefinitionChange],
            by: &app::domain::Actor,
            reason: Option<&str>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), app::ssr::StoreError> {
            let now = app::domain::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err($crate::storage::backend_error)?;
            for change in changes {
                let action = match change {
                    app::domain::DefinitionChange::Create(d) | app::domain::DefinitionChange::Update { after: d, .. } => {
                        let (source, query, services, environments, check) = $crate::storage::rows::definition_columns(d);
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
                        .map_err($crate::storage::backend_error)?;
                        if matches!(change, app::domain::DefinitionChange::Create(_)) {
                            "metric.create"
                        } else {
                            "metric.update"
                        }
                    }
                    app::domain::DefinitionChange::Delete(d) => {
                        sqlx::query("DELETE FROM metric_definitions WHERE name = $1")
                            .bind(d.name.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::storage::backend_error)?;
                        "metric.delete"
                    }
                };
                let detail = change.describe();
                audit::record(
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
            tx.commit().await.map_err($crate::storage::backend_error)
        }

        #[tracing::instrument(skip(self))]
        async fn list_service_timings(&self) -> Result<Vec<app::domain::ServiceTiming>, app::ssr::StoreError> {
            let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
                "SELECT service, environments, warmup_secs, bake_secs, interval_secs \
                 FROM service_timings ORDER BY service, environments",
            )
            .fetch_all(&self.pool)
            .await
            .map_err($crate::storage::backend_error)?;
            rows.into_iter()
                .map(|(service, environments, warmup_secs, bake_secs, interval_secs)| {
                    $crate::storage::rows::service_timing(service, &environments, app::domain::Timing {
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
            changes: &[app::domain::TimingChange],
            by: &app::domain::Actor,
            reason: Option<&str>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), app::ssr::StoreError> {
            let now = app::domain::to_stored_precision(now);
            let mut tx = self.begin_write().await.map_err($crate::storage::backend_error)?;
            for change in changes {
                let action = match change {
                    app::domain::TimingChange::Set { after: t, .. } => {
                        sqlx::query(
                            "INSERT INTO service_timings (service, environments, warmup_secs, bake_secs, interval_secs, updated_at, updated_by) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (service, environments) DO UPDATE SET warmup_secs = $3, bake_secs = $4, \
                               interval_secs = $5, updated_at = $6, updated_by = $7",
                        )
                        .bind(&t.service)
                        .bind($crate::storage::rows::environments_key(t))
                        .bind(t.timing.warmup_secs)
                        .bind(t.timing.bake_secs)
                        .bind(t.timing.interval_secs)
                        .bind(now)
                        .bind(by.name.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::storage::backend_error)?;
                        "service.timing.set"
                    }
                    app::domain::TimingChange::Delete(t) => {
                        sqlx::query("DELETE FROM service_timings WHERE service = $1 AND environments = $2")
                            .bind(&t.service)
                            .bind($crate::storage::rows::environments_key(t))
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::storage::backend_error)?;
                        "service.timing.delete"
                    }
                };
                let detail = change.describe();
                audit::record(
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
            tx.commit().await.map_err($crate::storage::backend_error)
        }
    }
    };
}
pub(crate) use definition_store;

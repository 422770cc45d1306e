//! Incidents, written once for both databases (see `crate::shared`): a report opens
//! an incident or moves it, audited in the same transaction; and the evidence its
//! suspects are weighed by (error groups' first sighting is a signal time, the
//! dialect's `SignalTime`).

/// Implements `houston_store::IncidentStore` for `$store`, expanded inside a
/// backend's module, where `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl houston_store::IncidentStore for $store {
            #[tracing::instrument(skip(self, report, by), fields(source = report.source.as_str(), id = %report.external_id, actor = %by.name))]
            async fn record_incident(
                &self,
                report: &houston_core::IncidentReport,
                by: &houston_core::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_store::IncidentRecorded, houston_store::StoreError> {
                use crate::backend_error;
                use houston_core::{IncidentChange, IncidentState};
                type Stored = (
                    i64,
                    String,
                    Option<chrono::DateTime<chrono::Utc>>,
                    Option<chrono::DateTime<chrono::Utc>>,
                );
                let now = houston_core::to_stored_precision(now);
                let at = houston_core::to_stored_precision(report.at);
                let list = |names: Vec<&str>| {
                    serde_json::to_string(&names)
                        .map_err(|e| houston_store::StoreError::Backend(e.to_string()))
                };
                let services = list(report.services.iter().map(|s| s.as_str()).collect())?;
                let environments =
                    list(report.environments.iter().map(|e| e.as_str()).collect())?;
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                let read = "SELECT id, state, acknowledged_at, resolved_at FROM incidents \
                            WHERE source = $1 AND external_id = $2";
                let mut stored: Option<Stored> = sqlx::query_as(read)
                    .bind(report.source.as_str())
                    .bind(&report.external_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                if stored.is_none() {
                    let acknowledged = (report.state == IncidentState::Acknowledged).then_some(at);
                    let resolved = (report.state == IncidentState::Resolved).then_some(at);
                    // Another replica may open the same incident at the same moment:
                    // the second one then changes the first's row.
                    let inserted: Option<(i64,)> = sqlx::query_as(
                        "INSERT INTO incidents (source, external_id, title, severity, state, services, \
                           environments, opened_at, acknowledged_at, resolved_at, link, opened_by, \
                           created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
                         ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
                    )
                    .bind(report.source.as_str())
                    .bind(&report.external_id)
                    .bind(&report.title)
                    .bind(report.severity.as_str())
                    .bind(report.state.as_str())
                    .bind(&services)
                    .bind(&environments)
                    .bind(at)
                    .bind(acknowledged)
                    .bind(resolved)
                    .bind(report.link.as_deref())
                    .bind(&by.name)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    match inserted {
                        Some((id,)) => {
                            return finish(self, tx, id, IncidentChange::Opened, report, by, now)
                                .await;
                        }
                        None => {
                            stored = sqlx::query_as(read)
                                .bind(report.source.as_str())
                                .bind(&report.external_id)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(backend_error)?;
                        }
                    }
                }
                let Some((id, state, acknowledged_at, resolved_at)) = stored else {
                    return Err(houston_store::StoreError::Backend(
                        "an incident neither inserted nor found".into(),
                    ));
                };
                let change = IncidentChange::of(IncidentState::parse(&state), report.state);
                let (acknowledged_at, resolved_at) = match change {
                    IncidentChange::Acknowledged => (acknowledged_at.or(Some(at)), resolved_at),
                    IncidentChange::Resolved => (acknowledged_at, Some(at)),
                    IncidentChange::Reopened => (acknowledged_at, None),
                    IncidentChange::Opened | IncidentChange::Unchanged => {
                        (acknowledged_at, resolved_at)
                    }
                };
                sqlx::query(
                    "UPDATE incidents SET title = $2, severity = $3, state = $4, services = $5, \
                       environments = $6, link = COALESCE($7, link), acknowledged_at = $8, \
                       resolved_at = $9, updated_at = $10 WHERE id = $1",
                )
                .bind(id)
                .bind(&report.title)
                .bind(report.severity.as_str())
                .bind(report.state.as_str())
                .bind(&services)
                .bind(&environments)
                .bind(report.link.as_deref())
                .bind(acknowledged_at)
                .bind(resolved_at)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                finish(self, tx, id, change, report, by, now).await
            }

            #[tracing::instrument(skip(self))]
            async fn get_incident(
                &self,
                id: i64,
            ) -> Result<houston_core::Incident, houston_store::StoreError> {
                let row: Option<crate::rows::IncidentRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {} FROM incidents WHERE id = $1",
                        crate::rows::INCIDENT_COLUMNS
                    )))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend_error)?;
                row.ok_or_else(|| houston_store::StoreError::NotFound(format!("no incident {id}")))?
                    .try_into()
            }

            #[tracing::instrument(skip(self))]
            async fn list_incidents(
                &self,
                open_only: bool,
                limit: u32,
            ) -> Result<Vec<houston_core::Incident>, houston_store::StoreError> {
                let only = if open_only { "WHERE state <> 'resolved'" } else { "" };
                let rows: Vec<crate::rows::IncidentRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {} FROM incidents {only} ORDER BY opened_at DESC, id DESC LIMIT $1",
                        crate::rows::INCIDENT_COLUMNS
                    )))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(crate::backend_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            #[tracing::instrument(skip(self))]
            async fn incident_evidence(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_core::IncidentEvidence, houston_store::StoreError> {
                use crate::backend_error;
                use houston_store::StoreError;
                let groups: Vec<(String, String, super::dialect::SignalTime)> = sqlx::query_as(
                    "SELECT s.name, e.name, g.first_seen FROM error_groups g \
                     JOIN services s ON s.id = g.service_id \
                     JOIN environments e ON e.id = g.environment_id \
                     WHERE g.first_seen >= $1 AND g.first_seen <= $2 \
                     ORDER BY g.first_seen LIMIT 10000",
                )
                .bind(super::dialect::signal_time(from))
                .bind(super::dialect::signal_time(to))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                let alerts: Vec<(Option<String>, chrono::DateTime<chrono::Utc>)> =
                    sqlx::query_as(
                        "SELECT service, starts_at FROM alerts \
                         WHERE starts_at >= $1 AND starts_at <= $2 ORDER BY starts_at LIMIT 10000",
                    )
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?;
                let corrupt = |what: &str, name: &str| {
                    StoreError::Backend(format!("stored {what} {name:?} is not a valid name"))
                };
                Ok(houston_core::IncidentEvidence {
                    new_error_groups: groups
                        .into_iter()
                        .map(|(service, environment, first_seen)| {
                            Ok((
                                houston_core::ServiceName::parse(&service)
                                    .map_err(|_| corrupt("service", &service))?,
                                houston_core::EnvironmentName::parse(&environment)
                                    .map_err(|_| corrupt("environment", &environment))?,
                                super::dialect::from_signal_time(first_seen)?,
                            ))
                        })
                        .collect::<Result<_, StoreError>>()?,
                    // An alert placed on a service Houston cannot name counts for none.
                    alerts: alerts
                        .into_iter()
                        .map(|(service, at)| {
                            (service.and_then(|s| houston_core::ServiceName::parse(&s).ok()), at)
                        })
                        .collect(),
                })
            }

            #[tracing::instrument(skip(self, note, by), fields(actor = %by.name))]
            async fn decide_cause(
                &self,
                incident: i64,
                deploy: houston_core::DeployId,
                decision: houston_core::CauseDecision,
                note: Option<&str>,
                by: &houston_core::Actor,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_core::IncidentCause, houston_store::StoreError> {
                use crate::backend_error;
                use houston_store::StoreError;
                let now = houston_core::to_stored_precision(now);
                let mut tx = self.begin_write().await.map_err(backend_error)?;
                for (table, id, what) in [("incidents", incident, "incident"), ("deploys", deploy, "deploy")] {
                    let found: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM {table} WHERE id = $1"
                    )))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    if found.is_none() {
                        return Err(StoreError::NotFound(format!("no {what} {id}")));
                    }
                }
                sqlx::query(
                    "INSERT INTO incident_causes (incident_id, deploy_id, decision, note, decided_by, decided_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (incident_id, deploy_id) DO UPDATE SET decision = excluded.decision, \
                       note = excluded.note, decided_by = excluded.decided_by, decided_at = excluded.decided_at",
                )
                .bind(incident)
                .bind(deploy)
                .bind(decision.as_str())
                .bind(note)
                .bind(&by.name)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    decision.audited_as(),
                    &format!("incident:{incident}"),
                    note,
                    Some(&format!("deploy:{deploy}")),
                )
                .await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(houston_core::IncidentCause {
                    incident_id: incident,
                    deploy_id: deploy,
                    decision,
                    note: note.map(str::to_owned),
                    decided_by: by.name.clone(),
                    decided_at: now,
                })
            }

            #[tracing::instrument(skip(self))]
            async fn incident_causes(
                &self,
                incident: i64,
            ) -> Result<Vec<houston_core::IncidentCause>, houston_store::StoreError> {
                let rows: Vec<(i64, i64, String, Option<String>, String, chrono::DateTime<chrono::Utc>)> =
                    sqlx::query_as(
                        "SELECT incident_id, deploy_id, decision, note, decided_by, decided_at \
                         FROM incident_causes WHERE incident_id = $1 ORDER BY decided_at, deploy_id",
                    )
                    .bind(incident)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(crate::backend_error)?;
                rows.into_iter()
                    .map(|(incident_id, deploy_id, decision, note, decided_by, decided_at)| {
                        Ok(houston_core::IncidentCause {
                            incident_id,
                            deploy_id,
                            decision: houston_core::CauseDecision::parse(&decision).ok_or_else(|| {
                                houston_store::StoreError::Backend(format!(
                                    "stored cause decision {decision:?}"
                                ))
                            })?,
                            note,
                            decided_by,
                            decided_at,
                        })
                    })
                    .collect()
            }

            #[tracing::instrument(skip(self))]
            async fn timeline_facts(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
                limit: u32,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<houston_core::TimelineFacts, houston_store::StoreError> {
                use crate::backend_error;
                use houston_core::{DeployStatus, EnvironmentName, ServiceName, TimelineDeploy, VerdictState};
                use houston_store::StoreError;
                type DeployFacts = (
                    i64,
                    String,
                    String,
                    String,
                    String,
                    chrono::DateTime<chrono::Utc>,
                    Option<String>,
                    Option<chrono::DateTime<chrono::Utc>>,
                    Option<bool>,
                );
                // One more than asked, to know whether a kind was cut.
                let take = i64::from(limit) + 1;
                let cut = |n: usize| n > usize::try_from(limit).unwrap_or(usize::MAX);
                let corrupt = |what: &str, value: &str| {
                    StoreError::Backend(format!("stored {what} {value:?} is not valid"))
                };
                let rows: Vec<DeployFacts> = sqlx::query_as(
                    "SELECT d.id, s.name, e.name, d.version, d.status, d.started_at, d.verdict, \
                       v.decided_at, v.is_final \
                     FROM deploys d \
                     JOIN services s ON s.id = d.service_id \
                     JOIN environments e ON e.id = d.environment_id \
                     LEFT JOIN verdicts v ON v.deploy_id = d.id \
                     WHERE d.started_at >= $1 AND d.started_at <= $2 \
                       AND (d.started_at >= $4 OR v.decided_at >= $4) \
                     ORDER BY d.started_at, d.id LIMIT $3",
                )
                .bind(from - chrono::Duration::hours(6))
                .bind(to)
                .bind(take)
                .bind(from)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                let mut truncated = cut(rows.len());
                let deploys = rows
                    .into_iter()
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .map(|(id, service, environment, version, status, started_at, verdict, decided_at, is_final)| {
                        Ok(TimelineDeploy {
                            id,
                            service: ServiceName::parse(&service).map_err(|_| corrupt("service", &service))?,
                            environment: EnvironmentName::parse(&environment)
                                .map_err(|_| corrupt("environment", &environment))?,
                            version,
                            status: DeployStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
                            started_at,
                            verdict: verdict
                                .as_deref()
                                .map(|v| VerdictState::parse(v).ok_or_else(|| corrupt("verdict", v)))
                                .transpose()?,
                            verdict_at: decided_at.filter(|_| is_final.unwrap_or(false)),
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let alerts: Vec<crate::rows::AlertRow> =
                    overlapping(&self.pool, super::dialect::ALERTS_OVERLAPPING.to_owned(), from, to, take).await?;
                truncated |= cut(alerts.len());
                let locks: Vec<crate::shared::locks::LockRow> = overlapping(&self.pool, format!(
                    "SELECT {} FROM locks \
                     WHERE locked_at <= $2 AND (unlocked_at IS NULL OR unlocked_at >= $1) \
                       AND (expires_at IS NULL OR expires_at >= $1) \
                     ORDER BY locked_at, id LIMIT $3",
                    crate::shared::locks::LOCK_COLUMNS
                ), from, to, take)
                .await?;
                truncated |= cut(locks.len());
                let overrides: Vec<crate::shared::locks::OverrideRow> = overlapping(&self.pool, format!(
                    "SELECT {} FROM lock_overrides \
                     WHERE (granted_at >= $1 AND granted_at <= $2) OR (used_at >= $1 AND used_at <= $2) \
                     ORDER BY granted_at, id LIMIT $3",
                    crate::shared::locks::OVERRIDE_COLUMNS
                ), from, to, take)
                .await?;
                truncated |= cut(overrides.len());
                let incidents: Vec<crate::rows::IncidentRow> = overlapping(&self.pool, format!(
                    "SELECT {} FROM incidents \
                     WHERE opened_at <= $2 AND (resolved_at IS NULL OR resolved_at >= $1) \
                     ORDER BY opened_at, id LIMIT $3",
                    crate::rows::INCIDENT_COLUMNS
                ), from, to, take)
                .await?;
                truncated |= cut(incidents.len());
                let keep = usize::try_from(limit).unwrap_or(usize::MAX);
                Ok(houston_core::TimelineFacts {
                    deploys,
                    alerts: alerts
                        .into_iter()
                        .take(keep)
                        .map(houston_core::Alert::try_from)
                        .collect::<Result<_, _>>()?,
                    locks: locks
                        .into_iter()
                        .take(keep)
                        .map(|row| row.into_lock(now))
                        .collect::<Result<_, _>>()?,
                    overrides: overrides
                        .into_iter()
                        .take(keep)
                        .map(TryInto::try_into)
                        .collect::<Result<_, _>>()?,
                    incidents: incidents
                        .into_iter()
                        .take(keep)
                        .map(TryInto::try_into)
                        .collect::<Result<_, _>>()?,
                    freezes: Vec::new(),
                    truncated,
                })
            }
        }

        /// The rows `sql` selects for the span `$1`–`$2`, at most `$3`.
        async fn overlapping<R>(
            pool: &sqlx::Pool<super::dialect::Db>,
            sql: String,
            from: chrono::DateTime<chrono::Utc>,
            to: chrono::DateTime<chrono::Utc>,
            take: i64,
        ) -> Result<Vec<R>, houston_store::StoreError>
        where
            R: for<'r> sqlx::FromRow<'r, <super::dialect::Db as sqlx::Database>::Row> + Send + Unpin,
        {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(from)
                .bind(to)
                .bind(take)
                .fetch_all(pool)
                .await
                .map_err(crate::backend_error)
        }

        /// Audits the change (not a repeat) and commits, then reads the incident back.
        async fn finish(
            store: &$store,
            mut tx: sqlx::Transaction<'static, super::dialect::Db>,
            id: i64,
            change: houston_core::IncidentChange,
            report: &houston_core::IncidentReport,
            by: &houston_core::Actor,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<houston_store::IncidentRecorded, houston_store::StoreError> {
            if let Some(action) = change.audited_as() {
                super::audit::record(
                    &mut *tx,
                    now,
                    by,
                    action,
                    &format!("incident:{id}"),
                    None,
                    Some(&format!(
                        "{} ({}, {})",
                        report.title,
                        report.severity.as_str(),
                        report.source.as_str()
                    )),
                )
                .await?;
            }
            tx.commit().await.map_err(crate::backend_error)?;
            use houston_store::IncidentStore;
            Ok(houston_store::IncidentRecorded {
                incident: store.get_incident(id).await?,
                change,
            })
        }
    };
}
pub(crate) use store;

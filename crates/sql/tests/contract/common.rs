//! What every part of the contract shares: the imports, a fixed time, and deploys
//! and actors as callers send them.

pub(crate) use chrono::{DateTime, Duration, TimeZone, Utc};
pub(crate) use houston_core::{
    Actor, AuditFilter, BreakGlassRequest, Commit, CommitRequest, Cursor, DeployFilter,
    DeployRequest, DeploySource, DeployStatus, EnvironmentName, FreezeForm, FreezeHeader, Lock,
    LockFilter, LockRequest, NewBreakGlass, NewDeploy, NewLock, PageRequest, Role, ServiceName,
    StatusChange, StatusDecision, TokenScope, Username,
};
pub(crate) use houston_store::{LockOutcome, Store, StoreError};
pub(crate) use std::sync::Arc;

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
        .single()
        .expect("valid time")
}

/// A registration as an API caller sends it.
pub(crate) fn request(
    service: &str,
    environment: &str,
    version: &str,
    started_at: DateTime<Utc>,
) -> DeployRequest {
    DeployRequest {
        service: Some(service.into()),
        environment: Some(environment.into()),
        version: Some(version.into()),
        author: Some("ada".into()),
        status: Some("succeeded".into()),
        started_at: Some(started_at.to_rfc3339()),
        finished_at: Some((started_at + Duration::minutes(3)).to_rfc3339()),
        ..Default::default()
    }
}

/// A deploy is only built by the domain's parsing, here as everywhere.
pub(crate) fn parsed_as(request: DeployRequest, source: DeploySource) -> NewDeploy {
    request
        .parse_as(Utc::now(), source)
        .expect("a valid registration")
}

pub(crate) fn parsed(request: DeployRequest) -> NewDeploy {
    parsed_as(request, DeploySource::Api)
}

pub(crate) fn deploy(
    service: &str,
    environment: &str,
    version: &str,
    started_at: DateTime<Utc>,
) -> NewDeploy {
    parsed(request(service, environment, version, started_at))
}

pub(crate) fn ci() -> Actor {
    Actor::new("token:ci", Some("10.0.0.9".into()))
}

pub(crate) async fn register(store: &dyn Store, new: NewDeploy) -> houston_core::Deploy {
    store
        .register_deploy(&new, &ci())
        .await
        .expect("register")
        .deploy
}

pub(crate) async fn audit_actions(store: &dyn Store, target: &str) -> Vec<String> {
    let mut entries = store
        .list_audit(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    entries.reverse();
    entries
        .into_iter()
        .filter(|e| e.target == target)
        .map(|e| format!("{} {}", e.action, e.actor))
        .collect()
}

pub(crate) async fn all(store: &dyn Store, filter: DeployFilter) -> Vec<houston_core::Deploy> {
    store
        .list_deploys(
            &filter,
            &PageRequest {
                cursor: None,
                limit: 200,
            },
        )
        .await
        .expect("list")
        .deploys
}

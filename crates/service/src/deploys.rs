//! Deploys: registering one.

use crate::access::{Caller, Need};
use crate::{Change, Done, ServiceError};
use chrono::{DateTime, Utc};
use houston_core::{ChangeKind, DeployRequest, GateAsk, GateRule};
use houston_store::{Registration, Store};

/// Registering deploys: a deployer, or a token with scope `deploy`.
pub const NEED: Need = Need::DEPLOY;

/// Registers a deploy, idempotently by its external id: the first registration with
/// an id creates it (and tells open pages); the same caller registering it again gets
/// the stored deploy back, unchanged; another caller's id is a conflict, so nobody
/// takes over another's deploy by guessing its id. A deploy that goes out over any
/// block (a lock, a window, a firing alert, an unhealthy deploy, a promotion rule)
/// spends an override that breaks it or is marked: the gate's other blocks are read
/// here, the locks and windows in the registration's transaction. A registration
/// names no ref, so the branch rule is not weighed.
pub async fn register(
    store: &dyn Store,
    caller: &Caller,
    request: &DeployRequest,
    now: DateTime<Utc>,
) -> Result<Done<Registration>, ServiceError> {
    let mut new = request.parse(now)?;
    let ask = GateAsk {
        service: new.service.clone(),
        environment: new.environment.clone(),
        version: Some(new.version.clone()),
        branch: None,
    };
    new.other_blocks = crate::gate::other_blocks(store, &ask, now)
        .await?
        .into_iter()
        .filter(|r| r.rule != GateRule::Branch)
        .collect();
    let by = caller.actor();
    let registration = store.register_deploy(&new, &by).await?;
    let deploy = &registration.deploy;
    if registration.created {
        tracing::info!(deploy_id = deploy.id, service = %deploy.service, environment = %deploy.environment, version = %deploy.version, "deploy registered");
        return Ok(Done {
            change: Some(Change::Deploy(
                ChangeKind::Registered,
                Box::new(deploy.clone()),
            )),
            value: registration,
        });
    }
    if deploy
        .registered_by
        .as_deref()
        .is_some_and(|owner| owner != by.name)
    {
        return Err(ServiceError::Conflict(
            "this external id is another caller's deploy: choose an id of your own (the pipeline's run id, say)".to_owned(),
        ));
    }
    Ok(Done {
        value: registration,
        change: None,
    })
}

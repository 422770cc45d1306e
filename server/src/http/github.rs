//! GitHub `deployment` and `deployment_status` webhooks: signature check, delivery
//! de-duplication, and the mapping from GitHub's payload to Houston's deploys.

use crate::AppState;
use crate::http::error::{ApiError, ErrorBody};
use app::domain::{
    Deploy, DeploySource, DeployStatus, EnvironmentName, NewDeploy, ServiceName, StatusChange,
    to_stored_precision,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Debug, Deserialize)]
pub struct DeploymentEvent {
    pub deployment: GhDeployment,
    pub repository: GhRepository,
    pub workflow_run: Option<GhWorkflowRun>,
}

#[derive(Debug, Deserialize)]
pub struct DeploymentStatusEvent {
    pub deployment_status: GhDeploymentStatus,
    pub deployment: GhDeployment,
    pub repository: GhRepository,
    pub workflow_run: Option<GhWorkflowRun>,
}

#[derive(Debug, Deserialize)]
pub struct GhDeployment {
    pub id: i64,
    pub sha: String,
    pub environment: String,
    pub description: Option<String>,
    pub creator: Option<GhUser>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct GhDeploymentStatus {
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub target_url: Option<String>,
    pub log_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct GhRepository {
    pub name: String,
    pub full_name: String,
    pub html_url: String,
}

#[derive(Debug, Deserialize)]
pub struct GhUser {
    pub login: String,
}

#[derive(Debug, Deserialize)]
pub struct GhWorkflowRun {
    pub html_url: String,
}

/// What a webhook call did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookOutcome {
    /// `created`, `updated`, `unchanged`, `duplicate_delivery` or `ignored`.
    pub outcome: &'static str,
    pub detail: String,
    pub deploy: Option<Deploy>,
}

/// GitHub's names may hold characters Houston's names do not (spaces, slashes):
/// those become dashes, so "Production / EU" is stored as "Production---EU".
fn houston_name(raw: &str) -> String {
    let replaced: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    replaced
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(64)
        .collect()
}

/// GitHub's deployment states mapped to Houston's; `None` for states that say
/// nothing about how the deploy went (`inactive` means a newer deploy replaced it).
pub fn map_state(state: &str) -> Option<DeployStatus> {
    match state {
        "success" => Some(DeployStatus::Succeeded),
        "failure" | "error" => Some(DeployStatus::Failed),
        "queued" | "pending" | "in_progress" => Some(DeployStatus::InProgress),
        _ => None,
    }
}

pub fn external_id(repository: &GhRepository, deployment: &GhDeployment) -> String {
    format!("github:{}#{}", repository.full_name, deployment.id)
}

fn non_empty(url: &Option<String>) -> Option<String> {
    url.as_deref()
        .map(str::trim)
        .filter(|u| u.starts_with("http"))
        .map(str::to_owned)
}

/// The deploy a GitHub deployment describes, with the given status.
pub fn new_deploy(
    deployment: &GhDeployment,
    repository: &GhRepository,
    ci_url: Option<String>,
    status: DeployStatus,
    finished_at: Option<DateTime<Utc>>,
) -> Result<NewDeploy, ApiError> {
    let unprocessable = |what: &str, raw: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("GitHub {what} {raw:?} cannot be used as a Houston name"),
        )
    };
    let service = ServiceName::parse(&houston_name(&repository.name))
        .map_err(|_| unprocessable("repository", &repository.name))?;
    let environment = EnvironmentName::parse(&houston_name(&deployment.environment))
        .map_err(|_| unprocessable("environment", &deployment.environment))?;
    let version = deployment.sha.trim().to_owned();
    if version.is_empty() {
        return Err(unprocessable("deployment sha", &deployment.sha));
    }
    let started_at = to_stored_precision(deployment.created_at);
    Ok(NewDeploy {
        service,
        environment,
        version,
        previous_version: None,
        author: deployment.creator.as_ref().map(|c| c.login.clone()),
        description: deployment
            .description
            .clone()
            .filter(|d| !d.trim().is_empty()),
        ci_url,
        repository_url: Some(repository.html_url.clone()).filter(|u| u.starts_with("https://")),
        status,
        started_at,
        finished_at: finished_at.map(|f| to_stored_precision(f).max(started_at)),
        source: DeploySource::GithubWebhook,
        external_id: Some(external_id(repository, deployment)),
        commits: Vec::new(),
    })
}

type HmacSha256 = Hmac<Sha256>;

/// Checks `X-Hub-Signature-256: sha256=<hex>` in constant time.
pub fn signature_is_valid(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(signature) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Receive a GitHub webhook (`deployment`, `deployment_status`; `ping` is answered).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/github",
    tag = "webhooks",
    params(
        ("X-GitHub-Event" = String, Header, description = "deployment, deployment_status or ping"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "A repeated delivery id changes nothing"),
        ("X-Hub-Signature-256" = Option<String>, Header, description = "Required when HOUSTON_GITHUB_WEBHOOK_SECRET is set"),
    ),
    request_body(content = String, content_type = "application/json", description = "The event exactly as GitHub sends it"),
    responses(
        (status = 201, description = "A deploy was created", body = WebhookOutcome),
        (status = 200, description = "Updated, unchanged, duplicate or ignored", body = WebhookOutcome),
        (status = 400, description = "Missing event header or not JSON", body = ErrorBody),
        (status = 401, description = "Signature missing or wrong", body = ErrorBody),
        (status = 422, description = "Payload lacks what the event needs", body = ErrorBody),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<WebhookOutcome>), ApiError> {
    let body = body.map_err(|r| {
        let status = r.status();
        ApiError::new(
            status,
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                "payload_too_large"
            } else {
                "bad_request"
            },
            r.body_text(),
        )
    })?;
    // The signature is checked before anything in the body is looked at.
    if let Some(secret) = &state.config.github_webhook_secret
        && !signature_is_valid(secret, &body, header(&headers, "x-hub-signature-256"))
    {
        tracing::warn!("GitHub webhook refused: signature missing or wrong");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "X-Hub-Signature-256 is missing or does not match HOUSTON_GITHUB_WEBHOOK_SECRET",
        ));
    }
    let Some(event) = header(&headers, "x-github-event") else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the X-GitHub-Event header is missing",
        ));
    };
    let ignored = |detail: String| {
        Ok((
            StatusCode::OK,
            Json(WebhookOutcome {
                outcome: "ignored",
                detail,
                deploy: None,
            }),
        ))
    };
    match event {
        "ping" => return ignored("pong: the webhook is set up".into()),
        "deployment" | "deployment_status" => {}
        other => {
            return ignored(format!(
                "Houston does not use {other:?} events; send deployment and deployment_status"
            ));
        }
    }
    let parse_error = |e: serde_json::Error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("the {event} payload is not what GitHub sends: {e}"),
        )
    };
    let work = if event == "deployment" {
        let payload: DeploymentEvent = serde_json::from_slice(&body).map_err(parse_error)?;
        let ci_url = payload.workflow_run.as_ref().map(|w| w.html_url.clone());
        Work::Register(new_deploy(
            &payload.deployment,
            &payload.repository,
            ci_url,
            DeployStatus::InProgress,
            None,
        )?)
    } else {
        let payload: DeploymentStatusEvent = serde_json::from_slice(&body).map_err(parse_error)?;
        let Some(status) = map_state(&payload.deployment_status.state) else {
            return ignored(format!(
                "deployment state {:?} says nothing about the deploy",
                payload.deployment_status.state
            ));
        };
        let ci_url = payload
            .workflow_run
            .as_ref()
            .map(|w| w.html_url.clone())
            .or_else(|| non_empty(&payload.deployment_status.log_url))
            .or_else(|| non_empty(&payload.deployment_status.target_url));
        let finished_at = status
            .is_finished()
            .then_some(payload.deployment_status.created_at);
        Work::Status(new_deploy(
            &payload.deployment,
            &payload.repository,
            ci_url,
            status,
            finished_at,
        )?)
    };

    let delivery = header(&headers, "x-github-delivery")
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if let Some(delivery) = delivery
        && !state
            .store
            .claim_webhook_delivery(delivery, Utc::now())
            .await?
    {
        tracing::info!(delivery, "GitHub delivery seen before; nothing changed");
        return Ok((
            StatusCode::OK,
            Json(WebhookOutcome {
                outcome: "duplicate_delivery",
                detail: format!("delivery {delivery} was handled before"),
                deploy: None,
            }),
        ));
    }
    let result = apply(&state, work).await;
    if result.is_err()
        && let Some(delivery) = delivery
    {
        // Let GitHub's redelivery be handled once storage recovers.
        if let Err(e) = state.store.release_webhook_delivery(delivery).await {
            tracing::error!(delivery, error = %e, "could not release a failed delivery");
        }
    }
    result
}

enum Work {
    Register(NewDeploy),
    Status(NewDeploy),
}

async fn apply(
    state: &AppState,
    work: Work,
) -> Result<(StatusCode, Json<WebhookOutcome>), ApiError> {
    match work {
        Work::Register(new) => {
            let reg = state.store.register_deploy(&new).await?;
            if reg.created {
                state.events.deploy_changed(reg.deploy.id);
            }
            let (status, outcome) = if reg.created {
                (StatusCode::CREATED, "created")
            } else {
                (StatusCode::OK, "unchanged")
            };
            Ok((
                status,
                Json(WebhookOutcome {
                    outcome,
                    detail: format!("deploy {}", reg.deploy.id),
                    deploy: Some(reg.deploy),
                }),
            ))
        }
        Work::Status(new) => {
            let external_id = new.external_id.clone().unwrap_or_default();
            let Some(existing) = state.store.find_deploy_by_external_id(&external_id).await? else {
                // The status arrived first (or the deployment event was missed): the
                // status event carries the whole deployment, so register it now.
                let reg = state.store.register_deploy(&new).await?;
                state.events.deploy_changed(reg.deploy.id);
                let (status, outcome) = if reg.created {
                    (StatusCode::CREATED, "created")
                } else {
                    (StatusCode::OK, "unchanged")
                };
                return Ok((
                    status,
                    Json(WebhookOutcome {
                        outcome,
                        detail: format!("deploy {}", reg.deploy.id),
                        deploy: Some(reg.deploy),
                    }),
                ));
            };
            let (Some(finished_at), true) = (new.finished_at, new.status.is_finished()) else {
                return Ok((
                    StatusCode::OK,
                    Json(WebhookOutcome {
                        outcome: "unchanged",
                        detail: format!("deploy {} is still in progress", existing.id),
                        deploy: Some(existing),
                    }),
                ));
            };
            if existing.status == new.status && existing.finished_at == Some(finished_at) {
                return Ok((
                    StatusCode::OK,
                    Json(WebhookOutcome {
                        outcome: "unchanged",
                        detail: format!("deploy {}", existing.id),
                        deploy: Some(existing),
                    }),
                ));
            }
            let change = StatusChange {
                status: new.status,
                finished_at: finished_at.max(existing.started_at),
            };
            let deploy = state
                .store
                .update_deploy_status(existing.id, &change)
                .await?;
            state.events.deploy_changed(deploy.id);
            Ok((
                StatusCode::OK,
                Json(WebhookOutcome {
                    outcome: "updated",
                    detail: format!("deploy {} is {}", deploy.id, deploy.status),
                    deploy: Some(deploy),
                }),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_states_map_to_houston_statuses() {
        assert_eq!(map_state("success"), Some(DeployStatus::Succeeded));
        assert_eq!(map_state("failure"), Some(DeployStatus::Failed));
        assert_eq!(map_state("error"), Some(DeployStatus::Failed));
        assert_eq!(map_state("in_progress"), Some(DeployStatus::InProgress));
        assert_eq!(map_state("inactive"), None);
    }

    #[test]
    fn github_names_become_houston_names() {
        assert_eq!(houston_name("Hello-World"), "Hello-World");
        assert_eq!(houston_name("Production / EU"), "Production---EU");
        assert_eq!(houston_name("  _x"), "x");
    }

    #[test]
    fn signatures_are_checked() {
        // Example from GitHub's documentation on validating webhook deliveries.
        let secret = "It's a Secret to Everybody";
        let body = b"Hello, World!";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_is_valid(secret, body, Some(good)));
        assert!(!signature_is_valid(secret, b"Hello, World?", Some(good)));
        assert!(!signature_is_valid("other", body, Some(good)));
        assert!(!signature_is_valid(secret, body, None));
        assert!(!signature_is_valid(secret, body, Some("sha1=757107ea")));
        assert!(!signature_is_valid(secret, body, Some("sha256=zz")));
    }
}

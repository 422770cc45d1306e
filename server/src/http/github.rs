//! GitHub `deployment` and `deployment_status` webhooks, a thin adapter: signature
//! check, then GitHub's payload translated into a `domain::Delivery`. What the
//! delivery means is `domain::plan_delivery`'s decision; the store applies it with
//! the claim of the delivery id in one transaction.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{
    Actor, ChangeKind, Delivery, DeliveryPlan, DeliveryWork, Deploy, DeployRequest, DeploySource,
    DeployStatus, StatusDecision, StatusReport, plan_delivery, to_stored_precision,
};
use app::error::AppError;
use app::server::{DeliveryOutcome, StatusOutcome};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

/// The parts of GitHub's `pull_request` event the merge gate needs.
#[derive(Debug, Deserialize)]
pub struct PullRequestEvent {
    pub action: String,
    pub pull_request: GhPullRequest,
    pub repository: GhRepository,
}

#[derive(Debug, Deserialize)]
pub struct GhPullRequest {
    pub number: i64,
    pub state: String,
    pub updated_at: DateTime<Utc>,
    pub head: GhCommitRef,
    pub base: GhCommitRef,
}

#[derive(Debug, Deserialize)]
pub struct GhCommitRef {
    pub sha: String,
    #[serde(rename = "ref")]
    pub name: String,
}

/// A pull request of a linked repository is recorded (its head commit, open or
/// closed); the `github_statuses` job posts its `houston/gate` status. Pull requests
/// of other repositories are ignored.
async fn pull_request(
    state: &AppState,
    event: PullRequestEvent,
) -> Result<(StatusCode, Json<WebhookOutcome>), ApiError> {
    let repository = event.repository.full_name;
    let links = crate::jobs::github::links(state.store.as_ref())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading the linked repositories");
            ApiError(AppError::internal())
        })?;
    let Some(link) = links
        .iter()
        .find(|l| l.repository.eq_ignore_ascii_case(&repository))
    else {
        return Ok((
            StatusCode::OK,
            Json(WebhookOutcome {
                outcome: "ignored",
                detail: format!(
                    "{repository} is not linked ([[repository]] in the configuration file)"
                ),
                deploy: None,
            }),
        ));
    };
    let pull = &event.pull_request;
    let sha_ok = pull.head.sha.len() == 40 && pull.head.sha.chars().all(|c| c.is_ascii_hexdigit());
    if !sha_ok {
        return Err(AppError::validation(
            "pull_request.head.sha",
            "must be a 40-character commit SHA",
        )
        .into());
    }
    let is_open = pull.state == "open" && event.action != "closed";
    state
        .store
        .upsert_pull_request(&app::server::PullRequest {
            repository: link.repository.clone(),
            number: pull.number,
            head_sha: pull.head.sha.to_ascii_lowercase(),
            base_ref: pull.base.name.clone(),
            is_open,
            updated_at: to_stored_precision(pull.updated_at),
            posted_state: None,
            posted_description: None,
        })
        .await?;
    tracing::info!(repository = %link.repository, number = pull.number, action = %event.action, is_open, "pull request recorded");
    Ok((
        StatusCode::OK,
        Json(WebhookOutcome {
            outcome: "updated",
            detail: format!(
                "{}#{} {}: its houston/gate status follows {} in {}",
                link.repository,
                pull.number,
                if is_open { "open" } else { "closed" },
                link.service,
                link.environment
            ),
            deploy: None,
        }),
    ))
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

/// The deploy a GitHub deployment describes, in Houston's request shape: a
/// translation only. What it means is `app::domain::plan_delivery`'s decision, and
/// it passes the same parsing as an API registration, under the webhook's own
/// external-id namespace.
pub fn deploy_request(
    deployment: &GhDeployment,
    repository: &GhRepository,
    ci_url: Option<String>,
) -> DeployRequest {
    DeployRequest {
        service: Some(houston_name(&repository.name)),
        environment: Some(houston_name(&deployment.environment)),
        version: Some(deployment.sha.clone()),
        author: deployment.creator.as_ref().map(|c| c.login.clone()),
        description: deployment.description.clone(),
        ci_url,
        repository_url: Some(repository.html_url.clone()).filter(|u| u.starts_with("https://")),
        started_at: Some(to_stored_precision(deployment.created_at).to_rfc3339()),
        external_id: Some(external_id(repository, deployment)),
        ..Default::default()
    }
}

/// Checks `X-Hub-Signature-256: sha256=<hex>` in constant time.
pub fn signature_is_valid(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    hex::decode(hex_sig).is_ok_and(|signature| super::hmac_sha256_matches(secret, body, &signature))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Receive a GitHub webhook (`deployment`, `deployment_status`; `pull_request` of
/// linked repositories, whose merges wait while their place is locked; `ping` is
/// answered).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/github",
    tag = "webhooks",
    operation_id = "receive_github_webhook",
    params(
        ("X-GitHub-Event" = String, Header, description = "deployment, deployment_status, pull_request or ping; others are ignored"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "A repeated delivery id changes nothing"),
        ("X-Hub-Signature-256" = String, Header, pattern = "^sha256=[0-9a-fA-F]{64}$", description = "HMAC-SHA256 of the body with HOUSTON_GITHUB_WEBHOOK_SECRET (GitHub sends it when the webhook has a secret)"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The event exactly as GitHub sends it"),
    responses(
        (status = 201, description = "A deploy was created", body = WebhookOutcome),
        (status = 200, description = "Updated, unchanged, duplicate or ignored", body = WebhookOutcome),
        (status = 400, description = "Missing event header or not JSON", body = AppError),
        (status = 401, description = "Signature missing or wrong", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 503, description = "No webhook secret is configured (and unsigned deliveries are not allowed)", body = AppError),
        (status = 422, description = "Payload lacks what the event needs", body = AppError),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    request_parts: axum::http::request::Parts,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<WebhookOutcome>), ApiError> {
    let headers = &request_parts.headers;
    let body = body.map_err(|r| {
        ApiError(crate::http::error::body_rejection(
            r.status(),
            r.body_text(),
        ))
    })?;
    // The signature is checked before anything in the body is looked at; without
    // a secret the route is closed unless unsigned deliveries were asked for.
    let by = Actor::new(
        "github:webhook",
        super::auth::caller_address(&request_parts),
    );
    match &state.config.github_webhook_secret {
        Some(secret) => {
            if !signature_is_valid(secret, &body, header(headers, "x-hub-signature-256")) {
                tracing::warn!(address = ?by.address, "GitHub webhook refused: signature missing or wrong");
                state
                    .security
                    .record(&by, "webhook.bad_signature", "webhook:github", None);
                return Err(AppError::unauthorized(
                    "X-Hub-Signature-256 is missing or does not match HOUSTON_GITHUB_WEBHOOK_SECRET",
                )
                .into());
            }
        }
        None if state.config.github_webhook_allow_unsigned => {}
        None => {
            return Err(AppError::NotConfigured {
                message: "GitHub webhooks are off: set HOUSTON_GITHUB_WEBHOOK_SECRET to the secret of the \
                 repository's webhook (or HOUSTON_GITHUB_WEBHOOK_ALLOW_UNSIGNED=true for a local trial)"
                    .into(),
            }
            .into());
        }
    }
    let Some(event) = header(headers, "x-github-event") else {
        return Err(AppError::bad_request("the X-GitHub-Event header is missing").into());
    };
    let answer =
        |status: StatusCode, outcome: &'static str, detail: String, deploy: Option<Deploy>| {
            Ok((
                status,
                Json(WebhookOutcome {
                    outcome,
                    detail,
                    deploy,
                }),
            ))
        };
    let parse_error = |e: serde_json::Error| {
        ApiError(AppError::Validation {
            message: format!("the {event} payload is not what GitHub sends: {e}"),
            fields: Vec::new(),
        })
    };
    // Translation only: GitHub's payload in Houston's terms.
    let delivery = match event {
        "ping" => Delivery::Ping,
        "deployment" => {
            let payload: DeploymentEvent = serde_json::from_slice(&body).map_err(parse_error)?;
            let ci_url = payload.workflow_run.as_ref().map(|w| w.html_url.clone());
            Delivery::Started(deploy_request(
                &payload.deployment,
                &payload.repository,
                ci_url,
            ))
        }
        "deployment_status" => {
            let payload: DeploymentStatusEvent =
                serde_json::from_slice(&body).map_err(parse_error)?;
            let ci_url = payload
                .workflow_run
                .as_ref()
                .map(|w| w.html_url.clone())
                .or_else(|| non_empty(&payload.deployment_status.log_url))
                .or_else(|| non_empty(&payload.deployment_status.target_url));
            Delivery::Reported {
                deploy: deploy_request(&payload.deployment, &payload.repository, ci_url),
                report: StatusReport {
                    status: map_state(&payload.deployment_status.state),
                    state: payload.deployment_status.state,
                    at: payload.deployment_status.created_at,
                },
            }
        }
        "pull_request" => {
            let payload: PullRequestEvent = serde_json::from_slice(&body).map_err(parse_error)?;
            return pull_request(&state, payload).await;
        }
        other => Delivery::Unused {
            event: other.to_owned(),
        },
    };
    // What it means is the domain's decision.
    let now = Utc::now();
    let work =
        match plan_delivery(&delivery, DeploySource::GithubWebhook, now).map_err(|errors| {
            ApiError(match AppError::from(errors) {
                AppError::Validation { message, fields } => AppError::Validation {
                    message: format!("the GitHub payload cannot be used: {message}"),
                    fields,
                },
                other => other,
            })
        })? {
            DeliveryPlan::Ignore(why) => return answer(StatusCode::OK, "ignored", why, None),
            DeliveryPlan::Apply(work) => *work,
        };

    let delivery = header(headers, "x-github-delivery")
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let by = Actor::new(format!("github:{}", repository_of(&work)), by.address);
    // Like an API registration: what blocks the deploy besides locks and windows, so
    // one that went out over any block is marked (or spends an override).
    let mut work = work;
    let ask = {
        let deploy = work.deploy();
        app::domain::GateAsk {
            service: deploy.service.clone(),
            environment: deploy.environment.clone(),
            version: Some(deploy.version.clone()),
            branch: None,
        }
    };
    work.deploy_mut().other_blocks =
        app::server::gate::other_blocks(state.store.as_ref(), &ask, now)
            .await?
            .into_iter()
            .filter(|r| r.rule != app::domain::GateRule::Branch)
            .collect();
    match state
        .store
        .apply_webhook_delivery(delivery, &work, &by, now)
        .await?
    {
        DeliveryOutcome::Duplicate => {
            tracing::info!(delivery, "GitHub delivery seen before; nothing changed");
            answer(
                StatusCode::OK,
                "duplicate_delivery",
                format!(
                    "delivery {} was handled before",
                    delivery.unwrap_or_default()
                ),
                None,
            )
        }
        DeliveryOutcome::Registered(reg) => {
            let detail = format!("deploy {}", reg.deploy.id);
            if reg.created {
                tracing::info!(deploy_id = reg.deploy.id, "deploy registered from GitHub");
                state
                    .events
                    .deploy_changed(ChangeKind::Registered, &reg.deploy);
                answer(StatusCode::CREATED, "created", detail, Some(reg.deploy))
            } else {
                answer(StatusCode::OK, "unchanged", detail, Some(reg.deploy))
            }
        }
        DeliveryOutcome::Status(StatusOutcome { deploy, decision }) => match decision {
            StatusDecision::Apply => {
                tracing::info!(deploy_id = deploy.id, status = %deploy.status, "deploy status changed from GitHub");
                state.events.deploy_changed(ChangeKind::Status, &deploy);
                let detail = format!("deploy {} is {}", deploy.id, deploy.status);
                answer(StatusCode::OK, "updated", detail, Some(deploy))
            }
            StatusDecision::Unchanged(why) => {
                answer(StatusCode::OK, "unchanged", why, Some(deploy))
            }
            StatusDecision::Refused(why) | StatusDecision::Invalid(why) => {
                tracing::info!(deploy_id = deploy.id, "GitHub status not applied: {why}");
                answer(StatusCode::OK, "ignored", why, Some(deploy))
            }
        },
    }
}

/// `owner/repo` of the deploy a delivery is about, from its external id.
fn repository_of(work: &DeliveryWork) -> String {
    work.deploy()
        .external_id
        .as_deref()
        .and_then(|id| id.strip_prefix("github:"))
        .and_then(|id| id.split('#').next())
        .unwrap_or("unknown")
        .to_owned()
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

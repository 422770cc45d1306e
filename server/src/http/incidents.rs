//! `/api/v1/incidents` and `/api/v1/webhooks/pagerduty`: incidents in (declared, or
//! from PagerDuty's signed v3 webhook), read, and the deploys suspected of causing
//! one.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{
    Actor, CauseRequest, Incident, IncidentCause, IncidentChange, IncidentRequest, IncidentSource,
    PagerDutyWebhook, SUSPECT_WINDOW, Timeline, TimelineQuery,
};
use app::error::AppError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use houston_service::incidents::{self, IncidentExport, IncidentSuspects};
use houston_store::IncidentRecorded;
use serde::{Deserialize, Serialize};

/// What a report did: the incident as it now stands, and the change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentOutcome {
    pub change: IncidentChange,
    pub incident: Incident,
}

/// What the PagerDuty webhook did with an event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PagerDutyOutcome {
    /// `recorded`, or `ignored` for an event that changes no incident's state.
    pub outcome: &'static str,
    pub change: Option<IncidentChange>,
    pub incident: Option<Incident>,
}

/// `?open=true`: only incidents not resolved.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncidentsQuery {
    /// Only incidents not resolved.
    pub open: Option<bool>,
    /// How many, newest opened first (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// `?window_minutes=360`: how far before the incident to look.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SuspectsQuery {
    /// Deploys that went out this many minutes before the incident opened (default
    /// 360, at most 10,080: a week).
    #[param(minimum = 1, maximum = 10080)]
    pub window_minutes: Option<i64>,
}

/// Declare an incident, or report a change of one declared before (same `id`):
/// acknowledged, resolved, reopened. Audited as `incident.open`, `.acknowledge`,
/// `.resolve`, `.reopen`.
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    tag = "incidents",
    operation_id = "declare_incident",
    request_body = IncidentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Opened (committed and audited)", body = IncidentOutcome),
        (status = 200, description = "An incident already known by this id, moved or unchanged", body = IncidentOutcome),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The caller may not declare incidents (a viewer, or a token without scope deploy)", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "Invalid fields (title and severity required, known state, names, a time not in the future, an http(s) link)", body = AppError),
    )
)]
pub async fn declare(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Json<IncidentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<IncidentOutcome>), ApiError> {
    let Json(request) = body?;
    let now = chrono::Utc::now();
    let fresh = || format!("declared-{}", now.format("%Y%m%dT%H%M%S%.6fZ"));
    let report = request.parse(IncidentSource::Declared, fresh, now)?;
    let by = super::auth::caller_of(&parts).actor();
    let done = incidents::record(state.store.as_ref(), &by, &report, now)
        .await
        .map_err(AppError::from)?;
    state.events.publish(done.change);
    Ok(outcome(done.value))
}

/// The answer to a report: 201 when it opened the incident, else 200, with the
/// change and the incident as it now stands.
fn outcome(recorded: IncidentRecorded) -> (StatusCode, Json<IncidentOutcome>) {
    let status = if recorded.change == IncidentChange::Opened {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(IncidentOutcome {
            change: recorded.change,
            incident: recorded.incident,
        }),
    )
}

/// Incidents, newest opened first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "incidents",
    operation_id = "list_incidents",
    params(IncidentsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Incidents, newest opened first", body = Vec<Incident>),
        (status = 400, description = "Malformed query string", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope read", body = AppError),
        (status = 422, description = "A limit outside 1–200", body = AppError),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<IncidentsQuery>, QueryRejection>,
) -> Result<Json<Vec<Incident>>, ApiError> {
    let Query(query) = query?;
    let limit = match query.limit {
        None => 50,
        Some(limit @ 1..=200) => limit,
        Some(_) => return Err(AppError::validation("limit", "must be from 1 to 200").into()),
    };
    Ok(Json(
        state
            .store
            .list_incidents(query.open.unwrap_or(false), limit)
            .await?,
    ))
}

/// One incident.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "incidents",
    operation_id = "get_incident",
    params(("id" = i64, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 400, description = "Not an id", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope read", body = AppError),
        (status = 404, description = "No such incident", body = AppError),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Incident>, ApiError> {
    let Path(id) = id?;
    Ok(Json(state.store.get_incident(id).await?))
}

/// The deploys suspected of causing an incident, most suspect first, each with the
/// evidence in words: same service and environment, how close before it, its
/// verdict, new error groups and alerts that followed it.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/suspects",
    tag = "incidents",
    operation_id = "incident_suspects",
    params(("id" = i64, Path, description = "Incident id"), SuspectsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident and its suspects", body = IncidentSuspects),
        (status = 400, description = "Not an id, or a malformed query string", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope read", body = AppError),
        (status = 404, description = "No such incident", body = AppError),
        (status = 422, description = "A window outside 1–10,080 minutes", body = AppError),
    )
)]
pub async fn suspects(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<SuspectsQuery>, QueryRejection>,
) -> Result<Json<IncidentSuspects>, ApiError> {
    let Path(id) = id?;
    let Query(query) = query?;
    let window = window_of(query.window_minutes)?;
    Ok(Json(
        incidents::suspects(state.store.as_ref(), id, window)
            .await
            .map_err(AppError::from)?,
    ))
}

/// Say whether a suspect caused the incident: `confirmed` puts it first among the
/// suspects, `rejected` last. A later word replaces the earlier. Audited as
/// `incident.cause_confirm` or `incident.cause_reject`.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/suspects/{deploy_id}",
    tag = "incidents",
    operation_id = "decide_incident_cause",
    params(
        ("id" = i64, Path, description = "Incident id"),
        ("deploy_id" = i64, Path, description = "The suspect deploy's id"),
    ),
    request_body = CauseRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored (committed and audited)", body = IncidentCause),
        (status = 400, description = "Not JSON, or not ids", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The caller may not (a viewer, or a token without scope deploy)", body = AppError),
        (status = 404, description = "No such incident or deploy", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 415, description = "Not sent as application/json", body = AppError),
        (status = 422, description = "No decision, or a note that is not one line", body = AppError),
    )
)]
pub async fn decide_cause(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    ids: Result<Path<(i64, i64)>, PathRejection>,
    body: Result<Json<CauseRequest>, JsonRejection>,
) -> Result<Json<IncidentCause>, ApiError> {
    let Path((id, deploy)) = ids?;
    let Json(request) = body?;
    let by = super::auth::caller_of(&parts).actor();
    let done = incidents::decide_cause(
        state.store.as_ref(),
        &by,
        id,
        deploy,
        &request,
        chrono::Utc::now(),
    )
    .await
    .map_err(AppError::from)?;
    state.events.publish(done.change);
    Ok(Json(done.value))
}

/// `?format=markdown` for the postmortem's text; JSON otherwise.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (the default) or `markdown`.
    #[param(pattern = "^(json|markdown)$")]
    pub format: Option<String>,
    /// As for the suspects (default 360 minutes).
    #[param(minimum = 1, maximum = 10080)]
    pub window_minutes: Option<i64>,
}

/// The incident for its postmortem: its suspects and its timeline (the deploys and
/// alerts from the window before it to its resolution, and its own moves), as JSON
/// or as Markdown to paste into the review document.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/export",
    tag = "incidents",
    operation_id = "export_incident",
    params(("id" = i64, Path, description = "Incident id"), ExportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident, suspects and timeline (Markdown with format=markdown)", content(
            (IncidentExport = "application/json"),
            (String = "text/markdown"),
        )),
        (status = 400, description = "Not an id, or a malformed query string", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope read", body = AppError),
        (status = 404, description = "No such incident", body = AppError),
        (status = 422, description = "An unknown format or a window outside 1–10,080 minutes", body = AppError),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Path(id) = id?;
    let Query(query) = query?;
    let window = window_of(query.window_minutes)?;
    let markdown = match query.format.as_deref() {
        None | Some("json") => false,
        Some("markdown") => true,
        Some(_) => {
            return Err(AppError::validation("format", "must be json or markdown").into());
        }
    };
    let export = incidents::export(state.store.as_ref(), id, window, chrono::Utc::now())
        .await
        .map_err(AppError::from)?;
    if markdown {
        let text =
            app::domain::postmortem_markdown(&export.incident, &export.suspects, &export.timeline);
        Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            text,
        )
            .into_response())
    } else {
        Ok(Json(export).into_response())
    }
}

/// A window in minutes (1 to a week), the suspects' default when absent.
fn window_of(minutes: Option<i64>) -> Result<chrono::Duration, ApiError> {
    match minutes {
        None => Ok(SUSPECT_WINDOW),
        Some(minutes @ 1..=10_080) => Ok(chrono::Duration::minutes(minutes)),
        Some(_) => {
            Err(AppError::validation("window_minutes", "must be from 1 to 10080 (a week)").into())
        }
    }
}

/// Checks `X-PagerDuty-Signature`: one or more `v1=<hex>` (several while a secret
/// is rotated), each an HMAC-SHA256 of the body; one that matches `secret`, compared
/// in constant time, is enough.
pub fn pagerduty_signature_is_valid(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(header) = header else {
        return false;
    };
    header
        .split(',')
        .filter_map(|s| s.trim().strip_prefix("v1="))
        .filter_map(|hex_sig| hex::decode(hex_sig).ok())
        .any(|signature| super::hmac_sha256_matches(secret, body, &signature))
}

/// Receive PagerDuty's v3 webhook: an incident triggered, acknowledged, resolved or
/// reopened opens or moves the incident of the same id, on the service PagerDuty
/// names (`API Service` → `api-service`) in `HOUSTON_INCIDENT_ENVIRONMENT`. Other
/// events are answered and ignored. The signature is checked first.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/pagerduty",
    tag = "webhooks",
    operation_id = "receive_pagerduty_webhook",
    params(
        ("X-PagerDuty-Signature" = String, Header, description = "v1=<HMAC-SHA256 of the body with HOUSTON_PAGERDUTY_WEBHOOK_SECRET, hex>, comma-separated while a secret is rotated"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The event exactly as PagerDuty sends it"),
    responses(
        (status = 201, description = "An incident was opened", body = PagerDutyOutcome),
        (status = 200, description = "Moved, unchanged or ignored", body = PagerDutyOutcome),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "Signature missing or wrong", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 422, description = "Not a PagerDuty v3 event", body = AppError),
        (status = 503, description = "No webhook secret is configured", body = AppError),
    )
)]
pub async fn pagerduty(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PagerDutyOutcome>), ApiError> {
    let body = body.map_err(|r| {
        ApiError(crate::http::error::body_rejection(
            r.status(),
            r.body_text(),
        ))
    })?;
    let by = Actor::new("webhook:pagerduty", super::auth::caller_address(&parts));
    let Some(secret) = &state.config.pagerduty_webhook_secret else {
        return Err(AppError::NotConfigured {
            message: "the PagerDuty webhook is off: set HOUSTON_PAGERDUTY_WEBHOOK_SECRET to the \
                      webhook subscription's secret"
                .into(),
        }
        .into());
    };
    let signature = parts
        .headers
        .get("x-pagerduty-signature")
        .and_then(|v| v.to_str().ok());
    if !pagerduty_signature_is_valid(secret, &body, signature) {
        tracing::warn!(address = ?by.address, "PagerDuty webhook refused: signature missing or wrong");
        state
            .security
            .record(&by, "webhook.bad_signature", "webhook:pagerduty", None);
        return Err(AppError::unauthorized(
            "X-PagerDuty-Signature is missing or does not match HOUSTON_PAGERDUTY_WEBHOOK_SECRET",
        )
        .into());
    }
    let webhook: PagerDutyWebhook = serde_json::from_slice(&body).map_err(|e| {
        ApiError(AppError::Validation {
            message: format!("not a PagerDuty v3 webhook event: {e}"),
            fields: Vec::new(),
        })
    })?;
    let report = webhook
        .report(&state.config.incident_environment)
        .map_err(|message| {
            ApiError(AppError::Validation {
                message,
                fields: Vec::new(),
            })
        })?;
    let Some(report) = report else {
        return Ok((
            StatusCode::OK,
            Json(PagerDutyOutcome {
                outcome: "ignored",
                change: None,
                incident: None,
            }),
        ));
    };
    let done = incidents::record(state.store.as_ref(), &by, &report, chrono::Utc::now())
        .await
        .map_err(AppError::from)?;
    state.events.publish(done.change);
    let recorded = done.value;
    Ok((
        if recorded.change == IncidentChange::Opened {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(PagerDutyOutcome {
            outcome: "recorded",
            change: Some(recorded.change),
            incident: Some(recorded.incident),
        }),
    ))
}

/// Receive an incident from any tool that signs a JSON body: the body is
/// `POST /api/v1/incidents`'s (`id`, `title`, `severity`, `state`, `services`,
/// `environments`, `at`, `url`), and `X-Houston-Signature` is `sha256=` and the hex
/// HMAC-SHA256 of the body with `HOUSTON_INCIDENT_WEBHOOK_SECRET`, as GitHub signs.
/// A later report with the same `id` moves the incident.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/incidents",
    tag = "webhooks",
    operation_id = "receive_incident_webhook",
    params(
        ("X-Houston-Signature" = String, Header, description = "sha256=<HMAC-SHA256 of the body with HOUSTON_INCIDENT_WEBHOOK_SECRET, hex>"),
    ),
    request_body = IncidentRequest,
    responses(
        (status = 201, description = "Opened (committed and audited)", body = IncidentOutcome),
        (status = 200, description = "An incident already known by this id, moved or unchanged", body = IncidentOutcome),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "Signature missing or wrong", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 422, description = "Invalid fields", body = AppError),
        (status = 503, description = "No webhook secret is configured", body = AppError),
    )
)]
pub async fn incident_webhook(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<IncidentOutcome>), ApiError> {
    let body = body.map_err(|r| {
        ApiError(crate::http::error::body_rejection(
            r.status(),
            r.body_text(),
        ))
    })?;
    let by = Actor::new("webhook:incidents", super::auth::caller_address(&parts));
    let Some(secret) = &state.config.incident_webhook_secret else {
        return Err(AppError::NotConfigured {
            message: "the incident webhook is off: set HOUSTON_INCIDENT_WEBHOOK_SECRET to the \
                      secret its sender signs with"
                .into(),
        }
        .into());
    };
    let signature = parts
        .headers
        .get("x-houston-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(|hex_sig| hex::decode(hex_sig).ok());
    if !signature.is_some_and(|s| super::hmac_sha256_matches(secret, &body, &s)) {
        tracing::warn!(address = ?by.address, "incident webhook refused: signature missing or wrong");
        state
            .security
            .record(&by, "webhook.bad_signature", "webhook:incidents", None);
        return Err(AppError::unauthorized(
            "X-Houston-Signature is missing or does not match HOUSTON_INCIDENT_WEBHOOK_SECRET",
        )
        .into());
    }
    let request: IncidentRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError(AppError::Validation {
            message: format!("not an incident report: {e}"),
            fields: Vec::new(),
        })
    })?;
    let now = chrono::Utc::now();
    let fresh = || format!("webhook-{}", now.format("%Y%m%dT%H%M%S%.6fZ"));
    let report = request.parse(IncidentSource::Webhook, fresh, now)?;
    let done = incidents::record(state.store.as_ref(), &by, &report, now)
        .await
        .map_err(AppError::from)?;
    state.events.publish(done.change);
    Ok(outcome(done.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagerduty_signatures_are_checked_with_rotation() {
        let body = br#"{"event":{}}"#;
        let sign = |secret: &str| {
            use hmac::Mac;
            let mut mac =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
            mac.update(body);
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        };
        let good = sign("s3cret");
        assert!(pagerduty_signature_is_valid("s3cret", body, Some(&good)));
        let rotating = format!("{},{}", sign("old"), good);
        assert!(pagerduty_signature_is_valid(
            "s3cret",
            body,
            Some(&rotating)
        ));
        assert!(!pagerduty_signature_is_valid("s3cret", b"{}", Some(&good)));
        assert!(!pagerduty_signature_is_valid("other", body, Some(&good)));
        assert!(!pagerduty_signature_is_valid("s3cret", body, None));
        assert!(!pagerduty_signature_is_valid(
            "s3cret",
            body,
            Some("v0=abcd")
        ));
        assert!(!pagerduty_signature_is_valid("s3cret", body, Some("v1=zz")));
    }
}

/// The timeline: deploys, verdicts, locks, freeze windows, overrides, alerts and
/// incidents across services on one time axis, as lanes of marks placed from 0 to 1
/// (what the `/timeline` page draws) and every event in time order.
#[utoipa::path(
    get,
    path = "/api/v1/timeline",
    tag = "incidents",
    operation_id = "timeline",
    params(TimelineQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The view", body = Timeline),
        (status = 400, description = "A malformed query string", body = AppError),
        (status = 401, description = "No or bad API token", body = AppError),
        (status = 403, description = "The token lacks scope read", body = AppError),
        (status = 404, description = "No such incident or deploy to centre on", body = AppError),
        (status = 422, description = "A time, span, name or kind that is not valid", body = AppError),
    )
)]
pub async fn timeline(
    State(state): State<AppState>,
    query: Result<Query<TimelineQuery>, QueryRejection>,
) -> Result<Json<Timeline>, ApiError> {
    let Query(query) = query?;
    let filter = query.parse().map_err(AppError::from)?;
    Ok(Json(
        houston_service::timeline::read(state.store.as_ref(), &filter, chrono::Utc::now())
            .await
            .map_err(AppError::from)?,
    ))
}

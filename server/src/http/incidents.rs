//! `/api/v1/incidents` and `/api/v1/webhooks/pagerduty`: incidents in (declared, or
//! from PagerDuty's signed v3 webhook), read, and the deploys suspected of causing
//! one.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::{
    Actor, CauseRequest, Incident, IncidentCause, IncidentChange, IncidentIoWebhook,
    IncidentReport, IncidentRequest, IncidentSource, OpsgenieWebhook, PagerDutyWebhook,
    SUSPECT_WINDOW, Timeline, TimelineQuery,
};
use app::error::AppError;
use app::server::Freshness;
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

/// What an incident tool's webhook (PagerDuty, incident.io, Opsgenie) did with an
/// event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolOutcome {
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
    let fresh = || app::domain::fresh_incident_id(IncidentSource::Declared, now);
    let report = request.parse(IncidentSource::Declared, fresh, now)?;
    let by = super::auth::caller_of(&parts).actor();
    let done = incidents::record(state.store.as_ref(), &by, &report, now)
        .await
        .map_err(AppError::from)?;
    state.events.publish(done.change);
    Ok(outcome(done.value))
}

/// 201 for a report that opened an incident, else 200.
fn status_of(change: IncidentChange) -> StatusCode {
    if change == IncidentChange::Opened {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// The answer to a report: 201 when it opened the incident, else 200, with the
/// change and the incident as it now stands.
fn outcome(recorded: IncidentRecorded) -> (StatusCode, Json<IncidentOutcome>) {
    (
        status_of(recorded.change),
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
) -> Result<axum::response::Response, ApiError> {
    let Path(id) = id?;
    let Query(query) = query?;
    let window = window_of(query.window_minutes)?;
    let read = state
        .events
        .page_cache()
        .suspects(
            &state.store,
            id,
            window,
            Freshness::MayLag,
            chrono::Utc::now(),
        )
        .await
        .map_err(AppError::from)?;
    json_bytes(read.json())
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
        (status = 201, description = "An incident was opened", body = ToolOutcome),
        (status = 200, description = "Moved, unchanged or ignored", body = ToolOutcome),
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
) -> Result<(StatusCode, Json<ToolOutcome>), ApiError> {
    let body = body_bytes(body)?;
    let by = Actor::new("webhook:pagerduty", super::auth::caller_address(&parts));
    let Some(secret) = &state.config.pagerduty_webhook_secret else {
        return Err(webhook_off(
            "PagerDuty",
            "HOUSTON_PAGERDUTY_WEBHOOK_SECRET to the webhook subscription's secret",
        ));
    };
    let signature = parts
        .headers
        .get("x-pagerduty-signature")
        .and_then(|v| v.to_str().ok());
    if !pagerduty_signature_is_valid(secret, &body, signature) {
        return Err(refused(
            &state,
            &by,
            "X-PagerDuty-Signature is missing or does not match HOUSTON_PAGERDUTY_WEBHOOK_SECRET",
        ));
    }
    let webhook: PagerDutyWebhook =
        serde_json::from_slice(&body).map_err(not_an_event("a PagerDuty v3 webhook event"))?;
    let report = webhook
        .report(&state.config.incident_environment)
        .map_err(invalid_event)?;
    record_tool_report(&state, &by, report).await
}

/// Records what a tool reported (201 when it opened the incident), or answers that
/// the event changes no incident (200, `ignored`).
async fn record_tool_report(
    state: &AppState,
    by: &Actor,
    report: Option<IncidentReport>,
) -> Result<(StatusCode, Json<ToolOutcome>), ApiError> {
    let Some(report) = report else {
        return Ok((
            StatusCode::OK,
            Json(ToolOutcome {
                outcome: "ignored",
                change: None,
                incident: None,
            }),
        ));
    };
    let done = incidents::record(state.store.as_ref(), by, &report, chrono::Utc::now())
        .await
        .map_err(AppError::from)?;
    state.events.publish(done.change);
    let recorded = done.value;
    Ok((
        status_of(recorded.change),
        Json(ToolOutcome {
            outcome: "recorded",
            change: Some(recorded.change),
            incident: Some(recorded.incident),
        }),
    ))
}

/// A body that is not the tool's event: 422, saying what was expected.
fn not_an_event(what: &'static str) -> impl Fn(serde_json::Error) -> ApiError {
    move |e| {
        ApiError(AppError::Validation {
            message: format!("not {what}: {e}"),
            fields: Vec::new(),
        })
    }
}

/// An event that makes no report (a field missing): 422 with why.
fn invalid_event(message: String) -> ApiError {
    ApiError(AppError::Validation {
        message,
        fields: Vec::new(),
    })
}

/// The body, or the error its reading met (too large, not read).
fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        ApiError(crate::http::error::body_rejection(
            r.status(),
            r.body_text(),
        ))
    })
}

/// A webhook whose secret is not set is off: 503, saying which setting turns it on.
fn webhook_off(tool: &str, variable: &str) -> ApiError {
    AppError::NotConfigured {
        message: format!("the {tool} webhook is off: set {variable}"),
    }
    .into()
}

/// A delivery whose proof is missing or wrong: logged, kept in the security log,
/// answered 401 with what was expected.
fn refused(state: &AppState, by: &Actor, what: &str) -> ApiError {
    tracing::warn!(address = ?by.address, actor = %by.name, "webhook refused: {what}");
    state
        .security
        .record(by, "webhook.bad_signature", &by.name, None);
    AppError::unauthorized(what).into()
}

/// How far a Svix delivery's timestamp may be from now (Svix's own libraries' 5 minutes).
const SVIX_TOLERANCE_SECONDS: i64 = 300;

/// Checks a Svix-signed delivery (incident.io): `webhook-signature` (or
/// `svix-signature`) holds space-separated `v1,<base64>` entries, each an
/// HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the base64 after `whsec_`;
/// one that matches is enough, and the timestamp must lie within five minutes of
/// `now` (a replayed delivery is refused).
pub fn svix_signature_is_valid(
    secret: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    use base64::Engine;
    let header = |name: &str| {
        ["webhook-", "svix-"]
            .iter()
            .find_map(|prefix| headers.get(format!("{prefix}{name}")))
            .and_then(|v| v.to_str().ok())
    };
    let (Some(id), Some(timestamp), Some(signatures)) =
        (header("id"), header("timestamp"), header("signature"))
    else {
        return false;
    };
    let Ok(seconds) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if (now.timestamp() - seconds).abs() > SVIX_TOLERANCE_SECONDS {
        return false;
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let key = match secret.strip_prefix("whsec_") {
        Some(encoded) => match engine.decode(encoded) {
            Ok(key) => key,
            Err(_) => return false,
        },
        None => secret.as_bytes().to_vec(),
    };
    let mut signed = format!("{id}.{}.", timestamp.trim()).into_bytes();
    signed.extend_from_slice(body);
    signatures
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|sig| engine.decode(sig).ok())
        .any(|sig| super::hmac_sha256_matches(&key, &signed, &sig))
}

/// Receive incident.io's webhook (signed by Svix): a public incident created,
/// updated or moving status opens or moves the incident of the same id, placed in
/// `HOUSTON_INCIDENT_ENVIRONMENT` on the services of its "Affected services" custom
/// field (none: every service). Other events are answered and ignored.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/incident-io",
    tag = "webhooks",
    operation_id = "receive_incident_io_webhook",
    params(
        ("webhook-id" = String, Header, description = "The message's id"),
        ("webhook-timestamp" = String, Header, description = "Unix seconds; within 5 minutes of now"),
        ("webhook-signature" = String, Header, description = "v1,<base64 HMAC-SHA256 of id.timestamp.body>, space-separated while a secret is rotated"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The event exactly as incident.io sends it"),
    responses(
        (status = 201, description = "An incident was opened", body = ToolOutcome),
        (status = 200, description = "Moved, unchanged or ignored", body = ToolOutcome),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "Signature missing, wrong or too old", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 422, description = "Not an incident.io event", body = AppError),
        (status = 503, description = "No signing secret is configured", body = AppError),
    )
)]
pub async fn incident_io(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ToolOutcome>), ApiError> {
    let body = body_bytes(body)?;
    let by = Actor::new("webhook:incident.io", super::auth::caller_address(&parts));
    let Some(secret) = &state.config.incident_io_webhook_secret else {
        return Err(webhook_off(
            "incident.io",
            "HOUSTON_INCIDENT_IO_WEBHOOK_SECRET to the endpoint's signing secret",
        ));
    };
    if !svix_signature_is_valid(secret, &parts.headers, &body, chrono::Utc::now()) {
        return Err(refused(
            &state,
            &by,
            "webhook-signature is missing, does not match HOUSTON_INCIDENT_IO_WEBHOOK_SECRET, or is older than 5 minutes",
        ));
    }
    let webhook: IncidentIoWebhook =
        serde_json::from_slice(&body).map_err(not_an_event("an incident.io webhook event"))?;
    let report = webhook
        .report(&state.config.incident_environment)
        .map_err(invalid_event)?;
    record_tool_report(&state, &by, report).await
}

/// Receive Opsgenie's outgoing webhook: an alert created, acknowledged,
/// unacknowledged or closed opens or moves the incident of the same alert id, in
/// `HOUSTON_INCIDENT_ENVIRONMENT` on the service its `entity` names (none: every
/// service). Opsgenie does not sign its webhooks: add the custom header
/// `X-Houston-Token` with `HOUSTON_OPSGENIE_WEBHOOK_SECRET` to the integration.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/opsgenie",
    tag = "webhooks",
    operation_id = "receive_opsgenie_webhook",
    params(
        ("X-Houston-Token" = String, Header, description = "HOUSTON_OPSGENIE_WEBHOOK_SECRET, as a custom header of the integration"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The alert action exactly as Opsgenie sends it"),
    responses(
        (status = 201, description = "An incident was opened", body = ToolOutcome),
        (status = 200, description = "Moved, unchanged or ignored", body = ToolOutcome),
        (status = 400, description = "Not JSON", body = AppError),
        (status = 401, description = "Token missing or wrong", body = AppError),
        (status = 413, description = "Body too large", body = AppError),
        (status = 422, description = "Not an Opsgenie alert action", body = AppError),
        (status = 503, description = "No secret is configured", body = AppError),
    )
)]
pub async fn opsgenie(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ToolOutcome>), ApiError> {
    let body = body_bytes(body)?;
    let by = Actor::new("webhook:opsgenie", super::auth::caller_address(&parts));
    let Some(secret) = &state.config.opsgenie_webhook_secret else {
        return Err(webhook_off(
            "Opsgenie",
            "HOUSTON_OPSGENIE_WEBHOOK_SECRET and send it as the integration's X-Houston-Token header",
        ));
    };
    let token = parts
        .headers
        .get("x-houston-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Compared in constant time: both keyed hashes of the secret must agree.
    let expected = {
        use hmac::{Hmac, Mac};
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
            .map(|mut mac| {
                mac.update(secret.as_bytes());
                mac.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default()
    };
    if !super::hmac_sha256_matches(secret, token.as_bytes(), &expected) {
        return Err(refused(
            &state,
            &by,
            "X-Houston-Token is missing or does not match HOUSTON_OPSGENIE_WEBHOOK_SECRET",
        ));
    }
    let webhook: OpsgenieWebhook =
        serde_json::from_slice(&body).map_err(not_an_event("an Opsgenie alert action"))?;
    let report = webhook
        .report(&state.config.incident_environment, chrono::Utc::now())
        .map_err(invalid_event)?;
    record_tool_report(&state, &by, report).await
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
    let body = body_bytes(body)?;
    let by = Actor::new("webhook:incidents", super::auth::caller_address(&parts));
    let Some(secret) = &state.config.incident_webhook_secret else {
        return Err(webhook_off(
            "incident",
            "HOUSTON_INCIDENT_WEBHOOK_SECRET to the secret its sender signs with",
        ));
    };
    let signature = parts
        .headers
        .get("x-houston-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(|hex_sig| hex::decode(hex_sig).ok());
    if !signature.is_some_and(|s| super::hmac_sha256_matches(secret, &body, &s)) {
        return Err(refused(
            &state,
            &by,
            "X-Houston-Signature is missing or does not match HOUSTON_INCIDENT_WEBHOOK_SECRET",
        ));
    }
    let request: IncidentRequest =
        serde_json::from_slice(&body).map_err(not_an_event("an incident report"))?;
    let now = chrono::Utc::now();
    let fresh = || app::domain::fresh_incident_id(IncidentSource::Webhook, now);
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

    /// Svix's documented vector (its manual-verification page), and its Rust
    /// library's: a match within five minutes, and nothing else.
    #[test]
    fn svix_signatures_are_checked_with_the_documented_vectors() {
        let headers = |id: &str, at: &str, signature: &str| {
            let mut h = axum::http::HeaderMap::new();
            for (name, value) in [
                ("webhook-id", id),
                ("webhook-timestamp", at),
                ("webhook-signature", signature),
            ] {
                h.insert(name, value.parse().expect("a header value"));
            }
            h
        };
        let at = |seconds: i64| chrono::DateTime::from_timestamp(seconds, 0).expect("a time");
        let secret = "whsec_plJ3nmyCDGBKInavdOK15jsl";
        let body = br#"{"event_type":"ping","data":{"success":true}}"#;
        let good = headers(
            "msg_loFOjxBNrRLzqYUf",
            "1731705121",
            "v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0=",
        );
        assert!(svix_signature_is_valid(
            secret,
            &good,
            body,
            at(1_731_705_121 + 60)
        ));
        assert!(
            !svix_signature_is_valid(secret, &good, body, at(1_731_705_121 + 301)),
            "too old"
        );
        assert!(
            !svix_signature_is_valid(secret, &good, body, at(1_731_705_121 - 301)),
            "from the future"
        );
        assert!(
            !svix_signature_is_valid(secret, &good, b"{}", at(1_731_705_121)),
            "another body"
        );
        assert!(!svix_signature_is_valid(
            "whsec_b3RoZXI=",
            &good,
            body,
            at(1_731_705_121)
        ));
        let rotating = headers(
            "msg_loFOjxBNrRLzqYUf",
            "1731705121",
            "v1,AAAA v2,xyz v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0=",
        );
        assert!(svix_signature_is_valid(
            secret,
            &rotating,
            body,
            at(1_731_705_121)
        ));
        let library = headers(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            "1649367553",
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        );
        assert!(svix_signature_is_valid(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            &library,
            br#"{"email":"test@example.com","username":"test_user"}"#,
            at(1_649_367_553)
        ));
        assert!(!svix_signature_is_valid(
            secret,
            &axum::http::HeaderMap::new(),
            body,
            at(0)
        ));
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
) -> Result<axum::response::Response, ApiError> {
    let Query(query) = query?;
    let filter = query.parse().map_err(AppError::from)?;
    let view = state
        .events
        .page_cache()
        .timeline(&state.store, &filter, Freshness::MayLag, chrono::Utc::now())
        .await
        .map_err(AppError::from)?;
    json_bytes(view.json().await)
}

/// A kept value's JSON, written once for every request that asks, as the response.
fn json_bytes(
    json: Result<axum::body::Bytes, impl std::fmt::Display>,
) -> Result<axum::response::Response, ApiError> {
    let json = json.map_err(|e| {
        tracing::error!(error = %e, "writing a kept value's JSON");
        AppError::internal()
    })?;
    Ok(axum::response::IntoResponse::into_response((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json,
    )))
}

//! The HTTP surface: the JSON API under `/api/v1`, webhooks, health endpoints, and
//! the Leptos pages with their server functions.

pub mod audit;
pub mod auth;
pub mod csrf;
pub mod definitions;
pub mod deploys;
pub mod error;
pub mod github;
pub mod health;
pub mod incidents;
pub mod locks;
pub mod openapi;
pub mod signals;

use crate::AppState;
use app::server::access::Need;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// Whether a path names a static file (`/pkg/houston.wasm`, `/favicon.svg`): those
/// need no sign-in and may be cached. The API's OpenAPI document is not one.
pub fn is_static_file(path: &str) -> bool {
    path.starts_with("/pkg/")
        || (!path.starts_with("/api/")
            && path
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains('.')))
}

/// The `/api/v1` routes. Each group passes `auth::guard` with what it needs to
/// read and to change (`app::server::access::Need`), except the GitHub and PagerDuty
/// webhooks, which their senders sign instead (`github::receive`,
/// `incidents::pagerduty`), and the OpenAPI document.
pub fn api_router(state: &AppState) -> Router<AppState> {
    let guard = |read: Need, write: Need| {
        axum::middleware::from_fn_with_state(
            auth::Guard {
                read,
                write,
                policy: state.policy,
                security: state.security.clone(),
            },
            auth::guard,
        )
    };
    let deploys = Router::new()
        .route("/deploys", post(deploys::register).get(deploys::list))
        .route("/deploys/{id}", get(deploys::get_one))
        .route("/deploys/{id}/status", post(deploys::set_status))
        .route("/deploys/{id}/verdict", get(deploys::get_verdict))
        .route("/events", get(crate::events::stream))
        .route_layer(guard(Need::Read, houston_service::deploys::NEED));
    // Signals in (a deployer or an `ingest` token) and out (readers); batches may
    // be larger than other bodies.
    let signals = Router::new()
        .route(
            "/metrics",
            post(signals::push_metrics).get(signals::read_metric),
        )
        .route(
            "/errors",
            post(signals::push_errors).get(signals::list_errors),
        )
        .route("/alerts", get(signals::list_alerts))
        .route_layer(guard(Need::Read, Need::INGEST))
        .layer(DefaultBodyLimit::max(state.config.max_ingest_body_bytes));
    // Alerts come from the alert source alone: its `alerts` token, never a person or
    // an ingest token (a forged "resolved" would clear a real incident from the gate).
    let alerts = Router::new()
        .route("/webhooks/alertmanager", post(signals::alertmanager))
        .route_layer(guard(Need::ALERTS, Need::ALERTS))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
    let definitions = Router::new()
        .route(
            "/deploys/{id}/verdict/override",
            post(deploys::override_verdict),
        )
        .route("/metric-definitions", get(definitions::list))
        .route(
            "/metric-definitions/{name}",
            axum::routing::put(definitions::put).delete(definitions::delete),
        )
        .route(
            "/metric-definitions/{name}/dry-run",
            post(definitions::dry_run),
        )
        .route_layer(guard(Need::Read, Need::CONFIGURE));
    // Locks: read with scope `gate` (or as any person), changed by a deployer or an
    // admin token; whose lock may be lifted is decided in `locks::unlock`.
    let locks = Router::new()
        .route("/locks", post(locks::place).get(locks::list))
        .route("/locks/{id}/unlock", post(locks::unlock))
        .route("/gate", get(locks::gate))
        .route_layer(guard(Need::GATE, houston_service::locks::NEED));
    // Claiming an override is asking the gate, with one write: the gate's scope.
    let claim = Router::new()
        .route("/gate/claim", post(locks::claim))
        .route_layer(guard(Need::GATE, Need::CLAIM));
    let overrides = Router::new()
        .route(
            "/overrides",
            post(locks::grant_override).get(locks::list_overrides),
        )
        .route_layer(guard(Need::GATE, houston_service::locks::GRANT_NEED));
    // Incidents: read like deploys, declared by whoever may register deploys.
    let incidents = Router::new()
        .route("/incidents", post(incidents::declare).get(incidents::list))
        .route("/incidents/{id}", get(incidents::get_one))
        .route("/incidents/{id}/suspects", get(incidents::suspects))
        .route("/incidents/{id}/export", get(incidents::export))
        .route(
            "/incidents/{id}/suspects/{deploy_id}",
            post(incidents::decide_cause),
        )
        .route_layer(guard(Need::Read, houston_service::incidents::NEED));
    let timeline = Router::new()
        .route("/timeline", get(incidents::timeline))
        .route_layer(guard(
            houston_service::timeline::NEED,
            houston_service::timeline::NEED,
        ));
    let admin_only = Router::new()
        .route("/audit", get(audit::list))
        .route_layer(guard(Need::ADMIN, Need::ADMIN));
    Router::new()
        .merge(deploys)
        .merge(signals)
        .merge(alerts)
        .merge(definitions)
        .merge(locks)
        .merge(claim)
        .merge(overrides)
        .merge(incidents)
        .merge(timeline)
        .merge(admin_only)
        .route("/webhooks/github", post(github::receive))
        .route("/webhooks/pagerduty", post(incidents::pagerduty))
        .route("/webhooks/incidents", post(incidents::incident_webhook))
        .route("/webhooks/incident-io", post(incidents::incident_io))
        .route("/webhooks/opsgenie", post(incidents::opsgenie))
        .route("/openapi.json", get(openapi::serve))
        .fallback(error::api_not_found)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
}

/// Whether `signature` is the HMAC-SHA256 of `body` with `secret`, compared in
/// constant time: how GitHub, PagerDuty and Svix (incident.io) sign their webhooks.
pub(crate) fn hmac_sha256_matches(secret: impl AsRef<[u8]>, body: &[u8], signature: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    Hmac::<sha2::Sha256>::new_from_slice(secret.as_ref()).is_ok_and(|mut mac| {
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    })
}

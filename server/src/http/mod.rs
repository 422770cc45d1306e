//! The HTTP surface: the JSON API under `/api/v1`, webhooks, health endpoints, and
//! the Leptos pages with their server functions.

pub mod audit;
pub mod auth;
pub mod deploys;
pub mod error;
pub mod github;
pub mod health;
pub mod openapi;

use crate::AppState;
use app::domain::TokenScope;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// The `/api/v1` routes. Every route that changes something passes
/// `auth::check_token` with the scope it needs, except the GitHub webhook, which
/// GitHub signs instead (`github::receive`). The audit log needs the admin scope
/// even to read.
pub fn api_router(state: &AppState) -> Router<AppState> {
    let deploys = Router::new()
        .route("/deploys", post(deploys::register).get(deploys::list))
        .route("/deploys/{id}", get(deploys::get_one))
        .route("/deploys/{id}/status", post(deploys::set_status))
        .route_layer(axum::middleware::from_fn_with_state(
            auth::TokenGuard::writes(state, TokenScope::Deploy),
            auth::check_token,
        ));
    let admin_only = Router::new().route("/audit", get(audit::list)).route_layer(
        axum::middleware::from_fn_with_state(
            auth::TokenGuard::every_call(state, TokenScope::Admin),
            auth::check_token,
        ),
    );
    Router::new()
        .merge(deploys)
        .merge(admin_only)
        .route("/webhooks/github", post(github::receive))
        .route("/openapi.json", get(openapi::serve))
        .fallback(error::api_not_found)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
}

//! The HTTP surface: the JSON API under `/api/v1`, webhooks, health endpoints, and
//! the Leptos pages with their server functions.

pub mod auth;
pub mod deploys;
pub mod error;
pub mod github;
pub mod health;
pub mod openapi;

use crate::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// The `/api/v1` routes. Every non-GET route passes `auth::require_api_token`,
/// except the GitHub webhook, which GitHub signs instead (`github::receive`).
pub fn api_router(state: &AppState) -> Router<AppState> {
    let token_checked = Router::new()
        .route("/deploys", post(deploys::register).get(deploys::list))
        .route("/deploys/{id}", get(deploys::get_one))
        .route("/deploys/{id}/status", post(deploys::set_status))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_token_for_writes,
        ));
    Router::new()
        .merge(token_checked)
        .route("/webhooks/github", post(github::receive))
        .route("/openapi.json", get(openapi::serve))
        .fallback(error::api_not_found)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
}

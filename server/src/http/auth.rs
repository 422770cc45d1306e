//! The one place API writes are authenticated: a bearer token whose SHA-256 is
//! stored and not revoked. Reads need no token yet (accounts come later).

use crate::AppState;
use crate::http::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

pub async fn require_api_token_for_writes(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(next.run(request).await);
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(presented) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this call needs an API token: send Authorization: Bearer <token> (create one with `houston token create --name ci`)",
        ));
    };
    let hash = crate::token::hash_token(presented);
    match state
        .store
        .authenticate_api_token(&hash, chrono::Utc::now())
        .await?
    {
        Some(token) => {
            tracing::debug!(token = %token.name, "API token accepted");
            request.extensions_mut().insert(token);
            Ok(next.run(request).await)
        }
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the API token is unknown or revoked",
        )),
    }
}

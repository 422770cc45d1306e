//! The one place API calls are authenticated: a bearer token whose SHA-256 is
//! stored, not revoked, and holds the scope the route needs. Reads of deploys need
//! no token yet (accounts come later); the audit log always does.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::TokenScope;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// What a group of routes requires.
#[derive(Clone)]
pub struct TokenGuard {
    state: AppState,
    scope: TokenScope,
    reads_open: bool,
}

impl TokenGuard {
    /// Writes need a token with `scope`; GET, HEAD and OPTIONS pass without one.
    pub fn writes(state: &AppState, scope: TokenScope) -> Self {
        Self {
            state: state.clone(),
            scope,
            reads_open: true,
        }
    }

    /// Every call needs a token with `scope`.
    pub fn every_call(state: &AppState, scope: TokenScope) -> Self {
        Self {
            state: state.clone(),
            scope,
            reads_open: false,
        }
    }
}

fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

pub async fn check_token(
    State(guard): State<TokenGuard>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if guard.reads_open
        && matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        )
    {
        return Ok(next.run(request).await);
    }
    let Some(presented) = bearer(&request) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!(
                "this call needs an API token with the {} scope: send Authorization: Bearer <token> \
                 (create one with `houston token create --name ci --scope {}`)",
                guard.scope, guard.scope
            ),
        ));
    };
    let hash = crate::token::hash_token(presented);
    let Some(token) = guard
        .state
        .store
        .authenticate_api_token(&hash, chrono::Utc::now())
        .await?
    else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the API token is unknown or revoked",
        ));
    };
    if !guard.scope.is_granted_by(&token.scopes) {
        tracing::warn!(token = %token.name, needed = %guard.scope, "API token lacks the scope");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the token {:?} has the scopes {}; this call needs {}",
                token.name,
                TokenScope::join(&token.scopes),
                guard.scope
            ),
        ));
    }
    tracing::debug!(token = %token.name, "API token accepted");
    request.extensions_mut().insert(token);
    Ok(next.run(request).await)
}

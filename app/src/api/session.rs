//! Server functions for signing in and out, and for who is signed in.

use crate::domain::Role;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in person, as the pages show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub username: String,
    pub role: Role,
}

/// Where to go after signing in: only a path on this site, never another host.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<SignedIn>, AppError> {
    Ok(crate::ssr::session::current_user()
        .await?
        .map(|u| SignedIn {
            username: u.username.to_string(),
            role: u.role,
        }))
}

#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    use crate::domain::Username;
    use crate::ssr::password::{decoy_hash, verify_password};
    use crate::ssr::session::{hash_session_id, new_session_id, request_session_id, settings};

    let settings = settings()?;
    let store = crate::ssr::store()?;
    let found = match Username::parse(&username) {
        Ok(name) => store.find_login(&name).await?,
        Err(_) => None,
    };
    let user = match found {
        Some((user, hash)) if user.disabled_at.is_none() && verify_password(&password, &hash) => {
            user
        }
        Some(_) => {
            tracing::warn!(username = %username.trim(), "login failed: wrong password or disabled account");
            return Err(AppError::unauthorized("the user name or password is wrong"));
        }
        None => {
            // Take as long as a real check, so timing does not reveal which names exist.
            let _ = verify_password(&password, decoy_hash());
            tracing::warn!(username = %username.trim(), "login failed: no such user");
            return Err(AppError::unauthorized("the user name or password is wrong"));
        }
    };
    let now = chrono::Utc::now();
    // A new id at every login: a session id planted before login is worth nothing after it.
    if let Some(old) = request_session_id().await? {
        store.delete_session(&hash_session_id(&old)).await?;
    }
    let id = new_session_id();
    store
        .create_session(
            &hash_session_id(&id),
            user.id,
            settings.expires_at(now),
            None,
            now,
        )
        .await?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    let cookie =
        http::HeaderValue::from_str(&settings.set_cookie(&id)).map_err(|_| AppError::internal())?;
    response.append_header(http::header::SET_COOKIE, cookie);
    tracing::info!(user = %user.username, "login succeeded");
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::session::{hash_session_id, request_session_id, settings};
    let settings = settings()?;
    if let Some(id) = request_session_id().await? {
        crate::ssr::store()?
            .delete_session(&hash_session_id(&id))
            .await?;
    }
    let response = expect_context::<leptos_axum::ResponseOptions>();
    let cookie =
        http::HeaderValue::from_str(&settings.clear_cookie()).map_err(|_| AppError::internal())?;
    response.append_header(http::header::SET_COOKIE, cookie);
    leptos_axum::redirect("/login");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/account")), "/account");
        assert_eq!(
            safe_next(Some("/deploys?status=failed")),
            "/deploys?status=failed"
        );
        for bad in [
            Some("//evil.example/"),
            Some("https://evil.example/"),
            Some("/\\evil.example"),
            Some(""),
            None,
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}

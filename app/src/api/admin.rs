//! Server functions for administration: accounts, API tokens and the audit log.
//! Accounts and tokens need a signed-in admin (`Need::MANAGE_ACCESS`), never a
//! token; the audit log `Need::ADMIN`. Each checks before it reads or changes anything.

use crate::api::AsOf;
use crate::domain::{ApiToken, AuditEntry, AuditQuery, CreatedToken, User};
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "admin/users")]
pub async fn list_users() -> Result<Vec<User>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        Ok(call.store.list_users().await?)
    })
    .await
}

#[server(endpoint = "admin/create-user")]
pub async fn create_user(
    username: String,
    password: String,
    role: String,
) -> Result<User, AppError> {
    use crate::domain::{NewPassword, Role, Username};
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let caller = call.caller;
        let username = Username::parse(&username)
            .map_err(|e| AppError::validation("username", e.to_string()))?;
        let role = Role::parse(&role).ok_or_else(|| {
            AppError::validation("role", "choose viewer, deployer, lead or admin")
        })?;
        let password = NewPassword::parse(&password)
            .map_err(|e| AppError::validation("password", e.to_string()))?;
        crate::server::password::refuse_weak(&password, username.as_str())?;
        let hash = crate::server::password::hash_off_thread(password).await?;
        Ok(call
            .store
            .create_user(&username, &hash, role, &caller.actor(), chrono::Utc::now())
            .await?)
    })
    .await
}

#[server(endpoint = "admin/set-role")]
pub async fn set_user_role(
    username: String,
    role: String,
    reason: Option<String>,
) -> Result<User, AppError> {
    use crate::domain::Role;
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let caller = call.caller;
        let username = server::other_account(&caller, &username)?;
        let role = Role::parse(&role).ok_or_else(|| {
            AppError::validation("role", "choose viewer, deployer, lead or admin")
        })?;
        let reason = server::reason(reason)?;
        Ok(call
            .store
            .set_user_role(
                &username,
                role,
                &caller.actor(),
                reason.as_deref(),
                chrono::Utc::now(),
            )
            .await?)
    })
    .await
}

#[server(endpoint = "admin/set-disabled")]
pub async fn set_user_disabled(
    username: String,
    disabled: bool,
    reason: Option<String>,
) -> Result<User, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let caller = call.caller;
        let username = server::other_account(&caller, &username)?;
        let reason = server::reason(reason)?;
        Ok(call
            .store
            .set_user_disabled(
                &username,
                disabled,
                &caller.actor(),
                reason.as_deref(),
                chrono::Utc::now(),
            )
            .await?)
    })
    .await
}

/// Every token, with the server's clock so the page can tell expired ones.
/// Gives an account a new, generated password (shown once, in the answer) and
/// ends all of its sessions: for someone who forgot theirs, or whose password
/// may have leaked.
#[server(endpoint = "admin/reset-password")]
pub async fn reset_password(username: String, reason: Option<String>) -> Result<String, AppError> {
    use crate::domain::NewPassword;
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let caller = call.caller;
        let username = server::other_account(&caller, &username)?;
        let reason = server::reason(reason)?;
        let generated = crate::server::password::generate_password();
        let password = NewPassword::parse(&generated)
            .map_err(|e| AppError::validation("password", e.to_string()))?;
        let hash = crate::server::password::hash_off_thread(password).await?;
        call.store
            .set_password(
                &username,
                &hash,
                None,
                &caller.actor(),
                reason.as_deref(),
                chrono::Utc::now(),
            )
            .await?;
        Ok(generated)
    })
    .await
}

#[server(endpoint = "admin/tokens")]
pub async fn list_tokens() -> Result<AsOf<Vec<ApiToken>>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        Ok(AsOf::now(call.store.list_api_tokens().await?))
    })
    .await
}

/// The scope boxes of the token form (`scopes[deploy]=on` …): ticked or not.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ScopeBoxes {
    pub deploy: Option<String>,
    pub ingest: Option<String>,
    pub gate: Option<String>,
    pub read: Option<String>,
    pub alerts: Option<String>,
    pub admin: Option<String>,
}

/// Creates a token with the scopes whose boxes are ticked; the secret is in the
/// answer this once and never again.
#[server(endpoint = "admin/create-token")]
pub async fn create_token(
    name: String,
    #[server(default)] scopes: ScopeBoxes,
    expires_in_days: Option<String>,
) -> Result<CreatedToken, AppError> {
    use crate::domain::TokenScope;
    use crate::server::access::Need;
    use crate::server::token::{generate_token, hash_token};
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let caller = call.caller;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(AppError::validation(
                "name",
                "give the token a name of 1 to 64 characters",
            ));
        }
        let ScopeBoxes {
            deploy,
            ingest,
            gate,
            read,
            alerts,
            admin,
        } = scopes;
        let scopes: Vec<TokenScope> = [
            (deploy, TokenScope::Deploy),
            (ingest, TokenScope::Ingest),
            (gate, TokenScope::Gate),
            (read, TokenScope::Read),
            (alerts, TokenScope::Alerts),
            (admin, TokenScope::Admin),
        ]
        .into_iter()
        .filter_map(|(ticked, scope)| ticked.is_some().then_some(scope))
        .collect();
        if scopes.is_empty() {
            return Err(AppError::validation("scopes", "tick at least one scope"));
        }
        let now = chrono::Utc::now();
        let expires_at = crate::domain::parse_token_expiry(expires_in_days.as_deref(), now)
            .map_err(|e| AppError::validation("expires_in_days", e))?;
        let secret = generate_token();
        let token = call
            .store
            .create_api_token(
                &crate::domain::NewApiToken {
                    name: name.to_owned(),
                    token_hash: hash_token(&secret),
                    scopes,
                    expires_at,
                    owner_user_id: caller.user().map(|u| u.id),
                },
                &caller.actor(),
                now,
            )
            .await?;
        Ok(CreatedToken { token, secret })
    })
    .await
}

#[server(endpoint = "admin/revoke-token")]
pub async fn revoke_token(name: String, reason: Option<String>) -> Result<ApiToken, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let caller = call.caller;
        let reason = server::reason(reason)?;
        Ok(call
            .store
            .revoke_api_token(
                name.trim(),
                &caller.actor(),
                reason.as_deref(),
                chrono::Utc::now(),
            )
            .await?)
    })
    .await
}

#[server(endpoint = "admin/audit")]
pub async fn list_audit(#[server(default)] query: AuditQuery) -> Result<Vec<AuditEntry>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::ADMIN, move |call| async move {
        let filter = query.parse()?;
        Ok(call.store.list_audit(&filter).await?)
    })
    .await
}

#[cfg(feature = "ssr")]
pub(super) mod server {
    use crate::domain::Username;
    use crate::error::AppError;
    use crate::server::access::Caller;

    /// The reason an admin gave for the audit log: trimmed, empty means none.
    pub fn reason(raw: Option<String>) -> Result<Option<String>, AppError> {
        let reason = raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
            return Err(AppError::validation(
                "reason",
                "keep the reason under 500 characters",
            ));
        }
        Ok(reason)
    }

    /// An account other than the caller's own: an admin cannot demote, disable or
    /// reset themselves here, so Houston is never left without one by accident.
    pub fn other_account(caller: &Caller, raw: &str) -> Result<Username, AppError> {
        let username =
            Username::parse(raw).map_err(|e| AppError::validation("username", e.to_string()))?;
        if caller.user().is_some_and(|u| u.username == username) {
            return Err(AppError::Conflict {
                message: "you cannot change your own role, disable yourself, or reset your own password or second factor here; use your account page or ask another admin"
                    .into(),
            });
        }
        Ok(username)
    }
}

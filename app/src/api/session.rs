//! Server functions for signing in and out, first-run set-up, and who is signed in.

use crate::domain::Role;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in person, as the pages show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub username: String,
    pub role: Role,
    /// Whether they sign in with a second factor.
    pub second_factor: bool,
    /// Whether their role must, before they may act.
    pub second_factor_required: bool,
}

#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<SignedIn>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Anyone, |call| async move {
        let rule = crate::server::access::second_factor_setting()?.peek();
        Ok(call.caller.user().map(|u| SignedIn {
            username: u.username.to_string(),
            role: u.role,
            second_factor: u.second_factor,
            second_factor_required: rule.applies_to(u.role),
        }))
    })
    .await
}

#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
    code: Option<String>,
) -> Result<(), AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Anyone, move |call| {
        server::login(call, username, password, next, code)
    })
    .await
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::server::access::Need;
    use crate::server::session::{hash_session_id, request_session_id, settings};
    crate::server::serve(Need::Anyone, |call| async move {
        let crate::server::Call { caller, store } = call;
        let settings = settings()?;
        if let Some(id) = request_session_id().await? {
            store.delete_session(&hash_session_id(&id)).await?;
            if let Some(user) = caller.user() {
                store
                    .append_audit(
                        &caller.actor(),
                        "session.logout",
                        &format!("user:{}", user.username),
                        None,
                        chrono::Utc::now(),
                    )
                    .await?;
            }
        }
        server::set_cookie(&settings.clear_cookie())?;
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// Changes the signed-in person's own password: the current one is required (and
/// throttled like a sign-in), the new one must not be common; the person's other
/// sessions end, this one stays.
#[server(endpoint = "account/password")]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::PERSON, move |call| {
        server::change_password(call, current, new)
    })
    .await
}

/// Whether Houston still waits for its first account.
#[server(endpoint = "setup-status")]
pub async fn setup_needed() -> Result<bool, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Anyone, |call| async move {
        Ok(call.store.count_users().await? == 0)
    })
    .await
}

/// Creates the first admin with the one-time secret `houston serve` printed, and
/// signs them in.
#[server(endpoint = "setup")]
pub async fn complete_setup(
    secret: String,
    username: String,
    password: String,
) -> Result<(), AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Anyone, move |call| {
        server::complete_setup(call, secret, username, password)
    })
    .await
}

#[cfg(feature = "ssr")]
pub(crate) mod server {
    use crate::domain::{
        Actor, LoginLimits, MAX_PASSWORD_BYTES, NewPassword, User, Username, throttle_key,
    };
    use crate::error::AppError;
    use crate::server::LoginReservation;
    use crate::server::access::Caller;
    use crate::server::password::{hash_off_thread, slot, verify_off_thread};
    use crate::server::session::{hash_session_id, new_session_id, request_session_id, settings};
    use chrono::Utc;
    use leptos::prelude::*;

    pub fn set_cookie(cookie: &str) -> Result<(), AppError> {
        let response =
            use_context::<leptos_axum::ResponseOptions>().ok_or_else(AppError::internal)?;
        let value = http::HeaderValue::from_str(cookie).map_err(|_| AppError::internal())?;
        response.append_header(http::header::SET_COOKIE, value);
        Ok(())
    }

    /// A new session for `user`: a fresh id (one planted before sign-in is worth
    /// nothing after it), stored hashed, audited, sent as the cookie.
    async fn start_session(user: &User, address: Option<String>) -> Result<(), AppError> {
        let settings = settings()?;
        let store = crate::server::store()?;
        let now = Utc::now();
        if let Some(old) = request_session_id().await? {
            store.delete_session(&hash_session_id(&old)).await?;
        }
        let id = new_session_id();
        let by = Actor::new(format!("user:{}", user.username), address);
        store
            .create_session(
                &hash_session_id(&id),
                user,
                settings.expires_at(now),
                &by,
                now,
            )
            .await?;
        set_cookie(&settings.set_cookie(&id))
    }

    pub async fn login(
        call: crate::server::Call,
        username: String,
        password: String,
        next: Option<String>,
        code: Option<String>,
    ) -> Result<(), AppError> {
        let crate::server::Call { caller, store } = call;
        // Refused before anything is hashed or stored: argon2 would hash a
        // megabyte as willingly as a word.
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AppError::validation(
                "password",
                format!("passwords are at most {MAX_PASSWORD_BYTES} bytes"),
            ));
        }
        let now = Utc::now();
        let limits = LoginLimits::DEFAULT;
        // The throttle counts by the name as typed (normalised), so names that do
        // not exist are throttled like names that do.
        let key: String = username.trim().to_lowercase().chars().take(64).collect();
        // A slot first: when every password check is taken, refusing costs nothing.
        let mut slot = slot()?;
        let (reservation, account_failures) = reserve_attempt(&key, &caller, now).await?;
        // An account under attack from many addresses is slowed down, not locked:
        // its owner still gets in with the right password.
        let delay = limits.slowdown(account_failures);
        if !delay.is_zero() {
            drop(slot);
            tokio::time::sleep(delay).await;
            slot = crate::server::password::slot()?;
        }
        let found = match Username::parse(&username) {
            Ok(name) => store.find_login(&name).await?,
            Err(_) => None,
        };
        let user = match found {
            Some((user, hash)) => {
                let matches = verify_off_thread(slot, password, Some(hash)).await;
                (matches && user.disabled_at.is_none()).then_some(user)
            }
            None => {
                verify_off_thread(slot, password, None).await;
                None
            }
        };
        let Some(user) = user else {
            store
                .append_audit(
                    &caller.actor(),
                    "session.login_failed",
                    &format!("user:{key}"),
                    None,
                    now,
                )
                .await?;
            tracing::warn!(username = ?key, address = ?caller.address, "sign-in failed");
            return Err(AppError::unauthorized("the user name or password is wrong"));
        };
        if user.second_factor
            && let Err(refused) = check_second_factor(&user, code.as_deref(), now).await
        {
            store
                .append_audit(
                    &caller.actor(),
                    "session.login_failed",
                    &format!("user:{key}"),
                    Some("right password, second factor missing or wrong"),
                    now,
                )
                .await?;
            tracing::warn!(username = ?key, address = ?caller.address, "sign-in failed at the second factor");
            return Err(refused);
        }
        store.clear_login_attempt(reservation).await?;
        start_session(&user, caller.address.clone()).await?;
        tracing::info!(user = %user.username, address = ?caller.address, "signed in");
        leptos_axum::redirect(&crate::server::session::safe_next(next.as_deref()));
        Ok(())
    }

    /// Counts a password attempt on the account `key` from the caller's address
    /// (IPv6 by /64) before anything is checked: its reservation and how many
    /// failures the account already has, or 429 while the pair or address is
    /// locked (a rate-limited security event).
    async fn reserve_attempt(
        key: &str,
        caller: &Caller,
        now: chrono::DateTime<Utc>,
    ) -> Result<(i64, u32), AppError> {
        let address = caller
            .address
            .as_deref()
            .and_then(|a| a.parse().ok())
            .map_or_else(|| "unknown".to_owned(), throttle_key);
        match crate::server::store()?
            .reserve_login_attempt(key, &address, now, &LoginLimits::DEFAULT)
            .await?
        {
            LoginReservation::Reserved {
                id,
                account_failures,
            } => Ok((id, account_failures)),
            LoginReservation::Locked { until } => {
                let wait = (until - now).num_seconds().max(1);
                tracing::warn!(username = ?key, address = ?caller.address, "sign-in throttled");
                if let Some(log) = crate::server::security::log() {
                    log.record(
                        &caller.actor(),
                        "session.throttled",
                        &format!("user:{key}"),
                        None,
                    );
                }
                Err(AppError::RateLimited {
                    message: format!(
                        "too many failed sign-ins for this account from this address; try again in {} minute(s)",
                        (wait + 59) / 60
                    ),
                    retry_after_secs: u64::try_from(wait).unwrap_or(1),
                })
            }
        }
    }

    /// The second factor of a sign-in: a TOTP code not used before, or an unused
    /// recovery code.
    async fn check_second_factor(
        user: &User,
        code: Option<&str>,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), AppError> {
        let missing = || {
            AppError::unauthorized(
                "enter the 6-digit code from your authenticator app, or one of your recovery codes",
            )
        };
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(missing)?;
        let store = crate::server::store()?;
        let factor = store.second_factor(user.id).await?;
        let secret = factor.secret.ok_or_else(missing)?;
        let unix = u64::try_from(now.timestamp()).unwrap_or_default();
        if let Some(step) = crate::server::totp::matching_step(&secret, code, unix) {
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            if store.use_totp_step(user.id, step).await? {
                return Ok(());
            }
            return Err(AppError::unauthorized(
                "that code was used already; wait for the next one",
            ));
        }
        let hash = crate::server::totp::hash_recovery_code(code);
        if store.use_recovery_code(user.id, &hash, now).await? {
            tracing::info!(user = %user.username, "signed in with a recovery code");
            return Ok(());
        }
        Err(AppError::unauthorized(
            "the code is wrong: use the current code from your authenticator app, or an unused recovery code",
        ))
    }

    pub async fn change_password(
        call: crate::server::Call,
        current: String,
        new: String,
    ) -> Result<(), AppError> {
        let crate::server::Call { caller, store } = call;
        let user = caller.user().cloned().ok_or_else(AppError::internal)?;
        if current.len() > MAX_PASSWORD_BYTES {
            return Err(AppError::validation(
                "current",
                "that is not your current password",
            ));
        }
        let new =
            NewPassword::parse(&new).map_err(|e| AppError::validation("new", e.to_string()))?;
        crate::server::password::refuse_weak(&new, user.username.as_str())
            .map_err(|_| AppError::validation("new", "this password is in a list of common passwords or is your user name; choose another"))?;
        let now = Utc::now();
        // Counted like a sign-in, so this form cannot be used to guess passwords.
        let (reservation, _) = reserve_attempt(user.username.as_str(), &caller, now).await?;
        if !crate::server::password::is_current_password(store.as_ref(), &user.username, current)
            .await?
        {
            store
                .append_audit(
                    &caller.actor(),
                    "session.login_failed",
                    &format!("user:{}", user.username),
                    Some("wrong current password when changing it"),
                    now,
                )
                .await?;
            return Err(AppError::validation(
                "current",
                "that is not your current password",
            ));
        }
        store.clear_login_attempt(reservation).await?;
        let hash = hash_off_thread(new).await?;
        let keep = request_session_id().await?.map(|id| hash_session_id(&id));
        store
            .set_password(
                &user.username,
                &hash,
                keep.as_deref(),
                &caller.actor(),
                None,
                now,
            )
            .await?;
        tracing::info!(user = %user.username, "password changed; other sessions ended");
        Ok(())
    }

    pub async fn complete_setup(
        call: crate::server::Call,
        secret: String,
        username: String,
        password: String,
    ) -> Result<(), AppError> {
        let crate::server::Call { caller, store } = call;
        let gate = use_context::<std::sync::Arc<crate::server::setup::SetupGate>>()
            .ok_or_else(AppError::internal)?;
        if !gate.accepts(&secret) {
            if let Some(log) = crate::server::security::log() {
                log.record(&caller.actor(), "setup.bad_secret", "setup", None);
            }
            return Err(AppError::forbidden(
                "this set-up link is not valid: use the one `houston serve` printed at its latest start, \
                 or create an admin with `houston user create --role admin`",
            ));
        }
        let username = Username::parse(&username)
            .map_err(|e| AppError::validation("username", e.to_string()))?;
        let password = NewPassword::parse(&password)
            .map_err(|e| AppError::validation("password", e.to_string()))?;
        crate::server::password::refuse_weak(&password, username.as_str())?;
        let hash = hash_off_thread(password).await?;
        let by = Actor::new(format!("setup:{username}"), caller.address.clone());
        let user = store
            .create_first_admin(&username, &hash, &by, Utc::now())
            .await?;
        gate.close();
        tracing::info!(user = %user.username, "first-run set-up done: the first admin exists");
        start_session(&user, caller.address).await?;
        leptos_axum::redirect("/");
        Ok(())
    }
}

//! Server functions for a person's own second factor: set it up (a secret to scan,
//! then a first code, which turns it on and hands out recovery codes once) and
//! turn it off (with the password). Admins can turn off another's for a lost phone.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What an authenticator app needs to set up the second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// The secret as text (base32), for apps that take it typed in.
    pub secret: String,
    /// The `otpauth://` address, as text and drawn as a QR code.
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// Starts setting up the second factor: a new secret, not yet in force. Asks for
/// the password first: a borrowed or stolen session must not bind its own
/// authenticator to the account (and keep its recovery codes).
#[server(endpoint = "account/second-factor/begin")]
pub async fn begin_second_factor(password: String) -> Result<Enrolment, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::PERSON, move |call| async move {
        let caller = call.caller;
        let user = caller.user().ok_or_else(AppError::internal)?;
        if user.second_factor {
            return Err(AppError::Conflict {
                message: "your second factor is on already; turn it off first to set up another"
                    .into(),
            });
        }
        if !crate::server::password::is_current_password(
            call.store.as_ref(),
            &user.username,
            password,
        )
        .await?
        {
            return Err(AppError::validation(
                "password",
                "that is not your password",
            ));
        }
        let secret = crate::server::totp::new_secret();
        let otpauth_url = crate::server::totp::otpauth_url(&secret, user.username.as_str())?;
        let qr_svg = crate::server::totp::qr_svg(&otpauth_url).ok_or_else(AppError::internal)?;
        call.store.begin_second_factor(user.id, &secret).await?;
        Ok(Enrolment {
            secret,
            otpauth_url,
            qr_svg,
        })
    })
    .await
}

/// Turns the second factor on with the first code the app shows; answers the
/// recovery codes, shown this once.
#[server(endpoint = "account/second-factor/confirm")]
pub async fn confirm_second_factor(code: String) -> Result<Vec<String>, AppError> {
    use crate::server::access::Need;
    use crate::server::totp;
    crate::server::serve(Need::PERSON, move |call| async move {
        let caller = call.caller;
        let user = caller.user().ok_or_else(AppError::internal)?;
        let store = call.store;
        let pending =
            store
                .second_factor(user.id)
                .await?
                .pending
                .ok_or_else(|| AppError::Conflict {
                    message: "start setting up the second factor first".into(),
                })?;
        let now = chrono::Utc::now();
        let unix = u64::try_from(now.timestamp()).unwrap_or_default();
        let step = totp::matching_step(&pending, &code, unix).ok_or_else(|| {
            AppError::validation(
                "code",
                "that is not the current code: check the app and your device's clock",
            )
        })?;
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| totp::hash_recovery_code(c)).collect();
        store
            .enable_second_factor(user.id, &hashes, &caller.actor(), now)
            .await?;
        // The code that turned it on cannot also sign someone in.
        store
            .use_totp_step(user.id, i64::try_from(step).unwrap_or(i64::MAX))
            .await?;
        tracing::info!(user = %user.username, "second factor turned on");
        Ok(codes)
    })
    .await
}

/// Turns one's own second factor off; the password is required, and a role
/// that must have one cannot.
#[server(endpoint = "account/second-factor/off")]
pub async fn disable_second_factor(password: String) -> Result<(), AppError> {
    use crate::server::access::{Need, second_factor_setting};
    crate::server::serve(Need::PERSON, move |call| async move {
        let caller = call.caller;
        let user = caller.user().ok_or_else(AppError::internal)?;
        if second_factor_setting()?.peek().applies_to(user.role) {
            return Err(AppError::Conflict {
                message: format!("a {} must keep a second factor on this Houston", user.role),
            });
        }
        let store = call.store;
        if !crate::server::password::is_current_password(store.as_ref(), &user.username, password)
            .await?
        {
            return Err(AppError::validation(
                "password",
                "that is not your password",
            ));
        }
        store
            .disable_second_factor(&user.username, &caller.actor(), None, chrono::Utc::now())
            .await?;
        Ok(())
    })
    .await
}

/// An admin turns off another person's second factor (a lost phone), with a reason.
#[server(endpoint = "admin/reset-second-factor")]
pub async fn reset_second_factor(username: String, reason: Option<String>) -> Result<(), AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let caller = call.caller;
        let username = super::admin::server::other_account(&caller, &username)?;
        let reason = super::admin::server::reason(reason)?;
        call.store
            .disable_second_factor(
                &username,
                &caller.actor(),
                reason.as_deref(),
                chrono::Utc::now(),
            )
            .await?;
        Ok(())
    })
    .await
}

/// Which roles must sign in with a second factor: `nobody`, `lead` (leads and
/// admins) or `admin`.
#[server(endpoint = "admin/second-factor-rule")]
pub async fn second_factor_rule() -> Result<String, AppError> {
    use crate::server::access::{Need, second_factor_setting};
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let store = call.store;
        let rule = second_factor_setting()?.current(store.as_ref()).await?;
        Ok(rule.as_str().to_owned())
    })
    .await
}

/// Sets which roles must sign in with a second factor; audited with the reason.
/// An admin who would be held to it needs one first, so nobody locks themselves out
/// of the setting.
#[server(endpoint = "admin/set-second-factor-rule")]
pub async fn set_second_factor_rule(rule: String, reason: Option<String>) -> Result<(), AppError> {
    use crate::server::access::{Need, SecondFactorRule, second_factor_setting};
    crate::server::serve(Need::MANAGE_ACCESS, move |call| async move {
        let caller = call.caller;
        let parsed = SecondFactorRule::parse(&rule).ok_or_else(|| {
            AppError::validation("rule", "choose nobody, lead (leads and admins) or admin")
        })?;
        if let Some(user) = caller.user()
            && parsed.applies_to(user.role)
            && !user.second_factor
        {
            return Err(AppError::Conflict {
                message: "set up your own second factor first (on your account page)".into(),
            });
        }
        let reason = super::admin::server::reason(reason)?;
        call.store
            .set_setting(
                SecondFactorRule::KEY,
                parsed.as_str(),
                &caller.actor(),
                reason.as_deref(),
                chrono::Utc::now(),
            )
            .await?;
        second_factor_setting()?.remember(parsed);
        Ok(())
    })
    .await
}

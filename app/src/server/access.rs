//! Who is calling, as a server function finds out: the policy itself (`Caller`,
//! `Need`, `authorize`) is `houston_service::access`, shared with the JSON API; this
//! module reads the request's context for it.

pub use houston_service::access::*;

use crate::error::AppError;

/// The second-factor setting the server provided to this request.
pub fn second_factor_setting() -> Result<std::sync::Arc<SecondFactorSetting>, AppError> {
    leptos::prelude::use_context::<std::sync::Arc<SecondFactorSetting>>().ok_or_else(|| {
        tracing::error!("no second-factor setting in the request context");
        AppError::internal()
    })
}

/// The caller of the current server-function request, as the server's
/// authentication layer recorded it.
pub fn caller() -> Result<Caller, AppError> {
    let parts = leptos::prelude::use_context::<http::request::Parts>().ok_or_else(|| {
        tracing::error!("no request parts in the server function's context");
        AppError::internal()
    })?;
    Ok(parts
        .extensions
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller::anonymous(None)))
}

/// The policy this server was started with.
pub fn policy() -> Policy {
    leptos::prelude::use_context::<Policy>().unwrap_or_default()
}

/// The caller of this server function, when the policy lets them do what `need`
/// describes.
pub fn require(need: Need) -> Result<Caller, AppError> {
    let caller = caller()?;
    if let Err(refused) = authorize(&caller, need, policy()) {
        let refused = AppError::from(refused);
        // Someone known asking for more than they may is worth a line in the
        // audit log (rate-limited); strangers are everywhere.
        if !matches!(caller.principal, Principal::Anonymous)
            && let Some(log) = crate::server::security::log()
        {
            let target = leptos::prelude::use_context::<http::request::Parts>()
                .map_or_else(|| "server function".to_owned(), |p| p.uri.path().to_owned());
            log.record(
                &caller.actor(),
                "access.refused",
                &target,
                Some(refused.to_string()),
            );
        }
        return Err(refused);
    }
    Ok(caller)
}

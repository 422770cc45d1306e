//! Who is calling and what they may do. `authorize` is the one policy: every server
//! function asks it through `require`, every API route through the server's guard.

use crate::domain::{Actor, Role, TokenScope, User};
use crate::error::AppError;
use crate::ssr::ApiToken;

/// Who a request comes from, worked out once per request by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// A person: by session cookie or by the trusted proxy's header.
    User(User),
    /// A program holding an API token.
    Token(ApiToken),
}

/// The principal and the client address it called from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub address: Option<String>,
}

impl Caller {
    pub fn anonymous(address: Option<String>) -> Self {
        Self {
            principal: Principal::Anonymous,
            address,
        }
    }

    /// How the audit log names this caller: `user:ada`, `token:ci` or `anonymous`.
    pub fn actor(&self) -> Actor {
        let name = match &self.principal {
            Principal::Anonymous => "anonymous".to_owned(),
            Principal::User(user) => format!("user:{}", user.username),
            Principal::Token(token) => format!("token:{}", token.name),
        };
        Actor::new(name, self.address.clone())
    }

    pub fn user(&self) -> Option<&User> {
        match &self.principal {
            Principal::User(user) => Some(user),
            _ => None,
        }
    }
}

/// What an action requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading deploys and history: any signed-in person or token; anonymous
    /// callers too when `HOUSTON_ALLOW_ANONYMOUS_READ` is on.
    Read,
    /// A person with at least `role`, or a token granted `scope`. `scope: None`
    /// means people only (changing one's own password, say).
    Act {
        role: Role,
        scope: Option<TokenScope>,
    },
}

impl Need {
    /// Register deploys and change their status.
    pub const DEPLOY: Need = Need::Act {
        role: Role::Deployer,
        scope: Some(TokenScope::Deploy),
    };
    /// Users, tokens, settings and the audit log.
    pub const ADMIN: Need = Need::Act {
        role: Role::Admin,
        scope: Some(TokenScope::Admin),
    };
    /// Managing accounts and API tokens: a signed-in admin, never a token, so a
    /// leaked token cannot mint more tokens or accounts.
    pub const MANAGE_ACCESS: Need = Need::Act {
        role: Role::Admin,
        scope: None,
    };
    /// Any signed-in person; tokens do not qualify.
    pub const PERSON: Need = Need::Act {
        role: Role::Viewer,
        scope: None,
    };
}

/// The deployment's choices that change who may read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub anonymous_read: bool,
    /// People with this role or above must sign in with a second factor before
    /// they may act (reading and setting it up stay open to them).
    pub second_factor_from: Option<Role>,
}

/// The policy: `Ok` when `caller` may do what `need` describes; otherwise
/// `Unauthorized` (nobody known is calling) or `Forbidden` (someone known is, and
/// may not).
pub fn authorize(caller: &Caller, need: Need, policy: Policy) -> Result<(), AppError> {
    match (&caller.principal, need) {
        (Principal::Anonymous, Need::Read) if policy.anonymous_read => Ok(()),
        (Principal::Anonymous, _) => Err(AppError::unauthorized(
            "sign in first, or send an API token as Authorization: Bearer <token>",
        )),
        (Principal::User(_) | Principal::Token(_), Need::Read) => Ok(()),
        (Principal::User(user), Need::Act { role, .. }) => {
            let must_enrol = role != Role::Viewer
                && !user.second_factor
                && policy
                    .second_factor_from
                    .is_some_and(|from| user.role.includes(from));
            if must_enrol {
                Err(AppError::forbidden(format!(
                    "a {} must sign in with a second factor: set it up on your account page first",
                    user.role
                )))
            } else if user.role.includes(role) {
                Ok(())
            } else {
                Err(AppError::forbidden(format!(
                    "this needs the {role} role; {} is a {}",
                    user.username, user.role
                )))
            }
        }
        (Principal::Token(token), Need::Act { scope, role }) => match scope {
            Some(scope) if scope.is_granted_by(&token.scopes) => Ok(()),
            Some(scope) => Err(AppError::forbidden(format!(
                "the token {:?} has the scopes {}; this needs {scope}",
                token.name,
                TokenScope::join(&token.scopes)
            ))),
            None => Err(AppError::forbidden(format!(
                "only a signed-in person ({role} or above) may do this, not an API token"
            ))),
        },
    }
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
        // Someone known asking for more than they may is worth a line in the
        // audit log (rate-limited); strangers are everywhere.
        if !matches!(caller.principal, Principal::Anonymous)
            && let Some(log) = crate::ssr::security::log()
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

/// Gives a server function's error its HTTP status (and `Retry-After` when
/// throttled) before it is sent; server functions end with `answer(result)`.
pub fn answer<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result
        && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
    {
        if let Ok(status) = http::StatusCode::from_u16(error.status_code()) {
            response.set_status(status);
        }
        if let Some(secs) = error.retry_after_secs() {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Username;
    use chrono::Utc;

    fn person(role: Role) -> Caller {
        Caller {
            principal: Principal::User(User {
                id: 1,
                username: Username::parse("ada").expect("valid"),
                role,
                created_at: Utc::now(),
                disabled_at: None,
                second_factor: false,
            }),
            address: Some("10.0.0.7".into()),
        }
    }

    fn token(scopes: &[TokenScope]) -> Caller {
        Caller {
            principal: Principal::Token(ApiToken {
                id: 1,
                name: "ci".into(),
                scopes: scopes.to_vec(),
                created_at: Utc::now(),
                last_used_at: None,
                revoked_at: None,
                expires_at: None,
                created_by: None,
            }),
            address: None,
        }
    }

    fn status(caller: &Caller, need: Need, policy: Policy) -> u16 {
        authorize(caller, need, policy).map_or_else(|e| e.status_code(), |()| 200)
    }

    #[test]
    fn people_need_the_role_and_tokens_the_scope() {
        let closed = Policy::default();
        let open = Policy {
            anonymous_read: true,
            ..Policy::default()
        };
        let nobody = Caller::anonymous(None);
        assert_eq!(status(&nobody, Need::Read, closed), 401);
        assert_eq!(status(&nobody, Need::Read, open), 200);
        assert_eq!(status(&nobody, Need::DEPLOY, open), 401);

        assert_eq!(status(&person(Role::Viewer), Need::Read, closed), 200);
        assert_eq!(status(&person(Role::Viewer), Need::DEPLOY, closed), 403);
        assert_eq!(status(&person(Role::Deployer), Need::DEPLOY, closed), 200);
        assert_eq!(status(&person(Role::Lead), Need::ADMIN, closed), 403);
        assert_eq!(status(&person(Role::Admin), Need::ADMIN, closed), 200);
        assert_eq!(status(&person(Role::Viewer), Need::PERSON, closed), 200);

        assert_eq!(status(&token(&[TokenScope::Gate]), Need::Read, closed), 200);
        assert_eq!(
            status(&token(&[TokenScope::Gate]), Need::DEPLOY, closed),
            403
        );
        assert_eq!(
            status(&token(&[TokenScope::Deploy]), Need::DEPLOY, closed),
            200
        );
        assert_eq!(
            status(&token(&[TokenScope::Admin]), Need::ADMIN, closed),
            200
        );
        assert_eq!(
            status(&token(&[TokenScope::Admin]), Need::PERSON, closed),
            403
        );
    }

    #[test]
    fn a_required_second_factor_comes_before_acting() {
        let policy = Policy {
            second_factor_from: Some(Role::Lead),
            ..Policy::default()
        };
        let with = |role, second_factor| {
            let mut caller = person(role);
            if let Principal::User(user) = &mut caller.principal {
                user.second_factor = second_factor;
            }
            caller
        };
        assert_eq!(status(&with(Role::Lead, false), Need::DEPLOY, policy), 403);
        assert_eq!(status(&with(Role::Admin, false), Need::ADMIN, policy), 403);
        assert_eq!(status(&with(Role::Lead, false), Need::Read, policy), 200);
        assert_eq!(
            status(&with(Role::Lead, false), Need::PERSON, policy),
            200,
            "setting it up stays open"
        );
        assert_eq!(status(&with(Role::Lead, true), Need::DEPLOY, policy), 200);
        assert_eq!(
            status(&with(Role::Deployer, false), Need::DEPLOY, policy),
            200,
            "below the role, optional"
        );
    }

    #[test]
    fn the_audit_log_names_the_caller() {
        assert_eq!(person(Role::Lead).actor().name, "user:ada");
        assert_eq!(
            person(Role::Lead).actor().address.as_deref(),
            Some("10.0.0.7")
        );
        assert_eq!(token(&[]).actor().name, "token:ci");
        assert_eq!(Caller::anonymous(None).actor().name, "anonymous");
    }
}

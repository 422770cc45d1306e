//! Who is calling and what they may do. `authorize` is the one policy: every server
//! function asks it through `app::server::access::require`, every API route through the
//! server's guard, and a use case that decides more finely (whose lock may be
//! lifted) asks it itself.

use crate::Refused;
use houston_core::{Actor, ApiToken, Role, TokenScope, User};

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
    /// A person whose role must use a second factor (an admin's setting) and who
    /// has none yet: they may read and set one up, nothing else.
    pub needs_second_factor: bool,
}

impl Caller {
    pub fn anonymous(address: Option<String>) -> Self {
        Self {
            principal: Principal::Anonymous,
            address,
            needs_second_factor: false,
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
    /// Anyone, signed in or not: signing in, first-run set-up, who is signed in.
    Anyone,
    /// Reading deploys and history: any signed-in person, or a token with scope
    /// `read` (or `admin`); anonymous callers too when `HOUSTON_ALLOW_ANONYMOUS_READ`
    /// is on.
    Read,
    /// A program's own route: a token granted this scope; people are refused (the
    /// Alertmanager webhook, which only the alert source may call).
    Program(TokenScope),
    /// Reading what a narrow program needs as well: any signed-in person, or a
    /// token with this scope or `read` (the gate, locks and overrides: a `gate`
    /// token reads them, and a `read` token reads the whole API).
    ReadAs(TokenScope),
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
    /// Send metrics and error events.
    pub const INGEST: Need = Need::Act {
        role: Role::Deployer,
        scope: Some(TokenScope::Ingest),
    };
    /// Metric definitions, checks, timings and verdict overrides: a lead, or an
    /// admin token.
    pub const CONFIGURE: Need = Need::Act {
        role: Role::Lead,
        scope: Some(TokenScope::Admin),
    };
    /// Reading locks, freeze windows, overrides and the gate: any signed-in person,
    /// or a token with scope `gate` or `read`.
    pub const GATE: Need = Need::ReadAs(TokenScope::Gate);
    /// Claiming an override for a pipeline run: asking the gate with one write
    /// that reserves break glass, so a deployer at least, or a `gate` token.
    pub const CLAIM: Need = Need::Act {
        role: Role::Deployer,
        scope: Some(TokenScope::Gate),
    };
    /// Placing locks and lifting one's own: a deployer, or a token with scope
    /// `admin`. Lifting another's lock also needs [`Need::CONFIGURE`].
    pub const LOCK: Need = Need::Act {
        role: Role::Deployer,
        scope: Some(TokenScope::Admin),
    };
    /// Users, tokens, settings and the audit log.
    pub const ADMIN: Need = Need::Act {
        role: Role::Admin,
        scope: Some(TokenScope::Admin),
    };
    /// Send Alertmanager's notifications: the `alerts` token, nobody else.
    pub const ALERTS: Need = Need::Program(TokenScope::Alerts);
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

/// Which people must sign in with a second factor before they may act: an
/// admin's setting, stored in the database and shared by replicas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SecondFactorRule {
    #[default]
    Nobody,
    /// This role and the ones above it.
    From(Role),
}

impl SecondFactorRule {
    /// The settings key it is stored under.
    pub const KEY: &'static str = "second_factor_required_from";

    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactorRule::Nobody => "nobody",
            SecondFactorRule::From(role) => role.as_str(),
        }
    }

    /// `nobody`, `lead` (leads and admins) or `admin`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "nobody" | "" => Some(SecondFactorRule::Nobody),
            "lead" => Some(SecondFactorRule::From(Role::Lead)),
            "admin" => Some(SecondFactorRule::From(Role::Admin)),
            _ => None,
        }
    }

    pub fn applies_to(self, role: Role) -> bool {
        matches!(self, SecondFactorRule::From(from) if role.includes(from))
    }
}

/// The second-factor rule as this server last read it: refreshed from the store
/// when older than a few seconds, so a change made on one replica reaches the
/// others quickly without a query per request.
pub struct SecondFactorSetting {
    cached: std::sync::RwLock<(Option<std::time::Instant>, SecondFactorRule)>,
}

impl Default for SecondFactorSetting {
    fn default() -> Self {
        Self {
            cached: std::sync::RwLock::new((None, SecondFactorRule::Nobody)),
        }
    }
}

impl SecondFactorSetting {
    const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(5);

    /// The rule, read again from `store` when the cached one is stale.
    pub async fn current(
        &self,
        store: &dyn houston_store::Store,
    ) -> Result<SecondFactorRule, houston_store::StoreError> {
        if let Ok(guard) = self.cached.read()
            && let (Some(at), rule) = *guard
            && at.elapsed() < Self::FRESH_FOR
        {
            return Ok(rule);
        }
        let rule = store
            .get_setting(SecondFactorRule::KEY)
            .await?
            .and_then(|raw| SecondFactorRule::parse(&raw))
            .unwrap_or_default();
        self.remember(rule);
        Ok(rule)
    }

    /// The rule as last read, without asking the store.
    pub fn peek(&self) -> SecondFactorRule {
        self.cached.read().map(|g| g.1).unwrap_or_default()
    }

    /// Takes a rule just stored on this replica into force at once.
    pub fn remember(&self, rule: SecondFactorRule) {
        match self.cached.write() {
            Ok(mut guard) => *guard = (Some(std::time::Instant::now()), rule),
            Err(poisoned) => *poisoned.into_inner() = (Some(std::time::Instant::now()), rule),
        }
    }
}

/// The deployment's choices that change who may read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub anonymous_read: bool,
}

/// The policy: `Ok` when `caller` may do what `need` describes; otherwise
/// `Unauthorized` (nobody known is calling) or `Forbidden` (someone known is, and
/// may not).
pub fn authorize(caller: &Caller, need: Need, policy: Policy) -> Result<(), Refused> {
    match (&caller.principal, need) {
        (_, Need::Anyone) => Ok(()),
        (Principal::Anonymous, Need::Read) if policy.anonymous_read => Ok(()),
        (Principal::Anonymous, _) => Err(Refused::unauthorized(
            "sign in first, or send an API token as Authorization: Bearer <token>",
        )),
        (Principal::User(_), Need::Read | Need::ReadAs(_)) => Ok(()),
        (Principal::Token(token), Need::ReadAs(scope)) => {
            if scope.is_granted_by(&token.scopes) || TokenScope::Read.is_granted_by(&token.scopes) {
                Ok(())
            } else {
                Err(Refused::forbidden(format!(
                    "the token {:?} has the scopes {}; reading this needs {scope} or read",
                    token.name,
                    TokenScope::join(&token.scopes)
                )))
            }
        }
        (Principal::Token(token), Need::Read) => {
            if TokenScope::Read.is_granted_by(&token.scopes) {
                Ok(())
            } else {
                Err(Refused::forbidden(format!(
                    "the token {:?} has the scopes {}; reading needs the scope read",
                    token.name,
                    TokenScope::join(&token.scopes)
                )))
            }
        }
        (Principal::User(_), Need::Program(scope)) => Err(Refused::forbidden(format!(
            "only a token with the scope {scope} may do this, not a person"
        ))),
        (Principal::Token(token), Need::Program(scope)) => {
            if scope.is_granted_by(&token.scopes) {
                Ok(())
            } else {
                Err(Refused::forbidden(format!(
                    "the token {:?} has the scopes {}; this needs {scope}",
                    token.name,
                    TokenScope::join(&token.scopes)
                )))
            }
        }
        (Principal::User(user), Need::Act { role, .. }) => {
            if role != Role::Viewer && caller.needs_second_factor {
                Err(Refused::forbidden(format!(
                    "a {} must sign in with a second factor: set it up on your account page first",
                    user.role
                )))
            } else if user.role.includes(role) {
                Ok(())
            } else {
                Err(Refused::forbidden(format!(
                    "this needs the {role} role; {} is a {}",
                    user.username, user.role
                )))
            }
        }
        (Principal::Token(token), Need::Act { scope, role }) => match scope {
            Some(scope) if scope.is_granted_by(&token.scopes) => Ok(()),
            Some(scope) => Err(Refused::forbidden(format!(
                "the token {:?} has the scopes {}; this needs {scope}",
                token.name,
                TokenScope::join(&token.scopes)
            ))),
            None => Err(Refused::forbidden(format!(
                "only a signed-in person ({role} or above) may do this, not an API token"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use houston_core::Username;

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
            needs_second_factor: false,
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
            needs_second_factor: false,
        }
    }

    fn status(caller: &Caller, need: Need, policy: Policy) -> u16 {
        authorize(caller, need, policy).map_or_else(|e| e.status(), |()| 200)
    }

    #[test]
    fn people_need_the_role_and_tokens_the_scope() {
        let closed = Policy::default();
        let open = Policy {
            anonymous_read: true,
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

        assert_eq!(status(&token(&[TokenScope::Read]), Need::Read, closed), 200);
        assert_eq!(
            status(&token(&[TokenScope::Admin]), Need::Read, closed),
            200
        );
        for narrow in [
            TokenScope::Gate,
            TokenScope::Ingest,
            TokenScope::Deploy,
            TokenScope::Alerts,
        ] {
            assert_eq!(
                status(&token(&[narrow]), Need::Read, closed),
                403,
                "{narrow} reads nothing"
            );
        }
        assert_eq!(
            status(&token(&[TokenScope::Alerts]), Need::ALERTS, closed),
            200
        );
        assert_eq!(
            status(&token(&[TokenScope::Ingest]), Need::ALERTS, closed),
            403
        );
        assert_eq!(
            status(&token(&[TokenScope::Admin]), Need::ALERTS, closed),
            403,
            "admin stands in for every scope but alerts"
        );
        assert_eq!(status(&person(Role::Admin), Need::ALERTS, closed), 403);
        assert_eq!(status(&nobody, Need::ALERTS, open), 401);
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
        let policy = Policy::default();
        let without = |role| Caller {
            needs_second_factor: true,
            ..person(role)
        };
        assert_eq!(status(&without(Role::Lead), Need::DEPLOY, policy), 403);
        assert_eq!(status(&without(Role::Admin), Need::ADMIN, policy), 403);
        assert_eq!(status(&without(Role::Lead), Need::Read, policy), 200);
        assert_eq!(
            status(&without(Role::Lead), Need::PERSON, policy),
            200,
            "setting it up stays open"
        );
        assert_eq!(status(&person(Role::Lead), Need::DEPLOY, policy), 200);
    }

    #[test]
    fn second_factor_rules_apply_from_a_role_up() {
        let rule = SecondFactorRule::From(Role::Lead);
        assert!(rule.applies_to(Role::Admin));
        assert!(rule.applies_to(Role::Lead));
        assert!(!rule.applies_to(Role::Deployer));
        assert!(!SecondFactorRule::Nobody.applies_to(Role::Admin));
        for rule in [
            SecondFactorRule::Nobody,
            SecondFactorRule::From(Role::Lead),
            SecondFactorRule::From(Role::Admin),
        ] {
            assert_eq!(SecondFactorRule::parse(rule.as_str()), Some(rule));
        }
        assert_eq!(SecondFactorRule::parse("viewer"), None);
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

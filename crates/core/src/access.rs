//! Who may do what with an API token, and the audit trail of changes to access.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an API token may be used for. `Admin` includes every other scope but
/// `Alerts`: alerts come only from the alert source's own token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Register deploys and change their status.
    Deploy,
    /// Send metric samples and error events; read nothing.
    Ingest,
    /// Ask the deploy gate (and read locks, freeze windows and overrides).
    Gate,
    /// Read deploys, signals and verdicts through the API and the live stream.
    Read,
    /// Send Alertmanager's notifications: the alert source's token alone.
    Alerts,
    /// Everything but `Alerts`, including the audit log.
    Admin,
}

impl TokenScope {
    pub const ALL: [TokenScope; 6] = [
        TokenScope::Deploy,
        TokenScope::Ingest,
        TokenScope::Gate,
        TokenScope::Read,
        TokenScope::Alerts,
        TokenScope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Deploy => "deploy",
            TokenScope::Ingest => "ingest",
            TokenScope::Gate => "gate",
            TokenScope::Read => "read",
            TokenScope::Alerts => "alerts",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw.trim())
    }

    /// Parses `deploy,gate`; the list must name at least one scope, each once is kept.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, String> {
        let mut scopes = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Self::parse(part).ok_or_else(|| {
                format!("unknown scope {part:?}; use deploy, ingest, gate, read, alerts or admin")
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(
                "name at least one scope: deploy, ingest, gate, read, alerts or admin".into(),
            );
        }
        Ok(scopes)
    }

    /// The stored form: `deploy,gate`.
    pub fn join(scopes: &[TokenScope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether a token holding `granted` may act where `self` is needed. `Admin`
    /// stands in for every scope but `Alerts`, which only the alert source holds.
    pub fn is_granted_by(self, granted: &[TokenScope]) -> bool {
        granted.contains(&self)
            || (self != TokenScope::Alerts && granted.contains(&TokenScope::Admin))
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a change and from where, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `token:ci`, `cli:alice`, later `user:alice`.
    pub name: String,
    /// The client address, when the change came over the network.
    pub address: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>, address: Option<String>) -> Self {
        Self {
            name: name.into(),
            address,
        }
    }
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub source_address: Option<String>,
    /// What happened, e.g. `token.create`, `token.revoke`.
    pub action: String,
    /// What it happened to, e.g. `token:ci`.
    pub target: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
}

/// Which audit entries a query wants, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// An API token as listed; the secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<TokenScope>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// After this the token no longer works.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who created it (`user:ada`, `cli:root`); a token a person created stops
    /// working when that person's account is disabled.
    pub created_by: Option<String>,
}

impl ApiToken {
    /// Whether the token works at `now`: not revoked, not expired.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// A token to store: its name, the hash of its secret, what it may do, when it
/// ends and which person owns it (none when made on the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub name: String,
    pub token_hash: String,
    pub scopes: Vec<TokenScope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub owner_user_id: Option<i64>,
}

/// Longest a token may be made to last, in days.
pub const MAX_TOKEN_DAYS: i64 = 3650;

/// A token's lifetime as a form or the command line gives it: empty or `never`
/// for no expiry, otherwise a whole number of days from `now`.
pub fn parse_token_expiry(
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, String> {
    match raw.map(str::trim) {
        None | Some("" | "never") => Ok(None),
        Some(days) => match days.parse::<i64>() {
            Ok(n) if (1..=MAX_TOKEN_DAYS).contains(&n) => Ok(Some(now + chrono::Duration::days(n))),
            _ => Err(format!(
                "give the lifetime in whole days from 1 to {MAX_TOKEN_DAYS}, or leave it empty for no expiry"
            )),
        },
    }
}

/// A token just created: its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// The actions the audit log records, for the filter on its page.
pub const AUDIT_ACTIONS: [&str; 27] = [
    "user.create",
    "user.role",
    "user.disable",
    "user.enable",
    "user.password",
    "user.second_factor_on",
    "user.second_factor_off",
    "settings.change",
    "token.create",
    "token.revoke",
    "session.login",
    "session.login_failed",
    "session.logout",
    "session.throttled",
    "session.proxy_login",
    "access.refused",
    "token.unknown",
    "setup.bad_secret",
    "webhook.bad_signature",
    "deploy.register",
    "deploy.status",
    "deploy.status_refused",
    "proxy.bad_secret",
    "security.suppressed",
    "metric.create",
    "metric.update",
    "metric.delete",
];

pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
pub const MAX_AUDIT_LIMIT: u32 = 1000;

/// An audit-log query as it arrives from a URL or a form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// e.g. `token.create`
    #[cfg_attr(feature = "openapi", param(required = false, nullable = false))]
    pub action: Option<String>,
    /// e.g. `user:ada`, `cli:alice` or `token:ci`
    #[cfg_attr(feature = "openapi", param(required = false, nullable = false))]
    pub actor: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD` (UTC), inclusive.
    #[cfg_attr(feature = "openapi", param(required = false, nullable = false, schema_with = crate::time_bound_schema))]
    pub since: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD` (UTC, the whole day), exclusive.
    #[cfg_attr(feature = "openapi", param(required = false, nullable = false, schema_with = crate::time_bound_schema))]
    pub until: Option<String>,
    /// 1 to 1000; default 100.
    #[cfg_attr(
        feature = "openapi",
        param(required = false, nullable = false, minimum = 1, maximum = 1000)
    )]
    pub limit: Option<u32>,
}

impl AuditQuery {
    pub fn parse(&self) -> Result<AuditFilter, crate::ValidationErrors> {
        use crate::{FieldError, to_stored_precision};
        let mut errors = Vec::new();
        let mut time = |field: &str, raw: &Option<String>, end_of_day: bool| {
            let raw = raw
                .as_deref()
                .map(str::trim_ascii)
                .filter(|r| !r.is_empty())?;
            if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
                return Some(to_stored_precision(t.with_timezone(&Utc)));
            }
            if let Ok(day) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                let day = if end_of_day { day.succ_opt()? } else { day };
                return Some(day.and_time(chrono::NaiveTime::MIN).and_utc());
            }
            errors.push(FieldError::new(
                field,
                format!("must be a date (YYYY-MM-DD) or an RFC 3339 time, got {raw:?}"),
            ));
            None
        };
        let since = time("since", &self.since, false);
        let until = time("until", &self.until, true);
        let limit = self.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
        if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_AUDIT_LIMIT}"),
            ));
        }
        if !errors.is_empty() {
            return Err(crate::ValidationErrors(errors));
        }
        let text = |raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim_ascii)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        };
        Ok(AuditFilter {
            action: text(&self.action),
            actor: text(&self.actor),
            since,
            until,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_queries_take_dates_and_times() {
        let q = AuditQuery {
            since: Some("2026-11-01".into()),
            until: Some("2026-11-02".into()),
            actor: Some("  ".into()),
            ..AuditQuery::default()
        };
        let f = q.parse().expect("valid");
        assert_eq!(
            f.since.map(|t| t.to_rfc3339()),
            Some("2026-11-01T00:00:00+00:00".into())
        );
        assert_eq!(
            f.until.map(|t| t.to_rfc3339()),
            Some("2026-11-03T00:00:00+00:00".into())
        );
        assert_eq!(f.actor, None);
        assert_eq!(f.limit, DEFAULT_AUDIT_LIMIT);
        let bad = AuditQuery {
            since: Some("yesterday".into()),
            limit: Some(0),
            ..AuditQuery::default()
        };
        let errors = bad.parse().expect_err("invalid");
        assert_eq!(errors.0.len(), 2);
    }

    #[test]
    fn scope_lists_parse_dedupe_and_refuse_unknowns() {
        assert_eq!(
            TokenScope::parse_list("deploy, gate,deploy"),
            Ok(vec![TokenScope::Deploy, TokenScope::Gate])
        );
        assert!(TokenScope::parse_list("deploy,root").is_err_and(|e| e.contains("root")));
        assert!(TokenScope::parse_list(" , ").is_err());
        assert_eq!(
            TokenScope::join(&[TokenScope::Ingest, TokenScope::Admin]),
            "ingest,admin"
        );
    }

    #[test]
    fn admin_grants_every_scope_but_alerts_and_others_only_themselves() {
        for needed in TokenScope::ALL {
            assert_eq!(
                needed.is_granted_by(&[TokenScope::Admin]),
                needed != TokenScope::Alerts,
                "{needed}"
            );
        }
        assert!(TokenScope::Alerts.is_granted_by(&[TokenScope::Alerts]));
        assert!(!TokenScope::Read.is_granted_by(&[TokenScope::Gate, TokenScope::Ingest]));
        assert!(TokenScope::Deploy.is_granted_by(&[TokenScope::Gate, TokenScope::Deploy]));
        assert!(!TokenScope::Deploy.is_granted_by(&[TokenScope::Gate, TokenScope::Ingest]));
        assert!(!TokenScope::Admin.is_granted_by(&[TokenScope::Deploy]));
        assert!(!TokenScope::Gate.is_granted_by(&[]));
    }

    #[test]
    fn token_lifetimes_are_whole_days_or_none() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(parse_token_expiry(None, now), Ok(None));
        assert_eq!(parse_token_expiry(Some(" "), now), Ok(None));
        assert_eq!(parse_token_expiry(Some("never"), now), Ok(None));
        assert_eq!(
            parse_token_expiry(Some("30"), now),
            Ok(Some(now + chrono::Duration::days(30)))
        );
        for bad in ["0", "-1", "3651", "1.5", "soon"] {
            assert!(parse_token_expiry(Some(bad), now).is_err(), "{bad}");
        }
        let token = ApiToken {
            id: 1,
            name: "ci".into(),
            scopes: vec![TokenScope::Deploy],
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            expires_at: Some(now),
            created_by: None,
        };
        assert!(token.is_active_at(now - chrono::Duration::seconds(1)));
        assert!(!token.is_active_at(now), "expired at its expiry time");
    }
}

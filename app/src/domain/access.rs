//! Who may do what with an API token, and the audit trail of changes to access.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an API token may be used for. `Admin` includes every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Register deploys and change their status.
    Deploy,
    /// Send metric samples and error events.
    Ingest,
    /// Ask the deploy gate.
    Gate,
    /// Everything, including the audit log.
    Admin,
}

impl TokenScope {
    pub const ALL: [TokenScope; 4] = [
        TokenScope::Deploy,
        TokenScope::Ingest,
        TokenScope::Gate,
        TokenScope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Deploy => "deploy",
            TokenScope::Ingest => "ingest",
            TokenScope::Gate => "gate",
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
                format!("unknown scope {part:?}; use deploy, ingest, gate or admin")
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("name at least one scope: deploy, ingest, gate or admin".into());
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

    /// Whether a token holding `granted` may act where `self` is needed.
    pub fn is_granted_by(self, granted: &[TokenScope]) -> bool {
        granted.contains(&self) || granted.contains(&TokenScope::Admin)
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn admin_grants_every_scope_and_others_only_themselves() {
        for needed in TokenScope::ALL {
            assert!(needed.is_granted_by(&[TokenScope::Admin]));
        }
        assert!(TokenScope::Deploy.is_granted_by(&[TokenScope::Gate, TokenScope::Deploy]));
        assert!(!TokenScope::Deploy.is_granted_by(&[TokenScope::Gate, TokenScope::Ingest]));
        assert!(!TokenScope::Admin.is_granted_by(&[TokenScope::Deploy]));
        assert!(!TokenScope::Gate.is_granted_by(&[]));
    }
}

//! Local accounts: user names, roles and the rules a password must meet.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a person may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Registers deploys; locks and unlocks their own locks.
    Deployer,
    /// Locks and unlocks anything, freeze windows, overrides, verdict overrides.
    Lead,
    /// Users, tokens and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Deployer, Role::Lead, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw.trim())
    }

    /// Whether someone with this role may do what `needed` allows.
    pub fn includes(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error(
        "user names are 2 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"
    )]
    BadUsername,
    #[error("passwords must be at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("passwords must be at most {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
}

const MIN_PASSWORD_CHARS: usize = 12;
/// argon2 hashes any length, but a megabyte password is a denial-of-service attempt.
const MAX_PASSWORD_CHARS: usize = 1024;

/// A login name such as `ada.lovelace`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let name = raw.trim().to_lowercase();
        let len = name.chars().count();
        let starts = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        let rest = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if (2..=64).contains(&len) && starts && rest {
            Ok(Self(name))
        } else {
            Err(AccountError::BadUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = AccountError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> String {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password that meets the length rules. Its `Debug` never shows it.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let len = raw.chars().count();
        if len < MIN_PASSWORD_CHARS {
            Err(AccountError::PasswordTooShort)
        } else if len > MAX_PASSWORD_CHARS {
            Err(AccountError::PasswordTooLong)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// An account as listed; the password hash stays in storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: Username,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.includes(Role::Viewer));
        assert!(Role::Lead.includes(Role::Deployer));
        assert!(Role::Deployer.includes(Role::Deployer));
        assert!(!Role::Deployer.includes(Role::Lead));
        assert!(!Role::Viewer.includes(Role::Deployer));
        assert_eq!(Role::parse("lead"), Some(Role::Lead));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn usernames_are_normalised_or_refused() {
        assert_eq!(
            Username::parse(" Ada.Lovelace ").map(|u| u.to_string()),
            Ok("ada.lovelace".into())
        );
        for bad in [
            "a",
            "1ada",
            "ada lovelace",
            "ada@example.com",
            "",
            &"a".repeat(65),
        ] {
            assert_eq!(
                Username::parse(bad),
                Err(AccountError::BadUsername),
                "{bad:?}"
            );
        }
        assert!(Username::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn password_length_edges() {
        assert_eq!(
            NewPassword::parse(&"x".repeat(11)).err(),
            Some(AccountError::PasswordTooShort)
        );
        assert!(NewPassword::parse(&"x".repeat(12)).is_ok());
        assert!(NewPassword::parse(&"x".repeat(1024)).is_ok());
        assert_eq!(
            NewPassword::parse(&"x".repeat(1025)).err(),
            Some(AccountError::PasswordTooLong)
        );
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse battery").ok()),
            "Some(NewPassword(***))"
        );
    }
}

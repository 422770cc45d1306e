//! Local accounts: user names, roles and the rules a password must meet.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a person may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[error("passwords must be at most {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
}

const MIN_PASSWORD_CHARS: usize = 12;
/// argon2 hashes any length, but a megabyte password is a denial-of-service
/// attempt: longer ones are refused, at sign-in before anything is hashed.
pub const MAX_PASSWORD_BYTES: usize = 1024;

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
        } else if raw.len() > MAX_PASSWORD_BYTES {
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

/// How sign-in attempts are limited. Failures count for the throttling window;
/// an attempt is counted before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Attempts per (account, client address) before that pair is locked for the
    /// window. Only the pair is locked, so nobody can lock a victim out from
    /// another address.
    pub per_pair: u32,
    /// Attempts per client address, whatever the account (password spraying).
    pub per_address: u32,
    /// Failures per account, from any address, after which each further attempt
    /// is slowed down (never refused: the right password still works).
    pub slowdown_after: u32,
    pub window: chrono::Duration,
}

impl LoginLimits {
    pub const DEFAULT: LoginLimits = LoginLimits {
        per_pair: 10,
        per_address: 30,
        slowdown_after: 10,
        window: chrono::Duration::minutes(15),
    };

    /// How long to wait before checking an attempt on an account that already has
    /// `account_failures` failures in the window: nothing up to the threshold,
    /// then 1 s, 2 s, 4 s … up to 16 s — well inside the default request timeout
    /// (30 s), so the right password is slowed, never timed out.
    pub fn slowdown(&self, account_failures: u32) -> std::time::Duration {
        match account_failures.checked_sub(self.slowdown_after) {
            None => std::time::Duration::ZERO,
            Some(over) => std::time::Duration::from_secs(1u64 << over.min(4)).min(MAX_SLOWDOWN),
        }
    }
}

const MAX_SLOWDOWN: std::time::Duration = std::time::Duration::from_secs(16);

/// The key a client address is throttled under: IPv4 addresses as they are, IPv6
/// by their /64 (one host usually holds a whole /64 and could rotate through it).
pub fn throttle_key(address: std::net::IpAddr) -> String {
    match address {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
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
    /// Whether the person signs in with a second factor (TOTP).
    #[serde(default)]
    pub second_factor: bool,
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
            NewPassword::parse(&"é".repeat(513)).err(),
            Some(AccountError::PasswordTooLong),
            "bytes, not characters"
        );
        assert_eq!(
            NewPassword::parse(&"x".repeat(1025)).err(),
            Some(AccountError::PasswordTooLong)
        );
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse battery").ok()),
            "Some(NewPassword(***))"
        );
    }

    #[test]
    fn ipv6_clients_are_throttled_by_their_64() {
        let key = |raw: &str| throttle_key(raw.parse().expect("address"));
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), "2001:db8:1:2::/64");
        assert_eq!(key("::ffff:198.51.100.7"), "198.51.100.7");
    }

    #[test]
    fn accounts_under_attack_slow_down_instead_of_locking() {
        let limits = LoginLimits::DEFAULT;
        let secs = |n| limits.slowdown(n).as_secs();
        assert_eq!(secs(0), 0);
        assert_eq!(secs(9), 0);
        assert_eq!(secs(10), 1, "at the threshold");
        assert_eq!(secs(11), 2);
        assert_eq!(secs(14), 16);
        assert_eq!(secs(15), 16, "capped");
        assert_eq!(secs(10_000), 16, "capped");
    }
}

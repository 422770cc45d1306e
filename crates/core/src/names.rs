//! Names of services and environments, and the stage order environments get by default.
//!
//! A **place** is one service in one environment (service × environment): where a
//! deploy goes, what the board shows one cell for, the narrowest scope a lock
//! covers, and what the judge compares a deploy's metrics within. It has no type of
//! its own: code that means a place takes the two names together
//! (`deploys_by_place` is the index on the pair).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error(
        "may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit"
    )]
    BadCharacter,
}

const MAX_NAME_LEN: usize = 64;

fn parse_slug(raw: &str) -> Result<String, NameError> {
    let name = raw.trim_ascii();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(NameError::TooLong { max: MAX_NAME_LEN });
    }
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !(starts_well && rest_ok) {
        return Err(NameError::BadCharacter);
    }
    Ok(name.to_owned())
}

macro_rules! slug_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, NameError> {
                parse_slug(raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_type!(
    /// A service name such as `checkout` or `Hello-World`.
    ServiceName
);
slug_type!(
    /// An environment name such as `staging` or `production`.
    EnvironmentName
);
slug_type!(
    /// A group within a metric's series, such as `canary` or `baseline`.
    GroupName
);

/// The stage order an environment gets when Houston first sees it: the usual
/// pipeline names in pipeline order, anything else between gamma and one-box so
/// production stays last. A lead can change it later.
pub fn default_stage_order(environment: &EnvironmentName) -> i32 {
    match environment.as_str().to_ascii_lowercase().as_str() {
        "local" => 0,
        "dev" | "development" => 10,
        "alpha" | "test" | "testing" | "qa" | "ci" => 20,
        "beta" | "stage" | "staging" | "preprod" | "pre-production" | "uat" => 30,
        "gamma" => 40,
        "onebox" | "one-box" | "canary" => 60,
        "prod" | "production" | "live" => 70,
        _ => 50,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_or_say_why_not() {
        let cases: &[(&str, Result<&str, NameError>)] = &[
            ("checkout", Ok("checkout")),
            ("  Hello-World ", Ok("Hello-World")),
            ("api.v2_eu-west", Ok("api.v2_eu-west")),
            ("", Err(NameError::Empty)),
            ("   ", Err(NameError::Empty)),
            ("-leading-dash", Err(NameError::BadCharacter)),
            ("has space", Err(NameError::BadCharacter)),
            ("slash/name", Err(NameError::BadCharacter)),
            ("ünïcode", Err(NameError::BadCharacter)),
        ];
        for (raw, want) in cases {
            let got = ServiceName::parse(raw).map(|n| n.as_str().to_owned());
            assert_eq!(got, want.clone().map(str::to_owned), "input {raw:?}");
        }
    }

    #[test]
    fn name_length_limit_is_inclusive() {
        let at_limit = "a".repeat(MAX_NAME_LEN);
        assert!(EnvironmentName::parse(&at_limit).is_ok());
        let over = "a".repeat(MAX_NAME_LEN + 1);
        assert_eq!(
            EnvironmentName::parse(&over),
            Err(NameError::TooLong { max: MAX_NAME_LEN })
        );
    }

    #[test]
    fn stage_order_puts_production_last_and_unknown_before_it() {
        let order = |n: &str| default_stage_order(&EnvironmentName::parse(n).expect("valid"));
        assert!(order("dev") < order("staging"));
        assert!(order("staging") < order("Production"));
        assert!(order("gamma") < order("custom-env"));
        assert!(order("custom-env") < order("one-box"));
        assert!(order("one-box") < order("prod"));
    }

    #[test]
    fn serde_refuses_invalid_names() {
        let parsed: Result<ServiceName, _> = serde_json::from_str("\"bad name\"");
        assert!(parsed.is_err());
    }
}

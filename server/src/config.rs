//! Every setting Houston reads, read once at start-up into typed values. An
//! invalid value stops start-up with a message naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A setting that could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite:PATH` (default: `houston.db` in the data directory) or `postgres://…`.
    pub database_url: String,
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    /// When set, GitHub webhooks must carry a valid `X-Hub-Signature-256`.
    pub github_webhook_secret: Option<String>,
    /// Largest request body the API accepts.
    pub max_body_bytes: usize,
    /// Where cargo-leptos put the compiled site (wasm, JS, CSS, public files).
    pub site_root: PathBuf,
    /// The address people use to reach Houston; an https URL makes cookies `Secure`.
    pub public_url: Option<String>,
    /// `tracing` filter, e.g. `info` or `houston=debug,tower_http=info`.
    pub log_filter: String,
}

/// Values given as command-line flags; they win over the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub bind: Option<SocketAddr>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok(), overrides)
    }

    /// Reads settings through `lookup` so tests need not touch the process environment.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let get = |var: &str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let data_dir = PathBuf::from(get("HOUSTON_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = match overrides
            .database_url
            .clone()
            .or_else(|| get("HOUSTON_DATABASE_URL"))
        {
            Some(url) => {
                if crate::storage::Backend::of_url(&url).is_none() {
                    return Err(ConfigError {
                        var: "HOUSTON_DATABASE_URL",
                        message: format!(
                            "{url:?} is neither sqlite:PATH nor postgres://USER@HOST/DB"
                        ),
                    });
                }
                url
            }
            None => format!("sqlite:{}", data_dir.join("houston.db").display()),
        };
        let bind = match overrides.bind {
            Some(addr) => addr,
            None => match get("HOUSTON_BIND") {
                Some(raw) => raw.parse().map_err(|_| ConfigError {
                    var: "HOUSTON_BIND",
                    message: format!("{raw:?} is not an address such as 127.0.0.1:3000"),
                })?,
                None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            },
        };
        let max_body_bytes = match get("HOUSTON_MAX_BODY_BYTES") {
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n >= 1024 => n,
                _ => {
                    return Err(ConfigError {
                        var: "HOUSTON_MAX_BODY_BYTES",
                        message: format!("{raw:?} is not a byte count of at least 1024"),
                    });
                }
            },
            None => 1024 * 1024,
        };
        let site_root = PathBuf::from(
            get("HOUSTON_SITE_ROOT")
                .or_else(|| get("LEPTOS_SITE_ROOT"))
                .unwrap_or_else(|| "target/site".into()),
        );
        Ok(Config {
            database_url,
            data_dir,
            bind,
            github_webhook_secret: get("HOUSTON_GITHUB_WEBHOOK_SECRET"),
            max_body_bytes,
            site_root,
            public_url: get("HOUSTON_PUBLIC_URL"),
            log_filter: get("HOUSTON_LOG").unwrap_or_else(|| "info".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned(), &Overrides::default())
    }

    #[test]
    fn defaults_are_an_sqlite_file_on_loopback() {
        let c = load(&[]).expect("defaults load");
        assert_eq!(c.database_url, "sqlite:data/houston.db");
        assert_eq!(c.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(c.github_webhook_secret, None);
    }

    #[test]
    fn invalid_values_name_their_variable() {
        for (var, value) in [
            ("HOUSTON_BIND", "localhost"),
            ("HOUSTON_DATABASE_URL", "mysql://x"),
            ("HOUSTON_MAX_BODY_BYTES", "12"),
        ] {
            let err = load(&[(var, value)]).expect_err("invalid");
            assert_eq!(err.var, var);
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    fn flags_win_over_the_environment() {
        let overrides = Overrides {
            bind: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            database_url: Some("postgres://houston@db/houston".into()),
        };
        let c = Config::from_lookup(
            |k| (k == "HOUSTON_BIND").then(|| "127.0.0.1:1".to_owned()),
            &overrides,
        )
        .expect("valid");
        assert_eq!(c.bind.to_string(), "0.0.0.0:8080");
        assert_eq!(c.database_url, "postgres://houston@db/houston");
    }

    #[test]
    fn data_dir_moves_the_default_database() {
        let c = load(&[("HOUSTON_DATA_DIR", "/var/lib/houston")]).expect("valid");
        assert_eq!(c.database_url, "sqlite:/var/lib/houston/houston.db");
    }
}

//! Every setting Houston reads, read once at start-up into typed values. An
//! invalid value stops start-up with a message naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;

pub use houston_sql::redact_database_url;

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
    /// PostgreSQL only: the owning role's URL, for migrations; Houston itself then
    /// runs as `database_url`'s role, granted no UPDATE or DELETE on the audit log.
    pub migration_database_url: Option<String>,
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    /// GitHub webhooks must carry a valid `X-Hub-Signature-256` made with this
    /// secret; without it the webhook route answers 503.
    pub github_webhook_secret: Option<String>,
    /// Accept unsigned GitHub deliveries when no secret is set: local trials only.
    pub github_webhook_allow_unsigned: bool,
    /// PagerDuty's v3 webhook must carry a `v1=` signature made with this secret (the
    /// webhook subscription's); without it the route answers 503.
    pub pagerduty_webhook_secret: Option<String>,
    /// Any incident tool's signed JSON webhook (`POST /api/v1/webhooks/incidents`)
    /// must carry `X-Houston-Signature: sha256=<hex>` made with this secret; without
    /// it the route answers 503.
    pub incident_webhook_secret: Option<String>,
    /// incident.io's webhook endpoint's signing secret (`whsec_…`,
    /// `HOUSTON_INCIDENT_IO_WEBHOOK_SECRET`); without it that route answers 503.
    pub incident_io_webhook_secret: Option<String>,
    /// The shared secret Opsgenie's outgoing webhook sends in its `X-Houston-Token`
    /// custom header (`HOUSTON_OPSGENIE_WEBHOOK_SECRET`); without it that route
    /// answers 503. Opsgenie does not sign its webhooks.
    pub opsgenie_webhook_secret: Option<String>,
    /// The environment incidents from PagerDuty (which has none) are placed in
    /// (`HOUSTON_INCIDENT_ENVIRONMENT`, production).
    pub incident_environment: app::domain::EnvironmentName,
    /// Alertmanager alerts whose `severity` label is at least this open incidents
    /// (`HOUSTON_INCIDENT_ALERT_SEVERITY`: critical, high, medium or low; unset: none).
    pub incident_alert_severity: Option<app::domain::Severity>,
    /// Posting `houston/gate` commit statuses: GitHub's REST API
    /// (`HOUSTON_GITHUB_API_URL`, https://api.github.com) and a token allowed to write
    /// statuses (`HOUSTON_GITHUB_TOKEN`: a personal or an app installation token).
    /// Without a token no status is posted.
    pub github_api: Option<crate::jobs::github::GithubApi>,
    /// A session ends this long after sign-in (`HOUSTON_SESSION_LIFETIME_HOURS`, 12).
    pub session_lifetime: chrono::Duration,
    /// A session unused this long ends (`HOUSTON_SESSION_IDLE_MINUTES`, 60).
    pub session_idle: chrono::Duration,
    /// How long a client may take to send a request's headers.
    pub header_timeout: std::time::Duration,
    /// How long a request may take to be answered (event streams excepted: their
    /// answer starts at once).
    pub request_timeout: std::time::Duration,
    /// Requests handled at once; more wait for a turn.
    pub max_concurrent_requests: usize,
    /// Open live-update streams in all, and per caller.
    pub max_streams: usize,
    pub max_streams_per_caller: usize,
    /// How often a live-update stream checks that its session still lives.
    pub stream_recheck: std::time::Duration,
    /// Largest request body the API accepts.
    pub max_body_bytes: usize,
    /// Largest body of a batch of metrics or errors (`HOUSTON_MAX_INGEST_BODY_BYTES`,
    /// 8 MiB: 100,000 points with long names fit).
    pub max_ingest_body_bytes: usize,
    /// How long raw samples, error events and resolved alerts are kept
    /// (`HOUSTON_SIGNAL_RETENTION_DAYS`, 8: a same-time-last-week baseline stays possible).
    pub signal_retention: chrono::Duration,
    /// Which alert labels name its service and environment
    /// (`HOUSTON_ALERT_SERVICE_LABEL`, `HOUSTON_ALERT_ENVIRONMENT_LABEL`).
    pub alert_labels: app::domain::AlertLabels,
    /// Where metrics defined with a PromQL template are fetched
    /// (`HOUSTON_PROMETHEUS_URL`, with `HOUSTON_PROMETHEUS_BEARER_TOKEN` or
    /// `HOUSTON_PROMETHEUS_USER` + `HOUSTON_PROMETHEUS_PASSWORD`,
    /// `HOUSTON_PROMETHEUS_TIMEOUT_SECS`).
    pub prometheus: Option<crate::prometheus::PrometheusConfig>,
    /// A site folder on disk (wasm, JS, CSS, public files) that overrides the one
    /// the release binary carries; for development (`cargo leptos watch`).
    pub site_root: Option<PathBuf>,
    /// The address people use to reach Houston; an https URL makes cookies `Secure`.
    pub public_url: Option<String>,
    /// `tracing` filter, e.g. `info` or `houston=debug,tower_http=info`.
    pub log_filter: String,
    /// Lets people read deploys and history without signing in.
    pub allow_anonymous_read: bool,
    /// Whether `houston serve` also runs background jobs (off when separate
    /// `houston worker` processes run them).
    pub run_jobs: bool,
    /// Reverse proxies whose `X-Forwarded-For` and user header are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header a trusted proxy names the signed-in user in, e.g. `X-Forwarded-User`.
    pub proxy_user_header: Option<axum::http::HeaderName>,
    /// A secret the proxy sends in `X-Houston-Proxy-Secret` with every request:
    /// the user header is believed only with it, not from the address alone.
    pub proxy_secret: Option<String>,
    /// Internal networks chat webhooks may reach anyway
    /// (`HOUSTON_WEBHOOK_ALLOWED_NETWORKS`; none by default: public addresses only).
    pub webhook_allowed_networks: Vec<ipnet::IpNet>,
}

impl Config {
    /// Where outbound webhooks may go.
    pub fn outbound_policy(&self) -> app::server::outbound::OutboundPolicy {
        app::server::outbound::OutboundPolicy::new(self.webhook_allowed_networks.clone())
    }

    /// Whether people reach Houston over https (cookies become `Secure`, HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

/// A whole number within `range`, for counts and durations.
fn parse_count(
    var: &'static str,
    raw: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    match raw.parse::<i64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError {
            var,
            message: format!(
                "{raw:?} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        }),
    }
}

fn parse_bool(var: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError {
            var,
            message: format!("{raw:?} is neither true nor false"),
        }),
    }
}

/// `10.0.0.0/8, 192.168.1.10`: networks or single addresses.
fn parse_networks(var: &'static str, raw: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError {
                    var,
                    message: format!("{part:?} is not an address or network such as 10.0.0.0/8"),
                })
        })
        .collect()
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
                            "{:?} is neither sqlite:PATH nor postgres://USER@HOST/DB",
                            redact_database_url(&url)
                        ),
                    });
                }
                url
            }
            None => format!("sqlite:{}", data_dir.join("houston.db").display()),
        };
        let migration_database_url = get("HOUSTON_MIGRATION_DATABASE_URL");
        if let Some(url) = &migration_database_url
            && crate::storage::Backend::of_url(url) != Some(crate::storage::Backend::Postgres)
        {
            return Err(ConfigError {
                var: "HOUSTON_MIGRATION_DATABASE_URL",
                message: format!(
                    "{:?} is not a postgres:// URL (it only applies to PostgreSQL)",
                    redact_database_url(url)
                ),
            });
        }
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
        let max_ingest_body_bytes = match get("HOUSTON_MAX_INGEST_BODY_BYTES") {
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n >= 1024 => n,
                _ => {
                    return Err(ConfigError {
                        var: "HOUSTON_MAX_INGEST_BODY_BYTES",
                        message: format!("{raw:?} is not a byte count of at least 1024"),
                    });
                }
            },
            None => 8 * 1024 * 1024,
        };
        let alert_labels = app::domain::AlertLabels {
            service: get("HOUSTON_ALERT_SERVICE_LABEL").unwrap_or_else(|| "service".into()),
            environment: get("HOUSTON_ALERT_ENVIRONMENT_LABEL")
                .unwrap_or_else(|| "environment".into()),
        };
        let site_root = get("HOUSTON_SITE_ROOT")
            .or_else(|| get("LEPTOS_SITE_ROOT"))
            .filter(|root| !root.trim().is_empty())
            .map(PathBuf::from);
        let public_url = get("HOUSTON_PUBLIC_URL");
        if let Some(url) = &public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError {
                var: "HOUSTON_PUBLIC_URL",
                message: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        let github_api_url =
            get("HOUSTON_GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
        if !(github_api_url.starts_with("https://") || github_api_url.starts_with("http://")) {
            return Err(ConfigError {
                var: "HOUSTON_GITHUB_API_URL",
                message: format!("{github_api_url:?} is not an http:// or https:// URL"),
            });
        }
        let github_api = get("HOUSTON_GITHUB_TOKEN").map(|token| crate::jobs::github::GithubApi {
            base_url: github_api_url.trim_end_matches('/').to_owned(),
            token,
        });
        let allow_anonymous_read = match get("HOUSTON_ALLOW_ANONYMOUS_READ") {
            Some(raw) => parse_bool("HOUSTON_ALLOW_ANONYMOUS_READ", &raw)?,
            None => false,
        };
        let run_jobs = match get("HOUSTON_RUN_JOBS") {
            Some(raw) => parse_bool("HOUSTON_RUN_JOBS", &raw)?,
            None => true,
        };
        let github_webhook_allow_unsigned = match get("HOUSTON_GITHUB_WEBHOOK_ALLOW_UNSIGNED") {
            Some(raw) => parse_bool("HOUSTON_GITHUB_WEBHOOK_ALLOW_UNSIGNED", &raw)?,
            None => false,
        };
        let count = |var: &'static str, default: i64, range| match get(var) {
            Some(raw) => parse_count(var, &raw, range),
            None => Ok(default),
        };
        let session_lifetime =
            chrono::Duration::hours(count("HOUSTON_SESSION_LIFETIME_HOURS", 12, 1..=24 * 30)?);
        let session_idle =
            chrono::Duration::minutes(count("HOUSTON_SESSION_IDLE_MINUTES", 60, 5..=24 * 60 * 30)?);
        let prometheus = match get("HOUSTON_PROMETHEUS_URL") {
            None => None,
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError {
                        var: "HOUSTON_PROMETHEUS_URL",
                        message: format!("{url:?} is not an http:// or https:// URL"),
                    });
                }
                let auth = match (
                    get("HOUSTON_PROMETHEUS_BEARER_TOKEN"),
                    get("HOUSTON_PROMETHEUS_USER"),
                    get("HOUSTON_PROMETHEUS_PASSWORD"),
                ) {
                    (None, None, None) => None,
                    (Some(token), None, None) => {
                        Some(crate::prometheus::PrometheusAuth::Bearer(token))
                    }
                    (None, Some(user), Some(password)) => {
                        Some(crate::prometheus::PrometheusAuth::Basic { user, password })
                    }
                    _ => {
                        return Err(ConfigError {
                            var: "HOUSTON_PROMETHEUS_BEARER_TOKEN",
                            message: "set either a bearer token or HOUSTON_PROMETHEUS_USER and HOUSTON_PROMETHEUS_PASSWORD, not both".into(),
                        });
                    }
                };
                Some(crate::prometheus::PrometheusConfig {
                    url,
                    auth,
                    timeout: std::time::Duration::from_secs(
                        count("HOUSTON_PROMETHEUS_TIMEOUT_SECS", 10, 1..=120)?.unsigned_abs(),
                    ),
                    attempts: 3,
                })
            }
        };
        let signal_retention =
            chrono::Duration::days(count("HOUSTON_SIGNAL_RETENTION_DAYS", 8, 1..=3650)?);
        let secs = |n: i64| std::time::Duration::from_secs(n.unsigned_abs());
        let header_timeout = secs(count("HOUSTON_HEADER_TIMEOUT_SECS", 10, 1..=300)?);
        let request_timeout = secs(count("HOUSTON_REQUEST_TIMEOUT_SECS", 30, 1..=3600)?);
        let size = |n: i64| usize::try_from(n).unwrap_or(1);
        let max_concurrent_requests =
            size(count("HOUSTON_MAX_CONCURRENT_REQUESTS", 512, 1..=100_000)?);
        let max_streams = size(count("HOUSTON_MAX_STREAMS", 1000, 1..=100_000)?);
        let max_streams_per_caller = size(count("HOUSTON_MAX_STREAMS_PER_CALLER", 16, 1..=1000)?);
        let trusted_proxies = match get("HOUSTON_TRUSTED_PROXIES") {
            Some(raw) => parse_networks("HOUSTON_TRUSTED_PROXIES", &raw)?,
            None => Vec::new(),
        };
        let webhook_allowed_networks = match get("HOUSTON_WEBHOOK_ALLOWED_NETWORKS") {
            Some(raw) => parse_networks("HOUSTON_WEBHOOK_ALLOWED_NETWORKS", &raw)?,
            None => Vec::new(),
        };
        let proxy_user_header = match get("HOUSTON_PROXY_USER_HEADER") {
            Some(raw) => Some(
                raw.parse::<axum::http::HeaderName>()
                    .map_err(|_| ConfigError {
                        var: "HOUSTON_PROXY_USER_HEADER",
                        message: format!("{raw:?} is not a header name"),
                    })?,
            ),
            None => None,
        };
        let proxy_secret = get("HOUSTON_PROXY_SECRET");
        if let Some(secret) = &proxy_secret {
            if secret.len() < 16 {
                return Err(ConfigError {
                    var: "HOUSTON_PROXY_SECRET",
                    message: "use at least 16 random characters".into(),
                });
            }
            if proxy_user_header.is_none() {
                return Err(ConfigError {
                    var: "HOUSTON_PROXY_SECRET",
                    message: "it only means something with HOUSTON_PROXY_USER_HEADER".into(),
                });
            }
        }
        if proxy_user_header.is_some() && trusted_proxies.is_empty() {
            return Err(ConfigError {
                var: "HOUSTON_PROXY_USER_HEADER",
                message: "set HOUSTON_TRUSTED_PROXIES too: the header is believed only from those addresses".into(),
            });
        }
        let incident_environment = app::domain::EnvironmentName::parse(
            &get("HOUSTON_INCIDENT_ENVIRONMENT").unwrap_or_else(|| "production".into()),
        )
        .map_err(|e| ConfigError {
            var: "HOUSTON_INCIDENT_ENVIRONMENT",
            message: e.to_string(),
        })?;
        let incident_alert_severity = get("HOUSTON_INCIDENT_ALERT_SEVERITY")
            .map(|raw| {
                app::domain::Severity::parse(&raw).ok_or(ConfigError {
                    var: "HOUSTON_INCIDENT_ALERT_SEVERITY",
                    message: format!("{raw:?} is not critical, high, medium or low"),
                })
            })
            .transpose()?;
        Ok(Config {
            allow_anonymous_read,
            run_jobs,
            trusted_proxies,
            proxy_user_header,
            proxy_secret,
            webhook_allowed_networks,
            database_url,
            migration_database_url,
            data_dir,
            bind,
            github_webhook_secret: get("HOUSTON_GITHUB_WEBHOOK_SECRET"),
            github_webhook_allow_unsigned,
            pagerduty_webhook_secret: get("HOUSTON_PAGERDUTY_WEBHOOK_SECRET"),
            incident_webhook_secret: get("HOUSTON_INCIDENT_WEBHOOK_SECRET"),
            incident_io_webhook_secret: get("HOUSTON_INCIDENT_IO_WEBHOOK_SECRET"),
            opsgenie_webhook_secret: get("HOUSTON_OPSGENIE_WEBHOOK_SECRET"),
            incident_environment,
            incident_alert_severity,
            github_api,
            session_lifetime,
            session_idle,
            header_timeout,
            request_timeout,
            max_concurrent_requests,
            max_streams,
            max_streams_per_caller,
            stream_recheck: crate::events::SESSION_RECHECK,
            max_body_bytes,
            max_ingest_body_bytes,
            signal_retention,
            alert_labels,
            prometheus,
            site_root,
            public_url,
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
            ("HOUSTON_ALLOW_ANONYMOUS_READ", "maybe"),
            ("HOUSTON_GITHUB_WEBHOOK_ALLOW_UNSIGNED", "perhaps"),
            ("HOUSTON_SESSION_IDLE_MINUTES", "1"),
            ("HOUSTON_PROXY_SECRET", "short"),
            ("HOUSTON_SESSION_LIFETIME_HOURS", "forever"),
            ("HOUSTON_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("HOUSTON_PROXY_USER_HEADER", "X-Forwarded-User"),
            ("HOUSTON_PUBLIC_URL", "houston.example"),
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
    fn proxy_settings_parse_networks_and_single_addresses() {
        let c = load(&[
            ("HOUSTON_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.10"),
            ("HOUSTON_PROXY_USER_HEADER", "X-Forwarded-User"),
            ("HOUSTON_ALLOW_ANONYMOUS_READ", "yes"),
            ("HOUSTON_PUBLIC_URL", "https://houston.example"),
        ])
        .expect("valid");
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(
            c.trusted_proxies[1].contains(&"192.168.1.10".parse::<std::net::IpAddr>().expect("ip"))
        );
        assert_eq!(
            c.proxy_user_header.as_ref().map(|h| h.as_str()),
            Some("x-forwarded-user")
        );
        assert!(c.allow_anonymous_read);
        assert!(c.is_https());
        assert!(!load(&[]).expect("defaults").allow_anonymous_read);
    }

    #[test]
    fn data_dir_moves_the_default_database() {
        let c = load(&[("HOUSTON_DATA_DIR", "/var/lib/houston")]).expect("valid");
        assert_eq!(c.database_url, "sqlite:/var/lib/houston/houston.db");
    }

    #[test]
    fn a_refused_database_url_keeps_its_password_out_of_the_message() {
        let err =
            load(&[("HOUSTON_DATABASE_URL", "mysql://root:hunter2@db/x")]).expect_err("invalid");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

//! The Prometheus source: `query_range` over HTTP with a timeout, bounded retries
//! and an explicit *unavailable* answer when Prometheus is down, slow or refuses.

use app::domain::{TimeWindow, parse_query_range, query_step};
use app::server::sources::{Fetched, SampleSource};
use std::time::Duration;

/// How Houston reaches Prometheus (`HOUSTON_PROMETHEUS_URL`, …).
#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    /// The server's base address, e.g. `http://prometheus:9090`.
    pub url: String,
    pub auth: Option<PrometheusAuth>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Attempts per query (the first included).
    pub attempts: u32,
}

/// Credentials sent with each query.
#[derive(Clone)]
pub enum PrometheusAuth {
    Bearer(String),
    Basic { user: String, password: String },
}

impl std::fmt::Debug for PrometheusAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrometheusAuth::Bearer(_) => f.write_str("Bearer(…)"),
            PrometheusAuth::Basic { user, .. } => write!(f, "Basic({user}, …)"),
        }
    }
}

/// A Prometheus server queried over HTTP.
pub struct Prometheus {
    client: reqwest::Client,
    config: PrometheusConfig,
}

/// Why one attempt failed, and whether another may help.
enum Failure {
    /// Down, slow, overloaded: try again.
    Transient(String),
    /// The query or the answer is wrong: another attempt gets the same.
    Final(String),
}

impl Prometheus {
    pub fn new(config: PrometheusConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("houston/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, config })
    }

    async fn attempt(
        &self,
        query: &str,
        window: &TimeWindow,
        step: i64,
    ) -> Result<Fetched, Failure> {
        let url = format!(
            "{}/api/v1/query_range",
            self.config.url.trim_end_matches('/')
        );
        let seconds =
            |t: chrono::DateTime<chrono::Utc>| format!("{:.3}", t.timestamp_micros() as f64 / 1e6);
        let form = [
            ("query", query.to_owned()),
            ("start", seconds(window.from)),
            ("end", seconds(window.to)),
            ("step", step.to_string()),
            // Prometheus stops evaluating at this; our own timeout covers the transfer.
            (
                "timeout",
                format!("{}s", self.config.timeout.as_secs().max(1)),
            ),
        ];
        let mut request = self.client.post(&url).form(&form);
        request = match &self.config.auth {
            None => request,
            Some(PrometheusAuth::Bearer(token)) => request.bearer_auth(token),
            Some(PrometheusAuth::Basic { user, password }) => {
                request.basic_auth(user, Some(password))
            }
        };
        let response = request.send().await.map_err(|e| {
            Failure::Transient(if e.is_timeout() {
                format!("Prometheus did not answer within {:?}", self.config.timeout)
            } else {
                format!("Prometheus could not be reached: {e}")
            })
        })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| Failure::Transient(format!("Prometheus' answer was cut off: {e}")))?;
        if status.is_success() {
            return parse_query_range(&body)
                .map(Fetched::Data)
                .map_err(Failure::Final);
        }
        // Prometheus explains 4xx answers in its JSON; 5xx and 429 may pass.
        let why = parse_query_range(&body)
            .err()
            .unwrap_or_else(|| format!("Prometheus answered {status}"));
        if status.is_server_error() || status.as_u16() == 429 {
            Err(Failure::Transient(format!("{why} (HTTP {status})")))
        } else {
            Err(Failure::Final(format!("{why} (HTTP {status})")))
        }
    }
}

#[async_trait::async_trait]
impl SampleSource for Prometheus {
    async fn query_range(&self, query: &str, window: &TimeWindow) -> Fetched {
        let step = query_step(window);
        let mut last = String::new();
        for attempt in 1..=self.config.attempts.max(1) {
            match self.attempt(query, window, step).await {
                Ok(fetched) => return fetched,
                Err(Failure::Final(why)) => {
                    tracing::warn!(%why, query, "Prometheus refused a query");
                    return Fetched::Unavailable(why);
                }
                Err(Failure::Transient(why)) => {
                    tracing::warn!(%why, attempt, "Prometheus query failed");
                    last = why;
                    if attempt < self.config.attempts {
                        tokio::time::sleep(Duration::from_millis(200 << (attempt - 1))).await;
                    }
                }
            }
        }
        Fetched::Unavailable(last)
    }
}

//! Delivers the messages the judge queued (one per webhook URL, written with the look
//! that called for them): claims due ones, posts them side by side with a timeout, and
//! records each attempt — delivered, due again after a growing delay, or failed after
//! `MAX_DELIVERY_ATTEMPTS`. It runs in its own loop, beside the job runner, so a slow
//! or dead chat server never holds up the judge.

use app::domain::{
    Headline, MAX_DELIVERY_ATTEMPTS, MessageAbout, Notice, Notification, slack_message,
};
use app::server::Store;
use app::server::outbound::OutboundPolicy;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// How long a claim holds a message (longer than one attempt can take).
pub const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Messages claimed per round, posted side by side.
pub const BATCH: u32 = 10;
/// How long one post may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle deliverer looks for due messages.
pub const EVERY: Duration = Duration::from_secs(2);

/// Posts messages; `public_url` makes the link to the deploy page.
#[derive(Clone)]
pub struct Deliverer {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    public_url: Option<String>,
    policy: Arc<OutboundPolicy>,
}

/// Resolves a webhook's host and keeps only the addresses `policy` permits; the
/// client connects to exactly those, so a name cannot resolve to a public address
/// when checked and to an internal one when connected (DNS rebinding).
struct CheckedResolver {
    policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<std::net::SocketAddr> = found
                .into_iter()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if permitted.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    policy.refusal(&host).into();
                return Err(refused);
            }
            let addrs: reqwest::dns::Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn Store>,
        public_url: Option<String>,
        policy: OutboundPolicy,
    ) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT.min(Duration::from_secs(5)))
            // A webhook answers where it is; following redirects would post the
            // message to wherever a compromised endpoint points.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the address check.
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: policy.clone(),
            }))
            .user_agent(concat!("houston/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            client,
            public_url,
            policy,
        })
    }

    /// One round at `now`: every due message (up to `BATCH`) attempted. Returns how
    /// many.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let due = self
            .store
            .claim_due_notifications(now, LEASE, BATCH)
            .await?;
        let attempts = due.iter().map(|n| self.attempt(n, now));
        for result in futures_util::future::join_all(attempts).await {
            // The claim lapses with its lease and the message is tried again.
            if let Err(e) = result {
                tracing::warn!(error = %e, "recording a delivery failed");
            }
        }
        Ok(due.len())
    }

    async fn attempt(&self, message: &Notification, now: DateTime<Utc>) -> anyhow::Result<()> {
        let outcome = self.post(message).await;
        let retry_at = match &outcome {
            Ok(()) => None,
            Err(error) => {
                tracing::warn!(
                    notification = message.id,
                    attempts = message.attempts,
                    %error,
                    "a verdict message was not delivered"
                );
                (message.attempts < MAX_DELIVERY_ATTEMPTS)
                    .then(|| now + super::retry_delay(message.attempts))
            }
        };
        self.store
            .record_delivery(message.id, outcome, retry_at, now)
            .await?;
        Ok(())
    }

    async fn post(&self, message: &Notification) -> Result<(), String> {
        let body = match &message.about {
            MessageAbout::Lock { text } => {
                let link = self
                    .public_url
                    .as_deref()
                    .map(|url| format!(" <{}/locks|Locks>", url.trim_end_matches('/')))
                    .unwrap_or_default();
                serde_json::json!({ "text": format!("{text}{link}") })
            }
            MessageAbout::Verdict {
                deploy_id,
                kind,
                state,
            } => self.verdict_message(*deploy_id, *kind, *state).await?,
        };
        // A literal address never reaches the resolver: it is checked here.
        self.policy
            .check_url(&message.url)
            .map_err(|why| format!("refused: {why}"))?;
        // Errors name no URL: a webhook's path is its secret.
        let reply = self
            .client
            .post(&message.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| with_causes(&e.without_url()))?;
        // Only the status line: the target's answer is never stored or shown (it
        // would make the message log a window into whatever the URL reaches).
        let status = reply.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {status}"))
        }
    }

    /// Slack's JSON for a verdict, with the deploy's headline as it is now.
    async fn verdict_message(
        &self,
        deploy_id: i64,
        kind: app::domain::NoticeKind,
        state: app::domain::VerdictState,
    ) -> Result<serde_json::Value, String> {
        let deploy = self
            .store
            .get_deploy(deploy_id)
            .await
            .map_err(|e| format!("reading the deploy: {e}"))?
            .deploy;
        let headline = deploy
            .verdict
            .as_ref()
            .map_or_else(Headline::default, |v| v.headline.clone());
        let link = self
            .public_url
            .as_deref()
            .map(|url| format!("{}/deploys/{}", url.trim_end_matches('/'), deploy.id));
        let notice = Notice { kind, state };
        Ok(slack_message(&deploy, notice, &headline, link.as_deref()))
    }

    /// Delivers until `shutdown` completes; database errors are logged and retried.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = match self.deliver_due(Utc::now()).await {
                Ok(n) if n == BATCH as usize => Duration::ZERO,
                Ok(_) => EVERY,
                Err(e) => {
                    tracing::error!(error = %e, "the message deliverer could not reach the database");
                    EVERY
                }
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// An error and its causes in one line ("error sending request: … internal
/// address …"): reqwest's own text names only the outermost.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut said = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !said.contains(&text) {
            said.push_str(": ");
            said.push_str(&text);
        }
        cause = inner.source();
    }
    said
}

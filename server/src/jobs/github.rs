//! Merges wait while a place is locked: for each open pull request of a linked
//! repository (`[[repository]]` in the configuration file; learnt from GitHub's
//! `pull_request` webhook), the `houston/gate` commit status on its head commit says
//! `failure` with the lock's reason while the repository's place is locked or frozen,
//! and `success` when it opens again. A periodic job compares what each pull request
//! should say with what was last posted and posts only the differences, so a lock,
//! an unlock, an expiry or a window's turn is re-posted within one period.

use app::domain::{LockScope, REPOSITORIES_SETTING, RepositoryLink};
use app::server::Store;
use chrono::{DateTime, Utc};

/// The status context branch protection requires.
pub const CONTEXT: &str = "houston/gate";

/// GitHub's REST API: where, and the token that may write commit statuses.
#[derive(Clone)]
pub struct GithubApi {
    /// `https://api.github.com`, or a GitHub Enterprise / test server's API root.
    pub base_url: String,
    pub token: String,
}

impl std::fmt::Debug for GithubApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApi")
            .field("base_url", &self.base_url)
            .field("token", &"…")
            .finish()
    }
}

/// What a place's pull requests should say now: `failure` with why, or `success`.
/// Why is neutral ("production is locked: see Houston") unless the link shares
/// reasons; shared, it is one line of at most 140 characters, control characters
/// taken out.
pub fn status_for(
    standing: &app::server::gate::InForce,
    link: &RepositoryLink,
) -> (&'static str, String) {
    let place = LockScope {
        environment: Some(link.environment.clone()),
        service: Some(link.service.clone()),
    };
    let lock = standing.locks.iter().find(|l| l.scope().contains(&place));
    let window = standing
        .windows
        .iter()
        .find(|(w, _)| w.scope.contains(&place));
    let said = match (lock, window) {
        (Some(l), _) => l.said(),
        (None, Some((w, _))) => format!(
            "{}: {}",
            w.scope.describe(),
            app::domain::freeze_said(&w.name, w.note.as_deref())
        ),
        (None, None) => {
            return (
                "success",
                format!(
                    "{} in {} is open for deploys",
                    link.service, link.environment
                ),
            );
        }
    };
    let said = if link.share_reasons {
        said.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
    } else {
        let what = match (lock, window) {
            (Some(l), _) => format!("{} is locked", l.scope().describe()),
            _ => format!("{} is frozen", place.describe()),
        };
        format!("{what}: see Houston")
    };
    // GitHub keeps at most 140 characters of a status' description.
    let mut description: String = said.chars().take(140).collect();
    if description.len() < said.len() {
        description = said.chars().take(139).collect::<String>() + "…";
    }
    ("failure", description)
}

/// The repositories linked in the configuration.
pub async fn links(store: &dyn Store) -> anyhow::Result<Vec<RepositoryLink>> {
    Ok(match store.get_setting(REPOSITORIES_SETTING).await? {
        None => Vec::new(),
        Some(json) => serde_json::from_str(&json)?,
    })
}

/// One pass: every open pull request of every linked repository whose status
/// should change gets it posted. Returns how many were posted.
pub async fn run(
    store: &dyn Store,
    api: &GithubApi,
    client: &reqwest::Client,
    public_url: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let links = links(store).await?;
    if links.is_empty() {
        return Ok(0);
    }
    let standing = app::server::gate::in_force(store, now).await?;
    let mut posted = 0;
    let mut failures = Vec::new();
    for link in &links {
        let (state, description) = status_for(&standing, link);
        for pull in store.open_pull_requests(&link.repository).await? {
            let same = pull.posted_state.as_deref() == Some(state)
                && pull.posted_description.as_deref() == Some(description.as_str());
            if same {
                continue;
            }
            let url = format!(
                "{}/repos/{}/statuses/{}",
                api.base_url, link.repository, pull.head_sha
            );
            let mut body = serde_json::json!({
                "state": state,
                "context": CONTEXT,
                "description": description,
            });
            if let Some(site) = public_url {
                body["target_url"] = format!("{}/locks", site.trim_end_matches('/')).into();
            }
            let answer = client
                .post(&url)
                .bearer_auth(&api.token)
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .header(reqwest::header::USER_AGENT, "houston")
                .json(&body)
                .send()
                .await;
            match answer {
                Ok(response) if response.status().is_success() => {
                    store
                        .record_status_posted(
                            &pull.repository,
                            pull.number,
                            &pull.head_sha,
                            state,
                            &description,
                            now,
                        )
                        .await?;
                    posted += 1;
                    tracing::info!(repository = %pull.repository, number = pull.number, state, "commit status posted");
                }
                Ok(response) => failures.push(format!(
                    "{}#{}: GitHub answered {}",
                    pull.repository,
                    pull.number,
                    response.status()
                )),
                Err(e) => failures.push(format!("{}#{}: {e}", pull.repository, pull.number)),
            }
        }
    }
    // The rest were posted; the failed ones are tried again at the next pass.
    if !failures.is_empty() {
        anyhow::bail!("commit statuses not posted: {}", failures.join("; "));
    }
    Ok(posted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::{EnvironmentName, Lock, ServiceName};

    fn standing(reason: &str) -> app::server::gate::InForce {
        app::server::gate::InForce {
            locks: vec![Lock {
                id: 1,
                environment: Some(EnvironmentName::parse("production").expect("valid")),
                service: None,
                reason: reason.into(),
                locked_by: "user:lena".into(),
                locked_at: chrono::Utc::now(),
                expires_at: None,
                unlocked_by: None,
                unlocked_at: None,
                unlock_note: None,
                active: true,
            }],
            windows: Vec::new(),
        }
    }

    fn link(share_reasons: bool) -> RepositoryLink {
        RepositoryLink {
            repository: "acme/checkout".into(),
            service: ServiceName::parse("checkout").expect("valid"),
            environment: EnvironmentName::parse("production").expect("valid"),
            share_reasons,
        }
    }

    #[test]
    fn statuses_name_no_reason_unless_the_link_shares_them() {
        let incident = standing("INC-991: customer jane.doe@example.com double charged");
        assert_eq!(
            status_for(&incident, &link(false)),
            ("failure", "production is locked: see Houston".to_owned())
        );
        let (_, shared) = status_for(&incident, &link(true));
        assert!(shared.contains("INC-991"), "{shared}");
        let long = standing(&"x".repeat(400));
        let (_, cut) = status_for(&long, &link(true));
        assert_eq!(cut.chars().count(), 140);
        assert!(cut.ends_with('…'));
    }
}

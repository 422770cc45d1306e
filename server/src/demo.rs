//! `houston demo`: fills the store with a month of realistic deploys so a new
//! installation has something to show. Seeded, and idempotent through external ids.

use app::domain::{
    Commit, DeploySource, DeployStatus, EnvironmentName, NewDeploy, ServiceName,
    to_stored_precision,
};
use app::ssr::Store;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SERVICES: [(&str, &str); 7] = [
    ("checkout", "https://github.com/acme/checkout"),
    ("payments", "https://github.com/acme/payments"),
    ("search", "https://github.com/acme/search"),
    ("accounts", "https://github.com/acme/accounts"),
    ("notifications", "https://github.com/acme/notifications"),
    ("inventory", "https://github.com/acme/inventory"),
    ("api-gateway", "https://github.com/acme/api-gateway"),
];

/// Pipeline stages in order, with how long after the first stage each one deploys.
const STAGES: [(&str, i64); 4] = [
    ("dev", 0),
    ("staging", 45),
    ("canary", 180),
    ("production", 300),
];

const AUTHORS: [&str; 8] = [
    "amara.okafor",
    "li.wei",
    "sofia.rossi",
    "jonas.berg",
    "priya.nair",
    "mateo.garcia",
    "hana.sato",
    "noah.cohen",
];

const SUBJECTS: [&str; 16] = [
    "Fix race in cart total recalculation",
    "Add retry with jitter to the ledger client",
    "Bump tokio to 1.48",
    "Cache currency rates for 5 minutes",
    "Remove the legacy v1 endpoint",
    "Log request ids on upstream timeouts",
    "Tune connection pool size for peak traffic",
    "Add feature flag for one-click reorder",
    "Handle empty search results without a 500",
    "Paginate order history",
    "Migrate sessions table to new index",
    "Reduce p95 latency of price lookup",
    "Validate postcode before address lookup",
    "Add metrics for queue depth",
    "Drop unused dependency on left-pad-rs",
    "Translate checkout errors to German and French",
];

/// Builds the demo deploys, newest last, relative to `now`.
pub fn demo_deploys(days: u32, seed: u64, now: DateTime<Utc>) -> Vec<NewDeploy> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let start = now - Duration::days(i64::from(days));
    for (service_index, (service, repo)) in SERVICES.iter().enumerate() {
        let mut release = 0u32;
        let mut at = start + Duration::minutes(rng.random_range(0..600));
        // Some teams tag releases, others deploy commit SHAs.
        let uses_tags = service_index % 3 != 2;
        loop {
            at += Duration::minutes(rng.random_range(6 * 60..36 * 60));
            if at >= now {
                break;
            }
            release += 1;
            let author = AUTHORS[rng.random_range(0..AUTHORS.len())];
            let commit_count = rng.random_range(1..=6);
            let commits: Vec<Commit> = (0..commit_count)
                .map(|i| Commit {
                    sha: hex::encode(rng.random::<[u8; 20]>()),
                    message: SUBJECTS[rng.random_range(0..SUBJECTS.len())].to_owned(),
                    author: Some(
                        if i == 0 {
                            author
                        } else {
                            AUTHORS[rng.random_range(0..AUTHORS.len())]
                        }
                        .to_owned(),
                    ),
                    committed_at: Some(to_stored_precision(
                        at - Duration::minutes(rng.random_range(20..2000)),
                    )),
                })
                .collect();
            let version = if uses_tags {
                format!(
                    "v{}.{}.{}",
                    2 + release / 40,
                    release % 40,
                    rng.random_range(0..3)
                )
            } else {
                commits[0].sha.clone()
            };
            for (stage, delay) in STAGES {
                let started_at = to_stored_precision(
                    at + Duration::minutes(delay) + Duration::seconds(rng.random_range(0..600)),
                );
                if started_at >= now {
                    break;
                }
                let runtime = Duration::seconds(rng.random_range(60..900));
                let roll: u32 = rng.random_range(0..100);
                let status = if started_at + runtime > now {
                    DeployStatus::InProgress
                } else if roll < 7 {
                    DeployStatus::Failed
                } else if roll < 10 {
                    DeployStatus::RolledBack
                } else {
                    DeployStatus::Succeeded
                };
                out.push(NewDeploy {
                    service: ServiceName::parse(service)
                        .unwrap_or_else(|_| unreachable!("demo names are valid")),
                    environment: EnvironmentName::parse(stage)
                        .unwrap_or_else(|_| unreachable!("demo names are valid")),
                    version: version.clone(),
                    previous_version: None,
                    author: Some(author.to_owned()),
                    description: Some(commits[0].message.clone()),
                    ci_url: Some(format!(
                        "https://ci.acme.example/{service}/pipelines/{}",
                        1000 + release
                    )),
                    repository_url: Some((*repo).to_owned()),
                    status,
                    started_at,
                    finished_at: status.is_finished().then_some(started_at + runtime),
                    source: DeploySource::Demo,
                    external_id: Some(format!("demo:{service}:{stage}:{release}")),
                    commits: commits.clone(),
                });
                // A failed stage stops the release from going further.
                if status != DeployStatus::Succeeded {
                    break;
                }
            }
        }
    }
    out.sort_by_key(|d| d.started_at);
    out
}

/// Stores the demo deploys; returns how many were new.
pub async fn load(store: &dyn Store, days: u32, seed: u64) -> anyhow::Result<usize> {
    let mut created = 0;
    let demo_actor = app::domain::Actor::new("cli:demo", None);
    for deploy in demo_deploys(days, seed, Utc::now()) {
        if store.register_deploy(&deploy, &demo_actor).await?.created {
            created += 1;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn demo_covers_every_service_and_stage_over_the_period() {
        let now = Utc::now();
        let deploys = demo_deploys(30, 7, now);
        let services: HashSet<_> = deploys.iter().map(|d| d.service.as_str()).collect();
        let envs: HashSet<_> = deploys.iter().map(|d| d.environment.as_str()).collect();
        assert!(services.len() >= 6);
        assert_eq!(envs.len(), 4);
        assert!(
            deploys
                .iter()
                .all(|d| d.started_at < now && d.started_at > now - Duration::days(30))
        );
        assert!(deploys.iter().any(|d| d.status == DeployStatus::Failed));
        assert!(deploys.iter().all(|d| !d.commits.is_empty()));
        let ids: HashSet<_> = deploys.iter().map(|d| d.external_id.clone()).collect();
        assert_eq!(ids.len(), deploys.len(), "external ids are unique");
    }

    #[test]
    fn same_seed_same_demo() {
        let now = Utc::now();
        assert_eq!(demo_deploys(30, 1, now), demo_deploys(30, 1, now));
    }
}

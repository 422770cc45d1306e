//! `houston demo`: fills the store with a month of realistic deploys so a new
//! installation has something to show. Seeded, and idempotent through external ids.

use app::domain::{
    CommitRequest, DeployRequest, DeploySource, DeployStatus, NewDeploy, to_stored_precision,
};
use app::ssr::Store;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
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

/// A demo deploy goes through the same parsing as every other way in.
fn parse_demo(request: DeployRequest, now: DateTime<Utc>) -> NewDeploy {
    request
        .parse_as(now, DeploySource::Demo)
        .unwrap_or_else(|e| unreachable!("demo deploys are valid: {e:?}"))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One commit by `author`, written up to a day and a half before `at`.
fn commit(rng: &mut StdRng, author: &str, at: DateTime<Utc>) -> CommitRequest {
    CommitRequest {
        sha: Some(hex::encode(rng.random::<[u8; 20]>())),
        message: Some(SUBJECTS[rng.random_range(0..SUBJECTS.len())].to_owned()),
        author: Some(author.to_owned()),
        committed_at: Some(rfc3339(at - Duration::minutes(rng.random_range(20..2000)))),
    }
}

/// How a stage ended: still running, or failed / rolled back `failed` and
/// `rolled_back` times in a hundred, else succeeded.
fn roll_status(rng: &mut StdRng, running: bool, failed: u32, rolled_back: u32) -> DeployStatus {
    let roll: u32 = rng.random_range(0..100);
    if running {
        DeployStatus::InProgress
    } else if roll < failed {
        DeployStatus::Failed
    } else if roll < failed + rolled_back {
        DeployStatus::RolledBack
    } else {
        DeployStatus::Succeeded
    }
}

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
            let commits: Vec<CommitRequest> = (0..commit_count)
                .map(|i| {
                    let by = if i == 0 {
                        author
                    } else {
                        AUTHORS[rng.random_range(0..AUTHORS.len())]
                    };
                    commit(&mut rng, by, at)
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
                commits[0].sha.clone().unwrap_or_default()
            };
            for (stage, delay) in STAGES {
                let started_at = to_stored_precision(
                    at + Duration::minutes(delay) + Duration::seconds(rng.random_range(0..600)),
                );
                if started_at >= now {
                    break;
                }
                let runtime = Duration::seconds(rng.random_range(60..900));
                let status = roll_status(&mut rng, started_at + runtime > now, 7, 3);
                out.push(parse_demo(
                    DeployRequest {
                        service: Some((*service).to_owned()),
                        environment: Some(stage.to_owned()),
                        version: Some(version.clone()),
                        author: Some(author.to_owned()),
                        description: commits[0].message.clone(),
                        ci_url: Some(format!(
                            "https://ci.acme.example/{service}/pipelines/{}",
                            1000 + release
                        )),
                        repository_url: Some((*repo).to_owned()),
                        status: Some(status.as_str().to_owned()),
                        started_at: Some(rfc3339(started_at)),
                        finished_at: status.is_finished().then(|| rfc3339(started_at + runtime)),
                        external_id: Some(format!("demo:{service}:{stage}:{release}")),
                        commits: commits.clone(),
                        ..Default::default()
                    },
                    now,
                ));
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

/// Words service names are made of beyond the first seven, at scale.
const SERVICE_WORDS: [&str; 24] = [
    "billing",
    "catalog",
    "shipping",
    "pricing",
    "reviews",
    "ledger",
    "fraud",
    "identity",
    "media",
    "export",
    "import",
    "reports",
    "tax",
    "loyalty",
    "returns",
    "warehouse",
    "ads",
    "mail",
    "sms",
    "auth",
    "profile",
    "cart",
    "quotes",
    "refunds",
];

/// `n` realistic deploys for trying Houston at size and for benchmarks: more
/// services as `n` grows (7 up to 250), spread over a period that grows with it
/// (30 days up to two years), releases going through the four stages until one
/// fails, 1–3 commits each. Generated lazily, oldest first; the same seed gives
/// the same deploys, and their external ids make loading them twice add nothing.
pub fn scaled_deploys(n: usize, seed: u64, now: DateTime<Utc>) -> impl Iterator<Item = NewDeploy> {
    let mut rng = StdRng::seed_from_u64(seed);
    let services: Vec<(String, String)> = (0..(n / 4000).clamp(SERVICES.len(), 250))
        .map(|i| match SERVICES.get(i) {
            Some((name, repo)) => ((*name).to_owned(), (*repo).to_owned()),
            None => {
                let word = SERVICE_WORDS[i % SERVICE_WORDS.len()];
                let name = format!("{word}-{}", i / SERVICE_WORDS.len());
                let repo = format!("https://github.com/acme/{name}");
                (name, repo)
            }
        })
        .collect();
    let days = i64::try_from(n / 1500).unwrap_or(730).clamp(30, 730);
    let start = now - Duration::days(days);
    // About three deploys a release: a release every `step` seconds fills the period.
    let step = (days * 86_400 * 3) as f64 / n.max(1) as f64;
    let mut releases: Vec<u32> = vec![0; services.len()];
    let mut last_good: std::collections::HashMap<(usize, usize), String> = Default::default();
    let mut made = 0usize;
    let mut release = 0u64;
    std::iter::from_fn(move || {
        let mut batch = Vec::new();
        while batch.is_empty() && made < n {
            let at = start
                + Duration::milliseconds((release as f64 * step * 1000.0) as i64)
                + Duration::seconds(rng.random_range(0..60));
            release += 1;
            if at >= now - Duration::minutes(10) {
                break;
            }
            let service = rng.random_range(0..services.len());
            releases[service] += 1;
            let number = releases[service];
            let author = AUTHORS[rng.random_range(0..AUTHORS.len())];
            let commits: Vec<CommitRequest> = (0..rng.random_range(1..=3))
                .map(|_| commit(&mut rng, author, at))
                .collect();
            let version = format!(
                "v{}.{}.{}",
                1 + number / 100,
                number % 100,
                rng.random_range(0..3)
            );
            let (name, repo) = &services[service];
            for (stage_index, (stage, delay)) in STAGES.iter().enumerate() {
                if made + batch.len() >= n {
                    break;
                }
                let started_at = to_stored_precision(at + Duration::minutes(*delay));
                let runtime = Duration::seconds(rng.random_range(60..900));
                let status = roll_status(&mut rng, started_at + runtime > now, 5, 2);
                let place = (service, stage_index);
                batch.push(parse_demo(
                    DeployRequest {
                        service: Some(name.clone()),
                        environment: Some((*stage).to_owned()),
                        version: Some(version.clone()),
                        previous_version: last_good.get(&place).cloned(),
                        author: Some(author.to_owned()),
                        description: commits[0].message.clone(),
                        ci_url: Some(format!("https://ci.acme.example/{name}/pipelines/{number}")),
                        repository_url: Some(repo.clone()),
                        status: Some(status.as_str().to_owned()),
                        started_at: Some(rfc3339(started_at)),
                        finished_at: status.is_finished().then(|| rfc3339(started_at + runtime)),
                        external_id: Some(format!("demo:{seed}:{release}:{stage}")),
                        commits: commits.clone(),
                    },
                    now,
                ));
                if status != DeployStatus::Succeeded {
                    break;
                }
                last_good.insert(place, version.clone());
            }
        }
        made += batch.len();
        (!batch.is_empty()).then_some(batch)
    })
    .flatten()
}

/// Stores `n` scaled demo deploys (`scaled_deploys`) in batches; returns how many
/// were new.
pub async fn load_scaled(store: &dyn Store, n: usize, seed: u64) -> anyhow::Result<u64> {
    let by = app::domain::Actor::new("cli:demo", None);
    let mut created = 0;
    let mut deploys = scaled_deploys(n, seed, Utc::now()).peekable();
    let mut done = 0usize;
    while deploys.peek().is_some() {
        let batch: Vec<NewDeploy> = deploys.by_ref().take(5000).collect();
        done += batch.len();
        created += store.import_deploys(&batch, &by).await?;
        if done % 100_000 < 5000 {
            tracing::info!(done, of = n, "demo deploys stored");
        }
    }
    // Plans for the history's filters depend on it: without, PostgreSQL plans from
    // an empty table's figures until autovacuum comes by.
    store.refresh_statistics().await?;
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
    fn scaled_demo_makes_exactly_n_spread_over_places_and_time() {
        let now = Utc::now();
        let deploys: Vec<NewDeploy> = scaled_deploys(50_000, 3, now).collect();
        assert_eq!(deploys.len(), 50_000);
        let services: HashSet<_> = deploys.iter().map(|d| d.service.as_str()).collect();
        assert_eq!(
            services.len(),
            12,
            "one service per 4,000 deploys, at least seven"
        );
        let first = deploys.iter().map(|d| d.started_at).min().expect("some");
        assert!(
            first < now - Duration::days(30),
            "spread over more than a month"
        );
        assert!(deploys.iter().all(|d| d.started_at < now));
        let ids: HashSet<_> = deploys.iter().map(|d| d.external_id.clone()).collect();
        assert_eq!(ids.len(), deploys.len(), "external ids are unique");
        assert!(deploys.iter().any(|d| d.previous_version.is_some()));
        assert_eq!(
            scaled_deploys(1000, 3, now).collect::<Vec<_>>(),
            scaled_deploys(1000, 3, now).collect::<Vec<_>>()
        );
    }

    #[test]
    fn same_seed_same_demo() {
        let now = Utc::now();
        assert_eq!(demo_deploys(30, 1, now), demo_deploys(30, 1, now));
    }
}

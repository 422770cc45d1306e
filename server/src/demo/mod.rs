//! `houston demo`: fills the store with a month of realistic deploys, the signals
//! around them, alerts, locks, a freeze window and an override, so a new installation
//! shows the whole product; the verdicts come from the real judge reading the seeded
//! samples (`scene.rs`). `--live` keeps it going through the API (`live.rs`). Seeded,
//! and idempotent through external ids.

use app::domain::{
    CommitRequest, DeployRequest, DeploySource, DeployStatus, NewDeploy, to_stored_precision,
};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

pub mod live;
mod scene;
pub mod signals;

pub use scene::{Seeded, live_places, load, load_scaled};
use signals::{Fate, fate_of, stable_hash};

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

/// A demo deploy and what its release does to the place's signals.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoDeploy {
    pub deploy: NewDeploy,
    pub fate: Fate,
}

/// How long before now the generated history stops; the newest deploys are the
/// scene's ([`scene_deploys`]), so every board state shows.
const HISTORY_END: Duration = Duration::hours(4);

/// The service without metrics or errors (a team that has not wired them yet): its
/// cells say "no data".
pub const UNWIRED: &str = "notifications";

fn tag(release: u32) -> String {
    format!("v{}.{}.0", 2 + release / 40, release % 40)
}

/// Builds the demo deploys, newest last, relative to `now`: a history of releases
/// going through the four stages until one fails or goes wrong (a release that goes
/// wrong is rolled back to the version before it half an hour later), then the scene.
pub fn demo_deploys(days: u32, seed: u64, now: DateTime<Utc>) -> Vec<DemoDeploy> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let start = now - Duration::days(i64::from(days));
    let history_end = now - HISTORY_END;
    let mut last_release = HashMap::new();
    let mut last_good: HashMap<(&str, &str), String> = HashMap::new();
    for (service_index, (service, repo)) in SERVICES.iter().enumerate() {
        let mut release = 0u32;
        let mut at = start + Duration::minutes(rng.random_range(0..600));
        // Some teams tag releases, others deploy commit SHAs.
        let uses_tags = service_index % 3 != 2;
        loop {
            at += Duration::minutes(rng.random_range(6 * 60..36 * 60));
            if at >= history_end {
                break;
            }
            release += 1;
            let fate = fate_of(seed, &format!("{service}:{release}"));
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
                if started_at >= history_end {
                    break;
                }
                let runtime = Duration::seconds(rng.random_range(60..900));
                let status = roll_status(&mut rng, false, 7, 3);
                let request = DeployRequest {
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
                };
                out.push(DemoDeploy {
                    deploy: parse_demo(request, now),
                    fate,
                });
                // A failed stage stops the release from going further.
                if status != DeployStatus::Succeeded {
                    break;
                }
                let place = (*service, stage);
                if fate.is_rolled_back() {
                    // The judge said no: the team rolls back and the release stops.
                    let back_at =
                        started_at + runtime + Duration::minutes(rng.random_range(20..40));
                    if let Some(previous) = last_good.get(&place)
                        && back_at < history_end
                    {
                        out.push(rollback(Rollback {
                            service,
                            repo,
                            stage,
                            previous,
                            bad: &version,
                            author,
                            at: back_at,
                            external_id: format!("demo:{service}:{stage}:{release}:rollback"),
                        }));
                    }
                    break;
                }
                last_good.insert(place, version.clone());
            }
        }
        last_release.insert(*service, release);
    }
    out.extend(scene_deploys(&last_release, &last_good, now));
    out.sort_by_key(|d| d.deploy.started_at);
    out
}

/// A deploy of the version before a bad one.
struct Rollback<'a> {
    service: &'a str,
    repo: &'a str,
    stage: &'a str,
    previous: &'a str,
    bad: &'a str,
    author: &'a str,
    at: DateTime<Utc>,
    external_id: String,
}

fn rollback(r: Rollback<'_>) -> DemoDeploy {
    let request = DeployRequest {
        service: Some(r.service.to_owned()),
        environment: Some(r.stage.to_owned()),
        version: Some(r.previous.to_owned()),
        author: Some(r.author.to_owned()),
        description: Some(format!("Roll back {}: Houston judged it unhealthy", r.bad)),
        repository_url: Some(r.repo.to_owned()),
        status: Some(DeployStatus::Succeeded.as_str().to_owned()),
        started_at: Some(rfc3339(r.at)),
        finished_at: Some(rfc3339(r.at + Duration::seconds(90))),
        external_id: Some(r.external_id),
        ..Default::default()
    };
    DemoDeploy {
        deploy: parse_demo(request, r.at + Duration::minutes(2)),
        fate: Fate::Calm,
    }
}

/// The scene's hotfix: deployed through a lock on an override (`scene.rs`).
pub const HOTFIX_ID: &str = "demo:scene:inventory:production:hotfix";

/// One deploy of the scene: where, started how many minutes ago, how many seconds
/// it ran (none: still running), what it does, by whom, what it was.
struct SceneLine {
    service: &'static str,
    stage: &'static str,
    ago_minutes: i64,
    ran_secs: Option<i64>,
    fate: Fate,
    author: &'static str,
    what: &'static str,
}

const SCENE: [SceneLine; 6] = [
    SceneLine {
        service: "accounts",
        stage: "production",
        ago_minutes: 180,
        ran_secs: Some(150),
        fate: Fate::SlowAndFailing,
        author: "jonas.berg",
        what: "Migrate sessions table to new index",
    },
    SceneLine {
        service: "inventory",
        stage: "production",
        ago_minutes: 70,
        ran_secs: Some(200),
        fate: Fate::Calm,
        author: "priya.nair",
        what: "Hotfix: round stock counts down, not up",
    },
    SceneLine {
        service: "payments",
        stage: "canary",
        ago_minutes: 52,
        ran_secs: Some(170),
        fate: Fate::HotterCpu,
        author: "li.wei",
        what: "Verify card BINs locally instead of calling out",
    },
    SceneLine {
        service: "checkout",
        stage: "production",
        ago_minutes: 45,
        ran_secs: Some(240),
        fate: Fate::SlowAndFailing,
        author: "sofia.rossi",
        what: "Fix race in cart total recalculation",
    },
    SceneLine {
        service: "search",
        stage: "production",
        ago_minutes: 5,
        ran_secs: Some(180),
        fate: Fate::Calm,
        author: "hana.sato",
        what: "Reduce p95 latency of price lookup",
    },
    SceneLine {
        service: "api-gateway",
        stage: "staging",
        ago_minutes: 1,
        ran_secs: None,
        fate: Fate::Calm,
        author: "noah.cohen",
        what: "Add retry with jitter to the ledger client",
    },
];

/// The newest deploys, placed by hand so the board shows every state the judge
/// gives: one going out now, one baking, one ailing, one unhealthy (its alert
/// firing), a rollback after an unhealthy one, and a hotfix that went through a lock.
fn scene_deploys(
    last_release: &HashMap<&str, u32>,
    last_good: &HashMap<(&str, &str), String>,
    now: DateTime<Utc>,
) -> Vec<DemoDeploy> {
    let mut out = Vec::new();
    for line in &SCENE {
        let service = line.service;
        let repo = SERVICES
            .iter()
            .find(|(name, _)| *name == service)
            .map_or("", |(_, repo)| *repo);
        let release = last_release.get(service).copied().unwrap_or(0) + 1;
        let hotfix = service == "inventory";
        let version = if hotfix {
            format!("{}-hotfix.1", tag(release))
        } else {
            tag(release)
        };
        let started_at = to_stored_precision(now - Duration::minutes(line.ago_minutes));
        let finished_at = line
            .ran_secs
            .map(|secs| started_at + Duration::seconds(secs));
        let external_id = if hotfix {
            HOTFIX_ID.to_owned()
        } else {
            format!("demo:scene:{service}:{}", line.stage)
        };
        let status = if finished_at.is_some() {
            DeployStatus::Succeeded
        } else {
            DeployStatus::InProgress
        };
        let request = DeployRequest {
            service: Some(service.to_owned()),
            environment: Some(line.stage.to_owned()),
            version: Some(version.clone()),
            author: Some(line.author.to_owned()),
            description: Some(line.what.to_owned()),
            ci_url: Some(format!(
                "https://ci.acme.example/{service}/pipelines/{}",
                1000 + release
            )),
            repository_url: Some(repo.to_owned()),
            status: Some(status.as_str().to_owned()),
            started_at: Some(rfc3339(started_at)),
            finished_at: finished_at.map(rfc3339),
            external_id: Some(external_id.clone()),
            commits: vec![CommitRequest {
                sha: Some(format!(
                    "{:016x}{:016x}{:08x}",
                    stable_hash(&[service, &version]),
                    stable_hash(&[&version, service]),
                    release
                )),
                message: Some(line.what.to_owned()),
                author: Some(line.author.to_owned()),
                committed_at: Some(rfc3339(started_at - Duration::minutes(90))),
            }],
            ..Default::default()
        };
        out.push(DemoDeploy {
            deploy: parse_demo(request, now),
            fate: line.fate,
        });
        if line.fate.is_rolled_back()
            && let (Some(finished), Some(previous)) =
                (finished_at, last_good.get(&(service, line.stage)))
            && finished + Duration::minutes(35) < now - Duration::minutes(60)
        {
            out.push(rollback(Rollback {
                service,
                repo,
                stage: line.stage,
                previous,
                bad: &version,
                author: line.author,
                at: finished + Duration::minutes(35),
                external_id: format!("{external_id}:rollback"),
            }));
        }
    }
    out
}

/// Deploys a scaled release makes on average (see `scaled_deploys`).
const DEPLOYS_PER_RELEASE: f64 = 1.0 + 0.93 + 0.93 * 0.93 + 0.93 * 0.93 * 0.93;

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

/// The services of a scaled demo of `n` deploys: the seven, then more as `n` grows
/// (one per 4,000 deploys, up to 250), with their repositories.
pub fn scaled_services(n: usize) -> Vec<(String, String)> {
    (0..(n / 4000).clamp(SERVICES.len(), 250))
        .map(|i| match SERVICES.get(i) {
            Some((name, repo)) => ((*name).to_owned(), (*repo).to_owned()),
            None => {
                let word = SERVICE_WORDS[i % SERVICE_WORDS.len()];
                let name = format!("{word}-{}", i / SERVICE_WORDS.len());
                let repo = format!("https://github.com/acme/{name}");
                (name, repo)
            }
        })
        .collect()
}

/// About `n` realistic deploys (at most `n`, short by well under 1 % when the period
/// ends first) for trying Houston at size and for benchmarks: more services as `n`
/// grows (7 up to 250), spread over a period that grows with it (30 days up to two
/// years) and ends now, releases going through the four stages until one fails,
/// 1–3 commits each. Generated lazily, oldest first; the same seed gives
/// the same deploys, and their external ids make loading them twice add nothing.
pub fn scaled_deploys(n: usize, seed: u64, now: DateTime<Utc>) -> impl Iterator<Item = NewDeploy> {
    let mut rng = StdRng::seed_from_u64(seed);
    let services = scaled_services(n);
    let days = i64::try_from(n / 1500).unwrap_or(730).clamp(30, 730);
    let start = now - Duration::days(days);
    // A release reaches the next stage 93 times in a hundred (5 % fail, 2 % are
    // rolled back): 1 + 0.93 + 0.93² + 0.93³ ≈ 3.67 deploys a release. A release every
    // `step` seconds makes about `n` by now, so the newest deploys are recent (the
    // last day's get signals and the judge).
    let step = (days * 86_400) as f64 * DEPLOYS_PER_RELEASE / n.max(1) as f64;
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
                let started_at = to_stored_precision(at + Duration::minutes(*delay));
                // The release goes no further than now.
                if made + batch.len() >= n || started_at >= now {
                    break;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn demo_covers_every_service_and_stage_over_the_period() {
        let now = Utc::now();
        let deploys: Vec<NewDeploy> = demo_deploys(30, 7, now)
            .into_iter()
            .map(|d| d.deploy)
            .collect();
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
        let is_rollback = |d: &NewDeploy| {
            d.external_id
                .as_deref()
                .is_some_and(|id| id.ends_with(":rollback"))
        };
        assert!(
            deploys
                .iter()
                .filter(|d| !is_rollback(d))
                .all(|d| !d.commits.is_empty())
        );
        let ids: HashSet<_> = deploys.iter().map(|d| d.external_id.clone()).collect();
        assert_eq!(ids.len(), deploys.len(), "external ids are unique");
    }

    #[test]
    fn a_release_that_goes_wrong_is_rolled_back_to_the_version_before() {
        let now = Utc::now();
        let plan = demo_deploys(30, 7, now);
        let rollbacks: Vec<&DemoDeploy> = plan
            .iter()
            .filter(|d| {
                d.deploy
                    .external_id
                    .as_deref()
                    .is_some_and(|id| id.ends_with(":rollback"))
            })
            .collect();
        assert!(rollbacks.len() >= 3, "{} rollbacks", rollbacks.len());
        for back in rollbacks {
            let place = |d: &&DemoDeploy| {
                d.deploy.service == back.deploy.service
                    && d.deploy.environment == back.deploy.environment
                    && d.deploy.started_at < back.deploy.started_at
            };
            let before: Vec<&DemoDeploy> = plan.iter().filter(place).collect();
            let bad = before.last().expect("a deploy before the rollback");
            assert!(bad.fate.is_rolled_back(), "the one before went wrong");
            assert!(
                before[..before.len() - 1]
                    .iter()
                    .any(|d| d.deploy.version == back.deploy.version),
                "it goes back to a version deployed there before"
            );
        }
    }

    #[test]
    fn the_scene_is_the_newest_of_its_places() {
        let now = Utc::now();
        let plan = demo_deploys(30, 7, now);
        for line in &SCENE {
            let newest = plan
                .iter()
                .filter(|d| {
                    d.deploy.service.as_str() == line.service
                        && d.deploy.environment.as_str() == line.stage
                })
                .max_by_key(|d| d.deploy.started_at)
                .expect("the place has deploys");
            let id = newest.deploy.external_id.as_deref().unwrap_or("");
            assert!(id.starts_with("demo:scene:"), "{id}");
        }
    }

    #[test]
    fn scaled_demo_makes_about_n_spread_over_places_and_time_up_to_now() {
        let now = Utc::now();
        let deploys: Vec<NewDeploy> = scaled_deploys(50_000, 3, now).collect();
        assert!(
            (49_000..=50_000).contains(&deploys.len()),
            "{} deploys",
            deploys.len()
        );
        let newest = deploys.iter().map(|d| d.started_at).max().expect("some");
        assert!(newest > now - Duration::hours(6), "the history reaches now");
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

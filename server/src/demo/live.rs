//! `houston demo --live`: keeps the demo going against a running Houston, through its
//! API as a pipeline and a metrics sidecar would: every few seconds the signals of
//! every place, and every so often a deploy — asked of the gate first, registered as
//! going out, finished a little later, sometimes bad, then rolled back once its bake
//! is over. The server judges them and open pages follow without a reload.
//!
//! It uses a token of its own (scopes deploy, ingest and gate, a day long), made in
//! the database and revoked when it stops (Ctrl-C). It only registers deploys of the
//! demo's places (source `api`, external ids `live-demo:…`: `demo:` is the loader's
//! alone) and only changes those.

use super::rfc3339;
use super::scene::LivePlace;
use super::signals::{Episode, Fate, STEP, align, fate_of};
use app::domain::{Actor, NewApiToken, TokenScope};
use app::server::Store;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// How often signals go out.
const TICK: std::time::Duration = std::time::Duration::from_secs(5);
/// A new deploy about this often.
const DEPLOY_EVERY: Duration = Duration::seconds(20);
/// A bad deploy is rolled back this long after it finished (its bake is 5 minutes).
const ROLLBACK_AFTER: Duration = Duration::minutes(6);

/// A deploy `--live` started and has yet to finish or roll back.
struct Going {
    id: i64,
    place: usize,
    version: String,
    fate: Fate,
    finish_at: DateTime<Utc>,
}

struct Rollback {
    place: usize,
    version: String,
    bad: String,
    at: DateTime<Utc>,
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.bearer_auth(&self.token).send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!(
                "Houston answered {status}: {}",
                body.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no details")
            );
        }
        Ok(body)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<Value> {
        self.send(self.client.get(format!("{}{path}", self.base)).query(query))
            .await
    }
}

fn say(line: &str) {
    println!("{} {line}", Utc::now().format("%H:%M:%S"));
}

/// Runs until Ctrl-C.
pub async fn run(
    store: &dyn Store,
    url: &str,
    mut places: Vec<LivePlace>,
    seed: u64,
) -> anyhow::Result<()> {
    anyhow::ensure!(!places.is_empty(), "the demo has no places with signals");
    let now = Utc::now();
    let by = Actor::new("cli:demo", None);
    let secret = app::server::token::generate_token();
    let name = format!("demo-live-{}", now.format("%Y%m%d-%H%M%S"));
    store
        .create_api_token(
            &NewApiToken {
                name: name.clone(),
                token_hash: app::server::token::hash_token(&secret),
                scopes: vec![TokenScope::Deploy, TokenScope::Ingest, TokenScope::Gate],
                expires_at: Some(now + Duration::days(1)),
                owner_user_id: None,
            },
            &by,
            now,
        )
        .await?;
    let api = Api {
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?,
        base: url.trim_end_matches('/').to_owned(),
        token: secret,
    };
    say(&format!(
        "live demo against {url} (token {name}); Ctrl-C stops it"
    ));
    let outcome = drive(&api, &mut places, seed).await;
    let revoked = store
        .revoke_api_token(&name, &by, Some("houston demo --live stopped"), Utc::now())
        .await;
    outcome?;
    revoked?;
    say("stopped; its token is revoked");
    Ok(())
}

async fn drive(api: &Api, places: &mut [LivePlace], seed: u64) -> anyhow::Result<()> {
    let started = Utc::now();
    let mut rng = StdRng::seed_from_u64(seed ^ started.timestamp() as u64);
    let mut sent_to = align(started - Duration::minutes(1));
    let mut next_deploy = started + Duration::seconds(3);
    let mut going: Vec<Going> = Vec::new();
    let mut rollbacks: Vec<Rollback> = Vec::new();
    let mut count = 0u32;
    let mut interval = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = interval.tick() => {}
        }
        let now = Utc::now();
        // Signals up to now, so the judge reads what a sidecar would have sent.
        if let Err(e) = send_signals(api, places, sent_to, now).await {
            say(&format!("signals not sent ({e}); trying again"));
        } else {
            sent_to = align(now);
        }
        // Deploys that finish now.
        let (done, still): (Vec<Going>, Vec<Going>) =
            going.into_iter().partition(|g| g.finish_at <= now);
        going = still;
        for g in done {
            let place = &mut places[g.place];
            match api
                .post(
                    &format!("/api/v1/deploys/{}/status", g.id),
                    &json!({ "status": "succeeded", "finished_at": rfc3339(now) }),
                )
                .await
            {
                Ok(_) => {
                    say(&format!(
                        "{} {} in {}: succeeded; the judge bakes it for 5 minutes",
                        place.service, g.version, place.environment
                    ));
                    let previous = place.serving(now).map(|e| e.version.clone());
                    place.episodes.push(Episode {
                        at: now,
                        version: g.version.clone(),
                        fate: g.fate,
                    });
                    if g.fate.is_rolled_back()
                        && let Some(previous) = previous
                    {
                        rollbacks.push(Rollback {
                            place: g.place,
                            version: previous,
                            bad: g.version,
                            at: now + ROLLBACK_AFTER,
                        });
                    }
                }
                Err(e) => say(&format!("finishing deploy {}: {e}", g.id)),
            }
        }
        // Rollbacks of bad deploys once their verdict is in.
        let (due, later): (Vec<Rollback>, Vec<Rollback>) =
            rollbacks.into_iter().partition(|r| r.at <= now);
        rollbacks = later;
        for r in due {
            count += 1;
            let description = format!("Roll back {}: Houston judged it unhealthy", r.bad);
            match start(api, places, r.place, &r.version, &description, count, now).await {
                Ok(Some(id)) => going.push(Going {
                    id,
                    place: r.place,
                    version: r.version,
                    fate: Fate::Calm,
                    finish_at: now + Duration::seconds(10),
                }),
                Ok(None) => {}
                Err(e) => say(&format!("rolling back: {e}")),
            }
        }
        // A new release somewhere, now and then.
        if now >= next_deploy {
            next_deploy = now + DEPLOY_EVERY + Duration::seconds(rng.random_range(-5..5));
            let free: Vec<usize> = (0..places.len())
                .filter(|i| going.iter().all(|g| g.place != *i))
                .collect();
            if free.is_empty() {
                continue;
            }
            let place = free[rng.random_range(0..free.len())];
            count += 1;
            let version = format!("v{}.{}", started.format("%y.%j%H%M"), count);
            // Bad more often than the history, so there is something to see.
            let fate = match fate_of(seed, &version) {
                Fate::Calm if rng.random_range(0..4) == 0 => Fate::SlowAndFailing,
                fate => fate,
            };
            let what = super::SUBJECTS[rng.random_range(0..super::SUBJECTS.len())];
            match start(api, places, place, &version, what, count, now).await {
                Ok(Some(id)) => going.push(Going {
                    id,
                    place,
                    version,
                    fate,
                    finish_at: now + Duration::seconds(rng.random_range(10..25)),
                }),
                Ok(None) => {}
                Err(e) => say(&format!("deploying: {e}")),
            }
        }
    }
}

/// Asks the gate, then registers the deploy as going out. `None` when the gate says no.
async fn start(
    api: &Api,
    places: &[LivePlace],
    place: usize,
    version: &str,
    description: &str,
    count: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let p = &places[place];
    let answer = api
        .get(
            "/api/v1/gate",
            &[
                ("service", p.service.as_str()),
                ("environment", p.environment.as_str()),
                ("version", version),
            ],
        )
        .await?;
    if answer.get("allowed").and_then(Value::as_bool) != Some(true) {
        let reasons: Vec<&str> = answer
            .get("reasons")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|r| r.get("detail").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        say(&format!(
            "{} {version} in {}: the gate says no ({})",
            p.service,
            p.environment,
            reasons.join("; ")
        ));
        return Ok(None);
    }
    let author = super::AUTHORS[count as usize % super::AUTHORS.len()];
    let body = json!({
        "service": p.service.as_str(),
        "environment": p.environment.as_str(),
        "version": version,
        "author": author,
        "description": description,
        "status": "in_progress",
        "started_at": rfc3339(now),
        "external_id": format!("live-demo:{}:{count}", now.timestamp()),
        "commits": [{
            "sha": format!("{:040x}", super::stable_hash(&[version, p.service.as_str()])),
            "message": description,
            "author": author,
        }],
    });
    let deploy = api.post("/api/v1/deploys", &body).await?;
    let id = deploy
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow::anyhow!("Houston's answer has no deploy id"))?;
    say(&format!(
        "{} {version} going out to {} (deploy {id})",
        p.service, p.environment
    ));
    Ok(Some(id))
}

/// Every place's samples and errors for the steps in `[from, to)`, in one request each.
async fn send_signals(
    api: &Api,
    places: &mut [LivePlace],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut series = Vec::new();
    let mut events = Vec::new();
    for place in places.iter_mut() {
        let mut points: Vec<Vec<Value>> = vec![Vec::new(); place.signals.keys().len()];
        let mut at = align(from);
        while at < to {
            let episode = place.serving(at).cloned();
            // A live deploy can come at any time: no burst starts while one serves
            // its first quarter hour.
            let quiet = super::signals::quiet_at(at, None, episode.as_ref());
            let step = place.signals.step(at, episode.as_ref(), quiet);
            for (index, value) in step.values {
                points[index].push(json!([at.timestamp(), value]));
            }
            for e in step.errors {
                events.push(json!({
                    "service": e.key.service.as_str(),
                    "environment": e.key.environment.as_str(),
                    "fingerprint": e.key.fingerprint,
                    "message": e.message,
                    "level": e.level.as_str(),
                    "timestamp": e.at.timestamp(),
                    "version": e.version,
                    "count": e.count,
                }));
            }
            at += STEP;
        }
        for (key, points) in place.signals.keys().iter().zip(points) {
            if !points.is_empty() {
                series.push(json!({
                    "service": key.service.as_str(),
                    "environment": key.environment.as_str(),
                    "metric": key.metric.as_str(),
                    "points": points,
                }));
            }
        }
    }
    if !series.is_empty() {
        api.post("/api/v1/metrics", &json!({ "series": series }))
            .await?;
    }
    if !events.is_empty() {
        api.post("/api/v1/errors", &json!({ "events": events }))
            .await?;
    }
    Ok(())
}

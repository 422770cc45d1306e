//! The `houston` command: serve, migrate, demo, deploy and token administration.

use anyhow::Context;
use app::domain::{Actor, NewPassword, Role, TokenScope, Username};
use app::server::password;
use clap::{Args, Parser, Subcommand};
use houston::config::{Config, Overrides, redact_database_url};
use houston::{AppState, demo, judge_offline, router, storage};
use std::io::IsTerminal;
use std::net::SocketAddr;

/// mimalloc instead of the system allocator: rendering a page allocates and frees
/// many small strings across the runtime's threads (docs/BENCHMARKS.md, "Page latency").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "houston", version, about = "Deploy mission control")]
struct Cli {
    /// What to do; without one, `serve`. The database is HOUSTON_DATABASE_URL (never
    /// a flag: flags show in `ps` and shell history).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (applies pending migrations first).
    Serve {
        /// Address to listen on; overrides HOUSTON_BIND.
        #[arg(long)]
        bind: Option<SocketAddr>,
    },
    /// Run background jobs only (pruning, and the judge's work to come), for
    /// deployments that keep them apart from the web servers
    /// (`HOUSTON_RUN_JOBS=false` on those).
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load realistic demo data: 7 services, 4 stages, deploys over the last days;
    /// or, with --deploys N, N deploys over more services and months, quickly
    /// (for trying Houston at size and for benchmarks).
    Demo {
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// How many deploys to seed (bulk, e.g. 100000 or 1000000).
        #[arg(long)]
        deploys: Option<usize>,
        /// Then keep going against the running Houston at --url: signals every few
        /// seconds, a deploy every 20 s (some bad, rolled back after their bake),
        /// until Ctrl-C.
        #[arg(long, conflicts_with = "deploys")]
        live: bool,
        /// The running Houston `--live` talks to.
        #[arg(long, env = "HOUSTON_URL", default_value = "http://127.0.0.1:3000")]
        url: String,
    },
    /// Register a deploy with a running Houston (for CI scripts).
    Deploy(Box<DeployArgs>),
    /// Mark a registered deploy as finished (for CI scripts).
    DeployStatus(DeployStatusArgs),
    /// Ask the gate whether a deploy may go out now (for CI): prints every reason;
    /// exits 0 when allowed, 1 when denied, 2 when Houston cannot be reached or
    /// answers an error (so CI can choose to fail closed).
    Gate(GateArgs),
    /// Declare an incident with a running Houston, or report its change (a pipeline,
    /// an on-call script): it ranks the deploys before it and, with stop-the-line,
    /// stops deploys where it is.
    Incident {
        #[command(subcommand)]
        action: IncidentAction,
    },
    /// Create, list and revoke API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Create and list local accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Judge one metric of one deploy without a server, as the server would, and print
    /// the verdict and its receipt as JSON. FILE holds `{"check": {...}, "deployed_at",
    /// "samples": [[time, value], ...]}` (`-` reads standard input); with --batch, one
    /// such case per line, one verdict line each.
    Judge {
        file: std::path::PathBuf,
        #[arg(long)]
        batch: bool,
    },
    /// Judge past deploys again with a candidate configuration FILE (TOML, as for
    /// `config apply`, not applied) and list those whose final verdict would change.
    Backtest {
        #[arg(long = "config", value_name = "FILE")]
        file: std::path::PathBuf,
        /// Deploys that started at or after this: RFC 3339, a date, or a time back
        /// from now (`30d`, `12h`). Default: 7 days.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Judge at most this many deploys, newest first.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Metric definitions kept in a file (in git): `houston config apply FILE.toml`.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Make the stored metric definitions match FILE (TOML, `[[metric]]` tables):
    /// definitions it lacks are deleted. Prints each change; audited.
    Apply {
        file: std::path::PathBuf,
        /// Print the changes without making them.
        #[arg(long)]
        dry_run: bool,
        /// Why, for the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print the stored metric definitions.
    Show,
}

#[derive(Subcommand)]
enum UserAction {
    /// Create an account. The password is read from standard input when one is
    /// piped in; otherwise a random one is generated and printed once.
    Create {
        #[arg(long)]
        name: String,
        /// viewer, deployer, lead or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    List,
    /// Give an account a new password and end its sessions. The password is read
    /// from standard input when one is piped in; otherwise one is generated and
    /// printed once.
    ResetPassword {
        /// The account's user name.
        name: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Args)]
struct Remote {
    /// Houston's base URL.
    #[arg(long, env = "HOUSTON_URL", default_value = "http://127.0.0.1:3000")]
    server: String,
    /// A file holding the API token; without it the token is read from
    /// HOUSTON_TOKEN. Never a flag: flags show in `ps`, shell history and CI logs.
    #[arg(long, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
}

impl Remote {
    /// The API token: the file's first line, or HOUSTON_TOKEN.
    fn token(&self) -> anyhow::Result<String> {
        let token = match &self.token_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            None => std::env::var("HOUSTON_TOKEN")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        };
        anyhow::ensure!(
            !token.is_empty(),
            "no API token: set HOUSTON_TOKEN or pass --token-file FILE"
        );
        Ok(token)
    }
}

#[derive(Args)]
struct DeployArgs {
    #[command(flatten)]
    remote: Remote,
    #[arg(long)]
    service: String,
    #[arg(long)]
    environment: String,
    /// Tag or commit SHA.
    #[arg(long)]
    version: String,
    #[arg(long)]
    previous_version: Option<String>,
    #[arg(long)]
    author: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    ci_url: Option<String>,
    #[arg(long)]
    repository_url: Option<String>,
    /// in_progress (default), succeeded, failed or rolled_back.
    #[arg(long)]
    status: Option<String>,
    /// Idempotency key: re-running the same CI job does not register twice.
    #[arg(long)]
    external_id: Option<String>,
    /// A shipped commit as SHA=MESSAGE; repeat for several.
    #[arg(long = "commit", value_name = "SHA=MESSAGE")]
    commits: Vec<String>,
}

#[derive(Args)]
struct GateArgs {
    #[command(flatten)]
    remote: Remote,
    #[arg(long)]
    service: String,
    #[arg(long)]
    environment: String,
    /// The version about to go out (promotion rules need it).
    #[arg(long)]
    version: Option<String>,
    /// The branch or ref it was built from (`main`, `refs/heads/main`).
    #[arg(long = "ref", value_name = "REF")]
    git_ref: Option<String>,
    /// Claim a break-glass override for this pipeline run when one is available:
    /// it is reserved for this run alone, which is then allowed.
    #[arg(long)]
    claim: bool,
    /// The pipeline run claiming (default: GITHUB_RUN_ID with GITHUB_RUN_ATTEMPT,
    /// CI_PIPELINE_ID or BUILD_TAG from the CI's environment).
    #[arg(long, env = "HOUSTON_RUN")]
    run: Option<String>,
}

impl GateArgs {
    /// The run named, or the one the CI's environment names.
    fn run(&self) -> Option<String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        self.run.clone().or_else(|| {
            var("GITHUB_RUN_ID")
                .map(|id| match var("GITHUB_RUN_ATTEMPT") {
                    Some(attempt) => format!("github:{id}.{attempt}"),
                    None => format!("github:{id}"),
                })
                .or_else(|| var("CI_PIPELINE_ID").map(|id| format!("gitlab:{id}")))
                .or_else(|| var("BUILD_TAG"))
        })
    }
}

#[derive(Args)]
struct DeployStatusArgs {
    #[command(flatten)]
    remote: Remote,
    /// The deploy id `houston deploy` printed.
    id: i64,
    /// succeeded, failed or rolled_back.
    status: String,
}

#[derive(Subcommand)]
enum IncidentAction {
    /// Open an incident; prints its id. With --id, a later report with the same id
    /// moves it instead of opening another.
    Declare {
        #[command(flatten)]
        remote: Remote,
        #[arg(long)]
        title: String,
        /// critical, high, medium or low (or P1–P5, SEV1–SEV4).
        #[arg(long)]
        severity: String,
        /// A service it affects; repeat or separate with commas (none: every service).
        #[arg(long = "service", value_delimiter = ',')]
        services: Vec<String>,
        /// An environment it affects; repeat or separate with commas (none: all).
        #[arg(long = "environment", value_delimiter = ',')]
        environments: Vec<String>,
        /// Your id of it (say, the ticket), so later reports move the same incident.
        #[arg(long)]
        id: Option<String>,
        /// A link to it in its own tool.
        #[arg(long)]
        url: Option<String>,
    },
    /// Report that an incident declared with --id is acknowledged or resolved.
    Move {
        #[command(flatten)]
        remote: Remote,
        /// The id given to `declare --id`.
        #[arg(long)]
        id: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        severity: String,
        /// acknowledged, resolved, or open (to reopen).
        #[arg(long)]
        state: String,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token; the secret is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// deploy (default), ingest, gate or admin; repeat or separate with commas.
        #[arg(long = "scope", value_delimiter = ',', default_value = "deploy")]
        scopes: Vec<String>,
        /// The token stops working after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<String>,
    },
    List,
    Revoke {
        #[arg(long)]
        name: String,
        /// Why, for the audit log (e.g. "leaked in a build log").
        #[arg(long)]
        reason: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("houston: cannot start the async runtime: {e}");
            // `houston gate` says "no answer" with 2, whatever stopped it.
            let gate = matches!(cli.command, Some(Command::Gate(_)));
            return std::process::ExitCode::from(if gate { 2 } else { 1 });
        }
    };
    if let Some(Command::Gate(args)) = cli.command {
        return runtime.block_on(gate(args));
    }
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("houston: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve { bind: None });
    let overrides = Overrides {
        database_url: None,
        bind: match &command {
            Command::Serve { bind } => *bind,
            _ => None,
        },
    };
    match command {
        Command::Deploy(args) => return deploy(*args).await,
        Command::DeployStatus(args) => return deploy_status(args).await,
        Command::Incident { action } => return incident(action).await,
        Command::Judge { file, batch } => return judge_offline::run(&file, batch),
        _ => {}
    }
    let config = Config::from_env(&overrides)?;
    init_tracing(&config.log_filter);
    let store = storage::open_with(
        &config.database_url,
        config.migration_database_url.as_deref(),
    )
    .await
    .with_context(|| {
        format!(
            "opening the database {}",
            redact_database_url(&config.database_url)
        )
    })?;
    match command {
        Command::Serve { .. } => serve(store, config).await,
        Command::Worker => {
            // A worker has no pages of its own; with a shared feed (PostgreSQL) the
            // replicas' pages still hear of its verdicts.
            let events = houston::events::Events::new(store.clone());
            events
                .start()
                .await
                .context("publishing changes to the other replicas")?;
            let judging = houston::jobs::Judging {
                source: houston::prometheus_source(&config),
                on_verdict: Some(std::sync::Arc::new(move |deploy| {
                    events.deploy_changed(app::domain::ChangeKind::Verdict, deploy);
                })),
            };
            let deliverer = houston::jobs::notify::Deliverer::new(
                store.clone(),
                config.public_url.clone(),
                config.outbound_policy(),
            )?;
            tokio::spawn(deliverer.run(std::future::pending()));
            houston::jobs::standard(store, &config, Default::default(), judging)
                .run(shutdown_signal())
                .await;
            Ok(())
        }
        Command::Migrate => {
            println!(
                "migrations applied to {}",
                redact_database_url(&config.database_url)
            );
            Ok(())
        }
        Command::Demo {
            deploys: Some(n),
            seed,
            ..
        } => {
            let started = std::time::Instant::now();
            let seeded = demo::load_scaled(store.as_ref(), n, seed).await?;
            println!(
                "demo data loaded: {} new of {n} deploys in {:.1} s into {}; the last day's \
                 with {} samples and {} error occurrences, judged: {}",
                seeded.deploys_created,
                started.elapsed().as_secs_f64(),
                redact_database_url(&config.database_url),
                seeded.samples,
                seeded.error_occurrences,
                verdict_counts(&seeded),
            );
            Ok(())
        }
        Command::Demo {
            days,
            seed,
            live,
            url,
            ..
        } => {
            let started = std::time::Instant::now();
            let seeded = demo::load(store.as_ref(), days, seed).await?;
            println!(
                "demo data loaded in {:.1} s into {}: {} new deploys over {days} days, \
                 {} samples, {} error occurrences, {} alerts; the judge's verdicts: {}",
                started.elapsed().as_secs_f64(),
                redact_database_url(&config.database_url),
                seeded.deploys_created,
                seeded.samples,
                seeded.error_occurrences,
                seeded.alerts,
                verdict_counts(&seeded),
            );
            if live {
                let places = demo::live_places(&seeded.plan, seed)?;
                demo::live::run(store.as_ref(), &url, places, seed).await?;
            }
            Ok(())
        }
        Command::Token { action } => token_command(store.as_ref(), action).await,
        Command::User { action } => user_command(store.as_ref(), action).await,
        Command::Config { action } => config_command(store.as_ref(), action).await,
        Command::Backtest { file, since, limit } => {
            let candidate = houston::config_file::read(&file)?;
            let since = parse_since(&since, chrono::Utc::now())?;
            let source = houston::prometheus_source(&config);
            let report =
                houston::backtest::run(store.as_ref(), source.as_deref(), candidate, since, limit)
                    .await?;
            for line in houston::backtest::describe(&report, since) {
                println!("{line}");
            }
            Ok(())
        }
        Command::Deploy(_)
        | Command::DeployStatus(_)
        | Command::Incident { .. }
        | Command::Gate(_)
        | Command::Judge { .. } => Ok(()),
    }
}

/// `--since`: RFC 3339, a date (midnight UTC), or a duration back from `now`.
fn parse_since(
    raw: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let days = raw
        .trim_ascii()
        .strip_suffix('d')
        .and_then(|d| d.parse::<u32>().ok());
    if let Some(days) = days {
        return Ok(now - chrono::Duration::days(i64::from(days)));
    }
    if let Ok(back) = app::domain::parse_duration(raw) {
        return Ok(now - back);
    }
    app::domain::parse_bound(raw).ok_or_else(|| {
        anyhow::anyhow!(
            "--since {raw:?}: use an RFC 3339 time, a date like 2026-11-21, or a duration like 7d"
        )
    })
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

async fn serve(
    store: std::sync::Arc<dyn app::server::Store>,
    config: Config,
) -> anyhow::Result<()> {
    match (
        &config.github_webhook_secret,
        config.github_webhook_allow_unsigned,
    ) {
        (Some(_), _) => {}
        (None, true) => {
            // Loud on purpose: anyone who can reach Houston can now create and
            // finish deploys through the webhook.
            tracing::error!(
                "HOUSTON_GITHUB_WEBHOOK_ALLOW_UNSIGNED=true: GitHub webhooks are accepted WITHOUT a signature. \
                 Anyone who can reach this server can create production deploys and change their status. \
                 Use this for local trials only; set HOUSTON_GITHUB_WEBHOOK_SECRET for real use."
            );
            eprintln!(
                "\n!!! GitHub webhooks accept UNSIGNED deliveries (HOUSTON_GITHUB_WEBHOOK_ALLOW_UNSIGNED=true): local trials only !!!\n"
            );
        }
        (None, false) => tracing::info!(
            "GitHub webhooks are off until HOUSTON_GITHUB_WEBHOOK_SECRET is set (the route answers 503)"
        ),
    }
    match &config.site_root {
        Some(root) => {
            tracing::info!(root = %root.display(), "serving the site from disk (HOUSTON_SITE_ROOT)")
        }
        None if houston::site::built_site().is_some() => {}
        None => tracing::error!(
            "this binary carries no site (wasm, CSS): pages will be unstyled and inert. Build with \
             scripts/build.sh, or set HOUSTON_SITE_ROOT to a built site folder"
        ),
    }
    if config.is_https() && config.trusted_proxies.is_empty() {
        tracing::warn!(
            "HOUSTON_PUBLIC_URL is https but HOUSTON_TRUSTED_PROXIES is empty: behind a TLS proxy every \
             client shares the proxy's address, so sign-in throttling and the audit log see one address. \
             Set HOUSTON_TRUSTED_PROXIES to the proxy's address."
        );
    }
    if let (Some(header), None) = (&config.proxy_user_header, &config.proxy_secret) {
        tracing::warn!(
            header = %header,
            "a trusted proxy's user header is believed on the address alone: anything that can reach \
             Houston from HOUSTON_TRUSTED_PROXIES signs in as anyone. Set HOUSTON_PROXY_SECRET and have \
             the proxy send it in X-Houston-Proxy-Secret."
        );
    }
    if !config.webhook_allowed_networks.is_empty() {
        tracing::warn!(
            networks = ?config.webhook_allowed_networks,
            "webhooks may reach these internal networks (HOUSTON_WEBHOOK_ALLOWED_NETWORKS)"
        );
    }
    if store
        .list_api_tokens()
        .await?
        .iter()
        .all(|t| t.revoked_at.is_some())
    {
        tracing::info!(
            "no API token yet: create one with `houston token create --name ci` to register deploys"
        );
    }
    // The decoy hash for sign-ins with unknown names is made now, on a blocking
    // thread, rather than by the first such sign-in.
    tokio::task::spawn_blocking(|| {
        let _ = password::decoy_hash();
    })
    .await?;
    let bind = config.bind;
    let header_timeout = config.header_timeout;
    let backend = store.backend();
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bind}"));
    let state = AppState::new(store.clone(), config);
    state
        .events
        .start()
        .await
        .context("listening for changes made by other replicas")?;
    if store.count_users().await? == 0 {
        let secret = state.setup.open();
        // Printed, not logged: the secret is for the operator's eyes, not log storage.
        eprintln!(
            "\nHouston has no accounts yet. Open this one-time link to create the first admin:\n\n    {}/setup?token={secret}\n\n(or run `houston user create --name NAME --role admin`)\n",
            public_url.trim_end_matches('/')
        );
    }
    if state.config.run_jobs {
        let events = state.events.clone();
        let judging = houston::jobs::Judging {
            source: state.samples.clone(),
            on_verdict: Some(std::sync::Arc::new(move |deploy| {
                events.deploy_changed(app::domain::ChangeKind::Verdict, deploy);
            })),
        };
        let runner =
            houston::jobs::standard(store.clone(), &state.config, Default::default(), judging);
        tokio::spawn(runner.run(std::future::pending()));
        let deliverer = houston::jobs::notify::Deliverer::new(
            store.clone(),
            state.config.public_url.clone(),
            state.config.outbound_policy(),
        )?;
        tokio::spawn(deliverer.run(std::future::pending()));
    } else {
        tracing::info!("HOUSTON_RUN_JOBS=false: background jobs run in `houston worker` processes");
    }
    // The gate's counts are written by every replica that answers the gate.
    let (tally_stop, tally_stopped) = tokio::sync::oneshot::channel::<()>();
    let tally = tokio::spawn(state.gate_tally.clone().run(store.clone(), async {
        let _ = tally_stopped.await;
    }));
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("HOUSTON_BIND: cannot listen on {bind}"))?;
    tracing::info!(%bind, database = backend, "Houston is listening on http://{bind}");
    houston::listener::serve(
        listener,
        app,
        houston::listener::ListenerLimits {
            header_read_timeout: header_timeout,
            shutdown_grace: std::time::Duration::from_secs(10),
        },
        shutdown_signal(),
    )
    .await?;
    let _ = tally_stop.send(());
    let _ = tally.await;
    tracing::info!("Houston stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The audit log's name for whoever runs the command line on this machine.
async fn config_command(
    store: &dyn app::server::Store,
    action: ConfigAction,
) -> anyhow::Result<()> {
    match action {
        ConfigAction::Apply {
            file,
            dry_run,
            reason,
        } => {
            let changes =
                houston::config_file::apply(store, &file, dry_run, &cli_actor(), reason.as_deref())
                    .await?;
            for change in &changes {
                println!("{change}");
            }
            match (changes.len(), dry_run) {
                (0, _) => println!(
                    "nothing to change: the metric definitions, service timings, gate rules and repositories match {}",
                    file.display()
                ),
                (n, true) => println!("{n} changes planned (dry run: nothing changed)"),
                (n, false) => println!("{n} changes applied"),
            }
        }
        ConfigAction::Show => {
            for d in store.list_metric_definitions().await? {
                println!(
                    "{}\t{}",
                    d.name,
                    serde_json::to_string(&d).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

fn cli_actor() -> Actor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Actor::new(format!("cli:{user}"), None)
}

async fn token_command(store: &dyn app::server::Store, action: TokenAction) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match action {
        TokenAction::Create {
            name,
            scopes,
            expires_in_days,
        } => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "--name must not be empty");
            let scopes = TokenScope::parse_list(&scopes.join(","))
                .map_err(|e| anyhow::anyhow!("--scope: {e}"))?;
            let expires_at = app::domain::parse_token_expiry(expires_in_days.as_deref(), now)
                .map_err(|e| anyhow::anyhow!("--expires-in-days: {e}"))?;
            let secret = app::server::token::generate_token();
            store
                .create_api_token(
                    &app::domain::NewApiToken {
                        name: name.to_owned(),
                        token_hash: app::server::token::hash_token(&secret),
                        scopes,
                        expires_at,
                        owner_user_id: None,
                    },
                    &cli_actor(),
                    now,
                )
                .await?;
            eprintln!("token {name:?} created; it is shown once, store it now:");
            println!("{secret}");
        }
        TokenAction::List => {
            for t in store.list_api_tokens().await? {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked {}", at.to_rfc3339()),
                    (None, Some(at)) if at <= now => format!("expired {}", at.to_rfc3339()),
                    (None, Some(at)) => format!("active until {}", at.to_rfc3339()),
                    (None, None) => "active".into(),
                };
                let used = t.last_used_at.map_or_else(
                    || "never used".into(),
                    |at| format!("last used {}", at.to_rfc3339()),
                );
                println!(
                    "{}\t{}\t{state}\tcreated {}\t{used}",
                    t.name,
                    TokenScope::join(&t.scopes),
                    t.created_at.to_rfc3339()
                );
            }
        }
        TokenAction::Revoke { name, reason } => {
            let reason = reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            store
                .revoke_api_token(&name, &cli_actor(), reason, now)
                .await?;
            println!("token {name:?} revoked");
        }
    }
    Ok(())
}

async fn user_command(store: &dyn app::server::Store, action: UserAction) -> anyhow::Result<()> {
    match action {
        UserAction::Create { name, role } => {
            let username = Username::parse(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role: use viewer, deployer, lead or admin"))?;
            let (password, generated) = password_from_stdin_or_generated(&username)?;
            let hash = password::hash_password(&password)
                .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
            let user = store
                .create_user(&username, &hash, role, &cli_actor(), chrono::Utc::now())
                .await?;
            eprintln!("user {} created with role {}", user.username, user.role);
            if generated {
                eprintln!("its password is shown once:");
                println!("{}", password.expose());
            }
        }
        UserAction::ResetPassword { name, reason } => {
            let username = Username::parse(&name).map_err(|e| anyhow::anyhow!("NAME: {e}"))?;
            let (password, generated) = password_from_stdin_or_generated(&username)?;
            let hash = password::hash_password(&password)
                .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
            let reason = reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            store
                .set_password(
                    &username,
                    &hash,
                    None,
                    &cli_actor(),
                    reason,
                    chrono::Utc::now(),
                )
                .await?;
            eprintln!("the password of {username} was reset and its sessions ended");
            if generated {
                eprintln!("the new password is shown once:");
                println!("{}", password.expose());
            }
        }
        UserAction::List => {
            for u in store.list_users().await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{state}\tcreated {}",
                    u.username,
                    u.role,
                    u.created_at.to_rfc3339()
                );
            }
        }
    }
    Ok(())
}

/// A password piped in on standard input (checked like any new password), or a
/// generated one when standard input is a terminal; `true` when generated.
fn password_from_stdin_or_generated(username: &Username) -> anyhow::Result<(NewPassword, bool)> {
    if std::io::stdin().is_terminal() {
        let generated = NewPassword::parse(&password::generate_password())
            .map_err(|e| anyhow::anyhow!("password: {e}"))?;
        return Ok((generated, true));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let typed = NewPassword::parse(line.trim_end_matches(['\r', '\n']))
        .map_err(|e| anyhow::anyhow!("password: {e}"))?;
    password::refuse_weak(&typed, username.as_str())
        .map_err(|e| anyhow::anyhow!("password: {e}"))?;
    Ok((typed, false))
}

/// "512 healthy, 40 unhealthy, …", or "none new".
fn verdict_counts(seeded: &demo::Seeded) -> String {
    if seeded.verdicts.is_empty() {
        return "none new".to_owned();
    }
    seeded
        .verdicts
        .iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn post_json(
    remote: &Remote,
    path: &str,
    body: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("{}{path}", remote.server.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(remote.token()?)
        .json(body)
        .send()
        .await
        .with_context(|| format!("cannot reach Houston at {url}"))?;
    let status = response.status();
    let json: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let message = json
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("no details");
        let fields = json
            .get("fields")
            .and_then(|f| f.as_array())
            .map(|fs| {
                fs.iter()
                    .map(|f| {
                        format!(
                            "\n  {}: {}",
                            f["field"].as_str().unwrap_or("?"),
                            f["message"].as_str().unwrap_or("?")
                        )
                    })
                    .collect::<String>()
            })
            .unwrap_or_default();
        anyhow::bail!("Houston answered {status}: {message}{fields}");
    }
    Ok(json)
}

async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let commits: Vec<serde_json::Value> = args
        .commits
        .iter()
        .map(|c| {
            let (sha, message) = c.split_once('=').unwrap_or((c.as_str(), ""));
            serde_json::json!({ "sha": sha, "message": message })
        })
        .collect();
    let body = serde_json::json!({
        "service": args.service,
        "environment": args.environment,
        "version": args.version,
        "previous_version": args.previous_version,
        "author": args.author,
        "description": args.description,
        "ci_url": args.ci_url,
        "repository_url": args.repository_url,
        "status": args.status,
        "external_id": args.external_id,
        "commits": commits,
    });
    let deploy = post_json(&args.remote, "/api/v1/deploys", &body).await?;
    let id = deploy
        .get("id")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or_default();
    println!("{id}");
    eprintln!(
        "deploy {id} registered: {}/deploys/{id}",
        args.remote.server.trim_end_matches('/')
    );
    Ok(())
}

/// `houston gate`: 0 allowed, 1 denied, 2 no answer (unreachable, an error, or an
/// answer this version cannot read).
async fn gate(args: GateArgs) -> std::process::ExitCode {
    use std::process::ExitCode;
    let base = args.remote.server.trim_end_matches('/');
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("houston gate: {e}");
            return ExitCode::from(2);
        }
    };
    let (url, request) = if args.claim {
        let Some(run) = args.run() else {
            eprintln!(
                "houston gate: --claim needs the pipeline run: --run, HOUSTON_RUN, or the CI's GITHUB_RUN_ID / CI_PIPELINE_ID / BUILD_TAG"
            );
            return ExitCode::from(2);
        };
        let url = format!("{base}/api/v1/gate/claim");
        let body = serde_json::json!({
            "service": args.service,
            "environment": args.environment,
            "version": args.version,
            "ref": args.git_ref,
            "run": run,
        });
        (url.clone(), client.post(url).json(&body))
    } else {
        let url = format!("{base}/api/v1/gate");
        let mut query = vec![
            ("service", args.service.clone()),
            ("environment", args.environment.clone()),
        ];
        query.extend(args.version.clone().map(|v| ("version", v)));
        query.extend(args.git_ref.clone().map(|r| ("ref", r)));
        (url.clone(), client.get(url).query(&query))
    };
    let token = match args.remote.token() {
        Ok(token) => token,
        Err(e) => {
            eprintln!("houston gate: {e}");
            return ExitCode::from(2);
        }
    };
    let response = match request.bearer_auth(token).send().await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("houston gate: cannot reach Houston at {url}: {e}");
            return ExitCode::from(2);
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|json| {
                json.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or(text);
        eprintln!(
            "houston gate: Houston answered {status}: {}",
            app::domain::safe_for_logs(&message)
        );
        return ExitCode::from(2);
    }
    let answer: app::domain::GateAnswer = match serde_json::from_str(&text) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("houston gate: cannot read Houston's answer: {e}");
            return ExitCode::from(2);
        }
    };
    let place = app::domain::safe_for_logs(&format!(
        "{} to {}",
        args.service.trim(),
        args.environment.trim()
    ));
    println!(
        "{}: {place}",
        if answer.allowed { "allowed" } else { "denied" }
    );
    for line in app::domain::gate_lines(&answer) {
        println!("  {line}");
    }
    if !answer.allowed && answer.override_available.is_some() && !args.claim {
        println!("  an override is available: run again with --claim to use it for this run");
    }
    if answer.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn deploy_status(args: DeployStatusArgs) -> anyhow::Result<()> {
    let body = serde_json::json!({ "status": args.status });
    post_json(
        &args.remote,
        &format!("/api/v1/deploys/{}/status", args.id),
        &body,
    )
    .await?;
    eprintln!("deploy {} is now {}", args.id, args.status);
    Ok(())
}

/// `houston incident`: declares an incident, or reports its change, through the API.
async fn incident(action: IncidentAction) -> anyhow::Result<()> {
    let (remote, body) = match action {
        IncidentAction::Declare {
            remote,
            title,
            severity,
            services,
            environments,
            id,
            url,
        } => (
            remote,
            serde_json::json!({"id": id, "title": title, "severity": severity,
                "services": services, "environments": environments, "url": url}),
        ),
        IncidentAction::Move {
            remote,
            id,
            title,
            severity,
            state,
        } => (
            remote,
            serde_json::json!({"id": id, "title": title, "severity": severity, "state": state}),
        ),
    };
    let answer = post_json(&remote, "/api/v1/incidents", &body).await?;
    let incident = &answer["incident"];
    println!("{}", incident["id"]);
    eprintln!(
        "incident {} is {} ({}); {}/incidents/{}",
        incident["id"],
        incident["state"].as_str().unwrap_or("?"),
        answer["change"].as_str().unwrap_or("?"),
        remote.server.trim_end_matches('/'),
        incident["id"]
    );
    Ok(())
}

//! Houston's server: configuration, storage, the HTTP router and the command line's
//! building blocks. `router(state)` is public so tests can drive it without a socket.

pub mod backtest;
pub mod config;
pub mod config_file;
pub mod demo;
pub mod events;
pub mod gate_tally;
pub mod http;
pub mod jobs;
pub mod judge_offline;
pub mod listener;
pub mod prometheus;
pub mod site;
/// The SQL storage, seen here under its old name.
pub use houston_sql as storage;

/// The Prometheus to read metrics from, when `HOUSTON_PROMETHEUS_URL` names one.
pub fn prometheus_source(
    config: &config::Config,
) -> Option<Arc<dyn app::server::sources::SampleSource>> {
    config.prometheus.clone().and_then(|prometheus| {
        match prometheus::Prometheus::new(prometheus) {
            Ok(source) => Some(Arc::new(source) as Arc<dyn app::server::sources::SampleSource>),
            Err(e) => {
                tracing::error!(error = %e, "the Prometheus client could not be set up; Prometheus metrics read as unavailable");
                None
            }
        }
    })
}

use app::server::Store;
use app::server::access::Policy;
use app::server::security::SecurityLog;
use app::server::session::SessionSettings;
use app::server::setup::SetupGate;
use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<config::Config>,
    pub events: events::Events,
    pub leptos_options: LeptosOptions,
    /// Who may read without signing in.
    pub policy: Policy,
    /// How session cookies are issued.
    pub sessions: SessionSettings,
    /// The first-run set-up secret, while Houston has no accounts.
    pub setup: Arc<SetupGate>,
    /// Security events for the audit log, rate-limited.
    pub security: Arc<SecurityLog>,
    /// The bound on password hashing and checking at once.
    pub password_slots: app::server::password::PasswordSlots,
    /// Which roles must use a second factor (an admin's setting, cached briefly).
    pub second_factor: Arc<app::server::access::SecondFactorSetting>,
    /// Prometheus, when `HOUSTON_PROMETHEUS_URL` names one.
    pub samples: Option<Arc<dyn app::server::sources::SampleSource>>,
    /// Where webhooks may be sent (checked when they are saved and sent).
    pub outbound: Arc<app::server::outbound::OutboundPolicy>,
    /// The gate's answers, counted in memory until the next flush.
    pub gate_tally: gate_tally::GateTally,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: config::Config) -> Self {
        if config.site_root.is_none()
            && let Some(site) = site::built_site()
        {
            // Pages name the carried site's hashed files.
            app::use_built_site(site);
        }
        let leptos_options = LeptosOptions::builder()
            .output_name(std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "houston".into()))
            .site_root(
                config
                    .site_root
                    .as_ref()
                    .map_or_else(|| "target/site".to_owned(), |r| r.display().to_string()),
            )
            .site_pkg_dir("pkg")
            .site_addr(config.bind)
            .build();
        let samples = prometheus_source(&config);
        Self {
            samples,
            outbound: Arc::new(config.outbound_policy()),
            gate_tally: gate_tally::GateTally::default(),
            security: Arc::new(SecurityLog::new(store.clone())),
            password_slots: app::server::password::PasswordSlots::for_this_host(),
            second_factor: Arc::default(),
            events: events::Events::new(store.clone()),
            store,
            policy: Policy {
                anonymous_read: config.allow_anonymous_read,
            },
            sessions: SessionSettings {
                secure: config.is_https(),
                lifetime: config.session_lifetime,
                idle: config.session_idle,
            },
            setup: Arc::new(SetupGate::default()),
            config: Arc::new(config),
            leptos_options,
        }
    }
}

/// Headers every response carries. Pages set their own `Content-Security-Policy`
/// with the nonce of their hydration script (`app::shell`); every other response
/// gets one that allows nothing to run. HSTS when people reach Houston over https.
fn with_security_headers(router: Router<AppState>, https: bool) -> Router<AppState> {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    let router = router
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ));
    if https {
        router.layer(header(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        router
    }
}

/// Nothing Houston answers is kept by caches except its static files: pages and
/// API answers carry who is signed in, secrets shown once, admin and audit data.
async fn no_store(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_file = http::is_static_file(request.uri().path());
    let mut response = next.run(request).await;
    if !is_file {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A server function's error is answered with its kind's status (and
/// `Retry-After`), read from the error itself: the one place that maps errors to
/// statuses for server functions, whether the function returned the error or its
/// arguments did not decode (400). Only error answers are read, and those are small.
async fn server_fn_error_status(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    // A form posted without JavaScript gets its error as a redirect back to the
    // page (server_fn's form redirects): that stays a redirect.
    if response.status().is_redirection()
        || !response
            .headers()
            .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, 256 * 1024).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "could not read a server function's error");
            return app::error::AppError::internal().into_response();
        }
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        parts.status = axum::http::StatusCode::from_u16(error.status_code())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(secs) = error.retry_after_secs() {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Everything no route takes: a static file of the site — the folder on disk when
/// one is set (`HOUSTON_SITE_ROOT`), otherwise the one the binary carries — or
/// else the not-found page.
async fn static_file_or_page(
    state: axum::extract::State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    if state.config.site_root.is_none()
        && let Some(file) = site::serve(request.method(), request.uri().path(), request.headers())
    {
        return file;
    }
    let on_disk = leptos_axum::file_and_error_handler_with_context::<AppState, _>(
        page_context(&state),
        app::shell,
    );
    on_disk(request.uri().clone(), state, request).await
}

/// What every page render finds in its context — the store and the settings the
/// server functions read — whether a route or the not-found fallback renders it.
fn page_context(state: &AppState) -> impl Fn() + Clone + Send + 'static {
    let store = state.store.clone();
    let (sessions, policy, setup) = (state.sessions, state.policy, state.setup.clone());
    let security = state.security.clone();
    let password_slots = state.password_slots.clone();
    let second_factor = state.second_factor.clone();
    let outbound = state.outbound.clone();
    let samples = state.samples.clone();
    let events = state.events.clone();
    let page_cache = events.page_cache();
    let lock_events = events.clone();
    let live = app::server::LiveChanges(Arc::new(move |kind, deploy| {
        events.deploy_changed(kind, deploy);
    }));
    let live_locks = app::server::LiveLocks(Arc::new(move |change| {
        lock_events.lock_changed(change);
    }));
    move || {
        provide_context(live.clone());
        provide_context(live_locks.clone());
        provide_context(samples.clone());
        provide_context(store.clone());
        provide_context(page_cache.clone());
        provide_context(sessions);
        provide_context(policy);
        provide_context(setup.clone());
        provide_context(security.clone());
        provide_context(password_slots.clone());
        provide_context(second_factor.clone());
        provide_context(outbound.clone());
    }
}

/// The whole application: API, health endpoints, pages, server functions and
/// static files.
pub fn router(state: AppState) -> Router {
    // The route list is generated once per process: generating it renders the app
    // in a special mode, and a page rendered by another router at the same moment
    // (tests build many routers in parallel) could wait forever.
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(app::App)).clone();
    let options = state.leptos_options.clone();
    let app = Router::new()
        .nest("/api/v1", http::api_router(&state))
        .route("/healthz", get(http::health::healthz))
        .route("/readyz", get(http::health::readyz))
        .leptos_routes_with_context(&state, routes, page_context(&state), move || {
            app::shell(options.clone())
        })
        .fallback(static_file_or_page);
    // Outermost last: cross-site check, then who is calling, then the sign-in rule.
    let app = app
        .layer(axum::middleware::from_fn(server_fn_error_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::auth::pages_need_sign_in,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::csrf::refuse_cross_site,
        ));
    with_security_headers(app, state.config.is_https())
        .layer(axum::middleware::from_fn(no_store))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            state.config.max_concurrent_requests,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

//! Houston's server: configuration, storage, the HTTP router and the command line's
//! building blocks. `router(state)` is public so tests can drive it without a socket.

pub mod config;
pub mod demo;
pub mod events;
pub mod http;
pub mod storage;
pub mod token;

use app::ssr::Store;
use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, header};
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
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: config::Config) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name(std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "houston".into()))
            .site_root(config.site_root.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(config.bind)
            .build();
        Self {
            store,
            config: Arc::new(config),
            events: events::Events::default(),
            leptos_options,
        }
    }
}

/// Headers every response carries. The script policy (a CSP with a nonce for the
/// hydration script) comes with accounts; until then the policy forbids framing,
/// plugins, foreign form targets and `<base>` rewrites.
fn with_security_headers(router: Router<AppState>) -> Router<AppState> {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            "frame-ancestors 'none'; base-uri 'self'; object-src 'none'; form-action 'self'",
        ))
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
    let store = state.store.clone();
    let options = state.leptos_options.clone();
    let sessions = app::ssr::session::SessionSettings {
        secure: state
            .config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        lifetime: chrono::Duration::hours(12),
    };
    let app = Router::new()
        .nest(
            "/api/v1",
            http::api_router(&state).route("/events", get(events::stream)),
        )
        .route("/healthz", get(http::health::healthz))
        .route("/readyz", get(http::health::readyz))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(store.clone());
                provide_context(sessions);
            },
            move || app::shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ));
    with_security_headers(app)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

//! The HTML shell, the layout every page shares, and the route table.

use crate::api::{Logout, whoami};
use crate::components::{LockBanner, load, provide_locks_in_force};
use crate::domain::Role;
use crate::pages::{
    AccountPage, AdminAuditPage, AdminNotificationsPage, AdminTokensPage, AdminUsersPage,
    DeployDetailPage, HistoryPage, IncidentPage, IncidentsPage, LocksPage, LoginPage,
    MetricSettingsPage, MissionControlPage, NotFoundPage, SetupPage, TimelinePage,
};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    Lazy, LazyRoute, SsrMode,
    components::{A, Route, Router, Routes},
    lazy_route, path,
};

/// The file names of a built site whose names carry a hash of their content (the
/// release binary's embedded site), so browsers may keep them for good.
#[derive(Clone, Debug)]
pub struct BuiltSite {
    /// The site's package folder as a URL path, e.g. `/pkg`.
    pub pkg: String,
    /// The main JS module, wasm bundle and stylesheet, file names within `pkg`.
    pub js: String,
    pub wasm: String,
    pub css: String,
}

#[cfg(feature = "ssr")]
static BUILT_SITE: std::sync::OnceLock<BuiltSite> = std::sync::OnceLock::new();

/// Makes every page name `site`'s files (called once at start by the server that
/// serves them). Without it, pages name the unhashed files of a development build.
#[cfg(feature = "ssr")]
pub fn use_built_site(site: BuiltSite) {
    let _ = BUILT_SITE.set(site);
}

/// The document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_security_policy();
    #[cfg(feature = "ssr")]
    let built = BUILT_SITE.get().cloned();
    #[cfg(not(feature = "ssr"))]
    let built: Option<BuiltSite> = None;
    let scripts = match built {
        Some(site) => view! { <SiteScripts site /> }.into_any(),
        None => view! {
            <HydrationScripts options=options.clone() />
            <link rel="stylesheet" id="leptos" href="/pkg/houston.css" />
        }
        .into_any(),
    };
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options />
                {scripts}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// What Leptos' `HydrationScripts` writes, for files with hashed names: preload the
/// module and the wasm, then load, start and hydrate. (`HydrationScripts` reads the
/// names from a file beside the executable; the embedded site has none on disk.)
#[component]
fn SiteScripts(site: BuiltSite) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    let pkg = site.pkg;
    let (js, wasm) = (format!("{pkg}/{}", site.js), format!("{pkg}/{}", site.wasm));
    let start = format!(
        "import({js:?}).then(m => m.default({{module_or_path: {wasm:?}}}).then(() => m.hydrate()));"
    );
    view! {
        <link rel="modulepreload" href=js.clone() crossorigin="" />
        <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin="" />
        <script type="module" nonce=nonce>{start}</script>
        <link rel="stylesheet" id="leptos" href=format!("{pkg}/{}", site.css) />
    }
}

/// The page's `Content-Security-Policy`: scripts only from this site, plus the
/// inline hydration script that carries this response's nonce; WebAssembly may be
/// compiled; nothing may frame the page.
#[cfg(feature = "ssr")]
fn set_page_security_policy() {
    leptos::nonce::provide_nonce();
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&policy),
    ) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    // Browser tests wait for this marker before they click: clicks on server-rendered
    // markup do nothing until the wasm has hydrated it.
    Effect::new(move |_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });

    // One read of the locks in force per page, shared by the banner and the pages.
    provide_locks_in_force();

    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Houston".to_owned() } else { format!("{page} · Houston") }
        } />
        <Router>
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "Houston"
                </a>
                <nav class="topnav" aria-label="Main">
                    <A href="/" exact=true>"Mission control"</A>
                    <A href="/deploys">"History"</A>
                    <A href="/locks">"Locks"</A>
                    <A href="/incidents">"Incidents"</A>
                    <A href="/timeline">"Timeline"</A>
                    <A href="/settings/metrics">"Metrics"</A>
                </nav>
                <UserMenu />
            </header>
            <main class="page">
                <LockBanner />
                <Routes fallback=NotFoundPage>
                    // Mission control is where people land: it ships in the main bundle.
                    // Every other page is its own chunk of wasm, fetched when visited.
                    <Route path=path!("/") view=MissionControlPage />
                    <Route path=path!("/deploys") view={Lazy::<History>::new()} />
                    <Route path=path!("/deploys/:id") view={Lazy::<DeployDetail>::new()} />
                    <Route path=path!("/login") view={Lazy::<Login>::new()} />
                    <Route path=path!("/setup") view={Lazy::<Setup>::new()} />
                    <Route path=path!("/admin/users") view={Lazy::<AdminUsers>::new()} />
                    <Route path=path!("/admin/tokens") view={Lazy::<AdminTokens>::new()} />
                    <Route path=path!("/admin/audit") view={Lazy::<AdminAudit>::new()} />
                    <Route path=path!("/admin/notifications") view={Lazy::<AdminNotifications>::new()} />
                    <Route path=path!("/settings/metrics") view={Lazy::<MetricSettings>::new()} />
                    <Route path=path!("/locks") view={Lazy::<Locks>::new()} />
                    <Route path=path!("/incidents") view={Lazy::<Incidents>::new()} />
                    <Route path=path!("/incidents/:id") view={Lazy::<IncidentDetail>::new()} />
                    <Route path=path!("/timeline") view={Lazy::<TimelineView>::new()} />
                    // Async: the page resolves before headers go out, so it can redirect a stranger.
                    <Route path=path!("/account") view={Lazy::<Account>::new()} ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

/// The pages loaded on demand: for each, a route type whose `view` is a split point
/// of the wasm (Leptos' `lazy_route` with cargo-leptos `--split`), so the page and
/// everything only it uses (its server functions' client side included) leave the
/// main bundle. Each split is named after its route type.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_pages!(
    History => HistoryPage,
    DeployDetail => DeployDetailPage,
    Login => LoginPage,
    Account => AccountPage,
    Setup => SetupPage,
    AdminUsers => AdminUsersPage,
    AdminTokens => AdminTokensPage,
    AdminAudit => AdminAuditPage,
    AdminNotifications => AdminNotificationsPage,
    MetricSettings => MetricSettingsPage,
    Locks => LocksPage,
    Incidents => IncidentsPage,
    IncidentDetail => IncidentPage,
    TimelineView => TimelinePage,
);

/// Who is signed in, with a way out; or a way in.
#[component]
fn UserMenu() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    // Asked again on every navigation, so signing in or out shows at once.
    let me = load(move || location.pathname.get(), |_| whoami());
    // Signing out is a plain form post: the server function answers a form with a
    // redirect to the sign-in page (a full load, which also drops the page's
    // state), and the main bundle carries no client for it.
    let logout_url = <Logout as leptos::server_fn::ServerFn>::PATH;
    view! {
        <div class="user-menu">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(user)) => Either::Left(view! {
                            {(user.role == Role::Admin).then(|| view! { <A href="/admin/users" attr:class="admin-link">"Admin"</A> })}
                            <a href="/account" class="user-name" data-testid="signed-in-as">{user.username}</a>
                            <form method="post" action=logout_url>
                                <button type="submit" class="button ghost small">"Sign out"</button>
                            </form>
                        }),
                        _ => Either::Right(view! { <a href="/login" class="button ghost small">"Sign in"</a> }),
                    }
                })}
            </Transition>
        </div>
    }
}

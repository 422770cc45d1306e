//! The HTML shell, the layout every page shares, and the route table.

use crate::api::{Logout, whoami};
use crate::domain::Role;
use crate::pages::{
    AccountPage, AdminAuditPage, AdminTokensPage, AdminUsersPage, DeployDetailPage, HistoryPage,
    LoginPage, MissionControlPage, NotFoundPage, SetupPage,
};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{A, Route, Router, Routes},
    path,
};

/// The document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
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

    view! {
        <Stylesheet id="leptos" href="/pkg/houston.css" />
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
                </nav>
                <UserMenu />
            </header>
            <main class="page">
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=MissionControlPage />
                    <Route path=path!("/deploys") view=HistoryPage />
                    <Route path=path!("/deploys/:id") view=DeployDetailPage />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/setup") view=SetupPage />
                    <Route path=path!("/admin/users") view=AdminUsersPage />
                    <Route path=path!("/admin/tokens") view=AdminTokensPage />
                    <Route path=path!("/admin/audit") view=AdminAuditPage />
                    // Async: the page resolves before headers go out, so it can redirect a stranger.
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

/// Who is signed in, with a way out; or a way in.
#[component]
fn UserMenu() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    // Asked again on every navigation, so signing in or out shows at once.
    let me = Resource::new(move || location.pathname.get(), |_| whoami());
    let logout = ServerAction::<Logout>::new();
    view! {
        <div class="user-menu">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(user)) => view! {
                            {(user.role == Role::Admin).then(|| view! { <A href="/admin/users" attr:class="admin-link">"Admin"</A> })}
                            <a href="/account" class="user-name" data-testid="signed-in-as">{user.username}</a>
                            <ActionForm action=logout>
                                <button type="submit" class="button ghost small">"Sign out"</button>
                            </ActionForm>
                        }.into_any(),
                        _ => view! { <a href="/login" class="button ghost small">"Sign in"</a> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

//! The HTML shell, the layout every page shares, and the route table.

use crate::pages::{DeployDetailPage, HistoryPage, MissionControlPage, NotFoundPage};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    components::{A, Route, Router, Routes},
    path,
};

/// The document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
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
            </header>
            <main class="page">
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=MissionControlPage />
                    <Route path=path!("/deploys") view=HistoryPage />
                    <Route path=path!("/deploys/:id") view=DeployDetailPage />
                </Routes>
            </main>
        </Router>
    }
}

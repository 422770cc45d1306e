//! Houston's web application: the Leptos pages and components, and the server
//! functions they call, compiled for the server (feature `ssr`) and for the browser
//! (feature `hydrate`). `server` is what the server functions stand on, on the
//! server only: the one entry (`server::serve`), the request's caller, store and
//! publisher, sessions, passwords, second factors. The domain and the judge are the
//! `houston-core` crate, seen here as `domain`; the use cases are `houston-service`.

pub mod api;
pub mod components;
pub use houston_core as domain;
pub mod error;
pub mod pages;
mod root;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "ssr")]
pub use root::use_built_site;
pub use root::{App, BuiltSite, shell};

/// Entry point the browser calls once the wasm bundle has loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: hydration waits for the chunk of wasm the current page's route needs.
    leptos::mount::hydrate_lazy(App);
}

//! First run: the one-time link `houston serve` prints leads here, where the first
//! admin account is created.

use crate::api::{CompleteSetup, setup_needed};
use crate::components::load;
use crate::pages::ErrorPanel;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SetupPage() -> impl IntoView {
    let setup = ServerAction::<CompleteSetup>::new();
    let secret = use_query_map().with_untracked(|q| q.get("token").unwrap_or_default());
    let needed = load(|| (), |_| setup_needed());
    let error = move || match setup.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <Title text="Set up Houston" />
        <div class="login-wrap">
            <Transition fallback=|| ()>
                {move || {
                    let secret = secret.clone();
                    Suspend::new(async move {
                        match needed.await {
                            Ok(true) => view! {
                                <section class="panel login" data-testid="setup">
                                    <h1>"Set up Houston"</h1>
                                    <p class="muted small">"Create the first account. It is an admin: it can add everyone else."</p>
                                    <ActionForm action=setup>
                                        <input type="hidden" name="secret" value=secret />
                                        <label>
                                            <span>"User name"</span>
                                            <input type="text" name="username" autocomplete="username" required autofocus />
                                        </label>
                                        <label>
                                            <span>"Password (at least 12 characters)"</span>
                                            <input type="password" name="password" autocomplete="new-password" minlength="12" required />
                                        </label>
                                        {move || error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
                                        <button type="submit" class="button" disabled=move || setup.pending().get()>"Create admin and sign in"</button>
                                    </ActionForm>
                                </section>
                            }.into_any(),
                            Ok(false) => view! {
                                <section class="panel login">
                                    <h1>"Houston is set up"</h1>
                                    <p>"Accounts exist already. " <a href="/login">"Sign in"</a> "."</p>
                                </section>
                            }.into_any(),
                            Err(error) => view! { <ErrorPanel error /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </div>
    }
}

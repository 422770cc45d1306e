//! Signing in, and the account page only a signed-in person sees.

use crate::api::{ChangePassword, Login, setup_needed, whoami};
use crate::pages::ErrorPanel;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let next = use_query_map().with_untracked(|q| q.get("next"));
    let error = move || match login.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    let needs_setup = Resource::new(|| (), |_| setup_needed());
    view! {
        <Title text="Sign in" />
        <div class="login-wrap">
            <section class="panel login">
                <h1>"Sign in to Houston"</h1>
                <ActionForm action=login>
                    <input type="hidden" name="next" value=next.unwrap_or_default() />
                    <label>
                        <span>"User name"</span>
                        <input type="text" name="username" autocomplete="username" required autofocus />
                    </label>
                    <label>
                        <span>"Password"</span>
                        <input type="password" name="password" autocomplete="current-password" required />
                    </label>
                    {move || error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
                    <button type="submit" class="button" disabled=move || login.pending().get()>"Sign in"</button>
                </ActionForm>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        if matches!(needs_setup.await, Ok(true)) {
                            view! {
                                <p class="form-note small" data-testid="setup-hint">
                                    "Houston has no accounts yet. Open the one-time set-up link "
                                    <code>"houston serve"</code>
                                    " printed when it started, or run "
                                    <code>"houston user create --role admin"</code>"."
                                </p>
                            }.into_any()
                        } else {
                            view! { <p class="muted small">"No account yet? Ask an admin of this Houston for one."</p> }.into_any()
                        }
                    })}
                </Transition>
            </section>
        </div>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <Title text="Your account" />
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(user)) => view! {
                        <div class="page-head"><h1>"Your account"</h1></div>
                        <section class="panel" data-testid="account">
                            <dl class="facts">
                                <div><dt>"User name"</dt><dd>{user.username}</dd></div>
                                <div><dt>"Role"</dt><dd>{user.role.to_string()}</dd></div>
                            </dl>
                        </section>
                        <ChangePasswordForm />
                    }.into_any(),
                    Ok(None) => {
                        #[cfg(feature = "ssr")]
                        {
                            leptos_axum::redirect("/login?next=/account");
                            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                                response.set_status(http::StatusCode::FOUND);
                            }
                        }
                        view! {
                            <div class="panel empty">
                                <h2>"Sign in to see your account"</h2>
                                <p><a href="/login?next=/account">"Sign in"</a></p>
                            </div>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Changing one's own password: the current one, then the new one. Other
/// sessions of the account end; this one stays.
#[component]
fn ChangePasswordForm() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    view! {
        <section class="panel">
            <h2>"Change your password"</h2>
            <ActionForm action=change attr:class="inline-form" attr:data-testid="change-password">
                <label><span>"Current password"</span><input type="password" name="current" required autocomplete="current-password" /></label>
                <label><span>"New password (12+ characters)"</span><input type="password" name="new" minlength="12" required autocomplete="new-password" /></label>
                <button type="submit" class="button" disabled=move || change.pending().get()>"Change password"</button>
            </ActionForm>
            {move || match change.value().get() {
                Some(Ok(())) => view! { <p class="form-note" role="status">"Password changed. Your other sessions have ended."</p> }.into_any(),
                Some(Err(error)) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}

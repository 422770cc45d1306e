//! Signing in, and the account page only a signed-in person sees.

use crate::api::{
    BeginSecondFactor, ChangePassword, ConfirmSecondFactor, DisableSecondFactor, Login,
    setup_needed, whoami,
};
use crate::components::load;
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
    let needs_setup = load(|| (), |_| setup_needed());
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
                    <label>
                        <span>"Authenticator code " <span class="muted small">"(if you set one up)"</span></span>
                        <input type="text" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="12" />
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
    let me = load(|| (), |_| whoami());
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
                        <SecondFactorPanel on=user.second_factor required=user.second_factor_required />
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

/// Two-factor sign-in: set it up (scan, confirm with a first code, keep the
/// recovery codes) or turn it off with the password.
#[component]
fn SecondFactorPanel(on: bool, required: bool) -> impl IntoView {
    let begin = ServerAction::<BeginSecondFactor>::new();
    let confirm = ServerAction::<ConfirmSecondFactor>::new();
    let disable = ServerAction::<DisableSecondFactor>::new();
    let error = move || {
        [
            begin.value().get().and_then(Result::err),
            confirm.value().get().and_then(Result::err),
            disable.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
    };
    view! {
        <section class="panel" data-testid="second-factor">
            <h2>"Two-factor sign-in"</h2>
            {required.then(|| view! { <p class="form-note">"Your role must sign in with a second factor before it can change anything."</p> })}
            {move || {
                if let Some(Ok(codes)) = confirm.value().get() {
                    return view! {
                        <div class="secret-once" role="status">
                            <p>"Two-factor sign-in is on. Keep these recovery codes somewhere safe: each signs you in once if you lose your phone. They are shown only now."</p>
                            <ul class="recovery-codes" data-testid="recovery-codes">
                                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
                            </ul>
                        </div>
                    }.into_any();
                }
                if matches!(disable.value().get(), Some(Ok(()))) {
                    return view! { <p class="form-note" role="status">"Two-factor sign-in is off."</p> }.into_any();
                }
                if on {
                    return view! {
                        <p>"On: signing in asks for a code from your authenticator app."</p>
                        {(!required).then(|| view! {
                            <ActionForm action=disable attr:class="inline-form">
                                <label><span>"Password"</span><input type="password" name="password" required autocomplete="current-password" /></label>
                                <button type="submit" class="button ghost">"Turn off"</button>
                            </ActionForm>
                        })}
                    }.into_any();
                }
                match begin.value().get() {
                    Some(Ok(enrolment)) => view! {
                        <p>"Scan this with your authenticator app, or type the key into it, then enter the code it shows."</p>
                        <div class="qr" inner_html=enrolment.qr_svg></div>
                        <p class="small">"Key: " <code data-testid="totp-secret">{enrolment.secret}</code></p>
                        <details><summary class="small">"Set-up address"</summary><code class="secret small">{enrolment.otpauth_url}</code></details>
                        <ActionForm action=confirm attr:class="inline-form">
                            <label><span>"Code"</span><input type="text" name="code" required autocomplete="one-time-code" inputmode="numeric" maxlength="8" /></label>
                            <button type="submit" class="button">"Turn on"</button>
                        </ActionForm>
                    }.into_any(),
                    _ => view! {
                        <p>"Off. With it on, signing in also asks for a code from an authenticator app on your phone."</p>
                        <ActionForm action=begin attr:class="inline-form">
                            <label><span>"Password"</span><input type="password" name="password" required autocomplete="current-password" /></label>
                            <button type="submit" class="button">"Set up two-factor sign-in"</button>
                        </ActionForm>
                    }.into_any(),
                }
            }}
            {error}
        </section>
    }
}

//! Administration pages: accounts, API tokens and the audit log. The server
//! functions behind them refuse anyone but an admin; the pages show that refusal.

use crate::api::AsOf;
use crate::api::{
    CreateToken, CreateUser, NotificationsView, ResetPassword, ResetSecondFactor, RevokeToken,
    SetSecondFactorRule, SetUserDisabled, SetUserRole, SetWebhooks, get_notifications, list_audit,
    list_tokens, list_users, second_factor_rule,
};
use crate::components::{absolute_time, load};
use crate::domain::{AUDIT_ACTIONS, AuditQuery, Role, TokenScope};
use crate::error::AppError;
use crate::pages::ErrorPanel;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

#[component]
fn AdminNav() -> impl IntoView {
    view! {
        <nav class="subnav" aria-label="Administration">
            <A href="/admin/users">"Users"</A>
            <A href="/admin/tokens">"API tokens"</A>
            <A href="/admin/notifications">"Notifications"</A>
            <A href="/admin/audit">"Audit log"</A>
        </nav>
    }
}

/// The message of a failed action, for the form that sent it.
fn failure<T>(value: Option<Result<T, AppError>>) -> Option<String> {
    match value {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    }
}

#[component]
fn FormError(message: Option<String>) -> impl IntoView {
    message.map(|message| view! { <p class="form-error" role="alert">{message}</p> })
}

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let set_disabled = ServerAction::<SetUserDisabled>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let reset_factor = ServerAction::<ResetSecondFactor>::new();
    let users = load(
        move || {
            (
                create.version().get(),
                set_role.version().get(),
                set_disabled.version().get(),
                reset_factor.version().get(),
            )
        },
        |_| list_users(),
    );
    let create_error = move || failure(create.value().get());
    let row_error = move || {
        failure(set_role.value().get())
            .or_else(|| failure(set_disabled.value().get()))
            .or_else(|| failure(reset.value().get()))
            .or_else(|| failure(reset_factor.value().get()))
    };
    view! {
        <Title text="Users" />
        <div class="page-head">
            <h1>"Users"</h1>
            <p class="muted">"Who may sign in, and what their role lets them do."</p>
        </div>
        <AdminNav />
        <section class="panel">
            <h2>"Add a user"</h2>
            <ActionForm action=create attr:class="inline-form">
                <label><span>"User name"</span><input type="text" name="username" required autocomplete="off" /></label>
                <label><span>"Password (12+ characters)"</span><input type="password" name="password" minlength="12" required autocomplete="new-password" /></label>
                <label>
                    <span>"Role"</span>
                    <select name="role">
                        {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == Role::Viewer>{r.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="button" disabled=move || create.pending().get()>"Add user"</button>
            </ActionForm>
            {move || view! { <FormError message=create_error() /> }}
            <p class="muted small">
                "Viewers read; deployers register deploys and lock their own; leads lock anything and override; admins manage users, tokens and settings."
            </p>
        </section>
        <SecondFactorRulePanel />
        {move || view! { <FormError message=row_error() /> }}
        {move || match (reset.input().get(), reset.value().get()) {
            (_, Some(Ok(password))) => view! {
                <section class="panel secret-once" data-testid="reset-password" role="status">
                    <h2>"Password reset"</h2>
                    <p>"Give this password to its owner now; Houston will not show it again. Their sessions have ended."</p>
                    <code class="secret">{password}</code>
                </section>
            }.into_any(),
            _ => ().into_any(),
        }}
        <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! {
                        <div class="table-wrap">
                            <table data-testid="users">
                                <thead><tr><th>"User"</th><th>"Role"</th><th>"State"</th><th>"Second factor"</th><th>"Created"</th><th></th></tr></thead>
                                <tbody>
                                    {users.into_iter().map(|user| {
                                        let name = user.username.to_string();
                                        let (role_name, toggle_name, reset_name, factor_name) = (name.clone(), name.clone(), name.clone(), name.clone());
                                        let second_factor = user.second_factor;
                                        let role_label = format!("Role of {name}");
                                        let disabled = user.disabled_at.is_some();
                                        view! {
                                            <tr>
                                                <th>{name}</th>
                                                <td>
                                                    <ActionForm action=set_role attr:class="row-form">
                                                        <input type="hidden" name="username" value=role_name />
                                                        <select name="role" aria-label=role_label>
                                                            {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == user.role>{r.as_str()}</option> }).collect_view()}
                                                        </select>
                                                        <input type="text" name="reason" class="reason" placeholder="why (optional)" aria-label="Reason for the audit log" />
                                                        <button type="submit" class="button ghost small">"Change"</button>
                                                    </ActionForm>
                                                </td>
                                                <td>{if disabled { "disabled" } else { "active" }}</td>
                                                <td>
                                                    {if second_factor { "on" } else { "off" }}
                                                    {second_factor.then(|| view! {
                                                        <ActionForm action=reset_factor attr:class="row-form">
                                                            <input type="hidden" name="username" value=factor_name />
                                                            <input type="text" name="reason" class="reason" placeholder="why (e.g. lost phone)" aria-label="Reason for the audit log" />
                                                            <button type="submit" class="button ghost small">"Turn off"</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                                <td class="nowrap">{absolute_time(user.created_at)}</td>
                                                <td>
                                                    <ActionForm action=set_disabled attr:class="row-form">
                                                        <input type="hidden" name="username" value=toggle_name />
                                                        <input type="hidden" name="disabled" value=(!disabled).to_string() />
                                                        <input type="text" name="reason" class="reason" placeholder="why (optional)" aria-label="Reason for the audit log" />
                                                        <button type="submit" class="button ghost small">{if disabled { "Enable" } else { "Disable" }}</button>
                                                    </ActionForm>
                                                    <ActionForm action=reset attr:class="row-form">
                                                        <input type="hidden" name="username" value=reset_name />
                                                        <button type="submit" class="button ghost small">"Reset password"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn AdminTokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = load(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let create_error = move || failure(create.value().get());
    let revoke_error = move || failure(revoke.value().get());
    view! {
        <Title text="API tokens" />
        <div class="page-head">
            <h1>"API tokens"</h1>
            <p class="muted">"For CI pipelines and scripts. Houston keeps only a hash: a token is shown once, when it is created."</p>
        </div>
        <AdminNav />
        {move || match create.value().get() {
            Some(Ok(created)) => view! {
                <section class="panel secret-once" data-testid="new-token" role="status">
                    <h2>"Token “" {created.token.name.clone()} "” created"</h2>
                    <p>"Copy it now; Houston cannot show it again."</p>
                    <code class="secret" data-testid="token-secret">{created.secret.clone()}</code>
                    <p class="muted small">"Send it as " <code>"Authorization: Bearer <token>"</code> "."</p>
                </section>
            }.into_any(),
            _ => ().into_any(),
        }}
        <section class="panel">
            <h2>"Create a token"</h2>
            <ActionForm action=create attr:class="inline-form">
                <label><span>"Name"</span><input type="text" name="name" required maxlength="64" placeholder="ci-production" autocomplete="off" /></label>
                <fieldset class="scopes">
                    <legend>"Scopes"</legend>
                    {TokenScope::ALL.into_iter().map(|scope| view! {
                        <label class="check">
                            <input type="checkbox" name=format!("scopes[{}]", scope.as_str()) value="on" checked=scope == TokenScope::Deploy />
                            {scope.as_str()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <label><span>"Expires"</span>
                    <select name="expires_in_days" data-testid="token-expiry">
                        <option value="30">"in 30 days"</option>
                        <option value="90" selected>"in 90 days"</option>
                        <option value="365">"in a year"</option>
                        <option value="">"never"</option>
                    </select>
                </label>
                <button type="submit" class="button" disabled=move || create.pending().get()>"Create token"</button>
            </ActionForm>
            {move || view! { <FormError message=create_error() /> }}
            <p class="muted small">"deploy: register deploys · ingest: send metrics and errors · gate: ask whether a deploy may go · admin: everything."</p>
        </section>
        {move || view! { <FormError message=revoke_error() /> }}
        <Transition fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(read) if read.value.is_empty() => view! {
                        <div class="panel empty"><p>"No API tokens yet."</p></div>
                    }.into_any(),
                    Ok(AsOf { now, value: tokens }) => view! {
                        <div class="table-wrap">
                            <table data-testid="tokens">
                                <thead><tr><th>"Name"</th><th>"Scopes"</th><th>"Created"</th><th>"Created by"</th><th>"Last used"</th><th>"State"</th><th></th></tr></thead>
                                <tbody>
                                    {tokens.into_iter().map(|token| {
                                        let active = token.is_active_at(now);
                                        let revocable = token.revoked_at.is_none();
                                        let state = match (token.revoked_at, token.expires_at) {
                                            (Some(at), _) => format!("revoked {}", absolute_time(at)),
                                            (None, Some(at)) if at <= now => format!("expired {}", absolute_time(at)),
                                            (None, Some(at)) => format!("active until {}", absolute_time(at)),
                                            (None, None) => "active, no expiry".to_owned(),
                                        };
                                        let name = token.name.clone();
                                        view! {
                                            <tr class:revoked=!active>
                                                <th>{token.name.clone()}</th>
                                                <td><code>{TokenScope::join(&token.scopes)}</code></td>
                                                <td class="nowrap">{absolute_time(token.created_at)}</td>
                                                <td>{token.created_by.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                                <td class="nowrap">{token.last_used_at.map_or_else(|| "never".to_owned(), absolute_time)}</td>
                                                <td class="nowrap" data-testid="token-state">{state}</td>
                                                <td>
                                                    {revocable.then(|| view! {
                                                        <ActionForm action=revoke attr:class="row-form">
                                                            <input type="hidden" name="name" value=name />
                                                            <input type="text" name="reason" class="reason" placeholder="why (optional)" aria-label="Reason for the audit log" />
                                                            <button type="submit" class="button ghost small danger">"Revoke"</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        params.with(|q| AuditQuery {
            action: q.get("action"),
            actor: q.get("actor"),
            since: q.get("since"),
            until: q.get("until"),
            limit: q.get("limit").and_then(|l| l.parse().ok()),
        })
    });
    let entries = load(move || query.get(), list_audit);
    let current = query.get_untracked();
    view! {
        <Title text="Audit log" />
        <div class="page-head">
            <h1>"Audit log"</h1>
            <p class="muted">"Every change to accounts, tokens and sign-ins: who, when (UTC), from where, and why. Nothing here can be edited or deleted."</p>
        </div>
        <AdminNav />
        <Form method="GET" action="/admin/audit" attr:class="filters">
            <label>
                <span>"Action"</span>
                <select name="action">
                    <option value="">"Any"</option>
                    {AUDIT_ACTIONS.into_iter().map(|a| view! {
                        <option value=a selected=current.action.as_deref() == Some(a)>{a}</option>
                    }).collect_view()}
                </select>
            </label>
            <label><span>"Actor"</span><input type="text" name="actor" placeholder="user:ada" value=current.actor.clone().unwrap_or_default() /></label>
            <label><span>"From (UTC)"</span><input type="date" name="since" value=current.since.clone().unwrap_or_default() /></label>
            <label><span>"To (UTC)"</span><input type="date" name="until" value=current.until.clone().unwrap_or_default() /></label>
            <div class="filter-actions">
                <button type="submit" class="button">"Filter"</button>
                <a class="button ghost" href="/admin/audit">"Clear"</a>
            </div>
        </Form>
        <Transition fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(entries) if entries.is_empty() => view! {
                        <div class="panel empty"><p>"No entries match these filters."</p></div>
                    }.into_any(),
                    Ok(entries) => view! {
                        <div class="table-wrap">
                            <table data-testid="audit">
                                <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"From"</th><th>"What"</th><th>"Target"</th><th>"Why / detail"</th></tr></thead>
                                <tbody>
                                    {entries.into_iter().map(|e| view! {
                                        <tr>
                                            <td class="nowrap">{e.at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                            <td>{e.actor}</td>
                                            <td class="nowrap">{e.source_address.unwrap_or_else(|| "—".into())}</td>
                                            <td><code>{e.action}</code></td>
                                            <td>{e.target}</td>
                                            <td>
                                                {e.reason.map(|r| view! { <span>{r}</span> })}
                                                {e.detail.map(|d| view! { <span class="sub">{d}</span> })}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Which roles must sign in with a second factor: an admin's setting, audited.
#[component]
fn SecondFactorRulePanel() -> impl IntoView {
    let set = ServerAction::<SetSecondFactorRule>::new();
    let rule = load(move || set.version().get(), |_| second_factor_rule());
    let choices = [
        ("nobody", "nobody (optional for everyone)"),
        ("lead", "leads and admins"),
        ("admin", "admins"),
    ];
    view! {
        <section class="panel">
            <h2>"Two-factor sign-in"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let current = rule.await.unwrap_or_else(|_| "nobody".to_owned());
                    view! {
                        <ActionForm action=set attr:class="inline-form" attr:data-testid="second-factor-rule">
                            <label>
                                <span>"Required for"</span>
                                <select name="rule">
                                    {choices.into_iter().map(|(value, label)| view! {
                                        <option value=value selected=value == current>{label}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label><span>"Why"</span><input type="text" name="reason" class="reason" placeholder="for the audit log" /></label>
                            <button type="submit" class="button ghost">"Save"</button>
                        </ActionForm>
                    }
                })}
            </Transition>
            {move || view! { <FormError message=failure(set.value().get()) /> }}
            <p class="muted small">"People of these roles without a second factor may read and set one up on their account page, but change nothing until they have."</p>
        </section>
    }
}

/// Where verdict messages go, and how their deliveries went.
#[component]
pub fn AdminNotificationsPage() -> impl IntoView {
    let save = ServerAction::<SetWebhooks>::new();
    let read = load(move || save.version().get(), |_| get_notifications());
    let save_error = move || failure(save.value().get());
    view! {
        <Title text="Notifications" />
        <div class="page-head">
            <h1>"Notifications"</h1>
            <p class="muted">
                "When a deploy turns ailing or unhealthy while it bakes, and when its verdict is final, Houston posts a message to each webhook below (Slack's incoming-webhook JSON, which Mattermost, Rocket.Chat and Discord's "
                <code>"/slack"</code> " endpoint also take). Failed deliveries are retried with a growing delay, up to 8 attempts."
            </p>
        </div>
        <AdminNav />
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match read.await {
                    Ok(AsOf { now, value }) => view! { <NotificationsPanels view=value now save save_error=save_error() /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn NotificationsPanels(
    view: NotificationsView,
    now: chrono::DateTime<chrono::Utc>,
    save: ServerAction<SetWebhooks>,
    save_error: Option<String>,
) -> impl IntoView {
    let saved = view
        .webhooks
        .iter()
        .map(|url| view! { <li><code class="small">{url.clone()}</code></li> })
        .collect_view();
    let none_saved = view.webhooks.is_empty();
    let empty = view.messages.is_empty();
    let rows = view
        .messages
        .into_iter()
        .map(|m| {
            let status = m.status.as_str();
            let class = format!("badge delivery-{status}");
            let next = m
                .next_attempt_at
                .map(|at| format!("next try {}", crate::components::relative_time(at, now)));
            let error = m.last_error.clone().unwrap_or_default();
            let (subject, what) = match &m.about {
                crate::domain::MessageAbout::Verdict { deploy_id, kind, state } => (
                    view! { <a href=format!("/deploys/{deploy_id}")>{format!("deploy {deploy_id}")}</a> }.into_any(),
                    format!("{} · {}", kind.as_str().replace('_', " "), state.as_str()),
                ),
                crate::domain::MessageAbout::Lock { text } => (
                    view! { <a href="/locks">"locks"</a> }.into_any(),
                    text.clone(),
                ),
            };
            view! {
                <tr>
                    <td class="nowrap">{absolute_time(m.created_at)}</td>
                    <td>{subject}</td>
                    <td>{what}</td>
                    <td><code class="small">{m.url}</code></td>
                    <td><span class=class data-testid="delivery-status">{status}</span></td>
                    <td class="num">{m.attempts}</td>
                    <td class="small">{error}{next.map(|n| view! { <span class="sub">{n}</span> })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel">
            <h2>"Webhooks"</h2>
            {if none_saved {
                view! { <p class="muted" data-testid="webhooks-saved">"None saved: no messages are sent."</p> }.into_any()
            } else {
                view! {
                    <p class="muted small">"Saved (shown shortened: a webhook's path is its secret, so it is not shown again):"</p>
                    <ul class="webhook-list" data-testid="webhooks-saved">{saved}</ul>
                }.into_any()
            }}
            <ActionForm action=save attr:class="stack-form">
                <label>
                    <span>"Replace them: one URL per line (at most 10); saving an empty list stops the messages. Internal addresses are refused unless the operator allows their network."</span>
                    <textarea name="webhooks" rows="4" spellcheck="false" data-testid="webhooks" placeholder="https://hooks.slack.com/services/…"></textarea>
                </label>
                <div class="inline-form">
                    <label><span>"Reason (for the audit log)"</span><input type="text" name="reason" autocomplete="off" /></label>
                    <button type="submit" class="button" disabled=move || save.pending().get()>"Save webhooks"</button>
                </div>
            </ActionForm>
            <FormError message=save_error />
        </section>
        <h2 class="section-title">"Recent messages"</h2>
        {if empty {
            view! { <div class="panel empty"><p>"No messages yet."</p></div> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table data-testid="notifications">
                        <thead><tr>
                            <th>"Queued"</th><th>"Deploy"</th><th>"Message"</th><th>"Webhook"</th>
                            <th>"Delivery"</th><th class="num">"Attempts"</th><th>"Last error"</th>
                        </tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

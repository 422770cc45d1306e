//! Locks: what stops deploys now, the freeze windows (create, edit, delete, with a
//! preview of their next closings and openings), break-glass overrides, and the
//! history of locks with their reasons, filterable.

use crate::api::{
    DeleteFreeze, GrantOverride, LocksPageData, PlaceLock, SaveFreeze, locks_overview,
    preview_freeze, whoami,
};
use crate::components::{
    LockedNote, TimeAgo, ViewerTime, absolute_time, load, until_text, use_lock_refresh,
};
use crate::domain::{FreezeForm, FreezeView, Lock, Override, Role};
use crate::pages::ErrorPanel;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LocksPage() -> impl IntoView {
    let params = use_query_map();
    let filter = Memo::new(move |_| {
        params.with(|q| {
            (
                q.get("environment"),
                q.get("service"),
                q.get("q"),
                q.get("active"),
            )
        })
    });
    let place = ServerAction::<PlaceLock>::new();
    let grant = ServerAction::<GrantOverride>::new();
    let save = ServerAction::<SaveFreeze>::new();
    let delete = ServerAction::<DeleteFreeze>::new();
    let (changed, _) = use_lock_refresh();
    let overview = load(
        move || {
            (
                filter.get(),
                changed.get(),
                place.version().get()
                    + grant.version().get()
                    + save.version().get()
                    + delete.version().get(),
            )
        },
        |((environment, service, q, active), _, _)| locks_overview(environment, service, q, active),
    );
    let me = load(|| (), |_| whoami());
    view! {
        <Title text="Locks" />
        <div class="page-head">
            <h1>"Locks"</h1>
            <p class="muted">
                "Deploys stop while a lock or a freeze window covers their place; CI asks "
                <code>"houston gate"</code> " (or " <code>"GET /api/v1/gate"</code> ") and obeys. "
                "Deployers lock and lift their own locks; leads and admins lift any, keep the freeze windows and grant overrides."
            </p>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading the locks…"</p> }>
            {move || Suspend::new(async move {
                let role = me.await.ok().flatten().map(|u| u.role);
                match overview.await {
                    Ok(data) => view! { <LocksBody data role place grant save delete /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn action_error<A>(action: ServerAction<A>) -> impl IntoView
where
    A: leptos::server_fn::ServerFn<Output = (), Error = crate::error::AppError>
        + Clone
        + Send
        + Sync
        + 'static,
    A::Output: Send + Sync + 'static,
{
    move || match action.value().get() {
        Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.to_string()}</p> }),
        _ => None,
    }
}

#[component]
fn LocksBody(
    data: LocksPageData,
    role: Option<Role>,
    place: ServerAction<PlaceLock>,
    grant: ServerAction<GrantOverride>,
    save: ServerAction<SaveFreeze>,
    delete: ServerAction<DeleteFreeze>,
) -> impl IntoView {
    let may_lock = role.is_some_and(|r| r >= Role::Deployer);
    let may_configure = role.is_some_and(|r| r >= Role::Lead);
    let now = data.now;
    let in_force = if data.standing.is_empty() {
        view! { <p class="muted" data-testid="nothing-locked">"Nothing is locked: deploys may go out (unless the gate's other rules say no)."</p> }.into_any()
    } else {
        let locks = data
            .standing
            .locks
            .iter()
            .map(|l| {
                view! {
                    <li>
                        <strong>{l.scope().describe()}</strong>" since "<TimeAgo at=l.locked_at now />
                        <LockedNote lock=l.clone() />
                    </li>
                }
            })
            .collect_view();
        let windows = data
            .standing
            .windows
            .iter()
            .map(|w| {
                view! {
                    <li>
                        <strong>{w.scope.describe()}</strong>" frozen by "<q>{w.name.clone()}</q>" "
                        {until_text(Some(w.until))}" "<ViewerTime at=w.until />
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="in-force" data-testid="in-force">{locks}{windows}</ul> }.into_any()
    };
    let options = |list: &[String]| {
        list.iter()
            .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
            .collect_view()
    };
    let (environments, services) = (data.environments.clone(), data.services.clone());
    let lock_form = may_lock.then(|| {
        view! {
            <ActionForm action=place attr:class="lock-form" attr:data-testid="locks-page-lock-form">
                <label><span>"Environment"</span>
                    <select name="environment"><option value="">"everything"</option>{options(&environments)}</select>
                </label>
                <label><span>"Service"</span>
                    <select name="service"><option value="">"every service"</option>{options(&services)}</select>
                </label>
                <label class="wide"><span>"Why"</span>
                    <textarea name="reason" required maxlength="4096" rows="2"></textarea>
                </label>
                <label><span>"Ends after (minutes, blank: when unlocked)"</span>
                    <input type="text" inputmode="numeric" name="expires_in" autocomplete="off" />
                </label>
                <button type="submit" class="button small danger">"Lock"</button>
            </ActionForm>
            {action_error(place)}
        }
    });
    view! {
        <section class="panel">
            <h2>"In force now"</h2>
            {in_force}
            {lock_form}
        </section>
        <FreezeSection windows=data.windows.clone() may_configure save delete environments=data.environments.clone() services=data.services.clone() />
        <OverrideSection overrides=data.overrides.clone() now may_configure grant environments=data.environments.clone() services=data.services.clone() />
        <HistorySection history=data.history.clone() now environments=data.environments services=data.services />
    }
    .into_any()
}

/// When a window next closes and opens, in its zone and the viewer's.
#[component]
fn WindowTimes(window: FreezeView) -> impl IntoView {
    match (
        window.active,
        window.active_local,
        window.next,
        window.next_local,
    ) {
        (Some((_, opens)), Some((_, opens_local)), _, _) => view! {
            <span class="window-state active" data-testid="window-active">"Active now"</span>
            <span>" · opens "{opens_local}" "<ViewerTime at=opens /></span>
        }
        .into_any(),
        (None, _, Some((closes, opens)), Some((closes_local, opens_local))) => view! {
            <span class="window-state" data-testid="window-inactive">"Open now"</span>
            <span>" · closes "{closes_local}" "<ViewerTime at=closes /></span>
            <span>" · opens "{opens_local}" "<ViewerTime at=opens /></span>
        }
        .into_any(),
        _ => view! { <span class="window-state" data-testid="window-inactive">"Over"</span> }
            .into_any(),
    }
}

#[component]
fn FreezeSection(
    windows: Vec<FreezeView>,
    may_configure: bool,
    save: ServerAction<SaveFreeze>,
    delete: ServerAction<DeleteFreeze>,
    environments: Vec<String>,
    services: Vec<String>,
) -> impl IntoView {
    let rows = windows
        .into_iter()
        .map(|w| {
            let editor = may_configure.then(|| {
                let id = w.id;
                view! {
                    <details class="window-editor">
                        <summary>"Edit"</summary>
                        <FreezeEditor window=Some(w.clone()) save environments=environments.clone() services=services.clone() />
                    </details>
                    <ActionForm action=delete attr:class="inline-form">
                        <input type="hidden" name="id" value=id.to_string() />
                        <button type="submit" class="button ghost small">"Delete"</button>
                    </ActionForm>
                }
            });
            view! {
                <tr data-testid="freeze-window">
                    <td><strong>{w.name.clone()}</strong>{w.note.clone().map(|n| view! { <div class="sub">{n}</div> })}</td>
                    <td>{w.scope().describe()}</td>
                    <td data-testid="window-description">{w.description.clone()}</td>
                    <td class="small"><WindowTimes window=w.clone() /></td>
                    <td class="small">{editor}</td>
                </tr>
            }
        })
        .collect_view();
    let create = may_configure.then(|| {
        view! {
            <details class="window-editor" data-testid="new-window">
                <summary class="button small">"New freeze window"</summary>
                <FreezeEditor window=None save environments services />
            </details>
        }
    });
    view! {
        <section class="panel">
            <h2>"Freeze windows"</h2>
            <p class="muted small">
                "Weekly ranges are wall-clock times in the window's zone; a range whose end is not after its start ends the next day. "
                "A time the clocks skip means the moment they jump; a time they repeat means its first occurrence."
            </p>
            <div class="table-wrap">
                <table data-testid="freeze-windows">
                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Covers"</th><th scope="col">"When"</th><th scope="col">"Now"</th><th scope="col"></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {create}
            {action_error(delete)}
        </section>
    }
    .into_any()
}

/// A window's form with a live preview of its next closings and openings.
#[component]
fn FreezeEditor(
    window: Option<FreezeView>,
    save: ServerAction<SaveFreeze>,
    environments: Vec<String>,
    services: Vec<String>,
) -> impl IntoView {
    let id = window.as_ref().map(|w| w.id);
    let w = window.clone();
    let text = |f: &dyn Fn(&FreezeView) -> Option<String>| {
        RwSignal::new(w.as_ref().and_then(f).unwrap_or_default())
    };
    let name = text(&|w| Some(w.name.clone()));
    let note = text(&|w| w.note.clone());
    let environment = text(&|w| w.environment.as_ref().map(ToString::to_string));
    let service = text(&|w| w.service.as_ref().map(ToString::to_string));
    let kind = RwSignal::new(
        w.as_ref()
            .map_or_else(|| "weekly".to_owned(), |w| w.kind.clone()),
    );
    let time_zone = text(&|w| w.time_zone.clone());
    let ranges = RwSignal::new(w.as_ref().map_or_else(
        || "Mon-Fri 18:00-08:00\nSat-Sun all day".to_owned(),
        |w| w.ranges_text.clone(),
    ));
    let from = text(&|w| w.from.map(|t| t.format("%Y-%m-%dT%H:%M").to_string()));
    let to = text(&|w| w.to.map(|t| t.format("%Y-%m-%dT%H:%M").to_string()));
    if time_zone.get_untracked().is_empty() {
        time_zone.set("UTC".to_owned());
    }
    let form = move || FreezeForm {
        name: Some(name.get()),
        note: Some(note.get()),
        environment: Some(environment.get()),
        service: Some(service.get()),
        kind: Some(kind.get()),
        time_zone: Some(time_zone.get()),
        ranges: Some(ranges.get()),
        from: Some(from.get()),
        to: Some(to.get()),
    };
    // Asked in the browser only: a resource made inside the page's suspense must not
    // be part of what the server renders for hydration.
    let preview = LocalResource::new(move || preview_freeze(form()));
    let choices = |list: Vec<String>, current: RwSignal<String>, none: &'static str| {
        let options = list
            .into_iter()
            .map(|n| {
                let selected = current.get_untracked() == n;
                view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
            })
            .collect_view();
        view! {
            <select on:change=move |ev| current.set(event_target_value(&ev))>
                <option value="">{none}</option>
                {options}
            </select>
        }
    };
    let weekly = move || kind.get() == "weekly";
    view! {
        <form class="freeze-form" data-testid="freeze-form" on:submit=move |ev| {
            ev.prevent_default();
            save.dispatch(SaveFreeze { id, form: form() });
        }>
            <label><span>"Name"</span><input type="text" required maxlength="200" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) /></label>
            <label class="wide"><span>"Note (shown with the lock)"</span><input type="text" maxlength="4096" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev)) /></label>
            <label><span>"Environment"</span>{choices(environments, environment, "every environment")}</label>
            <label><span>"Service"</span>{choices(services, service, "every service")}</label>
            <label><span>"Kind"</span>
                <select on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="weekly" selected=move || kind.get() == "weekly">"every week"</option>
                    <option value="once" selected=move || kind.get() == "once">"once"</option>
                </select>
            </label>
            <label><span>"Time zone (IANA)"</span><input type="text" prop:value=move || time_zone.get() on:input=move |ev| time_zone.set(event_target_value(&ev)) placeholder="Europe/Berlin" /></label>
            <Show when=weekly>
                <label class="wide"><span>"Ranges, one per line (e.g. Mon-Fri 15:30-09:00, Sat-Sun all day)"</span>
                    <textarea rows="3" prop:value=move || ranges.get() on:input=move |ev| ranges.set(event_target_value(&ev))></textarea>
                </label>
            </Show>
            <Show when=move || !weekly()>
                <label><span>"From (in the zone)"</span><input type="datetime-local" prop:value=move || from.get() on:input=move |ev| from.set(event_target_value(&ev)) /></label>
                <label><span>"To"</span><input type="datetime-local" prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev)) /></label>
            </Show>
            <div class="preview wide" data-testid="freeze-preview">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match preview.await {
                            Ok(p) => {
                                let periods = p
                                    .periods
                                    .into_iter()
                                    .zip(p.instants)
                                    .map(|((closes, opens), (_, opens_at))| view! {
                                        <li>"closed "{closes}" → opens "{opens}" "<ViewerTime at=opens_at /></li>
                                    })
                                    .collect_view();
                                view! { <p>{p.description}</p><ul>{periods}</ul> }.into_any()
                            }
                            Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
            <button type="submit" class="button small" disabled=move || save.pending().get()>"Save window"</button>
            {move || match save.value().get() {
                Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.to_string()}</p> }),
                _ => None,
            }}
        </form>
    }
    .into_any()
}

#[component]
fn OverrideSection(
    overrides: Vec<Override>,
    now: DateTime<Utc>,
    may_configure: bool,
    grant: ServerAction<GrantOverride>,
    environments: Vec<String>,
    services: Vec<String>,
) -> impl IntoView {
    let rows = overrides
        .into_iter()
        .map(|o| {
            let state = match (o.used_by, o.usable(now), &o.claim) {
                (Some(deploy), _, _) => view! { <a href=format!("/deploys/{deploy}")>{format!("used by deploy #{deploy}")}</a> }.into_any(),
                (None, true, Some(claim)) => view! { <span>{format!("claimed by run {} ({}), {}", claim.run, claim.by, until_text(Some(o.expires_at)))}</span> }.into_any(),
                (None, true, None) => view! { <span>{format!("usable {}", until_text(Some(o.expires_at)))}</span> }.into_any(),
                (None, false, _) => view! { <span class="muted">"expired unused"</span> }.into_any(),
            };
            let breaks = crate::domain::GateRule::join(&o.breaks).replace(',', ", ");
            view! {
                <tr data-testid="override">
                    <td>{format!("{} in {}", o.service, o.environment)}{o.version.clone().map(|v| view! { <code class="sub">{v}</code> })}</td>
                    <td><q>{o.reason.clone()}</q></td>
                    <td>{breaks}</td>
                    <td>{o.granted_by.clone()}" "<TimeAgo at=o.granted_at now /></td>
                    <td>{state}</td>
                </tr>
            }
        })
        .collect_view();
    let options = |list: Vec<String>| {
        list.into_iter()
            .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
            .collect_view()
    };
    let form = may_configure.then(|| {
        view! {
            <details class="window-editor">
                <summary class="button small">"Grant an override"</summary>
                <ActionForm action=grant attr:class="lock-form">
                    <label><span>"Service"</span><select name="service" required>{options(services)}</select></label>
                    <label><span>"Environment"</span><select name="environment" required>{options(environments)}</select></label>
                    <label><span>"Version (blank: any)"</span><input type="text" name="version" maxlength="200" autocomplete="off" /></label>
                    <label><span>"Minutes it waits to be used"</span><input type="text" inputmode="numeric" name="expires_in_minutes" value="60" /></label>
                    <fieldset class="wide breaks">
                        <legend>"Breaks locks and freeze windows; also:"</legend>
                        <label><input type="checkbox" name="also[alert]" value="on" />" firing alerts"</label>
                        <label><input type="checkbox" name="also[unhealthy]" value="on" />" an unhealthy deploy"</label>
                        <label><input type="checkbox" name="also[promotion]" value="on" />" promotion"</label>
                        <label><input type="checkbox" name="also[branch]" value="on" />" branch"</label>
                    </fieldset>
                    <label class="wide"><span>"Why"</span><textarea name="reason" required maxlength="4096" rows="2"></textarea></label>
                    <button type="submit" class="button small">"Grant"</button>
                </ActionForm>
                {action_error(grant)}
            </details>
        }
    });
    view! {
        <section class="panel">
            <h2>"Overrides"</h2>
            <p class="muted small">"Break glass: one deploy through the rules it breaks. The gate says it is available; one pipeline run claims it (houston gate --claim), and the deploy it registers spends it."</p>
            <div class="table-wrap">
                <table data-testid="overrides">
                    <thead><tr><th scope="col">"For"</th><th scope="col">"Why"</th><th scope="col">"Breaks"</th><th scope="col">"Granted"</th><th scope="col">"State"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {form}
        </section>
    }
    .into_any()
}

#[component]
fn HistorySection(
    history: Vec<Lock>,
    now: DateTime<Utc>,
    environments: Vec<String>,
    services: Vec<String>,
) -> impl IntoView {
    let params = use_query_map();
    let current = move |key: &str| params.with_untracked(|q| q.get(key)).unwrap_or_default();
    let select = |name: &'static str, list: Vec<String>, none: &'static str| {
        let chosen = current(name);
        let options = list
            .into_iter()
            .map(|n| {
                let selected = n == chosen;
                view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
            })
            .collect_view();
        view! { <select name=name><option value="">{none}</option>{options}</select> }
    };
    let active = current("active");
    let rows = history
        .into_iter()
        .map(|l| {
            let ended = match (l.unlocked_at, l.ended_at(now)) {
                (Some(at), _) => format!(
                    "unlocked by {} at {}{}",
                    l.unlocked_by.clone().unwrap_or_default(),
                    absolute_time(at),
                    l.unlock_note
                        .clone()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ),
                (None, Some(at)) => format!("expired at {}", absolute_time(at)),
                (None, None) => until_text(l.expires_at),
            };
            view! {
                <tr data-testid="lock-history-row" class:row-active=l.active>
                    <td>{l.scope().describe()}</td>
                    <td><q>{l.reason.clone()}</q></td>
                    <td>{l.locked_by.clone()}" "<TimeAgo at=l.locked_at now /></td>
                    <td>{if l.active { "in force" } else { "ended" }}</td>
                    <td class="small">{ended}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel">
            <h2>"Lock history"</h2>
            <form method="get" action="/locks" class="filters" data-testid="lock-filters">
                <label><span>"Environment"</span>{select("environment", environments, "any")}</label>
                <label><span>"Service"</span>{select("service", services, "any")}</label>
                <label><span>"State"</span>
                    <select name="active">
                        <option value="">"any"</option>
                        <option value="true" selected=active == "true">"in force"</option>
                        <option value="false" selected=active == "false">"ended"</option>
                    </select>
                </label>
                <label><span>"Reason contains"</span><input type="search" name="q" value=current("q") maxlength="200" /></label>
                <button type="submit" class="button small">"Filter"</button>
            </form>
            <div class="table-wrap">
                <table data-testid="lock-history">
                    <thead><tr><th scope="col">"Scope"</th><th scope="col">"Why"</th><th scope="col">"Locked"</th><th scope="col">"State"</th><th scope="col">"Ended"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

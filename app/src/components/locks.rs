//! Locks on every page: the banner while anything is locked or frozen, and the lock
//! and unlock dialogs of mission control and the deploy page. The dialogs are HTML
//! popovers holding plain forms posted to the server functions (no client code in
//! the main bundle); a failed post comes back with its error in a flash cookie,
//! which the banner shows once.

use crate::api::{AsOf, PlaceLock, Standing, UnlockLock, locks_in_force};
use crate::components::{Loaded, absolute_time, load, refresh_at, use_lock_refresh};
use crate::domain::{Lock, LockScope};
use crate::error::AppError;
use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// "until 2026-11-30 18:00 UTC" or "until unlocked".
pub fn until_text(until: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match until {
        Some(t) => format!("until {}", absolute_time(t)),
        None => "until unlocked".to_owned(),
    }
}

/// The locks and windows in force, as one page shows them.
pub type LocksInForce = Loaded<Result<AsOf<Standing>, AppError>>;

/// The one read of the locks in force that a page shares: the banner, mission
/// control's columns and cells and the deploy page all read it, so a page asks the
/// server once. It refetches when a lock changes (heard live) and when a lock
/// expires or a window turns. Created by `App`, outside the routes.
pub fn provide_locks_in_force() -> LocksInForce {
    let (refresh, set_refresh) = use_lock_refresh();
    let standing = load(move || refresh.get(), |_| locks_in_force());
    Effect::new(move |_| {
        if let Some(Ok(read)) = standing.get() {
            refresh_at(read.value.changes_at, read.now, set_refresh);
        }
    });
    provide_context(standing);
    standing
}

/// The page's shared read of the locks in force ([`provide_locks_in_force`]); a
/// component rendered outside `App` makes its own.
pub fn use_locks_in_force() -> LocksInForce {
    use_context::<LocksInForce>().unwrap_or_else(provide_locks_in_force)
}

/// The flash a form's redirect left ([`crate::domain::flash`]).
fn flash_message() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>().and_then(|parts| {
            parts
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(crate::domain::flash::flash_in)
        })
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        js_sys::Reflect::get(&document(), &"cookie".into())
            .ok()
            .and_then(|c| c.as_string())
            .and_then(|c| crate::domain::flash::flash_in(&c))
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        None
    }
}

/// Deletes the flash in the browser once it has been shown.
fn forget_flash() {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let _ = js_sys::Reflect::set(
            &document(),
            &"cookie".into(),
            &crate::domain::flash::clear_flash_cookie().into(),
        );
    }
}

/// The banner: every lock in force and window holding, live.
#[component]
pub fn LockBanner() -> impl IntoView {
    let standing = use_locks_in_force();
    // Read once, the same on the server and in the hydrating browser; the browser
    // then deletes the cookie, so a reload does not show it again.
    let message = flash_message();
    Effect::new(move |_| forget_flash());
    let error = message.map(|message| {
        view! { <p class="form-error lock-error" role="alert" data-testid="lock-error">{message}</p> }
    });
    view! {
        {error}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match standing.await {
                    Ok(read) if !read.value.is_empty() => Some(view! { <BannerText standing=read.value /> }),
                    _ => None,
                }
            })}
        </Transition>
    }
}

#[component]
fn BannerText(standing: Standing) -> impl IntoView {
    let locks = standing
        .locks
        .into_iter()
        .map(|l| {
            view! {
                <li data-testid="banner-lock">
                    <strong>{l.scope().describe()}</strong>" locked by "{l.locked_by.clone()}" "
                    {until_text(l.expires_at)}": "<q>{l.reason.clone()}</q>
                </li>
            }
        })
        .collect_view();
    let windows = standing
        .windows
        .into_iter()
        .map(|w| {
            let note = w.note.map(|n| format!(": {n}")).unwrap_or_default();
            view! {
                <li data-testid="banner-freeze">
                    <strong>{w.scope.describe()}</strong>" frozen by "<q>{w.name}</q>{note}" "{until_text(Some(w.until))}
                </li>
            }
        })
        .collect_view();
    let stopped = standing
        .stopped
        .into_iter()
        .map(|l| {
            view! {
                <li data-testid="banner-incident">
                    <strong>{l.describe()}</strong>" stopped while "
                    <a href=format!("/incidents/{}", l.incident)>"incident "{l.incident}</a>
                    " is open ("{l.severity.as_str()}"): "<q>{l.title}</q>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="lock-banner" role="status" data-testid="lock-banner">
            <span class="lock-banner-mark" aria-hidden="true">"Locked"</span>
            <ul>{stopped}{locks}{windows}</ul>
            <a href="/locks" class="lock-banner-link">"Locks"</a>
        </div>
    }
}

/// A popover's id from the place it locks (ids must be unique on the page).
fn dialog_id(prefix: &str, scope: &LockScope) -> String {
    let part = |s: Option<String>| s.unwrap_or_else(|| "all".to_owned());
    format!(
        "{prefix}-{}-{}",
        part(scope.environment.as_ref().map(ToString::to_string)),
        part(scope.service.as_ref().map(ToString::to_string))
    )
}

/// The lock dialog for `scope`: a required reason and an optional expiry.
#[component]
pub fn LockDialog(
    scope: LockScope,
    #[prop(optional)] label: Option<&'static str>,
) -> impl IntoView {
    let id = dialog_id("lock", &scope);
    // Locking everything says so: the button stands alone above the board.
    let label = label.unwrap_or(if scope.environment.is_none() {
        "Lock everything"
    } else {
        "Lock"
    });
    let described = scope.describe();
    let title = format!("Lock {described}");
    let (id2, id3, title2, title3) = (id.clone(), id.clone(), title.clone(), title.clone());
    let environment = scope.environment.map(|e| e.to_string()).unwrap_or_default();
    let service = scope.service.map(|s| s.to_string()).unwrap_or_default();
    let expiries = [
        ("", "when unlocked"),
        ("30", "in 30 minutes"),
        ("60", "in 1 hour"),
        ("240", "in 4 hours"),
        ("480", "in 8 hours"),
        ("1440", "in 1 day"),
        ("4320", "in 3 days"),
        ("10080", "in 1 week"),
    ];
    view! {
        <button type="button" class="lock-button" popovertarget=id2 title=title2 data-testid="lock-open">
            {label}
        </button>
        <div popover="auto" id=id3 class="lock-dialog" role="dialog" aria-label=title3>
            <form method="post" action=PlaceLock::PATH data-testid="lock-form">
                <h3>{title}</h3>
                <input type="hidden" name="environment" value=environment />
                <input type="hidden" name="service" value=service />
                <label>
                    <span>"Why (everyone who meets the lock reads this)"</span>
                    <textarea name="reason" required maxlength="4096" rows="3"></textarea>
                </label>
                <label>
                    <span>"Ends"</span>
                    <select name="expires_in">
                        {expiries.into_iter().map(|(value, text)| view! { <option value=value>{text}</option> }).collect_view()}
                    </select>
                </label>
                <div class="dialog-actions">
                    <button type="submit" class="button small danger">"Lock"</button>
                    <button type="button" class="button ghost small" popovertarget=id popovertargetaction="hide">"Cancel"</button>
                </div>
            </form>
        </div>
    }
}

/// What a locked place shows: who locked it, why and until when, and a way to lift it.
#[component]
pub fn LockedNote(lock: Lock) -> impl IntoView {
    let id = format!("unlock-{}", lock.id);
    let title = format!("Unlock {}", lock.scope().describe());
    let (id2, id3, title2, title3) = (id.clone(), id.clone(), title.clone(), title.clone());
    view! {
        <div class="locked-note" data-testid="locked-note">
            <span class="badge lock-badge">"Locked"</span>" by "{lock.locked_by.clone()}" "{until_text(lock.expires_at)}
            <q class="lock-reason">{lock.reason.clone()}</q>
            <button type="button" class="lock-button" popovertarget=id2 title=title2 data-testid="unlock-open">"Unlock"</button>
            <div popover="auto" id=id3 class="lock-dialog" role="dialog" aria-label=title3>
                <form method="post" action=UnlockLock::PATH data-testid="unlock-form">
                    <h3>{title}</h3>
                    <input type="hidden" name="id" value=lock.id.to_string() />
                    <label>
                        <span>"Note (optional)"</span>
                        <input type="text" name="note" maxlength="4096" autocomplete="off" />
                    </label>
                    <div class="dialog-actions">
                        <button type="submit" class="button small">"Unlock"</button>
                        <button type="button" class="button ghost small" popovertarget=id popovertargetaction="hide">"Cancel"</button>
                    </div>
                </form>
            </div>
        </div>
    }
}

/// The lock control of one place: its lock when one covers it exactly, a note for
/// a broader lock or a window, else the lock dialog.
#[component]
pub fn PlaceLockControl(scope: LockScope, standing: Standing) -> impl IntoView {
    if let Some(lock) = standing.locks.iter().find(|l| l.scope() == scope) {
        return EitherOf3::A(view! { <LockedNote lock=lock.clone() /> });
    }
    let broader = standing
        .locks
        .iter()
        .find(|l| l.scope().contains(&scope))
        .map(Lock::said)
        .or_else(|| {
            standing
                .windows
                .iter()
                .find(|w| w.scope.contains(&scope))
                .map(|w| {
                    let said = crate::domain::freeze_said(&w.name, w.note.as_deref());
                    format!("{said} {}", until_text(Some(w.until)))
                })
        });
    match broader {
        Some(text) => EitherOf3::B(view! {
            <div class="locked-note" data-testid="locked-note"><span class="badge lock-badge">"Locked"</span>" "{text}</div>
        }),
        None => EitherOf3::C(view! { <LockDialog scope /> }),
    }
}

//! Live updates in the browser: the server's event stream (`/api/v1/events`) says
//! which deploy changed and where (`DeployChange`), that a lock, window or override
//! changed (`LockChange`), or that alerts came in; each part of a page decides
//! whether the change concerns it and refetches only that. A tab holds one stream, shared by every
//! listener (the page and the lock banner), opened with the first and closed with
//! the last.

use crate::domain::{DeployChange, LockChange};
use leptos::prelude::*;

/// What a page hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    Change(DeployChange),
    /// A lock, freeze window or override changed.
    Lock(LockChange),
    /// Alerts came in (the timeline shows them).
    Alerts,
    /// Changes may have been missed (the page fell behind, or a replica lost its
    /// feed for a while): reload what is shown.
    Resync,
}

#[cfg(feature = "hydrate")]
mod hub {
    use super::Live;
    use leptos::wasm_bindgen::{JsCast, closure::Closure};
    use std::cell::RefCell;
    use std::rc::Rc;

    type Listener = Rc<dyn Fn(Live)>;

    struct Hub {
        source: web_sys::EventSource,
        listeners: Vec<(u64, Listener)>,
        next: u64,
        _closures: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    thread_local! {
        static HUB: RefCell<Option<Hub>> = const { RefCell::new(None) };
    }

    fn dispatch(live: Live) {
        // Copied out first: a listener may subscribe or leave while it is told.
        let listeners: Vec<Listener> = HUB.with(|hub| {
            hub.borrow()
                .as_ref()
                .map(|h| h.listeners.iter().map(|(_, l)| l.clone()).collect())
                .unwrap_or_default()
        });
        for listener in listeners {
            listener(live.clone());
        }
    }

    fn open() -> Option<Hub> {
        let source = web_sys::EventSource::new("/api/v1/events").ok()?;
        let data = |event: &web_sys::Event| {
            event
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|m| m.data().as_string())
        };
        let on_deploy = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let change = data(&event).and_then(|json| serde_json::from_slice(json.as_bytes()).ok());
            dispatch(change.map_or(Live::Resync, Live::Change));
        });
        let on_lock = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let change = data(&event).and_then(|json| serde_json::from_slice(json.as_bytes()).ok());
            dispatch(change.map_or(Live::Resync, Live::Lock));
        });
        let on_alerts = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            dispatch(Live::Alerts)
        });
        let on_resync = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            dispatch(Live::Resync)
        });
        // The browser reopens a dropped stream by itself; what changed while it
        // was closed was not heard, so every opening after the first resyncs.
        let mut opened = false;
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            if std::mem::replace(&mut opened, true) {
                dispatch(Live::Resync);
            }
        });
        for (name, closure) in [
            ("deploy", &on_deploy),
            ("lock", &on_lock),
            ("alerts", &on_alerts),
            ("resync", &on_resync),
            ("open", &on_open),
        ] {
            let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        }
        Some(Hub {
            source,
            listeners: Vec::new(),
            next: 0,
            _closures: vec![on_deploy, on_lock, on_alerts, on_resync, on_open],
        })
    }

    pub fn subscribe(listener: Listener) -> Option<u64> {
        HUB.with(|hub| {
            let mut hub = hub.borrow_mut();
            if hub.is_none() {
                *hub = open();
            }
            let h = hub.as_mut()?;
            h.next += 1;
            h.listeners.push((h.next, listener));
            Some(h.next)
        })
    }

    pub fn leave(id: u64) {
        HUB.with(|hub| {
            let mut hub = hub.borrow_mut();
            let empty = hub.as_mut().is_some_and(|h| {
                h.listeners.retain(|(i, _)| *i != id);
                h.listeners.is_empty()
            });
            if empty && let Some(h) = hub.take() {
                h.source.close();
            }
        });
    }
}

/// Calls `on` with every message of the server's event stream while the calling
/// component lives. On the server it does nothing.
pub fn use_live(on: impl Fn(Live) + 'static) {
    #[cfg(feature = "hydrate")]
    if let Some(id) = hub::subscribe(std::rc::Rc::new(on)) {
        on_cleanup(move || hub::leave(id));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = on;
}

/// A counter that goes up when a change `concerns` the page, or when changes may
/// have been missed: a page's resources read it to refetch.
pub fn use_live_refresh(concerns: impl Fn(&DeployChange) -> bool + 'static) -> ReadSignal<u64> {
    let (refresh, set_refresh) = signal(0u64);
    use_live(move |live| {
        let wanted = match &live {
            Live::Change(change) => concerns(change),
            Live::Lock(_) | Live::Alerts => false,
            Live::Resync => true,
        };
        if wanted {
            set_refresh.update(|r| *r += 1);
        }
    });
    refresh
}

/// A counter that goes up when a lock, window or override changes, or changes may
/// have been missed: what shows locks reads it to refetch. The setter lets the
/// reader bump it when a lock expires or a window turns ([`refresh_at`]).
pub fn use_lock_refresh() -> (ReadSignal<u64>, WriteSignal<u64>) {
    let (refresh, set_refresh) = signal(0u64);
    use_live(move |live| {
        if matches!(live, Live::Lock(_) | Live::Resync) {
            set_refresh.update(|r| *r += 1);
        }
    });
    (refresh, set_refresh)
}

/// Bumps `refresh` once `at` (in the server's clock, read at `now`) has come, a
/// second late so the server agrees. A timer left from an earlier read only causes
/// one more refetch.
pub fn refresh_at(
    at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    refresh: WriteSignal<u64>,
) {
    #[cfg(feature = "hydrate")]
    if let Some(at) = at {
        let wait = (at - now).num_milliseconds().clamp(0, 24 * 3_600_000) + 1_000;
        set_timeout(
            move || refresh.update(|r| *r += 1),
            std::time::Duration::from_millis(wait.unsigned_abs()),
        );
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (at, now, refresh);
}

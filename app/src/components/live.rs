//! Live updates in the browser: the server's event stream (`/api/v1/events`) says
//! which deploy changed and where (`DeployChange`); each page decides whether the
//! change concerns it and refetches only that.

use crate::domain::DeployChange;
use leptos::prelude::*;

/// What a page hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    Change(DeployChange),
    /// Changes may have been missed (the page fell behind, or a replica lost its
    /// feed for a while): reload what is shown.
    Resync,
}

/// Calls `on` with every message of the server's event stream while the page is
/// open. On the server it does nothing.
pub fn use_live(on: impl Fn(Live) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::{JsCast, closure::Closure};
        let Ok(source) = web_sys::EventSource::new("/api/v1/events") else {
            return;
        };
        let on = std::rc::Rc::new(on);
        let on_change = {
            let on = on.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let change = event
                    .data()
                    .as_string()
                    .and_then(|json| serde_json::from_str::<DeployChange>(&json).ok());
                on(change.map_or(Live::Resync, Live::Change));
            })
        };
        let on_resync = {
            let on = on.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
                on(Live::Resync)
            })
        };
        // The browser reopens a dropped stream by itself; what changed while it
        // was closed was not heard, so every opening after the first resyncs.
        let mut opened = false;
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            if std::mem::replace(&mut opened, true) {
                on(Live::Resync);
            }
        });
        let _ =
            source.add_event_listener_with_callback("deploy", on_change.as_ref().unchecked_ref());
        let _ =
            source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
        // The listeners live as long as the page that opened the stream.
        let guard = send_wrapper::SendWrapper::new((source, on_change, on_resync, on_open));
        on_cleanup(move || guard.0.close());
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
            Live::Resync => true,
        };
        if wanted {
            set_refresh.update(|r| *r += 1);
        }
    });
    refresh
}

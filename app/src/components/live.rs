//! Live updates in the browser: the server's event stream bumps a revision counter
//! that pages' resources read, so they refetch when a deploy changes.

use leptos::prelude::*;

/// A counter that goes up whenever the server reports a change. On the server it
/// stays at 0; in the browser an `EventSource` on `/api/v1/events` drives it.
pub fn use_live_revision() -> ReadSignal<u64> {
    let (revision, set_revision) = signal(0u64);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        use leptos::wasm_bindgen::{JsCast, closure::Closure};
        let Ok(source) = web_sys::EventSource::new("/api/v1/events") else {
            return;
        };
        let on_change =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
                set_revision.update(|r| *r += 1);
            });
        for kind in ["deploy", "resync"] {
            let _ =
                source.add_event_listener_with_callback(kind, on_change.as_ref().unchecked_ref());
        }
        // The listener lives as long as the page that opened the stream.
        let guard = send_wrapper::SendWrapper::new((source, on_change));
        on_cleanup(move || guard.0.close());
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = set_revision;
    revision
}

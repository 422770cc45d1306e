//! Live updates: a change to a deploy is broadcast to every open page over
//! server-sent events at `/api/v1/events`. In-process only: with several replicas
//! on PostgreSQL each replica's pages see the changes that replica made (a later
//! issue carries them across replicas with LISTEN/NOTIFY).
//!
//! Streams are capped in total and per caller (each holds a connection and a
//! receiver), and a stream opened with a session ends soon after the session does.

use crate::AppState;
use app::error::AppError;
use app::ssr::access::{Caller, Principal};
use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiveEvent {
    pub kind: &'static str,
    pub id: i64,
}

#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<LiveEvent>,
    /// Open streams per caller (the audit name: `user:ada`, `token:ci`, …).
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(256).0,
            open: Arc::default(),
        }
    }
}

/// One open stream, counted until it is dropped.
pub struct StreamSlot {
    open: Arc<Mutex<HashMap<String, usize>>>,
    caller: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = match self.open.lock() {
            Ok(open) => open,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(n) = open.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

impl Events {
    pub fn deploy_changed(&self, id: i64) {
        // No receivers is normal: nobody has a page open.
        let _ = self.sender.send(LiveEvent { kind: "deploy", id });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }

    /// A slot for one more stream of `caller`, unless that would pass either cap.
    pub fn open_stream(&self, caller: &str, total: usize, per_caller: usize) -> Option<StreamSlot> {
        let mut open = match self.open.lock() {
            Ok(open) => open,
            Err(poisoned) => poisoned.into_inner(),
        };
        let all: usize = open.values().sum();
        let mine = open.get(caller).copied().unwrap_or(0);
        if all >= total || mine >= per_caller {
            return None;
        }
        open.insert(caller.to_owned(), mine + 1);
        Some(StreamSlot {
            open: self.open.clone(),
            caller: caller.to_owned(),
        })
    }
}

/// How often a stream opened with a session checks that the session still lives.
pub const SESSION_RECHECK: Duration = Duration::from_secs(30);

/// `GET /api/v1/events`: a stream of `deploy` events with the deploy id as data. A
/// client that falls behind gets a `resync` event and should reload what it shows.
pub async fn stream(State(state): State<AppState>, request: Request) -> Response {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller::anonymous(None));
    let actor = caller.actor();
    // Anonymous readers (when allowed) are told apart by address.
    let key = match (&caller.principal, &actor.address) {
        (Principal::Anonymous, Some(address)) => format!("anonymous@{address}"),
        _ => actor.name.clone(),
    };
    let Some(slot) = state.events.open_stream(
        &key,
        state.config.max_streams,
        state.config.max_streams_per_caller,
    ) else {
        return AppError::RateLimited {
            message:
                "too many live-update streams are open; close other Houston tabs or try again later"
                    .into(),
            retry_after_secs: 30,
        }
        .into_response();
    };
    // A session's stream ends soon after the session does (sign-out, disabled
    // account, expiry); tokens are checked the same way.
    let session =
        crate::http::auth::session_id_hash(request.headers(), state.sessions.cookie_name());
    let watch = {
        let state = state.clone();
        let principal = caller.principal.clone();
        async move {
            loop {
                tokio::time::sleep(state.config.stream_recheck).await;
                let now = chrono::Utc::now();
                let alive = match (&principal, &session) {
                    (Principal::User(_), Some(id_hash)) => state
                        .store
                        .session_user(id_hash, now, now - state.sessions.idle)
                        .await
                        .is_ok_and(|u| u.is_some()),
                    _ => true,
                };
                if !alive {
                    tracing::debug!("a live-update stream ended with its session");
                    break;
                }
            }
        }
    };
    let events = BroadcastStream::new(state.events.subscribe())
        .map(move |item| {
            // The slot lives as long as the stream.
            let _slot = &slot;
            Ok::<_, std::convert::Infallible>(match item {
                Ok(event) => Event::default()
                    .event(event.kind)
                    .data(event.id.to_string()),
                Err(_lagged) => Event::default().event("resync").data(""),
            })
        })
        .take_until(Box::pin(watch));
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

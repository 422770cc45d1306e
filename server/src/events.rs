//! Live updates: a change to a deploy is broadcast to every open page over
//! server-sent events at `/api/v1/events`. In-process only: with several replicas
//! on PostgreSQL each replica's pages see the changes that replica made (a later
//! issue carries them across replicas with LISTEN/NOTIFY).

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use std::convert::Infallible;
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
}

impl Default for Events {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(256).0,
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
}

/// `GET /api/v1/events`: a stream of `deploy` events with the deploy id as data. A
/// client that falls behind gets a `resync` event and should reload what it shows.
pub async fn stream(
    State(state): State<crate::AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(state.events.subscribe()).map(|item| {
        Ok(match item {
            Ok(event) => Event::default()
                .event(event.kind)
                .data(event.id.to_string()),
            Err(_lagged) => Event::default().event("resync").data(""),
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

//! Live updates: every change to a deploy is told to every open page over
//! server-sent events at `/api/v1/events`: event `deploy` with a
//! `domain::DeployChange` as JSON (what changed, and where), so each page refetches
//! only what concerns it; event `resync` when changes may have been missed.
//!
//! On PostgreSQL the changes travel through the database (`ChangeFeed`:
//! LISTEN/NOTIFY), so the pages of every replica hear the changes made through
//! any of them; a replica hears its own changes the same way. On SQLite they stay
//! in the process.
//!
//! Streams are capped in total and per caller (each holds a connection and a
//! receiver), and a stream opened with a session ends soon after the session does.

use crate::AppState;
use app::domain::{AlertsChange, ChangeKind, Deploy, DeployChange, LockChange};
use app::error::AppError;
use app::server::access::{Caller, Principal};
use app::server::{FeedItem, PageCache, Store};
use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::BroadcastStream;

/// What an open page hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    Change(DeployChange),
    Lock(LockChange),
    Alerts(AlertsChange),
    /// Changes may have been missed: reload what is shown.
    Resync,
}

#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<LiveEvent>,
    /// Open streams per caller (the audit name: `user:ada`, `token:ci`, …).
    open: Arc<Mutex<HashMap<String, usize>>>,
    store: Arc<dyn Store>,
    /// Set once the shared feed is heard: changes then go out through it, in the
    /// order they were made.
    publisher: Arc<OnceLock<mpsc::UnboundedSender<FeedMessage>>>,
    /// What pages share, dropped on every change to it this replica makes or hears.
    page_cache: Arc<PageCache>,
}

/// What travels on the shared feed: a deploy's change, a lock's, or alerts heard.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum FeedMessage {
    Lock(LockChange),
    Deploy(DeployChange),
    Alerts(AlertsChange),
}

impl FeedMessage {
    /// Whether everything kept in the `PageCache` must be read again before it is
    /// served: a lock, window or override, or a deploy's registration (it may bring
    /// a new service or environment) can alter what every page shares; a person's
    /// word on an incident's cause must show on the page they said it on; alerts are
    /// read again as a lock is. A status or a verdict is activity: a timeline view or
    /// an incident's suspects read a moment before may be served while they are read
    /// again.
    fn changes_shared(&self) -> bool {
        match self {
            FeedMessage::Lock(_) | FeedMessage::Alerts(_) => true,
            FeedMessage::Deploy(change) => {
                matches!(change.kind, ChangeKind::Registered | ChangeKind::Cause)
            }
        }
    }
}

impl From<FeedMessage> for LiveEvent {
    fn from(message: FeedMessage) -> Self {
        match message {
            FeedMessage::Lock(change) => LiveEvent::Lock(change),
            FeedMessage::Deploy(change) => LiveEvent::Change(change),
            FeedMessage::Alerts(change) => LiveEvent::Alerts(change),
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
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            sender: broadcast::channel(256).0,
            open: Arc::default(),
            store,
            publisher: Arc::default(),
            page_cache: Arc::default(),
        }
    }

    /// The cache of what every page reads, kept true by this publisher: pages find
    /// it in their context.
    pub fn page_cache(&self) -> Arc<PageCache> {
        self.page_cache.clone()
    }

    /// Hears the store's shared feed, when it has one (PostgreSQL), and from
    /// then on publishes changes through it. Once per process, before serving.
    pub async fn start(&self) -> anyhow::Result<()> {
        let mut feed = match self.store.listen_changes().await {
            Ok(Some(feed)) => feed,
            Ok(None) => return Ok(()),
            // LISTEN is not everywhere (PgBouncer in transaction mode): pages then
            // hear this replica's changes only.
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for other replicas' changes; live updates stay within this replica");
                return Ok(());
            }
        };
        let (sender, page_cache) = (self.sender.clone(), self.page_cache.clone());
        tokio::spawn(async move {
            while let Some(item) = feed.recv().await {
                let event = match item {
                    FeedItem::Change(json) => match serde_json::from_str::<FeedMessage>(&json) {
                        Ok(message) => {
                            // Another replica's change (or this one's, heard back).
                            if message.changes_shared() {
                                page_cache.invalidate();
                            } else {
                                page_cache.activity();
                            }
                            message.into()
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "a change on the feed is not one this version reads");
                            page_cache.invalidate();
                            LiveEvent::Resync
                        }
                    },
                    // Changes may have been missed.
                    FeedItem::Gap => {
                        page_cache.invalidate();
                        LiveEvent::Resync
                    }
                };
                let _ = sender.send(event);
            }
        });
        let (queue, mut changes) = mpsc::unbounded_channel::<FeedMessage>();
        let (store, local) = (self.store.clone(), self.sender.clone());
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                let json = match serde_json::to_string(&change) {
                    Ok(json) => json,
                    Err(_) => continue,
                };
                if let Err(e) = store.publish_change(&json).await {
                    // Other replicas miss this one; this replica's pages need not.
                    tracing::warn!(error = %e, "could not publish a change to other replicas");
                    let _ = local.send(change.into());
                }
            }
        });
        let _ = self.publisher.set(queue);
        Ok(())
    }

    /// Tells every open page (of every replica, with a shared feed) that `deploy`
    /// changed.
    pub fn deploy_changed(&self, kind: ChangeKind, deploy: &Deploy) {
        self.tell(FeedMessage::Deploy(DeployChange::of(kind, deploy)));
    }

    /// Tells every open page that a lock, window or override changed.
    pub fn lock_changed(&self, change: LockChange) {
        self.tell(FeedMessage::Lock(change));
    }

    /// Tells every open page (of every replica) that alerts were received: the
    /// timelines and suspects kept in memory hold alerts and are read again.
    pub fn alerts_heard(&self, alerts: usize) {
        self.tell(FeedMessage::Alerts(AlertsChange { alerts }));
    }

    /// Tells open pages of the change a use case made (`houston_service::Done`), if any.
    pub fn publish(&self, change: Option<houston_service::Change>) {
        match change {
            Some(houston_service::Change::Deploy(kind, deploy)) => {
                self.deploy_changed(kind, &deploy)
            }
            Some(houston_service::Change::Lock(change)) => self.lock_changed(change),
            None => {}
        }
    }

    fn tell(&self, message: FeedMessage) {
        // Before anyone hears of it: the page a form post redirects to must not
        // be served from before the change.
        if message.changes_shared() {
            self.page_cache.invalidate();
        } else {
            self.page_cache.activity();
        }
        match self.publisher.get() {
            Some(queue) => {
                let _ = queue.send(message);
            }
            // No receivers is normal: nobody has a page open.
            None => {
                let _ = self.sender.send(message.into());
            }
        }
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

/// Event `name` with `data` as JSON (a `resync` should it not write).
fn named(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| resync())
}

fn resync() -> Event {
    Event::default().event("resync").data("")
}

/// How often a stream opened with a session checks that the session still lives.
pub const SESSION_RECHECK: Duration = Duration::from_secs(30);

/// `GET /api/v1/events`: a stream of `deploy` events (a `DeployChange` as JSON). A
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
    // A stream ends within a recheck of its credential ending: a session (sign-out,
    // disabled account, expiry), a token (revoked, expired, owner disabled) or a
    // proxy-named person (account disabled). Each recheck asks the store again.
    let session =
        crate::http::auth::session_id_hash(request.headers(), state.sessions.cookie_name());
    let token_hash =
        crate::http::auth::bearer(request.headers()).map(app::server::token::hash_token);
    let watch = {
        let state = state.clone();
        let principal = caller.principal.clone();
        async move {
            loop {
                tokio::time::sleep(state.config.stream_recheck).await;
                let now = chrono::Utc::now();
                let alive = match (&principal, &session, &token_hash) {
                    (Principal::Token(_), _, Some(hash)) => state
                        .store
                        .authenticate_api_token(hash, now)
                        .await
                        .is_ok_and(|t| t.is_some()),
                    (Principal::User(_), Some(id_hash), _) => state
                        .store
                        .session_user(id_hash, now, now - state.sessions.idle)
                        .await
                        .is_ok_and(|u| u.is_some()),
                    (Principal::User(user), None, _) => state
                        .store
                        .find_login(&user.username)
                        .await
                        .is_ok_and(|found| found.is_some_and(|(u, _)| u.disabled_at.is_none())),
                    _ => true,
                };
                if !alive {
                    tracing::debug!("a live-update stream ended with its credential");
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
                Ok(LiveEvent::Change(change)) => named("deploy", &change),
                Ok(LiveEvent::Lock(change)) => named("lock", &change),
                Ok(LiveEvent::Alerts(change)) => named("alerts", &change),
                Ok(LiveEvent::Resync) | Err(_) => resync(),
            })
        })
        .take_until(Box::pin(watch));
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::FeedMessage;

    fn message(json: serde_json::Value) -> FeedMessage {
        serde_json::from_value(json).expect("a feed message")
    }

    #[test]
    fn only_locks_registrations_causes_and_alerts_change_what_pages_share() {
        let deploy = |kind: &str| {
            message(serde_json::json!({
                "kind": kind, "deploy": 7, "service": "checkout", "environment": "production",
                "status": "succeeded", "author": null, "started_at": "2026-11-30T10:00:00Z"
            }))
        };
        assert!(
            deploy("registered").changes_shared(),
            "a new service may come"
        );
        assert!(!deploy("status").changes_shared());
        assert!(!deploy("verdict").changes_shared());
        for event in ["locked", "unlocked", "override", "freeze"] {
            let lock = message(serde_json::json!({
                "event": event, "id": 3, "environment": "production", "service": null
            }));
            assert!(lock.changes_shared(), "{event}");
        }
        assert!(
            deploy("cause").changes_shared(),
            "a person's word shows at once"
        );
        let alerts = message(serde_json::json!({ "alerts": 12 }));
        assert!(matches!(alerts, FeedMessage::Alerts(_)), "{alerts:?}");
        assert!(alerts.changes_shared(), "the timeline holds alerts");
    }
}

//! What every page reads and what rarely changes — the locks in force and the
//! windows holding (every page's banner), the services and environments (the
//! history filters) — kept in memory between pages, so a page costs the database
//! only its own rows.
//!
//! An entry is dropped when what it holds may have changed: the live-update
//! publisher invalidates the cache when this replica changes a lock, a window or an
//! override or registers a deploy (before the change is published, so the page a
//! form post redirects to reads it), and when the shared feed brings such a change
//! from another replica, or may have missed some. Deploy statuses and verdicts,
//! the bulk of the changes, leave it be. An entry also
//! ends when what it holds changes by itself (a lock expires, a window opens or
//! closes) and after a short time in any case, for writers that tell nobody (a
//! `houston demo` into a running server's database). The gate never reads from
//! here: whether a deploy may go out is always read from the database.
//!
//! The timeline's views (per filter, as of now rounded up to 5 s), their facts (per
//! range of whole minutes) and an incident's suspects are kept too, a few of each.
//! They change with every deploy and verdict, so they are dropped on every change this
//! replica makes or hears of, and on every alert received: the next request reads
//! them again and waits for it. When only time has passed (a view's 5 s step, or the
//! time to live for error events and writers that tell nobody), the one before is
//! served a little longer while a fresh one is read in the background, so that a
//! page under steady use never waits for the clock.

use chrono::{DateTime, Duration, Utc};
use houston_core::{Timeline, TimelineFacts, TimelineFilter};
use houston_service::ServiceError;
use houston_service::incidents::IncidentSuspects;
use houston_store::{Store, StoreError};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// How long an entry lives at most, with no change heard.
const PAGE_CACHE_TTL: Duration = Duration::seconds(5);

/// How many timeline views, ranges of facts and incidents' suspects are kept at once.
const KEPT_VIEWS: usize = 8;

/// A timeline view is drawn as of now rounded up to this (its "now" and, with nothing
/// to centre on, its end): the views asked for within it are one view, drawn once.
const VIEW_STEP: Duration = Duration::seconds(5);

/// How long past its time a view or an incident's suspects may still be served while
/// a fresh one is read in the background, when nothing has changed since it was read.
const STALE_GRACE: Duration = Duration::seconds(30);

/// How long deploys' and verdicts' activity that a kept view or incident's suspects
/// does not hold may be missing from what is served while a fresh one is read.
const ACTIVITY_LAG: Duration = Duration::seconds(1);

/// How many of the latest activity times are remembered.
const KEPT_ACTIVITY_TIMES: usize = 64;

/// A kept value and its JSON, written once for every request that asks.
pub struct Written<T> {
    value: T,
    json: OnceLock<axum::body::Bytes>,
}

impl<T: serde::Serialize> Written<T> {
    fn new(value: T) -> Self {
        Self {
            value,
            json: OnceLock::new(),
        }
    }

    /// The value as the API writes it, serialised on first use.
    pub fn json(&self) -> Result<axum::body::Bytes, serde_json::Error> {
        if let Some(json) = self.written() {
            return Ok(json);
        }
        let json = axum::body::Bytes::from(serde_json::to_vec(&self.value)?);
        Ok(self.json.get_or_init(|| json).clone())
    }

    /// The JSON, if it was written already.
    fn written(&self) -> Option<axum::body::Bytes> {
        self.json.get().cloned()
    }
}

impl<T> std::ops::Deref for Written<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// A kept timeline view, with its JSON and its page's screen, each written once for
/// every request that asks.
pub struct View {
    pub timeline: Written<Timeline>,
    /// The page's screen and how it was drawn: the view that replaces this one in
    /// the background is drawn the same way there.
    screen: OnceLock<(DrawScreen, crate::api::TimelineScreen)>,
}

/// How a page draws its screen from a view.
pub type DrawScreen = fn(&Timeline) -> crate::api::TimelineScreen;

impl View {
    fn new(timeline: Timeline) -> Self {
        Self {
            timeline: Written::new(timeline),
            screen: OnceLock::new(),
        }
    }

    /// The view as its page shows it, drawn by `draw` on first use (off the async
    /// workers).
    pub async fn screen(
        self: &Arc<Self>,
        draw: DrawScreen,
    ) -> Result<crate::api::TimelineScreen, ServiceError> {
        if let Some((_, screen)) = self.screen.get() {
            return Ok(screen.clone());
        }
        let view = Arc::clone(self);
        off_workers(move || view.draw_screen(draw).clone()).await
    }

    fn draw_screen(&self, draw: DrawScreen) -> &crate::api::TimelineScreen {
        &self.screen.get_or_init(|| (draw, draw(&self.timeline))).1
    }

    /// The view as the API writes it, serialised on first use (off the async
    /// workers).
    pub async fn json(self: &Arc<Self>) -> Result<axum::body::Bytes, ServiceError> {
        if let Some(json) = self.timeline.written() {
            return Ok(json);
        }
        let view = Arc::clone(self);
        off_workers(move || view.timeline.json())
            .await?
            .map_err(|e| internal("writing a view", e))
    }
}

/// What the server failed at by itself, for the request to answer 500.
fn internal(what: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Store(StoreError::Backend(format!("{what}: {error}")))
}

/// Runs `work` on the blocking pool: drawing a view or writing its JSON takes
/// milliseconds of CPU, and requests must not wait behind it on the async workers.
async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(internal("drawing a view", e)),
    }
}

/// The cache of what pages share; one per server process.
pub struct PageCache {
    /// Bumped by every change: an entry read under an older generation is stale.
    generation: AtomicU64,
    /// Bumped by every change, deploys' and verdicts' too, and every alert.
    activity: AtomicU64,
    /// When the latest activity counts were reached, oldest first (a few).
    activity_times: Mutex<std::collections::VecDeque<(u64, DateTime<Utc>)>>,
    ttl: Duration,
    standing: Slot<crate::api::Standing>,
    filter_options: Slot<crate::api::FilterOptions>,
    timeline_facts: Kept<(DateTime<Utc>, DateTime<Utc>), TimelineFacts>,
    views: Arc<Kept<(TimelineFilter, DateTime<Utc>), View>>,
    /// By incident and window (minutes).
    suspects: Arc<Kept<(i64, i64), Written<IncidentSuspects>>>,
}

struct Slot<T>(Mutex<Option<Entry<T>>>);

/// A few entries by key, the oldest dropped first; one load at a time, so the
/// requests that miss together wait for one read rather than each making it.
struct Kept<K, T>(
    Mutex<Vec<(K, KeptEntry<Arc<T>>)>>,
    Arc<tokio::sync::Mutex<()>>,
);

impl<K, T> Default for Kept<K, T> {
    fn default() -> Self {
        Self(
            Mutex::new(Vec::new()),
            Arc::new(tokio::sync::Mutex::new(())),
        )
    }
}

struct KeptEntry<T> {
    /// The counts of changes ([`PageCache::invalidate`]) and of activity taken
    /// before the read: it holds every change counted up to them.
    seen: Seen,
    until: DateTime<Utc>,
    value: T,
}

/// What a reader needs an entry to hold: every change and activity counted up to
/// these.
#[derive(Clone, Copy)]
struct Seen {
    changes: u64,
    activity: u64,
}

/// How far behind a reader takes a view or an incident's suspects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Holding every change and activity heard when asked, within its time: what a
    /// page refetching because it heard of a change needs.
    Current,
    /// Also one a little behind, while a fresh one is read in the background:
    /// holding every change, past its time by at most [`STALE_GRACE`], and missing
    /// no deploy's or verdict's activity older than [`ACTIVITY_LAG`].
    MayLag,
}

/// What a kept slot holds for a key.
enum Found<T> {
    Fresh(Arc<T>),
    /// One that the reader takes while a fresh one is read ([`Freshness::MayLag`]).
    Stale(Arc<T>),
    Missing,
}

impl<K: PartialEq, T> Kept<K, T> {
    fn find(
        &self,
        key: &K,
        stands_in: fn(&K, &K) -> bool,
        need: Seen,
        freshness: Freshness,
        unheld_since: impl Fn(u64) -> Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Found<T> {
        let entries = lock(&self.0);
        let changes = |e: &KeptEntry<Arc<T>>| e.seen.changes >= need.changes;
        let activity = |e: &KeptEntry<Arc<T>>| e.seen.activity >= need.activity;
        if let Some((_, entry)) = entries
            .iter()
            .find(|(k, e)| k == key && changes(e) && activity(e) && now < e.until)
        {
            return Found::Fresh(entry.value.clone());
        }
        if freshness == Freshness::Current {
            return Found::Missing;
        }
        // The newest that may stand in (entries are kept oldest first).
        entries
            .iter()
            .rev()
            .find(|(k, e)| {
                (k == key || stands_in(k, key))
                    && changes(e)
                    && now < e.until + STALE_GRACE
                    && (activity(e)
                        || unheld_since(e.seen.activity).is_none_or(|at| now < at + ACTIVITY_LAG))
            })
            .map_or(Found::Missing, |(_, e)| Found::Stale(e.value.clone()))
    }
}

struct Entry<T> {
    generation: u64,
    until: DateTime<Utc>,
    value: T,
}

impl Default for PageCache {
    fn default() -> Self {
        Self::new(PAGE_CACHE_TTL)
    }
}

impl PageCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            generation: AtomicU64::new(0),
            activity: AtomicU64::new(0),
            activity_times: Mutex::default(),
            ttl,
            standing: Slot(Mutex::new(None)),
            filter_options: Slot(Mutex::new(None)),
            timeline_facts: Kept::default(),
            views: Arc::default(),
            suspects: Arc::default(),
        }
    }

    /// Something changed (or may have): every entry is stale from now on.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.activity();
    }

    /// A deploy, a verdict or an alert changed: the timeline's facts and suspects
    /// are stale from now on, what every page shares is not.
    pub fn activity(&self) {
        let count = self.activity.fetch_add(1, Ordering::SeqCst) + 1;
        let mut times = lock(&self.activity_times);
        times.push_back((count, Utc::now()));
        if times.len() > KEPT_ACTIVITY_TIMES {
            times.pop_front();
        }
    }

    /// When the first activity after count `held` happened: `None` when there was
    /// none, long ago when it is no longer remembered.
    fn unheld_since(&self, held: u64) -> Option<DateTime<Utc>> {
        if self.activity.load(Ordering::SeqCst) <= held {
            return None;
        }
        let times = lock(&self.activity_times);
        Some(
            times
                .iter()
                .find(|(count, _)| *count > held)
                .map_or(DateTime::<Utc>::MIN_UTC, |(_, at)| *at),
        )
    }

    /// The view `filter` asks for, as of `now` rounded up to [`VIEW_STEP`]: kept per
    /// filter and step until a change, and drawn from facts kept per range of whole
    /// minutes (`houston_service::timeline` reads what is not kept). With
    /// [`Freshness::MayLag`] the view of the step before stands in while this step's
    /// is drawn.
    pub async fn timeline(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        filter: &TimelineFilter,
        freshness: Freshness,
        now: DateTime<Utc>,
    ) -> Result<Arc<View>, ServiceError> {
        let step = VIEW_STEP.num_seconds();
        let as_of =
            DateTime::from_timestamp((now.timestamp() + step - 1).div_euclid(step) * step, 0)
                .unwrap_or(now);
        let (cache, store, owned) = (Arc::clone(self), Arc::clone(store), filter.clone());
        let load = move |replaced: Option<Arc<View>>| async move {
            use houston_service::timeline;
            let placed = timeline::place(store.as_ref(), &owned, as_of).await?;
            let range = placed.facts_range(&owned);
            let facts = cache
                .get_or_load_kept(&cache.timeline_facts, range, now, || {
                    timeline::facts(store.as_ref(), range.0, range.1, as_of)
                })
                .await?;
            // A view a page is showing: its successor's screen is drawn here too, in
            // the background, rather than by the first page that asks for it.
            let drawn_by = replaced.and_then(|view| view.screen.get().map(|(draw, _)| *draw));
            off_workers(move || {
                let view = View::new(placed.draw(&facts, &owned, as_of));
                if let Some(draw) = drawn_by {
                    view.draw_screen(draw);
                }
                view
            })
            .await
        };
        self.kept_or_stale(
            &self.views,
            (filter.clone(), as_of),
            |kept, wanted| kept.0 == wanted.0 && kept.1 < wanted.1,
            freshness,
            now,
            load,
        )
        .await
    }

    /// Incident `id`'s suspects of the `window` before it, kept until a change (or,
    /// with [`Freshness::MayLag`], a little behind it).
    pub async fn suspects(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        id: i64,
        window: Duration,
        freshness: Freshness,
        now: DateTime<Utc>,
    ) -> Result<Arc<Written<IncidentSuspects>>, ServiceError> {
        let store = Arc::clone(store);
        self.kept_or_stale(
            &self.suspects,
            (id, window.num_minutes()),
            |_, _| false,
            freshness,
            now,
            move |_| async move {
                houston_service::incidents::suspects(store.as_ref(), id, window)
                    .await
                    .map(Written::new)
            },
        )
        .await
    }

    /// The locks in force and windows holding at `now`: kept (until they change by
    /// themselves, at `changes_at`), or read by `load`.
    pub async fn standing<E, Fut>(
        &self,
        now: DateTime<Utc>,
        load: impl FnOnce() -> Fut,
    ) -> Result<crate::api::Standing, E>
    where
        Fut: Future<Output = Result<crate::api::Standing, E>>,
    {
        self.get_or_load(&self.standing, now, |s| s.changes_at, load)
            .await
    }

    /// The services and environments the history filters offer.
    pub async fn filter_options<E, Fut>(
        &self,
        now: DateTime<Utc>,
        load: impl FnOnce() -> Fut,
    ) -> Result<crate::api::FilterOptions, E>
    where
        Fut: Future<Output = Result<crate::api::FilterOptions, E>>,
    {
        self.get_or_load(&self.filter_options, now, |_| None, load)
            .await
    }

    /// The slot's value when it is still good, else `load`'s, kept until the
    /// time-to-live or until `changes_at` says it changes by itself.
    async fn get_or_load<T: Clone, E, Fut>(
        &self,
        slot: &Slot<T>,
        now: DateTime<Utc>,
        changes_at: fn(&T) -> Option<DateTime<Utc>>,
        load: impl FnOnce() -> Fut,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        // Taken before reading: a change committed while the read runs leaves the
        // entry under the old generation, so it is not served again.
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(entry) = lock(&slot.0).as_ref()
            && entry.generation == generation
            && now < entry.until
        {
            return Ok(entry.value.clone());
        }
        let value = load().await?;
        let until = changes_at(&value).map_or(now + self.ttl, |at| at.min(now + self.ttl));
        *lock(&slot.0) = Some(Entry {
            generation,
            until,
            value: value.clone(),
        });
        Ok(value)
    }
}

impl PageCache {
    /// The counts every entry read from now on holds.
    fn seen(&self) -> Seen {
        // Changes first: an entry holding this many changes then holds at least the
        // activity they brought.
        let changes = self.generation.load(Ordering::SeqCst);
        Seen {
            changes,
            activity: self.activity.load(Ordering::SeqCst),
        }
    }

    /// `key`'s value when it holds every change and activity counted when asked and
    /// is within its time, else `load`'s, kept until the time-to-live; at most
    /// [`KEPT_VIEWS`] keys.
    async fn get_or_load_kept<K: PartialEq, T, E, Fut>(
        &self,
        kept: &Kept<K, T>,
        key: K,
        now: DateTime<Utc>,
        load: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let exact = |_: &K, _: &K| false;
        let need = self.seen();
        if let Found::Fresh(value) = kept.find(&key, exact, need, Freshness::Current, |_| None, now)
        {
            return Ok(value);
        }
        let _loading = kept.1.lock().await;
        // A read that began while this request waited holds what it needs.
        if let Found::Fresh(value) = kept.find(&key, exact, need, Freshness::Current, |_| None, now)
        {
            return Ok(value);
        }
        self.load_into(kept, key, now, load).await
    }

    /// [`Self::get_or_load_kept`], except that with [`Freshness::MayLag`] an entry for `key`
    /// (or one that `stands_in` for it) a little behind is served while `load` runs
    /// in the background, once. `load` is given the value it replaces, if any.
    async fn kept_or_stale<K, T, Fut>(
        self: &Arc<Self>,
        kept: &Arc<Kept<K, T>>,
        key: K,
        stands_in: fn(&K, &K) -> bool,
        freshness: Freshness,
        now: DateTime<Utc>,
        load: impl FnOnce(Option<Arc<T>>) -> Fut + Send + 'static,
    ) -> Result<Arc<T>, ServiceError>
    where
        K: PartialEq + Send + Sync + 'static,
        T: Send + Sync + 'static,
        Fut: Future<Output = Result<T, ServiceError>> + Send + 'static,
    {
        let unheld_since = |held| self.unheld_since(held);
        match kept.find(&key, stands_in, self.seen(), freshness, unheld_since, now) {
            Found::Fresh(value) => return Ok(value),
            Found::Stale(value) => {
                // Whoever holds the loading lock is reading already.
                if let Ok(loading) = Arc::clone(&kept.1).try_lock_owned() {
                    let (cache, kept, replaced) =
                        (Arc::clone(self), Arc::clone(kept), Arc::clone(&value));
                    tokio::spawn(async move {
                        let _loading = loading;
                        let load = move || load(Some(replaced));
                        if let Err(error) = cache.load_into(&kept, key, now, load).await {
                            // The stale entry runs out; a request then reads for itself.
                            tracing::warn!(%error, "refreshing a kept page in the background");
                        }
                    });
                }
                return Ok(value);
            }
            Found::Missing => {}
        }
        self.get_or_load_kept(kept, key, now, || load(None)).await
    }

    /// `load`'s value, kept for `key` with the counts taken before reading (a change
    /// committed while the read runs is not counted as held).
    async fn load_into<K: PartialEq, T, E, Fut>(
        &self,
        kept: &Kept<K, T>,
        key: K,
        now: DateTime<Utc>,
        load: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let seen = self.seen();
        let value = Arc::new(load().await?);
        let mut entries = lock(&kept.0);
        entries.retain(|(k, e)| {
            *k != key && e.seen.changes >= seen.changes && now < e.until + STALE_GRACE
        });
        if entries.len() >= KEPT_VIEWS {
            entries.remove(0);
        }
        entries.push((
            key,
            KeptEntry {
                seen,
                until: now + self.ttl,
                value: value.clone(),
            },
        ));
        Ok(value)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves at worst a stale entry, which the
    // generation and the time still bound.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FilterOptions, Standing};
    use std::cell::Cell;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn options(n: usize) -> FilterOptions {
        FilterOptions {
            services: Vec::new(),
            environments: (0..n)
                .filter_map(|i| {
                    Some(crate::domain::Environment {
                        name: crate::domain::EnvironmentName::parse(&format!("env{i}")).ok()?,
                        stage_order: i as i32,
                    })
                })
                .collect(),
        }
    }

    /// Reads through the cache, counting how often the database was asked.
    async fn read(cache: &PageCache, now: DateTime<Utc>, reads: &Cell<usize>) -> usize {
        let answer: Result<FilterOptions, ()> = cache
            .filter_options(now, || async {
                reads.set(reads.get() + 1);
                Ok(options(reads.get()))
            })
            .await;
        answer.map(|o| o.environments.len()).unwrap_or(0)
    }

    #[tokio::test]
    async fn kept_until_a_change_then_read_again() {
        let cache = PageCache::new(Duration::seconds(5));
        let reads = Cell::new(0);
        assert_eq!(read(&cache, at(0), &reads).await, 1);
        assert_eq!(read(&cache, at(1), &reads).await, 1);
        assert_eq!(reads.get(), 1);
        cache.invalidate();
        assert_eq!(read(&cache, at(2), &reads).await, 2);
        assert_eq!(read(&cache, at(3), &reads).await, 2);
        assert_eq!(reads.get(), 2);
    }

    #[tokio::test]
    async fn an_entry_ends_after_its_time() {
        let cache = PageCache::new(Duration::seconds(5));
        let reads = Cell::new(0);
        read(&cache, at(0), &reads).await;
        read(&cache, at(4), &reads).await;
        assert_eq!(reads.get(), 1);
        read(&cache, at(5), &reads).await;
        assert_eq!(reads.get(), 2);
    }

    #[tokio::test]
    async fn a_change_during_the_read_is_not_hidden() {
        let cache = PageCache::new(Duration::seconds(5));
        let reads = Cell::new(0);
        let _: Result<FilterOptions, ()> = cache
            .filter_options(at(0), || async {
                reads.set(reads.get() + 1);
                // A change commits while this read is under way.
                cache.invalidate();
                Ok(options(1))
            })
            .await;
        read(&cache, at(1), &reads).await;
        assert_eq!(reads.get(), 2, "the entry read across a change is stale");
    }

    #[tokio::test]
    async fn standing_ends_when_it_changes_by_itself() {
        let cache = PageCache::new(Duration::seconds(60));
        let reads = Cell::new(0);
        let load = || async {
            reads.set(reads.get() + 1);
            Ok::<_, ()>(Standing {
                changes_at: Some(at(10)),
                ..Standing::default()
            })
        };
        let _ = cache.standing(at(0), load).await;
        let _ = cache.standing(at(9), load).await;
        assert_eq!(reads.get(), 1);
        let _ = cache.standing(at(10), load).await;
        assert_eq!(reads.get(), 2, "a lock expiring at 10 s is read again then");
    }

    #[tokio::test]
    async fn a_failed_read_is_not_kept() {
        let cache = PageCache::new(Duration::seconds(5));
        let failed: Result<FilterOptions, &str> =
            cache.filter_options(at(0), || async { Err("down") }).await;
        assert!(failed.is_err());
        let reads = Cell::new(0);
        read(&cache, at(1), &reads).await;
        assert_eq!(reads.get(), 1);
    }

    /// Reads key `key` through a kept slot, counting the loads.
    async fn read_kept(
        cache: &PageCache,
        kept: &Kept<u32, u32>,
        key: u32,
        now: DateTime<Utc>,
        reads: &Cell<usize>,
    ) -> u32 {
        let answer: Result<Arc<u32>, ()> = cache
            .get_or_load_kept(kept, key, now, || async {
                reads.set(reads.get() + 1);
                Ok(key * 10)
            })
            .await;
        answer.map(|v| *v).unwrap_or(0)
    }

    #[tokio::test]
    async fn views_are_kept_per_key_until_any_activity() {
        let cache = PageCache::new(Duration::seconds(5));
        let kept = Kept::default();
        let reads = Cell::new(0);
        assert_eq!(read_kept(&cache, &kept, 1, at(0), &reads).await, 10);
        assert_eq!(read_kept(&cache, &kept, 2, at(0), &reads).await, 20);
        assert_eq!(read_kept(&cache, &kept, 1, at(1), &reads).await, 10);
        assert_eq!(reads.get(), 2, "each key is read once");
        // A verdict lands: what every page shares stays, the views go.
        let shared = Cell::new(0);
        read(&cache, at(1), &shared).await;
        cache.activity();
        read(&cache, at(2), &shared).await;
        assert_eq!(shared.get(), 1, "activity leaves the shared entries be");
        read_kept(&cache, &kept, 1, at(2), &reads).await;
        assert_eq!(reads.get(), 3, "activity makes a view stale");
        cache.invalidate();
        read_kept(&cache, &kept, 1, at(2), &reads).await;
        assert_eq!(reads.get(), 4, "so does every shared change");
        read_kept(&cache, &kept, 1, at(7), &reads).await;
        assert_eq!(reads.get(), 5, "and the time to live");
    }

    #[tokio::test]
    async fn only_a_few_views_are_kept() {
        let cache = PageCache::new(Duration::seconds(5));
        let kept = Kept::default();
        let reads = Cell::new(0);
        let views = u32::try_from(KEPT_VIEWS).unwrap_or(u32::MAX);
        for key in 0..=views {
            read_kept(&cache, &kept, key, at(0), &reads).await;
        }
        assert_eq!(lock(&kept.0).len(), KEPT_VIEWS);
        read_kept(&cache, &kept, views, at(0), &reads).await;
        assert_eq!(reads.get(), KEPT_VIEWS + 1, "the newest is kept");
        read_kept(&cache, &kept, 0, at(0), &reads).await;
        assert_eq!(reads.get(), KEPT_VIEWS + 2, "the oldest was dropped");
    }

    /// Reads `key` through a kept slot that may serve a stale entry, counting loads.
    async fn read_stale(
        cache: &Arc<PageCache>,
        kept: &Arc<Kept<u32, u32>>,
        key: u32,
        now: DateTime<Utc>,
        reads: &Arc<AtomicU64>,
    ) -> u32 {
        let reads = Arc::clone(reads);
        let answer = cache
            .kept_or_stale(
                kept,
                key,
                |_, _| false,
                Freshness::MayLag,
                now,
                move |_| async move {
                    Ok(key * 10 + u32::try_from(reads.fetch_add(1, Ordering::SeqCst)).unwrap_or(0))
                },
            )
            .await;
        answer.map(|v| *v).unwrap_or(0)
    }

    /// Waits for the background read `reads` counts up to `n`.
    async fn settle(reads: &Arc<AtomicU64>, n: u64) {
        for _ in 0..100 {
            if reads.load(Ordering::SeqCst) == n {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            reads.load(Ordering::SeqCst),
            n,
            "one read in the background"
        );
    }

    #[tokio::test]
    async fn past_its_time_an_entry_stands_in_while_a_fresh_one_is_read() {
        let cache = Arc::new(PageCache::new(Duration::seconds(5)));
        let kept = Arc::default();
        let reads = Arc::new(AtomicU64::new(0));
        // Activity is timed by the clock: this test's times are the clock's.
        let start = Utc::now();
        let at = |ms: i64| start + Duration::milliseconds(ms);
        assert_eq!(read_stale(&cache, &kept, 1, at(0), &reads).await, 10);
        // Past its time, within the grace: the old value at once, a read behind it.
        assert_eq!(read_stale(&cache, &kept, 1, at(6_000), &reads).await, 10);
        settle(&reads, 2).await;
        assert_eq!(read_stale(&cache, &kept, 1, at(7_000), &reads).await, 11);
        // Activity under a second ago: the entry stands in, a read behind it.
        cache.activity();
        assert_eq!(read_stale(&cache, &kept, 1, at(0), &reads).await, 11);
        settle(&reads, 3).await;
        assert_eq!(read_stale(&cache, &kept, 1, at(0), &reads).await, 12);
        // Activity more than a second before: the request waits for a read.
        cache.activity();
        assert_eq!(read_stale(&cache, &kept, 1, at(1_500), &reads).await, 13);
        // A change (a lock, an alert, a person's word): nothing behind it is served.
        cache.invalidate();
        assert_eq!(read_stale(&cache, &kept, 1, at(1_500), &reads).await, 14);
        // Past the grace: the request waits too.
        let late = at(1_500) + PAGE_CACHE_TTL + STALE_GRACE;
        assert_eq!(read_stale(&cache, &kept, 1, late, &reads).await, 15);
        assert_eq!(reads.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn a_read_behind_a_stand_in_is_given_the_value_it_replaces() {
        let cache = Arc::new(PageCache::new(Duration::seconds(5)));
        let kept: Arc<Kept<u32, u32>> = Arc::default();
        let given = Arc::new(Mutex::new(Vec::new()));
        let start = Utc::now();
        for (ms, answer) in [(0, 1), (6_000, 2)] {
            let given = Arc::clone(&given);
            let read = cache
                .kept_or_stale(
                    &kept,
                    7,
                    |_, _| false,
                    Freshness::MayLag,
                    start + Duration::milliseconds(ms),
                    move |replaced: Option<Arc<u32>>| async move {
                        lock(&given).push(replaced.map(|v| *v));
                        Ok(answer)
                    },
                )
                .await;
            assert_eq!(
                read.map(|v| *v).ok(),
                Some(1),
                "the first value, then it stands in"
            );
        }
        for _ in 0..100 {
            if lock(&given).len() == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        // A miss replaces nothing; the read in the background replaces the first value.
        assert_eq!(*lock(&given), [None, Some(1)]);
    }
}

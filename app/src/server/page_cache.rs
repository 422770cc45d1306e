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

use chrono::{DateTime, Duration, Utc};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long an entry lives at most, with no change heard.
const PAGE_CACHE_TTL: Duration = Duration::seconds(5);

/// The cache of what pages share; one per server process.
pub struct PageCache {
    /// Bumped by every change: an entry read under an older generation is stale.
    generation: AtomicU64,
    ttl: Duration,
    standing: Slot<crate::api::Standing>,
    filter_options: Slot<crate::api::FilterOptions>,
}

struct Slot<T>(Mutex<Option<Entry<T>>>);

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
            ttl,
            standing: Slot(Mutex::new(None)),
            filter_options: Slot(Mutex::new(None)),
        }
    }

    /// Something changed (or may have): every entry is stale from now on.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
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
        if let Some(entry) = lock(slot).as_ref()
            && entry.generation == generation
            && now < entry.until
        {
            return Ok(entry.value.clone());
        }
        let value = load().await?;
        let until = changes_at(&value).map_or(now + self.ttl, |at| at.min(now + self.ttl));
        *lock(slot) = Some(Entry {
            generation,
            until,
            value: value.clone(),
        });
        Ok(value)
    }
}

fn lock<T>(slot: &Slot<T>) -> std::sync::MutexGuard<'_, Option<Entry<T>>> {
    // A panic while holding the lock leaves at worst a stale entry, which the
    // generation and the time still bound.
    slot.0
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
}

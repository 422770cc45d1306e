//! Security events in the audit log — refusals of known callers, bad bearer tokens,
//! wrong set-up secrets and webhook signatures, throttled sign-ins, proxy sign-ins —
//! rate-limited so a flood writes a few rows, never one per request. The limits are
//! per process: each replica writes at most its own share.

use crate::domain::Actor;
use crate::ssr::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One row per (action, actor, address) in this window; repeats are counted and
/// reported with the next row.
const PER_KEY_WINDOW: Duration = Duration::from_secs(600);
/// At most this many security rows per minute in all, whatever the keys.
const ROWS_PER_MINUTE: u32 = 60;
/// Keys remembered at most; beyond this the oldest windows are forgotten.
const MAX_KEYS: usize = 10_000;

#[derive(Default)]
struct Limiter {
    /// Start of each key's window and how many events it suppressed since.
    keys: HashMap<String, (Instant, u64)>,
    minute_started: Option<Instant>,
    rows_this_minute: u32,
}

impl Limiter {
    /// `Some(suppressed)` when an event for `key` at `now` may be written.
    fn admit(&mut self, key: &str, now: Instant) -> Option<u64> {
        match self.minute_started {
            Some(start) if now.duration_since(start) < Duration::from_secs(60) => {}
            _ => {
                self.minute_started = Some(now);
                self.rows_this_minute = 0;
            }
        }
        if let Some((started, suppressed)) = self.keys.get_mut(key)
            && now.duration_since(*started) < PER_KEY_WINDOW
        {
            *suppressed += 1;
            return None;
        }
        if self.rows_this_minute >= ROWS_PER_MINUTE {
            return None;
        }
        if self.keys.len() >= MAX_KEYS {
            self.keys
                .retain(|_, (started, _)| now.duration_since(*started) < PER_KEY_WINDOW);
        }
        self.rows_this_minute += 1;
        let previous = self
            .keys
            .insert(key.to_owned(), (now, 0))
            .map_or(0, |(_, suppressed)| suppressed);
        Some(previous)
    }
}

/// Writes security events to the audit log through the store, rate-limited.
pub struct SecurityLog {
    store: Arc<dyn Store>,
    limiter: Mutex<Limiter>,
}

impl SecurityLog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            limiter: Mutex::new(Limiter::default()),
        }
    }

    /// Records `action` on `target` by `by` unless the same happened recently; the
    /// row is written in the background (a refusal must not wait for storage).
    pub fn record(&self, by: &Actor, action: &'static str, target: &str, detail: Option<String>) {
        let key = format!(
            "{action}\u{0}{}\u{0}{}",
            by.name,
            by.address.as_deref().unwrap_or_default()
        );
        let admitted = match self.limiter.lock() {
            Ok(mut limiter) => limiter.admit(&key, Instant::now()),
            Err(poisoned) => poisoned.into_inner().admit(&key, Instant::now()),
        };
        let Some(suppressed) = admitted else {
            return;
        };
        let detail = match (detail, suppressed) {
            (detail, 0) => detail,
            (Some(d), n) => Some(format!("{d}; {n} more like it before this one")),
            (None, n) => Some(format!("{n} more like it before this one")),
        };
        let (store, by, target) = (self.store.clone(), by.clone(), target.to_owned());
        tokio::spawn(async move {
            let now = crate::domain::to_stored_precision(chrono::Utc::now());
            if let Err(e) = store
                .append_audit(&by, action, &target, detail.as_deref(), now)
                .await
            {
                tracing::error!(error = %e, action, "could not write a security event to the audit log");
            }
        });
    }
}

/// The security log this server provided to the request, for server functions.
pub fn log() -> Option<Arc<SecurityLog>> {
    leptos::prelude::use_context::<Arc<SecurityLog>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_writes_one_row_per_key_and_window() {
        let mut limiter = Limiter::default();
        let t = Instant::now();
        assert_eq!(limiter.admit("bad-token 10.0.0.1", t), Some(0));
        for _ in 0..1000 {
            assert_eq!(limiter.admit("bad-token 10.0.0.1", t), None);
        }
        assert_eq!(
            limiter.admit("bad-token 10.0.0.2", t),
            Some(0),
            "another key"
        );
        let later = t + PER_KEY_WINDOW + Duration::from_secs(1);
        assert_eq!(
            limiter.admit("bad-token 10.0.0.1", later),
            Some(1000),
            "the next row says how many were not written"
        );
    }

    #[test]
    fn rotating_keys_hit_the_overall_cap() {
        let mut limiter = Limiter::default();
        let t = Instant::now();
        let written = (0..1000)
            .filter(|i| limiter.admit(&format!("key {i}"), t).is_some())
            .count();
        assert_eq!(written, ROWS_PER_MINUTE as usize);
        assert!(
            limiter
                .admit("fresh", t + Duration::from_secs(61))
                .is_some()
        );
    }
}

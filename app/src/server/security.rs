//! Security events in the audit log — refusals of known callers, bad bearer tokens,
//! wrong set-up secrets and webhook signatures, throttled sign-ins, proxy sign-ins —
//! rate-limited so a flood writes a few rows, never one per request. The limits are
//! per process: each replica writes at most its own share.

use crate::domain::Actor;
use crate::server::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One row per (action, actor, address) in this window; repeats are counted and
/// reported with the next row.
const PER_KEY_WINDOW: Duration = Duration::from_secs(600);
/// At most this many rows per minute for one action from one class of caller:
/// strangers flooding `token.unknown` cannot use up what records a known
/// caller's refusal (review N11).
const ROWS_PER_MINUTE: u32 = 30;
/// Keys remembered at most; beyond this the oldest windows are forgotten.
const MAX_KEYS: usize = 10_000;
/// Keys a "suppressed" row names at most.
const NAMED_KEYS: usize = 5;

/// Who an event is about: someone Houston knows (a signed-in person, a token, the
/// command line) or a stranger (no or an unknown credential). Each has its own
/// budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    Known,
    Stranger,
}

impl Class {
    fn of(by: &Actor) -> Self {
        if ["user:", "token:", "cli:"]
            .iter()
            .any(|p| by.name.starts_with(p))
        {
            Class::Known
        } else {
            Class::Stranger
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Class::Known => "known",
            Class::Stranger => "unknown",
        }
    }
}

/// One (class, action)'s rows this minute and what it dropped.
#[derive(Default)]
struct Budget {
    minute_started: Option<Instant>,
    rows_this_minute: u32,
    /// Events dropped by the budget (not repeats of a key) since the last
    /// "suppressed" row, and a few of their keys.
    dropped: u64,
    dropped_keys: Vec<String>,
}

/// What becomes of one event.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// Written, saying how many repeats of its key went unwritten before it.
    Write(u64),
    /// A repeat of a key already written in its window: counted for the next row.
    Repeat,
    /// Over its budget: counted for a "suppressed" row; `first` when it is the
    /// first drop since the last such row (the caller schedules that row).
    Dropped { first: bool },
}

#[derive(Default)]
struct Limiter {
    /// Start of each key's window and how many events it suppressed since.
    keys: HashMap<String, (Instant, u64)>,
    budgets: HashMap<(Class, &'static str), Budget>,
}

impl Limiter {
    fn admit(&mut self, class: Class, action: &'static str, key: &str, now: Instant) -> Admission {
        if let Some((started, suppressed)) = self.keys.get_mut(key)
            && now.duration_since(*started) < PER_KEY_WINDOW
        {
            *suppressed += 1;
            return Admission::Repeat;
        }
        let budget = self.budgets.entry((class, action)).or_default();
        match budget.minute_started {
            Some(start) if now.duration_since(start) < Duration::from_secs(60) => {}
            _ => {
                budget.minute_started = Some(now);
                budget.rows_this_minute = 0;
            }
        }
        if budget.rows_this_minute >= ROWS_PER_MINUTE {
            budget.dropped += 1;
            if budget.dropped_keys.len() < NAMED_KEYS
                && !budget.dropped_keys.iter().any(|k| k == key)
            {
                budget.dropped_keys.push(key.to_owned());
            }
            return Admission::Dropped {
                first: budget.dropped == 1,
            };
        }
        budget.rows_this_minute += 1;
        if self.keys.len() >= MAX_KEYS {
            self.keys
                .retain(|_, (started, _)| now.duration_since(*started) < PER_KEY_WINDOW);
        }
        let previous = self
            .keys
            .insert(key.to_owned(), (now, 0))
            .map_or(0, |(_, suppressed)| suppressed);
        Admission::Write(previous)
    }

    /// The drops of one budget since its last "suppressed" row, now reported.
    fn take_dropped(&mut self, class: Class, action: &'static str) -> (u64, Vec<String>) {
        match self.budgets.get_mut(&(class, action)) {
            Some(budget) => (
                std::mem::take(&mut budget.dropped),
                std::mem::take(&mut budget.dropped_keys),
            ),
            None => (0, Vec::new()),
        }
    }
}

/// The detail of a "suppressed" row: how many, and a few keys (actor, address).
fn suppressed_detail(class: Class, action: &str, dropped: u64, keys: &[String]) -> String {
    let keys: Vec<String> = keys.iter().map(|k| k.replace('\u{0}', " ")).collect();
    format!(
        "{dropped} {action} event(s) from {} callers over the budget of {ROWS_PER_MINUTE} a minute were not written; among them: {}",
        class.as_str(),
        keys.join(", ")
    )
}

/// Writes security events to the audit log through the store, rate-limited.
pub struct SecurityLog {
    store: Arc<dyn Store>,
    limiter: Arc<Mutex<Limiter>>,
}

fn locked(limiter: &Mutex<Limiter>) -> std::sync::MutexGuard<'_, Limiter> {
    limiter
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SecurityLog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            limiter: Arc::new(Mutex::new(Limiter::default())),
        }
    }

    /// Records `action` on `target` by `by` unless the same happened recently; the
    /// row is written in the background (a refusal must not wait for storage).
    /// Events over their budget are counted, and one row a minute says how many.
    pub fn record(&self, by: &Actor, action: &'static str, target: &str, detail: Option<String>) {
        let key = format!(
            "{action}\u{0}{}\u{0}{}",
            by.name,
            by.address.as_deref().unwrap_or_default()
        );
        let class = Class::of(by);
        let admitted = locked(&self.limiter).admit(class, action, &key, Instant::now());
        let suppressed = match admitted {
            Admission::Write(suppressed) => suppressed,
            Admission::Repeat | Admission::Dropped { first: false } => return,
            Admission::Dropped { first: true } => {
                // One row for this budget's drops, a minute from the first.
                let (store, limiter) = (self.store.clone(), self.limiter.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    let (dropped, keys) = locked(&limiter).take_dropped(class, action);
                    if dropped > 0 {
                        let detail = suppressed_detail(class, action, dropped, &keys);
                        write(
                            store,
                            Actor::new("houston", None),
                            "security.suppressed",
                            action.to_owned(),
                            Some(detail),
                        )
                        .await;
                    }
                });
                return;
            }
        };
        let detail = match (detail, suppressed) {
            (detail, 0) => detail,
            (Some(d), n) => Some(format!("{d}; {n} more like it before this one")),
            (None, n) => Some(format!("{n} more like it before this one")),
        };
        let (store, by, target) = (self.store.clone(), by.clone(), target.to_owned());
        tokio::spawn(write(store, by, action, target, detail));
    }
}

async fn write(
    store: Arc<dyn Store>,
    by: Actor,
    action: &'static str,
    target: String,
    detail: Option<String>,
) {
    let now = crate::domain::to_stored_precision(chrono::Utc::now());
    if let Err(e) = store
        .append_audit(&by, action, &target, detail.as_deref(), now)
        .await
    {
        tracing::error!(error = %e, action, "could not write a security event to the audit log");
    }
}

/// The security log this server provided to the request, for server functions.
pub fn log() -> Option<Arc<SecurityLog>> {
    leptos::prelude::use_context::<Arc<SecurityLog>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: Class = Class::Known;
    const S: Class = Class::Stranger;

    #[test]
    fn a_flood_writes_one_row_per_key_and_window() {
        let mut limiter = Limiter::default();
        let t = Instant::now();
        let a = "token.unknown";
        assert_eq!(limiter.admit(S, a, "10.0.0.1", t), Admission::Write(0));
        for _ in 0..1000 {
            assert_eq!(limiter.admit(S, a, "10.0.0.1", t), Admission::Repeat);
        }
        assert_eq!(
            limiter.admit(S, a, "10.0.0.2", t),
            Admission::Write(0),
            "another key"
        );
        let later = t + PER_KEY_WINDOW + Duration::from_secs(1);
        assert_eq!(
            limiter.admit(S, a, "10.0.0.1", later),
            Admission::Write(1000),
            "the next row says how many were not written"
        );
    }

    #[test]
    fn rotating_keys_hit_their_budget_and_are_counted() {
        let mut limiter = Limiter::default();
        let t = Instant::now();
        let admissions: Vec<Admission> = (0..1000)
            .map(|i| limiter.admit(S, "token.unknown", &format!("key {i}"), t))
            .collect();
        let written = admissions
            .iter()
            .filter(|a| matches!(a, Admission::Write(_)))
            .count();
        assert_eq!(written, ROWS_PER_MINUTE as usize);
        assert_eq!(
            admissions
                .iter()
                .filter(|a| **a == Admission::Dropped { first: true })
                .count(),
            1,
            "one suppressed row is scheduled"
        );
        let (dropped, keys) = limiter.take_dropped(S, "token.unknown");
        assert_eq!(dropped, 1000 - u64::from(ROWS_PER_MINUTE));
        assert_eq!(keys.len(), NAMED_KEYS);
        assert_eq!(
            limiter.take_dropped(S, "token.unknown").0,
            0,
            "reported once"
        );
        assert_eq!(
            limiter.admit(S, "token.unknown", "fresh", t + Duration::from_secs(61)),
            Admission::Write(0),
            "a new minute, a new budget"
        );
    }

    #[test]
    fn strangers_cannot_use_up_a_known_callers_budget() {
        let mut limiter = Limiter::default();
        let t = Instant::now();
        for i in 0..500 {
            limiter.admit(S, "token.unknown", &format!("127.0.0.{i}"), t);
            limiter.admit(S, "access.refused", &format!("proxy 127.0.0.{i}"), t);
        }
        assert_eq!(
            limiter.admit(K, "access.refused", "user:bob 10.0.0.9", t),
            Admission::Write(0),
            "bob's refusal is written (the review's probe: 70 strangers, then bob)"
        );
        // And one action of known callers does not use up another's.
        for i in 0..500 {
            limiter.admit(K, "session.proxy_login", &format!("user:{i}"), t);
        }
        assert_eq!(
            limiter.admit(K, "access.refused", "user:carol 10.0.0.9", t),
            Admission::Write(0)
        );
    }

    #[test]
    fn callers_are_known_by_their_credential() {
        let at = |name: &str| Class::of(&Actor::new(name, Some("10.0.0.1".to_owned())));
        assert_eq!(at("user:bob"), K);
        assert_eq!(at("token:ci"), K);
        assert_eq!(at("cli:root"), K);
        assert_eq!(at("anonymous"), S);
        assert_eq!(at("github"), S);
        assert!(
            suppressed_detail(
                S,
                "token.unknown",
                7,
                &["token.unknown\u{0}anonymous\u{0}10.0.0.1".to_owned()]
            )
            .starts_with("7 token.unknown event(s) from unknown callers")
        );
    }
}

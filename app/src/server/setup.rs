//! First run: while Houston has no accounts, `houston serve` prints a one-time
//! set-up link carrying a random secret; the person who opens it creates the first
//! admin. There is never a default password.

use sha2::{Digest, Sha256};
use std::sync::Mutex;

/// The set-up secret of this process, while set-up is open.
#[derive(Debug, Default)]
pub struct SetupGate {
    secret_hash: Mutex<Option<[u8; 32]>>,
}

impl SetupGate {
    /// Opens set-up with a new secret (256 random bits) and returns it.
    pub fn open(&self) -> String {
        let secret = super::session::new_session_id();
        self.store(Some(Sha256::digest(secret.as_bytes()).into()));
        secret
    }

    /// Whether `presented` is the secret of an open set-up. Compares digests, so the
    /// time taken says nothing about how much of the secret was right.
    pub fn accepts(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        self.secret_hash
            .lock()
            .map(|guard| guard.is_some_and(|h| h == digest))
            .unwrap_or(false)
    }

    pub fn is_open(&self) -> bool {
        self.secret_hash
            .lock()
            .map(|guard| guard.is_some())
            .unwrap_or(false)
    }

    /// Set-up is done: the secret opens nothing any more.
    pub fn close(&self) {
        self.store(None);
    }

    fn store(&self, value: Option<[u8; 32]>) {
        match self.secret_hash.lock() {
            Ok(mut guard) => *guard = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SetupGate;

    #[test]
    fn the_secret_opens_set_up_once() {
        let gate = SetupGate::default();
        assert!(!gate.is_open());
        assert!(!gate.accepts(""));
        let secret = gate.open();
        assert_eq!(secret.len(), 64);
        assert!(gate.accepts(&secret));
        assert!(!gate.accepts(&secret[1..]));
        gate.close();
        assert!(!gate.accepts(&secret));
    }
}

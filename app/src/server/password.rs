//! Password hashing with argon2id at OWASP's minimum parameters (19 MiB, t = 2, p = 1).

use crate::domain::NewPassword;
use crate::error::AppError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

fn argon2id() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .unwrap_or_else(|_| unreachable!("OWASP parameters are within argon2's limits"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string to store, e.g. `$argon2id$v=19$m=19456,t=2,p=1$…`.
pub fn hash_password(password: &NewPassword) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(argon2id()
        .hash_password(password.expose().as_bytes(), &salt)?
        .to_string())
}

/// A new random password for an account: 24 hex characters (96 bits).
pub fn generate_password() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Refuses a new password that is in a list of common passwords (about 100,000
/// leaked ones, compared as typed and lower-cased) or is the user name itself:
/// length alone lets `password1234` through.
pub fn refuse_weak(password: &NewPassword, username: &str) -> Result<(), AppError> {
    let typed = password.expose();
    let lower = typed.to_lowercase();
    if passwords::analyzer::is_common_password(typed)
        || passwords::analyzer::is_common_password(&lower)
    {
        return Err(AppError::validation(
            "password",
            "this password is in a list of common passwords; choose another",
        ));
    }
    if lower.trim() == username.trim().to_lowercase() {
        return Err(AppError::validation(
            "password",
            "the password must not be the user name",
        ));
    }
    Ok(())
}

/// Password checks that may run at once: each takes ~19 MiB and tens of
/// milliseconds of a core, so an unbounded flood of sign-ins would exhaust the
/// host. The server makes one set per router (twice the cores keeps them busy
/// without queueing) and hands it to server functions as context.
#[derive(Clone)]
pub struct PasswordSlots(std::sync::Arc<tokio::sync::Semaphore>);

impl PasswordSlots {
    pub fn new(slots: usize) -> Self {
        Self(std::sync::Arc::new(tokio::sync::Semaphore::new(
            slots.max(1),
        )))
    }

    /// Twice the cores of this machine.
    pub fn for_this_host() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self::new(2 * cores)
    }

    /// A slot, or `Unavailable` (503 with `Retry-After`) when every slot is
    /// taken: callers refuse rather than queue.
    pub fn try_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        self.0
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::Unavailable {
                message: "Houston is checking many passwords right now; try again in a second"
                    .into(),
                retry_after_secs: 1,
            })
    }
}

/// A slot to hash or verify one password in, from the request's context (the
/// server's set), or from a set of this process's own outside a request.
pub fn slot() -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
    static FALLBACK: std::sync::OnceLock<PasswordSlots> = std::sync::OnceLock::new();
    match leptos::prelude::use_context::<PasswordSlots>() {
        Some(slots) => slots.try_slot(),
        None => FALLBACK
            .get_or_init(PasswordSlots::for_this_host)
            .try_slot(),
    }
}

/// `hash_password` on a blocking thread, within a slot: argon2id spends tens of
/// milliseconds of CPU and 19 MiB, which must not stall the async workers.
pub async fn hash_off_thread(password: NewPassword) -> Result<String, AppError> {
    let slot = slot()?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        hash_password(&password)
    })
    .await
    .map_err(|_| AppError::internal())?
    .map_err(|e| {
        tracing::error!(error = %e, "hashing a password");
        AppError::internal()
    })
}

/// Checks `password` against `stored` (or, for a name that does not exist,
/// against the decoy, so the answer takes as long) on a blocking thread, in the
/// slot the caller holds.
pub async fn verify_off_thread(
    slot: tokio::sync::OwnedSemaphorePermit,
    password: String,
    stored: Option<String>,
) -> bool {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        match stored {
            Some(stored) => verify_password(&password, &stored),
            None => {
                let _ = verify_password(&password, decoy_hash());
                false
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// Whether `password` is the stored password of `username`, checked in a slot on a
/// blocking thread (for a person confirming a sensitive change). Over-long input
/// is not hashed at all.
pub async fn is_current_password(
    store: &dyn crate::server::Store,
    username: &crate::domain::Username,
    password: String,
) -> Result<bool, AppError> {
    if password.len() > crate::domain::MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    let Some((_, stored)) = store.find_login(username).await? else {
        return Ok(false);
    };
    Ok(verify_off_thread(slot()?, password, Some(stored)).await)
}

/// Checks a password against a stored PHC string in constant time. A malformed
/// stored hash verifies nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        argon2id()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A hash to verify against when the user does not exist, so a login for an unknown
/// name takes as long as one for a known name. `houston serve` makes it at start-up
/// on a blocking thread; otherwise the first check makes it, off the async workers.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        NewPassword::parse("decoy password that never matches")
            .ok()
            .and_then(|p| hash_password(&p).ok())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_and_the_user_name_are_refused() {
        let check = |p: &str, user: &str| {
            refuse_weak(&NewPassword::parse(p).expect("long enough"), user).is_ok()
        };
        assert!(!check("000000000000", "ada"));
        assert!(!check("qwertyuiop123", "ada"), "in the list");
        assert!(!check("QWERTYUIOP123", "ada"), "lower-cased too");
        assert!(!check("ada.lovelace1", "ada.lovelace1"));
        assert!(check("correct horse battery", "ada"));
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let password = NewPassword::parse("correct horse battery staple").expect("valid");
        let hash = hash_password(&password).expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("correct horse battery stapl", &hash));
        assert_ne!(hash, hash_password(&password).expect("hash"), "salted");
        assert!(!verify_password("anything", "not a phc string"));
        assert!(!verify_password("decoy password", decoy_hash()));
    }
}

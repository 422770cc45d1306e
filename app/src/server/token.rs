//! API token secrets: how they are made and how they are stored (hashed).

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes a leaked Houston token easy to recognise in logs and scanners.
pub const TOKEN_PREFIX: &str = "hst_";

/// A new secret: 256 random bits from the thread's CSPRNG, hex-encoded.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// What the database keeps: the SHA-256 of the secret. A token has 256 bits of
/// entropy, so a fast hash is enough; a password would need argon2.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_prefixed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
    }

    #[test]
    fn hash_is_sha256_hex() {
        // sha256("abc") from FIPS 180-2.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! The second factor: time-based one-time passwords (RFC 6238: HMAC-SHA1, six
//! digits, 30-second steps, one step of clock skew either way) that authenticator
//! apps generate, and one-time recovery codes for a lost phone.

use crate::error::AppError;
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Secret, Totp};

const ISSUER: &str = "Houston";
/// Recovery codes made at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// A new secret: 160 random bits (RFC 4226's recommended size), base32.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    Secret::from(&bytes[..]).to_base32()
}

fn totp(secret: &str, account: &str) -> Result<Totp, AppError> {
    let secret = Secret::try_from_base32(secret).map_err(|_| {
        tracing::error!("a stored TOTP secret is not base32");
        AppError::internal()
    })?;
    Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| {
            tracing::error!(error = %e, "building a TOTP");
            AppError::internal()
        })
}

/// The `otpauth://` address an authenticator app scans or takes as text.
pub fn otpauth_url(secret: &str, account: &str) -> Result<String, AppError> {
    totp(secret, account)?.to_url().map_err(|e| {
        tracing::error!(error = %e, "making an otpauth URL");
        AppError::internal()
    })
}

/// The time step `code` belongs to at `unix_time`, when it is right (within one
/// step either way). Callers refuse steps already used, so a code works once.
pub fn matching_step(secret: &str, code: &str, unix_time: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    totp(secret, "check").ok()?.check(&code, unix_time)
}

/// The code an authenticator app shows at `unix_time`, for tests and tools.
pub fn code_at(secret: &str, unix_time: u64) -> Result<String, AppError> {
    Ok(totp(secret, "code")?.generate(unix_time).to_string())
}

/// New recovery codes, as the person writes them down: `xxxxx-xxxxx`, 50 bits each.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rng().fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What is stored of a recovery code: SHA-256 of it without spaces or dashes,
/// lower-cased (a code has 50 random bits and works once, so a fast hash is enough).
pub fn hash_recovery_code(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// An SVG drawing of `text` as a QR code, for authenticator apps to scan. Plain
/// shapes with attributes only, so the page's CSP (no inline styles) allows it.
pub fn qr_svg(text: &str) -> Option<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"200\" height=\"200\" role=\"img\" aria-label=\"QR code\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/><path d=\"{path}\" fill=\"#000000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret, "12345678901234567890" in ASCII.
    fn rfc_secret() -> String {
        Secret::from(&b"12345678901234567890"[..]).to_base32()
    }

    #[test]
    fn codes_match_rfc_6238_test_vectors() {
        // The RFC lists 8 digits; six digits are the same value modulo 10^6.
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            let six = &eight[2..];
            assert_eq!(
                matching_step(&rfc_secret(), six, time),
                Some(time / 30),
                "t = {time}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = rfc_secret();
        assert_eq!(matching_step(&secret, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(&secret, "287082", 59 + 60), None);
        assert_eq!(matching_step(&secret, "287083", 59), None);
        assert_eq!(matching_step(&secret, "28708", 59), None);
        assert_eq!(
            matching_step(&secret, "287 082", 59),
            Some(1),
            "spaces are fine"
        );
    }

    #[test]
    fn enrolment_material_is_fresh_and_scannable() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32, "160 bits of base32");
        assert_ne!(secret, new_secret());
        let url = otpauth_url(&secret, "ada").expect("url");
        assert!(url.starts_with("otpauth://totp/Houston:ada?"), "{url}");
        assert!(url.contains(&format!("secret={secret}")), "{url}");
        let svg = qr_svg(&url).expect("svg");
        assert!(
            svg.starts_with("<svg") && svg.contains("<path d=\"M"),
            "{svg}"
        );
        assert!(!svg.contains("style"));
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );
        assert_eq!(
            hash_recovery_code(&codes[0]),
            hash_recovery_code(&codes[0].to_uppercase().replace('-', " "))
        );
    }
}

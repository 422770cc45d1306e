//! Login sessions on the server: the cookie and the random id it carries (stored
//! only as its SHA-256). `http::auth::authenticate` finds the session's user.

use crate::error::AppError;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How sessions are issued; provided to server functions as context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Served over https: the cookie gets `Secure` and the `__Host-` prefix.
    pub secure: bool,
    /// The absolute lifetime: a session ends this long after sign-in, however busy.
    pub lifetime: Duration,
    /// A session nobody used for this long has ended.
    pub idle: Duration,
}

impl SessionSettings {
    pub fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-houston_session"
        } else {
            "houston_session"
        }
    }

    /// `Set-Cookie` for a new session id.
    pub fn set_cookie(&self, id: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            self.cookie_name(),
            self.lifetime.num_seconds()
        )
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
            self.cookie_name()
        )
    }

    pub fn expires_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + self.lifetime
    }
}

/// A new session id: 256 bits from the thread's CSPRNG, hex-encoded.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database keeps of a session id.
pub fn hash_session_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Where to go after signing in: a path on this site, never another host. Anything
/// odd — control characters (browsers strip tabs and newlines, turning `/\t/x`
/// into `//x`), backslashes, a scheme, a second leading slash before or after
/// decoding or resolving dot segments — sends the person home instead.
pub fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/";
    let odd = |s: &str| s.chars().any(|c| c.is_control() || c == '\\');
    let Some(raw) = next else {
        return HOME.into();
    };
    if !raw.starts_with('/') || raw.starts_with("//") || odd(raw) {
        return HOME.into();
    }
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    if decoded.starts_with("//") || odd(&decoded) {
        return HOME.into();
    }
    let Ok(site) = url::Url::parse("http://houston.invalid/") else {
        return HOME.into();
    };
    let Ok(resolved) = site.join(raw) else {
        return HOME.into();
    };
    if resolved.origin() != site.origin() {
        return HOME.into();
    }
    let mut path = resolved.path().to_owned();
    if let Some(query) = resolved.query() {
        path.push('?');
        path.push_str(query);
    }
    if path.starts_with("//") || odd(&path) {
        return HOME.into();
    }
    path
}

/// The session settings this server was started with.
pub fn settings() -> Result<SessionSettings, AppError> {
    leptos::prelude::use_context::<SessionSettings>().ok_or_else(|| {
        tracing::error!("no session settings in the request context");
        AppError::internal()
    })
}

/// The session id the current request's cookie carries.
pub async fn request_session_id() -> Result<Option<String>, AppError> {
    let settings = settings()?;
    let headers: http::HeaderMap = leptos_axum::extract().await.map_err(|e| {
        tracing::error!(error = %e, "reading request headers");
        AppError::internal()
    })?;
    Ok(headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie_value(h, settings.cookie_name()).map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/account")), "/account");
        assert_eq!(
            safe_next(Some("/deploys?status=failed&service=a%20b")),
            "/deploys?status=failed&service=a%20b"
        );
        assert_eq!(safe_next(Some("/a/../deploys")), "/deploys");
        for bad in [
            None,
            Some(""),
            Some("account"),
            Some("//evil.example/"),
            Some("https://evil.example/"),
            Some("HTTPS://evil.example/"),
            Some("javascript:alert(1)"),
            Some("/\\evil.example"),
            Some("/\\x"),
            Some("//x"),
            Some("/%09/evil.example"),
            Some("/\t/evil.example"),
            Some("/%0d"),
            Some("/%0d%0aSet-Cookie:%20x=1"),
            Some("/\r\nSet-Cookie: x=1"),
            Some("/%2F/evil.example"),
            Some("/%5Cevil.example"),
            Some("/a/../..//evil.example"),
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "theme=dark; houston_session=abc123; other=houston_session=x";
        assert_eq!(cookie_value(header, "houston_session"), Some("abc123"));
        assert_eq!(
            cookie_value("houston_session_old=1", "houston_session"),
            None
        );
        assert_eq!(cookie_value("houston_session=", "houston_session"), None);
    }

    #[test]
    fn secure_sessions_use_the_host_prefix_and_secure_flag() {
        let s = SessionSettings {
            secure: true,
            lifetime: Duration::hours(12),
            idle: Duration::hours(1),
        };
        let c = s.set_cookie("id");
        assert!(c.starts_with(
            "__Host-houston_session=id; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200"
        ));
        assert!(c.ends_with("; Secure"));
        let plain = SessionSettings { secure: false, ..s };
        assert!(!plain.set_cookie("id").contains("Secure"));
        assert!(plain.clear_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn session_ids_are_random_and_stored_hashed() {
        let a = new_session_id();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_session_id());
        assert_eq!(hash_session_id(&a).len(), 64);
        assert_ne!(hash_session_id(&a), a);
    }
}

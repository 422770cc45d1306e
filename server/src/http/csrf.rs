//! Cross-site request forgery: a state change from a browser must come from a
//! page of this site. Browsers say where a request comes from (`Sec-Fetch-Site`,
//! or `Origin` in older ones); a request that says another site is refused before
//! any handler runs. Programs that send an API token are not browsers riding a
//! cookie and pass; so do clients that send neither header (curl, GitHub's
//! webhooks), which carry no cookie a forger could borrow. Session cookies are
//! also `SameSite=Lax`, so a cross-site POST would arrive without one.

use crate::AppState;
use app::error::AppError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether a state-changing request's browser headers place it on this site.
/// `Sec-Fetch-Site` decides when present; otherwise `Origin` must be this site's
/// origin, scheme included (the public URL's, or `http://` + `Host`). A request
/// with neither passes only when it carries no session cookie (curl, webhooks):
/// a browser riding a cookie always says where it comes from.
pub fn same_site(headers: &HeaderMap, public_url: Option<&str>, has_session: bool) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return !has_session;
    };
    let expected = match public_url {
        Some(url) => origin_of(url),
        None => headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(|host| format!("http://{}", host.to_ascii_lowercase())),
    };
    expected.is_some_and(|expected| origin.eq_ignore_ascii_case(&expected))
}

/// `scheme://host[:port]` of a URL, lower-cased, without path.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

pub async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let has_session =
        super::auth::session_id_hash(request.headers(), state.sessions.cookie_name()).is_some();
    if !safe
        && super::auth::bearer(request.headers()).is_none()
        && !same_site(
            request.headers(),
            state.config.public_url.as_deref(),
            has_session,
        )
    {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
        return AppError::CrossSite {
            message: "this request came from another site; Houston accepts changes only from its own pages".into(),
        }
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::same_site;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn fetch_metadata_then_origin_decide() {
        let check = |pairs: &[(&'static str, &'static str)], public: Option<&str>| {
            same_site(&headers(pairs), public, true)
        };
        assert!(check(&[("sec-fetch-site", "same-origin")], None));
        assert!(!check(&[("sec-fetch-site", "cross-site")], None));
        assert!(!check(&[("sec-fetch-site", "same-site")], None));
        assert!(check(
            &[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ],
            None
        ));
        assert!(!check(
            &[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:3000")
            ],
            None
        ));
        assert!(check(
            &[
                ("origin", "https://houston.example"),
                ("host", "10.0.0.5:3000")
            ],
            Some("https://houston.example/")
        ));
        // The scheme is part of the origin.
        assert!(!check(
            &[
                ("origin", "http://houston.example"),
                ("host", "10.0.0.5:3000")
            ],
            Some("https://houston.example/")
        ));
        assert!(!check(
            &[
                ("origin", "https://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ],
            None
        ));
        assert!(!check(
            &[("origin", "null"), ("host", "127.0.0.1:3000")],
            None
        ));
    }

    #[test]
    fn no_browser_headers_pass_only_without_a_session() {
        assert!(
            same_site(&headers(&[]), None, false),
            "curl and webhooks send neither"
        );
        assert!(
            !same_site(&headers(&[]), None, true),
            "a cookie-carrying request must say where it comes from"
        );
    }
}

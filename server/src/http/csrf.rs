//! Cross-site request forgery: a state change from a browser must come from a
//! page of this site. Browsers say where a request comes from (`Sec-Fetch-Site`,
//! or `Origin` in older ones); a request that says another site is refused before
//! any handler runs. Programs that send an API token are not browsers riding a
//! cookie and pass; so do clients that send neither header (curl, GitHub's
//! webhooks), which carry no cookie a forger could borrow. Session cookies are
//! also `SameSite=Lax`, so a cross-site POST would arrive without one.

use crate::AppState;
use crate::http::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether a state-changing request's browser headers place it on this site.
pub fn same_site(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let public_host = public_url
        .and_then(|u| u.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    Some(origin_host) == host || Some(origin_host) == public_host
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
    if !safe
        && super::auth::bearer(request.headers()).is_none()
        && !same_site(request.headers(), state.config.public_url.as_deref())
    {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "this request came from another site; Houston accepts changes only from its own pages",
        )
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
        assert!(same_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            None
        ));
        assert!(!same_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            None
        ));
        assert!(!same_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            None
        ));
        assert!(same_site(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            None
        ));
        assert!(!same_site(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:3000")
            ]),
            None
        ));
        assert!(same_site(
            &headers(&[
                ("origin", "https://houston.example"),
                ("host", "10.0.0.5:3000")
            ]),
            Some("https://houston.example/")
        ));
        assert!(
            same_site(&headers(&[]), None),
            "curl and webhooks send neither"
        );
    }
}

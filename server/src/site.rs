//! The built site (wasm, JS, CSS, public files), carried inside the release
//! binary: `houston` copied anywhere serves complete, hydrating pages. The release
//! build (`cargo leptos build --release --precompress`) finishes the site before it
//! compiles the server, with brotli and gzip copies of every file beside it, and
//! all of them are embedded here.
//!
//! A site folder on disk (`HOUSTON_SITE_ROOT`, or `LEPTOS_SITE_ROOT` under
//! `cargo leptos watch`) overrides the embedded one, for development.
//!
//! File names carry no content hash, so answers are `Cache-Control: no-cache` with
//! a strong `ETag`: a browser keeps its copy and revalidates it (304) on each load.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../target/site/"]
#[allow_missing = true]
struct Site;

/// Whether this binary carries the site's wasm (a release build made with
/// `--precompress` does; plain `cargo build` does not).
pub fn is_embedded() -> bool {
    Site::get("pkg/houston.wasm").is_some()
}

/// The encodings of `headers`' `Accept-Encoding` that Houston has copies in, best
/// first: brotli, then gzip. Entries refused with `q=0` do not count.
fn accepted(headers: &HeaderMap) -> Vec<(&'static str, &'static str)> {
    let raw = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let takes = |name: &str| {
        raw.split(',').any(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let named = pieces.next().is_some_and(|n| n.eq_ignore_ascii_case(name));
            let q = pieces
                .find_map(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            named && q > 0.0
        })
    };
    [("br", "br"), ("gzip", "gz")]
        .into_iter()
        .filter(|(name, _)| takes(name))
        .collect()
}

/// The embedded file at `path` (`/pkg/houston.wasm`), in the best encoding the
/// client takes; `None` when the binary has no such file.
pub fn serve(method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let name = path.trim_start_matches('/');
    if name.is_empty() || name.ends_with(".br") || name.ends_with(".gz") {
        return None;
    }
    let plain = Site::get(name)?;
    let (file, encoding) = accepted(headers)
        .into_iter()
        .find_map(|(encoding, suffix)| {
            Site::get(&format!("{name}.{suffix}")).map(|file| (file, Some(encoding)))
        })
        .unwrap_or((plain.clone(), None));
    let etag = format!(
        "\"{}{}\"",
        hex::encode(&file.metadata.sha256_hash()[..16]),
        encoding.map(|e| format!("-{e}")).unwrap_or_default()
    );
    // If-None-Match compares weakly: a proxy may have marked the tag `W/`.
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|tags| tags.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*");
    // HEAD gets the body too: axum drops it and keeps its length.
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // Release builds embed the bytes: hand them over without copying.
        Response::new(Body::from(match file.data {
            std::borrow::Cow::Borrowed(bytes) => axum::body::Bytes::from_static(bytes),
            std::borrow::Cow::Owned(bytes) => axum::body::Bytes::from(bytes),
        }))
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(plain.metadata.mimetype()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some(encoding) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).expect("value"),
        );
        h
    }

    #[test]
    fn the_best_accepted_encoding_comes_first() {
        assert_eq!(
            accepted(&with("gzip, deflate, br, zstd")),
            [("br", "br"), ("gzip", "gz")]
        );
        assert_eq!(accepted(&with("gzip")), [("gzip", "gz")]);
        assert_eq!(accepted(&with("br;q=0, gzip;q=0.5")), [("gzip", "gz")]);
        assert_eq!(accepted(&with("identity")), []);
        assert_eq!(accepted(&HeaderMap::new()), []);
    }
}

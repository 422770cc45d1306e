//! The built site (wasm, JS, CSS, public files), carried inside the release
//! binary: `houston` copied anywhere serves complete, hydrating pages. The release
//! build (`scripts/build.sh`) finishes the site before it compiles the server: the
//! wasm split into a main bundle and chunks for lazy pages, the files under `pkg/`
//! renamed with a hash of their content, brotli and gzip copies of every file beside
//! it. `build.rs` copies it to `$OUT_DIR/site` with gzip copies at the best level;
//! all of that is embedded here.
//!
//! A file whose name carries its hash never changes: it is served with a year's
//! `Cache-Control: immutable`. Other files (public assets) get `no-cache` with a
//! strong `ETag`: a browser keeps its copy and revalidates it (304) on each load.
//!
//! A site folder on disk (`HOUSTON_SITE_ROOT`, or `LEPTOS_SITE_ROOT` under
//! `cargo leptos watch`) overrides the embedded one, for development.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/site/"]
#[allow_missing = true]
struct Site;

/// The embedded site's main files (`None` when this binary carries no site: a
/// release build made with `scripts/build.sh` does; plain `cargo build` does not).
pub fn built_site() -> Option<app::BuiltSite> {
    let names: Vec<String> = Site::iter()
        .filter_map(|name| name.strip_prefix("pkg/").map(str::to_owned))
        .filter(|name| !name.ends_with(".br") && !name.ends_with(".gz"))
        .collect();
    // `houston.js` or, hashed, `houston.<hash>.js`; the same for the others.
    let find = |stem: &str, extension: &str| {
        names
            .iter()
            .find(|name| {
                name.strip_prefix(stem)
                    .and_then(|rest| rest.strip_suffix(extension))
                    .is_some_and(|middle| middle == "." || hash_between_dots(middle))
            })
            .cloned()
    };
    Some(app::BuiltSite {
        pkg: "/pkg".to_owned(),
        js: find("houston", "js")?,
        wasm: find("houston", "wasm")?,
        css: find("houston", "css")?,
    })
}

/// Whether `middle` is `.<hash>.`, a content hash as cargo-leptos writes them: 22
/// characters of URL-safe base64 (an MD5).
fn hash_between_dots(middle: &str) -> bool {
    middle
        .strip_prefix('.')
        .and_then(|m| m.strip_suffix('.'))
        .is_some_and(|hash| {
            // cargo-leptos' placeholder before hashing is 22 underscores.
            hash.len() == 22
                && hash.bytes().any(|b| b.is_ascii_alphanumeric())
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Whether the file `name` (a path in the site) carries its content's hash:
/// `<stem>.<hash>.<extension>`.
fn is_hashed(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    match (file.find('.'), file.rfind('.')) {
        (Some(first), Some(last)) if first > 0 => hash_between_dots(&file[first..=last]),
        _ => false,
    }
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
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if is_hashed(name) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
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
    fn only_names_with_a_content_hash_count_as_hashed() {
        assert!(is_hashed("pkg/houston.6sWHJ0tXq2KwHhQ-Nc_3rA.wasm"));
        assert!(is_hashed("pkg/__wasm_split.6sWHJ0tXq2KwHhQ-Nc_3rA.js"));
        assert!(!is_hashed("pkg/houston.wasm"));
        assert!(!is_hashed("favicon.svg"));
        assert!(!is_hashed("pkg/houston.short.js"));
        assert!(
            !is_hashed("pkg/6sWHJ0tXq2KwHhQ-Nc_3rA.js"),
            "a bare hash is a name"
        );
        assert!(!is_hashed("pkg/houston.6sWHJ0tXq2KwHhQ+Nc/3rA.js"));
        assert!(
            !is_hashed("pkg/__wasm_split.______________________.js"),
            "cargo-leptos' name before hashing"
        );
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

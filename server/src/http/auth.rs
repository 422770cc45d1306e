//! Authentication, once per request, and the API routes' guard.
//!
//! `authenticate` works out who is calling — an API token, a person named by a
//! trusted proxy, a session cookie, or nobody — and leaves a `Caller` in the
//! request's extensions. What that caller may do is decided by
//! `app::server::access::authorize`, the one policy: API routes reach it through
//! `guard`, server functions through `access::require`.

use crate::AppState;
use crate::http::error::ApiError;
use app::domain::Actor;
use app::error::AppError;
use app::server::access::{Caller, Need, Policy, Principal, authorize};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::{IpAddr, SocketAddr};

/// The bearer token of a request, if it sends one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy, read
/// from the right (the hops trusted proxies appended) and never past a hop that
/// does not parse: what lies left of it was written by someone no trusted proxy
/// vouches for, so the last trusted hop stands in for the client. `ip:port` and
/// `[v6]:port` hops (Azure Application Gateway appends ports) are read as the address.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop_address(hop) else {
            return Some(nearest);
        };
        if !is_trusted(&ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// One `X-Forwarded-For` hop's address: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`
/// or `[2001:db8::1]:5678`.
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// The stored form (hash) of the session id the request's cookie carries.
pub fn session_id_hash(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| app::server::session::cookie_value(h, cookie_name))
        .map(app::server::session::hash_session_id)
}

/// The client address `authenticate` worked out for this request.
pub fn caller_address(parts: &axum::http::request::Parts) -> Option<String> {
    parts
        .extensions
        .get::<Caller>()
        .and_then(|c| c.address.clone())
}

/// The caller `authenticate` recorded (anonymous when there is none).
pub fn caller_of(parts: &axum::http::request::Parts) -> Caller {
    parts
        .extensions
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller::anonymous(None))
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    AppError::unauthorized(message).into()
}

/// Works out the caller of every request and records it in its extensions. A
/// token or proxy user that is presented but not valid is refused here, whatever
/// the route: a client that sent credentials wants to know they failed.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // Static files need no caller, and are the bulk of requests.
    if request.uri().path().starts_with("/pkg/") {
        return Ok(next.run(request).await);
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let address = client_address(peer, request.headers(), &state.config.trusted_proxies)
        .map(|ip| ip.to_string());
    let now = chrono::Utc::now();
    let stranger = Actor::new("anonymous", address.clone());
    let mut by_session = false;
    let principal = if let Some(presented) = bearer(request.headers()) {
        let hash = app::server::token::hash_token(presented);
        match state.store.authenticate_api_token(&hash, now).await? {
            Some(token) => Principal::Token(token),
            None => {
                state
                    .security
                    .record(&stranger, "token.unknown", "api", None);
                return Err(unauthorized(
                    "the API token is unknown, revoked or expired, or its owner is disabled",
                ));
            }
        }
    } else if let Some(name) = proxy_user(&state, peer, request.headers())? {
        let found = match app::domain::Username::parse(&name) {
            Ok(username) => state.store.find_login(&username).await?,
            Err(_) => None,
        };
        match found {
            Some((user, _)) if user.disabled_at.is_none() => {
                let by = Actor::new(format!("user:{}", user.username), address.clone());
                state.security.record(
                    &by,
                    "session.proxy_login",
                    &format!("user:{}", user.username),
                    None,
                );
                Principal::User(user)
            }
            _ => {
                tracing::warn!(user = ?name, "the proxy named a user Houston has no enabled account for");
                state.security.record(
                    &stranger,
                    "access.refused",
                    "proxy",
                    Some(format!("no enabled account named {name:?}")),
                );
                return Err(AppError::forbidden(format!(
                    "Houston has no enabled account named {name:?}: an admin creates one"
                ))
                .into());
            }
        }
    } else {
        by_session = true;
        match session_id_hash(request.headers(), state.sessions.cookie_name()) {
            Some(id_hash) => match state
                .store
                .session_user(&id_hash, now, now - state.sessions.idle)
                .await?
            {
                Some(user) => Principal::User(user),
                None => Principal::Anonymous,
            },
            None => Principal::Anonymous,
        }
    };
    // People signed in by Houston itself whose role must use a second factor and
    // who have none may read and set one up, nothing else. (A proxy's SSO does its
    // own second factor.)
    let needs_second_factor = match &principal {
        Principal::User(user) if by_session && !user.second_factor => state
            .second_factor
            .current(state.store.as_ref())
            .await?
            .applies_to(user.role),
        _ => false,
    };
    request.extensions_mut().insert(Caller {
        principal,
        address,
        needs_second_factor,
    });
    Ok(next.run(request).await)
}

/// The header a proxy proves itself with when `HOUSTON_PROXY_SECRET` is set.
pub const PROXY_SECRET_HEADER: &str = "x-houston-proxy-secret";

/// The user a trusted proxy names, when the request comes from one (and carries
/// the proxy's shared secret, when one is set). A request from a trusted address
/// that names a user with a wrong or missing secret is refused.
fn proxy_user(
    state: &AppState,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    let Some(header) = state.config.proxy_user_header.as_ref() else {
        return Ok(None);
    };
    let Some(peer) = peer else {
        return Ok(None);
    };
    if !state
        .config
        .trusted_proxies
        .iter()
        .any(|net| net.contains(&peer))
    {
        return Ok(None);
    }
    let Some(name) = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    if let Some(secret) = &state.config.proxy_secret {
        let presented = headers
            .get(PROXY_SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !same_secret(presented, secret.as_bytes()) {
            tracing::warn!(%peer, "a trusted address named a user without the proxy's secret");
            state.security.record(
                &Actor::new("anonymous", Some(peer.to_string())),
                "proxy.bad_secret",
                "proxy",
                None,
            );
            return Err(unauthorized(
                "this request names a user but does not carry the proxy's secret",
            ));
        }
    }
    Ok(Some(name))
}

/// Compares two secrets by their digests, so the time taken says nothing about
/// how much of the secret was right.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(presented) == Sha256::digest(expected)
}

/// What a group of API routes requires to read and to change.
#[derive(Clone)]
pub struct Guard {
    pub read: Need,
    pub write: Need,
    pub policy: Policy,
    /// Where refusals of known callers are recorded.
    pub security: std::sync::Arc<app::server::security::SecurityLog>,
}

/// Lets a request through when the policy allows its caller what the route needs.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let need = if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        guard.read
    } else {
        guard.write
    };
    let anonymous = Caller::anonymous(None);
    let caller = request.extensions().get::<Caller>().unwrap_or(&anonymous);
    if let Err(refused) = authorize(caller, need, guard.policy) {
        tracing::info!(actor = %caller.actor().name, path = %request.uri().path(), "refused: {refused}");
        if !matches!(caller.principal, Principal::Anonymous) {
            guard.security.record(
                &caller.actor(),
                "access.refused",
                request.uri().path(),
                Some(refused.to_string()),
            );
        }
        return ApiError::from(AppError::from(refused)).into_response();
    }
    next.run(request).await
}

/// Pages are for people who have signed in (unless anonymous reading is on): a
/// browser that asks for one without a session is sent to the sign-in page, which
/// brings it back afterwards.
pub async fn pages_need_sign_in(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let wants_page = matches!(*request.method(), Method::GET | Method::HEAD)
        && !super::is_static_file(path)
        && !["/login", "/setup", "/healthz", "/readyz"].contains(&path)
        && !path.starts_with("/api/");
    let anonymous = matches!(
        request.extensions().get::<Caller>().map(|c| &c.principal),
        None | Some(Principal::Anonymous)
    );
    if wants_page && anonymous && !state.policy.anonymous_read {
        let back = request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let next_param: String = url_encode(&back);
        return Redirect::to(&format!("/login?next={next_param}")).into_response();
    }
    next.run(request).await
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn url_encode(raw: &str) -> String {
    percent_encoding::utf8_percent_encode(raw, QUERY_VALUE).to_string()
}

const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(raw: &[&str]) -> Vec<ipnet::IpNet> {
        raw.iter().map(|n| n.parse().expect("net")).collect()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 10.0.0.2".parse().expect("v"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let stranger: IpAddr = "198.51.100.4".parse().expect("ip");
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(Some(proxy), &headers, &trusted),
            Some("203.0.113.9".parse().expect("ip"))
        );
        assert_eq!(
            client_address(Some(stranger), &headers, &trusted),
            Some(stranger)
        );
        assert_eq!(client_address(Some(proxy), &headers, &[]), Some(proxy));
        assert_eq!(client_address(None, &headers, &trusted), None);
    }

    #[test]
    fn a_client_cannot_choose_its_address_past_a_hop_that_does_not_parse() {
        let trusted = nets(&["10.0.0.0/8"]);
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let at = |xff: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", xff.parse().expect("v"));
            client_address(Some(proxy), &headers, &trusted).map(|ip| ip.to_string())
        };
        // A proxy that appends ip:port: the port is read off, the client is found.
        assert_eq!(
            at("6.6.6.6, 203.0.113.9:51234").as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(at("[2001:db8::7]:443").as_deref(), Some("2001:db8::7"));
        // What the client wrote left of a hop no proxy vouches for is not read.
        assert_eq!(
            at("6.6.6.6, garbage, 10.0.0.2").as_deref(),
            Some("10.0.0.2")
        );
        assert_eq!(at("6.6.6.6, garbage").as_deref(), Some("10.0.0.1"));
        // Every hop trusted: the farthest of them, never an untrusted guess.
        assert_eq!(at("10.9.9.9, 10.0.0.2").as_deref(), Some("10.9.9.9"));
    }

    #[test]
    fn next_paths_are_encoded() {
        assert_eq!(
            url_encode("/deploys?status=failed&x=1"),
            "/deploys%3Fstatus%3Dfailed%26x%3D1"
        );
    }
}

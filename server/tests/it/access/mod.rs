//! Who may do what, through `router(state)`: the authorisation matrix over every
//! server function and every mutating API route (on SQLite and PostgreSQL), the
//! sign-in rule for pages, trusted-proxy sign-in, login throttling, CSRF, the
//! security headers and first-run set-up.

use crate::support::Reply;

use app::domain::{Actor, Role, TokenScope, Username};
use app::server::session::hash_session_id;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use std::net::SocketAddr;

use crate::support::{PASSWORD, TestApp};

type Harness = TestApp;

async fn harness(db: crate::support::TestDb, vars: &[(&str, &str)]) -> Harness {
    TestApp::on(db).envs(vars).build().await
}

/// How a request is made: form-encoded for server functions, JSON for the API.
#[derive(Clone, Copy)]
enum Payload {
    Form(&'static str),
    Json(&'static str),
    None,
}

fn request(method: &str, uri: &str, body: Payload, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        // As a browser sends it from Houston's own pages.
        r = r
            .header(header::COOKIE, c)
            .header("sec-fetch-site", "same-origin");
    }
    let body = match body {
        Payload::Form(text) => {
            r = r.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(text)
        }
        Payload::Json(text) => {
            r = r.header(header::CONTENT_TYPE, "application/json");
            Body::from(text)
        }
        Payload::None => Body::empty(),
    };
    r.body(body).expect("request")
}

/// One row of the matrix: the call and the exact status for anonymous, viewer,
/// deployer, lead and admin, in that order.
struct Row {
    method: &'static str,
    uri: &'static str,
    body: Payload,
    want: [u16; 5],
}

const fn row(method: &'static str, uri: &'static str, body: Payload, want: [u16; 5]) -> Row {
    Row {
        method,
        uri,
        body,
        want,
    }
}

const READ: [u16; 5] = [401, 200, 200, 200, 200];
const ADMIN: [u16; 5] = [401, 403, 403, 403, 200];
const EVERYONE: [u16; 5] = [200; 5];

/// Server functions that take no role: who is signed in, whether set-up is still
/// open, and the doors in and out (refused for bad credentials, whoever asks).
const OPEN_TO_ALL: [&str; 5] = [
    "/api/whoami",
    "/api/setup-status",
    "/api/login",
    "/api/setup",
    "/api/logout",
];

fn login(name: &str, password: &str, peer: &str) -> Request<Body> {
    let body = format!("username={name}&password={}", password.replace(' ', "+"));
    let mut r = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    r.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
    r
}

/// Waits (briefly) for background security rows: the count of `action` rows.
async fn settled_count(h: &Harness, action: &str, want: usize) -> usize {
    let mut n = 0;
    for _ in 0..100 {
        n = audit_count(h, action).await;
        if n >= want {
            // Give a stray extra row the chance to show up too.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            return audit_count(h, action).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    n
}

async fn audit_count(h: &Harness, action: &str) -> usize {
    h.db.store
        .list_audit(&app::domain::AuditFilter {
            action: Some(action.into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("audit")
        .len()
}

/// The request with a bearer token instead of a cookie.
fn with_token(mut r: Request<Body>, token: &str) -> Request<Body> {
    r.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("value"),
    );
    r
}

fn from_peer(mut r: Request<Body>, peer: &str) -> Request<Body> {
    let addr: SocketAddr = peer.parse().expect("addr");
    r.extensions_mut().insert(ConnectInfo(addr));
    r
}

mod connections;
mod matrix;
mod people_and_tokens;
mod requests;
mod sign_in;

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

fn matrix() -> Vec<Row> {
    use Payload::{Form, Json, None};
    vec![
        // Server functions behind the pages.
        row("POST", "/api/board", None, READ),
        row("POST", "/api/deploys", Form("query[limit]=5"), READ),
        // History with no filter refetches with nothing to send: every field unset.
        row("POST", "/api/deploys", Form(""), READ),
        row("POST", "/api/deploy", Form("id=1"), READ),
        row("POST", "/api/deploy-signals", Form("id=1"), READ),
        row("POST", "/api/deploy-verdict", Form("id=1"), READ),
        row(
            "POST",
            "/api/override-verdict",
            Form("id=1&state=healthy&reason=matrix"),
            [401, 403, 403, 200, 200],
        ),
        row("POST", "/api/metric-definitions", None, READ),
        row("POST", "/api/check-sensitivity", None, READ),
        // Allowed for leads and admins; no metric of that name, so nothing changes.
        row(
            "POST",
            "/api/set-metric-check",
            Form("name=nope&form[direction]=both&reason=matrix"),
            [401, 403, 403, 404, 404],
        ),
        row("POST", "/api/filter-options", None, READ),
        row("POST", "/api/whoami", None, EVERYONE),
        row("POST", "/api/setup-status", None, EVERYONE),
        row(
            "POST",
            "/api/login",
            Form("username=nobody&password=wrong+password+here"),
            [401; 5],
        ),
        row(
            "POST",
            "/api/setup",
            Form("secret=guess&username=eve&password=long+enough+password"),
            [403; 5],
        ),
        row("POST", "/api/admin/users", None, ADMIN),
        row(
            "POST",
            "/api/admin/create-user",
            Form("username=newcomer&password=long+enough+password&role=viewer"),
            ADMIN,
        ),
        row(
            "POST",
            "/api/admin/set-role",
            Form("username=target&role=deployer"),
            ADMIN,
        ),
        row(
            "POST",
            "/api/admin/set-disabled",
            Form("username=target&disabled=false"),
            ADMIN,
        ),
        row(
            "POST",
            "/api/admin/reset-password",
            Form("username=target"),
            ADMIN,
        ),
        row(
            "POST",
            "/api/account/password",
            Form("current=not+the+password&new=another+long+password"),
            [401, 422, 422, 422, 422],
        ),
        row(
            "POST",
            "/api/admin/reset-second-factor",
            Form("username=target&reason=lost+phone"),
            ADMIN,
        ),
        row(
            "POST",
            "/api/account/second-factor/confirm",
            Form("code=000000"),
            [401, 409, 409, 409, 409],
        ),
        row(
            "POST",
            "/api/account/second-factor/off",
            Form("password=not+the+password"),
            [401, 422, 422, 422, 422],
        ),
        // Setting up a second factor asks for the password first.
        row(
            "POST",
            "/api/account/second-factor/begin",
            Form("password=not+the+password"),
            [401, 422, 422, 422, 422],
        ),
        row("POST", "/api/admin/second-factor-rule", None, ADMIN),
        row(
            "POST",
            "/api/admin/set-second-factor-rule",
            Form("rule=nobody&reason=matrix"),
            ADMIN,
        ),
        row("POST", "/api/admin/notifications", None, ADMIN),
        row(
            "POST",
            "/api/admin/set-webhooks",
            Form("webhooks=https%3A%2F%2Fchat.example%2Fhook&reason=matrix"),
            ADMIN,
        ),
        row("POST", "/api/admin/tokens", None, ADMIN),
        row(
            "POST",
            "/api/admin/create-token",
            Form("name=matrix&scopes[deploy]=on"),
            ADMIN,
        ),
        row(
            "POST",
            "/api/admin/revoke-token",
            Form("name=matrix"),
            ADMIN,
        ),
        row(
            "POST",
            "/api/admin/audit",
            Form("query[action]=user.create"),
            ADMIN,
        ),
        // The audit page with no filter: every field unset, nothing sent.
        row("POST", "/api/admin/audit", Form(""), ADMIN),
        // Locks, overrides and freeze windows. Reading them is for any person; the
        // deployer's lock stands, so leads and admins are let in and find the scope
        // locked; no lock or window 999 exists, so lifting or deleting it changes
        // nothing.
        row("POST", "/api/locks-in-force", None, READ),
        row(
            "POST",
            "/api/place-lock",
            Form("environment=matrix&reason=matrix"),
            [401, 403, 200, 409, 409],
        ),
        row(
            "POST",
            "/api/unlock",
            Form("id=999"),
            [401, 403, 404, 404, 404],
        ),
        row(
            "POST",
            "/api/grant-override",
            Form("service=checkout&environment=matrix&reason=matrix"),
            [401, 403, 403, 200, 200],
        ),
        row("POST", "/api/locks-overview", None, READ),
        row(
            "POST",
            "/api/preview-freeze",
            Form(
                "form[name]=matrix&form[kind]=once&form[from]=2030-01-01T00:00&form[to]=2030-01-02T00:00",
            ),
            READ,
        ),
        row(
            "POST",
            "/api/save-freeze",
            Form(
                "form[name]=matrix&form[environment]=matrix&form[kind]=once&form[from]=2030-01-01T00:00&form[to]=2030-01-02T00:00",
            ),
            [401, 403, 403, 200, 200],
        ),
        row(
            "POST",
            "/api/delete-freeze",
            Form("id=999"),
            [401, 403, 403, 404, 404],
        ),
        // The JSON API: every route that changes something, and the reads.
        row(
            "POST",
            "/api/v1/deploys",
            Json(r#"{"service":"checkout","environment":"production","version":"v1"}"#),
            [401, 403, 201, 201, 201],
        ),
        row(
            "POST",
            "/api/v1/deploys/1/status",
            Json(r#"{"status":"succeeded"}"#),
            [401, 403, 200, 200, 200],
        ),
        row("GET", "/api/v1/deploys", None, READ),
        row("GET", "/api/v1/deploys/1", None, READ),
        row("GET", "/api/v1/deploys/1/verdict", None, READ),
        row("GET", "/api/v1/audit", None, ADMIN),
        row(
            "POST",
            "/api/v1/metrics",
            Json(
                r#"{"series":[{"service":"checkout","environment":"production","metric":"m","points":[]}]}"#,
            ),
            [401, 403, 200, 200, 200],
        ),
        row(
            "GET",
            "/api/v1/metrics?service=checkout&environment=production&metric=m&from=0&to=60",
            None,
            READ,
        ),
        row(
            "POST",
            "/api/v1/errors",
            Json(r#"{"events":[]}"#),
            [401, 403, 200, 200, 200],
        ),
        row(
            "GET",
            "/api/v1/errors?service=checkout&environment=production&from=0&to=60",
            None,
            READ,
        ),
        // Alerts come from the alert source's token alone, never from a person.
        row(
            "POST",
            "/api/v1/webhooks/alertmanager",
            Json(r#"{"version":"4","alerts":[]}"#),
            [401, 403, 403, 403, 403],
        ),
        row("GET", "/api/v1/alerts?state=firing", None, READ),
        row("GET", "/api/v1/metric-definitions", None, READ),
        row(
            "PUT",
            "/api/v1/metric-definitions/latency_p95",
            Json(r#"{"unit":"ms","source":"push","services":["*"]}"#),
            [401, 403, 403, 200, 200],
        ),
        // PromQL runs with Houston's Prometheus credentials: an admin's alone (N15).
        row(
            "PUT",
            "/api/v1/metric-definitions/matrix_promql",
            Json(
                r#"{"unit":"ms","source":"prometheus","query":"up{job=\"{{service}}\"}","services":["*"]}"#,
            ),
            [401, 403, 403, 403, 200],
        ),
        // Nothing to ask in the tests: the admin hears Prometheus is not set up.
        row(
            "POST",
            "/api/v1/metric-definitions/matrix_promql/dry-run?service=checkout&environment=production",
            Json(
                r#"{"unit":"ms","source":"prometheus","query":"up{job=\"{{service}}\"}","services":["*"]}"#,
            ),
            [401, 403, 403, 403, 503],
        ),
        row(
            "POST",
            "/api/v1/deploys/1/verdict/override",
            Json(r#"{"state":"healthy","reason":"a known noisy neighbour"}"#),
            [401, 403, 403, 200, 200],
        ),
        // As the server functions: the deployer's lock stands after its placement.
        row(
            "POST",
            "/api/v1/locks",
            Json(r#"{"environment":"matrix-api","reason":"matrix"}"#),
            [401, 403, 201, 409, 409],
        ),
        row("GET", "/api/v1/locks", None, READ),
        row(
            "POST",
            "/api/v1/locks/999/unlock",
            Json(r#"{"note":"matrix"}"#),
            [401, 403, 404, 404, 404],
        ),
        row(
            "GET",
            "/api/v1/gate?service=checkout&environment=production",
            None,
            READ,
        ),
        row(
            "POST",
            "/api/v1/overrides",
            Json(r#"{"service":"checkout","environment":"matrix-api","reason":"matrix"}"#),
            [401, 403, 403, 201, 201],
        ),
        row("GET", "/api/v1/overrides", None, READ),
        row(
            "POST",
            "/api/v1/gate/claim",
            Json(r#"{"service":"checkout","environment":"production","run":"matrix"}"#),
            [401, 403, 200, 200, 200],
        ),
        row(
            "POST",
            "/api/v1/incidents",
            Json(r#"{"title":"matrix","severity":"high","services":["checkout"]}"#),
            [401, 403, 201, 201, 201],
        ),
        row("GET", "/api/v1/incidents?open=true", None, READ),
        row("GET", "/api/v1/incidents/1", None, READ),
        row("GET", "/api/v1/incidents/1/suspects", None, READ),
        row("GET", "/api/v1/incidents/1/export", None, READ),
        row(
            "POST",
            "/api/v1/incidents/1/suspects/1",
            Json(r#"{"decision":"rejected","note":"matrix"}"#),
            [401, 403, 200, 200, 200],
        ),
        // GitHub and PagerDuty sign their deliveries; without a configured secret the
        // routes are closed to everyone, whoever they are.
        row(
            "POST",
            "/api/v1/webhooks/github",
            Json(r#"{"zen":"hello"}"#),
            [503; 5],
        ),
        row(
            "POST",
            "/api/v1/webhooks/pagerduty",
            Json(r#"{"event":{}}"#),
            [503; 5],
        ),
        // Last: it ends the caller's session.
        row("POST", "/api/logout", None, EVERYONE),
    ]
}

async fn authorization_matrix(db: crate::support::TestDb) {
    let h = harness(db, &[]).await;
    let mut cookies = vec![None];
    for (name, role) in [
        ("viewer", Role::Viewer),
        ("deployer", Role::Deployer),
        ("lead", Role::Lead),
        ("admin", Role::Admin),
    ] {
        cookies.push(Some(h.person(name, role).await.1));
    }
    h.person("target", Role::Viewer).await;
    // Deploy 1 exists, so reading and updating it can succeed.
    let token = h.token("seed", &[TokenScope::Deploy]).await;
    let seeded = h
        .send(
            Request::post("/api/v1/deploys")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::from(
                    r#"{"service":"checkout","environment":"staging","version":"v0"}"#,
                ))
                .expect("request"),
        )
        .await;
    assert_eq!(seeded.status, StatusCode::CREATED, "{}", seeded.text);

    let rows = matrix();
    let covered: Vec<&str> = rows.iter().map(|r| r.uri).collect();
    let mut registered: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .collect();
    registered.sort_unstable();
    for path in &registered {
        assert!(
            covered.contains(path),
            "server function {path} is missing from the authorisation matrix"
        );
    }
    for open in OPEN_TO_ALL {
        assert!(registered.contains(&open), "{open} is no longer registered");
    }

    let mut failures = Vec::new();
    for r in &rows {
        for (i, (who, cookie)) in ["anonymous", "viewer", "deployer", "lead", "admin"]
            .iter()
            .zip(&cookies)
            .enumerate()
        {
            let want = r.want[i];
            let got = h
                .send(request(r.method, r.uri, r.body, cookie.as_deref()))
                .await;
            if got.status.as_u16() != want {
                failures.push(format!(
                    "{} {} as {who}: want {want}, got {} {}",
                    r.method,
                    r.uri,
                    got.status.as_u16(),
                    got.text.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_on_sqlite() {
    authorization_matrix(crate::support::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_on_postgres() {
    authorization_matrix(crate::support::postgres().await).await;
}

/// One row of the token matrix: the call and the exact status for a token of each
/// scope alone, in `TOKEN_SCOPES` order.
struct TokenRow {
    method: &'static str,
    uri: &'static str,
    body: Payload,
    want: [u16; 6],
}

const TOKEN_SCOPES: [TokenScope; 6] = [
    TokenScope::Deploy,
    TokenScope::Ingest,
    TokenScope::Gate,
    TokenScope::Read,
    TokenScope::Alerts,
    TokenScope::Admin,
];

const fn token_row(
    method: &'static str,
    uri: &'static str,
    body: Payload,
    want: [u16; 6],
) -> TokenRow {
    TokenRow {
        method,
        uri,
        body,
        want,
    }
}

/// Reads: a `read` or `admin` token.
const T_READ: [u16; 6] = [403, 403, 403, 200, 403, 200];
/// The gate's reads: a `gate`, `read` or `admin` token.
const T_GATE_READ: [u16; 6] = [403, 403, 200, 200, 403, 200];
/// Admin tokens only.
const T_ADMIN: [u16; 6] = [403, 403, 403, 403, 403, 200];
/// No token at all (people only).
const T_NONE: [u16; 6] = [403; 6];

/// Every API route, and the pages' reads, for a token of each scope: each scope
/// reads and writes what it needs and nothing else.
fn token_matrix() -> Vec<TokenRow> {
    use Payload::{Json, None};
    vec![
        token_row(
            "POST",
            "/api/v1/deploys",
            Json(r#"{"service":"checkout","environment":"production","version":"v1"}"#),
            [201, 403, 403, 403, 403, 201],
        ),
        token_row(
            "POST",
            "/api/v1/deploys/1/status",
            Json(r#"{"status":"succeeded"}"#),
            [200, 403, 403, 403, 403, 200],
        ),
        token_row("GET", "/api/v1/deploys", None, T_READ),
        token_row("GET", "/api/v1/deploys/1", None, T_READ),
        token_row("GET", "/api/v1/deploys/1/verdict", None, T_READ),
        token_row("GET", "/api/v1/audit", None, T_ADMIN),
        token_row(
            "POST",
            "/api/v1/metrics",
            Json(
                r#"{"series":[{"service":"checkout","environment":"production","metric":"m","points":[]}]}"#,
            ),
            [403, 200, 403, 403, 403, 200],
        ),
        token_row(
            "GET",
            "/api/v1/metrics?service=checkout&environment=production&metric=m&from=0&to=60",
            None,
            T_READ,
        ),
        token_row(
            "POST",
            "/api/v1/errors",
            Json(r#"{"events":[]}"#),
            [403, 200, 403, 403, 403, 200],
        ),
        token_row(
            "GET",
            "/api/v1/errors?service=checkout&environment=production&from=0&to=60",
            None,
            T_READ,
        ),
        token_row(
            "POST",
            "/api/v1/webhooks/alertmanager",
            Json(r#"{"version":"4","alerts":[]}"#),
            [403, 403, 403, 403, 200, 403],
        ),
        token_row("GET", "/api/v1/alerts?state=firing", None, T_READ),
        token_row("GET", "/api/v1/metric-definitions", None, T_READ),
        token_row(
            "PUT",
            "/api/v1/metric-definitions/latency_p95",
            Json(r#"{"unit":"ms","source":"push","services":["*"]}"#),
            T_ADMIN,
        ),
        token_row(
            "PUT",
            "/api/v1/metric-definitions/matrix_promql",
            Json(
                r#"{"unit":"ms","source":"prometheus","query":"up{job=\"{{service}}\"}","services":["*"]}"#,
            ),
            T_ADMIN,
        ),
        token_row(
            "POST",
            "/api/v1/metric-definitions/matrix_promql/dry-run?service=checkout&environment=production",
            Json(
                r#"{"unit":"ms","source":"prometheus","query":"up{job=\"{{service}}\"}","services":["*"]}"#,
            ),
            [403, 403, 403, 403, 403, 503],
        ),
        token_row(
            "POST",
            "/api/v1/deploys/1/verdict/override",
            Json(r#"{"state":"healthy","reason":"a known noisy neighbour"}"#),
            T_ADMIN,
        ),
        token_row(
            "POST",
            "/api/v1/locks",
            Json(r#"{"environment":"matrix-api","reason":"matrix"}"#),
            [403, 403, 403, 403, 403, 201],
        ),
        token_row("GET", "/api/v1/locks", None, T_GATE_READ),
        token_row(
            "POST",
            "/api/v1/locks/999/unlock",
            Json(r#"{"note":"matrix"}"#),
            [403, 403, 403, 403, 403, 404],
        ),
        token_row(
            "GET",
            "/api/v1/gate?service=checkout&environment=production",
            None,
            T_GATE_READ,
        ),
        token_row(
            "POST",
            "/api/v1/gate/claim",
            Json(r#"{"service":"checkout","environment":"production","run":"matrix"}"#),
            [403, 403, 200, 403, 403, 200],
        ),
        token_row(
            "POST",
            "/api/v1/overrides",
            Json(r#"{"service":"checkout","environment":"matrix-api","reason":"matrix"}"#),
            [403, 403, 403, 403, 403, 201],
        ),
        token_row("GET", "/api/v1/overrides", None, T_GATE_READ),
        token_row(
            "POST",
            "/api/v1/incidents",
            Json(r#"{"title":"matrix","severity":"high"}"#),
            [201, 403, 403, 403, 403, 201],
        ),
        token_row("GET", "/api/v1/incidents?open=true", None, T_READ),
        token_row("GET", "/api/v1/incidents/1", None, T_READ),
        token_row("GET", "/api/v1/incidents/1/suspects", None, T_READ),
        token_row("GET", "/api/v1/incidents/1/export", None, T_READ),
        token_row(
            "POST",
            "/api/v1/incidents/1/suspects/1",
            Json(r#"{"decision":"rejected"}"#),
            [200, 403, 403, 403, 403, 200],
        ),
        token_row("GET", "/api/v1/openapi.json", None, [200; 6]),
        token_row(
            "POST",
            "/api/v1/webhooks/github",
            Json(r#"{"zen":"hello"}"#),
            [503; 6],
        ),
        token_row(
            "POST",
            "/api/v1/webhooks/pagerduty",
            Json(r#"{"event":{}}"#),
            [503; 6],
        ),
        // The pages' server functions: reading needs `read`; webhook settings and
        // accounts are for signed-in admins, never a token.
        token_row("POST", "/api/board", None, T_READ),
        token_row("POST", "/api/locks-in-force", None, T_READ),
        token_row("POST", "/api/admin/notifications", None, T_NONE),
        token_row(
            "POST",
            "/api/admin/set-webhooks",
            Payload::Form("webhooks=https%3A%2F%2Fchat.example%2Fhook&reason=matrix"),
            T_NONE,
        ),
    ]
}

async fn token_scope_matrix(db: crate::support::TestDb) {
    let h = harness(db, &[]).await;
    let seed = h.token("seed", &[TokenScope::Deploy]).await;
    let seeded = h
        .send(with_token(
            request(
                "POST",
                "/api/v1/deploys",
                Payload::Json(r#"{"service":"checkout","environment":"staging","version":"v0"}"#),
                None,
            ),
            &seed,
        ))
        .await;
    assert_eq!(seeded.status, StatusCode::CREATED, "{}", seeded.text);
    let mut tokens = Vec::new();
    for scope in TOKEN_SCOPES {
        tokens.push((scope, h.token(&format!("only-{scope}"), &[scope]).await));
    }
    let rows = token_matrix();
    // Every route of the JSON API is in the token matrix.
    for person_row in matrix() {
        if person_row.uri.starts_with("/api/v1/") {
            assert!(
                rows.iter()
                    .any(|r| r.uri == person_row.uri && r.method == person_row.method),
                "{} {} is missing from the token matrix",
                person_row.method,
                person_row.uri
            );
        }
    }
    let mut failures = Vec::new();
    for r in &rows {
        for (i, (scope, token)) in tokens.iter().enumerate() {
            let want = r.want[i];
            let got = h
                .send(with_token(request(r.method, r.uri, r.body, None), token))
                .await;
            if got.status.as_u16() != want {
                failures.push(format!(
                    "{} {} with a {scope} token: want {want}, got {} {}",
                    r.method,
                    r.uri,
                    got.status.as_u16(),
                    got.text.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    // The live stream: opened for `read` and `admin` only (the answer's head is
    // enough: the body would stream on).
    for (scope, token) in &tokens {
        use tower::ServiceExt;
        let response = h
            .app
            .clone()
            .oneshot(with_token(
                request("GET", "/api/v1/events", Payload::None, None),
                token,
            ))
            .await
            .expect("response");
        let want = if matches!(scope, TokenScope::Read | TokenScope::Admin) {
            200
        } else {
            403
        };
        if response.status().as_u16() != want {
            failures.push(format!(
                "GET /api/v1/events with a {scope} token: want {want}, got {}",
                response.status()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_scope_matrix_on_sqlite() {
    token_scope_matrix(crate::support::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_scope_matrix_on_postgres() {
    token_scope_matrix(crate::support::postgres().await).await;
}

#[tokio::test]
async fn admin_power_belongs_to_people_not_tokens() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let token = h.token("root", &[TokenScope::Admin]).await;
    let bearer = |method: &str, uri: &str, body: Payload| {
        let mut r = request(method, uri, body, None);
        r.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("value"),
        );
        r
    };
    for (uri, body) in [
        ("/api/admin/users", Payload::None),
        (
            "/api/admin/create-user",
            Payload::Form("username=mallory&password=long+enough+password&role=admin"),
        ),
        ("/api/admin/tokens", Payload::None),
        (
            "/api/admin/create-token",
            Payload::Form("name=more&scopes[admin]=on"),
        ),
        ("/api/admin/revoke-token", Payload::Form("name=root")),
    ] {
        let r = h.send(bearer("POST", uri, body)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}: {}", r.text);
    }
    assert_eq!(h.db.store.count_users().await.expect("count"), 0);
    assert_eq!(h.db.store.list_api_tokens().await.expect("tokens").len(), 1);
    // Reading the audit log stays open to admin tokens.
    let audit = h.send(bearer("GET", "/api/v1/audit", Payload::None)).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);

    // A token an admin makes in the UI is theirs: it expires as asked and stops
    // when its owner's account is disabled.
    let (_, cookie) = h.person("ada", Role::Admin).await;
    h.person("root", Role::Admin).await;
    let made = h
        .send(request(
            "POST",
            "/api/admin/create-token",
            Payload::Form("name=ada-ci&scopes[read]=on&expires_in_days=30"),
            Some(&cookie),
        ))
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let json: serde_json::Value = serde_json::from_str(&made.text).expect("json");
    let secret = json["secret"].as_str().expect("secret").to_owned();
    assert_eq!(json["token"]["created_by"], "user:ada");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(json["token"]["expires_at"].clone()).expect("expiry");
    let days = (expires - chrono::Utc::now()).num_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days} hours");
    let use_it = || {
        let mut r = request("GET", "/api/v1/deploys", Payload::None, None);
        r.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {secret}").parse().expect("value"),
        );
        r
    };
    assert_eq!(h.send(use_it()).await.status, StatusCode::OK);
    h.db.store
        .set_user_disabled(
            &Username::parse("ada").expect("valid"),
            true,
            &Actor::new("user:root", None),
            None,
            chrono::Utc::now(),
        )
        .await
        .expect("disable");
    assert_eq!(h.send(use_it()).await.status, StatusCode::UNAUTHORIZED);
    let bad = h
        .send(request(
            "POST",
            "/api/admin/create-token",
            Payload::Form("name=x&scopes[deploy]=on&expires_in_days=forever"),
            Some(&h.person("eve", Role::Admin).await.1),
        ))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
}

/// The request with a bearer token instead of a cookie.
fn with_token(mut r: Request<Body>, token: &str) -> Request<Body> {
    r.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("value"),
    );
    r
}

#[tokio::test]
async fn gate_tokens_read_locks_and_only_admin_tokens_change_them() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let gate = h.token("ci-gate", &[TokenScope::Gate]).await;
    let deploy = h.token("ci-deploy", &[TokenScope::Deploy]).await;
    let admin = h.token("ops", &[TokenScope::Admin]).await;
    let lock = Payload::Json(r#"{"environment":"production","reason":"token matrix"}"#);
    let grant = Payload::Json(
        r#"{"service":"checkout","environment":"production","reason":"token matrix"}"#,
    );
    // (call, gate token, deploy token, admin token)
    let cases: [(&str, &str, Payload, [u16; 3]); 5] = [
        (
            "GET",
            "/api/v1/gate?service=checkout&environment=production",
            Payload::None,
            [200, 403, 200],
        ),
        ("GET", "/api/v1/locks", Payload::None, [200, 403, 200]),
        ("GET", "/api/v1/overrides", Payload::None, [200, 403, 200]),
        ("POST", "/api/v1/overrides", grant, [403, 403, 201]),
        ("POST", "/api/v1/locks", lock, [403, 403, 201]),
    ];
    let mut failures = Vec::new();
    for (method, uri, body, want) in cases {
        for (who, token, want) in [
            ("gate", &gate, want[0]),
            ("deploy", &deploy, want[1]),
            ("admin", &admin, want[2]),
        ] {
            let got = h
                .send(with_token(request(method, uri, body, None), token))
                .await;
            if got.status.as_u16() != want {
                failures.push(format!(
                    "{method} {uri} with the {who} token: want {want}, got {} {}",
                    got.status.as_u16(),
                    got.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Only the admin token's lock was placed; a token with scope admin lifts any lock.
    let locks =
        h.db.store
            .list_locks(
                &app::domain::LockFilter {
                    limit: 10,
                    ..Default::default()
                },
                chrono::Utc::now(),
            )
            .await
            .expect("locks");
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0].locked_by, "token:ops");
    let lifted = h
        .send(with_token(
            request(
                "POST",
                &format!("/api/v1/locks/{}/unlock", locks[0].id),
                Payload::Json("{}"),
                None,
            ),
            &gate,
        ))
        .await;
    assert_eq!(lifted.status, StatusCode::FORBIDDEN, "{}", lifted.text);
}

#[tokio::test]
async fn a_deployer_lifts_their_own_lock_and_a_lead_any() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, dana) = h.person("dana", Role::Deployer).await;
    let (_, dave) = h.person("dave", Role::Deployer).await;
    let (_, lena) = h.person("lena", Role::Lead).await;
    let place = |body: &'static str, cookie: &str| {
        request("POST", "/api/v1/locks", Payload::Json(body), Some(cookie))
    };
    let mine = h
        .send(place(
            r#"{"environment":"production","reason":"dana's"}"#,
            &dana,
        ))
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text);
    let mine: serde_json::Value = serde_json::from_str(&mine.text).expect("json");
    assert_eq!(mine["locked_by"], "user:dana");
    let theirs = h
        .send(place(
            r#"{"environment":"staging","reason":"dave's"}"#,
            &dave,
        ))
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
    let theirs: serde_json::Value = serde_json::from_str(&theirs.text).expect("json");
    let unlock = |lock: &serde_json::Value, cookie: &str| {
        let uri = format!("/api/v1/locks/{}/unlock", lock["id"]);
        request("POST", &uri, Payload::Json("{}"), Some(cookie))
    };

    let refused = h.send(unlock(&theirs, &dana)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("user:dave"), "{}", refused.text);
    let own = h.send(unlock(&mine, &dana)).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    let by_lead = h.send(unlock(&theirs, &lena)).await;
    assert_eq!(by_lead.status, StatusCode::OK, "{}", by_lead.text);
    assert!(
        by_lead.text.contains(r#""unlocked_by":"user:lena""#),
        "{}",
        by_lead.text
    );

    // The same rule for the pages' server functions.
    let placed = h
        .send(request(
            "POST",
            "/api/place-lock",
            Payload::Form("environment=qa&service=checkout&reason=dana%27s+again"),
            Some(&dana),
        ))
        .await;
    assert_eq!(placed.status, StatusCode::OK, "{}", placed.text);
    let lock =
        h.db.store
            .list_locks(
                &app::domain::LockFilter {
                    active: Some(true),
                    limit: 10,
                    ..Default::default()
                },
                chrono::Utc::now(),
            )
            .await
            .expect("locks")
            .into_iter()
            .find(|l| l.locked_by == "user:dana")
            .expect("dana's lock");
    let unlock_form = |cookie: &str| {
        let mut r = request("POST", "/api/unlock", Payload::Form(""), Some(cookie));
        *r.body_mut() = Body::from(format!("id={}&note=mine+now", lock.id));
        r
    };
    let refused = h.send(unlock_form(&dave)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let lifted = h.send(unlock_form(&lena)).await;
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.text);
    let ended =
        h.db.store
            .get_lock(lock.id, chrono::Utc::now())
            .await
            .expect("get")
            .expect("kept");
    assert_eq!(ended.unlocked_by.as_deref(), Some("user:lena"));
    assert_eq!(ended.unlock_note.as_deref(), Some("mine now"));
}

#[tokio::test]
async fn pages_send_strangers_to_sign_in_unless_anonymous_reading_is_on() {
    let closed = harness(crate::support::sqlite().await, &[]).await;
    let r = closed
        .send(request(
            "GET",
            "/deploys?service=checkout",
            Payload::None,
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        "/login?next=/deploys%3Fservice%3Dcheckout"
    );
    for open_path in ["/login", "/setup", "/healthz", "/favicon.svg"] {
        let r = closed
            .send(request("GET", open_path, Payload::None, None))
            .await;
        assert_ne!(r.status, StatusCode::SEE_OTHER, "{open_path}");
    }
    let (_, cookie) = closed.person("ada", Role::Viewer).await;
    let page = closed
        .send(request("GET", "/", Payload::None, Some(&cookie)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Mission control"));
    // A path no route takes renders the not-found page in the same context as every
    // page (the store, the session): the signed-in person's menu, not an error.
    let missing = closed
        .send(request(
            "GET",
            "/no-such-page",
            Payload::None,
            Some(&cookie),
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text.contains("signed-in-as"), "{}", missing.text);

    let open = harness(
        crate::support::sqlite().await,
        &[("HOUSTON_ALLOW_ANONYMOUS_READ", "true")],
    )
    .await;
    let page = open.send(request("GET", "/", Payload::None, None)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(!page.text.contains("Sign in to see this"), "{}", page.text);
    let list = open
        .send(request("GET", "/api/v1/deploys", Payload::None, None))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let write = open
        .send(request(
            "POST",
            "/api/v1/deploys",
            Payload::Json(r#"{"service":"a","environment":"b","version":"c"}"#),
            None,
        ))
        .await;
    assert_eq!(write.status, StatusCode::UNAUTHORIZED, "reading only");
    let admin = open
        .send(request("POST", "/api/admin/users", Payload::None, None))
        .await;
    assert_eq!(admin.status, StatusCode::UNAUTHORIZED);
}

fn from_peer(mut r: Request<Body>, peer: &str) -> Request<Body> {
    let addr: SocketAddr = peer.parse().expect("addr");
    r.extensions_mut().insert(ConnectInfo(addr));
    r
}

#[tokio::test]
async fn a_trusted_proxy_names_the_user() {
    let h = harness(
        crate::support::sqlite().await,
        &[
            ("HOUSTON_TRUSTED_PROXIES", "10.0.0.1"),
            ("HOUSTON_PROXY_USER_HEADER", "X-Forwarded-User"),
        ],
    )
    .await;
    h.person("ada", Role::Lead).await;
    let whoami = |peer: &str, user: &str| {
        let mut r = request("POST", "/api/whoami", Payload::None, None);
        r.headers_mut()
            .insert("x-forwarded-user", user.parse().expect("value"));
        from_peer(r, peer)
    };
    let trusted = h.send(whoami("10.0.0.1:50000", "ada")).await;
    assert_eq!(trusted.status, StatusCode::OK);
    assert!(
        trusted.text.contains(r#""username":"ada""#),
        "{}",
        trusted.text
    );
    assert!(
        trusted.text.contains(r#""role":"lead""#),
        "{}",
        trusted.text
    );

    let spoofed = h.send(whoami("10.0.0.2:50000", "ada")).await;
    assert_eq!(
        spoofed.text, "null",
        "the header counts only from the proxy"
    );

    let unknown = h.send(whoami("10.0.0.1:50000", "mallory")).await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN, "{}", unknown.text);
    assert_eq!(
        settled_count(&h, "session.proxy_login", 1).await,
        1,
        "audited, once per window"
    );
}

#[tokio::test]
async fn with_a_proxy_secret_the_address_alone_is_not_enough() {
    let h = harness(
        crate::support::sqlite().await,
        &[
            ("HOUSTON_TRUSTED_PROXIES", "10.0.0.0/24"),
            ("HOUSTON_PROXY_USER_HEADER", "X-Forwarded-User"),
            ("HOUSTON_PROXY_SECRET", "a-long-shared-proxy-secret"),
        ],
    )
    .await;
    h.person("ada", Role::Lead).await;
    let whoami = |secret: Option<&str>| {
        let mut r = request("POST", "/api/whoami", Payload::None, None);
        r.headers_mut()
            .insert("x-forwarded-user", "ada".parse().expect("value"));
        if let Some(secret) = secret {
            r.headers_mut()
                .insert("x-houston-proxy-secret", secret.parse().expect("value"));
        }
        from_peer(r, "10.0.0.5:50000")
    };
    let good = h.send(whoami(Some("a-long-shared-proxy-secret"))).await;
    assert!(good.text.contains(r#""username":"ada""#), "{}", good.text);
    for bad in [None, Some("a-long-shared-proxy-secreT"), Some("")] {
        let r = h.send(whoami(bad)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad:?}: {}", r.text);
    }
    assert_eq!(settled_count(&h, "proxy.bad_secret", 1).await, 1);
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_can_lock_a_victim_out_but_guessers_are_stopped() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    h.person("ada", Role::Viewer).await;
    h.person("bob", Role::Viewer).await;
    // Ten wrong passwords for ada from ten addresses: each answered 401.
    for i in 0..10 {
        let r = h
            .send(login(
                "ada",
                "not the password",
                &format!("10.0.1.{i}:4000"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {}", i + 1);
    }
    // Ada herself, from her own address, still gets in: slowed down, not refused.
    let started = std::time::Instant::now();
    let own = h.send(login("ada", PASSWORD, "10.0.2.1:4000")).await;
    assert!(
        own.status.is_success() || own.status.is_redirection(),
        "{} {}",
        own.status,
        own.text
    );
    assert!(own.header("set-cookie").starts_with("houston_session="));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "the account under attack answers slowly: {:?}",
        started.elapsed()
    );

    // Ten wrong passwords for bob from one address lock that pair: the eleventh
    // is refused before the password is checked, even the right one…
    for _ in 0..10 {
        let r = h
            .send(login("bob", "not the password", "10.0.3.1:4000"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let locked = h.send(login("bob", PASSWORD, "10.0.3.1:4000")).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    let retry: i64 = locked.header("retry-after").parse().expect("Retry-After");
    assert!((800..=900).contains(&retry), "{retry}");
    assert!(locked.header("set-cookie").is_empty());
    // … but bob from anywhere else is not locked out.
    let elsewhere = h.send(login("bob", PASSWORD, "10.0.3.2:4000")).await;
    assert!(
        elsewhere
            .header("set-cookie")
            .starts_with("houston_session="),
        "{}",
        elsewhere.text
    );

    // IPv6 clients are one client per /64: rotating the last bits does not help.
    for i in 0..10 {
        let r = h
            .send(login(
                "dave",
                "not the password",
                &format!("[2001:db8:7:7::{i:x}]:4000"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let rotated = h
        .send(login(
            "dave",
            "not the password",
            "[2001:db8:7:7:ffff::1]:4000",
        ))
        .await;
    assert_eq!(
        rotated.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        rotated.text
    );

    // One address trying many names is stopped at the address limit.
    let limit = app::domain::LoginLimits::DEFAULT.per_address;
    for i in 0..limit {
        let r = h
            .send(login(
                &format!("guess{i}"),
                "whatever it is",
                "10.0.4.1:4000",
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let sprayed = h
        .send(login("someone", "whatever it is", "10.0.4.1:4000"))
        .await;
    assert_eq!(sprayed.status, StatusCode::TOO_MANY_REQUESTS);

    assert_eq!(
        audit_count(&h, "session.login_failed").await,
        10 + 10 + 10 + usize::try_from(limit).expect("small"),
        "throttled attempts are not checked, so not recorded as failures"
    );
    // Throttled attempts are security events (rate-limited, written in the background).
    let mut throttled = 0;
    for _ in 0..50 {
        throttled = audit_count(&h, "session.throttled").await;
        if throttled >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(throttled, 3, "one row per address and window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_parallel_guesses_checks_at_most_the_limit() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    h.person("carol", Role::Viewer).await;
    let app = h.app.clone();
    let ready = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut worst = std::time::Duration::ZERO;
            let mut answers = Vec::new();
            for _ in 0..40 {
                let started = std::time::Instant::now();
                let r = crate::support::send(&app, request("GET", "/readyz", Payload::None, None))
                    .await;
                worst = worst.max(started.elapsed());
                answers.push(r.status);
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            (answers, worst)
        })
    };
    let guesses: Vec<_> = (0..300)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                crate::support::send(
                    &app,
                    login("carol", &format!("guess number {i}"), "10.9.9.9:4000"),
                )
                .await
                .status
            })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for g in guesses {
        *counts.entry(g.await.expect("task").as_u16()).or_insert(0) += 1;
    }
    let (answers, worst) = ready.await.expect("readiness task");
    let checked = counts.get(&401).copied().unwrap_or(0);
    assert!(checked <= 10, "at most the limit was verified: {counts:?}");
    assert!(
        counts.keys().all(|s| [401, 429, 503].contains(s)),
        "only checked, throttled or busy: {counts:?}"
    );
    assert_eq!(counts.values().sum::<usize>(), 300);
    assert!(answers.iter().all(|s| *s == StatusCode::OK), "{answers:?}");
    assert!(
        worst < std::time::Duration::from_secs(2),
        "readiness waited {worst:?}"
    );
    // Too long a password is refused before anything is hashed or counted.
    let long = "x".repeat(app::domain::MAX_PASSWORD_BYTES + 1);
    let r = h.send(login("carol", &long, "10.9.9.10:4000")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
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

/// The review's probe (N11): strangers from 70 addresses, then a known caller's
/// refusal, which is still written; the strangers' overflow is one counted row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_hide_a_known_callers_refusal() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    for i in 0..70 {
        let mut r = from_peer(
            request("GET", "/api/v1/deploys", Payload::None, None),
            &format!("127.0.0.{}:5000", i + 2),
        );
        r.headers_mut().insert(
            header::AUTHORIZATION,
            "Bearer hst_guess".parse().expect("v"),
        );
        assert_eq!(h.send(r).await.status, StatusCode::UNAUTHORIZED);
    }
    let strangers = settled_count(&h, "token.unknown", 30).await;
    assert!(strangers < 70, "strangers have a budget: {strangers} rows");
    let (_, cookie) = h.person("bob", Role::Viewer).await;
    let r = h
        .send(request(
            "GET",
            "/api/v1/audit",
            Payload::None,
            Some(&cookie),
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        settled_count(&h, "access.refused", 1).await,
        1,
        "bob's refusal is recorded despite the strangers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_reach_the_audit_log_without_flooding_it() {
    let secret = "webhook-secret";
    let h = harness(
        crate::support::sqlite().await,
        &[("HOUSTON_GITHUB_WEBHOOK_SECRET", secret)],
    )
    .await;
    // A flood of bad bearer tokens from one address: one row.
    for _ in 0..200 {
        let mut r = from_peer(
            request("GET", "/api/v1/deploys", Payload::None, None),
            "10.1.1.1:5000",
        );
        r.headers_mut().insert(
            header::AUTHORIZATION,
            "Bearer hst_guess".parse().expect("v"),
        );
        assert_eq!(h.send(r).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(settled_count(&h, "token.unknown", 1).await, 1);
    // A viewer asking for admin pages and routes: refused and recorded once per window.
    let (_, cookie) = h.person("vera", Role::Viewer).await;
    for _ in 0..20 {
        let r = h
            .send(request(
                "POST",
                "/api/admin/users",
                Payload::None,
                Some(&cookie),
            ))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = h
            .send(request(
                "GET",
                "/api/v1/audit",
                Payload::None,
                Some(&cookie),
            ))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        settled_count(&h, "access.refused", 1).await,
        1,
        "same actor, same address"
    );
    // Wrong webhook signatures and set-up secrets.
    for i in 0..10 {
        let r = h
            .send(
                Request::post("/api/v1/webhooks/github")
                    .header("X-GitHub-Event", "deployment")
                    .header("X-GitHub-Delivery", format!("bad-{i}"))
                    .header("X-Hub-Signature-256", "sha256=00")
                    .body(Body::from("{}"))
                    .expect("request"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(settled_count(&h, "webhook.bad_signature", 1).await, 1);
    h.state.setup.open();
    let r = h
        .send(request(
            "POST",
            "/api/setup",
            Payload::Form("secret=guess&username=eve&password=long+enough+password"),
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(settled_count(&h, "setup.bad_secret", 1).await, 1);
    // Signing out is recorded.
    let r = h
        .send(request("POST", "/api/logout", Payload::None, Some(&cookie)))
        .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.status
    );
    assert_eq!(audit_count(&h, "session.logout").await, 1);
}

#[tokio::test]
async fn sign_in_never_sends_people_off_site() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    h.person("ada", Role::Viewer).await;
    for (i, next) in [
        "%2F%0D%0ASet-Cookie%3A+x%3D1",
        "%2F%09%2Fevil.example",
        "%2F%250d",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "https%3A%2F%2Fevil.example%2F",
    ]
    .iter()
    .enumerate()
    {
        let body: &'static str = Box::leak(
            format!(
                "username=ada&password={}&next={next}",
                PASSWORD.replace(' ', "+")
            )
            .into_boxed_str(),
        );
        let r = h
            .send(from_peer(
                request("POST", "/api/login", Payload::Form(body), None),
                &format!("10.3.0.{i}:4000"),
            ))
            .await;
        assert!(
            r.header("set-cookie").starts_with("houston_session="),
            "{next}: {} {}",
            r.status,
            r.text
        );
        assert_eq!(r.header("location"), "/", "{next}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_update_streams_are_capped_and_end_with_their_session() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let db = crate::support::sqlite().await;
    let h = TestApp::on(db)
        .env("HOUSTON_MAX_STREAMS_PER_CALLER", "2")
        .config(|config| config.stream_recheck = std::time::Duration::from_millis(100))
        .build()
        .await;
    let (_, cookie) = h.person("ada", Role::Viewer).await;
    let open = || async {
        h.app
            .clone()
            .oneshot(request(
                "GET",
                "/api/v1/events",
                Payload::None,
                Some(&cookie),
            ))
            .await
            .expect("response")
    };
    let first = open().await;
    let second = open().await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let third = open().await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key(header::RETRY_AFTER));
    drop(second);
    let again = open().await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a closed stream frees its slot"
    );
    drop(again);

    // Signing out ends the open stream within a recheck.
    let r = h
        .send(request("POST", "/api/logout", Payload::None, Some(&cookie)))
        .await;
    assert!(r.status.is_success() || r.status.is_redirection());
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        first.into_body().collect(),
    )
    .await;
    assert!(ended.is_ok(), "the stream of an ended session closes");

    // A revoked token's open stream ends within a recheck too.
    let secret = h.token("watcher", &[TokenScope::Read]).await;
    let watching = h
        .app
        .clone()
        .oneshot(with_token(
            request("GET", "/api/v1/events", Payload::None, None),
            &secret,
        ))
        .await
        .expect("response");
    assert_eq!(watching.status(), StatusCode::OK);
    h.db.store
        .revoke_api_token(
            "watcher",
            &Actor::new("user:ada", None),
            None,
            chrono::Utc::now(),
        )
        .await
        .expect("revoke");
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        watching.into_body().collect(),
    )
    .await;
    assert!(ended.is_ok(), "the stream of a revoked token closes");
}

/// The router served on a loopback port by Houston's own accept loop.
struct Served {
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(app: &Router, header_read_timeout: std::time::Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(houston::listener::serve(
            listener,
            app.clone(),
            houston::listener::ListenerLimits {
                header_read_timeout,
                shutdown_grace: std::time::Duration::from_secs(1),
            },
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            address,
            stop,
            task,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("task").expect("serve");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_page_on_a_kept_alive_connection_is_as_quick_as_the_first() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = harness(crate::support::sqlite().await, &[]).await;
    let server = Served::start(&h.app, std::time::Duration::from_secs(5)).await;
    let address = server.address;
    // The sign-in page is streamed in several writes: with Nagle's algorithm on,
    // every response after the first on a connection waited ~40 ms for an ACK.
    let mut connection = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    async fn round_trip(connection: &mut tokio::net::TcpStream) -> std::time::Duration {
        let started = std::time::Instant::now();
        connection
            .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut seen = Vec::new();
        let mut buffer = [0u8; 16384];
        while !seen.ends_with(b"0\r\n\r\n") {
            let n = connection.read(&mut buffer).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            seen.extend_from_slice(&buffer[..n]);
        }
        assert!(seen.starts_with(b"HTTP/1.1 200"));
        started.elapsed()
    }
    round_trip(&mut connection).await;
    // The stall hit every later response, so the quickest of five shows it; a busy
    // machine slows some of them, not all.
    let mut quickest = std::time::Duration::MAX;
    for _ in 0..5 {
        quickest = quickest.min(round_trip(&mut connection).await);
    }
    assert!(
        quickest < std::time::Duration::from_millis(30),
        "every later page on the same connection took {quickest:?} or more"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_cannot_hold_connections_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = harness(crate::support::sqlite().await, &[]).await;
    let server = Served::start(&h.app, std::time::Duration::from_millis(300)).await;
    let address = server.address;
    // A whole request is answered, with the peer address known.
    let mut quick = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    quick
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    quick.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Headers that never finish: the connection is closed after the deadline.
    let mut slow = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the server hung up on the slow client");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // HTTP/2 with prior knowledge (h2c) and then nothing: not served on the
    // plaintext port, so the connection ends at once instead of idling forever.
    let mut idle = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    idle.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("write");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        idle.read_to_end(&mut rest),
    )
    .await;
    assert!(
        closed.is_ok(),
        "an idle h2c connection is closed; read {:?}",
        String::from_utf8_lossy(&rest)
    );
    server.stop().await;
}

#[tokio::test]
async fn people_rotate_their_password_and_admins_reset_others() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, here) = h.person("ada", Role::Viewer).await;
    // A second session of ada's, on another device.
    let elsewhere = h
        .send(login("ada", PASSWORD, "10.5.0.2:4000"))
        .await
        .header("set-cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let whoami = |cookie: &str| request("POST", "/api/whoami", Payload::None, Some(cookie));
    assert!(h.send(whoami(&elsewhere)).await.text.contains("ada"));
    let change = |current: &str, new: &str| {
        let body: &'static str = Box::leak(
            format!(
                "current={}&new={}",
                current.replace(' ', "+"),
                new.replace(' ', "+")
            )
            .into_boxed_str(),
        );
        request(
            "POST",
            "/api/account/password",
            Payload::Form(body),
            Some(&here),
        )
    };
    let wrong = h
        .send(change("not my password", "a brand new passphrase"))
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.text
    );
    assert!(wrong.text.contains("current"), "{}", wrong.text);
    let common = h.send(change(PASSWORD, "qwertyuiop123")).await;
    assert_eq!(
        common.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        common.text
    );
    let done = h.send(change(PASSWORD, "a brand new passphrase")).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(
        h.send(whoami(&here)).await.text.contains("ada"),
        "this session stays"
    );
    assert_eq!(
        h.send(whoami(&elsewhere)).await.text,
        "null",
        "the other one ended"
    );
    let old = h.send(login("ada", PASSWORD, "10.5.0.3:4000")).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = h
        .send(login("ada", "a brand new passphrase", "10.5.0.3:4000"))
        .await;
    assert!(
        new.header("set-cookie").starts_with("houston_session="),
        "{}",
        new.text
    );
    assert_eq!(audit_count(&h, "user.password").await, 1);

    // An admin resets ada's password: every session of hers ends, the new
    // generated password works, and it is shown only in the answer.
    let (_, admin) = h.person("root", Role::Admin).await;
    let reset = h
        .send(request(
            "POST",
            "/api/admin/reset-password",
            Payload::Form("username=ada&reason=forgot+it"),
            Some(&admin),
        ))
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
    let generated: String = serde_json::from_str(&reset.text).expect("password");
    assert_eq!(generated.len(), 24);
    assert_eq!(h.send(whoami(&here)).await.text, "null");
    let with_it = h.send(login("ada", &generated, "10.5.0.4:4000")).await;
    assert!(
        with_it.header("set-cookie").starts_with("houston_session="),
        "{}",
        with_it.text
    );
    let entries =
        h.db.store
            .list_audit(&app::domain::AuditFilter {
                action: Some("user.password".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("audit");
    assert_eq!(entries[0].actor, "user:root");
    assert_eq!(entries[0].reason.as_deref(), Some("forgot it"));
    assert!(
        !entries
            .iter()
            .any(|e| format!("{e:?}").contains(&generated)),
        "never logged"
    );
}

#[tokio::test]
async fn a_second_factor_guards_sign_in_and_can_be_required() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, admin) = h.person("root", Role::Admin).await;
    // An admin without a second factor cannot require one of admins…
    let require = |rule: &'static str| {
        let body: &'static str = Box::leak(format!("rule={rule}&reason=policy").into_boxed_str());
        request(
            "POST",
            "/api/admin/set-second-factor-rule",
            Payload::Form(body),
            Some(&admin),
        )
    };
    let r = h.send(require("lead")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = h.send(require("everyone")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // … so here the rule is stored as an admin with one would store it.
    h.db.store
        .set_setting(
            "second_factor_required_from",
            "lead",
            &Actor::new("user:root", None),
            Some("policy"),
            chrono::Utc::now(),
        )
        .await
        .expect("setting");
    // Another replica would see it within seconds; this one is told at once.
    h.state
        .second_factor
        .remember(app::server::access::SecondFactorRule::From(Role::Lead));
    let (_, cookie) = h.person("ada", Role::Lead).await;
    let post = |uri: &'static str, body: Payload| request("POST", uri, body, Some(&cookie));
    // A lead without a second factor reads, but may not act until they set one up.
    let token = h
        .send(post(
            "/api/admin/create-token",
            Payload::Form("name=x&scopes[deploy]=on"),
        ))
        .await;
    assert_eq!(token.status, StatusCode::FORBIDDEN);
    let deploy = h
        .send(post(
            "/api/v1/deploys",
            Payload::Json(r#"{"service":"a","environment":"b","version":"1"}"#),
        ))
        .await;
    assert_eq!(deploy.status, StatusCode::FORBIDDEN, "{}", deploy.text);
    assert!(deploy.text.contains("second factor"), "{}", deploy.text);

    let refused = h
        .send(post(
            "/api/account/second-factor/begin",
            Payload::Form("password=a+borrowed+session"),
        ))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    let begun = h
        .send(post(
            "/api/account/second-factor/begin",
            Payload::Form("password=correct+horse+battery"),
        ))
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text);
    let enrolment: serde_json::Value = serde_json::from_str(&begun.text).expect("json");
    let secret = enrolment["secret"].as_str().expect("secret").to_owned();
    assert!(
        enrolment["qr_svg"]
            .as_str()
            .expect("svg")
            .starts_with("<svg")
    );
    let now = || u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970");
    let wrong = h
        .send(post(
            "/api/account/second-factor/confirm",
            Payload::Form("code=000000"),
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let code = app::server::totp::code_at(&secret, now()).expect("code");
    let body: &'static str = Box::leak(format!("code={code}").into_boxed_str());
    let confirmed = h
        .send(post(
            "/api/account/second-factor/confirm",
            Payload::Form(body),
        ))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    let recovery: Vec<String> = serde_json::from_str(&confirmed.text).expect("codes");
    assert_eq!(recovery.len(), 10);
    // Now the lead may act.
    let deploy = h
        .send(post(
            "/api/v1/deploys",
            Payload::Json(r#"{"service":"a","environment":"b","version":"1"}"#),
        ))
        .await;
    assert_eq!(deploy.status, StatusCode::CREATED, "{}", deploy.text);

    let sign_in = |code: Option<&str>, peer: &str| {
        let mut body = format!("username=ada&password={}", PASSWORD.replace(' ', "+"));
        if let Some(code) = code {
            body.push_str(&format!("&code={code}"));
        }
        let mut r = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
        r
    };
    let signed_in = |r: &Reply| r.header("set-cookie").starts_with("houston_session=");
    // The password alone no longer signs in; a wrong code neither; the code that
    // turned it on was spent, so the next step's code (or a recovery code) works.
    let r = h.send(sign_in(None, "10.7.0.1:4000")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(!signed_in(&r));
    let r = h.send(sign_in(Some("123456"), "10.7.0.2:4000")).await;
    assert!(!signed_in(&r), "{}", r.text);
    let r = h.send(sign_in(Some(&code), "10.7.0.3:4000")).await;
    assert!(!signed_in(&r), "a code works once: {}", r.text);
    let next = app::server::totp::code_at(&secret, now() + 30).expect("code");
    let r = h.send(sign_in(Some(&next), "10.7.0.4:4000")).await;
    assert!(signed_in(&r), "{}", r.text);
    let r = h
        .send(sign_in(Some(&recovery[0].to_uppercase()), "10.7.0.5:4000"))
        .await;
    assert!(signed_in(&r), "a recovery code signs in once: {}", r.text);
    let r = h.send(sign_in(Some(&recovery[0]), "10.7.0.6:4000")).await;
    assert!(!signed_in(&r), "and only once");
    // A lead may not turn a required factor off; an admin can reset it (lost phone).
    let off = h
        .send(post(
            "/api/account/second-factor/off",
            Payload::Form("password=correct+horse+battery"),
        ))
        .await;
    assert_eq!(off.status, StatusCode::CONFLICT, "{}", off.text);
    let reset = h
        .send(request(
            "POST",
            "/api/admin/reset-second-factor",
            Payload::Form("username=ada&reason=lost+phone"),
            Some(&admin),
        ))
        .await;
    assert_eq!(
        reset.status,
        StatusCode::FORBIDDEN,
        "the admin needs one first: {}",
        reset.text
    );
    assert_eq!(audit_count(&h, "user.second_factor_on").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_takes_too_long_is_answered_408() {
    let h = harness(
        crate::support::sqlite().await,
        &[("HOUSTON_REQUEST_TIMEOUT_SECS", "1")],
    )
    .await;
    h.person("ada", Role::Viewer).await;
    for i in 0..10 {
        let r = h
            .send(login(
                "ada",
                "not the password",
                &format!("10.8.0.{i}:4000"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The account is now slowed down by a second or more per attempt: longer
    // than this server lets a request take.
    let started = std::time::Instant::now();
    let slow = h.send(login("ada", PASSWORD, "10.8.1.1:4000")).await;
    assert_eq!(slow.status, StatusCode::REQUEST_TIMEOUT, "{}", slow.text);
    assert!(started.elapsed() < std::time::Duration::from_millis(1900));
}

#[tokio::test]
async fn state_changes_from_another_site_are_refused() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, cookie) = h.person("root", Role::Admin).await;
    let create = |extra: (&'static str, &'static str)| {
        let mut r = request(
            "POST",
            "/api/admin/create-token",
            Payload::Form("name=forged&scopes[deploy]=on"),
            Some(&cookie),
        );
        r.headers_mut().insert(extra.0, extra.1.parse().expect("v"));
        r
    };
    for header in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let mut r = create(header);
        if header.0 == "origin" {
            r.headers_mut().remove("sec-fetch-site");
        }
        let r = h.send(r).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{header:?}: {}", r.text);
        assert!(r.text.contains("cross_site"), "{}", r.text);
    }
    // A cookie-carrying change that says nothing about where it comes from.
    let mut silent = create(("x-nothing", "1"));
    silent.headers_mut().remove("sec-fetch-site");
    let r = h.send(silent).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        h.db.store
            .list_api_tokens()
            .await
            .expect("tokens")
            .is_empty(),
        "nothing was created"
    );
    let same = h.send(create(("sec-fetch-site", "same-origin"))).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert!(same.text.contains("hst_"), "the secret is shown once");
    // GET never changes anything: server functions that change state refuse it.
    let get = h
        .send(request(
            "GET",
            "/api/admin/revoke-token?name=forged",
            Payload::None,
            Some(&cookie),
        ))
        .await;
    assert_ne!(get.status, StatusCode::OK);
    assert!(
        h.db.store.list_api_tokens().await.expect("tokens")[0]
            .revoked_at
            .is_none()
    );
}

#[tokio::test]
async fn pages_carry_a_nonce_policy_and_https_adds_hsts() {
    let h = harness(
        crate::support::sqlite().await,
        &[("HOUSTON_PUBLIC_URL", "https://houston.example")],
    )
    .await;
    let (user, _) = h.person("ada", Role::Viewer).await;
    // Over https the cookie is __Host-houston_session.
    let id = app::server::session::new_session_id();
    let now = chrono::Utc::now();
    h.db.store
        .create_session(
            &hash_session_id(&id),
            &user,
            now + chrono::Duration::hours(1),
            &Actor::new("user:ada", None),
            now,
        )
        .await
        .expect("session");
    let cookie = format!("__Host-houston_session={id}");
    let page = h
        .send(request("GET", "/", Payload::None, Some(&cookie)))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let csp = page.header("content-security-policy").to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    assert!(nonce.len() >= 16, "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        page.text.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the nonce"
    );
    let again = h
        .send(request("GET", "/", Payload::None, Some(&cookie)))
        .await;
    assert_ne!(
        again.header("content-security-policy"),
        csp,
        "a new nonce per response"
    );
    assert!(
        page.header("strict-transport-security")
            .contains("max-age=")
    );
    let api = h
        .send(request("GET", "/healthz", Payload::None, None))
        .await;
    assert!(
        api.header("content-security-policy")
            .starts_with("default-src 'none'")
    );
    assert_eq!(api.header("x-content-type-options"), "nosniff");

    let plain = harness(crate::support::sqlite().await, &[]).await;
    let r = plain
        .send(request("GET", "/healthz", Payload::None, None))
        .await;
    assert!(r.header("strict-transport-security").is_empty());
}

#[tokio::test]
async fn first_run_set_up_creates_one_admin_with_the_printed_secret() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let secret = h.state.setup.open();
    let setup = |secret: &str, name: &str| {
        request(
            "POST",
            "/api/setup",
            Payload::Form(Box::leak(
                format!("secret={secret}&username={name}&password=long+enough+password")
                    .into_boxed_str(),
            )),
            None,
        )
    };
    assert_eq!(
        h.send(setup("wrong", "eve")).await.status,
        StatusCode::FORBIDDEN
    );
    let short = h
        .send(request(
            "POST",
            "/api/setup",
            Payload::Form(Box::leak(
                format!("secret={secret}&username=ada&password=short").into_boxed_str(),
            )),
            None,
        ))
        .await;
    assert_eq!(
        short.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        short.text
    );
    let done = h.send(setup(&secret, "ada")).await;
    assert!(
        done.status.is_success() || done.status.is_redirection(),
        "{} {}",
        done.status,
        done.text
    );
    assert!(done.header("set-cookie").starts_with("houston_session="));
    let users = h.db.store.list_users().await.expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].username.as_str(), users[0].role),
        ("ada", Role::Admin)
    );
    assert_eq!(
        h.send(setup(&secret, "eve")).await.status,
        StatusCode::FORBIDDEN,
        "the secret works once"
    );
    assert_eq!(h.db.store.count_users().await.expect("count"), 1);
}

/// Every server function enters through `app::server::serve`, which authorises and
/// hands over the store: none can forget the check (a use case of
/// `houston_service` declares its own `NEED`, which the function passes). Read from the source, so a
/// new function that skips it fails here.
#[test]
fn every_server_function_goes_through_the_one_entry() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src/api");
    let mut functions = 0;
    for entry in std::fs::read_dir(&dir).expect("app/src/api") {
        let path = entry.expect("entry").path();
        let source = std::fs::read_to_string(&path).expect("source");
        // Each piece after a `#[server` attribute at the start of a line (an
        // argument's `#[server(default)]` is not one), up to the next item.
        for piece in source.split("\n#[server(").skip(1) {
            let body = piece
                .split("\n#[")
                .next()
                .expect("a function follows the attribute");
            let name = body
                .split("pub async fn ")
                .nth(1)
                .and_then(|rest| rest.split('(').next())
                .expect("a server function");
            functions += 1;
            // The need is written where the function is (`Need::…`), or is the one
            // its use case declares (`locks::NEED`).
            let need = body
                .split("crate::server::serve(")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap_or_default();
            assert!(
                need.starts_with("Need::") || need.ends_with("NEED"),
                "{}: the server function {name} does not go through crate::server::serve with its need",
                path.display()
            );
        }
    }
    assert!(functions >= 20, "found only {functions} server functions");
}

#[tokio::test]
async fn server_function_arguments_that_do_not_decode_answer_400() {
    let h = harness(crate::support::sqlite().await, &[]).await;
    let (_, cookie) = h.person("root", Role::Admin).await;
    for (uri, body) in [
        // A required argument missing.
        ("/api/admin/create-user", "username=someone"),
        // An argument of the wrong type.
        ("/api/deploy", "id=not-a-number"),
        // Not form data at all.
        ("/api/admin/set-role", "%%%"),
    ] {
        let r = h
            .send(request("POST", uri, Payload::Form(body), Some(&cookie)))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.text);
        let json: serde_json::Value = serde_json::from_str(&r.text).expect("a JSON error");
        assert_eq!(json["error"], "bad_request", "{uri}: {}", r.text);
        assert!(
            json["message"]
                .as_str()
                .is_some_and(|m| m.contains("argument")),
            "{uri}: {}",
            r.text
        );
    }
    assert_eq!(
        h.db.store.count_users().await.expect("count"),
        1,
        "nothing was created"
    );
}

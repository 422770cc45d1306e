//! The authorisation matrices: every server function and API route called as each kind of person, and with a token of each scope alone, on both databases.

use super::*;

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
        // The incident pages' server functions, once incident 1 stands (declared
        // above, so it moves by hand).
        row("POST", "/api/incidents", Form("open=false"), READ),
        row("POST", "/api/incident", Form("id=1"), READ),
        row(
            "POST",
            "/api/decide-incident-cause",
            Form("incident=1&deploy=1&decision=rejected"),
            [401, 403, 200, 200, 200],
        ),
        row(
            "POST",
            "/api/declare-incident",
            Form("title=matrix&severity=low&services=checkout&environments="),
            [401, 403, 200, 200, 200],
        ),
        row(
            "POST",
            "/api/move-incident",
            Form("id=1&state=acknowledged"),
            [401, 403, 200, 200, 200],
        ),
        row(
            "POST",
            "/api/timeline",
            Form("query[span]=6h&heard=false"),
            READ,
        ),
        row("GET", "/api/v1/timeline?span=6h&incident=1", None, READ),
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
        row(
            "POST",
            "/api/v1/webhooks/incidents",
            Json(r#"{"title":"matrix","severity":"low"}"#),
            [503; 5],
        ),
        row(
            "POST",
            "/api/v1/webhooks/incident-io",
            Json(r#"{"event_type":"x"}"#),
            [503; 5],
        ),
        row(
            "POST",
            "/api/v1/webhooks/opsgenie",
            Json(r#"{"action":"Create","alert":{}}"#),
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
        token_row("GET", "/api/v1/timeline?span=6h&incident=1", None, T_READ),
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
        token_row(
            "POST",
            "/api/v1/webhooks/incidents",
            Json(r#"{"title":"matrix","severity":"low"}"#),
            [503; 6],
        ),
        token_row(
            "POST",
            "/api/v1/webhooks/incident-io",
            Json(r#"{"event_type":"x"}"#),
            [503; 6],
        ),
        token_row(
            "POST",
            "/api/v1/webhooks/opsgenie",
            Json(r#"{"action":"Create","alert":{}}"#),
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

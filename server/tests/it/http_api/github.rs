//! GitHub's webhooks: its real fixtures, signatures, repeated deliveries.

use super::*;

#[tokio::test]
async fn github_webhooks_are_closed_without_a_secret() {
    let h = harness_with(&[]).await;
    let r = h
        .send(github(
            "deployment",
            "c-1",
            fixture("deployment.json"),
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.json()["error"], "not_configured");
    assert!(
        r.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("HOUSTON_GITHUB_WEBHOOK_SECRET")),
        "{}",
        r.text
    );
    assert_eq!(h.deploy_count().await, 0, "nothing was created");
}

pub(super) fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub(super) fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(super) fn github(
    event: &str,
    delivery: &str,
    body: Vec<u8>,
    signature: Option<String>,
) -> Request<Body> {
    let mut r = Request::post("/api/v1/webhooks/github")
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header(header::USER_AGENT, "GitHub-Hookshot/test");
    if let Some(sig) = signature {
        r = r.header("X-Hub-Signature-256", sig);
    }
    r.body(Body::from(body)).expect("request")
}

#[tokio::test]
async fn every_github_fixture_lands_as_the_right_deploy_and_status() {
    for (deployment_file, status_file) in [
        ("deployment.json", "deployment_status.json"),
        (
            "deployment_with-installation.json",
            "deployment_status_with-installation.json",
        ),
    ] {
        let secret = "webhook-secret";
        let h = harness_with(&[("HOUSTON_GITHUB_WEBHOOK_SECRET", secret)]).await;
        let body = fixture(deployment_file);
        let created = h
            .send(github(
                "deployment",
                "d-1",
                body.clone(),
                Some(sign(secret, &body)),
            ))
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{deployment_file}: {}",
            created.text
        );
        let deploy = &created.json()["deploy"];
        assert_eq!(deploy["service"], "Hello-World");
        assert_eq!(deploy["environment"], "production");
        assert_eq!(
            deploy["version"],
            "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
        );
        assert_eq!(deploy["author"], "Codertocat");
        assert_eq!(deploy["status"], "in_progress");
        assert_eq!(deploy["source"], "github_webhook");
        assert_eq!(deploy["started_at"], "2019-05-15T15:20:53Z");
        assert_eq!(
            deploy["external_id"],
            "github:Codertocat/Hello-World#145988746"
        );

        let body = fixture(status_file);
        let updated = h
            .send(github(
                "deployment_status",
                "d-2",
                body.clone(),
                Some(sign(secret, &body)),
            ))
            .await;
        assert_eq!(
            updated.status,
            StatusCode::OK,
            "{status_file}: {}",
            updated.text
        );
        assert_eq!(updated.json()["outcome"], "updated");
        let deploys = h.get("/api/v1/deploys").await.json();
        assert_eq!(
            deploys["deploys"].as_array().map(Vec::len),
            Some(1),
            "one deploy, not two"
        );
        assert_eq!(deploys["deploys"][0]["status"], "succeeded");
        assert_eq!(deploys["deploys"][0]["finished_at"], "2019-05-15T15:20:55Z");
    }
}

#[tokio::test]
async fn a_status_before_its_deployment_registers_the_deploy_finished() {
    let h = harness().await;
    let r = h
        .send(github(
            "deployment_status",
            "only-status",
            fixture("deployment_status.json"),
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["deploy"]["status"], "succeeded");
    let later = h
        .send(github(
            "deployment",
            "late-deployment",
            fixture("deployment.json"),
            None,
        ))
        .await;
    assert_eq!(later.status, StatusCode::OK);
    assert_eq!(
        later.json()["deploy"]["status"],
        "succeeded",
        "the late deployment event changes nothing"
    );
}

#[tokio::test]
async fn github_signatures_are_enforced_and_repeated_deliveries_change_nothing() {
    let secret = "s3cret";
    let h = harness_with(&[("HOUSTON_GITHUB_WEBHOOK_SECRET", secret)]).await;
    let body = fixture("deployment.json");

    let unsigned = h
        .send(github("deployment", "x-1", body.clone(), None))
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let wrong = h
        .send(github(
            "deployment",
            "x-2",
            body.clone(),
            Some(sign("other-secret", &body)),
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let tampered_reply = h
        .send(github(
            "deployment",
            "x-3",
            tampered,
            Some(sign(secret, &body)),
        ))
        .await;
    assert_eq!(tampered_reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.deploy_count().await, 0, "refused webhooks stored nothing");

    let status_body = fixture("deployment_status.json");
    let first = h
        .send(github(
            "deployment_status",
            "same-delivery",
            status_body.clone(),
            Some(sign(secret, &status_body)),
        ))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = h
        .send(github(
            "deployment_status",
            "same-delivery",
            status_body.clone(),
            Some(sign(secret, &status_body)),
        ))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["outcome"], "duplicate_delivery");
    assert_eq!(h.deploy_count().await, 1);

    let ping = h
        .send(github(
            "ping",
            "p-1",
            b"{}".to_vec(),
            Some(sign(secret, b"{}")),
        ))
        .await;
    assert_eq!(ping.status, StatusCode::OK);
    assert_eq!(ping.json()["outcome"], "ignored");
    let garbage = h
        .send(github(
            "deployment",
            "g-1",
            b"{}".to_vec(),
            Some(sign(secret, b"{}")),
        ))
        .await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
}

//! PostgreSQL with two roles: migrations run as the owner, Houston as a role that
//! may only read and append to the audit log, so the database itself refuses to
//! let Houston's role rewrite history, whatever Houston runs.

use app::domain::{Actor, DeployRequest};
use sqlx::Connection;

#[tokio::test]
async fn houston_runs_as_a_role_that_cannot_rewrite_the_audit_log() {
    let admin_url = crate::support::postgres_admin_url();
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL answers (scripts/test.sh starts one)");
    let suffix = format!(
        "{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros() % 1_000_000
    );
    let (database, role) = (
        format!("houston_roles_{suffix}"),
        format!("houston_app_{suffix}"),
    );
    for statement in [
        format!("CREATE DATABASE \"{database}\""),
        format!("CREATE ROLE \"{role}\" LOGIN"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("set-up");
    }
    let owner_url = crate::support::with_database(&admin_url, &database);
    let app_url = crate::support::with_user(&owner_url, &role);

    let result = async {
        let store = houston::storage::open_with(&app_url, Some(&owner_url))
            .await
            .expect("open as the runtime role, migrated by the owner");
        // Everything Houston does works as the runtime role…
        let registered = store
            .register_deploy(
                &DeployRequest {
                    service: Some("checkout".into()),
                    environment: Some("production".into()),
                    version: Some("v1".into()),
                    ..Default::default()
                }
                .parse(chrono::Utc::now())
                .expect("a valid registration"),
                &Actor::new("token:ci", None),
            )
            .await
            .expect("register (an INSERT into the audit log too)");
        assert!(registered.created);
        assert!(
            !store
                .list_audit(&app::domain::AuditFilter {
                    limit: 10,
                    ..Default::default()
                })
                .await
                .expect("read")
                .is_empty()
        );
        // …but the role may not change or remove a line of the audit log: the
        // database says so before any trigger runs.
        let mut as_app = sqlx::PgConnection::connect(&app_url)
            .await
            .expect("connect as app");
        for statement in [
            "UPDATE audit_log SET actor = 'nobody'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ] {
            let err = sqlx::query(statement)
                .execute(&mut as_app)
                .await
                .expect_err("refused");
            assert!(
                err.to_string().contains("permission denied"),
                "{statement}: {err}"
            );
        }
        // The owner is still held back by the triggers.
        let mut as_owner = sqlx::PgConnection::connect(&owner_url)
            .await
            .expect("connect as owner");
        let err = sqlx::query("DELETE FROM audit_log")
            .execute(&mut as_owner)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("append-only"), "{err}");
        as_app.close().await.ok();
        as_owner.close().await.ok();
    };
    result.await;

    for statement in [
        format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"),
        format!("DROP ROLE IF EXISTS \"{role}\""),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("clean up");
    }
}

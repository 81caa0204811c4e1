//! CredentialsVerified against a real Neo4j 5 server (the official test
//! harness, started by `support::neo4j`): the right password, a wrong one,
//! and a server that is gone. The Aura side is the simulator; the operator's
//! `--query-api-url` sends every check to the real server.

use crate::support;

use std::time::Duration;

use aura_operator::api::AuraInstance;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use support::harness::*;
use support::neo4j::Neo4j;

const PASSWORD: &str = "harness-pw-7Kq2";

fn verified(o: &AuraInstance) -> Option<(String, String, String)> {
    condition(o, "CredentialsVerified")
}

async fn wait_verified(h: &Harness, status: &str, reason: &str) -> AuraInstance {
    h.wait_for(
        "real",
        &format!("CredentialsVerified={status} {reason}"),
        |o| verified(o).is_some_and(|c| c.0 == status && c.1 == reason),
    )
    .await
}

async fn put_password(h: &Harness, password: &str) {
    h.secrets()
        .patch(
            "real-connection",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"NEO4J_PASSWORD": password}})),
        )
        .await
        .expect("patch the connection Secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_against_a_real_neo4j() {
    let mut neo4j = tokio::task::spawn_blocking(|| Neo4j::start(PASSWORD))
        .await
        .expect("the start thread")
        .unwrap_or_else(|e| panic!("the Neo4j test server did not start: {e}"));
    let mut h = Harness::start("neo4j-real", |_| {}).await;
    // An instance made in the console, adopted: its password is what a person
    // writes into the Secret, here the real server's.
    let existing = h
        .sim
        .state()
        .console_create(&console_request("europe-west1", "real"))
        .expect("console create");
    let query_api = format!("{}/db/{{database}}/query/v2", neo4j.url());
    // Checked at every pass, a second apart, so that the server's going away shows soon.
    h.start_operator_with(&[
        "--query-api-url",
        &query_api,
        "--verify-credentials-interval",
        "1s",
    ]);
    h.create(manifest(
        "real",
        json!({"instanceId": existing.instance.id, "deletionPolicy": "Orphan"}),
    ))
    .await;
    h.wait_for("real", "PasswordUnavailable", |o| {
        stalled_reason(o).as_deref() == Some("PasswordUnavailable")
    })
    .await;

    put_password(&h, PASSWORD).await;
    let o = wait_verified(&h, "True", "CredentialsAccepted").await;
    let (_, _, message) = verified(&o).unwrap();
    assert!(message.contains(neo4j.url()), "{message}");

    put_password(&h, "not-the-password").await;
    let o = wait_verified(&h, "False", "AuthenticationFailed").await;
    assert_eq!(
        condition(&o, "Ready").unwrap().0,
        "True",
        "Ready is not changed"
    );

    // Neo4j may hold the user back for a few seconds after failed logins.
    put_password(&h, PASSWORD).await;
    wait_verified(&h, "True", "CredentialsAccepted").await;

    tokio::task::spawn_blocking(move || {
        neo4j.stop();
        neo4j
    })
    .await
    .expect("stop the server");
    let o = wait_verified(&h, "Unknown", "Unreachable").await;
    assert_eq!(condition(&o, "Ready").unwrap().0, "True");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = h.operator_log();
    h.assert_log_clean(&log);
    assert!(!log.contains(PASSWORD), "the password reached the log");
    let status = serde_json::to_string(&o.status).unwrap();
    assert!(!status.contains(PASSWORD));
}

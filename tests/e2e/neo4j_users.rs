//! AuraDatabaseUser and the admin password's rotation against a real Neo4j 5
//! server (the official test harness, community edition, started by
//! `support::neo4j`): the same statements the simulator answers. A user is
//! made, logs in, rotates (the previous login works during its grace period
//! and fails after it: the window is measured and printed), and is dropped;
//! roles get the database's own refusal; the admin password rotates with the
//! operator killed (a failpoint that aborts the process, as `kill -9` would)
//! between the rotation Secret's write and the `ALTER`, and between the
//! `ALTER` and the connection Secret's write: the Secret's login works
//! afterwards every time.

use crate::support;

use std::time::{Duration, Instant};

use aura_operator::api::{AuraDatabaseUser, AuraInstance};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use support::fixtures::database_user;
use support::harness::*;
use support::neo4j::Neo4j;
use support::objects::{self, stalled_reason};

const PASSWORD: &str = "harness-admin-9Tq4";

async fn logs_in(neo4j: &Neo4j, user: &str, password: &str) -> bool {
    reqwest::Client::new()
        .post(format!("{}/db/neo4j/query/v2", neo4j.url()))
        .basic_auth(user, Some(password))
        .json(&json!({"statement": "RETURN 1"}))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn users_named(neo4j: &Neo4j, admin: &str, prefix: &str) -> Vec<String> {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/db/system/query/v2", neo4j.url()))
        .basic_auth("neo4j", Some(admin))
        .json(&json!({"statement": "SHOW USERS YIELD user RETURN user"}))
        .send()
        .await
        .expect("SHOW USERS")
        .json()
        .await
        .expect("a JSON answer");
    body["data"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r[0].as_str().map(str::to_string))
        .filter(|u| u.starts_with(prefix))
        .collect()
}

async fn login_of(h: &Harness, secret: &str) -> (String, String) {
    (
        h.secret_value(secret, "NEO4J_USERNAME")
            .await
            .expect("a username"),
        h.secret_value(secret, "NEO4J_PASSWORD")
            .await
            .expect("a password"),
    )
}

async fn annotate<K>(api: &Api<K>, name: &str, value: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"aura-operator.io/rotate": value}}})),
    )
    .await
    .expect("annotate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_the_admin_password_rotate_on_a_real_neo4j() {
    let mut neo4j = tokio::task::spawn_blocking(|| Neo4j::start(PASSWORD))
        .await
        .expect("the start thread")
        .unwrap_or_else(|e| panic!("the Neo4j test server did not start: {e}"));
    let mut h = Harness::start("neo4j-users", |_| {}).await;
    let existing = h
        .sim
        .state()
        .console_create(&console_request("europe-west1", "real-users"))
        .expect("console create");
    let query_api = format!("{}/db/{{database}}/query/v2", neo4j.url());
    let flags = ["--query-api-url", query_api.as_str()];
    h.start_operator_with(&flags);
    h.create(manifest(
        "real",
        json!({"instanceId": existing.instance.id, "deletionPolicy": "Orphan"}),
    ))
    .await;
    h.wait_for("real", "PasswordUnavailable", |o| {
        stalled_reason(o).as_deref() == Some("PasswordUnavailable")
    })
    .await;
    h.secrets()
        .patch(
            "real-connection",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"NEO4J_PASSWORD": PASSWORD}})),
        )
        .await
        .unwrap();
    h.wait_ready("real").await;

    // A user of its own, and its rotation.
    let users: Api<AuraDatabaseUser> = h.api();
    objects::create(
        &users,
        database_user("app")
            .of("real")
            .spec(json!({"rotation": {"gracePeriod": "4s"}})),
    )
    .await;
    objects::wait_ready(&users, "app").await;
    let first = login_of(&h, "app-db").await;
    assert_eq!(first.0, "app");
    assert!(
        logs_in(&neo4j, &first.0, &first.1).await,
        "the new user logs in"
    );

    annotate(&users, "app", "1").await;
    // The window: from the Secret's switch to the previous login's end.
    let switched = loop {
        let now = login_of(&h, "app-db").await;
        if now.0 != first.0 {
            break (Instant::now(), now);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(switched.1.0, "app_b");
    assert!(logs_in(&neo4j, &switched.1.0, &switched.1.1).await);
    assert!(
        logs_in(&neo4j, &first.0, &first.1).await,
        "the previous login works during its grace period"
    );
    let ended = loop {
        if !logs_in(&neo4j, &first.0, &first.1).await {
            break switched.0.elapsed();
        }
        if switched.0.elapsed() > Duration::from_secs(60) {
            let status = users.get("app").await.map(|u| u.status);
            panic!("the previous login never ended: {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "neo4j_users: the previous login ended {:.1} s after the Secret switched (grace period 4 s)",
        ended.as_secs_f64()
    );
    assert!(
        ended >= Duration::from_secs(3),
        "ended before its grace period: {ended:?}"
    );
    assert!(logs_in(&neo4j, &switched.1.0, &switched.1.1).await);

    // Roles on a database without them: the database's own refusal.
    objects::create(
        &users,
        database_user("reporting")
            .of("real")
            .spec(json!({"roles": ["reader"]})),
    )
    .await;
    let refused = objects::wait_for(&users, "reporting", "Stalled", |u| {
        stalled_reason(u).is_some()
    })
    .await;
    assert_eq!(
        stalled_reason(&refused).as_deref(),
        Some("RolesNotSupported")
    );
    let message = objects::condition(&refused, "Stalled").unwrap().2;
    assert!(
        message.contains("Neo.ClientError.Statement.UnsupportedAdministrationCommand"),
        "{message}"
    );

    // Delete: both users go from the database.
    for name in ["app", "reporting"] {
        users.delete(name, &DeleteParams::default()).await.unwrap();
        objects::wait_gone(&users, name).await;
    }
    assert!(users_named(&neo4j, PASSWORD, "app").await.is_empty());

    // The admin password, with the operator killed at each step of its rotation.
    let instances: Api<AuraInstance> = h.api();
    let mut admin = PASSWORD.to_string();
    for (round, step) in ["admin-rotation-pending-written", "admin-rotation-altered"]
        .into_iter()
        .enumerate()
    {
        let round = (round + 1).to_string();
        h.start_operator_env(&flags, &[("AURA_FAILPOINT", step)]);
        annotate(&instances, "real", &round).await;
        let status = h
            .operator
            .as_mut()
            .unwrap()
            .ended(Duration::from_secs(60))
            .await;
        assert!(!status.success(), "{step}: the operator was cut off");
        let held = login_of(&h, "real-connection").await;
        assert_eq!(
            held.1, admin,
            "{step}: the Secret still holds the old password"
        );
        // Cut off after the ALTER, the database already refuses it: the
        // next pass must bring the Secret to the new one.
        h.start_operator_with(&flags);
        let done = h
            .wait_for("real", "the rotation finished", |o| {
                o.status
                    .as_ref()
                    .and_then(|s| s.admin_rotate_requested.as_deref())
                    == Some(round.as_str())
            })
            .await;
        assert!(done.status.unwrap().admin_password_changed_at.is_some());
        let now = login_of(&h, "real-connection").await;
        assert_ne!(now.1, admin, "{step}: a new password");
        assert!(
            logs_in(&neo4j, &now.0, &now.1).await,
            "{step}: the Secret's login works"
        );
        assert!(
            !logs_in(&neo4j, &now.0, &admin).await,
            "{step}: the old one does not"
        );
        assert!(
            h.secrets()
                .get_opt("real-connection.admin-rotation")
                .await
                .unwrap()
                .is_none(),
            "{step}: the rotation Secret is gone"
        );
        admin = now.1;
    }
    let log = h.operator_log();
    h.assert_log_clean(&log);
    assert!(!log.contains(&admin) && !log.contains(PASSWORD));
    neo4j.stop();
}

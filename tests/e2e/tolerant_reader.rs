//! The tolerant reader on the real control plane (DESIGN 4.2, 4.7; issue 12):
//! the simulator answers the way the real service departs from its spec, and
//! the operator still gets the password into the Secret, converges, settles on
//! capitalised statuses, starts no update loop over unreported fields, and
//! completes deletion.

use crate::support;

use std::time::Duration;

use aura_operator::api::AuraInstance;
use aura_operator::simulator::Quirks;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

use support::eventually;
use support::harness::*;

fn patches(h: &Harness) -> usize {
    h.aura_writes()
        .iter()
        .filter(|l| l.starts_with("PATCH "))
        .count()
}

fn quirks(json: serde_json::Value) -> Quirks {
    serde_json::from_value(json).expect("quirks")
}

/// A create answer with every field but id and password null (and the rest of
/// the departures on): the password Aura issued still reaches the Secret, and
/// the instance goes Ready, pauses and resumes on capitalised statuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answer_that_departs_from_the_spec_keeps_its_password() {
    let mut h = Harness::start("quirky-create", |c| {
        let mut q = Quirks::as_seen();
        // Everything but id and password, on the instance answers only (the
        // tenant catalogue needs its placement fields to be of any use).
        q.null.extend(
            [
                "connection_url",
                "username",
                "tenant_id",
                "cloud_provider",
                "region",
                "type",
                "name",
            ]
            .map(String::from),
        );
        q.paths = vec!["/v1/instances".into(), "/oauth/token".into()];
        c.faults.quirks = q;
    })
    .await;
    h.start_operator();
    h.create(manifest("db", json!({"storage": "16GB"}))).await;
    let ready = h.wait_ready("db").await;
    let id = instance_id(&ready);

    let issued = h.sim.state().issued_password(&id).expect("issued password");
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        Some(issued),
        "the password of the create answer is in the Secret"
    );
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_URI").await,
        Some(format!("neo4j+s://{id}.databases.neo4j.io"))
    );
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_USERNAME")
            .await
            .as_deref(),
        Some("neo4j")
    );
    let creates = h.sim.state().counters().creates_committed;
    assert_eq!(creates, 1, "one create, no adoption detour");

    // Capitalised statuses settle: the pause and the resume both happen.
    h.edit("db", json!({"paused": true})).await;
    eventually("the instance paused in Aura", WAIT, || async {
        let i = h.sim.state().instance(&id)?;
        (i.instance.status.as_str() == "paused").then_some(())
    })
    .await;
    h.wait_for("db", "phase Paused", |o| {
        o.status.as_ref().and_then(|s| s.phase) == Some(aura_operator::api::Phase::Paused)
            && condition(o, "Reconciling").is_none_or(|c| c.0 == "False")
    })
    .await;
    h.edit("db", json!({"paused": false})).await;
    h.wait_ready("db").await;
    assert_eq!(
        h.sim
            .state()
            .instance(&id)
            .unwrap()
            .instance
            .status
            .as_str(),
        "running"
    );

    // `storage` always comes back null: never a difference, never a PATCH.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(patches(&h), 0, "writes: {:?}", h.aura_writes());

    let log = h.operator_log();
    h.assert_log_clean(&log);
}

/// The answers the issue names: no `created_at`, and a null `connection_url`,
/// `storage`, `region` and `memory`. The object goes Ready and its deletion
/// destroys the instance and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_completes_over_answers_without_fields() {
    let mut h = Harness::start("quirky-delete", |c| {
        c.faults.quirks = quirks(json!({
            "absent": ["created_at"],
            "null": ["connection_url", "storage", "region", "memory"],
            "paths": ["/v1/instances"],
        }));
    })
    .await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);
    let status = h.instances().get("db").await.unwrap().status.unwrap();
    assert_eq!(
        status.connection_url.as_deref(),
        Some(format!("neo4j+s://{id}.databases.neo4j.io").as_str()),
        "the URL from the create answer is kept when a GET leaves it out"
    );

    h.instances()
        .delete("db", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone("db").await;
    assert!(
        h.sim.state().instance(&id).is_none(),
        "the Aura instance was destroyed"
    );
    assert!(
        h.aura_writes()
            .iter()
            .any(|l| l.starts_with(&format!("DELETE /v1/instances/{id} 202"))),
        "{:?}",
        h.aura_writes()
    );
}

/// A tenant catalogue whose rows report no storage (and carry fields the
/// spec does not list) is still usable: the spec's storage is let through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_without_storage_keeps_the_tenant_usable() {
    let mut h = Harness::start("quirky-catalogue", |c| {
        for row in &mut c.catalogue {
            row.storage = None;
        }
        c.faults.quirks = quirks(json!({"null": ["storage", "region_name"], "extra_fields": true}));
    })
    .await;
    h.start_operator();
    h.create(manifest("db", json!({"storage": "16GB"}))).await;
    let ready = h.wait_ready("db").await;
    let id = instance_id(&ready);
    assert_eq!(h.sim.state().counters().creates_committed, 1);
    assert!(
        condition(&ready, "Ready").is_some_and(|c| c.0 == "True"),
        "{:?}",
        ready.status
    );
    assert!(h.sim.state().instance(&id).is_some());
}

/// `storage` on a free instance is refused at admission: Aura sizes free
/// instances itself and does not report their storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_on_free_db_is_refused_at_admission() {
    let h = Harness::start("free-storage", |_| {}).await;
    let refused: AuraInstance = serde_json::from_value(manifest(
        "free",
        json!({"type": "free-db", "memory": "1GB", "storage": "2GB"}),
    ))
    .unwrap();
    let err = h
        .instances()
        .create(&PostParams::default(), &refused)
        .await
        .expect_err("storage on free-db must be refused");
    assert!(
        err.to_string()
            .contains("storage cannot be set for a free-db instance"),
        "{err}"
    );
    let allowed: AuraInstance = serde_json::from_value(manifest(
        "free",
        json!({"type": "free-db", "memory": "1GB"}),
    ))
    .unwrap();
    h.instances()
        .create(&PostParams::default(), &allowed)
        .await
        .expect("free-db without storage is fine");
}

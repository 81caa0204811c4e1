//! Issue 18 end to end: ObserveOnly, the reconcile-disabled annotation,
//! operator-wide --dry-run, settings applied after creation (secondaries,
//! CDC) and the customer managed key, each checked against the calls the
//! simulator received (real control plane, simulator for Aura).

use crate::support;

use aura_operator::api::AuraInstance;
use aura_operator::simulator::{ConsoleUpdate, CustomerManagedKey};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use support::eventually;
use support::harness::*;

fn status_of(o: &AuraInstance) -> aura_operator::api::AuraInstanceStatus {
    o.status.clone().unwrap_or_default()
}

async fn annotate(h: &Harness, name: &str, value: Option<&str>) {
    h.instances()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"aura-operator.io/reconcile": value}}}),
            ),
        )
        .await
        .expect("annotate");
}

async fn put_password(h: &Harness, secret: &str, password: &str) {
    let api = h.secrets();
    eventually(&format!("Secret {secret} exists"), WAIT, || async {
        api.get_opt(secret).await.ok().flatten().map(|_| ())
    })
    .await;
    api.patch(
        secret,
        &PatchParams::default(),
        &Patch::Merge(json!({"stringData": {"NEO4J_PASSWORD": password}})),
    )
    .await
    .expect("write the password");
}

/// Mutating calls (everything but GET and the token) to the instance `id`.
fn mutations(h: &Harness, id: &str) -> Vec<String> {
    h.writes_to(id)
}

fn posts(h: &Harness) -> usize {
    h.aura_writes()
        .iter()
        .filter(|l| l.starts_with("POST /v1/instances "))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_reports_drift_and_changes_nothing_until_full() {
    let mut h = Harness::start("observe", |c| c.update_seconds = Some(1.0)).await;
    let existing = h
        .sim
        .state()
        .console_create(&console_request("europe-west1", "legacy"))
        .expect("console create");
    let id = existing.instance.id.clone();
    h.start_operator();
    // Aura has 8GB; the manifest says 16GB and Delete: neither is acted on.
    h.create(manifest(
        "legacy",
        json!({"instanceId": id, "managementPolicy": "ObserveOnly", "deletionPolicy": "Delete", "memory": "16GB"}),
    ))
    .await;
    put_password(&h, "legacy-connection", &existing.password).await;
    let o = h
        .wait_for("legacy", "Ready and Drifted", |o| {
            condition(o, "Ready").is_some_and(|c| c.0 == "True")
                && condition(o, "Drifted").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, reason, message) = condition(&o, "Drifted").unwrap();
    assert_eq!(reason, "Drifted");
    assert!(message.contains("memory: spec 16GB, Aura 8GB"), "{message}");
    let note = h.wait_event("legacy", "Drifted").await;
    assert!(note.contains("memory"), "{note}");
    let s = status_of(&o);
    assert_eq!(s.memory.as_deref(), Some("8GB"));
    assert_eq!(s.instance_id.as_deref(), Some(id.as_str()));
    // What Aura reports, all of it (enterprise-db: replicas, CDC, metrics).
    assert_eq!(s.aura_name.as_deref(), Some("legacy"));
    assert_eq!(s.region.as_deref(), Some("europe-west1"));
    assert_eq!(s.instance_type.as_deref(), Some("enterprise-db"));
    assert_eq!(s.cloud_provider.as_deref(), Some("gcp"));
    assert!(s.storage.is_some() && s.created_at.is_some(), "{s:?}");
    assert_eq!(s.secondaries_count, Some(0));
    assert_eq!(s.cdc_enrichment_mode.as_deref(), Some("OFF"));
    assert!(s.metrics_integration_url.is_some(), "{s:?}");
    assert!(
        h.aura_writes().is_empty(),
        "ObserveOnly made mutating calls: {:?}",
        h.aura_writes()
    );

    // Full: the usual rules from now on.
    h.edit("legacy", json!({"managementPolicy": "Full"})).await;
    h.wait_for("legacy", "16GB and no Drifted condition", |o| {
        status_of(o).memory.as_deref() == Some("16GB")
            && condition(o, "Drifted").is_none()
            && condition(o, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(
        mutations(&h, &id),
        vec![format!("PATCH /v1/instances/{id} 202")]
    );

    // Back to ObserveOnly, then deleted with deletionPolicy Delete: kept.
    h.edit("legacy", json!({"managementPolicy": "ObserveOnly"}))
        .await;
    h.wait_for("legacy", "Drifted=False", |o| {
        condition(o, "Drifted").is_some_and(|c| c.0 == "False" && c.1 == "InSync")
    })
    .await;
    h.instances()
        .delete("legacy", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone("legacy").await;
    assert!(
        h.sim.state().instance(&id).is_some(),
        "ObserveOnly destroyed the instance"
    );
    assert_eq!(mutations(&h, &id).len(), 1, "{:?}", mutations(&h, &id));
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_refuses_observe_only_without_an_id_and_a_late_key() {
    let h = Harness::start("observe-cel", |_| {}).await;
    let obj: AuraInstance =
        serde_json::from_value(manifest("noid", json!({"managementPolicy": "ObserveOnly"})))
            .unwrap();
    let err = h
        .instances()
        .create(&PostParams::default(), &obj)
        .await
        .expect_err("ObserveOnly without instanceId");
    assert!(
        err.to_string().contains("ObserveOnly needs instanceId"),
        "{err}"
    );

    h.create(manifest("db", json!({}))).await;
    let err = h
        .instances()
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"customerManagedKeyId": "k"}})),
        )
        .await
        .expect_err("a key added after the create");
    assert!(err.to_string().contains("create-only"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disable_annotation_stops_every_call_and_deletion_still_follows_the_policy() {
    let mut h = Harness::start("disabled", |c| c.update_seconds = Some(1.0)).await;
    // Resyncs every second: a disabled object would show in the counters at once.
    h.start_operator_with(&["--resync-interval", "1s"]);
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    annotate(&h, "db", Some("disabled")).await;
    h.wait_for("db", "Reconciling=False ReconcileDisabled", |o| {
        condition(o, "Reconciling").is_some_and(|c| c.0 == "False" && c.1 == "ReconcileDisabled")
    })
    .await;
    h.sim.state().reset_counters();
    h.edit("db", json!({"memory": "16GB"})).await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let counters = h.sim.state().counters();
    assert_eq!(
        counters.requests_total, 0,
        "calls while disabled: {:?}",
        counters.journal
    );
    let o = h.instances().get("db").await.unwrap();
    // kstatus: the edit is not observed, Ready says what was known.
    assert_ne!(status_of(&o).observed_generation, o.metadata.generation);
    assert_eq!(condition(&o, "Ready").unwrap().0, "True");

    annotate(&h, "db", None).await;
    h.wait_for("db", "16GB", |o| {
        status_of(o).memory.as_deref() == Some("16GB")
    })
    .await;
    assert_eq!(
        mutations(&h, &id),
        vec![format!("PATCH /v1/instances/{id} 202")]
    );

    // Disabled again, then deleted: deletionPolicy Delete still destroys.
    annotate(&h, "db", Some("disabled")).await;
    h.instances()
        .delete("db", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone("db").await;
    assert!(
        h.sim.state().instance(&id).is_none(),
        "the instance was kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_makes_no_mutating_call_and_a_real_run_creates_once() {
    let mut h = Harness::start("dry-run", |_| {}).await;
    let existing = h
        .sim
        .state()
        .console_create(&console_request("europe-west1", "legacy"))
        .expect("console create");
    let id = existing.instance.id.clone();
    h.start_operator_with(&["--dry-run"]);
    h.create(manifest("fresh", json!({}))).await;
    h.create(manifest(
        "legacy",
        json!({"instanceId": id, "deletionPolicy": "Delete"}),
    ))
    .await;
    let note = h.wait_event("fresh", "DryRunCreate").await;
    assert!(
        note.starts_with("would create Aura instance \"fresh\""),
        "{note}"
    );
    assert!(note.contains(r#""memory":"8GB""#), "{note}");
    let fresh = h
        .wait_for("fresh", "Reconciling DryRun", |o| {
            condition(o, "Reconciling").is_some_and(|c| c.1 == "DryRun")
        })
        .await;
    let s = status_of(&fresh);
    assert!(
        s.create_requested_at.is_none(),
        "a create intent was recorded"
    );
    assert!(s.instance_id.is_none());

    put_password(&h, "legacy-connection", &existing.password).await;
    h.wait_ready("legacy").await;
    h.edit("legacy", json!({"memory": "16GB"})).await;
    let resize = h
        .wait_for("legacy", "a resize reported", |o| {
            condition(o, "Reconciling")
                .is_some_and(|c| c.1 == "DryRun" && c.2.contains("memory to 16GB"))
        })
        .await;
    assert_eq!(
        condition(&resize, "Ready").unwrap().0,
        "True",
        "Aura's state is reported as it is"
    );
    h.instances()
        .delete("legacy", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_for("legacy", "a delete reported", |o| {
        condition(o, "Reconciling").is_some_and(|c| c.1 == "DryRun" && c.2.contains("would delete"))
    })
    .await;
    let update = h.wait_event("legacy", "DryRunUpdate").await;
    assert!(
        update.contains(&format!("PATCH /instances/{id}")),
        "{update}"
    );
    let delete = h.wait_event("legacy", "DryRunDelete").await;
    assert!(
        delete.contains(&format!("DELETE /instances/{id}")),
        "{delete}"
    );
    assert!(
        h.aura_writes().is_empty(),
        "dry run made calls: {:?}",
        h.aura_writes()
    );
    let metrics = h.operator_log();
    assert!(!metrics.contains(&existing.password));

    // The real run: one create for fresh, the resize is moot (the object is
    // being deleted), and the instance of the deleted object is destroyed.
    h.operator.take().unwrap().kill().await;
    h.start_operator();
    h.wait_ready("fresh").await;
    h.wait_gone("legacy").await;
    assert_eq!(posts(&h), 1, "{:?}", h.aura_writes());
    assert!(
        h.sim.state().instance(&id).is_none(),
        "legacy's instance is kept"
    );
    let fresh_id = instance_id(&h.instances().get("fresh").await.unwrap());
    assert_eq!(
        h.sim
            .state()
            .instances()
            .iter()
            .filter(|i| i.instance.name.as_deref() == Some("fresh"))
            .map(|i| i.instance.id.clone())
            .collect::<Vec<_>>(),
        vec![fresh_id]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondaries_and_cdc_converge_after_creation_drift_is_put_back_and_refusals_stall() {
    let mut h = Harness::start("replicas", |c| c.update_seconds = Some(1.0)).await;
    h.start_operator();
    h.create(manifest(
        "vdc",
        json!({"secondariesCount": 2, "cdcEnrichmentMode": "Full"}),
    ))
    .await;
    let o = h
        .wait_for("vdc", "2 secondaries and CDC FULL", |o| {
            let s = status_of(o);
            s.secondaries_count == Some(2)
                && s.cdc_enrichment_mode.as_deref() == Some("FULL")
                && condition(o, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await;
    let id = instance_id(&o);
    assert!(status_of(&o).metrics_integration_url.is_some());
    assert_eq!(
        mutations(&h, &id),
        vec![format!("PATCH /v1/instances/{id} 202")],
        "one PATCH after the create"
    );
    let created_then_patched: Vec<String> = h
        .aura_writes()
        .into_iter()
        .filter(|l| l.starts_with("POST /v1/instances ") || l.contains(&id))
        .collect();
    assert!(
        created_then_patched[0].starts_with("POST /v1/instances "),
        "{created_then_patched:?}"
    );

    // Changed in the console: put back, with a DriftCorrected event.
    h.sim
        .state()
        .console_update(
            &id,
            &ConsoleUpdate {
                secondaries_count: Some(0),
                ..Default::default()
            },
        )
        .unwrap();
    let note = h.wait_event("vdc", "DriftCorrected").await;
    assert!(note.contains("secondariesCount 0"), "{note}");
    h.wait_for("vdc", "2 secondaries again", |o| {
        status_of(o).secondaries_count == Some(2)
            && condition(o, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;

    // A type without secondaries: Aura refuses, the object stalls with its message.
    h.create(manifest(
        "pro",
        json!({"type": "professional-db", "memory": "4GB", "secondariesCount": 1}),
    ))
    .await;
    let o = h
        .wait_for("pro", "Stalled", |o| stalled_reason(o).is_some())
        .await;
    let (_, reason, message) = condition(&o, "Stalled").unwrap();
    assert_eq!(reason, "AuraRejected", "{message}");
    assert!(
        message.contains("Secondaries are only available"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_managed_key_reaches_the_create_and_the_status() {
    let mut h = Harness::start("cmk", |_| {}).await;
    h.sim.state().add_customer_managed_key(CustomerManagedKey {
        id: "6a1b0f2c-cmk".into(),
        name: "prod key".into(),
        tenant_id: TENANT_B.into(),
        cloud_provider: "gcp".into(),
        region: "europe-west1".into(),
        instance_type: "enterprise-db".into(),
        status: "ready".into(),
    });
    h.start_operator();
    h.create(manifest(
        "enc",
        json!({"customerManagedKeyId": "6a1b0f2c-cmk"}),
    ))
    .await;
    let o = h.wait_ready("enc").await;
    assert_eq!(
        status_of(&o).customer_managed_key_id.as_deref(),
        Some("6a1b0f2c-cmk")
    );
    let id = instance_id(&o);
    assert_eq!(
        h.sim
            .state()
            .instance(&id)
            .unwrap()
            .instance
            .customer_managed_key_id
            .as_deref(),
        Some("6a1b0f2c-cmk"),
        "the create body carried the key"
    );

    // An unknown key: Aura refuses the create, nothing is billed.
    h.create(manifest("badkey", json!({"customerManagedKeyId": "nope"})))
        .await;
    let o = h
        .wait_for("badkey", "Stalled", |o| stalled_reason(o).is_some())
        .await;
    let (_, _, message) = condition(&o, "Stalled").unwrap();
    assert!(
        message.contains("Customer managed key nope not found"),
        "{message}"
    );
    assert_eq!(posts(&h), 2, "{:?}", h.aura_writes());
    assert_eq!(h.sim.state().instances().len(), 1);
}

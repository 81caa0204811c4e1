//! Day-2 operations end to end (issue 5): resize, rename, features,
//! pause/resume, upgrade, busy instances, adoption, drift and credentials
//! rotation — each checked against the calls the simulator received.

use crate::support;

use std::time::Duration;

use aura_operator::api::{AuraInstance, Phase};
use aura_operator::simulator::ConsoleUpdate;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

use support::eventually;
use support::harness::*;

fn phase(o: &AuraInstance) -> Option<Phase> {
    o.status.as_ref()?.phase
}

fn cond_is(o: &AuraInstance, type_: &str, status: &str) -> bool {
    condition(o, type_).is_some_and(|c| c.0 == status)
}

/// Writes to Aura for one instance, in order.
fn writes_for(h: &Harness, id: &str) -> Vec<String> {
    h.aura_writes()
        .into_iter()
        .filter(|l| l.contains(id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_sends_one_patch_and_reports_updating_then_ready() {
    let mut h = Harness::start("resize", |c| c.update_seconds = Some(3.0)).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    h.edit("db", json!({"memory": "16GB"})).await;
    let updating = h
        .wait_for("db", "Updating while Aura reports updating", |o| {
            phase(o) == Some(Phase::Updating)
                && o.status.as_ref().unwrap().aura_status.as_deref() == Some("updating")
        })
        .await;
    assert!(
        cond_is(&updating, "Reconciling", "True"),
        "{:?}",
        updating.status
    );
    assert!(
        cond_is(&updating, "Ready", "False"),
        "{:?}",
        updating.status
    );
    let ready = h
        .wait_for("db", "Ready with 16GB", |o| {
            cond_is(o, "Ready", "True")
                && o.status.as_ref().unwrap().memory.as_deref() == Some("16GB")
        })
        .await;
    assert_eq!(
        ready.status.unwrap().observed_generation,
        ready.metadata.generation
    );
    assert_eq!(
        writes_for(&h, &id),
        vec![format!("PATCH /v1/instances/{id} 202")]
    );
    assert_eq!(
        h.sim
            .state()
            .instance(&id)
            .unwrap()
            .instance
            .memory
            .as_deref(),
        Some("16GB")
    );

    // A size Aura does not offer there stalls before any call.
    h.edit("db", json!({"memory": "1GB"})).await;
    let stalled = h
        .wait_for("db", "Stalled on a size not offered", |o| {
            condition(o, "Stalled")
                .is_some_and(|c| c.0 == "True" && c.1 == "ConfigurationNotOffered")
        })
        .await;
    let message = condition(&stalled, "Stalled").unwrap().2;
    assert!(
        message.contains("offered memory/storage") && message.contains("16GB"),
        "{message}"
    );
    assert_eq!(
        writes_for(&h, &id).len(),
        1,
        "no PATCH for a size not offered"
    );
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_sends_a_rename_only_patch_and_updates_the_secret() {
    let mut h = Harness::start("rename", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    h.edit("db", json!({"name": "orders-renamed"})).await;
    let secrets = h.secrets();
    eventually("AURA_INSTANCENAME to follow the rename", WAIT, || {
        let secrets = secrets.clone();
        async move {
            let s = secrets.get("db-connection").await.ok()?;
            (aura_operator::kinds::instance::secret::read_key(&s, "AURA_INSTANCENAME").as_deref()
                == Some("orders-renamed"))
            .then_some(())
        }
    })
    .await;
    h.wait_ready("db").await;
    assert_eq!(
        writes_for(&h, &id),
        vec![format!("PATCH /v1/instances/{id} 200")],
        "one rename-only PATCH, answered 200"
    );
    assert_eq!(
        h.sim
            .state()
            .instance(&id)
            .unwrap()
            .instance
            .name
            .as_deref(),
        Some("orders-renamed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_toggles_are_patched() {
    let mut h = Harness::start("features", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    h.edit(
        "db",
        json!({"vectorOptimized": true, "graphAnalyticsPlugin": true}),
    )
    .await;
    let state = h.sim.state();
    eventually("both features on in Aura", WAIT, || {
        let state = state.clone();
        let id = id.clone();
        async move {
            let i = state.instance(&id)?.instance;
            (i.vector_optimized == Some(true) && i.graph_analytics_plugin == Some(true))
                .then_some(())
        }
    })
    .await;
    h.wait_ready("db").await;
    assert_eq!(
        writes_for(&h, &id),
        vec![format!("PATCH /v1/instances/{id} 202")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_follow_the_manifest_and_paused_objects_delete() {
    let mut h = Harness::start("pause", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    h.create(manifest("kept", json!({"deletionPolicy": "Orphan"})))
        .await;
    let id = instance_id(&h.wait_ready("db").await);
    let kept_id = instance_id(&h.wait_ready("kept").await);

    h.edit("db", json!({"paused": true})).await;
    let paused = h
        .wait_for("db", "Paused", |o| {
            phase(o) == Some(Phase::Paused)
                && o.status.as_ref().unwrap().aura_status.as_deref() == Some("paused")
        })
        .await;
    assert_eq!(
        condition(&paused, "Ready").map(|c| (c.0, c.1)),
        Some(("False".into(), "Paused".into()))
    );
    assert!(
        cond_is(&paused, "Stalled", "False"),
        "paused on purpose is not stalled"
    );
    assert!(
        cond_is(&paused, "Reconciling", "False"),
        "nothing in flight once paused"
    );

    h.edit("db", json!({"paused": false})).await;
    h.wait_ready("db").await;
    assert_eq!(
        writes_for(&h, &id),
        vec![
            format!("POST /v1/instances/{id}/pause 202"),
            format!("POST /v1/instances/{id}/resume 202")
        ]
    );

    // Paused objects can be deleted under either policy.
    h.edit("db", json!({"paused": true})).await;
    h.edit("kept", json!({"paused": true})).await;
    for name in ["db", "kept"] {
        h.wait_for(name, "Paused", |o| {
            o.status.as_ref().unwrap().aura_status.as_deref() == Some("paused")
        })
        .await;
    }
    h.instances()
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    h.instances()
        .delete("kept", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone("db").await;
    h.wait_gone("kept").await;
    assert!(
        h.sim.state().instance(&id).is_none(),
        "Delete destroys the paused instance"
    );
    assert_eq!(
        h.sim
            .state()
            .instance(&kept_id)
            .unwrap()
            .instance
            .status
            .as_str(),
        "paused",
        "Orphan keeps it paused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn professional_upgrades_to_business_critical() {
    let mut h = Harness::start("upgrade", |_| {}).await;
    h.start_operator();
    h.create(manifest(
        "db",
        json!({"type": "professional-db", "memory": "4GB"}),
    ))
    .await;
    let id = instance_id(&h.wait_ready("db").await);

    h.edit("db", json!({"type": "business-critical"})).await;
    let state = h.sim.state();
    eventually("the instance to be business-critical", WAIT, || {
        let state = state.clone();
        let id = id.clone();
        async move {
            (state.instance(&id)?.instance.instance_type.as_deref() == Some("business-critical"))
                .then_some(())
        }
    })
    .await;
    h.wait_ready("db").await;
    assert_eq!(
        writes_for(&h, &id),
        vec![format!("POST /v1/instances/{id}/upgrade 200")]
    );
    // Any other type change is refused at admission.
    let err = h
        .instances()
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"type": "enterprise-db"}})),
        )
        .await
        .expect_err("business-critical -> enterprise-db must be refused");
    assert!(err.to_string().contains("type is immutable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_aura_is_busy_are_applied_one_after_another() {
    let mut h = Harness::start("busy", |c| {
        c.update_seconds = Some(2.0);
        c.settle_grace_seconds = 1.5; // Aura still answers 409 for a while after "running"
    })
    .await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    h.edit("db", json!({"memory": "16GB"})).await;
    h.wait_for("db", "Updating", |o| phase(o) == Some(Phase::Updating))
        .await;
    h.edit("db", json!({"name": "second-change"})).await;

    let mut saw_stalled = false;
    let api = h.instances();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let o = api.get("db").await.unwrap();
        saw_stalled |= cond_is(&o, "Stalled", "True");
        let s = o.status.clone().unwrap();
        let aura = h.sim.state().instance(&id).unwrap().instance;
        if cond_is(&o, "Ready", "True")
            && aura.memory.as_deref() == Some("16GB")
            && aura.name.as_deref() == Some("second-change")
            && s.observed_generation == o.metadata.generation
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "both changes were not applied: {s:?} / {aura:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !saw_stalled,
        "a busy instance must never surface as Stalled"
    );
    let writes = writes_for(&h, &id);
    let accepted: Vec<&String> = writes.iter().filter(|w| !w.ends_with(" 409")).collect();
    assert_eq!(
        accepted,
        vec![
            &format!("PATCH /v1/instances/{id} 202"),
            &format!("PATCH /v1/instances/{id} 200")
        ],
        "all writes: {writes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_instance_is_adopted_and_a_mismatch_is_refused() {
    let mut h = Harness::start("adopt", |_| {}).await;
    let existing = h
        .sim
        .state()
        .console_create(&console_request("europe-west1", "legacy"))
        .expect("console create");
    let elsewhere = h
        .sim
        .state()
        .console_create(&console_request("us-central1", "elsewhere"))
        .expect("console create");
    let id = existing.instance.id.clone();
    h.start_operator();
    h.create(manifest(
        "legacy",
        json!({"instanceId": id, "deletionPolicy": "Orphan"}),
    ))
    .await;
    h.create(manifest(
        "wrong",
        json!({"instanceId": elsewhere.instance.id, "deletionPolicy": "Orphan"}),
    ))
    .await;

    let adopted = h
        .wait_for("legacy", "PasswordUnavailable", |o| {
            condition(o, "Ready").is_some_and(|c| c.1 == "PasswordUnavailable")
        })
        .await;
    assert_eq!(instance_id(&adopted), id);
    assert_eq!(
        h.secret_value("legacy-connection", "NEO4J_URI").await,
        Some(format!("neo4j+s://{id}.databases.neo4j.io"))
    );
    assert_eq!(
        h.secret_value("legacy-connection", "NEO4J_PASSWORD").await,
        None
    );
    assert!(
        !h.aura_writes()
            .iter()
            .any(|w| w.starts_with("POST /v1/instances ")),
        "adoption must not create"
    );

    h.secrets()
        .patch(
            "legacy-connection",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"NEO4J_PASSWORD": existing.password}})),
        )
        .await
        .unwrap();
    h.wait_ready("legacy").await;

    let wrong = h
        .wait_for("wrong", "Stalled on a mismatch", |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "InstanceMismatch")
        })
        .await;
    let message = condition(&wrong, "Stalled").unwrap().2;
    assert!(
        message.contains("region is us-central1 in Aura, europe-west1 in the spec"),
        "{message}"
    );
    assert_eq!(
        wrong.status.unwrap().instance_id,
        None,
        "a mismatched instance is never recorded"
    );
    assert_eq!(h.sim.state().instances().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_drift_is_put_back_and_an_outside_delete_is_reported() {
    let mut h = Harness::start("drift", |_| {}).await;
    h.start_operator_with(&["--resync-interval", "2s"]);
    h.create(manifest("db", json!({}))).await;
    h.create(manifest("race", json!({}))).await;
    h.create(manifest("gone", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);
    let race_id = instance_id(&h.wait_ready("race").await);
    let gone_id = instance_id(&h.wait_ready("gone").await);

    let console = |memory: &str| ConsoleUpdate {
        memory: Some(memory.into()),
        ..Default::default()
    };
    h.sim.state().console_update(&id, &console("16GB")).unwrap();
    let note = h.wait_event("db", "DriftCorrected").await;
    assert!(
        note.contains("memory 16GB") && note.contains("memory to 8GB"),
        "{note}"
    );
    let state = h.sim.state();
    eventually("memory back to the spec", WAIT, || {
        let state = state.clone();
        let id = id.clone();
        async move { (state.instance(&id)?.instance.memory.as_deref() == Some("8GB")).then_some(()) }
    })
    .await;

    // A console change racing a manifest change ends with the manifest's values.
    h.sim
        .state()
        .console_update(&race_id, &console("16GB"))
        .unwrap();
    h.edit("race", json!({"memory": "24GB"})).await;
    eventually("the manifest's memory to win", WAIT, || {
        let state = state.clone();
        let id = race_id.clone();
        async move { (state.instance(&id)?.instance.memory.as_deref() == Some("24GB")).then_some(()) }
    })
    .await;
    let race = h.wait_ready("race").await;
    assert_eq!(race.status.unwrap().memory.as_deref(), Some("24GB"));

    // Deleted outside the operator: reported, never re-created.
    assert!(h.sim.state().console_delete(&gone_id));
    let gone = h
        .wait_for("gone", "InstanceNotFound", |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "InstanceNotFound")
        })
        .await;
    assert!(cond_is(&gone, "Ready", "False"));
    let warning = h.wait_event("gone", "InstanceNotFound").await;
    assert!(warning.contains(&gone_id), "{warning}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let creates = h
        .aura_writes()
        .iter()
        .filter(|w| w.starts_with("POST /v1/instances "))
        .count();
    assert_eq!(creates, 3, "no automatic re-create");
    assert_eq!(h.sim.state().instances().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_credentials_are_used_at_once_and_stalled_objects_recover() {
    const OTHER_ID: &str = "rotated-client";
    const OTHER_SECRET: &str = "rotated-secret-8Hq2";
    let mut h = Harness::start("rotation", |c| {
        c.clients.push((OTHER_ID.into(), OTHER_SECRET.into()))
    })
    .await;
    h.put_credentials("stale-api", CLIENT_ID, "an-old-secret")
        .await;
    h.start_operator_with(&["--resync-interval", "2s"]);
    h.create(manifest("db", json!({}))).await;
    h.create(manifest(
        "stuck",
        json!({"credentialsSecretRef": {"name": "stale-api"}}),
    ))
    .await;
    h.wait_ready("db").await;
    h.wait_for("stuck", "Stalled on bad credentials", |o| {
        condition(o, "Stalled").is_some_and(|c| c.1 == "AuthenticationFailed")
    })
    .await;

    // Rotate: the next calls come from the new client, with no stale token.
    h.put_credentials("aura-api", OTHER_ID, OTHER_SECRET).await;
    let state = h.sim.state();
    eventually("calls from the rotated client", WAIT, || {
        let state = state.clone();
        async move {
            (state
                .counters()
                .by_client
                .get(OTHER_ID)
                .copied()
                .unwrap_or(0)
                > 0)
            .then_some(())
        }
    })
    .await;
    assert_eq!(
        state
            .counters()
            .token_calls_by_client
            .get(OTHER_ID)
            .copied(),
        Some(1)
    );

    // Fixing the stale Secret lets the stalled object recover by itself.
    h.put_credentials("stale-api", CLIENT_ID, CLIENT_SECRET)
        .await;
    h.wait_ready("stuck").await;
    let log = h.operator_log();
    h.assert_log_clean(&log);
    assert!(!log.contains(OTHER_SECRET) && !log.contains("an-old-secret"));
}

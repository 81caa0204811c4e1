//! Things that must end, and end right (issue 26, parts 5 and 6): two
//! snapshots whose answers are lost each record their own; a restore whose
//! target object is deleted ends instead of running for ever; a dry run
//! reports a change that would take a snapshot first instead of waiting for
//! it; AuraSnapshot and AuraRestore carry no finalizer that cleans up
//! nothing.

use crate::support;

use std::collections::BTreeSet;

use aura_operator::api::{AuraRestore, AuraSnapshot, RestorePhase};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use support::eventually;
use support::harness::*;

fn snapshots(h: &Harness) -> Api<AuraSnapshot> {
    Api::namespaced(h.client.clone(), &h.ns)
}

fn restores(h: &Harness) -> Api<AuraRestore> {
    Api::namespaced(h.client.clone(), &h.ns)
}

async fn take(h: &Harness, name: &str, of: &str) {
    let obj: AuraSnapshot = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraSnapshot",
        "metadata": {"name": name},
        "spec": {"instanceRef": {"name": of}},
    }))
    .unwrap();
    snapshots(h)
        .create(&PostParams::default(), &obj)
        .await
        .expect("create the AuraSnapshot");
}

async fn wait_snapshot_ready(h: &Harness, name: &str) -> AuraSnapshot {
    let api = snapshots(h);
    eventually(&format!("{name} Ready"), WAIT, || {
        let api = api.clone();
        async move {
            api.get(name).await.ok().filter(|s| {
                s.status.as_ref().is_some_and(|st| {
                    st.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
        }
    })
    .await
}

fn finalizers(meta: &kube::api::ObjectMeta) -> Vec<String> {
    meta.finalizers.clone().unwrap_or_default()
}

/// Two AuraSnapshots of one instance at once, both calls answered 500
/// after Aura took the snapshot: each object finds a snapshot of its own,
/// never the one the other took, and each call is made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_snapshots_at_once_whose_answers_are_lost_record_one_each() {
    let mut h = Harness::start("snap-pair", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    h.sim.state().update_faults(|f| f.fail_snapshots = 2);
    take(&h, "first", "db").await;
    take(&h, "second", "db").await;
    let first = wait_snapshot_ready(&h, "first").await;
    let second = wait_snapshot_ready(&h, "second").await;
    let ids: BTreeSet<String> = [&first, &second]
        .iter()
        .map(|s| s.status.as_ref().unwrap().snapshot_id.clone().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "both objects recorded one Aura snapshot: {ids:?}"
    );
    let calls: Vec<String> = h
        .aura_writes()
        .into_iter()
        .filter(|l| l.starts_with(&format!("POST /v1/instances/{id}/snapshots")))
        .collect();
    assert_eq!(
        calls,
        vec![format!("POST /v1/instances/{id}/snapshots 500"); 2]
    );
    // Nothing to clean up in Aura: no finalizer.
    assert!(finalizers(&first.metadata).is_empty());
    assert!(finalizers(&second.metadata).is_empty());
}

/// The AuraInstance a restore runs on is deleted (its finalizer taken off
/// by hand) while Aura restores: the AuraRestore ends Failed, reason
/// TargetDeleted, saying that the outcome is unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_whose_target_object_is_deleted_ends_saying_so() {
    let mut h = Harness::start("restore-orphan", |c| {
        c.restore_seconds = Some(600.0);
    })
    .await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    h.wait_ready("db").await;
    take(&h, "nightly", "db").await;
    wait_snapshot_ready(&h, "nightly").await;
    let obj: AuraRestore = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraRestore",
        "metadata": {"name": "back"},
        "spec": {"instanceRef": {"name": "db"}, "source": {"snapshotRef": {"name": "nightly"}}},
    }))
    .unwrap();
    restores(&h)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap();
    let api = restores(&h);
    let running = eventually("the restore accepted by Aura", WAIT, || {
        let api = api.clone();
        async move {
            api.get("back").await.ok().filter(|r| {
                r.status.as_ref().is_some_and(|s| {
                    s.phase == Some(RestorePhase::Running) && s.accepted_at.is_some()
                })
            })
        }
    })
    .await;
    assert!(finalizers(&running.metadata).is_empty());

    h.instances()
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    let _ = h.instances().delete("db", &DeleteParams::default()).await;
    h.wait_gone("db").await;

    let ended = eventually("the restore ended", WAIT, || {
        let api = api.clone();
        async move {
            api.get("back")
                .await
                .ok()
                .filter(|r| r.status.as_ref().and_then(|s| s.phase) == Some(RestorePhase::Failed))
        }
    })
    .await;
    let status = ended.status.unwrap();
    let stalled = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled")
        .expect("Stalled");
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "TargetDeleted"),
        "{}",
        stalled.message
    );
    assert!(stalled.message.contains("unknown"), "{}", stalled.message);
    assert!(status.completed_at.is_some());
}

/// Under --dry-run a resize that would take a snapshot first is reported
/// (what would happen, snapshot included) rather than waiting for a
/// snapshot the dry run never takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_a_change_that_would_take_a_snapshot_first() {
    let mut h = Harness::start("dry-before", |_| {}).await;
    h.start_operator();
    h.create(manifest(
        "db",
        json!({"snapshots": {"beforeChanges": true}}),
    ))
    .await;
    h.wait_ready("db").await;
    h.operator.take().unwrap().kill().await;
    let writes_before = h.aura_writes();
    h.start_operator_with(&["--dry-run"]);
    h.edit("db", json!({"memory": "16GB"})).await;
    let reported = h
        .wait_for("db", "the resize reported as a dry run", |o| {
            condition(o, "Reconciling").is_some_and(|c| c.1 == "DryRun")
        })
        .await;
    let message = condition(&reported, "Reconciling").unwrap().2;
    assert!(message.contains("snapshot first"), "{message}");
    assert!(message.contains("16GB"), "{message}");
    let event = h.wait_event("db", "DryRunUpdate").await;
    assert!(event.contains("snapshot first"), "{event}");
    let made: Vec<Value> = snapshots(&h)
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| serde_json::to_value(s.metadata.name).unwrap())
        .collect();
    assert!(made.is_empty(), "a dry run made AuraSnapshots: {made:?}");
    assert_eq!(h.aura_writes(), writes_before, "a dry run called Aura");
}

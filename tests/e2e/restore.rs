//! AuraRestore end to end: restores from the target's own snapshots and
//! overwrites from another instance (its current data or one of its
//! snapshots), each checked against the simulator's data lineage; a restore
//! that waits for a busy instance, during which the instance reports Updating
//! and is not patched; refusals that fail the restore with Aura's message; a
//! snapshot taken first (spec.snapshots.beforeChanges).

use crate::support;

use aura_operator::api::{AuraInstance, AuraRestore, AuraSnapshot, Phase, RestorePhase};
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

use support::eventually;
use support::fixtures::{Restore, restore, snapshot as snapshot_of};
use support::harness::*;
use support::objects;

fn restores(h: &Harness) -> Api<AuraRestore> {
    h.api()
}

fn snapshots(h: &Harness) -> Api<AuraSnapshot> {
    h.api()
}

async fn create_restore(h: &Harness, restore: Restore) -> AuraRestore {
    objects::create(&restores(h), restore).await
}

fn restore_phase(r: &AuraRestore) -> Option<RestorePhase> {
    r.status.as_ref()?.phase
}

async fn wait_finished(h: &Harness, name: &str) -> AuraRestore {
    objects::wait_for(&restores(h), name, "Succeeded or Failed", |r| {
        matches!(
            restore_phase(r),
            Some(RestorePhase::Succeeded | RestorePhase::Failed)
        )
    })
    .await
}

/// Waits until the restore finished, checks that Aura's refusal failed it
/// (Stalled, reason AuraRejected, completedAt set) and returns the message.
async fn refused(h: &Harness, name: &str) -> (AuraRestore, String) {
    let r = wait_finished(h, name).await;
    assert_eq!(
        restore_phase(&r),
        Some(RestorePhase::Failed),
        "{:?}",
        r.status
    );
    let (stalled, reason, message) = condition(&r, "Stalled").unwrap();
    assert_eq!(
        (stalled.as_str(), reason.as_str()),
        ("True", "AuraRejected"),
        "{message}"
    );
    assert!(r.status.as_ref().unwrap().completed_at.is_some());
    (r, message)
}

/// Waits for the restore to succeed; panics with its status when it failed.
async fn wait_succeeded(h: &Harness, name: &str) -> AuraRestore {
    let r = wait_finished(h, name).await;
    assert_eq!(
        restore_phase(&r),
        Some(RestorePhase::Succeeded),
        "{name}: {:?}",
        r.status
    );
    let status = r.status.as_ref().unwrap();
    assert!(status.started_at.is_some(), "{status:?}");
    assert!(status.accepted_at.is_some(), "{status:?}");
    assert!(status.completed_at.is_some(), "{status:?}");
    assert_eq!(
        condition(&r, "Ready").map(|c| c.0).as_deref(),
        Some("True"),
        "{status:?}"
    );
    assert_eq!(
        condition(&r, "Stalled").map(|c| c.0).as_deref(),
        Some("False")
    );
    assert_eq!(
        condition(&r, "Reconciling").map(|c| c.0).as_deref(),
        Some("False")
    );
    r
}

/// Takes an AuraSnapshot of `instance` and waits until Aura reports it Completed;
/// returns its Aura id.
async fn snapshot(h: &Harness, name: &str, instance: &str) -> String {
    objects::create(&snapshots(h), snapshot_of(name).of(instance)).await;
    objects::wait_until(&snapshots(h), name, "Completed", |s| {
        let s = s.status.as_ref()?;
        (s.aura_status.as_deref() == Some("Completed"))
            .then(|| s.snapshot_id.clone())
            .flatten()
    })
    .await
}

/// The instance's current data version, as the simulator's lineage says.
fn data_version(h: &Harness, id: &str) -> String {
    h.sim.state().lineage(id).expect("lineage").data_version
}

/// New data written to the instance; returns the new version.
fn write(h: &Harness, id: &str) -> String {
    h.sim.state().write(id).expect("write to the instance");
    data_version(h, id)
}

/// The last step of the instance's lineage: (event, source instance, source snapshot).
fn last_step(h: &Harness, id: &str) -> (String, Option<String>, Option<String>) {
    let lineage = h.sim.state().lineage(id).expect("lineage");
    let last = lineage.history.last().expect("a history").clone();
    let event = serde_json::to_value(last.event).unwrap();
    (
        event.as_str().unwrap().to_string(),
        last.source_instance_id,
        last.source_snapshot_id,
    )
}

async fn ready_instance(h: &Harness, name: &str, spec: Value) -> String {
    h.create(manifest(name, spec)).await;
    instance_id(&h.wait_ready(name).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_the_targets_own_snapshot_brings_its_data_back() {
    let mut h = Harness::start("restore-own", |c| c.restore_seconds = Some(2.0)).await;
    h.start_operator();
    let id = ready_instance(&h, "db", json!({})).await;

    let sid = snapshot(&h, "nightly", "db").await;
    let snapped = data_version(&h, &id);
    let written = write(&h, &id);
    assert_ne!(written, snapped);

    create_restore(&h, restore("rollback").of("db").snapshot_ref("nightly")).await;
    let r = wait_succeeded(&h, "rollback").await;
    let status = r.status.unwrap();
    assert_eq!(status.instance_id.as_deref(), Some(id.as_str()));
    assert_eq!(status.source_instance_id.as_deref(), Some(id.as_str()));
    assert_eq!(status.source_snapshot_id.as_deref(), Some(sid.as_str()));
    assert_eq!(status.source, Some(format!("snapshot {sid}")));
    assert_eq!(
        data_version(&h, &id),
        snapped,
        "the snapshot's data is back"
    );
    assert_eq!(
        last_step(&h, &id),
        ("restore".into(), None, Some(sid.clone()))
    );
    let restore_call = format!("POST /v1/instances/{id}/snapshots/{sid}/restore 202");
    assert_eq!(
        h.writes_to(&id)
            .iter()
            .filter(|l| l.contains("/restore") || l.contains("/overwrite"))
            .cloned()
            .collect::<Vec<_>>(),
        vec![restore_call.clone()],
        "one restore call"
    );
    // Events are sent beside the reconcile: waited for, not read at once.
    let started = h.wait_event("rollback", "RestoreStarted").await;
    assert!(started.contains(&sid), "{started}");
    let succeeded = h.wait_event("rollback", "RestoreSucceeded").await;
    assert!(succeeded.contains(&id), "{succeeded}");
    // The instance runs again, Ready, with the data of the snapshot.
    h.wait_ready("db").await;

    // A bare snapshotId (of the target) does the same.
    let again = write(&h, &id);
    assert_ne!(again, snapped);
    create_restore(&h, restore("rollback-by-id").of("db").snapshot_id(&sid)).await;
    wait_succeeded(&h, "rollback-by-id").await;
    assert_eq!(data_version(&h, &id), snapped);
    let restores_sent = h
        .writes_to(&id)
        .into_iter()
        .filter(|l| l == &restore_call)
        .count();
    assert_eq!(restores_sent, 2, "{:?}", h.writes_to(&id));

    // Deleting a finished restore removes only the object.
    restores(&h)
        .delete("rollback", &DeleteParams::default())
        .await
        .unwrap();
    let api = restores(&h);
    objects::wait_gone(&api, "rollback").await;
    assert_eq!(data_version(&h, &id), snapped);
    assert_eq!(
        h.writes_to(&id)
            .iter()
            .filter(|l| l.contains("/restore") || l.contains("/overwrite"))
            .count(),
        2
    );
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_copies_another_instances_data_or_one_of_its_snapshots() {
    let mut h = Harness::start("restore-overwrite", |c| {
        c.overwrite_seconds = Some(2.0);
    })
    .await;
    h.start_operator();
    let prod = ready_instance(&h, "prod", json!({})).await;
    let test = ready_instance(&h, "test", json!({})).await;

    // The current data of another instance.
    let current = write(&h, &prod);
    assert_ne!(data_version(&h, &test), current);
    create_restore(&h, restore("copy").of("test").instance_ref("prod")).await;
    let r = wait_succeeded(&h, "copy").await;
    let status = r.status.unwrap();
    assert_eq!(status.source_instance_id.as_deref(), Some(prod.as_str()));
    assert_eq!(status.source_snapshot_id, None);
    assert_eq!(status.source, Some(format!("instance {prod}")));
    assert_eq!(data_version(&h, &test), current);
    assert_eq!(
        last_step(&h, &test),
        ("overwrite".into(), Some(prod.clone()), None)
    );

    // One of its snapshots, named with instanceRef beside it.
    let sid = snapshot(&h, "prod-nightly", "prod").await;
    let snapped = data_version(&h, &prod);
    let later = write(&h, &prod);
    assert_ne!(later, snapped);
    create_restore(
        &h,
        restore("from-snapshot")
            .of("test")
            .instance_ref("prod")
            .snapshot_ref("prod-nightly"),
    )
    .await;
    wait_succeeded(&h, "from-snapshot").await;
    assert_eq!(data_version(&h, &test), snapped);
    assert_eq!(
        last_step(&h, &test),
        ("overwrite".into(), Some(prod.clone()), Some(sid.clone()))
    );

    // The same snapshot named alone: not the target's, so an overwrite too.
    write(&h, &test);
    create_restore(
        &h,
        restore("from-snapshot-ref")
            .of("test")
            .snapshot_ref("prod-nightly"),
    )
    .await;
    let r = wait_succeeded(&h, "from-snapshot-ref").await;
    assert_eq!(
        r.status.unwrap().source,
        Some(format!("snapshot {sid} of instance {prod}"))
    );
    assert_eq!(data_version(&h, &test), snapped);

    let calls: Vec<String> = h
        .writes_to(&test)
        .into_iter()
        .filter(|l| l.contains("/restore") || l.contains("/overwrite"))
        .collect();
    assert_eq!(
        calls,
        vec![format!("POST /v1/instances/{test}/overwrite 202"); 3],
        "three overwrites, no restore"
    );
    // The source is only read.
    assert!(
        h.writes_to(&prod)
            .iter()
            .all(|l| l.contains("/snapshots") && !l.contains("/restore")),
        "{:?}",
        h.writes_to(&prod)
    );
    h.assert_log_clean(&h.operator_log());
}

fn instance_phase(o: &AuraInstance) -> Option<Phase> {
    o.status.as_ref()?.phase
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_waits_for_a_busy_instance_and_the_instance_waits_for_the_restore() {
    let mut h = Harness::start("restore-busy", |c| {
        c.update_seconds = Some(6.0);
        c.restore_seconds = Some(10.0);
    })
    .await;
    h.start_operator();
    let id = ready_instance(&h, "db", json!({})).await;
    let sid = snapshot(&h, "nightly", "db").await;
    let snapped = data_version(&h, &id);
    write(&h, &id);

    // Busy with a resize: the restore waits.
    h.edit("db", json!({"memory": "16GB"})).await;
    h.wait_for("db", "Updating while Aura resizes", |o| {
        o.status.as_ref().and_then(|s| s.aura_status.as_deref()) == Some("updating")
    })
    .await;
    create_restore(&h, restore("rollback").of("db").snapshot_ref("nightly")).await;
    let waiting = objects::wait_for(
        &restores(&h),
        "rollback",
        "Pending: the instance is busy",
        |r| {
            restore_phase(r) == Some(RestorePhase::Pending)
                && condition(r, "Reconciling").is_some_and(|c| c.1 == "InstanceBusy")
        },
    )
    .await;
    assert_eq!(
        condition(&waiting, "Stalled").map(|c| c.0).as_deref(),
        Some("False"),
        "a wait, not a stall"
    );
    let resize = format!("PATCH /v1/instances/{id} 202");
    let restore_call = format!("POST /v1/instances/{id}/snapshots/{sid}/restore 202");
    assert!(!h.writes_to(&id).contains(&restore_call));

    // Then it runs, and while it does the instance reports Updating (Restoring)
    // and an edit of its spec is not sent.
    objects::wait_for(&restores(&h), "rollback", "Running", |r| {
        restore_phase(r) == Some(RestorePhase::Running)
    })
    .await;
    h.edit("db", json!({"memory": "8GB"})).await;
    let (during, journal) =
        eventually("the edit observed while the restore runs", WAIT, || async {
            let o = h.instances().get("db").await.ok()?;
            let status = o.status.as_ref()?;
            let observed = status.observed_generation == o.metadata.generation;
            let restoring = condition(&o, "Reconciling").is_some_and(|c| c.1 == "Restoring");
            if !(observed && restoring && instance_phase(&o) == Some(Phase::Updating)) {
                return None;
            }
            let journal = h.writes_to(&id);
            let r = restores(&h).get("rollback").await.ok()?;
            // Read after the journal: the restore ran all the while.
            (restore_phase(&r) == Some(RestorePhase::Running)).then_some((o, journal))
        })
        .await;
    assert_eq!(
        condition(&during, "Ready").map(|c| c.0).as_deref(),
        Some("False")
    );
    let started = journal
        .iter()
        .position(|l| l == &restore_call)
        .unwrap_or_else(|| panic!("the restore call in {journal:?}"));
    assert!(
        journal[started..].iter().all(|l| !l.starts_with("PATCH")),
        "a PATCH was sent during the restore: {journal:?}"
    );
    assert_eq!(
        journal.iter().filter(|l| **l == resize).count(),
        1,
        "{journal:?}"
    );

    wait_succeeded(&h, "rollback").await;
    assert_eq!(data_version(&h, &id), snapped);
    // The edit made during the restore is converged after it.
    h.wait_for("db", "Ready at 8GB again", |o| {
        condition(o, "Ready").is_some_and(|c| c.0 == "True")
            && o.status.as_ref().unwrap().memory.as_deref() == Some("8GB")
    })
    .await;
    let journal = h.writes_to(&id);
    let started = journal.iter().position(|l| l == &restore_call).unwrap();
    assert!(
        journal[started..].iter().any(|l| l == &resize),
        "the edit is sent once the restore ended: {journal:?}"
    );
    assert_eq!(
        journal.iter().filter(|l| **l == restore_call).count(),
        1,
        "{journal:?}"
    );
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_aura_refuses_fails_the_restore_with_auras_message() {
    let mut h = Harness::start("restore-refused", |_| {}).await;
    h.start_operator();
    let prod = ready_instance(&h, "prod", json!({})).await;
    let test = ready_instance(&h, "test", json!({})).await;
    let before = data_version(&h, &test);

    // A snapshot id Aura does not know.
    create_restore(
        &h,
        restore("unknown")
            .of("test")
            .snapshot_id("no-such-snapshot"),
    )
    .await;
    let (_, message) = refused(&h, "unknown").await;
    assert!(
        message.contains("Snapshot not found: no-such-snapshot") && message.contains("HTTP 404"),
        "{message}"
    );
    assert!(message.contains("request id"), "{message}");
    let warning = h.wait_event("unknown", "RestoreFailed").await;
    assert!(warning.contains("Snapshot not found"), "{warning}");

    // A snapshot of another instance that is not exportable.
    h.sim
        .state()
        .set_instance_snapshots_exportable(&prod, Some(false))
        .unwrap();
    let sid = snapshot(&h, "prod-nightly", "prod").await;
    create_restore(
        &h,
        restore("not-exportable")
            .of("test")
            .instance_ref("prod")
            .snapshot_ref("prod-nightly"),
    )
    .await;
    let (r, message) = refused(&h, "not-exportable").await;
    assert!(
        message.contains(&format!("Snapshot {sid} is not exportable")),
        "{message}"
    );
    assert_eq!(
        condition(&r, "Ready").map(|c| (c.0, c.1)),
        Some(("False".into(), "AuraRejected".into()))
    );

    // A source instance larger than the target (Aura's documented 500).
    h.edit("prod", json!({"memory": "16GB"})).await;
    h.wait_for("prod", "Ready at 16GB", |o| {
        condition(o, "Ready").is_some_and(|c| c.0 == "True")
            && o.status.as_ref().unwrap().memory.as_deref() == Some("16GB")
    })
    .await;
    create_restore(&h, restore("too-big").of("test").instance_ref("prod")).await;
    let (_, message) = refused(&h, "too-big").await;
    assert!(message.contains("into smaller database"), "{message}");

    // Each refused once, never retried; the target's data is untouched.
    let calls: Vec<String> = h
        .writes_to(&test)
        .into_iter()
        .filter(|l| l.contains("/restore") || l.contains("/overwrite"))
        .collect();
    assert_eq!(
        calls,
        vec![
            format!("POST /v1/instances/{test}/snapshots/no-such-snapshot/restore 404"),
            format!("POST /v1/instances/{test}/overwrite 400"),
            format!("POST /v1/instances/{test}/overwrite 500"),
        ]
    );
    assert_eq!(data_version(&h, &test), before);
    // The target never stopped being Ready.
    h.wait_ready("test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_changes_snapshots_the_target_first_so_a_restore_can_be_undone() {
    let mut h = Harness::start("restore-first", |c| c.restore_seconds = Some(2.0)).await;
    h.start_operator();
    let id = ready_instance(&h, "db", json!({"snapshots": {"beforeChanges": true}})).await;
    let sid = snapshot(&h, "nightly", "db").await;
    let snapped = data_version(&h, &id);
    let written = write(&h, &id);

    create_restore(&h, restore("rollback").of("db").snapshot_ref("nightly")).await;
    let r = wait_succeeded(&h, "rollback").await;
    let status = r.status.unwrap();
    assert_eq!(status.before_snapshot.as_deref(), Some("rollback-before"));
    assert_eq!(data_version(&h, &id), snapped);

    // The snapshot taken first: of the target, owned by the restore, labelled.
    let first = snapshots(&h).get("rollback-before").await.unwrap();
    assert_eq!(first.spec.instance_ref.name, "db");
    assert_eq!(
        first
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("aura-operator.io/instance"))
            .map(String::as_str),
        Some("db")
    );
    let owner = &first.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("AuraRestore", "rollback")
    );
    let first_status = first.status.unwrap();
    assert_eq!(first_status.aura_status.as_deref(), Some("Completed"));
    let first_id = first_status.snapshot_id.unwrap();
    assert_ne!(first_id, sid);
    // Taken before the restore call.
    let journal = h.writes_to(&id);
    let taken: Vec<usize> = journal
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == format!("POST /v1/instances/{id}/snapshots 202"))
        .map(|(i, _)| i)
        .collect();
    let restored = journal
        .iter()
        .position(|l| l.contains(&format!("/snapshots/{sid}/restore")))
        .unwrap();
    assert_eq!(
        taken.len(),
        2,
        "nightly, then the one taken first: {journal:?}"
    );
    assert!(taken[1] < restored, "{journal:?}");

    // Undo: restore the snapshot taken first, the data written before comes back.
    create_restore(&h, restore("undo").of("db").snapshot_ref("rollback-before")).await;
    let r = wait_succeeded(&h, "undo").await;
    assert_eq!(data_version(&h, &id), written);
    assert_eq!(
        r.status.unwrap().before_snapshot.as_deref(),
        Some("undo-before")
    );
    // Deleting the restore takes the snapshot object with it (ownership), not the data.
    restores(&h)
        .delete("rollback", &DeleteParams::default())
        .await
        .unwrap();
    let api = snapshots(&h);
    objects::wait_gone(&api, "rollback-before").await;
    assert_eq!(data_version(&h, &id), written);
}

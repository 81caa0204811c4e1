//! Snapshots as objects, clones at create, schedules and beforeChanges, on a
//! real control plane with the simulator; data is checked through the
//! simulator's lineage, not only through the calls made.

mod support;

use aura_operator::api::{AuraSnapshot, AuraSnapshotStatus};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

use support::eventually;
use support::harness::*;

fn snapshots(h: &Harness) -> Api<AuraSnapshot> {
    Api::namespaced(h.client.clone(), &h.ns)
}

async fn take(h: &Harness, name: &str, of: &str) {
    let obj: AuraSnapshot = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraSnapshot",
        "metadata": {"name": name},
        "spec": {"instanceRef": {"name": of}},
    }))
    .unwrap();
    snapshots(h)
        .create(&PostParams::default(), &obj)
        .await
        .expect("create the AuraSnapshot");
}

fn ready(s: &AuraSnapshot) -> bool {
    s.status.as_ref().is_some_and(|st| {
        st.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

async fn wait_snapshot(
    h: &Harness,
    name: &str,
    what: &str,
    check: impl Fn(&AuraSnapshot) -> bool,
) -> AuraSnapshot {
    let api = snapshots(h);
    let check = &check;
    eventually(&format!("{name}: {what}"), WAIT, || {
        let api = api.clone();
        async move { api.get(name).await.ok().filter(|s| check(s)) }
    })
    .await
}

fn snapshot_calls(h: &Harness, id: &str) -> usize {
    h.aura_writes()
        .iter()
        .filter(|l| l.starts_with(&format!("POST /v1/instances/{id}/snapshots ")))
        .count()
}

fn data_version(h: &Harness, id: &str) -> String {
    h.sim.state().lineage(id).expect("lineage").data_version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_completes_and_reports_what_aura_says() {
    let mut h = Harness::start("snap", |c| c.snapshot_seconds = Some(2.0)).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    take(&h, "first", "db").await;
    let taking = wait_snapshot(&h, "first", "Reconciling while Aura takes it", |s| {
        s.status.as_ref().is_some_and(|st| {
            st.snapshot_id.is_some()
                && st
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Reconciling" && c.status == "True")
        })
    })
    .await;
    assert!(!ready(&taking), "{:?}", taking.status);
    let done = wait_snapshot(&h, "first", "Ready", ready).await;
    let st: AuraSnapshotStatus = done.status.unwrap();
    assert_eq!(st.instance_id.as_deref(), Some(id.as_str()));
    assert_eq!(st.aura_status.as_deref(), Some("Completed"));
    assert_eq!(st.exportable, Some(true));
    assert_eq!(st.profile.as_deref(), Some("AdHoc"));
    assert!(st.taken_at.is_some());
    let sid = st.snapshot_id.unwrap();
    let listed = h
        .sim
        .state()
        .counters()
        .journal
        .iter()
        .any(|l| l.contains(&format!("/v1/instances/{id}/snapshots/{sid}")));
    assert!(listed, "the operator polled the snapshot it recorded");
    assert_eq!(snapshot_calls(&h, &id), 1);

    // Deleting the object removes only the object.
    snapshots(&h)
        .delete("first", &Default::default())
        .await
        .unwrap();
    eventually("the AuraSnapshot to go", WAIT, || async {
        snapshots(&h)
            .get_opt("first")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(snapshot_calls(&h, &id), 1);
    assert!(h.aura_writes().iter().all(|l| !l.starts_with("DELETE")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_snapshot_call_is_found_again_not_repeated() {
    let mut h = Harness::start("snaplost", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    h.sim.state().update_faults(|f| f.fail_snapshots = 1);
    take(&h, "lost", "db").await;
    let done = wait_snapshot(&h, "lost", "Ready", ready).await;
    let calls: Vec<String> = h
        .aura_writes()
        .into_iter()
        .filter(|l| l.starts_with(&format!("POST /v1/instances/{id}/snapshots")))
        .collect();
    assert_eq!(
        calls,
        vec![format!("POST /v1/instances/{id}/snapshots 500")]
    );
    let recorded = done.status.unwrap().snapshot_id.unwrap();
    let all = h
        .sim
        .state()
        .counters()
        .journal
        .iter()
        .filter(|l| l.starts_with(&format!("GET /v1/instances/{id}/snapshots 200")))
        .count();
    // One list before the call (what existed), one to find the lost one.
    assert!(all >= 2, "the lost call was searched for in the list");
    assert!(!recorded.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_carry_their_source_and_its_data() {
    let mut h = Harness::start("clone", |_| {}).await;
    h.start_operator();
    h.create(manifest("prod", json!({}))).await;
    let prod = instance_id(&h.wait_ready("prod").await);
    take(&h, "nightly", "prod").await;
    wait_snapshot(&h, "nightly", "Ready", ready).await;
    let at_snapshot = data_version(&h, &prod);
    // Data written after the snapshot: a clone of the instance has it, a
    // clone of the snapshot does not.
    let now = h.sim.state().write(&prod).expect("write").data_version;
    assert_ne!(now, at_snapshot);

    h.create(manifest(
        "from-instance",
        json!({"source": {"instanceRef": {"name": "prod"}}}),
    ))
    .await;
    h.create(manifest(
        "from-snapshot",
        json!({"source": {"instanceRef": {"name": "prod"}, "snapshotRef": {"name": "nightly"}}}),
    ))
    .await;
    let a = instance_id(&h.wait_ready("from-instance").await);
    let b = instance_id(&h.wait_ready("from-snapshot").await);
    assert_eq!(data_version(&h, &a), now);
    assert_eq!(data_version(&h, &b), at_snapshot);
    let sid = snapshots(&h)
        .get("nightly")
        .await
        .unwrap()
        .status
        .unwrap()
        .snapshot_id
        .unwrap();
    let creates = h.sim.state().recent_creates();
    let body_of = |id: &str| {
        creates
            .iter()
            .find(|c| c.instance_id.as_deref() == Some(id))
            .map(|c| c.body.clone())
            .expect("the create of the clone")
    };
    assert_eq!(body_of(&a)["source_instance_id"], json!(prod));
    assert!(body_of(&a).get("source_snapshot_id").is_none());
    assert_eq!(body_of(&b)["source_instance_id"], json!(prod));
    assert_eq!(body_of(&b)["source_snapshot_id"], json!(sid));
    // The source is create-only.
    let refused = h
        .instances()
        .patch(
            "from-instance",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"spec": {"source": null}})),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("create-only"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_is_not_exportable_cannot_seed_a_clone() {
    let mut h = Harness::start("noexport", |_| {}).await;
    h.start_operator();
    h.create(manifest("prod", json!({}))).await;
    let prod = instance_id(&h.wait_ready("prod").await);
    h.sim
        .state()
        .set_instance_snapshots_exportable(&prod, Some(false))
        .expect("configure the snapshots of prod");
    take(&h, "nightly", "prod").await;
    let snap = wait_snapshot(&h, "nightly", "Ready", ready).await;
    assert_eq!(snap.status.unwrap().exportable, Some(false));
    let before = h.sim.state().instances().len();

    h.create(manifest(
        "copy",
        json!({"source": {"instanceRef": {"name": "prod"}, "snapshotRef": {"name": "nightly"}}}),
    ))
    .await;
    let stalled = h
        .wait_for("copy", "Stalled", |o| stalled_reason(o).is_some())
        .await;
    let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(reason, "AuraRejected", "{message}");
    assert!(message.to_lowercase().contains("export"), "{message}");
    assert_eq!(h.sim.state().instances().len(), before, "nothing created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_makes_objects_keep_prunes_and_a_restart_takes_no_burst() {
    let mut h = Harness::start("sched", |c| c.snapshot_seconds = Some(0.5)).await;
    h.start_operator();
    h.create(manifest(
        "db",
        json!({"snapshots": {"schedule": "*/4 * * * * *", "keep": 2}}),
    ))
    .await;
    let id = instance_id(&h.wait_ready("db").await);
    let scheduled = ListParams::default().labels("aura-operator.io/instance=db");
    let api = snapshots(&h);
    // Three slots: the oldest is pruned.
    eventually("three scheduled snapshots, two kept", WAIT, || async {
        let calls = snapshot_calls(&h, &id);
        let kept = api.list(&scheduled).await.ok()?.items;
        (calls >= 3 && kept.len() == 2).then_some(())
    })
    .await;
    let kept = api.list(&scheduled).await.unwrap().items;
    for s in &kept {
        let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("AuraInstance", "db")
        );
    }

    // Down for several slots: one snapshot at start, not one per slot.
    let log = h.operator.take().unwrap().kill().await;
    h.assert_log_clean(&log);
    let before = snapshot_calls(&h, &id);
    tokio::time::sleep(std::time::Duration::from_secs(13)).await;
    h.start_operator();
    eventually("a snapshot after the restart", WAIT, || async {
        (snapshot_calls(&h, &id) > before).then_some(())
    })
    .await;
    // Within the next slot at most one more: never a burst of the missed three.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        snapshot_calls(&h, &id) <= before + 2,
        "{:?}",
        h.aura_writes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_changes_a_resize_waits_for_its_snapshot() {
    let mut h = Harness::start("before", |c| {
        c.snapshot_seconds = Some(2.0);
        c.update_seconds = Some(1.0);
    })
    .await;
    h.start_operator();
    h.create(manifest(
        "db",
        json!({"snapshots": {"beforeChanges": true}}),
    ))
    .await;
    let id = instance_id(&h.wait_ready("db").await);
    h.edit("db", json!({"memory": "16GB"})).await;
    h.wait_for("db", "Ready with 16GB", |o| {
        condition(o, "Ready").is_some_and(|c| c.0 == "True")
            && o.status.as_ref().unwrap().memory.as_deref() == Some("16GB")
    })
    .await;
    let order: Vec<String> = h
        .aura_writes()
        .into_iter()
        .filter(|l| l.contains(&id))
        .collect();
    assert_eq!(
        order,
        vec![
            format!("POST /v1/instances/{id}/snapshots 202"),
            format!("PATCH /v1/instances/{id} 202"),
        ]
    );
    let snap = snapshots(&h)
        .get("db-before-g2")
        .await
        .expect("the snapshot before the change");
    assert!(ready(&snap), "{:?}", snap.status);
}

//! Snapshots as objects, clones at create, schedules and beforeChanges, on a
//! real control plane with the simulator; data is checked through the
//! simulator's lineage, not only through the calls made.

use crate::support;

use aura_operator::api::{AuraSnapshot, AuraSnapshotStatus};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use support::eventually;
use support::harness::*;

fn snapshots(h: &Harness) -> Api<AuraSnapshot> {
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

/// A scheduled AuraSnapshot made earlier by the operator for `slot`, settled.
async fn scheduled_earlier(h: &Harness, instance: &str, owner_uid: &str, slot: jiff::Timestamp) {
    let name = format!("{instance}-{}", slot.as_second());
    let obj: AuraSnapshot = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraSnapshot",
        "metadata": {
            "name": name,
            "labels": {"aura-operator.io/instance": instance, "aura-operator.io/scheduled": "true"},
            "annotations": {"aura-operator.io/scheduled-for": slot.to_string()},
            "ownerReferences": [{"apiVersion": "aura-operator.io/v1beta1", "kind": "AuraInstance",
                                 "name": instance, "uid": owner_uid, "controller": true}],
        },
        "spec": {"instanceRef": {"name": instance}},
    }))
    .unwrap();
    let api = snapshots(h);
    api.create(&PostParams::default(), &obj).await.unwrap();
    // Taken long ago: the controller has nothing to ask Aura about it.
    let status = json!({"status": {"snapshotId": format!("old-{}", slot.as_second()),
        "auraStatus": "Completed", "takenAt": slot.to_string()}});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

/// Schedules are at most hourly (a seconds-grain one is refused at
/// admission), so the slot due now comes from history the test writes: the
/// last scheduled snapshot three hours ago, two settled scheduled objects
/// before it. The three missed slots make one snapshot, `keep` prunes the
/// oldest, and a restart makes none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_makes_objects_keep_prunes_and_a_restart_takes_no_burst() {
    let mut h = Harness::start("sched", |c| c.snapshot_seconds = Some(0.5)).await;
    let refused = h
        .instances()
        .create(
            &PostParams::default(),
            &serde_json::from_value(manifest(
                "fast",
                json!({"snapshots": {"schedule": "*/4 * * * * *"}}),
            ))
            .unwrap(),
        )
        .await
        .expect_err("more often than hourly is refused at admission");
    assert!(refused.to_string().contains("schedule"), "{refused}");

    let created = h
        .create(manifest(
            "db",
            json!({"snapshots": {"schedule": "0 * * * *", "keep": 2}}),
        ))
        .await;
    let uid = created.metadata.uid.clone().unwrap();
    // The slot must not change hands while the test runs.
    let to_next_hour = 3600 - jiff::Timestamp::now().as_second().rem_euclid(3600);
    if to_next_hour < 120 {
        tokio::time::sleep(std::time::Duration::from_secs(to_next_hour as u64 + 2)).await;
    }
    let now = jiff::Timestamp::now();
    let hour = |back: i64| {
        let top = now.as_second() - now.as_second().rem_euclid(3600);
        jiff::Timestamp::from_second(top - back * 3600).unwrap()
    };
    scheduled_earlier(&h, "db", &uid, hour(5)).await;
    scheduled_earlier(&h, "db", &uid, hour(4)).await;
    let last = json!({"status": {"lastSnapshot": {
        "name": format!("db-{}", hour(3).as_second()), "takenAt": hour(3).to_string()}}});
    h.instances()
        .patch_status("db", &PatchParams::default(), &Patch::Merge(last))
        .await
        .unwrap();

    h.start_operator();
    let id = instance_id(&h.wait_ready("db").await);
    let scheduled = ListParams::default().labels("aura-operator.io/instance=db");
    let api = snapshots(&h);
    let this_slot = format!("db-{}", hour(0).as_second());
    // The missed slots come as one: this hour's; the oldest object is pruned.
    eventually("this hour's snapshot, two kept", WAIT, || async {
        let kept = api.list(&scheduled).await.ok()?.items;
        let names: Vec<String> = kept
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        (names.len() == 2 && names.contains(&this_slot)).then_some(())
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
    wait_snapshot(&h, &this_slot, "Completed", ready).await;
    assert_eq!(snapshot_calls(&h, &id), 1, "{:?}", h.aura_writes());
    let o = h
        .wait_for("db", "the slot recorded", |o| {
            o.status
                .as_ref()
                .and_then(|s| s.last_snapshot.as_ref())
                .is_some_and(|l| l.name == this_slot)
        })
        .await;
    assert!(o.status.is_some());

    // A restart: the slot is taken, nothing more.
    let log = h.operator.take().unwrap().kill().await;
    h.assert_log_clean(&log);
    h.start_operator();
    h.wait_ready("db").await;
    // Nothing observable marks "no snapshot": a few passes' time, then count.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(snapshot_calls(&h, &id), 1, "{:?}", h.aura_writes());
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

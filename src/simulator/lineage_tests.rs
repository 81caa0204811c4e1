//! Data lineage: restore, overwrite, clone and writes move data versions.
use super::tests::{s, spec, world};
use super::*;
use crate::simulator::lineage::LineageEvent;

/// A running instance.
fn running(w: &mut World, t: Instant) -> String {
    w.create(spec("professional-db"), t, true).unwrap().id
}

/// A completed snapshot of `id` taken at `t`, and when it completes.
fn snapshot(w: &mut World, id: &str, t: Instant) -> (String, Instant) {
    let sid = w.take_snapshot(id, t).unwrap();
    (sid, t + s(w.timings.snapshot))
}

fn version(w: &mut World, id: &str, t: Instant) -> String {
    w.lineage(id, t).unwrap().data_version
}

fn events(w: &mut World, id: &str, t: Instant) -> Vec<LineageEvent> {
    w.lineage(id, t)
        .unwrap()
        .history
        .iter()
        .map(|e| e.event)
        .collect()
}

#[test]
fn a_new_instance_has_its_own_data_version() {
    let mut w = world();
    let t0 = Instant::now();
    let a = running(&mut w, t0);
    let b = w.create(spec("professional-db"), t0, false).unwrap().id;
    let la = w.lineage(&a, t0).unwrap();
    assert!(la.data_version.starts_with("dv-"), "{la:?}");
    assert_eq!(la.data_version.len(), 11);
    assert_eq!(la.history.len(), 1);
    assert_eq!(la.history[0].event, LineageEvent::Created);
    assert_eq!(la.history[0].data_version, la.data_version);
    assert_eq!(la.history[0].source_instance_id, None);
    assert_ne!(version(&mut w, &b, t0), la.data_version);
    assert_eq!(
        w.get(&a, t0).unwrap().to_admin(t0).data_version,
        la.data_version
    );
    assert_eq!(
        w.lineage("nope", t0).unwrap_err().reason(),
        Some("db-not-found")
    );
}

#[test]
fn a_write_changes_the_version() {
    let mut w = world();
    let t0 = Instant::now();
    let id = running(&mut w, t0);
    let before = version(&mut w, &id, t0);
    let after = w.write(&id, t0).unwrap();
    assert_ne!(after.data_version, before);
    assert_eq!(
        events(&mut w, &id, t0),
        [LineageEvent::Created, LineageEvent::Write]
    );
    assert_eq!(
        w.lineage(&id, t0).unwrap().history[1].data_version,
        after.data_version
    );
    // Not while an operation runs, not while paused, not when unknown.
    let creating = w.create(spec("professional-db"), t0, false).unwrap().id;
    assert_eq!(w.write(&creating, t0).unwrap_err().status, 409);
    w.pause(&id, t0).unwrap();
    assert_eq!(w.write(&id, t0).unwrap_err().status, 409);
    assert_eq!(w.write(&id, t0 + s(1.0)).unwrap_err().status, 400);
    assert_eq!(w.write("nope", t0).unwrap_err().status, 404);
}

#[test]
fn restore_brings_back_the_version_the_snapshot_captured() {
    let mut w = world();
    let t0 = Instant::now();
    let id = running(&mut w, t0);
    let captured = version(&mut w, &id, t0);
    let (sid, done) = snapshot(&mut w, &id, t0);
    // Written after the snapshot was asked for: not in it.
    w.write(&id, t0).unwrap();
    assert_ne!(version(&mut w, &id, done), captured);
    let i = w.restore(&id, &sid, done).unwrap();
    assert_eq!(i.status, InstanceStatus::Restoring);
    assert_eq!(version(&mut w, &id, done), captured);
    let last = w.lineage(&id, done).unwrap().history.pop().unwrap();
    assert_eq!(last.event, LineageEvent::Restore);
    assert_eq!(last.source_snapshot_id.as_deref(), Some(sid.as_str()));
    assert_eq!(last.source_instance_id, None);
    let t_end = done + s(w.timings.restore);
    assert_eq!(w.get(&id, t_end).unwrap().status, InstanceStatus::Running);
}

#[test]
fn everything_else_is_refused_while_restoring() {
    let mut w = world();
    w.timings.restore = 5.0;
    let t0 = Instant::now();
    let id = running(&mut w, t0);
    let (sid, done) = snapshot(&mut w, &id, t0);
    w.restore(&id, &sid, done).unwrap();
    let busy = |e: ApiError| {
        assert_eq!(e.status, 409, "{e:?}");
        assert_eq!(e.reason(), Some("ongoing-database-operation"));
    };
    let resize = UpdateSpec {
        memory: Some("8GB".into()),
        storage: Some("16GB".into()),
        ..Default::default()
    };
    busy(w.restore(&id, &sid, done).unwrap_err());
    busy(w.take_snapshot(&id, done).unwrap_err());
    busy(w.pause(&id, done).unwrap_err());
    busy(w.resume(&id, done).unwrap_err());
    busy(w.delete(&id, done).unwrap_err());
    busy(w.update(&id, &resize, done).unwrap_err());
    busy(w.write(&id, done).unwrap_err());
    // A rename still applies at once, as in any other state.
    let rename = UpdateSpec {
        name: Some("renamed".into()),
        ..Default::default()
    };
    assert!(w.update(&id, &rename, done).unwrap().0);
    assert_eq!(
        w.get(&id, done + s(5.0)).unwrap().status,
        InstanceStatus::Running
    );
}

#[test]
fn restore_takes_only_the_instances_own_snapshots() {
    let mut w = world();
    let t0 = Instant::now();
    let a = running(&mut w, t0);
    let b = running(&mut w, t0);
    let (sid_a, done) = snapshot(&mut w, &a, t0);
    let e = w.restore(&b, &sid_a, done).unwrap_err();
    assert_eq!(e.status, 404);
    assert_eq!(e.reason(), Some("snapshot-not-found"));
    assert_eq!(w.get(&b, done).unwrap().status, InstanceStatus::Running);
    assert_eq!(events(&mut w, &b, done), [LineageEvent::Created]);
}

#[test]
fn exportable_follows_the_instance_then_the_default() {
    let mut w = world();
    let t0 = Instant::now();
    let a = running(&mut w, t0);
    let b = running(&mut w, t0);
    let (sa, done) = snapshot(&mut w, &a, t0);
    let (sb, _) = snapshot(&mut w, &b, t0);
    let shown = |w: &mut World, id: &str, sid: &str| w.snapshot(id, sid, done).unwrap().exportable;
    assert_eq!(shown(&mut w, &a, &sa), Some(true));
    // An instance's own setting applies to the snapshots it already has.
    assert_eq!(w.set_snapshots_exportable(&a, Some(false), done), Ok(false));
    assert_eq!(shown(&mut w, &a, &sa), Some(false));
    assert_eq!(
        w.snapshots(&a, None, done).unwrap()[0].exportable,
        Some(false)
    );
    assert_eq!(shown(&mut w, &b, &sb), Some(true));
    w.snapshots_exportable = false;
    assert_eq!(shown(&mut w, &b, &sb), Some(false));
    assert_eq!(w.set_snapshots_exportable(&b, Some(true), done), Ok(true));
    assert_eq!(shown(&mut w, &b, &sb), Some(true));
    assert_eq!(w.set_snapshots_exportable(&a, None, done), Ok(false));
    assert_eq!(
        w.set_snapshots_exportable("nope", None, done)
            .unwrap_err()
            .status,
        404
    );
    // Snapshot statuses stay capitalised.
    assert_eq!(
        w.snapshot(&a, &sa, done).unwrap().status.as_deref(),
        Some("Completed")
    );
}

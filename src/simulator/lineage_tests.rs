//! Data lineage: restore, overwrite, clone and writes move data versions.
use super::tests::{s, spec, world};
use super::*;
use crate::simulator::catalogue::{OverwriteSpec, parse_create, parse_overwrite};
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

fn from(source: &str, snapshot: Option<&str>) -> OverwriteSpec {
    OverwriteSpec {
        source_instance_id: source.into(),
        source_snapshot_id: snapshot.map(str::to_string),
    }
}

fn clone_of(source: &str, snapshot: Option<&str>) -> CreateSpec {
    CreateSpec {
        source_instance_id: Some(source.into()),
        source_snapshot_id: snapshot.map(str::to_string),
        ..spec("professional-db")
    }
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
fn everything_else_is_refused_while_restoring_or_overwriting() {
    let mut w = world();
    w.timings.restore = 5.0;
    w.timings.overwrite = 5.0;
    let t0 = Instant::now();
    let id = running(&mut w, t0);
    let other = running(&mut w, t0);
    let (sid, done) = snapshot(&mut w, &id, t0);
    let (other_sid, _) = snapshot(&mut w, &other, t0);
    let resize = UpdateSpec {
        memory: Some("8GB".into()),
        storage: Some("16GB".into()),
        ..Default::default()
    };
    for op in ["restore", "overwrite"] {
        let (target, own_sid, t) = match op {
            "restore" => {
                w.restore(&id, &sid, done).unwrap();
                (id.clone(), sid.clone(), done)
            }
            _ => {
                let t = done + s(5.0);
                let i = w.overwrite(&other, &from(&id, None), t).unwrap();
                assert_eq!(i.status, InstanceStatus::Overwriting);
                (other.clone(), other_sid.clone(), t)
            }
        };
        let busy = |e: ApiError| {
            assert_eq!(e.status, 409, "{op}: {e:?}");
            assert_eq!(e.reason(), Some("ongoing-database-operation"), "{op}");
        };
        busy(w.restore(&target, &own_sid, t).unwrap_err());
        busy(w.overwrite(&target, &from(&id, None), t).unwrap_err());
        busy(w.take_snapshot(&target, t).unwrap_err());
        busy(w.pause(&target, t).unwrap_err());
        busy(w.resume(&target, t).unwrap_err());
        busy(w.delete(&target, t).unwrap_err());
        busy(w.update(&target, &resize, t).unwrap_err());
        busy(w.write(&target, t).unwrap_err());
        // A rename still applies at once, as in any other state.
        let rename = UpdateSpec {
            name: Some(format!("renamed-{op}")),
            ..Default::default()
        };
        assert!(w.update(&target, &rename, t).unwrap().0);
        assert_eq!(
            w.get(&target, t + s(5.0)).unwrap().status,
            InstanceStatus::Running
        );
    }
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
fn overwrite_from_an_instance_takes_its_data_at_call_time() {
    let mut w = world();
    let t0 = Instant::now();
    let source = running(&mut w, t0);
    let target = running(&mut w, t0);
    w.write(&source, t0).unwrap();
    let at_call = version(&mut w, &source, t0);
    let i = w.overwrite(&target, &from(&source, None), t0).unwrap();
    assert_eq!(i.status, InstanceStatus::Overwriting);
    // Written after the call: stays with the source.
    let t1 = t0 + s(w.timings.overwrite);
    w.write(&source, t1).unwrap();
    assert_eq!(w.get(&target, t1).unwrap().status, InstanceStatus::Running);
    assert_eq!(version(&mut w, &target, t1), at_call);
    let last = w.lineage(&target, t1).unwrap().history.pop().unwrap();
    assert_eq!(last.event, LineageEvent::Overwrite);
    assert_eq!(last.source_instance_id.as_deref(), Some(source.as_str()));
    assert_eq!(last.source_snapshot_id, None);
}

#[test]
fn overwrite_from_a_snapshot_takes_what_it_captured() {
    let mut w = world();
    let t0 = Instant::now();
    let source = running(&mut w, t0);
    let target = running(&mut w, t0);
    let captured = version(&mut w, &source, t0);
    let (sid, done) = snapshot(&mut w, &source, t0);
    w.write(&source, done).unwrap();
    w.overwrite(&target, &from(&source, Some(&sid)), done)
        .unwrap();
    assert_eq!(version(&mut w, &target, done), captured);
    let last = w.lineage(&target, done).unwrap().history.pop().unwrap();
    assert_eq!(last.event, LineageEvent::Overwrite);
    assert_eq!(last.source_instance_id.as_deref(), Some(source.as_str()));
    assert_eq!(last.source_snapshot_id.as_deref(), Some(sid.as_str()));
}

#[test]
fn overwrite_refusals_leave_the_target_as_it_was() {
    let mut w = world();
    let t0 = Instant::now();
    let source = running(&mut w, t0);
    let target = running(&mut w, t0);
    let other = running(&mut w, t0);
    let (sid, done) = snapshot(&mut w, &source, t0);
    let (other_sid, _) = snapshot(&mut w, &other, t0);
    let (pending, _) = snapshot(&mut w, &source, done);
    let before = w.lineage(&target, done).unwrap();
    let refused =
        |w: &mut World, spec: OverwriteSpec| w.overwrite(&target, &spec, done).unwrap_err();

    let e = refused(&mut w, from("deadbeef", None));
    assert_eq!((e.status.as_u16(), e.reason()), (404, Some("db-not-found")));
    // The snapshot must be the source's, completed and exportable.
    let e = refused(&mut w, from(&source, Some(&other_sid)));
    assert_eq!(
        (e.status.as_u16(), e.reason()),
        (404, Some("snapshot-not-found"))
    );
    let e = refused(&mut w, from(&source, Some(&pending)));
    assert_eq!(e.status, 409);
    w.set_snapshots_exportable(&source, Some(false), done)
        .unwrap();
    let e = refused(&mut w, from(&source, Some(&sid)));
    assert_eq!(e.status, 400);
    assert_eq!(e.reason(), Some("snapshot-not-exportable"));
    assert!(format!("{e:?}").contains(&sid), "{e:?}");
    // Without a snapshot the source's current data is copied: no export needed.
    w.set_snapshots_exportable(&source, None, done).unwrap();

    assert_eq!(w.lineage(&target, done).unwrap(), before);
    let t = w.get(&target, done).unwrap();
    assert_eq!(t.status, InstanceStatus::Running);
    assert!(!t.is_busy(done));
    assert_eq!(
        w.overwrite("deadbeef", &from(&source, None), done)
            .unwrap_err()
            .reason(),
        Some("db-not-found")
    );
}

#[test]
fn overwrite_needs_a_target_as_large_as_the_source_and_not_free() {
    let mut w = world();
    let t0 = Instant::now();
    let big = w
        .create(
            CreateSpec {
                memory: "8GB".into(),
                ..spec("professional-db")
            },
            t0,
            true,
        )
        .unwrap()
        .id;
    let small = running(&mut w, t0);
    let e = w.overwrite(&small, &from(&big, None), t0).unwrap_err();
    // The spec documents a 500 "DB Overwrite Size Disparity" here.
    assert_eq!(e.status, 500);
    let text = format!("{e:?}");
    for word in [big.as_str(), small.as_str(), "8GB", "4GB"] {
        assert!(text.contains(word), "{word} in {text}");
    }
    assert_eq!(w.get(&small, t0).unwrap().status, InstanceStatus::Running);
    // Larger from smaller is fine.
    w.overwrite(&big, &from(&small, None), t0).unwrap();

    let mut free = spec("free-db");
    free.memory = "1GB".into();
    let free = w.create(free, t0, true).unwrap().id;
    assert_eq!(
        w.overwrite(&free, &from(&small, None), t0)
            .unwrap_err()
            .status,
        420
    );
}

#[test]
fn overwrite_is_refused_while_the_target_is_busy() {
    let mut w = world();
    let t0 = Instant::now();
    let source = running(&mut w, t0);
    let creating = w.create(spec("professional-db"), t0, false).unwrap().id;
    let e = w
        .overwrite(&creating, &from(&source, None), t0)
        .unwrap_err();
    assert_eq!(e.reason(), Some("ongoing-database-operation"));
    let paused = running(&mut w, t0);
    w.console_update(
        &paused,
        &ConsoleUpdate {
            paused: Some(true),
            ..Default::default()
        },
        t0,
    )
    .unwrap();
    assert_eq!(
        w.overwrite(&paused, &from(&source, None), t0)
            .unwrap_err()
            .status,
        400
    );
}

#[test]
fn a_clone_starts_with_the_sources_data() {
    let mut w = world();
    let t0 = Instant::now();
    let source = running(&mut w, t0);
    w.write(&source, t0).unwrap();
    let current = version(&mut w, &source, t0);
    let c = w.create(clone_of(&source, None), t0, false).unwrap();
    // The usual create: a password once, creating then running.
    assert_eq!(w.issued_password(&c.id), Some(c.password.clone()));
    assert_eq!(w.get(&c.id, t0).unwrap().status, InstanceStatus::Creating);
    let t1 = t0 + s(w.timings.create);
    assert_eq!(w.get(&c.id, t1).unwrap().status, InstanceStatus::Running);
    let l = w.lineage(&c.id, t1).unwrap();
    assert_eq!(l.data_version, current);
    assert_eq!(l.history.len(), 1);
    assert_eq!(l.history[0].event, LineageEvent::Clone);
    assert_eq!(
        l.history[0].source_instance_id.as_deref(),
        Some(source.as_str())
    );
    assert_eq!(l.history[0].source_snapshot_id, None);
    // Then each goes its own way.
    w.write(&c.id, t1).unwrap();
    assert_eq!(version(&mut w, &source, t1), current);
}

#[test]
fn a_clone_from_a_snapshot_starts_with_what_it_captured() {
    let mut w = world();
    let t0 = Instant::now();
    let source = running(&mut w, t0);
    let captured = version(&mut w, &source, t0);
    let (sid, done) = snapshot(&mut w, &source, t0);
    w.write(&source, done).unwrap();
    let c = w
        .create(clone_of(&source, Some(&sid)), done, false)
        .unwrap();
    let l = w.lineage(&c.id, done).unwrap();
    assert_eq!(l.data_version, captured);
    assert_eq!(l.history[0].event, LineageEvent::Clone);
    assert_eq!(
        l.history[0].source_snapshot_id.as_deref(),
        Some(sid.as_str())
    );
}

#[test]
fn a_refused_clone_creates_nothing() {
    let mut w = world();
    let t0 = Instant::now();
    let source = running(&mut w, t0);
    let other = running(&mut w, t0);
    let (sid, done) = snapshot(&mut w, &source, t0);
    let (other_sid, _) = snapshot(&mut w, &other, t0);
    let (pending, _) = snapshot(&mut w, &source, done);
    w.set_snapshots_exportable(&source, Some(false), done)
        .unwrap();
    let count = |w: &mut World| w.list(None, done).len();
    let before = count(&mut w);

    let e = w
        .create(clone_of(&source, Some(&sid)), done, false)
        .unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.reason(), Some("snapshot-not-exportable"));
    let e = w
        .create(clone_of("deadbeef", None), done, false)
        .unwrap_err();
    assert_eq!(e.reason(), Some("db-not-found"));
    let e = w
        .create(clone_of(&source, Some(&other_sid)), done, false)
        .unwrap_err();
    assert_eq!(e.reason(), Some("snapshot-not-found"));
    w.set_snapshots_exportable(&source, None, done).unwrap();
    let e = w
        .create(clone_of(&source, Some(&pending)), done, false)
        .unwrap_err();
    assert_eq!(e.status, 409);

    assert_eq!(count(&mut w), before);
    assert_eq!(w.passwords.len(), before);
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

#[test]
fn bodies_name_their_sources() {
    let tenants = [TenantSummary {
        id: "t".into(),
        name: "T".into(),
    }];
    let catalogue = crate::simulator::catalogue::default_catalogue();
    let body = |v: serde_json::Value| v.as_object().unwrap().clone();
    let create = |extra: serde_json::Value| {
        let mut b = body(serde_json::json!({
            "version": "5", "region": "europe-west1", "memory": "4GB", "name": "c",
            "type": "professional-db", "tenant_id": "t", "cloud_provider": "gcp"
        }));
        b.extend(body(extra));
        parse_create(&b, &tenants, &catalogue)
    };
    let c =
        create(serde_json::json!({"source_instance_id": "0a1b2c3d", "source_snapshot_id": "s"}))
            .unwrap();
    assert_eq!(c.source_instance_id.as_deref(), Some("0a1b2c3d"));
    assert_eq!(c.source_snapshot_id.as_deref(), Some("s"));
    let e = create(serde_json::json!({"source_snapshot_id": "s"})).unwrap_err();
    assert_eq!(e.field_name(), Some("source_instance_id"));

    let o = parse_overwrite(&body(serde_json::json!({"source_instance_id": "0a1b2c3d"}))).unwrap();
    assert_eq!(o, from("0a1b2c3d", None));
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"source_snapshot_id": "s"}),
        serde_json::json!({"source_instance_id": ""}),
        serde_json::json!({"source_instance_id": 7}),
    ] {
        let e = parse_overwrite(&body(bad.clone())).unwrap_err();
        assert_eq!(e.status, 400, "{bad}");
        assert_eq!(e.field_name(), Some("source_instance_id"), "{bad}");
    }
}

#[test]
fn the_overwrite_timing_is_validated() {
    let t = Timings {
        overwrite: -1.0,
        ..Default::default()
    };
    assert_eq!(t.validate().unwrap_err().field_name(), Some("overwrite"));
}

/// A simulator reached over HTTP, with a token.
struct OverHttp {
    sim: crate::simulator::Simulator,
    http: reqwest::Client,
    base: String,
    token: String,
}

impl OverHttp {
    async fn start() -> Self {
        use crate::simulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
        use crate::simulator::{Simulator, SimulatorConfig};
        let sim = Simulator::start(SimulatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            create_seconds: 0.0,
            transition_seconds: 0.0,
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let base = sim.base_url();
        let http = reqwest::Client::new();
        let token: serde_json::Value = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_string();
        Self {
            sim,
            http,
            base,
            token,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: String,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if path.starts_with("/v1") {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Creates instance `name` (with `extra` in the body); returns its id.
    async fn create(&self, name: &str, extra: serde_json::Value) -> String {
        let mut b = serde_json::json!({
            "version": "5", "region": "europe-west1", "memory": "4GB", "name": name,
            "type": "professional-db", "tenant_id": crate::simulator::DEMO_TENANT_ID,
            "cloud_provider": "gcp", "not_a_field": "left out of the record"
        });
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (s, created) = self
            .call(reqwest::Method::POST, "/v1/instances".into(), Some(b))
            .await;
        assert_eq!(s, 202, "{created}");
        created["data"]["id"].as_str().unwrap().to_string()
    }
}

/// The routes and the admin side door, over HTTP: lineage and writes.
#[tokio::test]
async fn over_http_lineage_follows_writes() {
    use reqwest::Method as M;
    use serde_json::json;
    let h = OverHttp::start().await;
    let a = h.create("a", json!({})).await;
    let (s, l) = h
        .call(M::GET, format!("/admin/instances/{a}/lineage"), None)
        .await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["instance_id"], a.as_str());
    assert_eq!(l["history"][0]["event"], "created");
    let (s, w) = h
        .call(M::POST, format!("/admin/instances/{a}/write"), None)
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["history"][1]["event"], "write");
    assert_ne!(w["data_version"], l["data_version"]);
    let (_, listed) = h.call(M::GET, "/admin/instances".into(), None).await;
    assert_eq!(listed[0]["data_version"], w["data_version"]);
    let (s, e) = h
        .call(M::GET, "/admin/instances/deadbeef/lineage".into(), None)
        .await;
    assert_eq!(
        (s, &e["errors"][0]["reason"]),
        (404, &json!("db-not-found"))
    );
    let (s, _) = h
        .call(M::POST, "/admin/instances/deadbeef/write".into(), None)
        .await;
    assert_eq!(s, 404);
    h.sim.shutdown().await;
}

/// Exportable: the default, then one instance's own setting.
#[tokio::test]
async fn over_http_snapshots_are_exportable_as_set() {
    use reqwest::Method as M;
    use serde_json::json;
    let h = OverHttp::start().await;
    let a = h.create("a", json!({})).await;
    let (s, d) = h
        .call(M::GET, "/admin/snapshot-exportable".into(), None)
        .await;
    assert_eq!((s, d), (200, json!({"exportable": true})));
    let (s, d) = h
        .call(
            M::PUT,
            "/admin/snapshot-exportable".into(),
            Some(json!({"exportable": false})),
        )
        .await;
    assert_eq!((s, d), (200, json!({"exportable": false})));
    let (s, _) = h
        .call(
            M::PUT,
            "/admin/snapshot-exportable".into(),
            Some(json!({"exportable": null})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, o) = h
        .call(
            M::POST,
            format!("/admin/instances/{a}/snapshot-exportable"),
            Some(json!({"exportable": true})),
        )
        .await;
    assert_eq!((s, o), (200, json!({"instance_id": a, "exportable": true})));
    let (s, _) = h
        .call(
            M::POST,
            format!("/admin/instances/{a}/snapshot-exportable"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = h
        .call(
            M::POST,
            "/admin/instances/deadbeef/snapshot-exportable".into(),
            Some(json!({"exportable": true})),
        )
        .await;
    assert_eq!(s, 404);
    let (s, snap) = h
        .call(
            M::POST,
            format!("/v1/instances/{a}/snapshots"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 202, "{snap}");
    let sid = snap["data"]["snapshot_id"].as_str().unwrap().to_string();
    let (_, shown) = h
        .call(M::GET, format!("/v1/instances/{a}/snapshots/{sid}"), None)
        .await;
    assert_eq!(shown["data"]["exportable"], true);
    assert_eq!(shown["data"]["status"], "Completed");
    h.sim.shutdown().await;
}

/// A clone from a snapshot and an overwrite: the record shows the sources.
#[tokio::test]
async fn over_http_clones_and_overwrites_carry_their_sources() {
    use reqwest::Method as M;
    use serde_json::json;
    let h = OverHttp::start().await;
    let a = h.create("a", json!({})).await;
    let (_, w) = h
        .call(M::POST, format!("/admin/instances/{a}/write"), None)
        .await;
    let (s, snap) = h
        .call(
            M::POST,
            format!("/v1/instances/{a}/snapshots"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 202, "{snap}");
    let sid = snap["data"]["snapshot_id"].as_str().unwrap().to_string();
    let b = h
        .create(
            "b",
            json!({"source_instance_id": a, "source_snapshot_id": sid}),
        )
        .await;
    let (_, lb) = h
        .call(M::GET, format!("/admin/instances/{b}/lineage"), None)
        .await;
    assert_eq!(lb["data_version"], w["data_version"]);
    assert_eq!(lb["history"][0]["event"], "clone");
    assert_eq!(lb["history"][0]["source_snapshot_id"], sid.as_str());
    let (s, creates) = h.call(M::GET, "/admin/requests/creates".into(), None).await;
    assert_eq!(s, 200);
    let last = &creates[1];
    assert_eq!(last["status"], "202");
    assert_eq!(last["instance_id"], b.as_str());
    assert_eq!(last["body"]["source_instance_id"], a.as_str());
    assert_eq!(last["body"]["source_snapshot_id"], sid.as_str());
    assert!(last["body"].get("not_a_field").is_none(), "{last}");
    assert!(!creates.to_string().contains("password"), "{creates}");
    overwrite_checks(&h, &a, &b).await;
    // The records go with the counters.
    h.sim.state().reset_counters();
    assert!(h.sim.state().recent_creates().is_empty());
    h.sim.shutdown().await;
}

/// Overwrite: a missing source is a field error; then a 202 with the instance.
async fn overwrite_checks(h: &OverHttp, a: &str, b: &str) {
    use reqwest::Method as M;
    use serde_json::json;
    let path = format!("/v1/instances/{b}/overwrite");
    let (s, e) = h.call(M::POST, path.clone(), Some(json!({}))).await;
    assert_eq!(
        (s, &e["errors"][0]["field"]),
        (400, &json!("source_instance_id"))
    );
    let (s, e) = h
        .call(
            M::POST,
            path.clone(),
            Some(json!({"source_instance_id": "deadbeef"})),
        )
        .await;
    assert_eq!(
        (s, &e["errors"][0]["reason"]),
        (404, &json!("db-not-found"))
    );
    let (s, e) = h
        .call(
            M::POST,
            path.clone(),
            Some(json!({"source_instance_id": a, "source_snapshot_id": "nope"})),
        )
        .await;
    assert_eq!(
        (s, &e["errors"][0]["reason"]),
        (404, &json!("snapshot-not-found"))
    );
    let (s, i) = h
        .call(M::POST, path, Some(json!({"source_instance_id": a})))
        .await;
    assert_eq!(s, 202, "{i}");
    assert_eq!(i["data"]["id"], b);
    assert!(
        h.sim
            .state()
            .counters()
            .journal
            .contains(&format!("POST /v1/instances/{b}/overwrite 202"))
    );
}

#[test]
fn an_overwrite_from_an_instance_snapshots_the_source_first() {
    let mut w = world();
    let t0 = Instant::now();
    let source = running(&mut w, t0);
    let target = running(&mut w, t0);
    let small = w.create(spec("professional-db"), t0, true).unwrap().id;
    w.console_update(
        &source,
        &ConsoleUpdate {
            memory: Some("8GB".into()),
            ..Default::default()
        },
        t0,
    )
    .unwrap();
    let count = |w: &mut World, t| w.snapshots(&source, None, t).unwrap().len();
    // A refused overwrite takes none.
    assert!(w.overwrite(&small, &from(&source, None), t0).is_err());
    assert_eq!(count(&mut w, t0), 0);
    w.console_update(
        &source,
        &ConsoleUpdate {
            memory: Some("4GB".into()),
            ..Default::default()
        },
        t0,
    )
    .unwrap();
    let at_call = version(&mut w, &source, t0);
    w.overwrite(&target, &from(&source, None), t0).unwrap();
    let taken = w.snapshots(&source, None, t0).unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].profile.as_deref(), Some("AdHoc"));
    // It holds what the target got: restoring it brings that data back.
    let done = t0 + s(w.timings.overwrite.max(w.timings.snapshot));
    w.write(&source, done).unwrap();
    w.restore(&source, &taken[0].snapshot_id, done).unwrap();
    assert_eq!(version(&mut w, &source, done), at_call);
    // From a named snapshot: no new one.
    let t1 = done + s(w.timings.restore);
    w.overwrite(&small, &from(&source, Some(&taken[0].snapshot_id)), t1)
        .unwrap();
    assert_eq!(count(&mut w, t1), 1);
}

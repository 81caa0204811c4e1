//! The simulated account and its state machine.
use super::*;
use crate::simulator::catalogue::default_catalogue;

pub(super) fn world() -> World {
    World::new(
        vec![TenantSummary {
            id: "t".into(),
            name: "T".into(),
        }],
        default_catalogue(),
        Timings::default(),
    )
}

pub(super) fn spec(ty: &str) -> CreateSpec {
    CreateSpec {
        name: "db".into(),
        tenant_id: "t".into(),
        cloud_provider: "gcp".into(),
        region: "europe-west1".into(),
        instance_type: ty.into(),
        version: "5".into(),
        memory: "4GB".into(),
        storage: "8GB".into(),
        vector_optimized: false,
        graph_analytics_plugin: false,
        source_instance_id: None,
        source_snapshot_id: None,
        customer_managed_key_id: None,
    }
}

pub(super) fn s(n: f64) -> Duration {
    Duration::from_secs_f64(n)
}

#[test]
fn create_runs_after_create_seconds() {
    let mut w = world();
    let t0 = Instant::now();
    let c = w.create(spec("professional-db"), t0, false).unwrap();
    assert_eq!(c.id.len(), 8);
    assert!(
        c.id.chars()
            .all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase())
    );
    assert_eq!(
        c.connection_url,
        Some(format!("neo4j+s://{}.databases.neo4j.io", c.id))
    );
    assert_eq!(w.issued_password(&c.id), Some(c.password.clone()));
    assert_eq!(w.get(&c.id, t0).unwrap().status, InstanceStatus::Creating);
    // Busy while creating: pause and delete are refused with 409.
    assert_eq!(w.pause(&c.id, t0).unwrap_err().status, 409);
    assert_eq!(w.delete(&c.id, t0).unwrap_err().status, 409);
    let t1 = t0 + s(2.0);
    assert_eq!(w.get(&c.id, t1).unwrap().status, InstanceStatus::Running);
}

#[test]
fn pause_resume_cycle() {
    let mut w = world();
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, true).unwrap().id;
    assert_eq!(w.resume(&id, t0).unwrap_err().status, 400);
    assert_eq!(w.pause(&id, t0).unwrap().status, InstanceStatus::Pausing);
    assert_eq!(
        w.resume(&id, t0).unwrap_err().reason(),
        Some("ongoing-database-operation")
    );
    let t1 = t0 + s(1.0);
    assert_eq!(w.get(&id, t1).unwrap().status, InstanceStatus::Paused);
    assert_eq!(w.pause(&id, t1).unwrap_err().status, 400);
    assert_eq!(w.resume(&id, t1).unwrap().status, InstanceStatus::Resuming);
    assert_eq!(
        w.get(&id, t1 + s(1.0)).unwrap().status,
        InstanceStatus::Running
    );
}

#[test]
fn rename_is_immediate_resize_is_an_operation() {
    let mut w = world();
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, false).unwrap().id;
    let rename = UpdateSpec {
        name: Some("new".into()),
        ..Default::default()
    };
    // A rename works even while creating.
    let (ro, i) = w.update(&id, &rename, t0).unwrap();
    assert!(ro);
    assert_eq!(i.name.as_deref(), Some("new"));
    let resize = UpdateSpec {
        memory: Some("8GB".into()),
        storage: Some("16GB".into()),
        ..Default::default()
    };
    assert_eq!(w.update(&id, &resize, t0).unwrap_err().status, 409);
    let t1 = t0 + s(2.0);
    let (ro, i) = w.update(&id, &resize, t1).unwrap();
    assert!(!ro);
    assert_eq!(i.status, InstanceStatus::Updating);
    assert_eq!(i.memory.as_deref(), Some("8GB"));
    assert_eq!(
        w.get(&id, t1 + s(1.0)).unwrap().status,
        InstanceStatus::Running
    );
}

#[test]
fn delete_then_gone() {
    let mut w = world();
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, true).unwrap().id;
    assert_eq!(
        w.delete(&id, t0).unwrap().status,
        InstanceStatus::Destroying
    );
    assert_eq!(w.get(&id, t0).unwrap().status, InstanceStatus::Destroying);
    assert_eq!(
        w.delete(&id, t0).unwrap_err().reason(),
        Some("db-not-found")
    );
    let t1 = t0 + s(1.0);
    assert_eq!(w.get(&id, t1).unwrap_err().reason(), Some("db-not-found"));
    assert_eq!(w.delete(&id, t1).unwrap_err().status, 404);
    // The password stays readable for tests after deletion.
    assert!(w.issued_password(&id).is_some());
}

#[test]
fn settle_grace_keeps_409_after_running() {
    let mut w = world();
    w.timings.settle_grace = 5.0;
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, false).unwrap().id;
    let t1 = t0 + s(3.0);
    assert_eq!(w.get(&id, t1).unwrap().status, InstanceStatus::Running);
    assert_eq!(w.pause(&id, t1).unwrap_err().status, 409);
    assert!(w.pause(&id, t0 + s(8.0)).is_ok());
}

#[test]
fn free_tier_is_limited() {
    let mut w = world();
    let t0 = Instant::now();
    let mut free = spec("free-db");
    free.memory = "1GB".into();
    assert!(w.create(free.clone(), t0, false).is_ok());
    assert_eq!(w.create(free, t0, false).unwrap_err().status, 405);
}

#[test]
fn upgrade_and_snapshots() {
    let mut w = world();
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, true).unwrap().id;
    let sid = w.take_snapshot(&id, t0).unwrap();
    assert_eq!(
        w.snapshot(&id, &sid, t0).unwrap().status.as_deref(),
        Some("Pending")
    );
    assert_eq!(w.restore(&id, &sid, t0).unwrap_err().status, 409);
    let t1 = t0 + s(1.0);
    assert_eq!(
        w.snapshots(&id, None, t1).unwrap()[0].status.as_deref(),
        Some("Completed")
    );
    assert_eq!(
        w.restore(&id, &sid, t1).unwrap().status,
        InstanceStatus::Restoring
    );
    let t2 = t1 + s(1.0);
    let up = UpgradeSpec {
        instance_type: "business-critical".into(),
        memory: "4GB".into(),
        storage: "8GB".into(),
    };
    let i = w.upgrade(&id, &up, t2).unwrap();
    assert_eq!(i.instance_type.as_deref(), Some("business-critical"));
    assert_eq!(
        w.snapshot(&id, "nope", t2).unwrap_err().reason(),
        Some("snapshot-not-found")
    );
}

#[test]
fn timings_are_validated_and_never_overflow() {
    assert!(Timings::default().validate().is_ok());
    for bad in [-1.0, 86_400.5, 1e19, 1e308, f64::NAN, f64::INFINITY] {
        let t = Timings {
            pause: bad,
            ..Default::default()
        };
        assert_eq!(
            t.validate().unwrap_err().field_name(),
            Some("pause"),
            "{bad}"
        );
    }
    let edge = Timings {
        settle_grace: MAX_TIMING_SECONDS,
        create: 0.0,
        ..Default::default()
    };
    assert!(edge.validate().is_ok());
    assert_eq!(secs(f64::NAN), Duration::ZERO);
    assert_eq!(secs(-5.0), Duration::ZERO);
    assert_eq!(secs(1e308), Duration::from_secs(86_400));
    // Values that slip past validation (in-process) still cannot panic.
    let mut w = world();
    w.timings = Timings {
        create: 1e19,
        pause: f64::INFINITY,
        settle_grace: 1e19,
        ..Default::default()
    };
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, true).unwrap().id;
    assert_eq!(w.pause(&id, t0).unwrap().status, InstanceStatus::Pausing);
    let far = t0 + s(86_400.0);
    assert_eq!(w.get(&id, far).unwrap().status, InstanceStatus::Paused);
    assert!(w.get(&id, far).unwrap().is_busy(far));
    let c = w.create(spec("professional-db"), t0, false).unwrap();
    assert_eq!(w.get(&c.id, t0).unwrap().status, InstanceStatus::Creating);
    assert_eq!(deadline(t0, Duration::MAX), t0);
}

#[test]
fn console_changes_apply_at_once() {
    let mut w = world();
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, false).unwrap().id;
    let c = ConsoleUpdate {
        paused: Some(true),
        memory: Some("2GB".into()),
        ..Default::default()
    };
    let i = w.console_update(&id, &c, t0).unwrap();
    assert_eq!(i.status, InstanceStatus::Paused);
    assert_eq!(i.memory.as_deref(), Some("2GB"));
    assert!(w.console_delete(&id, t0));
    assert!(w.get(&id, t0).is_err());
}

#[test]
fn an_instance_records_its_key_and_holds_it_until_gone() {
    let mut w = world();
    w.key_ready_seconds = Some(5.0);
    let t0 = Instant::now();
    let key = w.create_key(
        super::KeySpec {
            name: "k".into(),
            tenant_id: "t".into(),
            cloud_provider: "gcp".into(),
            region: "europe-west1".into(),
            instance_type: "enterprise-db".into(),
            key_id: "projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k".into(),
        },
        t0,
    );
    assert_eq!(key.status, "pending");
    let with_key = || CreateSpec {
        customer_managed_key_id: Some(key.id.clone()),
        ..spec("enterprise-db")
    };
    let e = w.create(with_key(), t0, false).unwrap_err();
    assert_eq!(e.reason(), Some("encryption-key-not-ready"));
    let t1 = t0 + s(5.0);
    let created = w.create(with_key(), t1, false).unwrap();
    let shown = w.get(&created.id, t1).unwrap().to_wire();
    assert_eq!(
        shown.customer_managed_key_id.as_deref(),
        Some(key.id.as_str())
    );
    let e = w.delete_key(&key.id, t1).unwrap_err();
    assert_eq!(e.reason(), Some("encryption-key-is-active"));
    // Still held while destroying; free once the instance is gone.
    let t2 = t1 + s(2.0);
    w.delete(&created.id, t2).unwrap();
    assert_eq!(w.delete_key(&key.id, t2).unwrap_err().status, 400);
    w.delete_key(&key.id, t2 + s(1.0)).unwrap();
    assert_eq!(w.delete_key(&key.id, t2 + s(1.0)).unwrap_err().status, 404);
}

#[test]
fn the_list_shows_a_new_instance_after_the_list_delay() {
    let mut w = world();
    w.list_delay_seconds = 3.0;
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, false).unwrap().id;
    // The instance itself is there at once; the list lags.
    assert!(w.get(&id, t0).is_ok());
    for (t, listed) in [(0.0, false), (2.9, false), (3.0, true), (10.0, true)] {
        let ids: Vec<String> = w
            .list(Some("t"), t0 + s(t))
            .iter()
            .map(|i| i.id.clone())
            .collect();
        assert_eq!(ids.contains(&id), listed, "at {t}s");
    }
    w.list_delay_seconds = 0.0;
    let at_once = w.create(spec("professional-db"), t0, false).unwrap().id;
    assert_eq!(w.list(None, t0).len(), 1);
    assert_eq!(w.list(None, t0)[0].id, at_once);
}

#[test]
fn metrics_come_from_running_instances_of_metered_types() {
    let mut w = world();
    let t0 = Instant::now();
    let vdc = w.create(spec("enterprise-db"), t0, false).unwrap().id;
    let bc = w.create(spec("business-critical"), t0, false).unwrap().id;
    let pro = w.create(spec("professional-db"), t0, false).unwrap().id;
    assert!(
        w.metrics_samples("t", None, t0).is_empty(),
        "still creating"
    );
    let t1 = t0 + s(2.0);
    let ids: Vec<String> = w
        .metrics_samples("t", None, t1)
        .into_iter()
        .map(|x| x.instance_id)
        .collect();
    assert!(
        ids.contains(&vdc) && ids.contains(&bc) && !ids.contains(&pro),
        "{ids:?}"
    );
    assert_eq!(w.metrics_samples("t", Some(&bc), t1).len(), 1);
    assert!(w.metrics_samples("other", None, t1).is_empty());
    let url = w.get(&vdc, t1).unwrap().to_wire().metrics_integration_url;
    assert_eq!(
        url,
        Some(format!(
            "https://customer-metrics-api.neo4j.io/api/v1/t/{vdc}/metrics"
        ))
    );
    assert_eq!(
        w.get(&pro, t1).unwrap().to_wire().metrics_integration_url,
        None
    );
}

#[test]
fn a_session_attaches_to_a_running_instance_or_names_its_place() {
    use crate::simulator::sessions::SessionRequest;
    let mut w = world();
    let t0 = Instant::now();
    let id = w.create(spec("professional-db"), t0, false).unwrap().id;
    let req = |instance: Option<&str>,
               tenant: Option<&str>,
               provider: Option<&str>,
               region: Option<&str>| {
        SessionRequest {
            name: "s".into(),
            memory: "8GB".into(),
            instance_id: instance.map(str::to_string),
            tenant_id: tenant.map(str::to_string),
            cloud_provider: provider.map(str::to_string),
            region: region.map(str::to_string),
            ..Default::default()
        }
    };
    let t1 = t0 + s(2.0);
    // (request, when, status, field)
    let cases: Vec<(SessionRequest, Instant, u16, Option<&str>)> = vec![
        (req(Some(&id), None, None, None), t0, 400, None),
        (req(Some("deadbeef"), None, None, None), t1, 404, None),
        (
            req(Some(&id), Some("t2"), None, None),
            t1,
            400,
            Some("tenant_id"),
        ),
        (
            req(Some(&id), None, Some("aws"), None),
            t1,
            400,
            Some("cloud_provider"),
        ),
        (
            req(None, None, Some("gcp"), Some("europe-west1")),
            t1,
            400,
            Some("tenant_id"),
        ),
        (
            req(None, Some("t"), None, Some("europe-west1")),
            t1,
            400,
            Some("cloud_provider"),
        ),
        (
            req(None, Some("t"), Some("gcp"), None),
            t1,
            400,
            Some("region"),
        ),
        (
            req(None, Some("nope"), Some("gcp"), Some("europe-west1")),
            t1,
            404,
            None,
        ),
        (
            req(None, Some("t"), Some("gcp"), Some("us-east-1")),
            t1,
            400,
            Some("region"),
        ),
    ];
    for (r, at, status, field) in cases {
        let e = w.place_session(r.clone(), at).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.field_name()),
            (status, field),
            "{r:?}"
        );
    }
    let attached = w
        .place_session(req(Some(&id), Some("t"), None, None), t1)
        .unwrap();
    assert_eq!(
        (
            attached.tenant_id.as_str(),
            attached.cloud_provider.as_str(),
            attached.region.as_str()
        ),
        ("t", "gcp", "europe-west1")
    );
    let (created, view) = w
        .get_or_create_session(
            req(None, Some("t"), Some("aws"), Some("us-east-1")),
            "c",
            t1,
        )
        .unwrap();
    assert!(created);
    assert_eq!(
        (view.status.as_str(), view.user_id.as_str()),
        ("Creating", "c")
    );
}

//! Graph Analytics sessions: bodies, get-or-create, status, expiry.
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;

#[test]
fn ttls_read_as_the_examples_write_them() {
    let cases = [
        ("30m", Some(1800)),
        ("1h", Some(3600)),
        ("20m0s", Some(1200)),
        ("1h30m", Some(5400)),
        ("45s", Some(45)),
        ("8m", Some(480)),
        ("", None),
        ("30", None),
        ("m", None),
        ("1d", None),
        ("-5m", None),
        ("1.5h", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_ttl(text).map(|d| d.as_secs()), want, "{text:?}");
    }
}

fn body() -> Value {
    json!({"name": "people", "memory": "8GB", "tenant_id": "t",
        "cloud_provider": "gcp", "region": "europe-west1"})
}

fn parse(v: Value) -> Result<SessionRequest, ApiError> {
    parse_session_request(v.as_object().unwrap())
}

#[test]
fn bodies_are_checked() {
    let with = |k: &str, v: Value| {
        let mut b = body();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    // (body, field refused)
    let cases = [
        (with("name", Value::Null), "name"),
        (with("name", json!("")), "name"),
        (with("memory", Value::Null), "memory"),
        (with("memory", json!("3GB")), "memory"),
        (with("ttl", json!("forever")), "ttl"),
        (with("ttl", json!("0s")), "ttl"),
        (with("ttl", json!("169h")), "ttl"),
        (with("ttl", json!(30)), "ttl"),
        (with("cloud_provider", json!("ibm")), "cloud_provider"),
    ];
    for (b, field) in cases {
        assert_eq!(
            parse(b.clone()).unwrap_err().field_name(),
            Some(field),
            "{b}"
        );
    }
    let ok = parse(with("ttl", json!("30m"))).unwrap();
    assert_eq!(ok.ttl, Some(Duration::from_secs(1800)));
    assert_eq!(parse(body()).unwrap().ttl, None);
}

fn placed(memory: &str, ttl: Option<u64>) -> Placed {
    Placed {
        request: SessionRequest {
            name: "people".into(),
            memory: memory.into(),
            ttl: ttl.map(Duration::from_secs),
            ..Default::default()
        },
        tenant_id: "t".into(),
        cloud_provider: "gcp".into(),
        region: "europe-west1".into(),
    }
}

const CREATE: Duration = Duration::from_secs(2);

#[test]
fn get_or_create_by_name_and_parameters() {
    let t0 = Instant::now();
    let mut s = Sessions::default();
    let (created, first) = s
        .get_or_create(placed("8GB", None), "u", t0, CREATE)
        .unwrap();
    assert!(created);
    assert_eq!(first.status, "Creating");
    assert!(
        first.id.starts_with("s-") && first.id.len() == 17,
        "{}",
        first.id
    );
    assert_eq!(first.ttl, 3600);
    // The same name and parameters: the same session, not a new one.
    let (created, again) = s
        .get_or_create(placed("8GB", None), "u", t0, CREATE)
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    let (created, _) = s
        .get_or_create(placed("8GB", Some(3600)), "u", t0, CREATE)
        .unwrap();
    assert!(!created, "the default ttl named is the same");
    // Other parameters: 409 in the documented words.
    let e = s
        .get_or_create(placed("4GB", None), "u", t0, CREATE)
        .unwrap_err();
    assert_eq!((e.status.as_u16(), e.reason()), (409, Some("")));
    let message = format!("{e:?}");
    assert!(
        message.contains("session `people` already exists for project `t` with different parameters: Memory (is: 8GB, requested: 4GB)"),
        "{message}"
    );
    let e = s
        .get_or_create(placed("8GB", Some(60)), "u", t0, CREATE)
        .unwrap_err();
    assert!(format!("{e:?}").contains("TTL (is: 3600s, requested: 60s)"));
    // Another project may use the name.
    let mut elsewhere = placed("4GB", None);
    elsewhere.tenant_id = "t2".into();
    assert!(s.get_or_create(elsewhere, "u", t0, CREATE).unwrap().0);
    assert_eq!(s.list(Some("t"), None, t0).len(), 1);
    assert_eq!(s.list(None, None, t0).len(), 2);
}

#[test]
fn ready_after_the_create_time_expired_after_idle_ttl() {
    let t0 = Instant::now();
    let mut s = Sessions::default();
    let id = s
        .get_or_create(placed("8GB", Some(60)), "u", t0, CREATE)
        .unwrap()
        .1
        .id;
    let at =
        |s: &mut Sessions, secs: u64| s.get(&id, t0 + Duration::from_secs(secs)).unwrap().status;
    // (seconds after creation, status)
    for (t, want) in [
        (0, "Creating"),
        (1, "Creating"),
        (2, "Ready"),
        (61, "Ready"),
        (62, "Expired"),
    ] {
        assert_eq!(at(&mut s, t), want, "at {t}s");
    }
    // Use restarts the idle clock.
    let id2 = s
        .get_or_create(
            placed("8GB", Some(60)),
            "u",
            t0 + Duration::from_secs(100),
            CREATE,
        )
        .unwrap()
        .1
        .id;
    assert_ne!(id2, id, "an expired session is not reused");
    let t1 = t0 + Duration::from_secs(150);
    s.get_or_create(placed("8GB", Some(60)), "u", t1, CREATE)
        .unwrap();
    let later = s.get(&id2, t1 + Duration::from_secs(59)).unwrap();
    assert_eq!(later.status, "Ready");
    // The hook expires it at once; then the name makes a new one.
    assert_eq!(s.expire(&id2, t1).unwrap().status, "Expired");
    assert!(
        s.get_or_create(placed("8GB", Some(60)), "u", t1, CREATE)
            .unwrap()
            .0
    );
    assert_eq!(s.expire("nope", t1).unwrap_err().status, 404);
}

#[test]
fn sessions_show_every_required_field_and_go_at_once() {
    let t0 = Instant::now();
    let mut s = Sessions::default();
    let mut attached = placed("4GB", None);
    attached.request.instance_id = Some("8f769515".into());
    let view = s.get_or_create(attached, "client", t0, CREATE).unwrap().1;
    assert!(view.id.starts_with("8f769515-"), "{}", view.id);
    let v = serde_json::to_value(&view).unwrap();
    for field in [
        "id",
        "name",
        "memory",
        "status",
        "host",
        "tenant_id",
        "user_id",
    ] {
        assert!(v[field].is_string(), "{field} in {v}");
    }
    assert!(v["ttl"].is_u64());
    assert!(v.get("database_uuid").is_none(), "absent, not null: {v}");
    assert_eq!(s.list(None, Some("8f769515"), t0).len(), 1);
    assert!(s.list(None, Some("other"), t0).is_empty());
    s.delete(&view.id).unwrap();
    let e = s.get(&view.id, t0).unwrap_err();
    assert_eq!(e.status, 404);
    assert!(format!("{e:?}").contains(&format!("session with id `{}` not found", view.id)));
    assert_eq!(s.delete(&view.id).unwrap_err().status, 404);
}

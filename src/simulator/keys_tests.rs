//! Customer managed keys: validation, readiness, use by a create, deletion.
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;
use crate::simulator::catalogue::default_catalogue;

const TENANT: &str = "t";

fn tenants() -> Vec<TenantSummary> {
    vec![TenantSummary {
        id: TENANT.into(),
        name: "T".into(),
    }]
}

fn body() -> Value {
    json!({
        "key_id": "arn:aws:kms:us-east-1:123456789:key/abc",
        "region": "us-east-1",
        "name": "Production Key",
        "instance_type": "enterprise-db",
        "tenant_id": TENANT,
        "cloud_provider": "aws",
    })
}

fn parse(v: Value) -> Result<KeySpec, ApiError> {
    parse_key_create(v.as_object().unwrap(), &tenants(), &default_catalogue())
}

fn with(field: &str, value: Value) -> Value {
    let mut b = body();
    if value.is_null() {
        b.as_object_mut().unwrap().remove(field);
    } else {
        b[field] = value;
    }
    b
}

#[test]
fn a_create_body_is_checked_field_by_field() {
    // (body, status, reason, field)
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            with("key_id", Value::Null),
            400,
            "invalid-field",
            Some("key_id"),
        ),
        (
            with("region", Value::Null),
            400,
            "invalid-field",
            Some("region"),
        ),
        (
            with("name", Value::Null),
            400,
            "invalid-field",
            Some("name"),
        ),
        (
            with("instance_type", Value::Null),
            400,
            "invalid-field",
            Some("instance_type"),
        ),
        (
            with("tenant_id", Value::Null),
            400,
            "invalid-field",
            Some("tenant_id"),
        ),
        (
            with("cloud_provider", Value::Null),
            400,
            "invalid-field",
            Some("cloud_provider"),
        ),
        (
            with("key_id", json!(" ")),
            400,
            "invalid-field",
            Some("key_id"),
        ),
        (
            with("key_id", json!(7)),
            400,
            "invalid-field",
            Some("key_id"),
        ),
        (with("name", json!("")), 400, "invalid-field", Some("name")),
        (
            with("name", json!("x".repeat(31))),
            400,
            "invalid-field",
            Some("name"),
        ),
        (
            with("name", json!(" lead")),
            400,
            "invalid-field",
            Some("name"),
        ),
        (
            with("cloud_provider", json!("AWS")),
            400,
            "invalid-field",
            Some("cloud_provider"),
        ),
        (
            with("instance_type", json!("professional-db")),
            400,
            "invalid-field",
            Some("instance_type"),
        ),
        (
            with("tenant_id", json!("nope")),
            404,
            "tenant-not-found",
            None,
        ),
        (
            with("region", json!("europe-west1")),
            400,
            "invalid-field",
            Some("region"),
        ),
    ];
    for (b, status, reason, field) in cases {
        let e = parse(b.clone()).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.reason(), e.field_name()),
            (status, Some(reason), field),
            "{b}"
        );
    }
    let ok = parse(with("name", json!("x".repeat(30)))).unwrap();
    assert_eq!(ok.key_id, "arn:aws:kms:us-east-1:123456789:key/abc");
    assert_eq!(ok.instance_type, "enterprise-db");
}

fn spec() -> KeySpec {
    parse(body()).unwrap()
}

fn at<'a>(tenant: &'a str, provider: &'a str, region: &'a str, ty: &'a str) -> KeyUse<'a> {
    KeyUse {
        tenant_id: tenant,
        cloud_provider: provider,
        region,
        instance_type: ty,
    }
}

#[test]
fn a_key_is_pending_until_its_time_or_its_grant() {
    let t0 = Instant::now();
    let mut keys = Keys::default();
    let timed = keys.create(
        spec(),
        "2026-01-01T00:00:00Z".into(),
        t0,
        Some(Duration::from_secs(10)),
    );
    let never = keys.create(spec(), "2026-01-01T00:00:00Z".into(), t0, None);
    // Not idempotent: the same body made two keys.
    assert_ne!(timed.id, never.id);
    assert_eq!(keys.summaries(Some(TENANT)).len(), 2);
    let status = |keys: &Keys, id: &str, t: Instant| keys.get(id, t).unwrap().status;
    assert_eq!(status(&keys, &timed.id, t0), "pending");
    assert_eq!(
        status(&keys, &timed.id, t0 + Duration::from_secs(9)),
        "pending"
    );
    assert_eq!(
        status(&keys, &timed.id, t0 + Duration::from_secs(10)),
        "ready"
    );
    let much_later = t0 + Duration::from_secs(86_400);
    assert_eq!(status(&keys, &never.id, much_later), "pending");
    assert_eq!(keys.grant(&never.id, t0).unwrap().status, "ready");
    assert_eq!(status(&keys, &never.id, t0), "ready");
    assert_eq!(keys.grant("nope", t0).unwrap_err().status, 404);
}

#[test]
fn the_whole_key_is_shown() {
    let t0 = Instant::now();
    let mut keys = Keys::default();
    let k = keys.create(spec(), "2026-01-01T00:00:00Z".into(), t0, None);
    let v = serde_json::to_value(keys.get(&k.id, t0).unwrap()).unwrap();
    for field in [
        "id",
        "name",
        "created",
        "cloud_provider",
        "key_id",
        "region",
        "type",
        "tenant_id",
        "status",
        "instance_type",
    ] {
        assert!(v[field].is_string(), "{field} in {v}");
    }
    assert_eq!(v["status"], "pending");
    assert_eq!(v["created"], "2026-01-01T00:00:00Z");
    let e = keys.get("nope", t0).unwrap_err();
    assert_eq!(
        (e.status.as_u16(), e.reason()),
        (404, Some("encryption-key-not-found"))
    );
}

#[test]
fn a_create_may_use_only_a_ready_key_of_its_tenant_and_placement() {
    let t0 = Instant::now();
    let mut keys = Keys::default();
    let ready = keys.create(spec(), "c".into(), t0, Some(Duration::ZERO)).id;
    let pending = keys.create(spec(), "c".into(), t0, None).id;
    let fits = at(TENANT, "aws", "us-east-1", "enterprise-db");
    // (key, where, reason refused with)
    let cases: Vec<(&str, KeyUse<'_>, Option<&str>)> = vec![
        (&ready, fits, None),
        ("nope", fits, Some("encryption-key-not-found")),
        (
            &ready,
            at("other", "aws", "us-east-1", "enterprise-db"),
            Some("encryption-key-not-found"),
        ),
        (&pending, fits, Some("encryption-key-not-ready")),
        (
            &ready,
            at(TENANT, "gcp", "us-east-1", "enterprise-db"),
            Some("encryption-key-mismatch"),
        ),
        (
            &ready,
            at(TENANT, "aws", "eu-west-1", "enterprise-db"),
            Some("encryption-key-mismatch"),
        ),
        (
            &ready,
            at(TENANT, "aws", "us-east-1", "enterprise-ds"),
            Some("encryption-key-mismatch"),
        ),
    ];
    for (key, place, want) in cases {
        let got = keys.check_use(key, place, t0);
        match want {
            None => assert!(got.is_ok(), "{key} {place:?}: {got:?}"),
            Some(reason) => {
                let e = got.unwrap_err();
                assert_eq!(e.status, 400, "{key} {place:?}");
                assert_eq!(e.reason(), Some(reason), "{key} {place:?}");
                assert_eq!(e.field_name(), Some("customer_managed_key_id"));
            }
        }
    }
    // The words an operator shows when the key is unknown.
    let e = keys.check_use("nope", fits, t0).unwrap_err();
    assert!(format!("{e:?}").contains("Customer managed key nope not found"));
}

#[test]
fn a_key_in_use_is_not_deleted() {
    let t0 = Instant::now();
    let mut keys = Keys::default();
    let id = keys.create(spec(), "c".into(), t0, None).id;
    let e = keys.delete(&id, true).unwrap_err();
    assert_eq!(
        (e.status.as_u16(), e.reason()),
        (400, Some("encryption-key-is-active"))
    );
    assert!(keys.get(&id, t0).is_ok());
    keys.delete(&id, false).unwrap();
    assert_eq!(keys.delete(&id, false).unwrap_err().status, 404);
    assert!(keys.summaries(None).is_empty());
}

#[test]
fn keys_added_out_of_band_keep_their_status() {
    let t0 = Instant::now();
    let mut keys = Keys::default();
    let key = |id: &str, status: &str| CustomerManagedKey {
        id: id.into(),
        name: "k".into(),
        tenant_id: TENANT.into(),
        cloud_provider: "gcp".into(),
        region: "europe-west1".into(),
        instance_type: "enterprise-db".into(),
        status: status.into(),
    };
    for (id, status) in [("a", "ready"), ("b", "pending"), ("c", "error")] {
        let v = keys.add(key(id, status), None, "c".into(), t0);
        assert_eq!(v.status, status);
        assert_eq!(v.key_id, format!("simulated/{id}"));
    }
    let later = t0 + Duration::from_secs(86_400);
    assert_eq!(keys.get("b", later).unwrap().status, "pending");
    assert_eq!(keys.grant("c", t0).unwrap().status, "ready");
    // Same id again: replaced, not doubled.
    keys.add(key("a", "pending"), Some("kid".into()), "c".into(), t0);
    assert_eq!(keys.summaries(None).len(), 3);
    assert_eq!(keys.get("a", t0).unwrap().key_id, "kid");
    // Summaries per tenant.
    assert!(keys.summaries(Some("other")).is_empty());
    let parsed: CustomerManagedKey = serde_json::from_value(
        json!({"id": "x", "name": "n", "tenant_id": "t", "instance_type": "enterprise-ds"}),
    )
    .unwrap();
    assert_eq!(
        (parsed.instance_type.as_str(), parsed.status.as_str()),
        ("enterprise-ds", "ready")
    );
}

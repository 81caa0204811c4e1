//! The catalogue and the validation of request bodies.
use super::*;
use serde_json::json;

fn tenants() -> Vec<TenantSummary> {
    vec![TenantSummary {
        id: "t1".into(),
        name: "T".into(),
    }]
}

fn body() -> Map<String, Value> {
    match json!({"version":"5","region":"europe-west1","memory":"8GB","name":"x",
                 "type":"enterprise-db","tenant_id":"t1","cloud_provider":"gcp"})
    {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn err_field(obj: Map<String, Value>) -> Option<String> {
    parse_create(&obj, &tenants(), &default_catalogue())
        .err()
        .and_then(|e| e.field_name().map(str::to_string))
}

#[test]
fn catalogue_is_deterministic_and_realistic() {
    let a = default_catalogue();
    assert_eq!(a, default_catalogue());
    let free: Vec<_> = a.iter().filter(|c| c.instance_type == "free-db").collect();
    assert_eq!(free.len(), 1);
    assert_eq!(free[0].region, "europe-west1");
    assert_eq!(free[0].memory, "1GB");
    assert!(a.iter().any(|c| c.region_name == "Belgium (europe-west1)"));
    assert!(
        !a.iter()
            .any(|c| c.instance_type == "professional-db" && c.memory == "128GB")
    );
    assert!(
        a.iter()
            .any(|c| c.instance_type == "enterprise-db" && c.memory == "512GB")
    );
}

#[test]
fn valid_create_gets_default_storage() {
    let s = parse_create(&body(), &tenants(), &default_catalogue()).unwrap();
    assert_eq!(s.storage, "16GB");
    let mut b = body();
    b.insert("storage".into(), json!("32GB"));
    let s = parse_create(&b, &tenants(), &default_catalogue()).unwrap();
    assert_eq!(s.storage, "32GB");
}

#[test]
fn create_errors_name_the_field() {
    let mut b = body();
    b.remove("memory");
    assert_eq!(err_field(b).as_deref(), Some("memory"));
    let mut b = body();
    b.insert("name".into(), json!("a".repeat(31)));
    assert_eq!(err_field(b).as_deref(), Some("name"));
    let mut b = body();
    b.insert("name".into(), json!(" x"));
    assert_eq!(err_field(b).as_deref(), Some("name"));
    for bad in [
        "a\0b",
        "\0",
        "x\ny",
        "tab\there",
        "bell\u{7}",
        "del\u{7f}",
        "c1\u{85}x",
    ] {
        let mut b = body();
        b.insert("name".into(), json!(bad));
        assert_eq!(err_field(b).as_deref(), Some("name"), "{bad:?}");
    }
    // Any other UTF-8 is fine.
    let mut b = body();
    b.insert("name".into(), json!("Zürich ☃ 東京-db_1"));
    assert_eq!(err_field(b), None);
    let mut b = body();
    b.insert("type".into(), json!("huge-db"));
    assert_eq!(err_field(b).as_deref(), Some("type"));
    let mut b = body();
    b.insert("cloud_provider".into(), json!("ibm"));
    assert_eq!(err_field(b).as_deref(), Some("cloud_provider"));
    let mut b = body();
    b.insert("region".into(), json!("mars-1"));
    assert_eq!(err_field(b).as_deref(), Some("region"));
    let mut b = body();
    b.insert("type".into(), json!("free-db"));
    assert_eq!(err_field(b).as_deref(), Some("memory"));
    let mut b = body();
    b.insert("storage".into(), json!("3GB"));
    assert_eq!(err_field(b).as_deref(), Some("storage"));
    let mut b = body();
    b.insert("memory".into(), json!(8));
    assert_eq!(err_field(b).as_deref(), Some("memory"));
    let mut b = body();
    b.insert("vector_optimized".into(), json!("yes"));
    assert_eq!(err_field(b).as_deref(), Some("vector_optimized"));
}

#[test]
fn unknown_tenant_is_404() {
    let mut b = body();
    b.insert("tenant_id".into(), json!("nope"));
    let e = parse_create(&b, &tenants(), &default_catalogue()).unwrap_err();
    assert_eq!(e.status, 404);
    assert_eq!(e.reason(), Some("tenant-not-found"));
}

#[test]
fn malformed_bodies() {
    assert!(parse_object(b"{", false).is_err());
    assert!(parse_object(b"[]", false).is_err());
    assert!(parse_object(b"", false).is_err());
    assert!(parse_object(b"", true).unwrap().is_empty());
}

fn placement() -> Placement {
    Placement {
        cloud_provider: "gcp".into(),
        region: "europe-west1".into(),
        instance_type: "professional-db".into(),
        version: "5".into(),
        memory: "4GB".into(),
        storage: "8GB".into(),
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

#[test]
fn update_rules() {
    let cat = default_catalogue();
    let s = parse_update(&obj(json!({"name":"n"})), &placement(), &cat).unwrap();
    assert!(s.is_rename_only());
    let s = parse_update(&obj(json!({"memory":"16GB"})), &placement(), &cat).unwrap();
    assert!(!s.is_rename_only());
    assert_eq!(s.storage.as_deref(), Some("32GB"));
    let e = parse_update(&obj(json!({"memory":"128GB"})), &placement(), &cat).unwrap_err();
    assert_eq!(e.field_name(), Some("memory"));
    let e = parse_update(&obj(json!({"storage":"64GB"})), &placement(), &cat).unwrap_err();
    assert_eq!(e.field_name(), Some("storage"));
    assert!(parse_update(&obj(json!({})), &placement(), &cat).is_err());
    let e = parse_update(&obj(json!({"name":"a\0b"})), &placement(), &cat).unwrap_err();
    assert_eq!(e.field_name(), Some("name"));
}

#[test]
fn upgrade_rules() {
    let cat = default_catalogue();
    let u = parse_upgrade(
        &obj(json!({"type":"business-critical"})),
        &placement(),
        &cat,
    )
    .unwrap();
    assert_eq!(u.instance_type, "business-critical");
    assert_eq!(u.memory, "4GB");
    let e = parse_upgrade(&obj(json!({"type":"enterprise-db"})), &placement(), &cat).unwrap_err();
    assert_eq!(e.field_name(), Some("type"));
    let mut p = placement();
    p.instance_type = "enterprise-db".into();
    let e = parse_upgrade(&obj(json!({})), &p, &cat).unwrap_err();
    assert_eq!(e.status, 400);
}

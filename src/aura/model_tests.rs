//! The wire model read tolerantly.
use super::*;

#[test]
fn unknown_status_is_kept_and_transient() {
    let s: InstanceStatus = serde_json::from_str("\"resizing\"").unwrap();
    assert_eq!(s, InstanceStatus::Other("resizing".into()));
    assert!(!s.is_settled());
    assert_eq!(serde_json::to_string(&s).unwrap(), "\"resizing\"");
}

#[test]
fn loading_failed_keeps_its_space() {
    let s: InstanceStatus = serde_json::from_str("\"loading failed\"").unwrap();
    assert_eq!(s, InstanceStatus::LoadingFailed);
    assert_eq!(s.as_str(), "loading failed");
}

#[test]
fn instance_tolerates_unknown_fields() {
    let body = r#"{"data":{"id":"8f769515","name":"x","status":"running","connection_url":"neo4j+s://8f769515.databases.neo4j.io","cloud_provider":"gcp","tenant_id":"t","memory":"8GB","storage":"16GB","region":"europe-west1","type":"enterprise-db","created_at":"2026-01-01T00:00:00Z","brand_new_field":{"x":1}}}"#;
    let i: Data<Instance> = serde_json::from_str(body).unwrap();
    assert_eq!(i.data.status, InstanceStatus::Running);
}

#[test]
fn created_instance_debug_hides_the_password() {
    let c: CreatedInstance = serde_json::from_value(serde_json::json!({
        "id": "8f769515", "password": "s3cr3t-pa55", "username": "neo4j"
    }))
    .unwrap();
    assert!(!format!("{c:?}").contains("s3cr3t-pa55"));
}

/// The create answer is read for id and password whatever else it holds.
#[test]
fn create_answer_needs_only_id_and_password() {
    let odd = [
        r#"{"data":{"id":"8f769515","password":"pw","connection_url":null,"username":null,"tenant_id":null,"cloud_provider":null,"region":null,"type":null,"name":null}}"#,
        r#"{"data":{"id":"8f769515","password":"pw"}}"#,
        r#"{"data":{"id":"8f769515","password":"pw","name":7,"created_at":1700000000,"type":["x"],"extra":{"a":1}}}"#,
        r#"{"data":{"id":"8f769515","password":"pw","connection_url":"neo4j+s://8f769515.databases.neo4j.io","username":"neo4j","tenant_id":"t","cloud_provider":"GCP","region":"europe-west1","type":"enterprise-db","name":"x"}}"#,
    ];
    for body in odd {
        let c: Data<CreatedInstance> = serde_json::from_str(body).expect(body);
        assert_eq!(c.data.id, "8f769515", "{body}");
        assert_eq!(c.data.password, "pw", "{body}");
    }
    for unusable in [
        r#"{"data":{"id":"8f769515","password":null}}"#,
        r#"{"data":{"id":null,"password":"pw"}}"#,
        r#"{"data":{"password":"pw"}}"#,
    ] {
        assert!(serde_json::from_str::<Data<CreatedInstance>>(unusable).is_err());
    }
}

#[test]
fn instance_reads_with_fields_missing_null_or_retyped() {
    let bodies = [
        r#"{"data":{"id":"8f769515","status":"running"}}"#,
        r#"{"data":{"id":"8f769515","name":null,"status":"Running","connection_url":null,"cloud_provider":null,"tenant_id":null,"memory":null,"storage":null,"region":null,"type":null,"created_at":null,"secondaries_count":null,"cdc_enrichment_mode":null}}"#,
        r#"{"data":{"id":"8f769515","status":" RUNNING ","memory":8,"secondaries_count":"2","vector_optimized":"true","graph_analytics_plugin":0}}"#,
    ];
    for body in bodies {
        let i: Data<Instance> = serde_json::from_str(body).expect(body);
        assert_eq!(i.data.status, InstanceStatus::Running, "{body}");
        assert_eq!(i.data.created_at, None, "{body}");
        assert_eq!(i.data.storage, None, "{body}");
    }
    let i: Data<Instance> = serde_json::from_str(bodies[2]).unwrap();
    assert_eq!(i.data.memory.as_deref(), Some("8"));
    assert_eq!(i.data.secondaries_count, Some(2));
    assert_eq!(i.data.vector_optimized, Some(true));
    assert_eq!(i.data.graph_analytics_plugin, Some(false));
    let none: Data<Instance> =
        serde_json::from_str(r#"{"data":{"id":"x","status":null}}"#).unwrap();
    assert!(
        !none.data.status.is_settled(),
        "a missing status is transient"
    );
}

#[test]
fn lists_skip_entries_they_cannot_read() {
    let body = r#"{"data":[{"id":"a","name":"x","created_at":"2026-01-01T00:00:00Z"},{"id":null,"name":"y"},{"id":"b","name":null,"tenant_id":5}]}"#;
    let l: Data<Vec<InstanceSummary>> = serde_json::from_str::<Data<serde_json::Value>>(body)
        .map(|d| Data {
            data: lenient::read_list(&d.data).0,
        })
        .unwrap();
    let ids: Vec<&str> = l.data.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(l.data[1].tenant_id.as_deref(), Some("5"));
}

#[test]
fn tenant_keeps_configurations_without_storage() {
    let body = r#"{"data":{"id":"t","name":null,"instance_configurations":[
        {"cloud_provider":"gcp","region":"europe-west1","region_name":"Belgium","type":"enterprise-db","memory":"8GB","version":"5"},
        {"cloud_provider":"gcp","region":null,"type":"enterprise-db","memory":"8GB","storage":"16GB","version":"5"},
        {"cloud_provider":"gcp","region":"us-central1","type":"enterprise-db","memory":"8GB","storage":"16GB","version":5}
    ]}}"#;
    let t: Data<Tenant> = serde_json::from_str(body).unwrap();
    assert_eq!(t.data.instance_configurations.len(), 2);
    assert_eq!(t.data.instance_configurations[0].storage, None);
    assert_eq!(t.data.instance_configurations[1].version, "5");
    assert_eq!(t.data.name, "");
}

#[test]
fn token_answer_needs_only_the_token() {
    for (body, lifetime) in [
        (
            r#"{"access_token":"t","expires_in":3600,"token_type":"Bearer"}"#,
            Some(3600),
        ),
        (r#"{"access_token":"t","expires_in":"3600"}"#, Some(3600)),
        (
            r#"{"access_token":"t","expires_in":3600.0,"token_type":null}"#,
            Some(3600),
        ),
        (r#"{"access_token":"t"}"#, None),
    ] {
        let t: TokenResponse = serde_json::from_str(body).expect(body);
        assert_eq!(t.access_token, "t");
        assert_eq!(t.expires_in, lifetime, "{body}");
    }
    assert!(serde_json::from_str::<TokenResponse>(r#"{"expires_in":3600}"#).is_err());
}

#[test]
fn snapshot_needs_only_its_id() {
    let s: Snapshot =
        serde_json::from_str(r#"{"snapshot_id":"s1","status":"InProgress"}"#).unwrap();
    assert_eq!(s.status.as_deref(), Some("InProgress"));
    assert_eq!(s.instance_id, None);
    let none: Data<SnapshotCreated> = serde_json::from_str(r#"{"data":{}}"#).unwrap();
    assert_eq!(none.data.snapshot_id, None);
}

#[test]
fn error_detail_without_reason_reads() {
    let b: ApiErrorBody =
        serde_json::from_str(r#"{"errors":[{"message":"Tenant not found"}]}"#).unwrap();
    assert_eq!(b.errors[0].reason, None);
    assert_eq!(b.errors[0].message, "Tenant not found");
}

#[test]
fn statuses_compare_without_case() {
    for (wire, want) in [
        ("Running", InstanceStatus::Running),
        ("PAUSED", InstanceStatus::Paused),
        ("Loading Failed", InstanceStatus::LoadingFailed),
        ("creating", InstanceStatus::Creating),
    ] {
        assert_eq!(InstanceStatus::parse(wire), want, "{wire}");
    }
    assert_eq!(
        InstanceStatus::parse("Resizing"),
        InstanceStatus::Other("Resizing".into())
    );
}

#[test]
fn upgrade_sends_only_documented_fields() {
    let body = serde_json::to_value(UpgradeInstanceRequest::default()).unwrap();
    assert_eq!(body, serde_json::json!({}));
    let body = serde_json::to_value(UpgradeInstanceRequest {
        memory: Some("16GB".into()),
        storage: Some("32GB".into()),
    })
    .unwrap();
    assert_eq!(
        body,
        serde_json::json!({"memory": "16GB", "storage": "32GB"})
    );
}

#[test]
fn rename_only_is_detected() {
    let rename = UpdateInstanceRequest {
        name: Some("n".into()),
        ..Default::default()
    };
    assert!(rename.is_rename_only());
    let resize = UpdateInstanceRequest {
        name: Some("n".into()),
        memory: Some("16GB".into()),
        ..Default::default()
    };
    assert!(!resize.is_rename_only());
}

#[test]
fn clone_and_overwrite_bodies_send_only_the_sources_given() {
    let mut req = CreateInstanceRequest {
        version: "5".into(),
        region: "europe-west1".into(),
        memory: "8GB".into(),
        name: "clone".into(),
        instance_type: "enterprise-db".into(),
        tenant_id: "t".into(),
        cloud_provider: "gcp".into(),
        storage: None,
        vector_optimized: None,
        graph_analytics_plugin: None,
        customer_managed_key_id: None,
        source_instance_id: None,
        source_snapshot_id: None,
    };
    let body = serde_json::to_value(&req).unwrap();
    assert!(body.get("source_instance_id").is_none(), "{body}");
    assert!(body.get("source_snapshot_id").is_none(), "{body}");
    req.source_instance_id = Some("0a1b2c3d".into());
    let body = serde_json::to_value(&req).unwrap();
    assert_eq!(body["source_instance_id"], "0a1b2c3d");
    assert!(body.get("source_snapshot_id").is_none(), "{body}");
    req.source_snapshot_id = Some("s1".into());
    let body = serde_json::to_value(&req).unwrap();
    assert_eq!(body["source_snapshot_id"], "s1");

    let o = OverwriteInstanceRequest {
        source_instance_id: "0a1b2c3d".into(),
        source_snapshot_id: None,
    };
    assert_eq!(
        serde_json::to_value(&o).unwrap(),
        serde_json::json!({"source_instance_id": "0a1b2c3d"})
    );
}

#[test]
fn snapshot_exportable_reads_tolerantly() {
    for (field, want) in [
        (r#""exportable":true"#, Some(true)),
        (r#""exportable":false"#, Some(false)),
        (r#""exportable":"False""#, Some(false)),
        (r#""exportable":1"#, Some(true)),
        (r#""exportable":null"#, None),
        (r#""exportable":"maybe""#, None),
        (r#""exportable":{"a":1}"#, None),
        (r#""exportable":[true]"#, None),
        (r#""other":1"#, None),
    ] {
        let body = format!(
            r#"{{"snapshot_id":"s1","status":"Completed","timestamp":"2026-01-01T00:00:00Z",{field}}}"#
        );
        let s: Snapshot = serde_json::from_str(&body).expect(&body);
        assert_eq!(s.exportable, want, "{body}");
        assert_eq!(s.timestamp.as_deref(), Some("2026-01-01T00:00:00Z"));
    }
}

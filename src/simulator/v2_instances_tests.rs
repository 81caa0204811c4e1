//! The v2beta1 create body: tiers and their v1 types, multi-database
//! tiers, graph analytics, and the v1 body it becomes.
use serde_json::json;

use super::super::catalogue::default_catalogue;
use super::*;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// A placement of the default catalogue for the v1 type.
fn offer(v1_type: &str) -> InstanceConfiguration {
    default_catalogue()
        .into_iter()
        .find(|c| c.instance_type == v1_type)
        .unwrap_or_else(|| panic!("a {v1_type} offer"))
}

fn body(tier: &str, v1_type: &str) -> Value {
    let o = offer(v1_type);
    json!({"name": "i", "type": tier, "cloud_provider": o.cloud_provider,
        "region": o.region, "memory": o.memory})
}

#[test]
fn each_tier_creates_its_v1_type() {
    for (tier, v1_type) in V2_TYPES {
        let c = parse_v2_create(&obj(body(tier, v1_type)), "p1", &default_catalogue()).unwrap();
        assert_eq!(c.v1_body["type"], *v1_type, "{tier}");
        assert_eq!(c.v1_body["tenant_id"], "p1");
        assert_eq!(c.v1_body["version"], "5", "the newest offered");
        assert_eq!(
            c.facts,
            InstanceV2 {
                multi_database: false,
                graph_analytics: "unavailable".into()
            }
        );
    }
}

#[test]
fn refusals_name_the_field_or_the_tier_rule() {
    let bc = |extra: Value| {
        let mut b = body("business-critical", "business-critical");
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    // (body, status, reason, field)
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            json!({"name": "i", "type": "professional-db"}),
            400,
            "validation-error",
            Some("type"),
        ),
        (
            json!({"name": "i", "type": "enterprise-db"}),
            400,
            "validation-error",
            Some("type"),
        ),
        (json!({"name": "i"}), 400, "validation-error", Some("type")),
        (
            body("free", "free-db")
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("multi_database".into(), true.into());
                    Value::Object(o)
                })
                .unwrap(),
            400,
            "multi-database-tier-not-supported",
            None,
        ),
        (
            {
                let mut b = body("professional", "professional-db");
                b["multi_database"] = true.into();
                b
            },
            400,
            "multi-database-tier-not-supported",
            None,
        ),
        (
            bc(json!({"multi_database": "yes"})),
            400,
            "validation-error",
            Some("multi_database"),
        ),
        (
            bc(json!({"graph_analytics": "always"})),
            400,
            "validation-error",
            Some("graph_analytics"),
        ),
        (
            bc(json!({"vector_optimized": 1})),
            400,
            "validation-error",
            Some("vector_optimized"),
        ),
    ];
    for (b, status, reason, field) in cases {
        let e = parse_v2_create(&obj(b.clone()), "p1", &default_catalogue()).unwrap_err();
        assert_eq!(
            (
                e.status.as_u16(),
                e.reason.as_str(),
                e.errors.first().map(|(f, _)| f.as_str())
            ),
            (status, reason, field),
            "{b}"
        );
    }
    let e = parse_v2_create(&obj(json!({"type": "x"})), "p1", &default_catalogue()).unwrap_err();
    assert!(
        e.message
            .contains("free, professional, business-critical, virtual-dedicated-cloud"),
        "{}",
        e.message
    );
}

#[test]
fn what_only_v2beta1_keeps_and_what_it_ignores() {
    let mut b = body("virtual-dedicated-cloud", "enterprise-db");
    b["multi_database"] = true.into();
    b["graph_analytics"] = "plugin".into();
    b["vector_optimized"] = true.into();
    b["version"] = "4".into();
    b["unknown"] = "ignored".into();
    let c = parse_v2_create(&obj(b), "p1", &default_catalogue()).unwrap();
    assert_eq!(
        c.facts,
        InstanceV2 {
            multi_database: true,
            graph_analytics: "plugin".into()
        }
    );
    assert_eq!(c.v1_body["graph_analytics_plugin"], true);
    assert_eq!(c.v1_body["vector_optimized"], true);
    assert!(!c.v1_body.contains_key("unknown"));
    assert_ne!(
        c.v1_body["version"], "4",
        "the catalogue's version, not the body's"
    );
    let mut b = body("business-critical", "business-critical");
    b["graph_analytics"] = "serverless".into();
    let c = parse_v2_create(&obj(b), "p1", &default_catalogue()).unwrap();
    assert_eq!(c.v1_body["graph_analytics_plugin"], false);
    assert_eq!(c.facts.graph_analytics, "serverless");
    // A free instance without memory takes the offer's.
    let mut b = body("free", "free-db");
    b.as_object_mut().unwrap().remove("memory");
    let c = parse_v2_create(&obj(b), "p1", &default_catalogue()).unwrap();
    assert_eq!(c.v1_body["memory"], offer("free-db").memory.as_str());
}

#[test]
fn a_v1_refusal_reads_as_a_v2beta1_one() {
    let e = from_v1(ApiError::field("memory", "memory is required"));
    assert_eq!(
        (e.status.as_u16(), e.reason.as_str(), e.errors[0].0.as_str()),
        (400, "validation-error", "memory")
    );
    let e = from_v1(ApiError::api(
        StatusCode::METHOD_NOT_ALLOWED,
        "free-instance-limit-reached",
        "no",
    ));
    assert_eq!(
        (e.status.as_u16(), e.reason.as_str()),
        (405, "free-instance-limit-reached")
    );
}

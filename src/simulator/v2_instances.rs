//! The v2beta1 instance create and GET (V2BETA1-NOTES "Tiers, types,
//! status", items 87 and 90). A create body names a v2beta1 tier (`free`,
//! `professional`, `business-critical`, `virtual-dedicated-cloud`) and no
//! version; it is read into the v1 create body the v1 path validates and
//! commits, so v1 sees the instance. Unknown keys are ignored, as live does.
//! `multi_database` is for business-critical and virtual-dedicated-cloud
//! only. Answers carry the v1 type names and `legacy_status`. Pure.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::databases::InstanceV2;
use super::error::{ApiError, ErrorBody};
use super::state::InstanceRecord;
use super::v2beta1::V2Error;
use crate::aura::model::{CreatedInstance, InstanceConfiguration};

/// (v2beta1 tier, the v1 type it creates).
pub const V2_TYPES: &[(&str, &str)] = &[
    ("free", "free-db"),
    ("professional", "professional-db"),
    ("business-critical", "business-critical"),
    ("virtual-dedicated-cloud", "enterprise-db"),
];

/// The tiers that may be multi-database.
pub const MULTI_DATABASE_TIERS: &[&str] = &["business-critical", "virtual-dedicated-cloud"];

/// A read create body: the v1 body to validate and commit, and what only v2beta1 keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct V2Create {
    pub v1_body: Map<String, Value>,
    pub facts: InstanceV2,
}

fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, V2Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(V2Error::validation(key, format!("{key} must be a boolean"))),
    }
}

/// Reads a `POST P/instances` body for `project`. `version` (the newest)
/// and a free instance's `memory` come from the catalogue's offers for the
/// tier, cloud and region.
pub fn parse_v2_create(
    obj: &Map<String, Value>,
    project: &str,
    catalogue: &[InstanceConfiguration],
) -> Result<V2Create, V2Error> {
    let tiers: Vec<&str> = V2_TYPES.iter().map(|(t, _)| *t).collect();
    let tier = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    let Some((_, v1_type)) = V2_TYPES.iter().find(|(t, _)| *t == tier) else {
        return Err(V2Error::validation(
            "type",
            format!(
                "type must be one of {}, got {}",
                tiers.join(", "),
                obj.get("type").unwrap_or(&Value::Null)
            ),
        ));
    };
    let multi_database = opt_bool(obj, "multi_database")?.unwrap_or(false);
    if multi_database && !MULTI_DATABASE_TIERS.contains(&tier) {
        return Err(V2Error::new(
            StatusCode::BAD_REQUEST,
            "multi-database-tier-not-supported",
            format!(
                "multi_database is only for {}, not {tier}",
                MULTI_DATABASE_TIERS.join(" and ")
            ),
        ));
    }
    let graph_analytics = match obj.get("graph_analytics") {
        None | Some(Value::Null) => "unavailable",
        Some(Value::String(g)) if g == "serverless" || g == "plugin" => g.as_str(),
        Some(_) => {
            return Err(V2Error::validation(
                "graph_analytics",
                "graph_analytics must be serverless or plugin",
            ));
        }
    };
    let vector_optimized = opt_bool(obj, "vector_optimized")?.unwrap_or(false);

    let mut v1 = Map::new();
    for key in ["name", "cloud_provider", "region", "memory"] {
        if let Some(v) = obj.get(key) {
            v1.insert(key.into(), v.clone());
        }
    }
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
    // The newest version offered for the tier, cloud and region.
    let offer = catalogue
        .iter()
        .filter(|c| {
            c.instance_type == *v1_type
                && c.cloud_provider == text("cloud_provider")
                && c.region == text("region")
        })
        .max_by(|a, b| a.version.cmp(&b.version));
    if *v1_type == "free-db"
        && !v1.contains_key("memory")
        && let Some(o) = offer
    {
        v1.insert("memory".into(), o.memory.clone().into());
    }
    let version = offer.map_or("5", |o| o.version.as_str());
    v1.insert("version".into(), version.into());
    v1.insert("type".into(), (*v1_type).into());
    v1.insert("tenant_id".into(), project.into());
    v1.insert("vector_optimized".into(), vector_optimized.into());
    v1.insert(
        "graph_analytics_plugin".into(),
        (graph_analytics == "plugin").into(),
    );
    Ok(V2Create {
        v1_body: v1,
        facts: InstanceV2 {
            multi_database,
            graph_analytics: graph_analytics.into(),
        },
    })
}

/// A v1 refusal of the create in v2beta1's words: a 400 is a
/// `validation-error` naming the field.
pub fn from_v1(e: ApiError) -> V2Error {
    let ErrorBody::Api(d) = e.body else {
        return V2Error::internal();
    };
    if e.status == StatusCode::BAD_REQUEST {
        return V2Error::validation(d.field.as_deref().unwrap_or(""), d.message);
    }
    V2Error::new(e.status, d.reason.as_deref().unwrap_or("error"), d.message)
}

/// `GET I` (and every answer showing one instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceDetails {
    pub id: String,
    pub name: String,
    /// The v1 type name.
    #[serde(rename = "type")]
    pub instance_type: String,
    pub cloud_provider: String,
    pub region: String,
    pub memory: Option<String>,
    pub storage: Option<String>,
    pub multi_database: bool,
    pub graph_analytics: String,
    pub vector_optimized: bool,
    pub legacy_status: String,
}

/// The 202 of a create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateInstanceResponse {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub connection_url: String,
    pub username: String,
    pub password: String,
    pub cloud_provider: String,
    pub region: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub created_at: String,
    pub memory: Option<String>,
    pub storage: Option<String>,
    pub vector_optimized: bool,
    pub multi_database: bool,
    pub default_database_id: Option<String>,
    pub legacy_status: String,
}

/// The instance as v2beta1 shows it; 500 for one made through v1, as live
/// answers (notes items 87, 90).
pub fn details(rec: &InstanceRecord) -> Result<InstanceDetails, V2Error> {
    let Some(v2) = &rec.v2 else {
        return Err(V2Error::internal());
    };
    Ok(InstanceDetails {
        id: rec.id.clone(),
        name: rec.name.clone(),
        instance_type: rec.instance_type.clone(),
        cloud_provider: rec.cloud_provider.clone(),
        region: rec.region.clone(),
        memory: Some(rec.memory.clone()),
        storage: Some(rec.storage.clone()),
        multi_database: v2.multi_database,
        graph_analytics: if rec.graph_analytics_plugin {
            "plugin".into()
        } else {
            v2.graph_analytics.clone()
        },
        vector_optimized: rec.vector_optimized,
        legacy_status: rec.status.as_str().to_string(),
    })
}

pub fn create_response(
    created: &CreatedInstance,
    rec: &InstanceRecord,
    default_database_id: String,
) -> CreateInstanceResponse {
    CreateInstanceResponse {
        id: created.id.clone(),
        name: rec.name.clone(),
        project_id: rec.tenant_id.clone(),
        connection_url: rec.connection_url(),
        username: created.username.clone().unwrap_or_else(|| "neo4j".into()),
        password: created.password.clone(),
        cloud_provider: rec.cloud_provider.clone(),
        region: rec.region.clone(),
        instance_type: rec.instance_type.clone(),
        created_at: rec.created_at.clone(),
        memory: Some(rec.memory.clone()),
        storage: Some(rec.storage.clone()),
        vector_optimized: rec.vector_optimized,
        multi_database: rec.v2.as_ref().is_some_and(|v| v.multi_database),
        default_database_id: Some(default_database_id),
        legacy_status: rec.status.as_str().to_string(),
    }
}

#[cfg(test)]
#[path = "v2_instances_tests.rs"]
mod tests;

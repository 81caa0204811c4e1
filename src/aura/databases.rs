//! Aura API v2beta1 multi-database instances: the create that makes one
//! (only v2beta1 can), and the databases inside it. Everything else about
//! such an instance (pause, resume, resize, snapshots, delete) stays on v1,
//! which sees it as any other (V2BETA1-NOTES 85, 90).
//!
//! v2beta1's create ignores fields it does not know and answers 202 with a
//! different instance than asked for (notes 87), so its body is built here
//! from what it is known to take, and anything else is refused before the
//! call.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::client::AuraClient;
use super::error::{AuraError, AuraErrorKind, Endpoint};
use super::lenient;
use super::model::{CreateInstanceRequest, CreatedInstance};
use super::v2beta1::{read_one, v2_call};
use crate::api::InstanceType;

/// A database of an instance (`GET .../instances/{id}/databases`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Database {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub name: String,
}

/// The body of v2beta1's `POST .../instances` for a multi-database
/// instance, from the v1 request the operator builds: the v2beta1 tier name,
/// no version and no tenant (the path says it). A field v2beta1 would
/// ignore is an error here, naming it.
pub fn multi_database_body(req: &CreateInstanceRequest) -> Result<Value, String> {
    let tier = InstanceType::parse(&req.instance_type)
        .filter(|t| t.offers_multi_database())
        .and_then(InstanceType::v2_tier)
        .ok_or_else(|| {
            format!(
                "type {} cannot hold several databases (business-critical and enterprise-db can)",
                req.instance_type
            )
        })?;
    let unsent: Vec<&str> = [
        ("storage", req.storage.is_some()),
        (
            "customerManagedKeyId",
            req.customer_managed_key_id.is_some(),
        ),
        ("source", req.source_instance_id.is_some()),
        ("version 4", req.version == "4"),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if !unsent.is_empty() {
        return Err(format!(
            "Aura API v2beta1 creates multi-database instances and takes no {}",
            unsent.join(", ")
        ));
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(req.name));
    body.insert("type".into(), json!(tier));
    body.insert("cloud_provider".into(), json!(req.cloud_provider));
    body.insert("region".into(), json!(req.region));
    body.insert("memory".into(), json!(req.memory));
    body.insert("multi_database".into(), json!(true));
    if let Some(v) = req.vector_optimized {
        body.insert("vector_optimized".into(), json!(v));
    }
    if req.graph_analytics_plugin == Some(true) {
        body.insert("graph_analytics".into(), json!("plugin"));
    }
    Ok(Value::Object(body))
}

impl AuraClient {
    /// v2beta1 `POST /organizations/{org}/projects/{tenant}/instances` with
    /// `multi_database: true`. Not idempotent and never retried, as v1's
    /// create: the answer holds the only copy of the password.
    pub async fn create_multi_database_instance(
        &self,
        org: &str,
        req: &CreateInstanceRequest,
    ) -> Result<CreatedInstance, AuraError> {
        let label = format!("create multi-database instance {:?}", req.name);
        let body = multi_database_body(req)
            .map_err(|e| AuraError::other(&label, AuraErrorKind::NeedsHuman, None, e, None))?;
        let path = [
            "organizations",
            org,
            "projects",
            &req.tenant_id,
            "instances",
        ];
        let answer = self
            .send(v2_call(
                "create_multi_database_instance",
                label.clone(),
                Method::POST,
                &path,
                Some(body),
                Endpoint::Create,
            ))
            .await?;
        read_one(&label, &answer, AuraErrorKind::OutcomeUnknown)
    }

    /// `GET .../instances/{id}/databases`.
    pub async fn list_databases(
        &self,
        org: &str,
        tenant: &str,
        instance: &str,
    ) -> Result<Vec<Database>, AuraError> {
        self.list_v2(
            "list_databases",
            format!("list the databases of instance {instance}"),
            &[
                "organizations",
                org,
                "projects",
                tenant,
                "instances",
                instance,
                "databases",
            ],
        )
        .await
    }

    /// `POST .../instances/{id}/databases`: not retried; a lost answer is
    /// settled by listing (a name is unique in its instance).
    pub async fn create_database(
        &self,
        org: &str,
        tenant: &str,
        instance: &str,
        name: &str,
    ) -> Result<Database, AuraError> {
        let label = format!("create database {name:?} in instance {instance}");
        let path = [
            "organizations",
            org,
            "projects",
            tenant,
            "instances",
            instance,
            "databases",
        ];
        let answer = self
            .send(v2_call(
                "create_database",
                label.clone(),
                Method::POST,
                &path,
                Some(json!({ "name": name })),
                Endpoint::Create,
            ))
            .await?;
        read_one(&label, &answer, AuraErrorKind::OutcomeUnknown)
    }

    /// `DELETE .../instances/{id}/databases/{db}` (202); gone already is done.
    pub async fn delete_database(
        &self,
        org: &str,
        tenant: &str,
        instance: &str,
        id: &str,
    ) -> Result<(), AuraError> {
        let path = [
            "organizations",
            org,
            "projects",
            tenant,
            "instances",
            instance,
            "databases",
            id,
        ];
        let call = v2_call(
            "delete_database",
            format!("delete database {id} of instance {instance}"),
            Method::DELETE,
            &path,
            None,
            Endpoint::Api,
        );
        match self.send(call).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == AuraErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(instance_type: &str) -> CreateInstanceRequest {
        CreateInstanceRequest {
            version: "5".into(),
            region: "us-east-1".into(),
            memory: "16GB".into(),
            name: "tenants".into(),
            instance_type: instance_type.into(),
            tenant_id: "t-1".into(),
            cloud_provider: "aws".into(),
            storage: None,
            vector_optimized: None,
            graph_analytics_plugin: Some(true),
            customer_managed_key_id: None,
            source_instance_id: None,
            source_snapshot_id: None,
        }
    }

    #[test]
    fn the_body_names_the_v2beta1_tier_and_nothing_it_would_ignore() {
        for (v1, v2) in [
            ("business-critical", "business-critical"),
            ("enterprise-db", "virtual-dedicated-cloud"),
        ] {
            assert_eq!(
                multi_database_body(&request(v1)).unwrap(),
                json!({
                    "name": "tenants", "type": v2, "cloud_provider": "aws", "region": "us-east-1",
                    "memory": "16GB", "multi_database": true, "graph_analytics": "plugin",
                })
            );
        }
        for other in ["professional-db", "free-db", "enterprise-ds"] {
            let err = multi_database_body(&request(other)).unwrap_err();
            assert!(err.contains(other), "{err}");
        }
        let mut with_extras = request("business-critical");
        with_extras.storage = Some("32GB".into());
        with_extras.version = "4".into();
        let err = multi_database_body(&with_extras).unwrap_err();
        assert!(err.ends_with("takes no storage, version 4"), "{err}");
    }

    #[test]
    fn databases_read_with_ids_of_any_shape() {
        let d: Database = serde_json::from_value(json!({"id": 42, "name": null})).unwrap();
        assert_eq!((d.id.as_str(), d.name.as_str()), ("42", ""));
    }
}

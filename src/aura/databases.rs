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

/// A backup of a database (`GET .../databases/{db}/backups[/{id}]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DatabaseBackup {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    /// Pending, InProgress, Completed or Failed; empty until Aura says
    /// (an empty status is not done).
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub timestamp: String,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub exportable: Option<bool>,
}

/// The answer of a backup's create: its id only.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupCreated {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
}

/// The path of a database of an instance, as v2beta1 names it.
pub struct DatabasePath<'a> {
    pub org: &'a str,
    pub tenant: &'a str,
    pub instance: &'a str,
    pub database: &'a str,
}

impl DatabasePath<'_> {
    fn with<'b>(&'b self, tail: &[&'b str]) -> Vec<&'b str> {
        let mut path = vec![
            "organizations",
            self.org,
            "projects",
            self.tenant,
            "instances",
            self.instance,
            "databases",
            self.database,
        ];
        path.extend_from_slice(tail);
        path
    }
}

/// The body of a database restore. This copy of the document names the
/// backup `backup_id`; the live service was seen taking `id` (V2BETA1-NOTES
/// 82), and v2beta1 ignores a field it does not know: both are sent.
pub fn restore_body(backup_id: &str) -> Value {
    json!({ "backup_id": backup_id, "id": backup_id })
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

impl AuraClient {
    /// `GET .../databases/{db}/backups`.
    pub async fn list_database_backups(
        &self,
        at: &DatabasePath<'_>,
    ) -> Result<Vec<DatabaseBackup>, AuraError> {
        let path = at.with(&["backups"]);
        self.list_v2(
            "list_database_backups",
            format!("list the backups of database {}", at.database),
            &path,
        )
        .await
    }

    /// `GET .../databases/{db}/backups/{id}`.
    pub async fn get_database_backup(
        &self,
        at: &DatabasePath<'_>,
        id: &str,
    ) -> Result<DatabaseBackup, AuraError> {
        let label = format!("get backup {id} of database {}", at.database);
        let path = at.with(&["backups", id]);
        let answer = self
            .send(v2_call(
                "get_database_backup",
                label.clone(),
                Method::GET,
                &path,
                None,
                Endpoint::Api,
            ))
            .await?;
        read_one(&label, &answer, AuraErrorKind::Transient)
    }

    /// `POST .../databases/{db}/backups` (no body): not idempotent, never
    /// retried; a lost answer is settled by listing.
    pub async fn create_database_backup(
        &self,
        at: &DatabasePath<'_>,
    ) -> Result<BackupCreated, AuraError> {
        let label = format!("back up database {}", at.database);
        let path = at.with(&["backups"]);
        let answer = self
            .send(v2_call(
                "create_database_backup",
                label.clone(),
                Method::POST,
                &path,
                None,
                Endpoint::Create,
            ))
            .await?;
        read_one(&label, &answer, AuraErrorKind::OutcomeUnknown)
    }

    /// `POST .../databases/{db}/restore`: 202 with no body, and no way to
    /// see it end. Never retried: it overwrites the database's data.
    pub async fn restore_database(
        &self,
        at: &DatabasePath<'_>,
        backup_id: &str,
    ) -> Result<(), AuraError> {
        let label = format!("restore database {} from backup {backup_id}", at.database);
        let path = at.with(&["restore"]);
        self.send(v2_call(
            "restore_database",
            label,
            Method::POST,
            &path,
            Some(restore_body(backup_id)),
            Endpoint::Create,
        ))
        .await
        .map(drop)
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
    fn a_restore_names_the_backup_under_both_names_seen() {
        assert_eq!(
            restore_body("b-1"),
            json!({"backup_id": "b-1", "id": "b-1"})
        );
    }

    #[test]
    fn backups_read_with_their_status_empty_until_aura_says() {
        let b: DatabaseBackup = serde_json::from_value(json!({"id": "b-1"})).unwrap();
        assert_eq!((b.status.as_str(), b.exportable), ("", None));
        let b: DatabaseBackup = serde_json::from_value(
            json!({"id": "b-2", "status": "Completed", "timestamp": "2026-01-01T00:00:00Z", "exportable": true}),
        )
        .unwrap();
        assert_eq!((b.status.as_str(), b.exportable), ("Completed", Some(true)));
    }

    #[test]
    fn databases_read_with_ids_of_any_shape() {
        let d: Database = serde_json::from_value(json!({"id": 42, "name": null})).unwrap();
        assert_eq!((d.id.as_str(), d.name.as_str()), ("42", ""));
    }
}

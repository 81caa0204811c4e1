//! Wire types of the Aura API v1, shared by the client and the simulator.
//!
//! Field names are snake_case as on the wire. Unknown fields are ignored on input
//! and unknown enum values are kept (`Other`) so a newer API never breaks us.

use serde::{Deserialize, Serialize};

/// Every success body of the API is wrapped in `{"data": ...}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Data<T> {
    pub data: T,
}

/// `POST /oauth/token` response.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub token_type: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// An entry of `GET /tenants`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantSummary {
    pub id: String,
    pub name: String,
}

/// `GET /tenants/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub instance_configurations: Vec<InstanceConfiguration>,
}

/// One allowed combination of provider, region, type, memory, storage and version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceConfiguration {
    pub cloud_provider: String,
    pub region: String,
    pub region_name: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub memory: String,
    pub storage: String,
    pub version: String,
}

/// Body of `POST /instances`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreateInstanceRequest {
    pub version: String,
    pub region: String,
    pub memory: String,
    pub name: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub tenant_id: String,
    pub cloud_provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_optimized: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_analytics_plugin: Option<bool>,
}

/// The 202 answer to `POST /instances`: the only place the password ever appears.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreatedInstance {
    pub id: String,
    pub connection_url: String,
    pub username: String,
    pub password: String,
    pub tenant_id: String,
    pub cloud_provider: String,
    pub region: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl std::fmt::Debug for CreatedInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedInstance")
            .field("id", &self.id)
            .field("connection_url", &self.connection_url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An entry of `GET /instances` (no status in the list).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceSummary {
    pub id: String,
    pub name: String,
    pub tenant_id: String,
    pub cloud_provider: String,
    pub created_at: String,
}

/// `GET /instances/{id}`. Not `Eq`: `secondaries_count` is a JSON number (f64).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub status: InstanceStatus,
    pub connection_url: String,
    pub cloud_provider: String,
    pub tenant_id: String,
    pub memory: String,
    #[serde(default)]
    pub storage: String,
    pub region: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_optimized: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_analytics_plugin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondaries_count: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdc_enrichment_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_managed_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_integration_url: Option<String>,
}

/// Body of `PATCH /instances/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpdateInstanceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_optimized: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_analytics_plugin: Option<bool>,
}

impl UpdateInstanceRequest {
    /// A PATCH that only renames is answered 200 and runs no operation.
    pub fn is_rename_only(&self) -> bool {
        self.name.is_some()
            && self.memory.is_none()
            && self.storage.is_none()
            && self.vector_optimized.is_none()
            && self.graph_analytics_plugin.is_none()
    }
}

/// Body of `POST /instances/{id}/upgrade`: the new type, optionally with a
/// resize (the API wants `memory` and `storage` together).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpgradeInstanceRequest {
    #[serde(rename = "type")]
    pub instance_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

/// Instance status as Aura reports it. Unknown values are kept and treated as
/// transient, never as an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InstanceStatus {
    Creating,
    Destroying,
    Running,
    Pausing,
    Paused,
    Suspending,
    Suspended,
    Resuming,
    Loading,
    LoadingFailed,
    Restoring,
    Updating,
    Overwriting,
    Other(String),
}

impl InstanceStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Creating => "creating",
            Self::Destroying => "destroying",
            Self::Running => "running",
            Self::Pausing => "pausing",
            Self::Paused => "paused",
            Self::Suspending => "suspending",
            Self::Suspended => "suspended",
            Self::Resuming => "resuming",
            Self::Loading => "loading",
            Self::LoadingFailed => "loading failed",
            Self::Restoring => "restoring",
            Self::Updating => "updating",
            Self::Overwriting => "overwriting",
            Self::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "creating" => Self::Creating,
            "destroying" => Self::Destroying,
            "running" => Self::Running,
            "pausing" => Self::Pausing,
            "paused" => Self::Paused,
            "suspending" => Self::Suspending,
            "suspended" => Self::Suspended,
            "resuming" => Self::Resuming,
            "loading" => Self::Loading,
            "loading failed" => Self::LoadingFailed,
            "restoring" => Self::Restoring,
            "updating" => Self::Updating,
            "overwriting" => Self::Overwriting,
            other => Self::Other(other.to_string()),
        }
    }

    /// Settled states need no polling; everything else (including unknown values) is transient.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            Self::Running | Self::Paused | Self::Suspended | Self::LoadingFailed
        )
    }
}

impl std::fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for InstanceStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InstanceStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// A snapshot of an instance. Its status is capitalised on the wire
/// (`Pending`, `InProgress`, `Completed`, `Failed`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    pub instance_id: String,
    pub snapshot_id: String,
    pub profile: String,
    pub status: String,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exportable: Option<bool>,
}

/// `POST /instances/{id}/snapshots` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SnapshotCreated {
    pub snapshot_id: String,
}

/// One entry of the `{"errors": [...]}` error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiErrorDetail {
    pub message: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `{"errors": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiErrorBody {
    pub errors: Vec<ApiErrorDetail>,
}

/// `{"error": "..."}` from the gateway, or the OAuth form with `error_description`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MiddlewareErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
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
        let c = CreatedInstance {
            id: "8f769515".into(),
            connection_url: "neo4j+s://8f769515.databases.neo4j.io".into(),
            username: "neo4j".into(),
            password: "s3cr3t-pa55".into(),
            tenant_id: "t".into(),
            cloud_provider: "gcp".into(),
            region: "europe-west1".into(),
            instance_type: "enterprise-db".into(),
            name: "x".into(),
            created_at: None,
        };
        assert!(!format!("{c:?}").contains("s3cr3t-pa55"));
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
}

//! Wire types of the Aura API v1, shared by the client and the simulator.
//!
//! Field names are snake_case as on the wire. Unknown fields are ignored on input
//! and unknown enum values are kept (`Other`) so a newer API never breaks us.

use serde::{Deserialize, Serialize};

use super::lenient;

/// Every success body of the API is wrapped in `{"data": ...}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Data<T> {
    pub data: T,
}

/// `POST /oauth/token` response. Only the token is needed; the lifetime
/// defaults to Aura's hour and the type only feeds a warning.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    #[serde(deserialize_with = "lenient::required_string")]
    pub access_token: String,
    #[serde(
        default,
        deserialize_with = "lenient::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_type: Option<String>,
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
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub name: String,
}

/// `GET /tenants/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tenant {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub name: String,
    /// Configurations that do not read (a missing region, say) are skipped.
    #[serde(default, deserialize_with = "lenient::list")]
    pub instance_configurations: Vec<InstanceConfiguration>,
}

/// One allowed combination of provider, region, type, memory, storage and version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceConfiguration {
    #[serde(deserialize_with = "lenient::required_string")]
    pub cloud_provider: String,
    #[serde(deserialize_with = "lenient::required_string")]
    pub region: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub region_name: String,
    #[serde(rename = "type", deserialize_with = "lenient::required_string")]
    pub instance_type: String,
    #[serde(deserialize_with = "lenient::required_string")]
    pub memory: String,
    /// Not reported: any storage the spec asks for is let through to Aura.
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub storage: Option<String>,
    #[serde(deserialize_with = "lenient::required_string")]
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
    /// A customer managed encryption key, create-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_managed_key_id: Option<String>,
    /// A clone: the instance whose data the new one starts with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_instance_id: Option<String>,
    /// A clone from one of that instance's snapshots (it must be exportable);
    /// needs `source_instance_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_snapshot_id: Option<String>,
}

/// An Aura instance id an object may read or act on (DESIGN 4.13): held by
/// an AuraInstance of the object's own namespace, or held by none where the
/// object's project allows that. The calls that read or copy an instance's
/// data (snapshots, restores, overwrites, clones) take only this; it is made
/// only by `kinds::shared::access` (a test holds this), so that no kind can
/// name an instance of another namespace to them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reachable(String);

impl Reachable {
    /// For `kinds::shared::access`, which checked the claim first.
    pub fn vouched(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Reachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Body of `POST /instances/{id}/overwrite`: the target gets the source
/// instance's current data, or that of one of its snapshots.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OverwriteInstanceRequest {
    pub source_instance_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_snapshot_id: Option<String>,
}

/// The 202 answer to `POST /instances`: the only place the password ever
/// appears. Only `id` and `password` are required (DESIGN 4.2): whatever else
/// the body holds or lacks, those two reach the Secret.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreatedInstance {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(deserialize_with = "lenient::required_string")]
    pub password: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub username: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_provider: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
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

/// An entry of `GET /instances` (no status in the list). Entries without an
/// id are skipped; the rest is optional.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceSummary {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_provider: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
}

/// `GET /instances/{id}`. Every field but the id may be missing: a field the
/// API does not report is never drift (DESIGN 4.7). A missing status reads as
/// an unknown one, which is transient.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Instance {
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub id: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(default)]
    pub status: InstanceStatus,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_provider: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory: Option<String>,
    /// Not returned for free instances.
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub storage: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub vector_optimized: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub graph_analytics_plugin: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub secondaries_count: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cdc_enrichment_mode: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_managed_key_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondaries_count: Option<u64>,
    /// OFF, DIFF or FULL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdc_enrichment_mode: Option<String>,
}

impl UpdateInstanceRequest {
    /// A PATCH that only renames is answered 200 and runs no operation.
    pub fn is_rename_only(&self) -> bool {
        self.name.is_some()
            && self.memory.is_none()
            && self.storage.is_none()
            && self.vector_optimized.is_none()
            && self.graph_analytics_plugin.is_none()
            && self.secondaries_count.is_none()
            && self.cdc_enrichment_mode.is_none()
    }
}

/// Body of `POST /instances/{id}/upgrade`: the spec documents only an
/// optional resize (`memory` and `storage` together); the new type is implied
/// (professional to business-critical).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpgradeInstanceRequest {
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

    /// Case- and padding-insensitive: `"Running"` is running.
    pub fn parse(s: &str) -> Self {
        let folded = s.trim().to_ascii_lowercase();
        match folded.as_str() {
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
            _ => Self::Other(s.to_string()),
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

/// Not reported at all: unknown, so transient.
impl Default for InstanceStatus {
    fn default() -> Self {
        Self::Other("unknown".into())
    }
}

impl<'de> Deserialize<'de> for InstanceStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(lenient::string(d)?.map_or_else(Self::default, |s| Self::parse(&s)))
    }
}

/// A snapshot of an instance. Its status is capitalised on the wire
/// (`Pending`, `InProgress`, `Completed`, `Failed`): compare it with
/// [`lenient::same`]. Only the id is required. `exportable` (may it seed a
/// clone) is sent by the service though the spec's schema leaves it out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    #[serde(deserialize_with = "lenient::required_string")]
    pub snapshot_id: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub profile: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub exportable: Option<bool>,
}

/// `POST /instances/{id}/snapshots` answer; a 202 may come without a body,
/// and then the id must be found by listing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SnapshotCreated {
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub snapshot_id: Option<String>,
}

/// One entry of the `{"errors": [...]}` error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiErrorDetail {
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub message: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
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
    #[serde(deserialize_with = "lenient::required_string")]
    pub error: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_description: Option<String>,
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;

/// A customer-managed encryption key: `GET /customer-managed-keys/{id}`,
/// the 202 of its create, and (id, name and tenant only) an entry of the
/// list. Only the id is required; the rest is read as far as it is there.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CustomerManagedKey {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
    /// `pending` until Aura may use the cloud key, then `ready`.
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_provider: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<String>,
}

/// `POST /customer-managed-keys`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreateKeyRequest {
    pub name: String,
    pub key_id: String,
    pub cloud_provider: String,
    pub region: String,
    pub instance_type: String,
    pub tenant_id: String,
}

/// `GET /tenants/{id}/metrics-integration`: where the project's Prometheus
/// metrics are served.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MetricsIntegration {
    #[serde(deserialize_with = "lenient::required_string")]
    pub endpoint: String,
}

/// A Graph Analytics session: `GET /graph-analytics/sessions/{id}` and the
/// answer of its get-or-create. Only the id is required. `ttl` is written
/// as a duration ("30m") and read as the spec's integer or as text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub name: String,
    /// `Creating`, `Ready`, `Expired`, `Failed`.
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub host: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiry_date: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
}

/// `POST /graph-analytics/sessions`: get-or-create by name in a project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRequest {
    pub name: String,
    pub memory: String,
    pub tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `POST /graph-analytics/sessions/sizing`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionSizingRequest {
    pub node_count: u64,
    pub relationship_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_property_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_label_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_property_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithm_categories: Vec<String>,
}

/// The answer of a sizing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionSizing {
    #[serde(deserialize_with = "lenient::required_string")]
    pub recommended_size: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub estimated_memory: String,
}

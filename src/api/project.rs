//! AuraProject (namespaced) and ClusterAuraProject (cluster-scoped): a set of
//! Aura API credentials and the namespaces whose AuraInstances may use them
//! (DESIGN 4.9). They share their status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::refs::{NamespacedSecretRef, ProjectKind, SecretRef};

/// The finalizer that holds a project while AuraInstances use it.
pub const PROJECT_FINALIZER: &str = "aura-operator.io/project-in-use";

/// The ClusterAuraProject an AuraInstance uses when it names neither
/// projectRef nor credentialsSecretRef.
pub const DEFAULT_PROJECT: &str = "default";

/// Aura API credentials for the AuraInstances of this namespace only. The
/// operator obtains a token with them, finds the tenant, and reports the
/// tenant's catalogue in status.
// The printer columns repeat `type_ = "string"`, which the lint takes for a
// repeated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1beta1",
    kind = "AuraProject",
    namespaced,
    status = "AuraProjectStatus",
    shortname = "auraproj",
    category = "all",
    printcolumn(name = "Tenant", type_ = "string", json_path = ".status.tenantName"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Used By", type_ = "integer", json_path = ".status.usedBy"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AuraProjectSpec {
    /// Aura tenant (a "project" in the console), a UUID. May be omitted when
    /// the credentials see exactly one tenant. AuraInstances using this project
    /// default their tenantId to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub tenant_id: Option<String>,

    /// Aura organization (API v2beta1) the tenant belongs to, a UUID: what
    /// organisation-wide kinds (AuraIPFilter) of this project's users work
    /// in. May be omitted when the credentials see exactly one organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub organization_id: Option<String>,

    /// Secret in this namespace holding the Aura API credentials under the
    /// keys clientId and clientSecret.
    pub credentials_secret_ref: SecretRef,

    /// Let clones, restores and overwrites of the objects using this project
    /// read an Aura instance that no AuraInstance holds (one made in the Aura
    /// console, say). Off: they read only instances held by an AuraInstance
    /// of their own namespace. An instance held in another namespace is never
    /// read, whatever this says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unheld_sources: bool,

    /// Scrape Aura's Prometheus metrics of this project: the operator writes
    /// a prometheus-operator ScrapeConfig (in this namespace) for the
    /// project's metrics endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<ProjectMetrics<SecretRef>>,
}

/// Aura API credentials for the AuraInstances of the namespaces it allows.
/// An AuraInstance that names neither projectRef nor credentialsSecretRef
/// uses the ClusterAuraProject named "default".
// The printer columns repeat `type_ = "string"`, which the lint takes for a
// repeated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1beta1",
    kind = "ClusterAuraProject",
    status = "AuraProjectStatus",
    shortname = "cauraproj",
    category = "all",
    printcolumn(name = "Tenant", type_ = "string", json_path = ".status.tenantName"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Used By", type_ = "integer", json_path = ".status.usedBy"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAuraProjectSpec {
    /// Aura tenant (a "project" in the console), a UUID. May be omitted when
    /// the credentials see exactly one tenant. AuraInstances using this project
    /// default their tenantId to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub tenant_id: Option<String>,

    /// Aura organization (API v2beta1) the tenant belongs to, a UUID: what
    /// organisation-wide kinds (AuraIPFilter) of this project's users work
    /// in. May be omitted when the credentials see exactly one organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub organization_id: Option<String>,

    /// Secret holding the Aura API credentials under the keys clientId and
    /// clientSecret, usually in the operator's own namespace.
    pub credentials_secret_ref: NamespacedSecretRef,

    /// Let clones, restores and overwrites of the objects using this project
    /// read an Aura instance that no AuraInstance holds (one made in the Aura
    /// console, say). Off: they read only instances held by an AuraInstance
    /// of their own namespace. An instance held in another namespace is never
    /// read, whatever this says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unheld_sources: bool,

    /// The namespaces whose AuraInstances may use this project: those named,
    /// and those whose labels match the selector. Empty allows nobody.
    pub allowed_namespaces: AllowedNamespaces,

    /// Scrape Aura's Prometheus metrics of this project: the operator writes
    /// a prometheus-operator ScrapeConfig, in the namespace of the metrics
    /// credentials Secret, for the project's metrics endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<ProjectMetrics<NamespacedSecretRef>>,
}

/// Aura's Prometheus metrics of a project, as Prometheus scrapes them.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectMetrics<R> {
    /// Secret holding the Aura API credentials (keys clientId and
    /// clientSecret) of a user with the Metrics Integration Reader role. A
    /// client id of its own, so that scraping never spends the operator's
    /// tokens (Aura allows 15 an hour per client id). Prometheus reads it;
    /// the operator only checks that it is there.
    pub credentials_secret_ref: R,

    /// How often Prometheus scrapes, for example 60s (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h)$"))]
    pub scrape_interval: Option<String>,
}

/// Namespaces by name and by label. A namespace is allowed when it is named
/// or when its labels match the selector.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct AllowedNamespaces {
    /// Namespaces allowed by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Namespaces allowed by their labels (matchLabels and matchExpressions).
    /// An empty selector ({}) matches every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// What a project found: its tenant, the tenant's catalogue and its users.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraProjectStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The tenant the credentials use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The tenant's name, as Aura reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    /// The Aura organization in use: the spec's, else the only one the
    /// credentials see (unset while they see several and the spec names
    /// none, or when they may not read organizations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The organization's name, as Aura reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// What the tenant offers, one row per cloud provider and region: the
    /// instance types and memory sizes an AuraInstance may ask for there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered: Vec<Offered>,
    /// How many AuraInstances use this project (those being deleted included:
    /// they need the credentials to finish).
    #[serde(default)]
    pub used_by: u32,
    /// Where Aura serves the project's Prometheus metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_integration_url: Option<String>,
    /// Offered, or NotOffered where the project's tier has no metrics
    /// integration (Business Critical and Virtual Dedicated Cloud have it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_integration: Option<String>,
    /// The ScrapeConfig written for spec.metrics, as namespace/name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_config: Option<String>,
    /// Ready (True when a token was obtained and the tenant is visible),
    /// Reconciling and Stalled (bad credentials, an unknown tenant, several
    /// tenants and none chosen), with kstatus semantics; while the project is
    /// being deleted, Ready's message names the AuraInstances still using it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The tenant's catalogue for one cloud provider and region.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Offered {
    pub cloud_provider: String,
    pub region: String,
    /// Instance types offered there.
    pub types: Vec<String>,
    /// Memory sizes offered there (for any of the types), smallest first.
    pub memory: Vec<String>,
}

/// A project by kind, namespace (AuraProject only) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId {
    pub kind: ProjectKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl ProjectId {
    pub fn namespaced(namespace: &str, name: &str) -> Self {
        Self {
            kind: ProjectKind::AuraProject,
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    pub fn cluster(name: &str) -> Self {
        Self {
            kind: ProjectKind::ClusterAuraProject,
            namespace: None,
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for ProjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

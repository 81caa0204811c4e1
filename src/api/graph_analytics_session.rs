//! AuraGraphAnalyticsSession: a Graph Analytics (GDS) session, attached to an
//! AuraInstance of this namespace or standalone in a cloud region.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::refs::{LocalRef, ProjectRef, SecretRef};
use super::{CloudProvider, MemorySize};

/// The finalizer of an AuraGraphAnalyticsSession: held until the session is
/// deleted in Aura.
pub const SESSION_FINALIZER: &str = "aura-operator.io/graph-analytics-session";

/// The label on the connection Secret written for a session: its name.
pub const SESSION_LABEL: &str = "aura-operator.io/auragraphanalyticssession";

/// A Graph Analytics session: compute for the Graph Data Science library,
/// billed while it lives. Attached to an AuraInstance of this namespace
/// (instanceRef: it reads and writes back that instance's data) or
/// standalone in a cloud region (cloudProvider and region). Aura ends an
/// idle session after its ttl; the object is then Ready False with reason
/// Expired, or the operator starts a new one (recreateOnExpiry). The spec is
/// immutable: delete the object and create another to change a session.
/// Deleting the object deletes the session.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraGraphAnalyticsSession",
    namespaced,
    status = "AuraGraphAnalyticsSessionStatus",
    shortname = "aurasession",
    category = "all",
    printcolumn(name = "Instance", type_ = "string", json_path = ".spec.instanceRef.name"),
    printcolumn(name = "Memory", type_ = "string", json_path = ".status.memory"),
    printcolumn(name = "Aura status", type_ = "string", json_path = ".status.auraStatus"),
    printcolumn(name = "Expires", type_ = "string", json_path = ".status.expiresAt"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    validation = Rule::new("size(self.metadata.name) <= 40")
        .message("metadata.name is at most 40 characters: the session's Aura name is <namespace>-<name>")
        .reason(Reason::FieldValueInvalid),
)]
#[x_kube(
    validation = Rule::new("self == oldSelf")
        .message("the spec of a session is immutable: delete the object and create another")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("has(self.instanceRef) != (has(self.cloudProvider) && has(self.region))")
        .message("give either instanceRef (a session attached to an AuraInstance) or cloudProvider and region (a standalone session)")
        .reason(Reason::FieldValueRequired)
        .field_path(".instanceRef"),
    validation = Rule::new("!has(self.instanceRef) || (!has(self.cloudProvider) && !has(self.region))")
        .message("an attached session runs where its instance does: leave out cloudProvider and region")
        .reason(Reason::FieldValueForbidden)
        .field_path(".cloudProvider"),
    validation = Rule::new("has(self.memory) != has(self.sizing)")
        .message("give either memory or sizing (the operator asks Aura for the memory that fits)")
        .reason(Reason::FieldValueRequired)
        .field_path(".memory"),
    validation = Rule::new("!has(self.instanceRef) || (!has(self.projectRef) && !has(self.credentialsSecretRef) && !has(self.tenantId))")
        .message("an attached session uses its AuraInstance's credentials and tenant: leave out projectRef, credentialsSecretRef and tenantId")
        .reason(Reason::FieldValueForbidden)
        .field_path(".projectRef"),
    validation = Rule::new("!(has(self.projectRef) && has(self.credentialsSecretRef))")
        .message("set at most one of projectRef and credentialsSecretRef")
        .reason(Reason::FieldValueForbidden)
        .field_path(".projectRef"),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraGraphAnalyticsSessionSpec {
    /// The AuraInstance (in this namespace) the session is attached to: it
    /// projects that instance's data and writes results back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_ref: Option<LocalRef>,

    /// A standalone session's cloud: gcp, aws or azure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<CloudProvider>,

    /// A standalone session's region, for example europe-west1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,

    /// The session's memory, for example 8GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemorySize>,

    /// Instead of memory: the graph to analyse; the operator asks Aura for
    /// the memory that fits (POST /graph-analytics/sessions/sizing) and shows
    /// the answer in status.sizing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<SessionSizingSpec>,

    /// How long the session may be idle before Aura ends it, for example 2h
    /// or 30m (Aura's default is 1h, and its maximum applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"),
        length(min = 2, max = 16)
    )]
    pub ttl: Option<String>,

    /// Start a new session when Aura has ended this one (after its ttl).
    /// Off: the object stays Ready False with reason Expired.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recreate_on_expiry: bool,

    /// The Secret the session's connection details are written to (owned
    /// by this object). Default: <metadata.name>-session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret_name: Option<String>,

    /// A standalone session's tenant (a UUID). Default: the project's, or
    /// the only tenant the credentials see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub tenant_id: Option<String>,

    /// A standalone session's credentials: a Secret in this namespace (keys
    /// clientId, clientSecret). At most one of this and projectRef; neither
    /// uses the ClusterAuraProject named "default".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// A standalone session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ref: Option<ProjectRef>,
}

/// The graph a session is sized for.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSizingSpec {
    /// How many nodes the graph has.
    pub node_count: u64,
    /// How many relationships the graph has.
    pub relationship_count: u64,
    /// Properties per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_property_count: Option<u64>,
    /// Labels per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_label_count: Option<u64>,
    /// Properties per relationship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_property_count: Option<u64>,
    /// For example centrality, community-detection, similarity,
    /// path-finding, node-embedding, machine-learning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithm_categories: Vec<String>,
}

/// What Aura said the session needs.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSizingStatus {
    /// The memory Aura recommends, which the session is created with.
    pub recommended_size: String,
    /// The memory Aura estimates the graph needs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub estimated_memory: String,
}

/// What the operator knows of the session.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraGraphAnalyticsSessionStatus {
    /// The session's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The session's name in Aura: <namespace>-<metadata.name>.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the session is reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Creating, Ready, Expired or Failed, as Aura reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aura_status: Option<String>,
    /// When Aura ends the session if it stays idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The session's memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// The Aura instance an attached session works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Aura's answer to spec.sizing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<SessionSizingStatus>,
    /// How many sessions were started again after one expired.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recreations: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl AuraGraphAnalyticsSession {
    /// The Secret the connection details go to.
    pub fn secret_name(&self) -> String {
        self.spec.connection_secret_name.clone().unwrap_or_else(|| {
            format!(
                "{}-session",
                self.metadata.name.as_deref().unwrap_or_default()
            )
        })
    }

    /// The session's name in Aura: unique per namespace and name, since
    /// Aura gets or creates sessions by name within a project.
    pub fn aura_name(&self) -> String {
        format!(
            "{}-{}",
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default()
        )
    }
}

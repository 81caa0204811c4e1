//! AuraIPFilter and ClusterAuraIPFilter: an Aura IP filter (an allow list of
//! network ranges) applied to AuraInstances of the object's namespace, or to
//! the Aura projects of ClusterAuraProjects. Aura keeps filters per
//! organization (API v2beta1) and allows one filter per instance or project.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DeletionPolicy;
use super::refs::{LocalRef, ProjectRef, SecretRef};

/// The finalizer of an AuraIPFilter: held until the filter is removed in Aura
/// (or orphaned).
pub const IP_FILTER_FINALIZER: &str = "aura-operator.io/ip-filter";

/// An Aura IP filter: only connections from the ranges of allowList reach the
/// AuraInstances of instanceRefs (of this namespace). Aura allows one filter
/// per instance: a second AuraIPFilter naming an instance another one applies
/// to waits with reason FilterConflict and changes nothing. Ready when Aura
/// reports the filter ACTIVE on every named instance.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraIPFilter",
    namespaced,
    status = "AuraIPFilterStatus",
    shortname = "auraipf",
    category = "all",
    printcolumn(name = "Aura name", type_ = "string", json_path = ".spec.name"),
    printcolumn(name = "Id", type_ = "string", json_path = ".status.id"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("!(has(self.projectRef) && has(self.credentialsSecretRef))")
        .message("set at most one of projectRef and credentialsSecretRef")
        .reason(Reason::FieldValueForbidden)
        .field_path(".projectRef"),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraIPFilterSpec {
    /// The filter's name in Aura, 1 to 64 characters.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^\S(.*\S)?$"))]
    pub name: String,

    /// The network ranges allowed in (1 to 100), each an IPv4 or IPv6 prefix
    /// in CIDR notation, at most once.
    #[schemars(length(min = 1, max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["cidr"]))]
    pub allow_list: Vec<AllowedCidr>,

    /// The AuraInstances of this namespace the filter applies to (at most
    /// 100). An instance is reached through its AuraInstance only: one held
    /// in another namespace, or by no AuraInstance, is never filtered from
    /// here. Removing an instance from the list detaches the filter from it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub instance_refs: Vec<LocalRef>,

    /// Keep the filter but let every address in (Aura's filtering_disabled).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub filtering_disabled: bool,

    /// What deleting this object does to the Aura filter. Delete (default):
    /// removes it (its instances accept every address again). Orphan: leaves
    /// it in Aura.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Secret in this namespace holding the Aura API credentials (clientId,
    /// clientSecret). At most one of this and projectRef; naming neither uses
    /// the ClusterAuraProject named "default".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// The project whose credentials (and organization) this filter uses: an
    /// AuraProject in this namespace or a ClusterAuraProject that allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ref: Option<ProjectRef>,
}

/// An Aura IP filter on whole Aura projects, for platform teams: only
/// connections from the ranges of allowList reach the instances of the
/// projects of the ClusterAuraProjects in projectRefs (those made later
/// too). Uses the first project's credentials; every project must be in its
/// organization. Aura allows one filter per project: a second
/// ClusterAuraIPFilter naming a project another one applies to waits with
/// reason FilterConflict and changes nothing. A filter on an instance (an
/// AuraIPFilter) takes precedence over its project's. Ready when Aura kept
/// what was written.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "ClusterAuraIPFilter",
    status = "AuraIPFilterStatus",
    shortname = "cauraipf",
    category = "all",
    printcolumn(name = "Aura name", type_ = "string", json_path = ".spec.name"),
    printcolumn(name = "Id", type_ = "string", json_path = ".status.id"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAuraIPFilterSpec {
    /// The filter's name in Aura, 1 to 64 characters.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^\S(.*\S)?$"))]
    pub name: String,

    /// The network ranges allowed in (1 to 100), each an IPv4 or IPv6 prefix
    /// in CIDR notation, at most once.
    #[schemars(length(min = 1, max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["cidr"]))]
    pub allow_list: Vec<AllowedCidr>,

    /// The ClusterAuraProjects (1 to 50) whose Aura projects the filter
    /// applies to. The first one's credentials are used. Removing a project
    /// from the list detaches the filter from it.
    #[schemars(length(min = 1, max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub project_refs: Vec<ClusterProjectName>,

    /// Keep the filter but let every address in (Aura's filtering_disabled).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub filtering_disabled: bool,

    /// What deleting this object does to the Aura filter. Delete (default):
    /// removes it. Orphan: leaves it in Aura.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// A ClusterAuraProject, by name.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ClusterProjectName {
    /// Name of the ClusterAuraProject.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
}

impl ClusterAuraIPFilter {
    /// What deleting the object does to the Aura filter (default Delete).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or(DeletionPolicy::Delete)
    }
}

/// One allowed network range.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowedCidr {
    /// An IPv4 or IPv6 prefix, for example 203.0.113.0/24 or 2001:db8::/32,
    /// with no bits set after the prefix.
    #[schemars(length(min = 9, max = 49))]
    #[x_kube(
        validation = Rule::new("isCIDR(self) && cidr(self) == cidr(self).masked()")
            .message("cidr must be an IPv4 or IPv6 prefix such as 203.0.113.0/24, with no bits set after the prefix")
            .reason(Reason::FieldValueInvalid)
    )]
    pub cidr: String,

    /// What the range is (Aura shows it), at most 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub description: Option<String>,
}

/// What the operator knows of the filter.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraIPFilterStatus {
    /// The Aura filter's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The Aura organization the filter lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The filter on each named instance, as Aura reports it (AuraIPFilter).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_to: Vec<FilterApplied>,
    /// The Aura projects the filter applies to (ClusterAuraIPFilter): each
    /// ClusterAuraProject with its Aura project (tenant) id once known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_to_projects: Vec<FilterOnProject>,
    /// When the operator sent a create whose answer it has not seen yet: a
    /// filter found later under the name, not among `createPriorIds`, is its.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// The ids of the filters of the same name before that create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_prior_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready (Aura holds the filter as the spec says, ACTIVE on every named instance),
    /// Reconciling and Stalled, with kstatus semantics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The filter on one instance.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterApplied {
    /// The AuraInstance's name.
    pub instance: String,
    /// Its Aura instance id, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// SUBMITTED, ACTIVE or ERROR as Aura reports it; Pending before Aura
    /// reports this filter on the instance.
    pub state: String,
}

/// The filter on one project.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterOnProject {
    /// The ClusterAuraProject's name.
    pub project: String,
    /// Its Aura project (tenant) id, once it has found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

impl AuraIPFilter {
    /// What deleting the object does to the Aura filter (default Delete).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or(DeletionPolicy::Delete)
    }
}

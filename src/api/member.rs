//! AuraProjectMember and AuraOrganizationMember: a person's access to the
//! Aura console, as code. Cluster-scoped: they grant rights over whole Aura
//! projects and organizations, so only cluster administrators hold them.
//! Aura keeps console users per organization (API v2beta1); someone without
//! an account yet is invited, and becomes a member once the invite is
//! accepted.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ClusterProjectName, DeletionPolicy, OrganizationRole, ProjectRole};

/// The finalizer of both member kinds: held until the access the object
/// gave is taken back in Aura (or left, with Orphan).
pub const MEMBER_FINALIZER: &str = "aura-operator.io/member";

/// A person's role in the Aura project of a ClusterAuraProject. A person
/// already in the organization is added at once; anyone else is invited
/// (reason InvitePending until they accept). A membership the object did not
/// make is changed only with adopt: true, and its role is put back when the
/// object goes. Ready when Aura holds the role.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraProjectMember",
    status = "AuraMemberStatus",
    shortname = "aurapm",
    category = "all",
    printcolumn(
        name = "Project",
        type_ = "string",
        json_path = ".spec.projectRef.name"
    ),
    printcolumn(name = "Email", type_ = "string", json_path = ".spec.email"),
    printcolumn(name = "Role", type_ = "string", json_path = ".status.role"),
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
    validation = Rule::new("has(self.email) != has(self.userId)")
        .message("set exactly one of email and userId")
        .reason(Reason::FieldValueInvalid),
    validation = Rule::new("has(self.email) == has(oldSelf.email) && (!has(self.email) || self.email == oldSelf.email)")
        .message("email is immutable: the object stands for one person")
        .reason(Reason::FieldValueForbidden)
        .field_path(".email"),
    validation = Rule::new("has(self.userId) == has(oldSelf.userId) && (!has(self.userId) || self.userId == oldSelf.userId)")
        .message("userId is immutable: the object stands for one person")
        .reason(Reason::FieldValueForbidden)
        .field_path(".userId"),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraProjectMemberSpec {
    /// The ClusterAuraProject whose Aura project the person joins (its
    /// credentials are used). Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("projectRef is immutable").reason(Reason::FieldValueForbidden))]
    pub project_ref: ClusterProjectName,

    /// The person's email address. Someone without an account in the
    /// organization is invited with it. Exactly one of email and userId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), regex(pattern = r"^[^@\s]+@[^@\s]+$"))]
    pub email: Option<String>,

    /// The person's Aura user id (a UUID), for someone already in the
    /// organization. Exactly one of email and userId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    pub user_id: Option<String>,

    /// The role in the project; changed in place.
    pub role: ProjectRole,

    /// Take over a membership this object did not make (someone added in
    /// the console): its role is recorded and put back when the object goes,
    /// whatever the deletionPolicy. Without it such a membership is left
    /// alone (reason MembershipExists).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,

    /// What deleting this object does to a membership it made. Delete
    /// (default): removes the person from the project (and a pending invite
    /// it sent). Orphan: leaves both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// A person's role in an Aura organization: named by organizationId (using
/// the credentials of the ClusterAuraProject "default") or by the
/// organization of a ClusterAuraProject (its credentials). A person not in
/// the organization is invited (reason InvitePending until they accept). A
/// membership the object did not make is changed only with adopt: true, and
/// its role is put back when the object goes. Ready when Aura holds the role.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraOrganizationMember",
    status = "AuraMemberStatus",
    shortname = "auraom",
    category = "all",
    printcolumn(
        name = "Organization",
        type_ = "string",
        json_path = ".status.organizationId"
    ),
    printcolumn(name = "Email", type_ = "string", json_path = ".spec.email"),
    printcolumn(name = "Role", type_ = "string", json_path = ".status.role"),
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
    validation = Rule::new("has(self.email) != has(self.userId)")
        .message("set exactly one of email and userId")
        .reason(Reason::FieldValueInvalid),
    validation = Rule::new("has(self.organizationId) || has(self.projectRef)")
        .message("set organizationId or projectRef")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("has(self.email) == has(oldSelf.email) && (!has(self.email) || self.email == oldSelf.email)")
        .message("email is immutable: the object stands for one person")
        .reason(Reason::FieldValueForbidden)
        .field_path(".email"),
    validation = Rule::new("has(self.userId) == has(oldSelf.userId) && (!has(self.userId) || self.userId == oldSelf.userId)")
        .message("userId is immutable: the object stands for one person")
        .reason(Reason::FieldValueForbidden)
        .field_path(".userId"),
    validation = Rule::new("has(self.organizationId) == has(oldSelf.organizationId) && (!has(self.organizationId) || self.organizationId == oldSelf.organizationId)")
        .message("organizationId is immutable")
        .reason(Reason::FieldValueForbidden)
        .field_path(".organizationId"),
    validation = Rule::new("has(self.projectRef) == has(oldSelf.projectRef) && (!has(self.projectRef) || self.projectRef == oldSelf.projectRef)")
        .message("projectRef is immutable")
        .reason(Reason::FieldValueForbidden)
        .field_path(".projectRef"),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraOrganizationMemberSpec {
    /// The Aura organization (a UUID). With projectRef too, it must be that
    /// project's. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    pub organization_id: Option<String>,

    /// A ClusterAuraProject: its credentials are used, and its organization
    /// unless organizationId names one. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ref: Option<ClusterProjectName>,

    /// The person's email address. Someone not in the organization is
    /// invited with it. Exactly one of email and userId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), regex(pattern = r"^[^@\s]+@[^@\s]+$"))]
    pub email: Option<String>,

    /// The person's Aura user id (a UUID), for someone already in the
    /// organization. Exactly one of email and userId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    pub user_id: Option<String>,

    /// The role in the organization; changed in place.
    pub role: OrganizationRole,

    /// Take over a membership this object did not make: its role is
    /// recorded and put back when the object goes, whatever the
    /// deletionPolicy. Without it such a membership is left alone (reason
    /// MembershipExists).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,

    /// What deleting this object does to a membership it made. Delete
    /// (default): removes the person from the organization (and a pending
    /// invite it sent). Orphan: leaves both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// How the membership came to be, as far as this object is concerned.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum MembershipOrigin {
    /// The object added the person (directly or by its invite): deleting
    /// the object (Delete) removes them.
    Added,
    /// The person was a member before; the object took the membership over
    /// (adopt: true). Deleting the object puts `originalRole` back.
    Adopted,
}

/// What the operator knows of the membership.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraMemberStatus {
    /// The Aura organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The Aura project (AuraProjectMember).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The person's Aura user id, once they have an account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The role Aura holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Added or Adopted, once the person is a member through this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<MembershipOrigin>,
    /// The role an adopted membership had, put back when the object goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_role: Option<String>,
    /// The invite this object sent, while it is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_id: Option<String>,
    /// When the operator sent an add or an invite whose answer it has not
    /// seen: a membership or invite found later is this object's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready (Aura holds the role), Reconciling and Stalled, with kstatus
    /// semantics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl AuraProjectMember {
    /// What deleting the object does to a membership it made (default Delete).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or(DeletionPolicy::Delete)
    }
}

impl AuraOrganizationMember {
    /// What deleting the object does to a membership it made (default Delete).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or(DeletionPolicy::Delete)
    }
}

//! AuraCustomerManagedKey: a customer-managed encryption key registered with
//! Aura (a cloud KMS key Aura may encrypt instances with), which AuraInstances
//! name in `customerManagedKeyRef`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::refs::{ProjectRef, SecretRef};
use super::{CloudProvider, DeletionPolicy, InstanceType};

/// The finalizer of an AuraCustomerManagedKey: held until the key is deleted
/// in Aura (or orphaned), and while an AuraInstance names the object.
pub const CUSTOMER_MANAGED_KEY_FINALIZER: &str = "aura-operator.io/customer-managed-key";

/// A customer-managed encryption key registered with Aura: Aura encrypts the
/// instances created with it using a key of your cloud's KMS. After the
/// create, Aura reports the key pending until it has been granted access to
/// the KMS key (in the cloud console, as Aura's documentation describes); the
/// object is Ready when Aura reports the key ready. AuraInstances of this
/// namespace use it through spec.customerManagedKeyRef.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraCustomerManagedKey",
    namespaced,
    status = "AuraCustomerManagedKeyStatus",
    shortname = "auracmk",
    category = "all",
    printcolumn(name = "Aura name", type_ = "string", json_path = ".spec.name"),
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.cloudProvider"),
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(name = "Id", type_ = "string", json_path = ".status.id"),
    printcolumn(
        name = "Aura status",
        type_ = "string",
        json_path = ".status.auraStatus"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
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
    validation = Rule::new("self.instanceType == 'enterprise-db' || self.instanceType == 'enterprise-ds'")
        .message("a customer managed key is for enterprise-db (Virtual Dedicated Cloud) or enterprise-ds instances")
        .reason(Reason::FieldValueInvalid)
        .field_path(".instanceType"),
    validation = Rule::new("!has(self.id) || has(self.deletionPolicy)")
        .message("id needs an explicit deletionPolicy: Orphan keeps the adopted key when this object is deleted, Delete deletes it")
        .reason(Reason::FieldValueRequired)
        .field_path(".deletionPolicy"),
    validation = Rule::new("!has(oldSelf.id) || (has(self.id) && self.id == oldSelf.id)")
        .message("id is immutable once set")
        .reason(Reason::FieldValueForbidden)
        .field_path(".id"),
    validation = Rule::new("!has(oldSelf.tenantId) || (has(self.tenantId) && self.tenantId == oldSelf.tenantId)")
        .message("tenantId is immutable once set")
        .reason(Reason::FieldValueForbidden)
        .field_path(".tenantId"),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraCustomerManagedKeySpec {
    /// The key's name in Aura, 1 to 30 characters without leading or trailing
    /// spaces. Names need not be unique in Aura. Immutable.
    #[schemars(length(min = 1, max = 30), regex(pattern = r"^\S(.*\S)?$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("name is immutable").reason(Reason::FieldValueForbidden))]
    pub name: String,

    /// The key in the cloud's KMS: an AWS key ARN, a GCP key resource name or
    /// an Azure key URL. Immutable.
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("keyId is immutable").reason(Reason::FieldValueForbidden))]
    pub key_id: String,

    /// The cloud of the KMS key: gcp, aws or azure. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("cloudProvider is immutable").reason(Reason::FieldValueForbidden))]
    pub cloud_provider: CloudProvider,

    /// The region whose instances the key may encrypt, for example
    /// us-east-1. Immutable.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("region is immutable").reason(Reason::FieldValueForbidden))]
    pub region: String,

    /// The type of the instances the key may encrypt: enterprise-db (Virtual
    /// Dedicated Cloud) or enterprise-ds. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("instanceType is immutable").reason(Reason::FieldValueForbidden))]
    pub instance_type: InstanceType,

    /// Aura tenant (project) of the key, a UUID. Default: the project's, or
    /// the only tenant the credentials see. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub tenant_id: Option<String>,

    /// Adopt the existing Aura key with this id instead of creating one (its
    /// name, provider, region and type must match this spec). Needs an
    /// explicit deletionPolicy. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub id: Option<String>,

    /// What deleting this object does to the Aura key. Delete (default):
    /// deletes it, once no instance uses it (Aura refuses while one does; the
    /// object waits). Orphan: leaves it in Aura.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Secret in this namespace holding the Aura API credentials (clientId,
    /// clientSecret). At most one of this and projectRef; naming neither uses
    /// the ClusterAuraProject named "default".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// The project whose credentials this key uses: an AuraProject in this
    /// namespace or a ClusterAuraProject that allows this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ref: Option<ProjectRef>,
}

/// What the operator knows of the key.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraCustomerManagedKeyStatus {
    /// The Aura key's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tenant the key lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The key's status as Aura reports it (pending, ready, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aura_status: Option<String>,
    /// When Aura created the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Whether the key was adopted (spec.id) rather than created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted: Option<bool>,
    /// When the operator sent a create whose answer it has not seen yet: a
    /// key found later under the name, not among `createPriorIds`, is its.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// The ids of the keys of the same name in the tenant before that create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_prior_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl AuraCustomerManagedKey {
    /// What deleting the object does to the Aura key (default Delete).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or(DeletionPolicy::Delete)
    }
}

//! `AuraInstanceClaim`: who holds an Aura instance (DESIGN 4.11).
//!
//! Cluster-scoped and named after the Aura instance id, so the apiserver's
//! create semantics make a claim atomic (of two adopters exactly one gets 201,
//! the other 409) and it survives restarts. Only the operator's ClusterRole
//! may write claims: a person with rights on AuraInstances in one namespace
//! can neither make nor move one.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The claim of one Aura instance by one AuraInstance. Written by the operator
/// only; deleting one by hand lets the next AuraInstance that names the
/// instance take it.
// The printcolumn lines repeat `type_`, which clippy takes for a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "aura-operator.io",
    version = "v1beta1",
    kind = "AuraInstanceClaim",
    shortname = "auraclaim",
    printcolumn(
        name = "Namespace",
        type_ = "string",
        json_path = ".spec.holder.namespace"
    ),
    printcolumn(name = "Holder", type_ = "string", json_path = ".spec.holder.name"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AuraInstanceClaimSpec {
    /// The Aura instance id (also this object's name).
    #[schemars(regex(pattern = r"^[0-9a-f]{8}$"))]
    pub instance_id: String,
    /// The AuraInstance that holds it.
    pub holder: ClaimHolder,
}

/// An AuraInstance, down to its uid: a re-created object of the same name is
/// another holder.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub struct ClaimHolder {
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[schemars(length(min = 1, max = 64))]
    pub uid: String,
}

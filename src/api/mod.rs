//! The custom resources of `aura-operator.io/v1alpha1`: `AuraInstance`, the
//! `AuraInstanceClaim` that says which AuraInstance holds an Aura instance, and
//! the projects (`AuraProject`, `ClusterAuraProject`) that scope credentials.

mod aura_instance;
mod claim;
mod enums;
mod project;
mod snapshot;

pub use aura_instance::*;
pub use claim::*;
pub use enums::*;
pub use project::*;
pub use snapshot::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD this operator serves, each generated from its type.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        AuraInstance::crd(),
        AuraInstanceClaim::crd(),
        AuraProject::crd(),
        ClusterAuraProject::crd(),
        AuraSnapshot::crd(),
        AuraRestore::crd(),
    ]
}

/// One CRD as the YAML document of `crds/<plural>.yaml`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    let body = serde_yaml::to_string(crd).expect("a CRD always serialises");
    format!("---\n{body}")
}

/// The CRD whose plural is `plural` (the file name under `crds/`).
pub fn crd_named(plural: &str) -> Option<CustomResourceDefinition> {
    crds().into_iter().find(|c| c.spec.names.plural == plural)
}

/// Every CRD as YAML documents (what `aura-operator crd` prints).
pub fn crds_yaml() -> String {
    crds().iter().map(crd_yaml).collect()
}

//! The `AuraInstance` custom resource (`aura-operator.io/v1alpha1`).

mod aura_instance;

pub use aura_instance::*;

use kube::CustomResourceExt;

/// The CRDs this operator serves, as YAML documents (what `aura-operator crd` prints).
pub fn crds_yaml() -> String {
    let crd = AuraInstance::crd();
    let body = serde_yaml::to_string(&crd).expect("a CRD always serialises");
    format!("---\n{body}")
}

//! The custom resources of `aura-operator.io` (v1beta1, and v1alpha1 for the
//! kinds not yet promoted; see `versions`): `AuraInstance`, the
//! `AuraInstanceClaim` that says which AuraInstance holds an Aura instance, and
//! the projects (`AuraProject`, `ClusterAuraProject`) that scope credentials.

mod aura_instance;
mod claim;
mod customer_managed_key;
mod database;
mod database_user;
mod enums;
mod graph_analytics_session;
mod ip_filter;
mod kinds;
mod member;
pub mod packaging;
mod project;
mod refs;
mod snapshot;
pub mod versions;

pub use aura_instance::*;
pub use claim::*;
pub use customer_managed_key::*;
pub use database::*;
pub use database_user::*;
pub use enums::*;
pub use graph_analytics_session::*;
pub use ip_filter::*;
pub use kinds::{KINDS, KindInfo, Scope, kind_info};
pub use member::*;
pub use project::*;
pub use refs::*;
pub use snapshot::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// The API group of every kind.
pub const GROUP: &str = "aura-operator.io";

/// Every CRD this operator serves, each generated from its type ([`KINDS`]).
pub fn crds() -> Vec<CustomResourceDefinition> {
    KINDS.iter().map(KindInfo::crd).collect()
}

/// One CRD as the YAML document of `crds/<plural>.yaml`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    let body = serde_yaml::to_string(crd).expect("a CRD always serialises");
    format!("---\n{body}")
}

/// The CRD whose plural is `plural` (the file name under `crds/`).
pub fn crd_named(plural: &str) -> Option<CustomResourceDefinition> {
    KINDS.iter().find(|k| k.plural == plural).map(KindInfo::crd)
}

/// Writes every CRD to `<dir>/<plural>.yaml` and removes any other `.yaml`
/// there; returns the files written.
pub fn write_crds(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for info in KINDS {
        let path = dir.join(format!("{}.yaml", info.plural));
        std::fs::write(&path, crd_yaml(&info.crd()))?;
        written.push(path);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") && !written.contains(&path) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(written)
}

/// Every CRD as YAML documents (what `aura-operator crd` prints).
pub fn crds_yaml() -> String {
    crds().iter().map(crd_yaml).collect()
}

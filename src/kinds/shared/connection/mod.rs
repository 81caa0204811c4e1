//! What a connection Secret carries, for every kind that writes one (an
//! AuraInstance's admin login, an AuraDatabaseUser's own): the keys of each
//! format, and the templated extra keys.

pub mod format;
pub mod template;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;

use crate::reconciler::FIELD_MANAGER;

pub use crate::reconciler::credentials::read_key;

/// Labels and annotations that GitOps tools use to track their own objects: a
/// Secret carrying them would be taken for one of theirs (and pruned).
const TRACKING_PREFIXES: &[&str] = &[
    "argocd.argoproj.io/",
    "kustomize.toolkit.fluxcd.io/",
    "helm.toolkit.fluxcd.io/",
    "aura-operator.io/",
];
const TRACKING_KEYS: &[&str] = &["app.kubernetes.io/instance", "app.kubernetes.io/managed-by"];

/// The labels or annotations of a spec, without the ones GitOps tools and
/// the operator track objects by.
pub fn without_tracking(map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.iter()
        .filter(|(k, _)| {
            !TRACKING_KEYS.contains(&k.as_str())
                && !TRACKING_PREFIXES.iter().any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The first of `keys` the Secret holds, non-empty.
pub fn read_any(secret: &Secret, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| read_key(secret, k).filter(|v| !v.is_empty()))
}

/// The username and password a Secret holds, under any format's keys.
pub fn login(secret: &Secret) -> Option<(String, String)> {
    Some((
        read_any(secret, &format::USERNAME_KEYS)?,
        read_any(secret, &format::PASSWORD_KEYS)?,
    ))
}

/// The connection URL a Secret holds.
pub fn uri(secret: &Secret) -> Option<String> {
    read_any(secret, &format::URI_KEYS)
}

/// Writes a connection Secret whole (server-side apply, the operator's one
/// field manager): keys it no longer carries go.
pub async fn apply(secrets: &Api<Secret>, desired: &Secret) -> Result<Secret, kube::Error> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let mut body = serde_json::to_value(desired).map_err(kube::Error::SerdeError)?;
    body["apiVersion"] = json!("v1");
    body["kind"] = json!("Secret");
    secrets
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
}

/// Deletes the Secret named `name`, only if it is still the one read
/// (`uid`; `None`: whichever); one already gone is fine.
pub async fn delete(
    secrets: &Api<Secret>,
    name: &str,
    uid: Option<String>,
) -> Result<(), kube::Error> {
    let params = DeleteParams {
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..Default::default()
    };
    match secrets.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// A name as a label value: at most 63 characters, ending with a letter or
/// digit (a longer object name cut at 63 may end with '-' or '.').
pub fn label_value(name: &str) -> String {
    let cut: String = name.chars().take(63).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod label_tests {
    use super::label_value;

    #[test]
    fn long_names_make_valid_label_values() {
        assert_eq!(label_value("orders-api"), "orders-api");
        let long = format!("{}-x", "a".repeat(62));
        assert_eq!(label_value(&long), "a".repeat(62), "no trailing '-'");
        assert!(label_value(&"b".repeat(200)).len() == 63);
    }
}

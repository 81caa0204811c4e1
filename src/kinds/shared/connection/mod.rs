//! What a connection Secret carries, for every kind that writes one (an
//! AuraInstance's admin login, an AuraDatabaseUser's own): the keys of each
//! format, and the templated extra keys.

pub mod format;
pub mod template;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;

use crate::api::ConnectionSecret;
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

/// The controller reference to `obj`, of a Secret (or an AuraSnapshot)
/// made on its behalf.
pub fn controller_ref<K: Resource<DynamicType = ()>>(obj: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: obj.meta().name.clone().unwrap_or_default(),
        uid: obj.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: None,
    }
}

/// Whether the Secret's controller is the object with `uid` (DESIGN 4.12:
/// only such a Secret, or none, is written).
pub fn controlled_by(secret: &Secret, uid: Option<&str>) -> bool {
    uid.is_some_and(|uid| {
        secret
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && o.uid == uid)
    })
}

/// Whether any controller (this operator's object or another's) owns the Secret.
pub fn has_controller(secret: &Secret) -> bool {
    secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true))
}

/// Where a connection Secret goes and who it is for.
pub struct Target {
    pub name: String,
    pub namespace: Option<String>,
    /// The label the writing kind finds its Secrets by, and its value.
    pub label: (&'static str, String),
    pub owner: OwnerReference,
}

/// A connection Secret: the format's keys over `values`, the spec's extra
/// keys (templates), labels and annotations (without tracking ones).
pub fn build(
    spec: Option<&ConnectionSecret>,
    values: &format::Values<'_>,
    target: Target,
) -> Result<Secret, template::TemplateProblem> {
    let format = spec.and_then(|c| c.format).unwrap_or_default();
    let mut data = BTreeMap::new();
    if let Some(templates) = spec.map(|c| &c.extra_keys).filter(|e| !e.is_empty()) {
        for (k, v) in template::render(templates, values)? {
            data.insert(k, ByteString(v.into_bytes()));
        }
    }
    for (k, v) in format::keys(format, values) {
        data.insert(k.to_string(), ByteString(v.into_bytes()));
    }
    let mut labels = spec
        .map(|c| without_tracking(&c.labels))
        .unwrap_or_default();
    let (key, value) = target.label;
    labels.insert(key.to_string(), value);
    let annotations = spec
        .map(|c| without_tracking(&c.annotations))
        .unwrap_or_default();
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(target.name),
            namespace: target.namespace,
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![target.owner]),
            ..Default::default()
        },
        type_: Some(format::secret_type(format).into()),
        data: Some(data),
        ..Default::default()
    })
}

/// Writes `desired` in one request. A Secret's type cannot change: one of
/// another type (`existing`, as read) is deleted first, only if it is still
/// that one. The error names the step that failed.
pub async fn write(
    secrets: &Api<Secret>,
    existing: Option<&Secret>,
    desired: &Secret,
) -> Result<(), (&'static str, kube::Error)> {
    if let Some(old) = existing.filter(|s| s.type_ != desired.type_) {
        let name = desired.metadata.name.clone().unwrap_or_default();
        delete(secrets, &name, old.metadata.uid.clone())
            .await
            .map_err(|e| ("replace the Secret", e))?;
    }
    apply(secrets, desired)
        .await
        .map_err(|e| ("write the Secret", e))?;
    Ok(())
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

//! `aura-operator.io/credentials-in-use` (DESIGN 4.12): a credentials Secret
//! named by an AuraInstance stays until nothing that names it remains, so that
//! deleting a namespace that holds its own credentials destroys the instances
//! first instead of hanging on credentials that went before them.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::ReconcileError;
use crate::api::AuraInstance;

pub const FINALIZER: &str = "aura-operator.io/credentials-in-use";

/// Puts the finalizer on a credentials Secret that lacks it; returns the
/// Secret as it now is.
pub async fn hold(secrets: &Api<Secret>, secret: Secret) -> Result<Secret, ReconcileError> {
    let held = secret.finalizers().iter().any(|f| f == FINALIZER);
    if held || secret.meta().deletion_timestamp.is_some() {
        return Ok(secret);
    }
    let mut finalizers = secret.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": secret.resource_version(),
    }});
    secrets
        .patch(
            &secret.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
        .map_err(|e| ReconcileError::kube("hold the credentials Secret", e))
}

/// The credentials Secrets the remaining AuraInstances of a namespace name.
pub fn still_named(instances: &[Arc<AuraInstance>], leaving: &AuraInstance) -> BTreeSet<String> {
    instances
        .iter()
        .filter(|o| o.uid() != leaving.uid())
        .filter_map(|o| o.spec.credentials_secret_ref.as_ref())
        .map(|r| r.name.clone())
        .collect()
}

/// After `leaving` is gone: lets go of its credentials Secret when no other
/// AuraInstance of the namespace (as the watch shows them) names it. One that
/// appeared a moment ago and is not in the watch yet puts it back itself.
pub async fn release_unused(
    client: &kube::Client,
    leaving: &AuraInstance,
    others: &[Arc<AuraInstance>],
) -> Result<(), ReconcileError> {
    let Some(name) = leaving
        .spec
        .credentials_secret_ref
        .as_ref()
        .map(|r| &r.name)
    else {
        return Ok(());
    };
    if still_named(others, leaving).contains(name) {
        return Ok(());
    }
    let ns = leaving.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let Some(secret) = secrets
        .get_metadata_opt(name)
        .await
        .map_err(|e| ReconcileError::kube("read the credentials Secret", e))?
    else {
        return Ok(());
    };
    let finalizers = secret.finalizers();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != FINALIZER).collect();
    let patch = json!({"metadata": {
        "finalizers": kept,
        "resourceVersion": secret.resource_version(),
    }});
    match secrets
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        // Changed meanwhile (or gone): the next deletion looks again.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(ReconcileError::kube("release the credentials Secret", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(uid: &str, creds: Option<&str>) -> AuraInstance {
        let mut o: AuraInstance = serde_json::from_value(json!({
            "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraInstance",
            "metadata": {"name": uid, "namespace": "team-a", "uid": uid},
            "spec": {"cloudProvider": "gcp", "region": "europe-west1", "type": "enterprise-db", "memory": "8GB"},
        }))
        .unwrap();
        o.spec.credentials_secret_ref = creds.map(|n| crate::api::SecretRef { name: n.into() });
        o
    }

    #[test]
    fn a_secret_is_named_while_another_object_uses_it() {
        let leaving = obj("a", Some("aura-api"));
        let others: Vec<Arc<AuraInstance>> = [
            leaving.clone(),
            obj("b", Some("aura-api")),
            obj("c", Some("other-api")),
            obj("d", None),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let named = still_named(&others, &leaving);
        assert_eq!(
            named.into_iter().collect::<Vec<_>>(),
            ["aura-api", "other-api"]
        );
        assert!(still_named(&[Arc::new(leaving.clone())], &leaving).is_empty());
    }
}

//! `aura-operator.io/credentials-in-use` (DESIGN 4.12): a credentials Secret
//! named by an object stays until nothing that names it remains, so that
//! deleting a namespace that holds its own credentials destroys the instances
//! first instead of hanging on credentials that went before them.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::ReconcileError;

pub const FINALIZER: &str = "aura-operator.io/credentials-in-use";

/// Puts the finalizer on a credentials Secret that lacks it; returns the
/// Secret as it now is (or as read, when another writer changed it first).
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
    match secrets
        .patch(
            &secret.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(held) => Ok(held),
        // Changed since it was read, most likely by another object putting the
        // finalizer on at the same moment: the credentials are good, and the
        // next read of the Secret looks again.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(secret),
        Err(e) => Err(ReconcileError::kube("hold the credentials Secret", e)),
    }
}

/// After an object that named `leaving` (in `namespace`) is gone: lets go of
/// that credentials Secret when none of `still_named` (the Secrets the
/// remaining objects of the namespace name, as the watches show them) is it.
/// One that appeared a moment ago and is not in the watch yet puts it back itself.
pub async fn release_unused(
    client: &kube::Client,
    namespace: &str,
    leaving: &str,
    still_named: &BTreeSet<String>,
) -> Result<(), ReconcileError> {
    if still_named.contains(leaving) {
        return Ok(());
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let Some(secret) = secrets
        .get_metadata_opt(leaving)
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
        .patch(leaving, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        // Changed meanwhile (or gone): the next deletion looks again.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(ReconcileError::kube("release the credentials Secret", e)),
    }
}

//! Storage migration after an upgrade that promoted kinds (README,
//! "Upgrading to v1beta1"). Objects written before the new CRDs were applied
//! are still stored in the older version; each is rewritten once (a no-op
//! patch: the apiserver stores every write in the storage version), owner
//! references naming the older version move to the storage version (so that
//! a later removal of that version cannot orphan or collect anything, and
//! the watches that map a Secret to its owner by apiVersion see it), and
//! then the CRD's `status.storedVersions` is trimmed to the storage version.
//!
//! The leader runs it once at start in cluster-wide mode; `aura-operator
//! migrate-storage` runs it with the caller's kubeconfig. Running it again
//! finds nothing to do.

use std::fmt;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use crate::api::{GROUP, KINDS, KindInfo};
use crate::kinds::instance::secret::owned_selector;

/// Objects listed per page.
const PAGE: u32 = 250;

/// What to do for one kind, from its CRD as the cluster has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Only the storage version was ever stored.
    NothingToDo,
    /// The cluster's CRD still stores another version (the new CRDs are
    /// not applied yet): a rewrite would store the old version again.
    CrdNotUpgraded { cluster_storage: String },
    /// Objects may be stored in `from`; rewrite them, then trim.
    Migrate { from: Vec<String> },
}

/// The plan for a kind whose storage version is `storage`.
pub fn plan(crd: &CustomResourceDefinition, storage: &str) -> Plan {
    let cluster_storage = crd
        .spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.clone())
        .unwrap_or_default();
    if cluster_storage != storage {
        return Plan::CrdNotUpgraded { cluster_storage };
    }
    let stored = crd
        .status
        .as_ref()
        .and_then(|s| s.stored_versions.clone())
        .unwrap_or_default();
    let from: Vec<String> = stored.into_iter().filter(|v| v != storage).collect();
    if from.is_empty() {
        Plan::NothingToDo
    } else {
        Plan::Migrate { from }
    }
}

/// A promoted kind with its storage version, read once from its CRD.
pub struct Promoted {
    pub info: &'static KindInfo,
    pub storage: String,
}

/// The kinds that serve older versions beside their storage version.
pub fn promoted() -> Vec<Promoted> {
    KINDS
        .iter()
        .filter(|k| !k.older_versions.is_empty())
        .map(|info| Promoted {
            info,
            storage: info.crd().spec.versions[0].name.clone(),
        })
        .collect()
}

/// The owner references with every one naming an older version of a
/// promoted kind moved to that kind's storage version; `None` when none
/// does.
pub fn moved_owner_references(
    refs: &[OwnerReference],
    promoted: &[Promoted],
) -> Option<Vec<OwnerReference>> {
    let mut moved = false;
    let refs = refs
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(storage) = storage_version_for(&r, promoted) {
                r.api_version = format!("{GROUP}/{storage}");
                moved = true;
            }
            r
        })
        .collect();
    moved.then_some(refs)
}

/// The storage version an owner reference should name, when it names an
/// older one.
fn storage_version_for<'a>(r: &OwnerReference, promoted: &'a [Promoted]) -> Option<&'a str> {
    let version = r.api_version.strip_prefix(GROUP)?.strip_prefix('/')?;
    let kind = promoted.iter().find(|p| p.info.kind == r.kind)?;
    kind.info
        .older_versions
        .contains(&version)
        .then_some(kind.storage.as_str())
}

fn crd_name(info: &KindInfo) -> String {
    format!("{}.{GROUP}", info.plural)
}

/// What one kind's migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindReport {
    pub kind: &'static str,
    pub plan: Plan,
    /// Objects rewritten in the storage version.
    pub rewritten: u64,
    /// Of those, how many had owner references moved.
    pub owner_references_moved: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub kinds: Vec<KindReport>,
    /// Connection Secrets whose owner references moved.
    pub secrets_moved: u64,
}

impl Report {
    /// Objects rewritten, all kinds together.
    pub fn rewritten(&self) -> u64 {
        self.kinds.iter().map(|k| k.rewritten).sum()
    }
}

/// A step of the migration that failed, with the apiserver's answer.
#[derive(Debug)]
pub struct MigrationError {
    pub step: String,
    pub source: kube::Error,
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage migration: {}: {}", self.step, self.source)
    }
}

impl std::error::Error for MigrationError {}

fn failed(step: impl Into<String>) -> impl FnOnce(kube::Error) -> MigrationError {
    let step = step.into();
    move |source| MigrationError { step, source }
}

/// Runs the migration for every promoted kind. Nothing is trimmed unless
/// every object of the kind was rewritten first.
pub async fn migrate(client: &Client) -> Result<Report, MigrationError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut report = Report::default();
    let mut to_trim = Vec::new();
    let promoted = promoted();
    for Promoted { info, storage } in &promoted {
        let name = crd_name(info);
        let crd = crds
            .get(&name)
            .await
            .map_err(failed(format!("read the CRD {name}")))?;
        let plan = plan(&crd, storage);
        let mut kind = KindReport {
            kind: info.kind,
            plan: plan.clone(),
            rewritten: 0,
            owner_references_moved: 0,
        };
        match &plan {
            Plan::NothingToDo => {}
            Plan::CrdNotUpgraded { cluster_storage } => warn!(
                crd = %name,
                %cluster_storage,
                "the CRD in the cluster still stores {cluster_storage}: apply the CRDs of this release (README: Upgrading to v1beta1), then run the migration again"
            ),
            Plan::Migrate { from } => {
                info!(crd = %name, ?from, to = %storage, "rewriting objects stored in an older version");
                rewrite_all(client, info, storage, &promoted, &mut kind).await?;
                to_trim.push((name, storage.clone()));
            }
        }
        report.kinds.push(kind);
    }
    if to_trim.is_empty() {
        return Ok(report);
    }
    report.secrets_moved = move_secret_owners(client, &promoted).await?;
    for (name, storage) in to_trim {
        crds.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"storedVersions": [storage]}})),
        )
        .await
        .map_err(failed(format!(
            "trim status.storedVersions of the CRD {name}"
        )))?;
        info!(crd = %name, stored_versions = ?[&storage], "storedVersions trimmed");
    }
    Ok(report)
}

/// Rewrites every object of the kind, page by page.
async fn rewrite_all(
    client: &Client,
    info: &KindInfo,
    storage: &str,
    promoted: &[Promoted],
    report: &mut KindReport,
) -> Result<(), MigrationError> {
    let resource = ApiResource {
        group: GROUP.into(),
        version: storage.into(),
        api_version: format!("{GROUP}/{storage}"),
        kind: info.kind.into(),
        plural: info.plural.into(),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(failed(format!("list {}", info.plural)))?;
        for obj in &page.items {
            rewrite(client, &resource, obj, promoted, report).await?;
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// One object: a patch that changes nothing but, where they name an older
/// version, its owner references. Any write stores the storage version; a
/// conflict means another write did so already, a 404 that it is gone.
async fn rewrite(
    client: &Client,
    resource: &ApiResource,
    obj: &DynamicObject,
    promoted: &[Promoted],
    report: &mut KindReport,
) -> Result<(), MigrationError> {
    let api: Api<DynamicObject> = match obj.namespace() {
        Some(ns) => Api::namespaced_with(client.clone(), &ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let mut metadata = json!({"resourceVersion": obj.resource_version()});
    let moved = moved_owner_references(obj.owner_references(), promoted);
    if let Some(refs) = &moved {
        metadata["ownerReferences"] = json!(refs);
    }
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": metadata})),
        )
        .await
    {
        Ok(_) => {
            report.rewritten += 1;
            report.owner_references_moved += u64::from(moved.is_some());
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(()),
        Err(e) => Err(failed(format!(
            "rewrite {} {}",
            resource.kind,
            obj.name_any()
        ))(e)),
    }
}

/// Moves the owner references of the connection Secrets the operator writes.
async fn move_secret_owners(client: &Client, promoted: &[Promoted]) -> Result<u64, MigrationError> {
    let api: Api<Secret> = Api::all(client.clone());
    let mut params = ListParams::default().labels(&owned_selector()).limit(PAGE);
    let mut moved = 0;
    loop {
        let page = api
            .list_metadata(&params)
            .await
            .map_err(failed("list the operator's Secrets"))?;
        for secret in &page.items {
            let Some(refs) = moved_owner_references(secret.owner_references(), promoted) else {
                continue;
            };
            let ns = secret.namespace().unwrap_or_default();
            let patch = json!({"metadata": {
                "resourceVersion": secret.resource_version(),
                "ownerReferences": refs,
            }});
            match Api::<Secret>::namespaced(client.clone(), &ns)
                .patch(
                    &secret.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
            {
                Ok(_) => moved += 1,
                // Written meanwhile (the writer sets the new reference) or gone.
                Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {}
                Err(e) => {
                    return Err(failed(format!(
                        "move the owner of Secret {ns}/{}",
                        secret.name_any()
                    ))(e));
                }
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(moved),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionStatus;

    use super::*;

    fn crd(storage: &str, stored: &[&str]) -> CustomResourceDefinition {
        let mut crd = crate::api::kind_info("AuraInstance").unwrap().crd();
        for v in &mut crd.spec.versions {
            v.storage = v.name == storage;
        }
        crd.status = Some(CustomResourceDefinitionStatus {
            stored_versions: Some(stored.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        });
        crd
    }

    #[test]
    fn the_plan_follows_the_clusters_crd() {
        let cases = [
            (
                "v1beta1",
                vec!["v1alpha1", "v1beta1"],
                Plan::Migrate {
                    from: vec!["v1alpha1".into()],
                },
            ),
            (
                "v1beta1",
                vec!["v1alpha1"],
                Plan::Migrate {
                    from: vec!["v1alpha1".into()],
                },
            ),
            ("v1beta1", vec!["v1beta1"], Plan::NothingToDo),
            ("v1beta1", vec![], Plan::NothingToDo),
            (
                "v1alpha1",
                vec!["v1alpha1"],
                Plan::CrdNotUpgraded {
                    cluster_storage: "v1alpha1".into(),
                },
            ),
        ];
        for (storage, stored, expected) in cases {
            assert_eq!(
                plan(&crd(storage, &stored), "v1beta1"),
                expected,
                "{storage} {stored:?}"
            );
        }
    }

    #[test]
    fn owner_references_move_only_for_older_versions_of_promoted_kinds() {
        let promoted = promoted();
        let r = |api_version: &str, kind: &str| OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "x".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        let cases = [
            (
                r("aura-operator.io/v1alpha1", "AuraInstance"),
                Some("aura-operator.io/v1beta1"),
            ),
            (
                r("aura-operator.io/v1alpha1", "AuraProject"),
                Some("aura-operator.io/v1beta1"),
            ),
            (r("aura-operator.io/v1beta1", "AuraInstance"), None),
            // Not promoted: stays v1alpha1.
            (r("aura-operator.io/v1alpha1", "AuraDatabaseUser"), None),
            (r("apps/v1", "Deployment"), None),
            (r("other.io/v1alpha1", "AuraInstance"), None),
        ];
        for (reference, expected) in cases {
            let moved = moved_owner_references(std::slice::from_ref(&reference), &promoted);
            assert_eq!(
                moved.as_ref().map(|m| m[0].api_version.as_str()),
                expected,
                "{reference:?}"
            );
            if let Some(m) = moved {
                assert_eq!(
                    (m[0].kind.as_str(), m[0].uid.as_str()),
                    (reference.kind.as_str(), "u")
                );
            }
        }
        // Only the old one of two moves.
        let two = [
            r("apps/v1", "Deployment"),
            r("aura-operator.io/v1alpha1", "AuraSnapshot"),
        ];
        let moved = moved_owner_references(&two, &promoted).unwrap();
        assert_eq!(moved[0], two[0]);
        assert_eq!(moved[1].api_version, "aura-operator.io/v1beta1");
    }
}

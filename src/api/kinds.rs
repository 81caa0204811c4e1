//! The one list of kinds. Everything else that enumerates kinds (the files
//! under `crds/`, the runtime's controllers, RBAC in the chart and in
//! `deploy/`, the kustomization, Argo CD health checks and kstatus fixtures)
//! is generated from this list or checked against it by a test.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{
    AuraCustomerManagedKey, AuraDatabase, AuraDatabaseBackup, AuraDatabaseRestore,
    AuraDatabaseUser, AuraGraphAnalyticsSession, AuraIPFilter, AuraInstance, AuraInstanceClaim,
    AuraOrganizationMember, AuraProject, AuraProjectMember, AuraRestore, AuraSnapshot,
    ClusterAuraIPFilter, ClusterAuraProject,
};

/// Where a kind's objects live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// One kind of `aura-operator.io`, as the code outside its own folder needs it.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// The kind's name, as in `kind:` of a manifest.
    pub kind: &'static str,
    /// Its plural, as in the CRD's file name and in RBAC rules.
    pub plural: &'static str,
    pub scope: Scope,
    /// One line on what an object of the kind is (the chart's Artifact Hub list).
    pub summary: &'static str,
    /// A controller of its own reconciles it (the claim is written by the
    /// AuraInstance controller and has none).
    pub reconciled: bool,
    /// The verbs the operator uses on the kind's objects: exactly what RBAC grants.
    pub verbs: &'static [&'static str],
    /// The verbs on its `/status` (none: it writes no status).
    pub status_verbs: &'static [&'static str],
    /// The verbs on its `/finalizers`: `update` for kinds whose objects own
    /// others with `blockOwnerDeletion` (the apiserver checks it there).
    pub finalizer_verbs: &'static [&'static str],
    /// The versions served beside the storage version (the type's), older
    /// and deprecated, converted by the apiserver alone (see `versions`).
    pub older_versions: &'static [&'static str],
    crd: fn() -> CustomResourceDefinition,
}

impl KindInfo {
    /// The kind's CustomResourceDefinition, generated from its type.
    pub fn crd(&self) -> CustomResourceDefinition {
        super::versions::finish((self.crd)(), self.summary, self.older_versions)
    }
}

const READ_AND_PATCH: &[&str] = &["get", "list", "watch", "patch"];
const PATCH: &[&str] = &["patch"];

/// The kinds of v1alpha1 promoted to v1beta1 (README, "API versions"); the
/// kinds added since stay v1alpha1 until they have lived a while.
const PROMOTED_FROM_V1ALPHA1: &[&str] = &["v1alpha1"];

/// Every kind, in the order its CRD is printed.
pub const KINDS: &[KindInfo] = &[
    KindInfo {
        kind: "AuraInstance",
        plural: "aurainstances",
        scope: Scope::Namespaced,
        summary: "A Neo4j Aura database, declared.",
        reconciled: true,
        verbs: &["get", "list", "watch", "patch", "update"],
        status_verbs: &["get", "patch", "update"],
        finalizer_verbs: &["update"],
        older_versions: PROMOTED_FROM_V1ALPHA1,
        crd: AuraInstance::crd,
    },
    KindInfo {
        kind: "AuraInstanceClaim",
        plural: "aurainstanceclaims",
        scope: Scope::Cluster,
        summary: "Which AuraInstance holds an Aura instance; written by the operator only.",
        reconciled: false,
        // patch: the storage migration's rewrite (`migration`).
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        status_verbs: &[],
        finalizer_verbs: &[],
        older_versions: PROMOTED_FROM_V1ALPHA1,
        crd: AuraInstanceClaim::crd,
    },
    KindInfo {
        kind: "AuraProject",
        plural: "auraprojects",
        scope: Scope::Namespaced,
        summary: "Aura API credentials for the AuraInstances of one namespace.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: PROMOTED_FROM_V1ALPHA1,
        crd: AuraProject::crd,
    },
    KindInfo {
        kind: "ClusterAuraProject",
        plural: "clusterauraprojects",
        scope: Scope::Cluster,
        summary: "Aura API credentials for the AuraInstances of the namespaces it allows.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: PROMOTED_FROM_V1ALPHA1,
        crd: ClusterAuraProject::crd,
    },
    KindInfo {
        kind: "AuraSnapshot",
        plural: "aurasnapshots",
        scope: Scope::Namespaced,
        summary: "One snapshot of an AuraInstance, taken on demand, on a schedule or before a change.",
        reconciled: true,
        // Scheduled and before-change snapshots are made and pruned by the operator.
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: PROMOTED_FROM_V1ALPHA1,
        crd: AuraSnapshot::crd,
    },
    KindInfo {
        kind: "AuraRestore",
        plural: "aurarestores",
        scope: Scope::Namespaced,
        summary: "A restore or overwrite of an AuraInstance from a snapshot or another instance.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: PROMOTED_FROM_V1ALPHA1,
        crd: AuraRestore::crd,
    },
    KindInfo {
        kind: "AuraDatabaseUser",
        plural: "auradatabaseusers",
        scope: Scope::Namespaced,
        summary: "One database login per application in an AuraInstance's database, rotated without downtime.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraDatabaseUser::crd,
    },
    KindInfo {
        kind: "AuraCustomerManagedKey",
        plural: "auracustomermanagedkeys",
        scope: Scope::Namespaced,
        summary: "A customer-managed encryption key registered with Aura, for the AuraInstances that name it.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraCustomerManagedKey::crd,
    },
    KindInfo {
        kind: "AuraGraphAnalyticsSession",
        plural: "auragraphanalyticssessions",
        scope: Scope::Namespaced,
        summary: "A Graph Analytics session, attached to an AuraInstance or standalone, ended with its object.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraGraphAnalyticsSession::crd,
    },
    KindInfo {
        kind: "AuraIPFilter",
        plural: "auraipfilters",
        scope: Scope::Namespaced,
        summary: "An Aura IP filter, the network ranges allowed to reach AuraInstances of the namespace.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraIPFilter::crd,
    },
    KindInfo {
        kind: "ClusterAuraIPFilter",
        plural: "clusterauraipfilters",
        scope: Scope::Cluster,
        summary: "An Aura IP filter on the Aura projects of ClusterAuraProjects, for platform teams.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: ClusterAuraIPFilter::crd,
    },
    KindInfo {
        kind: "AuraProjectMember",
        plural: "auraprojectmembers",
        scope: Scope::Cluster,
        summary: "A person's role in the Aura project of a ClusterAuraProject, invited when they have no account yet.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraProjectMember::crd,
    },
    KindInfo {
        kind: "AuraOrganizationMember",
        plural: "auraorganizationmembers",
        scope: Scope::Cluster,
        summary: "A person's role in an Aura organization, invited when they have no account yet.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraOrganizationMember::crd,
    },
    KindInfo {
        kind: "AuraDatabase",
        plural: "auradatabases",
        scope: Scope::Namespaced,
        summary: "A database inside a multi-database AuraInstance, with a connection Secret naming it.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraDatabase::crd,
    },
    KindInfo {
        kind: "AuraDatabaseBackup",
        plural: "auradatabasebackups",
        scope: Scope::Namespaced,
        summary: "One backup of an AuraDatabase, taken once and followed until Aura reports it Completed.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraDatabaseBackup::crd,
    },
    KindInfo {
        kind: "AuraDatabaseRestore",
        plural: "auradatabaserestores",
        scope: Scope::Namespaced,
        summary: "Overwrites an AuraDatabase with one of its backups, sent at most once; Submitted, never claimed done.",
        reconciled: true,
        verbs: READ_AND_PATCH,
        status_verbs: PATCH,
        finalizer_verbs: &[],
        older_versions: &[],
        crd: AuraDatabaseRestore::crd,
    },
];

/// The kind named `kind` (as in a manifest's `kind:`).
pub fn kind_info(kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_says_what_its_crd_says() {
        for info in KINDS {
            let crd = info.crd();
            assert_eq!(crd.spec.names.kind, info.kind);
            assert_eq!(crd.spec.names.plural, info.plural, "{}", info.kind);
            let scope = match info.scope {
                Scope::Namespaced => "Namespaced",
                Scope::Cluster => "Cluster",
            };
            assert_eq!(crd.spec.scope, scope, "{}", info.kind);
            assert_eq!(crd.spec.group, super::super::GROUP, "{}", info.kind);
            let has_status = crd
                .spec
                .versions
                .iter()
                .any(|v| v.subresources.as_ref().is_some_and(|s| s.status.is_some()));
            assert_eq!(
                has_status,
                !info.status_verbs.is_empty(),
                "{}: the status verbs follow the status subresource",
                info.kind
            );
        }
    }

    #[test]
    fn kinds_and_plurals_are_unique() {
        let mut kinds: Vec<_> = KINDS.iter().map(|k| k.kind).collect();
        let mut plurals: Vec<_> = KINDS.iter().map(|k| k.plural).collect();
        kinds.sort_unstable();
        kinds.dedup();
        plurals.sort_unstable();
        plurals.dedup();
        assert_eq!(kinds.len(), KINDS.len());
        assert_eq!(plurals.len(), KINDS.len());
        assert!(kind_info("AuraInstance").is_some());
        assert!(kind_info("NoSuchKind").is_none());
    }
}

//! Keeping tests apart on the shared apiserver.
//!
//! Every test works in namespaces of its own and runs its own `aura-operator
//! run --namespace <ns>`, but an operator sees more than its namespaces: it
//! watches the cluster-scoped kinds (ClusterAuraProject, AuraInstanceClaim)
//! and the Namespaces of the whole cluster. A ClusterAuraProject is
//! reconciled by every operator running: each counts its users from what it
//! sees, writes its status, asks for a token on the project's credentials
//! (at its own simulator) and may let its finalizer go; the one named
//! `default` is every operator's credentials for objects that name none. So
//! the tests take one lock of this module, [`CLUSTER`]:
//!
//! - **shared** ([`shared`]): a test that runs an operator, for as long as it
//!   runs. [`Harness::start`](super::harness::Harness::start) takes it; a test
//!   that starts `aura-operator run` by other means takes it itself.
//! - **exclusive** ([`exclusive`]): a test whose objects or operator reach
//!   beyond its namespaces, so that no other operator runs meanwhile: it
//!   creates a ClusterAuraProject (with or without an operator of its own),
//!   installs the chart (its ClusterRoles, the ClusterAuraProject `default`,
//!   a ValidatingAdmissionPolicy) or applies `deploy/`, or measures the whole
//!   apiserver (its count of open watches).
//!   [`Harness::start_exclusive`](super::harness::Harness::start_exclusive)
//!   takes it.
//! - **none**: a test that runs no operator and creates nothing that
//!   reaches beyond its namespace (status written by hand in its own
//!   namespace, server-side dry runs, `helm template`, the simulator alone)
//!   runs beside anything.
//!
//! The lock is tokio's `RwLock`, which is fair: an exclusive test waits for
//! the shared ones that run, and the shared ones that come after it wait for
//! it; it works across the tests' runtimes. When an exclusive holder lets go
//! (also when its test failed), the ClusterAuraProjects the tests made
//! (labelled [`TEST_LABEL`]) and the one named `default` are removed,
//! finalizers and all, so that a failed test leaves no project for the next
//! operators to reconcile; so are the admission policies of a chart release
//! that a failed test could not uninstall (its deletion protection would
//! refuse every later test's delete of a protected object).
//!
//! A test that must not meet an exclusive one without running an operator
//! (a server-side dry run of the ClusterAuraProject `default`, which a
//! release's real one would turn into a different request) takes the shared
//! lock too.
//!
//! The ValidatingAdmissionPolicy of `deploy/deletion-protection.yaml` is
//! cluster-wide too, but matters only to the tests that delete protected
//! objects or apply it: they take [`DELETION_POLICY`] besides, always
//! *before* the cluster lock, so that the two never wait on each other in a
//! circle.

use std::time::Duration;

use aura_operator::api::ClusterAuraProject;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The lock of this module (see the module docs).
pub static CLUSTER: RwLock<()> = RwLock::const_new(());

/// Held for reading by the tests that need the deletion-protection policy
/// applied (they apply it one at a time), for writing by the one that needs
/// it gone and by the README's, whose block applies it with a plain `kubectl
/// apply` that would race theirs. Take it before [`CLUSTER`].
pub static DELETION_POLICY: RwLock<()> = RwLock::const_new(());

/// The label of every test namespace and of every cluster-scoped object the
/// tests make.
pub const TEST_LABEL: (&str, &str) = ("aura-operator.io/testenv", "true");

/// How long the removal of leftover projects may take.
const CLEANUP: Duration = Duration::from_secs(30);

/// A test's hold on [`CLUSTER`]; dropped, it lets go.
#[must_use = "the lock is held only while the guard lives"]
pub enum Hold {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(Exclusive),
}

/// The exclusive hold; dropped, it removes the tests' ClusterAuraProjects and
/// any release's admission policies, then lets go.
pub struct Exclusive {
    _guard: RwLockWriteGuard<'static, ()>,
}

/// Takes [`CLUSTER`] shared: for a test that runs an operator.
pub async fn shared() -> Hold {
    Hold::Shared(CLUSTER.read().await)
}

/// Takes [`CLUSTER`] exclusively: for a test whose objects or operator reach
/// beyond its namespaces.
pub async fn exclusive() -> Hold {
    Hold::Exclusive(Exclusive {
        _guard: CLUSTER.write().await,
    })
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        // Nothing to remove if the control plane never started; and this
        // must not start it.
        if !super::started() {
            return;
        }
        // A runtime of its own on a thread of its own: this runs in a test's
        // runtime (or while its panic unwinds), which must not be blocked on.
        let removed = std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the cleanup")
                .block_on(async {
                    let projects = remove_test_projects().await;
                    let policies = remove_release_policies().await;
                    projects.and(policies)
                })
        })
        .join();
        if let Ok(Err(e)) = removed {
            eprintln!("cleaning up after an exclusive test: {e}");
        }
    }
}

/// The labels of the cluster-scoped admission policies a release of the
/// chart makes.
const RELEASE_POLICIES: &str =
    "app.kubernetes.io/part-of=aura-operator,app.kubernetes.io/managed-by=Helm";

/// Removes the admission policies (and their bindings) of any release of the
/// chart still installed. A test that installs the chart holds the exclusive
/// lock and uninstalls it before it lets go, unless it failed first; a
/// deletion-protection policy left behind would refuse other tests' deletes
/// of protected objects for good.
async fn remove_release_policies() -> Result<(), String> {
    let client = super::admin_client().await;
    let selector = ListParams::default().labels(RELEASE_POLICIES);
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client);
    bindings
        .delete_collection(&DeleteParams::default(), &selector)
        .await
        .map_err(|e| format!("removing a release's policy bindings: {e}"))?;
    policies
        .delete_collection(&DeleteParams::default(), &selector)
        .await
        .map_err(|e| format!("removing a release's policies: {e}"))?;
    Ok(())
}

/// Removes every ClusterAuraProject labelled [`TEST_LABEL`], and the one named
/// `default`, and waits until they are gone.
async fn remove_test_projects() -> Result<(), String> {
    let api: Api<ClusterAuraProject> = Api::all(super::admin_client().await);
    let (key, value) = TEST_LABEL;
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?;
    let left: Vec<String> = list
        .items
        .iter()
        .filter(|p| {
            p.name_any() == "default" || p.labels().get(key).map(String::as_str) == Some(value)
        })
        .map(ResourceExt::name_any)
        .collect();
    for name in &left {
        let _ = api
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
        let _ = api.delete(name, &DeleteParams::default()).await;
    }
    let gone = super::poll(CLEANUP, Duration::from_millis(200), || {
        let api = api.clone();
        let left = left.clone();
        async move {
            for name in &left {
                if !matches!(api.get_opt(name).await, Ok(None)) {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    gone.ok_or_else(|| format!("still there after {CLEANUP:?}: {left:?}"))
}

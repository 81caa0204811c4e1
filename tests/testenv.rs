//! Checks of the local test control plane itself (tests/testenv/run and
//! tests/e2e/support): CRDs and custom objects, namespace deletion and garbage
//! collection (kube-controller-manager), RBAC with impersonation, the built
//! version, and two control planes side by side.
//!
//! A binary of its own, not a module of `tests/e2e`: it checks the launcher
//! and the control plane themselves, from a fresh process (the first start,
//! with nothing cached in-process) and with a second control plane of its own
//! next to the shared one, whose teardown it watches; the e2e tests take a
//! working control plane for granted.

#[path = "e2e/support/mod.rs"]
#[allow(unused_imports)] // the e2e tests use the rest
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

use support::{api_error_code, eventually};

const CRD_GROUP: &str = "testenv.aura-operator.io";

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("widgets.{CRD_GROUP}") },
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget" },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": { "size": { "type": "integer" } }
                        }
                    }
                }}
            }]
        }
    }))
    .expect("valid CRD")
}

#[tokio::test]
async fn crd_custom_object_and_namespace_deletion() {
    let client = support::admin_client().await;

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = widget_crd();
    let crd_name = crd.metadata.name.clone().unwrap();
    crds.patch(
        &crd_name,
        &PatchParams::apply("aura-testenv").force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("apply CRD");
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(crds, &crd_name, conditions::is_crd_established()),
    )
    .await
    .expect("CRD established within 30s")
    .expect("watch CRD");

    let ns = support::test_namespace(&client, "widgets").await;
    let gvk = GroupVersionKind::gvk(CRD_GROUP, "v1", "Widget");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "widgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
    let mut widget = DynamicObject::new("w1", &ar).within(&ns);
    widget.data = json!({ "spec": { "size": 3 } });

    // Established means served, but allow a moment for the first request.
    eventually("creating a Widget", Duration::from_secs(10), || async {
        match widgets.create(&PostParams::default(), &widget).await {
            Ok(_) => Some(()),
            Err(e) if api_error_code(&e) == Some(404) => None,
            Err(e) => panic!("create widget: {e}"),
        }
    })
    .await;
    let read = widgets.get("w1").await.expect("read widget back");
    assert_eq!(read.data["spec"]["size"], json!(3));
    assert_eq!(read.types.as_ref().unwrap().kind, "Widget");

    // Namespace deletion needs kube-controller-manager's namespace controller
    // (it deletes the Widget and then removes the finalizer).
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .expect("delete namespace");
    eventually(
        "the namespace to disappear",
        Duration::from_secs(60),
        || async {
            match namespaces.get_opt(&ns).await.expect("get namespace") {
                None => Some(()),
                Some(_) => None,
            }
        },
    )
    .await;
}

#[tokio::test]
async fn rbac_is_enforced_for_impersonated_service_account() {
    let admin = support::admin_client().await;
    let ns = support::test_namespace(&admin, "rbac").await;
    let sa = ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some("probe".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &sa)
        .await
        .expect("create service account");

    let as_sa = support::impersonating_client(&ns, "probe").await;
    let cms: Api<ConfigMap> = Api::namespaced(as_sa, &ns);
    let err = cms
        .list(&ListParams::default())
        .await
        .expect_err("a ServiceAccount without RBAC must not list ConfigMaps");
    assert_eq!(api_error_code(&err), Some(403), "{err}");

    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "configmap-reader" },
        "rules": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"] }]
    }))
    .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "probe-reads-configmaps" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader" },
        "subjects": [{ "kind": "ServiceAccount", "name": "probe", "namespace": ns }]
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await
        .expect("create role");
    Api::<RoleBinding>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .expect("create role binding");

    eventually(
        "RBAC to allow the list",
        Duration::from_secs(15),
        || async {
            match cms.list(&ListParams::default()).await {
                Ok(_) => Some(()),
                Err(e) if api_error_code(&e) == Some(403) => None,
                Err(e) => panic!("list configmaps as the ServiceAccount: {e}"),
            }
        },
    )
    .await;
    // Still read-only.
    let err = cms
        .create(&PostParams::default(), &ConfigMap::default())
        .await
        .expect_err("the Role does not allow create");
    assert_eq!(api_error_code(&err), Some(403), "{err}");
}

#[tokio::test]
async fn owned_objects_are_garbage_collected() {
    let client = support::admin_client().await;
    let ns = support::test_namespace(&client, "gc").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);

    let owner: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "owner" },
        "data": { "role": "owner" }
    }))
    .unwrap();
    let owner = cms
        .create(&PostParams::default(), &owner)
        .await
        .expect("create owner");
    let dependent: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "dependent",
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": "owner",
                "uid": owner.metadata.uid.clone().unwrap(),
                "blockOwnerDeletion": false
            }]
        },
        "data": { "role": "dependent" }
    }))
    .unwrap();
    cms.create(&PostParams::default(), &dependent)
        .await
        .expect("create dependent");

    cms.delete("owner", &DeleteParams::background())
        .await
        .expect("delete owner");
    eventually(
        "the dependent to be collected",
        Duration::from_secs(60),
        || async {
            match cms.get_opt("dependent").await.expect("get dependent") {
                None => Some(()),
                Some(_) => None,
            }
        },
    )
    .await;
}

#[test]
fn kubectl_reports_the_built_server_version() {
    let want = support::testenv_version("KUBERNETES_VERSION");
    let out = support::kubectl()
        .args(["version", "-o", "json"])
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl version failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("kubectl JSON");
    assert_eq!(v["serverVersion"]["gitVersion"], json!(want), "{v}");
    assert_eq!(v["clientVersion"]["gitVersion"], json!(want), "{v}");
}

#[test]
fn helm_talks_to_the_control_plane() {
    let want = support::testenv_version("HELM_VERSION");
    let out = support::helm()
        .args(["version", "--short"])
        .output()
        .expect("run helm");
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(version.starts_with(&want), "helm version: {version}");
    let out = support::helm()
        .args(["list", "--all-namespaces", "-o", "json"])
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let releases: serde_json::Value = serde_json::from_slice(&out.stdout).expect("helm JSON");
    assert!(releases.is_array(), "{releases}");
}

/// A second control plane next to the shared one: own ports, own data;
/// it shuts down (and removes its kubeconfig) when its parent process dies.
#[tokio::test]
async fn two_control_planes_side_by_side() {
    let shared = support::admin_client().await;
    let shared_url = support::admin_config().await.cluster_url;

    // A stand-in parent whose death must stop the second launcher (itself
    // killed if this test's thread dies first).
    let mut parent = std::process::Command::new("setpriv")
        .args(["--pdeathsig", "KILL", "--", "sleep", "600"])
        .spawn()
        .expect("spawn sleep");
    let kubeconfig = support::scratch_path("second-kubeconfig");
    let parent_pid = parent.id();
    let path = kubeconfig.clone();
    let second = tokio::task::spawn_blocking(move || {
        support::Launcher::start(&path, parent_pid, Duration::from_secs(180))
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"));

    let config = support::config_from(second.kubeconfig()).await;
    assert_ne!(config.cluster_url, shared_url);
    let other = kube::Client::try_from(config).unwrap();
    let ns = support::test_namespace(&other, "second").await;
    let on_shared = Api::<Namespace>::all(shared).get_opt(&ns).await.unwrap();
    assert!(
        on_shared.is_none(),
        "namespace {ns} leaked into the shared apiserver"
    );

    parent.kill().unwrap();
    parent.wait().unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let status = second.wait_exit(Duration::from_secs(30));
        (status, second)
    })
    .await
    .unwrap();
    let (status, second) = status;
    let status = status.unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status}\n{}", second.stderr_tail());
    assert!(
        !kubeconfig.exists(),
        "{} was not removed",
        kubeconfig.display()
    );
}

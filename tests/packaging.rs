//! Packaging: the Helm chart, the kustomize base in deploy/, the examples and
//! the RBAC they grant, checked with the testenv's helm and kubectl against a
//! real control plane (tests/testenv).
//!
//! - the chart lints and renders with default and full values, and its
//!   values.schema.json rejects typos and wrong types;
//! - `helm install` and `kubectl apply -k deploy/` succeed, and every example
//!   passes a server-side dry run;
//! - RBAC is sufficient and minimal: `aura-operator run`, with exactly the
//!   chart's Deployment args and a kubeconfig impersonating the chart's
//!   ServiceAccount, takes an AuraInstance from create to Ready to deleted on
//!   the Aura simulator (cluster-wide and namespaced RBAC), and the same
//!   identity is refused anything else;
//! - the chart renders the ClusterAuraProject "default" from its credentials
//!   values (secret, namespace, tenant, allowed namespaces), and no operator
//!   flag for it;
//! - deploy/ equals the chart's default rendering (labels aside);
//! - the CRD copies are identical to crds/.

mod support;

use support::harness::ensure_crd;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aura_operator::api::{AuraInstance, AuraProject, ClusterAuraProject};
use aura_operator::simulator::{Simulator, SimulatorConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace, Pod, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use support::eventually;

const CLIENT_ID: &str = "pkg-client";
const CLIENT_SECRET: &str = "pkg-secret-R4nd0mXyZ";
const TENANT: &str = "5b9a3c1e-7d2f-4a8b-9c6d-0e1f2a3b4c5d";
const WAIT: Duration = Duration::from_secs(90);

// --- helpers ------------------------------------------------------------------

fn repo() -> PathBuf {
    support::repo_root()
}

fn chart() -> PathBuf {
    repo().join("charts/aura-operator")
}

fn full_values() -> PathBuf {
    chart().join("ci/full-values.yaml")
}

fn describe(cmd: &Command) -> String {
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
    format!("{} {}", cmd.get_program().to_string_lossy(), args.join(" "))
}

fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", describe(cmd)))
}

/// Runs `cmd`, panics unless it succeeds, returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `cmd`, panics if it succeeds, returns its stderr.
fn run_failing(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        !out.status.success(),
        "{} should have failed but printed:\n{}",
        describe(cmd),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// All documents of a multi-document YAML stream, as JSON values (empty ones skipped).
fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
            serde_json::to_value(v).expect("YAML as JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn helm_template(release: &str, namespace: &str, extra: &[&str]) -> Vec<Value> {
    let out = run(support::helm()
        .args(["template", release])
        .arg(chart())
        .args(["--namespace", namespace])
        .args(kube_version())
        .args(extra));
    yaml_docs(&out)
}

/// The chart's kubeVersion needs a cluster version; offline, helm assumes 1.20.
fn kube_version() -> [String; 2] {
    [
        "--kube-version".into(),
        support::testenv_version("KUBERNETES_VERSION"),
    ]
}

fn kind_name(v: &Value) -> (String, String, String) {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| {
            let have: Vec<_> = docs.iter().map(kind_name).collect();
            panic!("no {kind} {name} in the rendering; have {have:?}")
        })
}

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The ValidatingAdmissionPolicy `name` and its binding in `docs`: they
/// refuse a DELETE of a protected AuraInstance, and only that, saying how to
/// lift the protection; both cluster-scoped.
fn assert_deletion_protection(docs: &[Value], name: &str) {
    let policy = find(docs, "ValidatingAdmissionPolicy", name);
    assert_eq!(policy["apiVersion"], "admissionregistration.k8s.io/v1");
    assert!(
        policy["metadata"].get("namespace").is_none(),
        "cluster-scoped: {policy}"
    );
    let spec = &policy["spec"];
    assert_eq!(spec["failurePolicy"], "Fail");
    assert_eq!(
        spec["matchConstraints"]["resourceRules"],
        json!([{"apiGroups": ["aura-operator.io"], "apiVersions": ["v1alpha1"],
                "operations": ["DELETE"], "resources": ["aurainstances"], "scope": "*"}])
    );
    let validations = spec["validations"].as_array().expect("validations");
    assert_eq!(validations.len(), 1, "{validations:?}");
    let v = &validations[0];
    let expression = v["expression"].as_str().unwrap();
    assert!(
        expression.contains("oldObject.spec.deletionProtection"),
        "{expression}"
    );
    let message = v["messageExpression"].as_str().unwrap();
    for want in [
        "oldObject.metadata.name",
        "kubectl patch aurainstance",
        "deletionProtection\\\":false",
        "delete again",
    ] {
        assert!(message.contains(want), "{want} not in {message}");
    }
    let binding = find(docs, "ValidatingAdmissionPolicyBinding", name);
    assert!(
        binding["metadata"].get("namespace").is_none(),
        "cluster-scoped: {binding}"
    );
    assert_eq!(
        binding["spec"],
        json!({"policyName": name, "validationActions": ["Deny"]})
    );
}

/// The rules the operator needs on the objects it manages: exactly these.
fn manager_rules() -> Value {
    json!([
        {"apiGroups": ["aura-operator.io"], "resources": ["aurainstances"],
         "verbs": ["get", "list", "watch", "patch", "update"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["aurainstances/status"],
         "verbs": ["get", "patch", "update"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["aurainstances/finalizers"],
         "verbs": ["update"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["auraprojects"],
         "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["auraprojects/status"],
         "verbs": ["patch"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["aurasnapshots"],
         "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["aurasnapshots/status"],
         "verbs": ["patch"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["aurarestores"],
         "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["aurarestores/status"],
         "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["secrets"],
         "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ])
}

/// The cluster-wide rules of every mode for the projects: ClusterAuraProjects
/// (finalizer by patch, status by server-side apply) and Namespaces (labels).
fn project_cluster_rules() -> Value {
    json!([
        {"apiGroups": ["aura-operator.io"], "resources": ["clusterauraprojects"],
         "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["aura-operator.io"], "resources": ["clusterauraprojects/status"],
         "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
    ])
}

/// The ClusterAuraProject "default" is cluster-scoped: one Helm release at a
/// time may own it. Tests installing the chart with credentials hold this
/// lock, and uninstall (and wait for the project to go) before releasing it.
static DEFAULT_PROJECT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Takes the lock on the ClusterAuraProject "default" and clears one that a
/// failed test left behind (with its finalizer), so that one failure does not
/// fail every later install.
async fn lock_default_project(client: &Client) -> tokio::sync::MutexGuard<'static, ()> {
    let guard = DEFAULT_PROJECT.lock().await;
    let api: Api<ClusterAuraProject> = Api::all(client.clone());
    if api.get_opt("default").await.ok().flatten().is_some() {
        let _ = api
            .patch(
                "default",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
        let _ = api.delete("default", &Default::default()).await;
        eventually(
            "a leftover ClusterAuraProject default to be gone",
            WAIT,
            || {
                let api = api.clone();
                async move { api.get_opt("default").await.ok()?.is_none().then_some(()) }
            },
        )
        .await;
    }
    guard
}

/// Uninstalls `release` and waits until the ClusterAuraProject "default" it
/// created is gone (a finalizer left on it would block the next install).
async fn uninstall_with_default_project(client: &Client, release: &str, namespace: &str) {
    run(support::helm().args(["uninstall", release, "--namespace", namespace]));
    let api: Api<ClusterAuraProject> = Api::all(client.clone());
    eventually("the ClusterAuraProject default to be gone", WAIT, || {
        let api = api.clone();
        async move { api.get_opt("default").await.ok()?.is_none().then_some(()) }
    })
    .await;
}

/// Whether the operator binary still has the removed `--default-credentials`
/// flag (before the projects landed in src/); see the RBAC test.
fn operator_has_default_credentials_flag() -> bool {
    let out = run(Command::new(env!("CARGO_BIN_EXE_aura-operator")).args(["run", "--help"]));
    out.contains("--default-credentials")
}

fn lease_rules(lease: &str) -> Value {
    json!([
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "resourceNames": [lease], "verbs": ["get", "update", "patch"]},
    ])
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_string()
}

// --- (1) lint, template, schema ------------------------------------------------

#[test]
fn chart_lints_and_renders_with_default_and_full_values() {
    run(support::helm()
        .args(["lint", "--strict"])
        .args(kube_version())
        .arg(chart()));
    run(support::helm()
        .args(["lint", "--strict"])
        .args(kube_version())
        .arg(chart())
        .arg("-f")
        .arg(full_values()));

    // Defaults: cluster-wide RBAC, leader election, two replicas, no credentials Secret,
    // no ServiceMonitor, no NetworkPolicy.
    let docs = helm_template("aura-operator", "aura-operator", &[]);
    let have = kinds(&docs);
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        assert!(have.contains(&kind.to_string()), "{kind} missing: {have:?}");
    }
    for kind in [
        "Secret",
        "ServiceMonitor",
        "NetworkPolicy",
        "ClusterAuraProject",
    ] {
        assert!(
            !have.contains(&kind.to_string()),
            "{kind} rendered by default"
        );
    }
    assert_deletion_protection(&docs, "aura-operator-deletion-protection");
    // Cluster-scoped: named after the release.
    assert_deletion_protection(
        &helm_template("team-x", "ops", &[]),
        "team-x-aura-operator-deletion-protection",
    );
    assert_eq!(
        find(&docs, "ClusterRole", "aura-operator")["rules"],
        manager_rules()
    );
    assert_eq!(
        find(&docs, "ClusterRole", "aura-operator-projects")["rules"],
        project_cluster_rules()
    );
    assert_eq!(
        find(&docs, "ClusterRoleBinding", "aura-operator-projects")["roleRef"]["name"],
        "aura-operator-projects"
    );
    assert_eq!(
        find(&docs, "Role", "aura-operator-leader-election")["rules"],
        lease_rules("aura-operator")
    );
    let deploy = find(&docs, "Deployment", "aura-operator");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "aura-operator");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/aura-operator/aura-operator:0.1.0");
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["runAsUser"], 65532);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[0], "run");
    for want in [
        "--leader-elect",
        "--lease-namespace=aura-operator",
        "--admin-listen=0.0.0.0:8081",
    ] {
        assert!(args.contains(&want), "{want} not in {args:?}");
    }
    assert!(
        !args.iter().any(|a| a.starts_with("--namespace")),
        "cluster-wide by default: {args:?}"
    );
    assert!(
        !args.iter().any(|a| a.starts_with("--default-credentials")),
        "the flag is gone: {args:?}"
    );
    let env: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(env, ["POD_NAME", "POD_NAMESPACE"]);
    assert_eq!(
        find(&docs, "Service", "aura-operator-metrics")["spec"]["ports"][0]["name"],
        "metrics"
    );

    // Full values: namespaced RBAC in each watched namespace plus a grant on
    // the default project's Secret, the default project, and every optional
    // object.
    let docs = helm_template("x", "ops", &["-f", full_values().to_str().unwrap()]);
    let have = kinds(&docs);
    for kind in [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        assert!(
            !have.contains(&kind.to_string()),
            "{kind} rendered with deletionProtection.admissionPolicy.enabled=false"
        );
    }
    for kind in [
        "Secret",
        "ServiceMonitor",
        "NetworkPolicy",
        "ClusterAuraProject",
    ] {
        assert!(have.contains(&kind.to_string()), "{kind} missing: {have:?}");
    }
    assert_eq!(
        find(&docs, "ClusterAuraProject", "default")["spec"],
        json!({
            "tenantId": "5b9a3c1e-7d2f-4a8b-9c6d-0e1f2a3b4c5d",
            "credentialsSecretRef": {"name": "aura-default-api", "namespace": "ops"},
            "allowedNamespaces": {
                "names": ["team-a", "team-b"],
                "selector": {
                    "matchLabels": {"aura-operator.io/allowed": "true"},
                    "matchExpressions": [
                        {"key": "environment", "operator": "In", "values": ["dev", "staging"]},
                    ],
                },
            },
        })
    );
    // Cluster-wide only the claims (cluster-scoped, one per Aura instance id)
    // and the projects (ClusterAuraProjects, and Namespaces for their labels).
    let cluster_roles: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "ClusterRoleBinding")
        .collect();
    assert_eq!(
        cluster_roles.len(),
        4,
        "namespaced mode grants cluster-wide only the claims and the projects: {have:?}"
    );
    assert_eq!(
        find(&docs, "ClusterRole", "aura-ops-projects")["rules"],
        project_cluster_rules(),
        "namespaced mode must not grant other cluster-wide access"
    );
    assert_eq!(
        find(&docs, "ClusterRoleBinding", "aura-ops-projects")["roleRef"]["name"],
        "aura-ops-projects"
    );
    assert_eq!(
        find(&docs, "ClusterRole", "aura-ops-claims")["rules"],
        json!([{"apiGroups": ["aura-operator.io"], "resources": ["aurainstanceclaims"],
                "verbs": ["get", "list", "watch", "create", "delete"]}]),
        "namespaced mode must not grant other cluster-wide access"
    );
    assert_eq!(
        find(&docs, "ClusterRoleBinding", "aura-ops-claims")["roleRef"]["name"],
        "aura-ops-claims"
    );
    let roles: Vec<_> = docs
        .iter()
        .filter(|d| d["kind"] == "Role" && d["metadata"]["name"] == "aura-ops")
        .map(|d| {
            assert_eq!(d["rules"], manager_rules());
            d["metadata"]["namespace"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(roles, ["team-a", "team-b"]);
    assert_eq!(
        find(&docs, "Role", "aura-ops-credentials")["rules"],
        json!([{"apiGroups": [""], "resources": ["secrets"],
                "resourceNames": ["aura-default-api"], "verbs": ["get", "list", "watch", "patch"]}])
    );
    assert_eq!(
        find(&docs, "Role", "aura-ops-leader-election")["rules"],
        lease_rules("aura-ops-leader")
    );
    let c = &find(&docs, "Deployment", "aura-ops")["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in [
        "--namespace=team-a",
        "--namespace=team-b",
        "--aura-base-url=https://aura-proxy.example.com",
        "--poll-interval=5s",
        "--resync-interval=10m",
        "--rate-limit=80",
        "--log-format=text",
        "--lease-name=aura-ops-leader",
    ] {
        assert!(args.contains(&want), "{want} not in {args:?}");
    }
    assert!(
        !args.iter().any(|a| a.starts_with("--default-credentials")),
        "the flag is gone: {args:?}"
    );
    assert!(
        c["image"]
            .as_str()
            .unwrap()
            .ends_with("@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );
}

/// The ClusterAuraProject "default" of `helm template` with `sets`, if any.
fn default_project(namespace: &str, sets: &[&str]) -> Option<Value> {
    let mut args = Vec::new();
    for s in sets {
        args.extend(["--set", s]);
    }
    helm_template("x", namespace, &args)
        .into_iter()
        .find(|d| d["kind"] == "ClusterAuraProject")
}

#[test]
fn the_default_project_follows_the_credentials_values() {
    // No credentials: no default project (every AuraInstance names its own).
    assert_eq!(default_project("ops", &[]), None);

    // An existing Secret: the release namespace only, no tenant.
    let p = default_project("ops", &["aura.credentials.existingSecret=aura-api"])
        .expect("a default project");
    assert_eq!(p["apiVersion"], "aura-operator.io/v1alpha1");
    assert_eq!(p["metadata"]["name"], "default");
    assert!(p["metadata"].get("namespace").is_none(), "cluster-scoped");
    assert_eq!(
        p["spec"],
        json!({"credentialsSecretRef": {"name": "aura-api", "namespace": "ops"},
               "allowedNamespaces": {"names": ["ops"]}})
    );

    // A created Secret, a tenant, names.
    let p = default_project(
        "ops",
        &[
            "aura.credentials.create=true,aura.credentials.clientId=a,aura.credentials.clientSecret=b",
            "aura.credentials.tenantId=5b9a3c1e-7d2f-4a8b-9c6d-0e1f2a3b4c5d",
            "aura.credentials.allowedNamespaces.names={team-a,team-b}",
        ],
    )
    .expect("a default project");
    assert_eq!(
        p["spec"],
        json!({"tenantId": "5b9a3c1e-7d2f-4a8b-9c6d-0e1f2a3b4c5d",
               "credentialsSecretRef": {"name": "x-aura-operator-credentials", "namespace": "ops"},
               "allowedNamespaces": {"names": ["team-a", "team-b"]}})
    );

    // A selector alone: no names (the release namespace is not added). Label
    // values are strings: --set-string (the schema refuses a boolean).
    let p = helm_template(
        "x",
        "ops",
        &[
            "--set",
            "aura.credentials.existingSecret=aura-api",
            "--set-string",
            "aura.credentials.allowedNamespaces.selector.matchLabels.aura-operator\\.io/allowed=true",
        ],
    )
    .into_iter()
    .find(|d| d["kind"] == "ClusterAuraProject")
    .expect("a default project");
    assert_eq!(
        p["spec"]["allowedNamespaces"],
        json!({"selector": {"matchLabels": {"aura-operator.io/allowed": "true"}}})
    );

    // An empty selector allows every namespace; it stays empty, not absent.
    let out = run(support::helm()
        .args(["template", "x"])
        .arg(chart())
        .args(["--namespace", "ops"])
        .args(kube_version())
        .args(["--set", "aura.credentials.existingSecret=aura-api"])
        .args([
            "--set-json",
            "aura.credentials.allowedNamespaces.selector={}",
        ]));
    let p = yaml_docs(&out)
        .into_iter()
        .find(|d| d["kind"] == "ClusterAuraProject")
        .expect("a default project");
    assert_eq!(p["spec"]["allowedNamespaces"], json!({"selector": {}}));

    // Names and a selector together.
    let p = default_project(
        "ops",
        &[
            "aura.credentials.existingSecret=aura-api",
            "aura.credentials.allowedNamespaces.names={team-a}",
            "aura.credentials.allowedNamespaces.selector.matchLabels.tier=apps",
        ],
    )
    .expect("a default project");
    assert_eq!(
        p["spec"]["allowedNamespaces"],
        json!({"names": ["team-a"], "selector": {"matchLabels": {"tier": "apps"}}})
    );

    // The namespaced install's Secret grant follows the project's Secret.
    let docs = helm_template(
        "x",
        "ops",
        &[
            "--set",
            "aura.credentials.existingSecret=aura-api,watchNamespaces={team-a}",
        ],
    );
    assert_eq!(
        find(&docs, "Role", "x-aura-operator-credentials")["rules"],
        json!([{"apiGroups": [""], "resources": ["secrets"],
                "resourceNames": ["aura-api"], "verbs": ["get", "list", "watch", "patch"]}])
    );
    // ... and is not needed when the release namespace is watched.
    let docs = helm_template(
        "x",
        "ops",
        &[
            "--set",
            "aura.credentials.existingSecret=aura-api,watchNamespaces={team-a,ops}",
        ],
    );
    assert!(
        !docs
            .iter()
            .any(|d| d["metadata"]["name"] == "x-aura-operator-credentials"),
        "the Role in ops already covers its Secrets"
    );
}

#[test]
fn values_schema_rejects_typos_and_wrong_types() {
    let bad: &[(&[&str], &str)] = &[
        (&["--set", "replicas=two"], "replicas"),
        (&["--set", "replica=2"], "replica"),
        (&["--set", "image.tga=1.0"], "tga"),
        (&["--set", "aura.pollIntervall=5s"], "pollIntervall"),
        (&["--set", "aura.pollInterval=often"], "pollInterval"),
        (&["--set", "aura.rateLimit=500"], "rateLimit"),
        (&["--set", "logging.format=xml"], "format"),
        (&["--set", "leaderElection.enable=true"], "enable"),
        (&["--set", "watchNamespaces[0]=Team_A"], "watchNamespaces"),
        (
            &["--set", "metrics.serviceMonitor.enabledd=true"],
            "enabledd",
        ),
        (&["--set", "aura.credentials.tenantId=team-a"], "tenantId"),
        (
            &["--set", "deletionProtection.admissionPolicy.enable=false"],
            "enable",
        ),
        (
            &["--set", "deletionProtection.admissionPolicy.enabled=no"],
            "enabled",
        ),
        (
            &[
                "--set",
                "aura.credentials.allowedNamespaces.names[0]=Team_A",
            ],
            "names",
        ),
        (
            &["--set", "aura.credentials.allowedNamespaces.selecter.a=b"],
            "selecter",
        ),
        (
            &[
                "--set",
                "aura.credentials.allowedNamespaces.selector.matchLabel.a=b",
            ],
            "matchLabel",
        ),
    ];
    for (args, mention) in bad {
        let err = run_failing(
            support::helm()
                .args(["template", "x"])
                .arg(chart())
                .args(kube_version())
                .args(*args),
        );
        assert!(
            err.contains("schema") && err.contains(mention),
            "{args:?}: expected a schema error about {mention}, got:\n{err}"
        );
    }
    // Rules the schema cannot express, enforced by the templates.
    let refused: &[(&[&str], &str)] = &[
        (
            &["--set", "aura.credentials.create=true"],
            "aura.credentials.clientId is required",
        ),
        (
            &[
                "--set",
                "aura.credentials.create=true,aura.credentials.existingSecret=a,aura.credentials.clientId=a,aura.credentials.clientSecret=b",
            ],
            "either existingSecret or create",
        ),
        (
            &["--set", "leaderElection.enabled=false"],
            "replicas > 1 needs leaderElection.enabled=true",
        ),
    ];
    for (args, mention) in refused {
        let err = run_failing(
            support::helm()
                .args(["template", "x"])
                .arg(chart())
                .args(kube_version())
                .args(*args),
        );
        assert!(
            err.contains(mention),
            "{args:?}: expected {mention:?}, got:\n{err}"
        );
    }
    // One replica without leader election is fine.
    helm_template(
        "x",
        "ops",
        &["--set", "leaderElection.enabled=false,replicas=1"],
    );
}

// --- (5) CRD copies -------------------------------------------------------------

#[test]
fn crd_copies_are_identical_to_crds() {
    let names = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(repo().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let files = names("crds");
    assert!(
        files.contains(&"aurainstances.yaml".to_string()),
        "{files:?}"
    );
    for dir in ["charts/aura-operator/crds", "deploy/crds"] {
        assert_eq!(names(dir), files, "{dir}: run tests/packaging/sync-crds");
        for file in &files {
            let original = std::fs::read(repo().join("crds").join(file)).unwrap();
            let copy = format!("{dir}/{file}");
            let bytes = std::fs::read(repo().join(&copy)).unwrap();
            assert!(
                bytes == original,
                "{copy} differs from crds/{file}: run tests/packaging/sync-crds"
            );
        }
    }
}

/// A second `kubectl apply` of the CRD must change nothing; otherwise GitOps
/// tools (Argo CD, Flux) report it out of sync forever. Fields the apiserver
/// drops on write (zero values such as `priority: 0` in
/// additionalPrinterColumns) make every apply "configured". Checked on a copy
/// in a group of its own, so that the other tests applying the real CRD at the
/// same time do not interfere.
#[test]
fn crd_applies_idempotently() {
    let text = std::fs::read_to_string(repo().join("crds/aurainstances.yaml")).unwrap();
    let group = format!("idem{}.aura-operator.io", short_id());
    let copy = text
        .replace(
            "name: aurainstances.aura-operator.io",
            &format!("name: aurainstances.{group}"),
        )
        .replace("group: aura-operator.io", &format!("group: {group}"));
    let path = support::scratch_path(&format!("crd-{group}.yaml"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, copy).unwrap();
    run(support::kubectl().args(["apply", "-f"]).arg(&path));
    let again = run(support::kubectl().args(["apply", "-f"]).arg(&path));
    let _ = output(support::kubectl().args(["delete", "-f"]).arg(&path));
    let zero_priority = text.contains("priority: 0");
    assert!(
        again.trim_end().ends_with("unchanged"),
        "a second kubectl apply of crds/aurainstances.yaml changed the CRD ({}): GitOps tools \
         would show it OutOfSync forever.{}",
        again.trim(),
        if zero_priority {
            " It sets `priority: 0` on a printer column, which the apiserver drops on write: \
             remove `priority = 0` from the printcolumn in src/api (0 is the default)."
        } else {
            ""
        }
    );
}

// --- (4) drift between the chart and deploy/ ------------------------------------

/// Drops what only one of the two renderings has: Helm's own labels.
fn normalise(mut doc: Value) -> Value {
    for pointer in ["/metadata/labels", "/spec/template/metadata/labels"] {
        if let Some(labels) = doc.pointer_mut(pointer).and_then(Value::as_object_mut) {
            labels.remove("helm.sh/chart");
            labels.remove("app.kubernetes.io/managed-by");
        }
    }
    whole_numbers(&mut doc);
    doc
}

/// Helm writes a schema's `minimum: 0` as `0.0`, kustomize as `0`: the same number.
fn whole_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

#[test]
fn deploy_equals_the_charts_default_rendering() {
    let helm: BTreeMap<_, _> = helm_template("aura-operator", "aura-operator", &["--include-crds"])
        .into_iter()
        .map(|d| (kind_name(&d), normalise(d)))
        .collect();
    let kustomized = run(support::kubectl()
        .arg("kustomize")
        .arg(repo().join("deploy")));
    let mut kustomize: BTreeMap<_, _> = yaml_docs(&kustomized)
        .into_iter()
        .map(|d| (kind_name(&d), normalise(d)))
        .collect();
    let ns_key = (
        "Namespace".to_string(),
        String::new(),
        "aura-operator".to_string(),
    );
    assert!(
        kustomize.remove(&ns_key).is_some(),
        "deploy/ must create the aura-operator namespace"
    );
    let helm_keys: Vec<_> = helm.keys().collect();
    let kustomize_keys: Vec<_> = kustomize.keys().collect();
    assert_eq!(
        helm_keys, kustomize_keys,
        "the chart (default values) and deploy/ create different objects"
    );
    for (key, from_helm) in &helm {
        let from_kustomize = &kustomize[key];
        assert!(
            from_helm == from_kustomize,
            "{key:?} drifted between the chart and deploy/\n--- helm template ---\n{}\n--- kubectl kustomize deploy/ ---\n{}",
            serde_json::to_string_pretty(from_helm).unwrap(),
            serde_json::to_string_pretty(from_kustomize).unwrap()
        );
    }
    // The parts that matter most, spelled out (the loop above already
    // compares whole objects).
    let deploy = &kustomize[&(
        "Deployment".to_string(),
        "aura-operator".to_string(),
        "aura-operator".to_string(),
    )];
    let c = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert!(c["args"].as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    // Deletion protection ships in both, cluster-scoped (kustomize would put
    // a namespace on it if deploy/kustomization.yaml had `namespace:`).
    let kustomized: Vec<Value> = kustomize.values().cloned().collect();
    assert_deletion_protection(&kustomized, "aura-operator-deletion-protection");
}

// --- (2) install ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_and_kubectl_apply_k_create_the_objects() {
    let client = support::admin_client().await;
    ensure_crd(&client).await;

    // helm install (default values) into its own namespace.
    let ns = support::test_namespace(&client, "pkg-helm").await;
    let release = format!("pkg-{}", short_id());
    let full = format!("{release}-aura-operator");
    let notes = run(support::helm()
        .args(["install", &release])
        .arg(chart())
        .args(["--namespace", &ns]));
    assert!(
        notes.contains("kubectl -n team-a create secret generic aura-api")
            && notes.contains("kind: AuraInstance"),
        "NOTES.txt should explain credentials and a first AuraInstance:\n{notes}"
    );
    let objects = [
        ("deployment", full.clone()),
        ("serviceaccount", full.clone()),
        ("service", format!("{full}-metrics")),
        ("role", format!("{full}-leader-election")),
        ("rolebinding", format!("{full}-leader-election")),
        ("clusterrole", full.clone()),
        ("clusterrolebinding", full.clone()),
        ("clusterrole", format!("{full}-projects")),
        ("clusterrolebinding", format!("{full}-projects")),
        (
            "validatingadmissionpolicy",
            format!("{full}-deletion-protection"),
        ),
        (
            "validatingadmissionpolicybinding",
            format!("{full}-deletion-protection"),
        ),
    ];
    for (kind, name) in &objects {
        run(support::kubectl().args(["get", "-n", &ns, kind, name]));
    }
    let deploy: Deployment = Api::namespaced(client.clone(), &ns)
        .get(&full)
        .await
        .unwrap();
    let pod = deploy.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some(full.as_str()));
    let sc = pod.containers[0].security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.run_as_user, Some(65532));
    let cr: ClusterRole = Api::all(client.clone()).get(&full).await.unwrap();
    assert_eq!(rules_json(cr.rules.unwrap_or_default()), manager_rules());
    let cr: ClusterRole = Api::all(client.clone())
        .get(&format!("{full}-projects"))
        .await
        .unwrap();
    assert_eq!(
        rules_json(cr.rules.unwrap_or_default()),
        project_cluster_rules()
    );

    // The full values install too (namespaced RBAC, created credentials Secret),
    // minus the ServiceMonitor and the PrometheusRule: no Prometheus Operator
    // CRDs here; the dashboard's namespace becomes the release's.
    // It creates the ClusterAuraProject "default": one release at a time.
    let ns2 = support::test_namespace(&client, "pkg-helm-full").await;
    let team_a = support::test_namespace(&client, "pkg-team-a").await;
    let release2 = format!("pkg-{}", short_id());
    let default_project = lock_default_project(&client).await;
    let notes2 = run(support::helm()
        .args(["install", &release2])
        .arg(chart())
        .args(["--namespace", &ns2, "-f"])
        .arg(full_values())
        .args([
            "--set",
            "metrics.serviceMonitor.enabled=false,metrics.prometheusRule.enabled=false,metrics.grafanaDashboard.namespace=,fullnameOverride=",
            "--set",
            &format!("watchNamespaces={{{team_a}}}"),
            "--set",
            "priorityClassName=",
        ]));
    assert!(
        notes2.contains("The ClusterAuraProject \"default\" names it")
            && notes2.contains("named: team-a, team-b; those the label selector matches")
            && notes2.contains("kubectl get clusterauraproject default -o yaml"),
        "NOTES.txt should explain the default project:\n{notes2}"
    );
    let role_ns = format!("{release2}-aura");
    run(support::kubectl().args(["get", "-n", &team_a, "role", &role_ns]));
    run(support::kubectl().args(["get", "-n", &ns2, "secret", "aura-default-api"]));
    run(support::kubectl().args(["get", "-n", &ns2, "networkpolicy", &role_ns]));
    // The default project, from the values: their Secret in the release
    // namespace, their tenant and allowed namespaces, as stored by the apiserver.
    let project = Api::<ClusterAuraProject>::all(client.clone())
        .get("default")
        .await
        .expect("the ClusterAuraProject default");
    assert_eq!(
        serde_json::to_value(&project.spec).unwrap(),
        json!({
            "tenantId": "5b9a3c1e-7d2f-4a8b-9c6d-0e1f2a3b4c5d",
            "credentialsSecretRef": {"name": "aura-default-api", "namespace": ns2},
            "allowedNamespaces": {
                "names": ["team-a", "team-b"],
                "selector": {
                    "matchLabels": {"aura-operator.io/allowed": "true"},
                    "matchExpressions": [
                        {"key": "environment", "operator": "In", "values": ["dev", "staging"]},
                    ],
                },
            },
        })
    );
    assert_eq!(
        project.metadata.labels.unwrap_or_default()["app.kubernetes.io/instance"],
        release2
    );
    uninstall_with_default_project(&client, &release2, &ns2).await;
    drop(default_project);

    // Uninstall removes the cluster-scoped objects too.
    run(support::helm().args(["uninstall", &release, "--namespace", &ns]));
    assert!(
        Api::<ClusterRole>::all(client.clone())
            .get_opt(&full)
            .await
            .unwrap()
            .is_none(),
        "helm uninstall left the ClusterRole"
    );
    for kind in [
        "validatingadmissionpolicy",
        "validatingadmissionpolicybinding",
    ] {
        let left = run(support::kubectl().args([
            "get",
            kind,
            "--ignore-not-found",
            "-o",
            "name",
            &format!("{full}-deletion-protection"),
        ]));
        assert!(left.trim().is_empty(), "helm uninstall left the {kind}");
    }

    // kubectl apply -k deploy/, twice: the second apply changes nothing.
    let deploy_dir = repo().join("deploy");
    run(support::kubectl().arg("apply").arg("-k").arg(&deploy_dir));
    let pdb_generation = || {
        run(support::kubectl().args([
            "-n",
            "aura-operator",
            "get",
            "pdb",
            "aura-operator",
            "-o",
            "jsonpath={.metadata.generation}",
        ]))
    };
    let pdb_before = pdb_generation();
    let again = run(support::kubectl().arg("apply").arg("-k").arg(&deploy_dir));
    // kubectl always resends a PodDisruptionBudget's selector (its patch
    // strategy is replace) and so reports it "configured": its generation
    // tells whether anything changed.
    assert_eq!(
        pdb_generation(),
        pdb_before,
        "the second apply changed the PDB"
    );
    // The CRD is checked on its own (crd_applies_idempotently); other tests
    // in this binary also apply it, concurrently.
    for line in again
        .lines()
        .filter(|l| !l.contains("customresourcedefinition"))
        .filter(|l| !l.starts_with("poddisruptionbudget.policy/"))
    {
        assert!(
            line.ends_with("unchanged"),
            "a second kubectl apply -k deploy/ changed something: {line}"
        );
    }
    for (kind, name) in [
        ("deployment", "aura-operator"),
        ("serviceaccount", "aura-operator"),
        ("service", "aura-operator-metrics"),
        ("role", "aura-operator-leader-election"),
        ("rolebinding", "aura-operator-leader-election"),
        ("clusterrole", "aura-operator"),
        ("clusterrolebinding", "aura-operator"),
        ("clusterrole", "aura-operator-projects"),
        ("clusterrolebinding", "aura-operator-projects"),
        ("crd", "auraprojects.aura-operator.io"),
        ("crd", "clusterauraprojects.aura-operator.io"),
        ("crd", "aurasnapshots.aura-operator.io"),
        ("crd", "aurarestores.aura-operator.io"),
        (
            "validatingadmissionpolicy",
            "aura-operator-deletion-protection",
        ),
        (
            "validatingadmissionpolicybinding",
            "aura-operator-deletion-protection",
        ),
    ] {
        run(support::kubectl().args(["get", "-n", "aura-operator", kind, name]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_passes_a_server_side_dry_run() {
    let client = support::admin_client().await;
    ensure_crd(&client).await;
    let ns = support::test_namespace(&client, "pkg-examples").await;
    let dir = repo().join("deploy/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "credentials-secret.yaml",
        "minimal.yaml",
        "full.yaml",
        "paused.yaml",
        "orphan.yaml",
        "protected.yaml",
        "clone.yaml",
        "snapshot.yaml",
        "restore.yaml",
        "overwrite.yaml",
        "aura-project.yaml",
        "cluster-aura-project.yaml",
        "project-ref.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    // cluster-aura-project.yaml is the ClusterAuraProject "default": not
    // while another test's release holds (or is deleting) the real one.
    let default_project = lock_default_project(&client).await;
    for file in &files {
        let out = run(support::kubectl()
            .args(["apply", "--dry-run=server", "-n", &ns, "-f"])
            .arg(file));
        assert!(
            out.contains("(server dry run)"),
            "{}: {out}",
            file.display()
        );
    }
    drop(default_project);
    // The full example sets every field of the spec, except the adoption of
    // an existing instance and a clone's source, which have examples of
    // their own; together the examples cover every field.
    let crd: Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("crds/aurainstances.yaml")).unwrap(),
    )
    .unwrap();
    let props = crd
        .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties")
        .and_then(Value::as_object)
        .expect("spec properties in the CRD");
    let specs: BTreeMap<String, Value> = files
        .iter()
        .map(|f| {
            let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, doc)
        })
        .filter(|(_, doc)| doc["kind"] == "AuraInstance")
        .map(|(name, doc)| (name, doc["spec"].clone()))
        .collect();
    // The project examples are what they say, and the default one is "default".
    let example = |file: &str| -> Value {
        serde_yaml::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
    };
    let cluster: ClusterAuraProject =
        serde_json::from_value(example("cluster-aura-project.yaml")).expect("a ClusterAuraProject");
    assert_eq!(cluster.metadata.name.as_deref(), Some("default"));
    let project: AuraProject =
        serde_json::from_value(example("aura-project.yaml")).expect("an AuraProject");
    let by_ref: AuraInstance =
        serde_json::from_value(example("project-ref.yaml")).expect("an AuraInstance");
    let project_ref = by_ref
        .spec
        .project_ref
        .expect("project-ref.yaml sets projectRef");
    assert_eq!(Some(project_ref.name), project.metadata.name);
    // projectRef excludes credentialsSecretRef (CEL): it has its own example.
    let not_in_full = ["instanceId", "projectRef", "source"];
    for field in props.keys() {
        if !not_in_full.contains(&field.as_str()) {
            assert!(
                specs["full.yaml"].get(field).is_some(),
                "deploy/examples/full.yaml does not set spec.{field}"
            );
        }
        assert!(
            specs.values().any(|s| s.get(field).is_some()),
            "no example in deploy/examples sets spec.{field}"
        );
    }
}

// --- (3) RBAC: sufficient and minimal -------------------------------------------

fn rules_json(rules: Vec<PolicyRule>) -> Value {
    serde_json::to_value(rules).unwrap()
}

/// A copy of the admin kubeconfig whose user impersonates `namespace/sa`
/// (the kubeconfig `as` field, which kube-rs and kubectl honour).
fn impersonating_kubeconfig(namespace: &str, sa: &str) -> PathBuf {
    let text = std::fs::read_to_string(support::kubeconfig_path()).unwrap();
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let user = serde_yaml::Value::String(format!("system:serviceaccount:{namespace}:{sa}"));
    for u in kc["users"].as_sequence_mut().expect("users") {
        u["user"]
            .as_mapping_mut()
            .expect("user")
            .insert("as".into(), user.clone());
    }
    let path = support::scratch_path(&format!("kubeconfig-as-{namespace}-{sa}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    path
}

fn forbidden<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) {
    match result {
        Err(ref e) if support::api_error_code(e) == Some(403) => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

fn condition(o: &AuraInstance, type_: &str) -> Option<(String, String)> {
    o.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

async fn get_200(url: &str) -> bool {
    match reqwest::get(url).await {
        Ok(r) => r.status().as_u16() == 200,
        Err(_) => false,
    }
}

/// Installs the chart, runs `aura-operator run` with the chart's Deployment
/// args as the chart's ServiceAccount, and takes an AuraInstance (naming no
/// credentials: the chart's ClusterAuraProject "default", over the Secret the
/// chart created) from create to Ready to deleted.
async fn operator_as_the_charts_service_account(namespaced: bool) {
    let client = support::admin_client().await;
    ensure_crd(&client).await;
    let default_project = lock_default_project(&client).await;
    let rel_ns = support::test_namespace(&client, "pkg-rbac-release").await;
    let work_ns = support::test_namespace(&client, "pkg-rbac-work").await;
    let sim = Simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        tenants: vec![(TENANT.into(), "Packaging".into())],
        create_seconds: 1.0,
        transition_seconds: 0.5,
        ..SimulatorConfig::default()
    })
    .await
    .expect("start the simulator");

    let release = format!("rbac-{}", short_id());
    let full = format!("{release}-aura-operator");
    let mut sets = vec![
        "aura.credentials.create=true".to_string(),
        format!("aura.credentials.allowedNamespaces.names={{{work_ns}}}"),
        format!("aura.credentials.clientId={CLIENT_ID}"),
        format!("aura.credentials.clientSecret={CLIENT_SECRET}"),
        format!("aura.baseUrl={}", sim.base_url()),
        "aura.pollInterval=500ms".into(),
        "aura.resyncInterval=20s".into(),
        "aura.createGrace=4s".into(),
        "logging.format=text".into(),
        "logging.level=info\\,aura_operator=debug".into(),
    ];
    if namespaced {
        sets.push(format!("watchNamespaces={{{work_ns}}}"));
    }
    let mut helm = support::helm();
    helm.args(["install", &release])
        .arg(chart())
        .args(["--namespace", &rel_ns]);
    for s in &sets {
        helm.args(["--set", s]);
    }
    run(&mut helm);

    // Exactly the rules we mean to grant, as stored by the apiserver.
    if namespaced {
        let role: Role = Api::namespaced(client.clone(), &work_ns)
            .get(&full)
            .await
            .unwrap();
        assert_eq!(rules_json(role.rules.unwrap_or_default()), manager_rules());
        assert!(
            Api::<ClusterRole>::all(client.clone())
                .get_opt(&full)
                .await
                .unwrap()
                .is_none()
        );
        let creds: Role = Api::namespaced(client.clone(), &rel_ns)
            .get(&format!("{full}-credentials"))
            .await
            .unwrap();
        assert_eq!(
            rules_json(creds.rules.unwrap_or_default()),
            json!([{"apiGroups": [""], "resources": ["secrets"],
                    "resourceNames": [format!("{full}-credentials")],
                    "verbs": ["get", "list", "watch", "patch"]}])
        );
    } else {
        let cr: ClusterRole = Api::all(client.clone()).get(&full).await.unwrap();
        assert_eq!(rules_json(cr.rules.unwrap_or_default()), manager_rules());
    }
    let projects_role: ClusterRole = Api::all(client.clone())
        .get(&format!("{full}-projects"))
        .await
        .unwrap();
    assert_eq!(
        rules_json(projects_role.rules.unwrap_or_default()),
        project_cluster_rules()
    );

    // The default project the chart made from its values.
    let projects: Api<ClusterAuraProject> = Api::all(client.clone());
    let project = projects
        .get("default")
        .await
        .expect("the ClusterAuraProject default");
    assert_eq!(
        serde_json::to_value(&project.spec).unwrap(),
        json!({"credentialsSecretRef": {"name": format!("{full}-credentials"), "namespace": rel_ns},
               "allowedNamespaces": {"names": [work_ns]}})
    );
    let lease_role: Role = Api::namespaced(client.clone(), &rel_ns)
        .get(&format!("{full}-leader-election"))
        .await
        .unwrap();
    assert_eq!(
        rules_json(lease_role.rules.unwrap_or_default()),
        lease_rules(&full)
    );

    // The chart's own args, with the admin server on a free loopback port
    // (and, in cluster-wide mode, limited to this test's namespace so that
    // concurrent tests do not meet).
    let deploy: Deployment = Api::namespaced(client.clone(), &rel_ns)
        .get(&full)
        .await
        .unwrap();
    let container = deploy.spec.unwrap().template.spec.unwrap().containers[0].clone();
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut args: Vec<String> = container
        .args
        .unwrap()
        .into_iter()
        .map(|a| {
            if a.starts_with("--admin-listen") {
                format!("--admin-listen={admin}")
            } else {
                a
            }
        })
        .collect();
    assert!(
        !args.iter().any(|a| a.starts_with("--default-credentials")),
        "the chart no longer passes --default-credentials: {args:?}"
    );
    // Bridge while the projects are not in src/ yet: a binary that still has
    // the flag does not read ClusterAuraProjects, so it is given the same
    // Secret the way it understands. Without the flag (the projects landed),
    // the AuraInstance below finds its credentials through the project alone.
    let projects_in_binary = !operator_has_default_credentials_flag();
    if !projects_in_binary {
        args.push(format!("--default-credentials={rel_ns}/{full}-credentials"));
    }
    if namespaced {
        assert!(args.contains(&format!("--namespace={work_ns}")), "{args:?}");
    } else {
        args.push(format!("--namespace={work_ns}"));
    }

    // The identity: a kubeconfig impersonating the chart's ServiceAccount.
    // First prove that kube-rs honours its `as` field.
    let kubeconfig = impersonating_kubeconfig(&rel_ns, &full);
    let as_sa = Client::try_from(support::config_from(&kubeconfig).await).unwrap();
    forbidden(
        "list Pods through the impersonating kubeconfig",
        Api::<Pod>::namespaced(as_sa, &work_ns)
            .list(&ListParams::default())
            .await,
    );

    let pod_name = format!("{full}-6d5f7c9b8-k2j4x");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_aura-operator"))
        .args(&args)
        .env_clear()
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAME", &pod_name)
        .env("POD_NAMESPACE", &rel_ns)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start aura-operator run");
    let log = Arc::new(Mutex::new(String::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
    }
    let log_text = || log.lock().unwrap().clone();

    // Leader election through the Role in the release namespace.
    let leases: Api<Lease> = Api::namespaced(client.clone(), &rel_ns);
    // The Lease may exist a moment before its holder is written.
    let holder = eventually("the leader lease held", WAIT, || {
        let leases = leases.clone();
        let full = full.clone();
        async move {
            let lease = leases.get_opt(&full).await.ok().flatten()?;
            lease.spec.and_then(|s| s.holder_identity)
        }
    })
    .await;
    assert_eq!(holder, pod_name);

    // create -> Ready -> delete, with the default credentials the chart created.
    let instances: Api<AuraInstance> = Api::namespaced(client.clone(), &work_ns);
    let obj: AuraInstance = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraInstance",
        "metadata": {"name": "rbac-db"},
        "spec": {"cloudProvider": "gcp", "region": "europe-west1",
                 "type": "enterprise-db", "memory": "8GB"},
    }))
    .unwrap();
    instances
        .create(&PostParams::default(), &obj)
        .await
        .unwrap();
    let ready = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(o) = instances.get("rbac-db").await
                && condition(&o, "Ready").is_some_and(|c| c.0 == "True")
            {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("rbac-db never became Ready\n--- log ---\n{}", log_text()));
    let id = ready.status.unwrap().instance_id.expect("instanceId");
    assert!(sim.state().instance(&id).is_some());
    let project_ready_and_used = |want_used: u32| {
        let projects = projects.clone();
        async move {
            let p = projects.get("default").await.ok()?;
            let st = p.status?;
            let ready = st
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            (ready && st.used_by == want_used).then_some(p.metadata.finalizers.unwrap_or_default())
        }
    };
    if projects_in_binary {
        let finalizers = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(f) = project_ready_and_used(1).await {
                    return f;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the ClusterAuraProject default never showed Ready and usedBy 1\n--- log ---\n{}",
                log_text()
            )
        });
        assert!(
            finalizers
                .iter()
                .any(|f| f == aura_operator::api::PROJECT_FINALIZER),
            "a project in use carries {}: {finalizers:?}",
            aura_operator::api::PROJECT_FINALIZER
        );
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &work_ns);
    let conn = secrets.get("rbac-db-connection").await.unwrap();
    assert!(
        aura_operator::kinds::instance::secret::read_key(&conn, "NEO4J_PASSWORD")
            .is_some_and(|p| !p.is_empty())
    );

    instances
        .delete("rbac-db", &DeleteParams::default())
        .await
        .unwrap();
    let gone = tokio::time::timeout(WAIT, async {
        while !matches!(instances.get_opt("rbac-db").await, Ok(None)) {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "rbac-db was not deleted\n--- log ---\n{}",
        log_text()
    );
    if projects_in_binary {
        // Used by nobody any more: the finalizer goes, so that uninstalling
        // the chart can delete the project.
        let released = tokio::time::timeout(WAIT, async {
            loop {
                if project_ready_and_used(0)
                    .await
                    .is_some_and(|f| !f.iter().any(|f| f == aura_operator::api::PROJECT_FINALIZER))
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
        .await;
        assert!(
            released.is_ok(),
            "the ClusterAuraProject default kept usedBy or its finalizer\n--- log ---\n{}",
            log_text()
        );
    }
    assert!(
        sim.state().instance(&id).is_none(),
        "the Aura instance survived"
    );
    assert!(
        secrets
            .get_opt("rbac-db-connection")
            .await
            .unwrap()
            .is_none(),
        "the connection Secret survived"
    );

    // /readyz: every watch synced (a forbidden list or watch would keep it
    // unready) and the lease healthy.
    let readyz = format!("http://{admin}/readyz");
    let ready = tokio::time::timeout(WAIT, async {
        while !get_200(&readyz).await {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    assert!(
        ready.is_ok(),
        "/readyz never answered 200\n--- log ---\n{}",
        log_text()
    );

    // Graceful stop, then: nothing was forbidden along the way.
    let pid = child.id().expect("pid").to_string();
    run(Command::new("kill").args(["-TERM", &pid]));
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exit within 30 s of SIGTERM")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = log_text();
    assert!(
        status.success(),
        "exit status {status}\n--- log ---\n{text}"
    );
    let lower = text.to_lowercase();
    assert!(
        !lower.contains("forbidden") && !lower.contains(" 403"),
        "the operator was refused something it needs:\n{text}"
    );
    assert!(!text.contains(CLIENT_SECRET), "client secret in the log");

    // The same identity is refused everything outside its role.
    let sa = support::impersonating_client(&rel_ns, &full).await;
    forbidden(
        "list Pods",
        Api::<Pod>::namespaced(sa.clone(), &work_ns)
            .list(&ListParams::default())
            .await,
    );
    forbidden(
        "list ConfigMaps",
        Api::<ConfigMap>::namespaced(sa.clone(), &work_ns)
            .list(&ListParams::default())
            .await,
    );
    forbidden(
        "patch a Deployment",
        Api::<Deployment>::namespaced(sa.clone(), &rel_ns)
            .patch(
                &full,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 0}})),
            )
            .await,
    );
    // Namespaces are readable (for allowedNamespaces.selector), not writable.
    Api::<Namespace>::all(sa.clone())
        .list(&ListParams::default())
        .await
        .expect("Namespaces are readable");
    forbidden(
        "label a Namespace",
        Api::<Namespace>::all(sa.clone())
            .patch(
                &work_ns,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"labels": {"aura-operator.io/allowed": "true"}}}),
                ),
            )
            .await,
    );
    forbidden(
        "create a ClusterAuraProject",
        Api::<ClusterAuraProject>::all(sa.clone())
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "apiVersion": "aura-operator.io/v1alpha1", "kind": "ClusterAuraProject",
                    "metadata": {"name": "rogue"},
                    "spec": {"credentialsSecretRef": {"name": "x", "namespace": work_ns},
                             "allowedNamespaces": {"selector": {}}},
                }))
                .unwrap(),
            )
            .await,
    );
    forbidden(
        "delete the ClusterAuraProject default",
        Api::<ClusterAuraProject>::all(sa.clone())
            .delete("default", &DeleteParams::default())
            .await,
    );
    forbidden(
        "create an AuraProject",
        Api::<AuraProject>::namespaced(sa.clone(), &work_ns)
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraProject",
                    "metadata": {"name": "rogue"},
                    "spec": {"credentialsSecretRef": {"name": "x"}},
                }))
                .unwrap(),
            )
            .await,
    );
    forbidden(
        "create an AuraInstance",
        Api::<AuraInstance>::namespaced(sa.clone(), &work_ns)
            .create(&PostParams::default(), &obj)
            .await,
    );
    forbidden(
        "delete an AuraInstance",
        Api::<AuraInstance>::namespaced(sa.clone(), &work_ns)
            .delete("anything", &DeleteParams::default())
            .await,
    );
    forbidden(
        "create a core/v1 Event",
        Api::<CoreEvent>::namespaced(sa.clone(), &work_ns)
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": "x"},
                    "involvedObject": {"kind": "Pod", "name": "x", "namespace": work_ns},
                }))
                .unwrap(),
            )
            .await,
    );
    forbidden(
        "list Leases",
        Api::<Lease>::namespaced(sa.clone(), &rel_ns)
            .list(&ListParams::default())
            .await,
    );
    forbidden(
        "get another Lease",
        Api::<Lease>::namespaced(sa.clone(), &rel_ns)
            .get("kube-controller-manager")
            .await,
    );
    forbidden(
        "create a Lease in another namespace",
        Api::<Lease>::namespaced(sa.clone(), &work_ns)
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap(),
            )
            .await,
    );
    forbidden(
        "list CustomResourceDefinitions",
        Api::<CustomResourceDefinition>::all(sa.clone())
            .list(&ListParams::default())
            .await,
    );
    if namespaced {
        forbidden(
            "list Secrets in the release namespace",
            Api::<Secret>::namespaced(sa.clone(), &rel_ns)
                .list(&ListParams::default())
                .await,
        );
        forbidden(
            "get another Secret in the release namespace",
            Api::<Secret>::namespaced(sa.clone(), &rel_ns)
                .get("some-other-secret")
                .await,
        );
        forbidden(
            "list Secrets cluster-wide",
            Api::<Secret>::all(sa.clone())
                .list(&ListParams::default())
                .await,
        );
        forbidden(
            "list AuraInstances cluster-wide",
            Api::<AuraInstance>::all(sa.clone())
                .list(&ListParams::default())
                .await,
        );
        forbidden(
            "list AuraProjects cluster-wide",
            Api::<AuraProject>::all(sa.clone())
                .list(&ListParams::default())
                .await,
        );
        forbidden(
            "patch another Secret in the release namespace",
            Api::<Secret>::namespaced(sa.clone(), &rel_ns)
                .patch(
                    "some-other-secret",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
                )
                .await,
        );
        // Still allowed: reading the default credentials.
        Api::<Secret>::namespaced(sa.clone(), &rel_ns)
            .get(&format!("{full}-credentials"))
            .await
            .expect("the default credentials stay readable");
    }

    uninstall_with_default_project(&client, &release, &rel_ns).await;
    drop(default_project);
    drop(sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_as_the_charts_service_account_cluster_wide_rbac() {
    operator_as_the_charts_service_account(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_as_the_charts_service_account_namespaced_rbac() {
    operator_as_the_charts_service_account(true).await;
}

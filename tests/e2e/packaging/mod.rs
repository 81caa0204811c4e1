//! Packaging: the Helm chart, the kustomize base in deploy/, the examples and
//! the RBAC they grant, checked with the testenv's helm and kubectl against a
//! real control plane (tests/testenv).
//!
//! - [`chart`]: the chart lints and renders with default and full values, its
//!   values.schema.json rejects typos and wrong types, and it renders the
//!   ClusterAuraProject "default" from its credentials values (secret,
//!   namespace, tenant, allowed namespaces), and no operator flag for it;
//! - [`deploy`]: deploy/ equals the chart's default rendering (labels aside);
//!   the CRD copies are identical to crds/, one file per kind of
//!   `aura_operator::api::KINDS`, and deploy/kustomization.yaml lists exactly
//!   those; `helm install` and `kubectl apply -k deploy/` succeed, and every
//!   example passes a server-side dry run;
//! - [`rbac`]: the RBAC of the chart and of deploy/ is exactly what `KINDS`
//!   says the operator uses, and sufficient and minimal: `aura-operator run`,
//!   with exactly the chart's Deployment args and a kubeconfig impersonating
//!   the chart's ServiceAccount, takes an AuraInstance from create to Ready to
//!   deleted on the Aura simulator (cluster-wide and namespaced RBAC), and
//!   the same identity is refused anything else.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aura_operator::api::ClusterAuraProject;
use kube::Client;
use kube::api::Api;
use serde_json::{Value, json};

use crate::support::{self, eventually};

mod chart;
mod deploy;
mod rbac;

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

/// The ValidatingAdmissionPolicy `name` and its binding in `docs`: they warn,
/// never refuse, when an AuraInstance of an AuraDS type (exactly the types
/// `InstanceType::is_aurads` names) is created or updated in any version.
fn assert_aurads_warning(docs: &[Value], name: &str) {
    let policy = find(docs, "ValidatingAdmissionPolicy", name);
    assert!(
        policy["metadata"].get("namespace").is_none(),
        "cluster-scoped: {policy}"
    );
    let spec = &policy["spec"];
    assert_eq!(spec["failurePolicy"], "Ignore");
    assert_eq!(
        spec["matchConstraints"]["resourceRules"],
        json!([{"apiGroups": ["aura-operator.io"], "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"], "resources": ["aurainstances"], "scope": "*"}])
    );
    let expression = spec["validations"][0]["expression"].as_str().unwrap();
    let mut aurads: Vec<String> = aura_operator::api::InstanceType::ALL
        .iter()
        .filter(|t| t.is_aurads())
        .map(|t| format!("'{t}'"))
        .collect();
    aurads.sort();
    let listed = &expression[expression.find('[').unwrap() + 1..expression.find(']').unwrap()];
    let mut listed: Vec<String> = listed.split(',').map(|w| w.trim().to_string()).collect();
    listed.sort();
    assert_eq!(listed, aurads, "{expression}");
    let binding = find(docs, "ValidatingAdmissionPolicyBinding", name);
    assert_eq!(binding["spec"]["policyName"], name);
    assert_eq!(binding["spec"]["validationActions"], json!(["Warn"]));
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
        json!([{"apiGroups": ["aura-operator.io"], "apiVersions": ["*"],
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

/// Rules as the apiserver stored them, as JSON.
fn rules_json(rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>) -> Value {
    serde_json::to_value(rules).unwrap()
}

/// One RBAC rule per resource of a kind, as the operator's list of kinds says.
fn kind_rules(rules: Vec<aura_operator::api::packaging::Rule>) -> Vec<Value> {
    rules
        .into_iter()
        .map(|r| json!({"apiGroups": [aura_operator::api::GROUP], "resources": [r.resource], "verbs": r.verbs}))
        .collect()
}

fn kind(name: &str) -> &'static aura_operator::api::KindInfo {
    aura_operator::api::kind_info(name).unwrap_or_else(|| panic!("{name} is not in KINDS"))
}

/// The rules the operator needs where it watches: every namespaced kind of
/// `KINDS`, the Secrets it writes and reads, events, and the projects'
/// ScrapeConfigs.
fn manager_rules() -> Value {
    let mut rules = kind_rules(aura_operator::api::packaging::namespaced_rules());
    rules.push(json!({"apiGroups": [""], "resources": ["secrets"],
        "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]}));
    rules.push(json!({"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]}));
    rules.push(json!({"apiGroups": ["monitoring.coreos.com"], "resources": ["scrapeconfigs"], "verbs": ["patch", "delete"]}));
    Value::Array(rules)
}

/// The cluster-wide rules of every mode for the projects: ClusterAuraProjects
/// as `KINDS` says, and Namespaces (labels).
fn project_cluster_rules() -> Value {
    let mut rules = kind_rules(aura_operator::api::packaging::rules(kind(
        "ClusterAuraProject",
    )));
    // The other cluster-scoped kinds the operator reconciles, in every mode.
    for other in [
        "ClusterAuraIPFilter",
        "AuraProjectMember",
        "AuraOrganizationMember",
    ] {
        rules.extend(kind_rules(aura_operator::api::packaging::rules(kind(
            other,
        ))));
    }
    rules.push(
        json!({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}),
    );
    Value::Array(rules)
}

/// The cluster-wide rules of every mode for the claims, as `KINDS` says.
fn claim_rules() -> Value {
    Value::Array(kind_rules(aura_operator::api::packaging::rules(kind(
        "AuraInstanceClaim",
    ))))
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

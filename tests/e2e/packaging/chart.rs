//! The chart: it lints and renders with default and full values, its
//! values.schema.json rejects typos and wrong types, and it renders the
//! ClusterAuraProject "default" from its credentials values.

use serde_json::{Value, json};

use super::*;
use crate::support;

#[test]
fn the_chart_lints_with_default_and_full_values() {
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
}

/// Defaults: cluster-wide RBAC, leader election, two replicas, no
/// credentials Secret, no ServiceMonitor, no NetworkPolicy.
#[test]
fn the_default_rendering_is_cluster_wide_with_leader_election() {
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
    assert_aurads_warning(&docs, "aura-operator-aurads-types");
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
}

/// Full values: namespaced RBAC in each watched namespace plus a grant on
/// the default project's Secret, the default project, and every optional
/// object.
#[test]
fn full_values_render_namespaced_rbac_and_every_optional_object() {
    let docs = helm_template("x", "ops", &["-f", full_values().to_str().unwrap()]);
    let have = kinds(&docs);
    let policies: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "ValidatingAdmissionPolicy")
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(
        policies.len() == 1 && policies[0].ends_with("-aurads-types"),
        "deletionProtection.admissionPolicy.enabled=false renders no deletion policy: {policies:?}"
    );
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
        claim_rules(),
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
    assert_eq!(p["apiVersion"], "aura-operator.io/v1beta1");
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

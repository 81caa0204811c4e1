//! deploy/ and the CRDs: deploy/ equals the chart's default rendering
//! (labels aside), the CRD copies are those of crds/ (one per kind of
//! `KINDS`), `helm install` and `kubectl apply -k deploy/` create the
//! objects, and every example passes a server-side dry run.

use std::collections::BTreeMap;

use aura_operator::api::{AuraInstance, AuraProject, ClusterAuraProject};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::Api;
use serde_json::{Value, json};

use super::*;
use crate::support::harness::ensure_crd;
use crate::support::{self, cluster};

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
        assert_eq!(names(dir), files, "{dir}: run `make generate`");
        for file in &files {
            let original = std::fs::read(repo().join("crds").join(file)).unwrap();
            let copy = format!("{dir}/{file}");
            let bytes = std::fs::read(repo().join(&copy)).unwrap();
            assert!(
                bytes == original,
                "{copy} differs from crds/{file}: run `make generate`"
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
    assert_aurads_warning(&kustomized, "aura-operator-aurads-types");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_and_kubectl_apply_k_create_the_objects() {
    // Cluster-wide: ClusterRoles, the ClusterAuraProject "default", a
    // ValidatingAdmissionPolicy, and deploy/'s objects.
    let _alone = cluster::exclusive().await;
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
        ("validatingadmissionpolicy", format!("{full}-aurads-types")),
        (
            "validatingadmissionpolicybinding",
            format!("{full}-aurads-types"),
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
    for info in aura_operator::api::KINDS {
        let crd = format!("{}.aura-operator.io", info.plural);
        run(support::kubectl().args(["get", "crd", &crd]));
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
    let no_release = cluster::shared().await;
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
    drop(no_release);
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
    // projectRef excludes credentialsSecretRef (CEL), customerManagedKeyRef
    // excludes customerManagedKeyId: each has its own example.
    let not_in_full = [
        "instanceId",
        "projectRef",
        "source",
        "customerManagedKeyRef",
    ];
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

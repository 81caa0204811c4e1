//! The upgrade from the last chart that served v1alpha1 only
//! (`tests/upgrade/aura-operator-0.1.0.tgz`, the chart of commit e82eb14
//! packaged as is) to this one, on a control plane of its own: the old CRDs
//! must never meet the other tests' objects.
//!
//! The objects are what a v1alpha1 operator leaves behind: manifests applied
//! in v1alpha1, an AuraInstance whose status and connection Secret (owned
//! through a v1alpha1 owner reference) say it runs, and its claim. The
//! status is written by hand, as that operator would have: its binary is not
//! built here. Then the runbook of README "Upgrading to v1beta1": new CRDs
//! (server-side), `helm upgrade`, the new operator.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::gitops::{argo_health, kstatus};
use crate::support::harness::{
    CLIENT_ID, CLIENT_SECRET, Operator, TENANT_B, console_request, team_b_simulator,
};
use crate::support::{self, Launcher, Tools, eventually, repo_root};

const OLD_CHART: &str = "tests/upgrade/aura-operator-0.1.0.tgz";
const WAIT: Duration = Duration::from_secs(90);
const NS: &str = "team-a";
const RELEASE: &str = "aura-operator";
const RELEASE_NS: &str = "aura-system";

/// The plurals of the promoted kinds.
fn promoted() -> Vec<&'static str> {
    aura_operator::migration::promoted()
        .iter()
        .map(|p| p.info.plural)
        .collect()
}

trait ReadAll {
    fn read_all(&self, plural: &str, version: &str) -> (Vec<(String, Value)>, String);
}

impl ReadAll for Tools {
    /// Every object of `plural` read in `version`, without its apiVersion,
    /// by namespace/name; and kubectl's stderr (its warnings).
    fn read_all(&self, plural: &str, version: &str) -> (Vec<(String, Value)>, String) {
        let resource = format!("{plural}.{version}.aura-operator.io");
        let (out, warnings) = self.run("kubectl", &["get", &resource, "-A", "-o", "json"], None);
        let list: Value = serde_json::from_str(&out).unwrap();
        let mut items: Vec<(String, Value)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                assert_eq!(o["apiVersion"], format!("aura-operator.io/{version}"));
                let mut o = o.clone();
                o.as_object_mut().unwrap().remove("apiVersion");
                let key = format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap()
                );
                (key, o)
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        (items, warnings)
    }
}

/// The apiVersion an object is stored in, read from etcd itself (its JSON
/// gateway): the apiserver converts every read, so only etcd tells.
async fn stored_as(etcd: &str, plural: &str, key: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let path = format!(
        "/registry/aura-operator.io/{plural}/{}",
        key.trim_start_matches('/')
    );
    let answer: Value = reqwest::Client::new()
        .post(format!("{etcd}/v3/kv/range"))
        .json(&json!({"key": b64.encode(&path)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let value = answer["kvs"][0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not in etcd: {answer}"));
    let stored: Value = serde_json::from_slice(&b64.decode(value).unwrap()).unwrap();
    stored["apiVersion"].as_str().unwrap().to_string()
}

async fn stored_versions(client: &Client, plural: &str) -> Vec<String> {
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get(&format!("{plural}.aura-operator.io"))
        .await
        .unwrap();
    crd.status
        .and_then(|s| s.stored_versions)
        .unwrap_or_default()
}

/// The v1alpha1 manifests of a team, as its Git repository held them.
fn old_manifests() -> String {
    format!(
        r#"
apiVersion: aura-operator.io/v1alpha1
kind: AuraProject
metadata: {{name: team, namespace: {NS}}}
spec:
  credentialsSecretRef: {{name: aura-api}}
  tenantId: {TENANT_B}
---
apiVersion: aura-operator.io/v1alpha1
kind: ClusterAuraProject
metadata: {{name: shared}}
spec:
  credentialsSecretRef: {{name: aura-api, namespace: {NS}}}
  tenantId: {TENANT_B}
  allowedNamespaces: {{names: [{NS}]}}
---
apiVersion: aura-operator.io/v1alpha1
kind: AuraInstance
metadata: {{name: orders, namespace: {NS}}}
spec:
  projectRef: {{name: team}}
  cloudProvider: gcp
  region: europe-west1
  type: enterprise-db
  version: "5"
  memory: 8GB
  deletionPolicy: Orphan
---
apiVersion: aura-operator.io/v1alpha1
kind: AuraSnapshot
metadata: {{name: of-nothing-yet, namespace: {NS}}}
spec:
  instanceRef: {{name: not-there}}
---
apiVersion: aura-operator.io/v1alpha1
kind: AuraRestore
metadata: {{name: into-nothing-yet, namespace: {NS}}}
spec:
  instanceRef: {{name: not-there}}
  source: {{snapshotId: "00000000-0000-0000-0000-000000000000"}}
"#
    )
}

fn ready_reason(o: &Value) -> Option<(String, String)> {
    o["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_from_the_v1alpha1_chart_keeps_every_object_and_moves_its_storage() {
    let bin = support::launcher::build().unwrap_or_else(|e| panic!("{e}"));
    let path = support::scratch_path("upgrade-kubeconfig");
    let plane = tokio::task::spawn_blocking(move || {
        Launcher::start(&path, std::process::id(), Duration::from_secs(180))
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"));
    let tools = Tools {
        bin,
        kubeconfig: plane.kubeconfig().to_path_buf(),
    };
    let client = Client::try_from(support::config_from(plane.kubeconfig()).await).unwrap();
    let mut etcd_file = plane.kubeconfig().as_os_str().to_owned();
    etcd_file.push(".etcd");
    let etcd = std::fs::read_to_string(&etcd_file)
        .unwrap()
        .trim()
        .to_string();
    let sim = team_b_simulator().await;

    // 1. The old chart, its CRDs (v1alpha1 only) and a team's objects.
    let old_chart = repo_root().join(OLD_CHART);
    tools.run(
        "helm",
        &[
            "install",
            RELEASE,
            old_chart.to_str().unwrap(),
            "--namespace",
            RELEASE_NS,
            "--create-namespace",
            "--wait=false",
        ],
        None,
    );
    for plural in promoted() {
        assert_eq!(stored_versions(&client, plural).await, ["v1alpha1"]);
    }
    tools.run("kubectl", &["create", "namespace", NS], None);
    tools.run(
        "kubectl",
        &[
            "-n",
            NS,
            "create",
            "secret",
            "generic",
            "aura-api",
            &format!("--from-literal=clientId={CLIENT_ID}"),
            &format!("--from-literal=clientSecret={CLIENT_SECRET}"),
        ],
        None,
    );
    let apply = || tools.run("kubectl", &["apply", "-f", "-"], Some(&old_manifests()));
    eventually("the old CRDs to take objects", WAIT, || async {
        let mut cmd = tools.command("kubectl");
        cmd.args(["apply", "--dry-run=server", "-f", "-"]);
        let ok = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write as _;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(old_manifests().as_bytes())?;
                c.wait()
            })
            .is_ok_and(|s| s.success());
        ok.then_some(())
    })
    .await;
    apply();

    // What the v1alpha1 operator left: the instance running, its status, its
    // claim and its Secret owned through a v1alpha1 reference.
    let made = sim
        .state()
        .console_create(&console_request("europe-west1", "orders"))
        .expect("an instance in the simulator");
    let id = made.instance.id.clone();
    let (orders, _) = tools.run(
        "kubectl",
        &[
            "-n",
            NS,
            "get",
            "aurainstances.v1alpha1.aura-operator.io",
            "orders",
            "-o",
            "json",
        ],
        None,
    );
    let orders: Value = serde_json::from_str(&orders).unwrap();
    let uid = orders["metadata"]["uid"].as_str().unwrap().to_string();
    let url = made.instance.connection_url.clone().unwrap();
    let status = json!({"status": {
        "observedGeneration": 1, "phase": "Running", "instanceId": id, "tenantId": TENANT_B,
        "connectionUrl": url, "auraStatus": "running", "memory": "8GB",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Running",
            "message": "instance running", "lastTransitionTime": "2026-11-01T10:00:00Z",
            "observedGeneration": 1}],
    }});
    tools.run(
        "kubectl",
        &[
            "-n",
            NS,
            "patch",
            "aurainstances.v1alpha1.aura-operator.io",
            "orders",
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ],
        None,
    );
    let claim = format!(
        "apiVersion: aura-operator.io/v1alpha1\nkind: AuraInstanceClaim\nmetadata: {{name: \"{id}\"}}\n\
         spec: {{instanceId: \"{id}\", holder: {{namespace: {NS}, name: orders, uid: \"{uid}\"}}}}\n"
    );
    tools.run("kubectl", &["apply", "-f", "-"], Some(&claim));
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "orders-connection", "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "aura-operator",
                       "aura-operator.io/aurainstance": "orders"},
            "ownerReferences": [{"apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraInstance",
                "name": "orders", "uid": uid, "controller": true}]},
        "stringData": {"NEO4J_URI": url, "NEO4J_USERNAME": made.username,
            "NEO4J_PASSWORD": made.password, "AURA_INSTANCEID": id, "AURA_INSTANCENAME": "orders"},
    });
    tools.run("kubectl", &["apply", "-f", "-"], Some(&secret.to_string()));
    // A Secret of the operator's that no reconcile rewrites (owned by the
    // AuraProject): only the migration moves its owner reference.
    let (team, _) = tools.run(
        "kubectl",
        &[
            "-n",
            NS,
            "get",
            "auraprojects.v1alpha1.aura-operator.io",
            "team",
            "-o",
            "json",
        ],
        None,
    );
    let team: Value = serde_json::from_str(&team).unwrap();
    let quiet = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "team-notes", "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "aura-operator"},
            "ownerReferences": [{"apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraProject",
                "name": "team", "uid": team["metadata"]["uid"]}]},
        "stringData": {"note": "kept"},
    });
    tools.run("kubectl", &["apply", "-f", "-"], Some(&quiet.to_string()));
    let before: Vec<Vec<(String, Value)>> = promoted()
        .iter()
        .map(|p| tools.read_all(p, "v1alpha1").0)
        .collect();
    assert!(before.iter().all(|items| !items.is_empty()), "{before:?}");
    for (plural, items) in promoted().iter().zip(&before) {
        for (key, _) in items {
            assert_eq!(
                stored_as(&etcd, plural, key).await,
                "aura-operator.io/v1alpha1"
            );
        }
    }

    // 2. The runbook: the new CRDs first (helm upgrade leaves crds/ alone),
    // then the chart.
    let crds = repo_root().join("charts/aura-operator/crds");
    tools.run(
        "kubectl",
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            crds.to_str().unwrap(),
        ],
        None,
    );
    let chart = repo_root().join("charts/aura-operator");
    tools.run(
        "helm",
        &[
            "upgrade",
            RELEASE,
            chart.to_str().unwrap(),
            "--namespace",
            RELEASE_NS,
        ],
        None,
    );
    for (kind, name) in [
        ("validatingadmissionpolicy", "aura-operator-aurads-types"),
        ("clusterrole", "aura-operator-storage-migration"),
    ] {
        tools.run("kubectl", &["get", kind, name], None);
    }
    for plural in promoted() {
        let stored = stored_versions(&client, plural).await;
        assert!(
            stored.contains(&"v1alpha1".to_string()),
            "{plural}: {stored:?}"
        );
    }

    // 3. Every object reads the same in both versions; v1alpha1 warns; Argo
    // CD's health check and kstatus say the same of both.
    let both_alike = |stage: &str| {
        for plural in promoted() {
            let (new, _) = tools.read_all(plural, "v1beta1");
            let (old, warnings) = tools.read_all(plural, "v1alpha1");
            assert_eq!(new, old, "{stage}: {plural} differs between the versions");
            assert!(
                warnings.contains("aura-operator.io/v1alpha1") && warnings.contains("deprecated"),
                "{stage}: no deprecation warning for {plural}: {warnings}"
            );
            if plural == "aurainstances" {
                for ((_, n), (_, o)) in new.iter().zip(&old) {
                    let with = |o: &Value, v: &str| {
                        let mut o = o.clone();
                        o["apiVersion"] = json!(format!("aura-operator.io/{v}"));
                        o
                    };
                    let (n, o) = (with(n, "v1beta1"), with(o, "v1alpha1"));
                    assert_eq!(argo_health(&n), argo_health(&o), "{stage}");
                    assert_eq!(kstatus(&n), kstatus(&o), "{stage}");
                }
            }
        }
    };
    both_alike("before the migration");

    // 4. The new operator (cluster-wide, with the chart's rights): it
    // migrates once, and takes over the running instance without creating
    // anything.
    // As the chart's ServiceAccount: its RBAC must be enough to migrate.
    let as_chart = support::impersonating_kubeconfig(plane.kubeconfig(), RELEASE_NS, RELEASE);
    let operator = Operator::start_on(&as_chart, None, &sim.base_url(), &[], &[]);
    for plural in promoted() {
        eventually(
            &format!("{plural} stored as v1beta1 only"),
            WAIT,
            || async { (stored_versions(&client, plural).await == ["v1beta1"]).then_some(()) },
        )
        .await;
    }
    // Every object was written again: etcd holds it as v1beta1.
    for (plural, items) in promoted().iter().zip(&before) {
        for (key, _) in items {
            assert_eq!(
                stored_as(&etcd, plural, key).await,
                "aura-operator.io/v1beta1",
                "{plural} {key}"
            );
        }
    }
    for name in ["orders-connection", "team-notes"] {
        let secret: Secret = Api::namespaced(client.clone(), NS).get(name).await.unwrap();
        assert_eq!(
            secret.owner_references()[0].api_version,
            "aura-operator.io/v1beta1",
            "{name}"
        );
    }
    let orders = eventually("orders Ready with its instance and tier", WAIT, || async {
        let (items, _) = tools.read_all("aurainstances", "v1beta1");
        let o = items.into_iter().find(|(k, _)| k == "team-a/orders")?.1;
        (ready_reason(&o).is_some_and(|(s, _)| s == "True")
            && o["status"]["tier"] == "virtual-dedicated-cloud")
            .then_some(o)
    })
    .await;
    assert_eq!(orders["status"]["instanceId"], id);
    let got = support::poll(
        Duration::from_secs(5),
        Duration::from_millis(500),
        || async {
            let s: Secret = Api::namespaced(client.clone(), NS)
                .get("orders-connection")
                .await
                .ok()?;
            let password = s.data?.get("NEO4J_PASSWORD")?.0.clone();
            Some(password)
        },
    )
    .await;
    assert_eq!(
        got.as_deref(),
        Some(made.password.as_bytes()),
        "the password is kept"
    );
    let log_text = eventually("the migration's summary", WAIT, || async {
        let text = operator.log();
        text.contains("storage migration done").then_some(text)
    })
    .await;
    assert!(log_text.contains("storedVersions trimmed"), "{log_text}");
    let objects: usize = before.iter().map(Vec::len).sum();
    // A conflict means another write stored the object first: etcd above
    // is the check; the count says the migration did the rest.
    let count = |field: &str| -> usize {
        let done = log_text
            .lines()
            .find(|l| l.contains("storage migration done"))
            .unwrap_or_else(|| panic!("no summary in\n{log_text}"));
        let at = done.find(&format!("{field}=")).unwrap() + field.len() + 1;
        done[at..].split(' ').next().unwrap().parse().unwrap()
    };
    assert!((1..=objects).contains(&count("rewritten")), "{log_text}");
    assert!(count("secrets_moved") >= 1, "team-notes: {log_text}");
    both_alike("after the migration");
    // The command the README gives finds nothing left to do.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_aura-operator"))
        .arg("migrate-storage")
        .env("KUBECONFIG", plane.kubeconfig())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        printed.matches("NothingToDo, 0 rewritten").count(),
        6,
        "{printed}"
    );
    // kubectl get says why an object waits.
    let (table, _) = tools.run("kubectl", &["-n", NS, "get", "aurainstances"], None);
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("READY") && header.contains("REASON"),
        "{table}"
    );
    let (_, reason) = ready_reason(&orders).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("orders") && l.split_whitespace().any(|w| w == reason)),
        "{reason} in\n{table}"
    );

    // 5. v1beta1's shape: a tier name and no version create the right
    // instance; an AuraDS type warns at admission and still works.
    let new_manifests = format!(
        r#"
apiVersion: aura-operator.io/v1beta1
kind: AuraInstance
metadata: {{name: tiered, namespace: {NS}}}
spec: {{projectRef: {{name: team}}, cloudProvider: gcp, region: europe-west1, type: professional, memory: 4GB}}
---
apiVersion: aura-operator.io/v1beta1
kind: AuraInstance
metadata: {{name: graphy, namespace: {NS}}}
spec: {{projectRef: {{name: team}}, cloudProvider: gcp, region: europe-west1, type: professional-ds, memory: 4GB}}
"#
    );
    let (_, warnings) = tools.run("kubectl", &["apply", "-f", "-"], Some(&new_manifests));
    assert!(
        warnings.contains("Warning:")
            && warnings.contains("graphy")
            && warnings.contains("no longer offers")
            && !warnings.contains("tiered"),
        "{warnings}"
    );
    for (name, aura_type, tier) in [
        ("tiered", "professional-db", Some("professional")),
        ("graphy", "professional-ds", None),
    ] {
        let o = eventually(&format!("{name} Ready"), WAIT, || async {
            let (items, _) = tools.read_all("aurainstances", "v1beta1");
            let o = items
                .into_iter()
                .find(|(k, _)| k == &format!("{NS}/{name}"))?
                .1;
            ready_reason(&o)
                .is_some_and(|(s, _)| s == "True")
                .then_some(o)
        })
        .await;
        let made = sim
            .state()
            .instance(o["status"]["instanceId"].as_str().unwrap())
            .unwrap();
        assert_eq!(made.instance.instance_type.as_deref(), Some(aura_type));
        assert_eq!(made.version, "5", "{name}: the newest version offered");
        assert_eq!(o["status"]["tier"].as_str(), tier, "{name}");
    }
    let creates: Vec<String> = sim
        .state()
        .counters()
        .journal
        .into_iter()
        .filter(|l| l.starts_with("POST /v1/instances ") || l.contains("/overwrite"))
        .collect();
    assert_eq!(
        creates.len(),
        2,
        "only the two new objects create: {creates:?}"
    );

    operator.kill().await;
    let stopped = tokio::task::spawn_blocking(move || plane.stop(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(stopped.is_ok(), "{stopped:?}");
}

//! RBAC, sufficient and minimal: the chart's rules are exactly what `KINDS`
//! says the operator uses; `aura-operator run`, with exactly the chart's
//! Deployment args and a kubeconfig impersonating the chart's
//! ServiceAccount, takes an AuraInstance from create to Ready to deleted on
//! the Aura simulator (cluster-wide and namespaced RBAC), and the same
//! identity is refused anything else.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use aura_operator::api::{AuraInstance, AuraProject, ClusterAuraProject};
use aura_operator::simulator::{Simulator, SimulatorConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace, Pod, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::process::Child;

use super::*;
use crate::support::harness::ensure_crd;
use crate::support::logs::Log;
use crate::support::{self, cluster, eventually};

const CLIENT_ID: &str = "pkg-client";
const CLIENT_SECRET: &str = "pkg-secret-R4nd0mXyZ";
const TENANT: &str = "5b9a3c1e-7d2f-4a8b-9c6d-0e1f2a3b4c5d";

fn impersonating_kubeconfig(namespace: &str, sa: &str) -> PathBuf {
    support::impersonating_kubeconfig(&support::kubeconfig_path(), namespace, sa)
}

fn forbidden<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) {
    match result {
        Err(ref e) if support::api_error_code(e) == Some(403) => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

async fn get_200(url: &str) -> bool {
    match reqwest::get(url).await {
        Ok(r) => r.status().as_u16() == 200,
        Err(_) => false,
    }
}

/// A release of the chart with its own credentials Secret and its
/// ClusterAuraProject "default" allowing `work_ns`, over a simulator.
struct Release {
    client: Client,
    rel_ns: String,
    work_ns: String,
    sim: Simulator,
    release: String,
    /// The release's full name: its ServiceAccount, roles and Deployment.
    full: String,
    namespaced: bool,
}

impl Release {
    async fn install(namespaced: bool) -> Self {
        let client = support::admin_client().await;
        ensure_crd(&client).await;
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
        Self {
            client,
            rel_ns,
            work_ns,
            sim,
            release,
            full,
            namespaced,
        }
    }

    fn projects(&self) -> Api<ClusterAuraProject> {
        Api::all(self.client.clone())
    }

    /// Exactly the rules we mean to grant, as stored by the apiserver.
    async fn assert_granted_rules(&self) {
        let (client, full) = (&self.client, &self.full);
        if self.namespaced {
            let role: Role = Api::namespaced(client.clone(), &self.work_ns)
                .get(full)
                .await
                .unwrap();
            assert_eq!(rules_json(role.rules.unwrap_or_default()), manager_rules());
            assert!(
                Api::<ClusterRole>::all(client.clone())
                    .get_opt(full)
                    .await
                    .unwrap()
                    .is_none()
            );
            let creds: Role = Api::namespaced(client.clone(), &self.rel_ns)
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
            let cr: ClusterRole = Api::all(client.clone()).get(full).await.unwrap();
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
        let claims_role: ClusterRole = Api::all(client.clone())
            .get(&format!("{full}-claims"))
            .await
            .unwrap();
        assert_eq!(
            rules_json(claims_role.rules.unwrap_or_default()),
            claim_rules()
        );

        // The default project the chart made from its values.
        let project = self
            .projects()
            .get("default")
            .await
            .expect("the ClusterAuraProject default");
        assert_eq!(
            serde_json::to_value(&project.spec).unwrap(),
            json!({"credentialsSecretRef": {"name": format!("{full}-credentials"), "namespace": self.rel_ns},
                   "allowedNamespaces": {"names": [self.work_ns]}})
        );
        let lease_role: Role = Api::namespaced(client.clone(), &self.rel_ns)
            .get(&format!("{full}-leader-election"))
            .await
            .unwrap();
        assert_eq!(
            rules_json(lease_role.rules.unwrap_or_default()),
            lease_rules(full)
        );
    }

    /// The chart's own args, with the admin server on a free loopback port
    /// (and, in cluster-wide mode, limited to this test's namespace so that
    /// concurrent tests do not meet); returns them and the admin address.
    async fn operator_args(&self) -> (Vec<String>, std::net::SocketAddr) {
        let deploy: Deployment = Api::namespaced(self.client.clone(), &self.rel_ns)
            .get(&self.full)
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
        if self.namespaced {
            assert!(
                args.contains(&format!("--namespace={}", self.work_ns)),
                "{args:?}"
            );
        } else {
            args.push(format!("--namespace={}", self.work_ns));
        }
        (args, admin)
    }

    /// Starts `aura-operator run` with `args` as the chart's ServiceAccount
    /// (a kubeconfig impersonating it; first proven to be honoured).
    async fn start_operator(&self, args: &[String], pod_name: &str) -> (Child, Log) {
        let kubeconfig = impersonating_kubeconfig(&self.rel_ns, &self.full);
        let as_sa = Client::try_from(support::config_from(&kubeconfig).await).unwrap();
        forbidden(
            "list Pods through the impersonating kubeconfig",
            Api::<Pod>::namespaced(as_sa, &self.work_ns)
                .list(&ListParams::default())
                .await,
        );
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_aura-operator"))
            .args(args)
            .env_clear()
            .env("KUBECONFIG", &kubeconfig)
            .env("POD_NAME", pod_name)
            .env("POD_NAMESPACE", &self.rel_ns)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start aura-operator run");
        let mut log = Log::default();
        log.capture(child.stdout.take().unwrap());
        log.capture(child.stderr.take().unwrap());
        (child, log)
    }

    /// Leader election through the Role in the release namespace.
    async fn assert_leads(&self, pod_name: &str) {
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), &self.rel_ns);
        // The Lease may exist a moment before its holder is written.
        let holder = eventually("the leader lease held", WAIT, || {
            let leases = leases.clone();
            let full = self.full.clone();
            async move {
                let lease = leases.get_opt(&full).await.ok().flatten()?;
                lease.spec.and_then(|s| s.holder_identity)
            }
        })
        .await;
        assert_eq!(holder, pod_name);
    }

    /// The finalizers of the ClusterAuraProject "default" once it is Ready
    /// and used by `used_by` AuraInstances; `None` after [`WAIT`].
    async fn project_used_by(&self, used_by: u32, finalizer_held: bool) -> Option<()> {
        let projects = self.projects();
        support::poll(WAIT, Duration::from_millis(250), || {
            let projects = projects.clone();
            async move {
                let p = projects.get("default").await.ok()?;
                let held =
                    crate::support::objects::holds(&p, aura_operator::api::PROJECT_FINALIZER);
                let st = p.status?;
                let ready = st
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                (ready && st.used_by == used_by && held == finalizer_held).then_some(())
            }
        })
        .await
    }

    /// create -> Ready -> delete, with the default credentials the chart
    /// created; the project counts its user and holds its finalizer while
    /// used, and lets it go after. Returns the instance's manifest.
    async fn lifecycle(&self, log: &Log) -> AuraInstance {
        let instances: Api<AuraInstance> = Api::namespaced(self.client.clone(), &self.work_ns);
        let obj: AuraInstance = serde_json::from_value(json!({
            "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraInstance",
            "metadata": {"name": "rbac-db"},
            "spec": {"cloudProvider": "gcp", "region": "europe-west1",
                     "type": "enterprise-db", "memory": "8GB"},
        }))
        .unwrap();
        instances
            .create(&PostParams::default(), &obj)
            .await
            .unwrap();
        let ready = support::poll(WAIT, Duration::from_millis(250), || {
            let instances = instances.clone();
            async move {
                instances
                    .get("rbac-db")
                    .await
                    .ok()
                    .filter(|o| crate::support::objects::is_true(o, "Ready"))
            }
        })
        .await
        .unwrap_or_else(|| panic!("rbac-db never became Ready\n--- log ---\n{}", log.text()));
        let id = ready.status.unwrap().instance_id.expect("instanceId");
        assert!(self.sim.state().instance(&id).is_some());
        self.project_used_by(1, true).await.unwrap_or_else(|| {
            panic!(
                "the ClusterAuraProject default never showed Ready, usedBy 1 and {}\n--- log ---\n{}",
                aura_operator::api::PROJECT_FINALIZER,
                log.text()
            )
        });
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.work_ns);
        let conn = secrets.get("rbac-db-connection").await.unwrap();
        assert!(
            aura_operator::kinds::instance::secret::read_key(&conn, "NEO4J_PASSWORD")
                .is_some_and(|p| !p.is_empty())
        );

        instances
            .delete("rbac-db", &DeleteParams::default())
            .await
            .unwrap();
        let gone = support::poll(WAIT, Duration::from_millis(250), || {
            let instances = instances.clone();
            async move { matches!(instances.get_opt("rbac-db").await, Ok(None)).then_some(()) }
        })
        .await;
        assert!(
            gone.is_some(),
            "rbac-db was not deleted\n--- log ---\n{}",
            log.text()
        );
        // Used by nobody any more: the finalizer goes, so that uninstalling
        // the chart can delete the project.
        assert!(
            self.project_used_by(0, false).await.is_some(),
            "the ClusterAuraProject default kept usedBy or its finalizer\n--- log ---\n{}",
            log.text()
        );
        assert!(
            self.sim.state().instance(&id).is_none(),
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
        obj
    }

    /// The same identity is refused everything outside its role.
    async fn assert_refused_the_rest(&self, obj: &AuraInstance) {
        let (rel_ns, work_ns, full) = (&self.rel_ns, &self.work_ns, &self.full);
        let sa = support::impersonating_client(rel_ns, full).await;
        forbidden(
            "list Pods",
            Api::<Pod>::namespaced(sa.clone(), work_ns)
                .list(&ListParams::default())
                .await,
        );
        forbidden(
            "list ConfigMaps",
            Api::<ConfigMap>::namespaced(sa.clone(), work_ns)
                .list(&ListParams::default())
                .await,
        );
        forbidden(
            "patch a Deployment",
            Api::<Deployment>::namespaced(sa.clone(), rel_ns)
                .patch(
                    full,
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
                    work_ns,
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
                        "apiVersion": "aura-operator.io/v1beta1", "kind": "ClusterAuraProject",
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
            Api::<AuraProject>::namespaced(sa.clone(), work_ns)
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({
                        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraProject",
                        "metadata": {"name": "rogue"},
                        "spec": {"credentialsSecretRef": {"name": "x"}},
                    }))
                    .unwrap(),
                )
                .await,
        );
        forbidden(
            "create an AuraInstance",
            Api::<AuraInstance>::namespaced(sa.clone(), work_ns)
                .create(&PostParams::default(), obj)
                .await,
        );
        forbidden(
            "delete an AuraInstance",
            Api::<AuraInstance>::namespaced(sa.clone(), work_ns)
                .delete("anything", &DeleteParams::default())
                .await,
        );
        forbidden(
            "create a core/v1 Event",
            Api::<CoreEvent>::namespaced(sa.clone(), work_ns)
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
            Api::<Lease>::namespaced(sa.clone(), rel_ns)
                .list(&ListParams::default())
                .await,
        );
        forbidden(
            "get another Lease",
            Api::<Lease>::namespaced(sa.clone(), rel_ns)
                .get("kube-controller-manager")
                .await,
        );
        forbidden(
            "create a Lease in another namespace",
            Api::<Lease>::namespaced(sa.clone(), work_ns)
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
        if self.namespaced {
            self.assert_refused_outside_its_namespaces(&sa).await;
        }
    }

    /// Namespaced mode: nothing outside the watched namespaces but the
    /// default credentials.
    async fn assert_refused_outside_its_namespaces(&self, sa: &Client) {
        let rel_ns = &self.rel_ns;
        forbidden(
            "list Secrets in the release namespace",
            Api::<Secret>::namespaced(sa.clone(), rel_ns)
                .list(&ListParams::default())
                .await,
        );
        forbidden(
            "get another Secret in the release namespace",
            Api::<Secret>::namespaced(sa.clone(), rel_ns)
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
            Api::<Secret>::namespaced(sa.clone(), rel_ns)
                .patch(
                    "some-other-secret",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
                )
                .await,
        );
        // Still allowed: reading the default credentials.
        Api::<Secret>::namespaced(sa.clone(), rel_ns)
            .get(&format!("{}-credentials", self.full))
            .await
            .expect("the default credentials stay readable");
    }
}

/// /readyz: every watch synced (a forbidden list or watch would keep it
/// unready) and the lease healthy.
async fn assert_ready(admin: std::net::SocketAddr, log: &Log) {
    let readyz = format!("http://{admin}/readyz");
    let ready = support::poll(WAIT, Duration::from_millis(250), || {
        let readyz = readyz.clone();
        async move { get_200(&readyz).await.then_some(()) }
    })
    .await;
    assert!(
        ready.is_some(),
        "/readyz never answered 200\n--- log ---\n{}",
        log.text()
    );
}

/// Graceful stop, then: nothing was forbidden along the way.
async fn assert_stops_cleanly(mut child: Child, mut log: Log) {
    let pid = child.id().expect("pid").to_string();
    run(std::process::Command::new("kill").args(["-TERM", &pid]));
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exit within 30 s of SIGTERM")
        .unwrap();
    let text = log.drained().await;
    assert!(
        status.success(),
        "exit status {status}\n--- log ---\n{text}"
    );
    let refused = refusals(&text);
    assert!(
        refused.is_empty(),
        "the operator was refused something it needs:\n{}\n--- log ---\n{text}",
        refused.join("\n")
    );
    assert!(!text.contains(CLIENT_SECRET), "client secret in the log");
}

/// The lines of an operator log that tell of a refusal: the apiserver's
/// Forbidden (its reason or its message) or a 403 in a status field. Not a
/// bare "403": instance ids are random hex, and `get instance 403c1a9e` is
/// no refusal.
fn refusals(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            let lower = line.to_lowercase();
            lower.contains("forbidden")
                || lower.contains("status=403")
                || lower.contains("code: 403")
        })
        .collect()
}

#[test]
fn refusals_are_told_apart_from_ids_that_begin_with_403() {
    let cases = [
        (
            "Aura call op=get instance 403c1a9e status=200 request_id=\"x\"",
            false,
        ),
        (
            "Aura call op=get instance d6466514 status=403 request_id=\"x\"",
            true,
        ),
        (
            "watch failed: ApiError: secrets is forbidden: User \"system:serviceaccount:a:b\" cannot list",
            true,
        ),
        (
            "ErrorResponse { status: \"Failure\", reason: \"Forbidden\", code: 403 }",
            true,
        ),
        ("reconciled in 403 ms", false),
    ];
    for (line, refused) in cases {
        assert_eq!(refusals(line) == [line], refused, "{line}");
    }
    let log = cases.map(|(line, _)| line).join("\n");
    assert_eq!(refusals(&log).len(), 3);
}

/// Installs the chart, runs `aura-operator run` with the chart's Deployment
/// args as the chart's ServiceAccount, and takes an AuraInstance (naming no
/// credentials: the chart's ClusterAuraProject "default", over the Secret the
/// chart created) from create to Ready to deleted.
async fn operator_as_the_charts_service_account(namespaced: bool) {
    // The chart's cluster-wide RBAC and its ClusterAuraProject "default".
    let _alone = cluster::exclusive().await;
    let release = Release::install(namespaced).await;
    release.assert_granted_rules().await;
    let (args, admin) = release.operator_args().await;
    let pod_name = format!("{}-6d5f7c9b8-k2j4x", release.full);
    let (child, log) = release.start_operator(&args, &pod_name).await;
    release.assert_leads(&pod_name).await;
    let obj = release.lifecycle(&log).await;
    assert_ready(admin, &log).await;
    assert_stops_cleanly(child, log).await;
    release.assert_refused_the_rest(&obj).await;
    uninstall_with_default_project(&release.client, &release.release, &release.rel_ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_as_the_charts_service_account_cluster_wide_rbac() {
    operator_as_the_charts_service_account(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_as_the_charts_service_account_namespaced_rbac() {
    operator_as_the_charts_service_account(true).await;
}

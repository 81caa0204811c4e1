//! A test harness for the operator end to end: a namespace, the Aura simulator
//! in-process, a credentials Secret and `aura-operator run` as a child process
//! watching only that namespace, with its log captured; and a hold on
//! [`cluster`](super::cluster)'s lock for as long as the harness lives.

use std::time::Duration;

use aura_operator::api::AuraInstance;
use aura_operator::simulator::{Simulator, SimulatorConfig};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::cluster::{self, Hold};
use super::eventually;
use super::logs::Log;
use super::objects::{self, Object};

pub use super::WAIT;
pub use super::fixtures::manifest;
pub use super::objects::{condition, stalled_reason};

pub const CLIENT_ID: &str = "ops-client";
pub const CLIENT_SECRET: &str = "ops-secret-Zq8vX2pL";
pub const TENANT_A: &str = "ad69ee24-1b2c-4d5e-8f90-123456789abc";
pub const TENANT_B: &str = "c3b1a7e0-9d8f-4e6a-b5c4-abcdefabcdef";

/// Installs every CRD (idempotent) and waits until each is Established.
pub async fn ensure_crd(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in aura_operator::api::crds() {
        let name = crd.metadata.name.clone().expect("a CRD has a name");
        api.patch(
            &name,
            &PatchParams::apply("aura-operator-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("apply the CRD");
        eventually(&format!("the CRD {name} to be Established"), WAIT, || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.ok()?;
                let established = crd
                    .status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                established.then_some(())
            }
        })
        .await;
    }
}

/// One running operator process with its captured log.
pub struct Operator {
    child: Child,
    log: Log,
}

impl Operator {
    /// `aura-operator run --namespace <ns>` on the simulator at `base_url`,
    /// with test-friendly defaults that `extra` may replace. The caller
    /// holds [`cluster::shared`](super::cluster::shared) (or exclusive) while
    /// it runs.
    pub fn start(ns: &str, base_url: &str, extra: &[&str]) -> Self {
        Self::start_env(ns, base_url, extra, &[])
    }

    /// [`Operator::start`] with environment variables (`AURA_FAILPOINT`, say).
    pub fn start_env(ns: &str, base_url: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let kubeconfig = super::kubeconfig_path();
        Self::start_on(&kubeconfig, Some(ns), base_url, extra, env)
    }

    /// The operator on the control plane of `kubeconfig`: watching `ns`, or
    /// cluster-wide when `None`.
    pub fn start_on(
        kubeconfig: &std::path::Path,
        ns: Option<&str>,
        base_url: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aura-operator"));
        cmd.arg("run");
        if let Some(ns) = ns {
            cmd.args(["--namespace", ns]);
        }
        cmd.args(["--aura-base-url", base_url]);
        // Test-friendly defaults; a flag given in `extra` replaces its default.
        // Credential checks reach each instance's Query API through the
        // simulator's address, as they would through a proxy.
        let query_api = query_api_url(base_url);
        for (flag, value) in [
            ("--poll-interval", "500ms"),
            ("--resync-interval", "20s"),
            ("--create-grace", "4s"),
            ("--admin-listen", "127.0.0.1:0"),
            ("--query-api-url", query_api.as_str()),
        ] {
            if !extra.contains(&flag) {
                cmd.args([flag, value]);
            }
        }
        cmd.envs(env.iter().copied());
        cmd.args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,aura_operator=debug")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start aura-operator run");
        let mut log = Log::default();
        log.capture(child.stderr.take().expect("piped stderr"));
        Self { child, log }
    }

    /// SIGKILL; returns the whole log once the process is gone.
    pub async fn kill(mut self) -> String {
        self.child.kill().await.expect("kill the operator");
        self.log.drained().await
    }

    /// Waits until the process ends by itself (a failpoint), and says how.
    pub async fn ended(&mut self, within: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .expect("the operator to end by itself")
            .expect("wait for the operator")
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("a running operator has a pid")
    }

    /// SIGTERM, then waits for the exit; returns the exit status and the log.
    pub async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the operator exits within 30 s of SIGTERM")
            .expect("wait for the operator");
        (status, self.log.drained().await)
    }

    pub fn log(&self) -> String {
        self.log.text()
    }
}

/// The `--query-api-url` that reaches the simulator's instances.
pub fn query_api_url(simulator_base_url: &str) -> String {
    format!(
        "{}/query-api/{{host}}/db/{{database}}/query/v2",
        simulator_base_url.trim_end_matches('/')
    )
}

/// The tests' simulator: the tests' client id, tenants A and B, short
/// transitions, listening on `listen`.
pub fn sim_config(listen: std::net::SocketAddr) -> SimulatorConfig {
    SimulatorConfig {
        listen,
        clients: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        tenants: vec![
            (TENANT_A.into(), "Team A".into()),
            (TENANT_B.into(), "Team B".into()),
        ],
        create_seconds: 1.5,
        transition_seconds: 1.0,
        ..SimulatorConfig::default()
    }
}

/// Writes the Aura API credentials Secret `name` in `ns`.
pub async fn put_credentials(client: &Client, ns: &str, name: &str, id: &str, secret: &str) {
    let body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"clientId": id, "clientSecret": secret},
    });
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::apply("tests").force(),
            &Patch::Apply(body),
        )
        .await
        .expect("write the credentials Secret");
}

/// A namespace, a simulator, a credentials Secret and an operator.
pub struct Harness {
    pub client: Client,
    pub ns: String,
    pub sim: Simulator,
    pub operator: Option<Operator>,
    /// Dropped last: the operator is gone before the lock is let go.
    _hold: Hold,
}

/// A failing test shows the end of its operator's log, so that a failure
/// seen once in CI can be read. The log never holds a secret
/// (`assert_log_clean`); the client secret is masked all the same, since the
/// failure may be that it leaked. Nothing here may panic: it runs while the
/// test unwinds.
impl Drop for Harness {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        if let Some(operator) = &self.operator {
            let log = operator.log().replace(CLIENT_SECRET, "<client secret>");
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
            eprintln!(
                "--- the last {} lines of the operator's log ({}) ---\n{}",
                tail.len(),
                self.ns,
                tail.join("\n")
            );
        }
    }
}

/// How many lines of the operator's log a failing test prints.
const LOG_TAIL: usize = 150;

impl Harness {
    /// For a test whose objects stay in its namespaces: holds
    /// [`cluster::shared`].
    pub async fn start(prefix: &str, configure: impl FnOnce(&mut SimulatorConfig)) -> Self {
        Self::start_holding(cluster::shared().await, prefix, configure).await
    }

    /// For a test whose objects reach beyond its namespaces (a
    /// ClusterAuraProject, say): holds [`cluster::exclusive`], so that no
    /// other test's operator runs meanwhile.
    pub async fn start_exclusive(
        prefix: &str,
        configure: impl FnOnce(&mut SimulatorConfig),
    ) -> Self {
        Self::start_holding(cluster::exclusive().await, prefix, configure).await
    }

    async fn start_holding(
        hold: Hold,
        prefix: &str,
        configure: impl FnOnce(&mut SimulatorConfig),
    ) -> Self {
        let client = super::admin_client().await;
        ensure_crd(&client).await;
        let ns = super::test_namespace(&client, prefix).await;
        let mut config = sim_config("127.0.0.1:0".parse().unwrap());
        configure(&mut config);
        let sim = Simulator::start(config).await.expect("start the simulator");
        let h = Self {
            client,
            ns,
            sim,
            operator: None,
            _hold: hold,
        };
        h.put_credentials("aura-api", CLIENT_ID, CLIENT_SECRET)
            .await;
        h
    }

    pub fn start_operator(&mut self) {
        self.start_operator_with(&[]);
    }

    /// [`Harness::start_operator_with`] and environment variables; a
    /// running operator is stopped first.
    pub fn start_operator_env(&mut self, extra: &[&str], env: &[(&str, &str)]) {
        self.operator = None;
        self.operator = Some(Operator::start_env(
            &self.ns,
            &self.sim.base_url(),
            extra,
            env,
        ));
    }

    pub fn start_operator_with(&mut self, extra: &[&str]) {
        self.operator = Some(Operator::start(&self.ns, &self.sim.base_url(), extra));
    }

    /// Merge-patches the object's spec.
    pub async fn edit(&self, name: &str, spec: Value) {
        self.instances()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await
            .unwrap_or_else(|e| panic!("editing {name}: {e}"));
    }

    /// The calls that changed something in Aura (everything but GET and the
    /// token), in the order the simulator received them, as "METHOD /path STATUS".
    pub fn aura_writes(&self) -> Vec<String> {
        self.sim
            .state()
            .counters()
            .journal
            .into_iter()
            .filter(|l| !l.starts_with("GET ") && !l.contains("/oauth/token"))
            .collect()
    }

    /// (type, reason, note) of the events of one object.
    pub async fn events(&self, name: &str) -> Vec<(String, String, String)> {
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), &self.ns);
        let list = api.list(&Default::default()).await.expect("list events");
        list.items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Waits for an event of this reason on the object, returning its note.
    pub async fn wait_event(&self, name: &str, reason: &str) -> String {
        let what = format!("event {reason} on {name}");
        eventually(&what, WAIT, || async {
            self.events(name)
                .await
                .into_iter()
                .find(|e| e.1 == reason)
                .map(|e| e.2)
        })
        .await
    }

    pub async fn put_credentials(&self, name: &str, id: &str, secret: &str) {
        put_credentials(&self.client, &self.ns, name, id, secret).await;
    }

    pub fn instances(&self) -> Api<AuraInstance> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The objects of kind `K` in the harness's namespace.
    pub fn api<K: Object + kube::Resource<Scope = kube::core::NamespaceResourceScope>>(
        &self,
    ) -> Api<K> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates an AuraInstance in the harness's namespace.
    pub async fn create(&self, manifest: impl Into<Value>) -> AuraInstance {
        objects::create(&self.instances(), manifest).await
    }

    /// Waits until `check` holds for the AuraInstance, returning it.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&AuraInstance) -> bool,
    ) -> AuraInstance {
        objects::wait_for(&self.instances(), name, what, check).await
    }

    pub async fn wait_ready(&self, name: &str) -> AuraInstance {
        objects::wait_ready(&self.instances(), name).await
    }

    pub async fn wait_gone(&self, name: &str) {
        objects::wait_gone(&self.instances(), name).await;
    }

    /// Calls that changed the instance `id` in Aura, in order.
    pub fn writes_to(&self, id: &str) -> Vec<String> {
        self.aura_writes()
            .into_iter()
            .filter(|l| l.contains(&format!("/instances/{id}")))
            .collect()
    }

    pub async fn secret_value(&self, name: &str, key: &str) -> Option<String> {
        let s = self.secrets().get_opt(name).await.ok()??;
        aura_operator::kinds::instance::secret::read_key(&s, key)
    }

    pub fn operator_log(&self) -> String {
        self.operator
            .as_ref()
            .map(Operator::log)
            .unwrap_or_default()
    }

    /// No password the simulator issued and no client secret in the operator's log.
    pub fn assert_log_clean(&self, log: &str) {
        assert!(
            !log.is_empty(),
            "the operator logged nothing: is it running?"
        );
        assert!(
            !log.contains(CLIENT_SECRET),
            "the client secret leaked into the operator log"
        );
        // Its stderr is a pipe here, as in a Pod: no terminal colours.
        assert!(
            !log.contains('\u{1b}'),
            "escape codes in a log that goes to no terminal"
        );
        for i in self.sim.state().instances() {
            assert!(
                !log.contains(&i.password),
                "the password of {} leaked into the operator log",
                i.instance.id
            );
        }
    }
}

/// The body of a create made in the Aura console (the simulator's admin API):
/// what the default manifest asks for, in `region`, named `name`.
pub fn console_request(region: &str, name: &str) -> aura_operator::aura::CreateInstanceRequest {
    aura_operator::aura::CreateInstanceRequest {
        version: "5".into(),
        region: region.into(),
        memory: "8GB".into(),
        name: name.into(),
        instance_type: "enterprise-db".into(),
        tenant_id: TENANT_B.into(),
        cloud_provider: "gcp".into(),
        storage: None,
        vector_optimized: None,
        graph_analytics_plugin: None,
        customer_managed_key_id: None,
        source_instance_id: None,
        source_snapshot_id: None,
    }
}

/// The instance id recorded in status; panics when there is none.
pub fn instance_id(o: &AuraInstance) -> String {
    o.status
        .as_ref()
        .and_then(|s| s.instance_id.clone())
        .expect("instanceId")
}

/// A simulator of its own for a test with control planes of its own: the
/// harness's client id, tenant B, quick creates and transitions.
pub async fn team_b_simulator() -> aura_operator::simulator::Simulator {
    aura_operator::simulator::Simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        tenants: vec![(TENANT_B.into(), "Team B".into())],
        create_seconds: 1.5,
        transition_seconds: 1.0,
        ..SimulatorConfig::default()
    })
    .await
    .unwrap()
}

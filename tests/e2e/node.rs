//! What only a real node tells: the chart's Pods running from the operator's
//! image, and applications reading a connection Secret the way Pods do.
//!
//! These tests run on a control plane of their own with a node
//! (`tests/testenv/run --node`, see [`support::node`]); they skip, saying
//! why, on a machine that cannot have one, unless `AURA_TESTENV_NODE=required`
//! (`make test`). The simulator listens on the host side of the node's veth,
//! the only address of this machine the node's Pods reach.
//!
//! The chart's NetworkPolicy is not tested here: the node's CNI is the
//! reference bridge plugin, which does not enforce NetworkPolicies (a policy
//! is admitted and has no effect), so a test of it would pass whatever the
//! policy says. It needs a policy-enforcing CNI (Calico, Cilium), which the
//! test environment does not have.
//!
//! `cargo test --test e2e -- node::` runs them.

use std::process::Command;
use std::time::{Duration, Instant};

use aura_operator::api::{AuraDatabaseUser, AuraInstance};
use aura_operator::simulator::Simulator;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::support;
use support::fixtures::{database_user, instance};
use support::harness::{
    CLIENT_ID, CLIENT_SECRET, Operator, ensure_crd, put_credentials, query_api_url, sim_config,
};
use support::node::{Node, OPERATOR_IMAGE, TOOL_IMAGE};
use support::{WAIT, eventually, objects};

/// The chart's lease duration in the failover test (the chart's default is 15s).
const LEASE: &str = "6s";

/// Runs a command, failing the test with its output when it fails; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A simulator where the node's Pods reach it (the host side of the veth).
async fn simulator_for(node: &Node) -> Simulator {
    Simulator::start(sim_config((node.host_ip, 0).into()))
        .await
        .expect("start the simulator")
}

/// A test namespace with the Aura API credentials Secret `aura-api`.
async fn namespace(client: &Client, prefix: &str) -> String {
    let ns = support::test_namespace(client, prefix).await;
    put_credentials(client, &ns, "aura-api", CLIENT_ID, CLIENT_SECRET).await;
    ns
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |c| c.iter().map(|c| c.restart_count).sum())
}

/// The host pid of the operator process of Pod `pod` (the node's PID
/// namespace is a child of this machine's: its processes are in our /proc).
fn operator_process_of(pod: &str) -> Option<u32> {
    let wanted = format!("POD_NAME={pod}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            if !exe.ends_with("aura-operator") {
                return None;
            }
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|b| *b == 0)
                .any(|v| v == wanted.as_bytes())
                .then_some(pid)
        })
}

/// The pod names of the release's Deployment, once both replicas are Ready.
async fn both_ready(pods: &Api<Pod>, selector: &str, node: &Node) -> Vec<String> {
    let listed = support::poll(WAIT, Duration::from_millis(500), || async {
        let list = pods
            .list(&ListParams::default().labels(selector))
            .await
            .ok()?;
        let ready: Vec<String> = list
            .items
            .iter()
            .filter(|p| ready(p))
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        (ready.len() == 2).then_some(ready)
    })
    .await;
    match listed {
        Some(names) => names,
        None => panic!(
            "the chart's two Pods were not both Ready within {WAIT:?}:\n{}\nnode log:\n{}",
            run(node
                .tool("kubectl")
                .args(["describe", "pods", "-A", "-l", selector])),
            node.log()
        ),
    }
}

#[test]
fn the_local_operator_image_agrees_with_the_dockerfile() {
    let root = support::repo_root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/testenv/node/operator-image.json")).unwrap(),
    )
    .unwrap();
    // The runtime stage: the instructions after the last FROM, continuation
    // lines joined, comments dropped.
    let joined = dockerfile.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM");
    let base = lines[from].split_whitespace().nth(1).unwrap();
    let stage = &lines[from + 1..];
    let one = |instruction: &str| -> String {
        let found: Vec<&str> = stage
            .iter()
            .filter_map(|l| l.strip_prefix(instruction).map(str::trim))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one {instruction} in the runtime stage: {found:?}"
        );
        found[0].to_string()
    };
    let exec_form = |s: String| -> Value { serde_json::from_str(&s).expect("an exec-form array") };

    assert_eq!(json!(one("USER ")), spec["user"], "USER");
    assert_eq!(json!(one("WORKDIR ")), spec["workdir"], "WORKDIR");
    assert_eq!(
        exec_form(one("ENTRYPOINT ")),
        spec["entrypoint"],
        "ENTRYPOINT"
    );
    assert_eq!(exec_form(one("CMD ")), spec["cmd"], "CMD");
    let exposed: Vec<String> = one("EXPOSE ")
        .split_whitespace()
        .map(|p| {
            if p.contains('/') {
                p.to_string()
            } else {
                format!("{p}/tcp")
            }
        })
        .collect();
    assert_eq!(json!(exposed), spec["exposed_ports"], "EXPOSE");
    // Files: the one COPY puts the binary where the entrypoint runs it.
    let copy = one("COPY ");
    assert_eq!(
        json!(copy.split_whitespace().last().unwrap()),
        spec["binary"],
        "COPY destination"
    );
    assert_eq!(spec["entrypoint"][0], spec["binary"]);
    // The base provides glibc, the CA certificates and the nonroot user;
    // the local image carries the same (its libraries from ldd).
    assert!(
        base.contains("distroless/cc") && base.ends_with(":nonroot"),
        "the Dockerfile's base changed ({base}): update operator-image.json and this test"
    );
    assert_eq!(
        spec["ca_certificates"],
        json!("/etc/ssl/certs/ca-certificates.crt")
    );
    let (uid, gid) = spec["user"].as_str().unwrap().split_once(':').unwrap();
    assert!(
        spec["passwd"]
            .as_str()
            .unwrap()
            .lines()
            .any(|l| l.starts_with(&format!("nonroot:x:{uid}:{gid}:"))),
        "the user {uid}:{gid} is nonroot in /etc/passwd"
    );
    assert_ne!(uid, "0", "a non-root user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_two_replicas_run_and_survive_a_killed_then_a_frozen_leader() {
    let Some(node) = support::node::node("node::chart").await else {
        return;
    };
    let client = node.client().await;
    let ns = namespace(&client, "node-chart").await;
    let sim = simulator_for(node).await;
    let base = sim.base_url();
    let release = format!("n{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (repository, tag) = OPERATOR_IMAGE.rsplit_once(':').unwrap();
    run(node
        .tool("helm")
        .args(["install", &release])
        .arg(support::repo_root().join("charts/aura-operator"))
        .args(["--namespace", &ns])
        .args([
            "--set",
            &format!("image.repository={repository},image.tag={tag},image.pullPolicy=Never"),
        ])
        .args([
            "--set",
            &format!("aura.baseUrl={base},aura.pollInterval=1s"),
        ])
        .args([
            "--set-string",
            &format!("verifyCredentials.queryApiUrl={}", query_api_url(&base)),
        ])
        .args([
            "--set",
            &format!("replicas=2,leaderElection.leaseDuration={LEASE}"),
        ])
        .args(["--set", &format!("watchNamespaces={{{ns}}}")]));
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let selector = format!("app.kubernetes.io/instance={release}");
    let started = Instant::now();
    let names = both_ready(&pods, &selector, node).await;
    eprintln!(
        "node::chart: both replicas Ready {:.1}s after helm install",
        started.elapsed().as_secs_f64()
    );

    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let holder = || async {
        let list = leases.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .find_map(|l| l.spec.as_ref()?.holder_identity.clone())
    };
    let leader = eventually("a leader among the two Pods", WAIT, || async {
        holder().await.filter(|h| names.contains(h))
    })
    .await;
    let instances: Api<AuraInstance> = Api::namespaced(client.clone(), &ns);

    // 1. Kill the leader's container (its process, SIGKILL: the lease is not
    // released). The kubelet restarts it in place under the same Pod name,
    // which is the operator's identity in the Lease: the restarted process
    // may take its own lease back before the standby's wait is over. Either
    // way an AuraInstance applied meanwhile is created once and gets Ready.
    let pid = operator_process_of(&leader)
        .unwrap_or_else(|| panic!("no aura-operator process with POD_NAME={leader}"));
    run(Command::new("kill").args(["-KILL", &pid.to_string()]));
    let killed = Instant::now();
    objects::create(&instances, instance("db")).await;
    objects::wait_ready(&instances, "db").await;
    let after_kill = holder().await.expect("a leader");
    eprintln!(
        "node::chart: after the leader's container was killed, {after_kill} leads ({}); db Ready {:.1}s after the kill",
        if after_kill == leader {
            "its restarted container, same identity"
        } else {
            "the standby"
        },
        killed.elapsed().as_secs_f64()
    );
    assert_eq!(
        sim.state().counters().creates_committed,
        1,
        "db was created exactly once: {:?}",
        sim.state().recent_creates()
    );
    eventually(
        "the killed container to restart and be Ready",
        WAIT,
        || async {
            pods.get(&leader)
                .await
                .ok()
                .filter(|p| restarts(p) >= 1 && ready(p))
        },
    )
    .await;

    // 2. A leader that stops renewing without dying (SIGSTOP: frozen, its
    // container not restarted): the other Pod takes the lease once it has
    // expired, and an AuraInstance applied meanwhile is created once.
    let frozen_pod = after_kill.clone();
    let other = names.iter().find(|n| **n != frozen_pod).unwrap().clone();
    let frozen = operator_process_of(&frozen_pod)
        .unwrap_or_else(|| panic!("no aura-operator process with POD_NAME={frozen_pod}"));
    run(Command::new("kill").args(["-STOP", &frozen.to_string()]));
    let stopped = Instant::now();
    objects::create(&instances, instance("db2")).await;
    eventually("the other Pod to take the lease", WAIT, || async {
        holder().await.filter(|h| *h == other)
    })
    .await;
    eprintln!(
        "node::chart: {other} leads {:.1}s after the leader froze (lease {LEASE})",
        stopped.elapsed().as_secs_f64()
    );
    objects::wait_ready(&instances, "db2").await;
    // The frozen leader wakes up: it must not act as a leader any more.
    run(Command::new("kill").args(["-CONT", &frozen.to_string()]));
    eventually("the woken Pod to stand by again", WAIT, || async {
        let p = pods.get(&frozen_pod).await.ok()?;
        ready(&p).then_some(())
    })
    .await;
    assert_eq!(holder().await.as_deref(), Some(other.as_str()));
    assert_eq!(
        sim.state().counters().creates_committed,
        2,
        "db and db2 were created exactly once each: {:?}",
        sim.state().recent_creates()
    );

    run(node
        .tool("helm")
        .args(["uninstall", &release, "--namespace", &ns]));
}

/// Logs of a Pod of the node's control plane.
fn logs(node: &Node, ns: &str, pod: &str) -> String {
    let out = node
        .tool("kubectl")
        .args(["logs", "-n", ns, pod])
        .output()
        .expect("run kubectl logs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Pod of the tool image running `tool query TEMPLATE [DIR]`.
fn app_pod(name: &str, template: &str, secret_from: Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "dnsPolicy": "Default",
            "restartPolicy": "Always",
            "securityContext": {"runAsNonRoot": true, "runAsUser": 65532},
            "containers": [{
                "name": "app",
                "image": TOOL_IMAGE,
                "imagePullPolicy": "Never",
                "args": ["query", template],
            }],
        },
    });
    let spec = &mut pod["spec"];
    if let Some(secret) = secret_from["envFrom"].as_str() {
        spec["containers"][0]["envFrom"] = json!([{"secretRef": {"name": secret}}]);
    }
    if let Some(secret) = secret_from["volume"].as_str() {
        spec["volumes"] = json!([{"name": "login", "secret": {"secretName": secret}}]);
        spec["containers"][0]["volumeMounts"] =
            json!([{"name": "login", "mountPath": "/login", "readOnly": true}]);
        spec["containers"][0]["args"] = json!(["query", template, "/login"]);
    }
    pod
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_log_in_with_the_secret_from_env_and_from_a_volume_that_rotates() {
    let Some(node) = support::node::node("node::applications").await else {
        return;
    };
    let client = node.client().await;
    ensure_crd(&client).await;
    let ns = namespace(&client, "node-apps").await;
    let sim = simulator_for(node).await;
    let base = sim.base_url();
    let operator = Operator::start_on(&node.kubeconfig(), Some(&ns), &base, &[], &[]);

    let instances: Api<AuraInstance> = Api::namespaced(client.clone(), &ns);
    objects::create(&instances, instance("db")).await;
    objects::wait_ready(&instances, "db").await;
    let users: Api<AuraDatabaseUser> = Api::namespaced(client.clone(), &ns);
    // A long grace period: the previous login keeps working until the
    // kubelet has updated the mounted Secret.
    objects::create(
        &users,
        database_user("app")
            .of("db")
            .spec(json!({"roles": ["reader"], "rotation": {"gracePeriod": "10m"}})),
    )
    .await;
    objects::wait_ready(&users, "app").await;

    let template = query_api_url(&base);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for pod in [
        app_pod("env-app", &template, json!({"envFrom": "db-connection"})),
        app_pod("volume-app", &template, json!({"volume": "app-db"})),
    ] {
        objects::create(&pods, pod).await;
    }
    let logged_in = |pod: &'static str, line: &'static str| {
        let (node, ns) = (node, ns.clone());
        async move {
            let found = support::poll(WAIT, Duration::from_millis(500), || {
                let text = logs(node, &ns, pod);
                async move { text.contains(line).then_some(()) }
            })
            .await;
            if found.is_none() {
                panic!(
                    "{pod} did not log {line:?} within {WAIT:?}; its log:\n{}\nnode log:\n{}",
                    logs(node, &ns, pod),
                    node.log()
                );
            }
        }
    };
    logged_in("env-app", "login ok as neo4j on ").await;
    logged_in("volume-app", "login ok as app on ").await;

    users
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"aura-operator.io/rotate": "1"}}})),
        )
        .await
        .unwrap();
    objects::wait_for(&users, "app", "rotated", |u| {
        u.status.as_ref().is_some_and(|s| s.rotations == 1)
    })
    .await;
    // The mounted Secret changes under the running container: the next
    // password, a login with it, no restart, no failed login.
    logged_in("volume-app", "(password #2)").await;
    let log = logs(node, &ns, "volume-app");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("login ok as app_b on ") && last.ends_with("(password #2)"),
        "the rotated login: {log}"
    );
    assert!(!log.contains("FAILED"), "a failed login: {log}");
    let pod = pods.get("volume-app").await.unwrap();
    assert_eq!(restarts(&pod), 0, "volume-app restarted");
    let _ = operator.terminate().await;
}

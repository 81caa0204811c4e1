//! `aura-operator import` end to end: the built binary against the in-process
//! simulator, its YAML read back; and its manifests applied with kubectl and
//! adopted by the operator without a single mutating Aura call.

use crate::support;

use std::collections::BTreeMap;
use std::process::Stdio;

use aura_operator::aura::CreateInstanceRequest;
use aura_operator::simulator::{
    AdminInstance, ConsoleUpdate, Faults, Quirks, SimState, Simulator, SimulatorConfig,
};
use serde::Deserialize;
use serde_json::{Value, json};
use support::harness::*;
use tokio::io::AsyncWriteExt;

/// What one run of `aura-operator import` gave.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The YAML documents on stdout (comments alone are none).
    fn documents(&self) -> Vec<Value> {
        serde_yaml::Deserializer::from_str(&self.stdout)
            .map(|d| {
                let v = serde_yaml::Value::deserialize(d).expect("import prints valid YAML");
                serde_json::to_value(v).unwrap()
            })
            .filter(|v| !v.is_null())
            .collect()
    }

    fn assert_clean(&self, secret: &str) {
        assert!(!self.stdout.contains(secret), "the secret is on stdout");
        assert!(!self.stderr.contains(secret), "the secret is on stderr");
    }
}

/// Runs the binary with the credentials in the environment.
async fn import(base_url: &str, secret: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_aura-operator"))
        .arg("import")
        .args(["--aura-base-url", base_url])
        .args(args)
        .env("AURA_CLIENT_ID", CLIENT_ID)
        .env("AURA_CLIENT_SECRET", secret)
        .env_remove("AURA_BASE_URL")
        .env_remove("AURA_TENANT_ID")
        .env_remove("AURA_IMPORT_NAMESPACE")
        .env_remove("AURA_IMPORT_CREDENTIALS_SECRET")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run aura-operator import");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn request(tenant: &str, region: &str, name: &str) -> CreateInstanceRequest {
    CreateInstanceRequest {
        tenant_id: tenant.into(),
        ..console_request(region, name)
    }
}

fn create(state: &SimState, req: CreateInstanceRequest) -> AdminInstance {
    state.console_create(&req).expect("console create")
}

/// The documents by metadata.name.
fn by_name(docs: &[Value]) -> BTreeMap<String, Value> {
    docs.iter()
        .map(|d| {
            (
                d["metadata"]["name"].as_str().unwrap().to_string(),
                d.clone(),
            )
        })
        .collect()
}

/// Only reads reached the simulator: GETs and token calls.
fn assert_only_reads(state: &SimState) {
    let writes: Vec<String> = state
        .counters()
        .journal
        .into_iter()
        .filter(|l| !l.starts_with("GET ") && !l.contains("/oauth/token"))
        .collect();
    assert!(writes.is_empty(), "import made mutating calls: {writes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_prints_a_manifest_per_instance() {
    let sim = Simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        tenants: vec![
            (TENANT_A.into(), "Team A".into()),
            (TENANT_B.into(), "Team B".into()),
        ],
        ..SimulatorConfig::default()
    })
    .await
    .expect("start the simulator");
    let state = sim.state();
    let base = sim.base_url();

    // Tenant A: a professional instance with options, and a "legacy" one
    // (paused); tenant B: another "legacy" and a free instance.
    let orders = create(
        &state,
        CreateInstanceRequest {
            instance_type: "professional-db".into(),
            memory: "4GB".into(),
            vector_optimized: Some(true),
            ..request(TENANT_A, "europe-west1", "Orders DB")
        },
    );
    let legacy_a = create(&state, request(TENANT_A, "us-central1", "legacy"));
    let legacy_b = create(&state, request(TENANT_B, "europe-west1", "legacy"));
    let free = create(
        &state,
        CreateInstanceRequest {
            instance_type: "free-db".into(),
            memory: "1GB".into(),
            ..request(TENANT_B, "europe-west1", "free")
        },
    );
    state
        .console_update(
            &legacy_a.instance.id,
            &ConsoleUpdate {
                paused: Some(true),
                ..ConsoleUpdate::default()
            },
        )
        .unwrap();
    state.reset_counters();

    // Every tenant.
    let run = import(&base, CLIENT_SECRET, &[]).await;
    assert!(run.ok, "import failed: {}", run.stderr);
    run.assert_clean(CLIENT_SECRET);
    let docs = run.documents();
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    let legacy_b_name = format!("legacy-{}", legacy_b.instance.id);
    // By tenant (A's id sorts first), then Aura name ("Orders DB" < "legacy").
    assert_eq!(
        names,
        ["orders-db", "legacy", "free", legacy_b_name.as_str()]
    );
    for d in &docs {
        assert_eq!(d["apiVersion"], "aura-operator.io/v1beta1");
        assert_eq!(d["kind"], "AuraInstance");
        let name = d["metadata"]["name"].as_str().unwrap();
        let spec = &d["spec"];
        assert_eq!(spec["managementPolicy"], "ObserveOnly", "{name}");
        assert_eq!(spec["deletionPolicy"], "Orphan", "{name}");
        assert_eq!(
            spec["connectionSecret"],
            json!({"name": format!("{name}-connection")})
        );
        assert!(
            spec.get("version").is_none(),
            "{name}: Aura reports no version"
        );
        assert!(d["metadata"].get("namespace").is_none());
        assert!(spec.get("credentialsSecretRef").is_none());
    }
    let docs = by_name(&docs);
    assert_eq!(
        docs["orders-db"]["spec"],
        json!({
            "managementPolicy": "ObserveOnly",
            "instanceId": orders.instance.id,
            "tenantId": TENANT_A,
            "cloudProvider": "gcp",
            "region": "europe-west1",
            "type": "professional-db",
            "memory": "4GB",
            "storage": "8GB",
            "name": "Orders DB",
            "vectorOptimized": true,
            "graphAnalyticsPlugin": false,
            "deletionPolicy": "Orphan",
            "connectionSecret": {"name": "orders-db-connection"},
        })
    );
    let legacy = &docs["legacy"]["spec"];
    assert_eq!(legacy["instanceId"], legacy_a.instance.id.as_str());
    assert_eq!(legacy["region"], "us-central1");
    assert_eq!(legacy["paused"], true);
    assert!(
        legacy.get("name").is_none(),
        "the Aura name is metadata.name"
    );
    let spec = &docs[&legacy_b_name]["spec"];
    assert_eq!(spec["name"], "legacy");
    assert_eq!(spec["tenantId"], TENANT_B);
    assert!(spec.get("paused").is_none());
    let spec = &docs["free"]["spec"];
    assert_eq!(spec["instanceId"], free.instance.id.as_str());
    assert_eq!(spec["type"], "free-db");
    assert!(spec.get("storage").is_none(), "no storage for free-db");

    for want in [
        "every tenant these credentials see (2):",
        &format!("Team A ({TENANT_A}): 2 instances"),
        &format!("Team B ({TENANT_B}): 2 instances"),
        "4 instances in all: 4 manifests below, none skipped.",
        "kubectl -n <namespace> patch secret <name>-connection --type merge",
        "change its managementPolicy to Full",
    ] {
        assert!(run.stdout.contains(want), "{want:?} in\n{}", run.stdout);
    }
    assert!(
        run.stderr.contains("4 manifests printed, none skipped"),
        "{}",
        run.stderr
    );
    for i in state.instances() {
        assert!(!run.stdout.contains(&i.password), "a password was printed");
    }
    assert_only_reads(&state);

    // One tenant, into a namespace, with a credentials Secret.
    let run = import(
        &base,
        CLIENT_SECRET,
        &[
            "--tenant-id",
            TENANT_B,
            "--namespace",
            "team-b",
            "--credentials-secret",
            "aura-api",
        ],
    )
    .await;
    assert!(run.ok, "import failed: {}", run.stderr);
    let docs = run.documents();
    // Alone in its output, tenant B's "legacy" keeps its plain name.
    assert_eq!(
        by_name(&docs).keys().collect::<Vec<_>>(),
        ["free", "legacy"]
    );
    for d in &docs {
        assert_eq!(d["metadata"]["namespace"], "team-b");
        assert_eq!(d["spec"]["tenantId"], TENANT_B);
        assert_eq!(
            d["spec"]["credentialsSecretRef"],
            json!({"name": "aura-api"})
        );
    }
    assert!(run.stdout.contains("one tenant (--tenant-id)"));
    assert!(
        run.stdout
            .contains("kubectl -n team-b patch secret legacy-connection")
    );
    assert!(!run.stdout.contains(TENANT_A));

    // A value the CRD would refuse: printed as a comment, the rest as before.
    state
        .console_update(
            &orders.instance.id,
            &ConsoleUpdate {
                memory: Some("12GB".into()),
                ..ConsoleUpdate::default()
            },
        )
        .unwrap();
    let run = import(&base, CLIENT_SECRET, &[]).await;
    assert!(run.ok, "a refused value is no failure: {}", run.stderr);
    let docs = by_name(&run.documents());
    assert_eq!(docs.len(), 3);
    assert!(!docs.contains_key("orders-db"));
    assert!(
        run.stdout.contains(&format!(
            "# SKIPPED Aura instance \"Orders DB\" ({})",
            orders.instance.id
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("#   - memory \"12GB\" is not a size the CRD allows")
    );
    assert!(
        run.stderr.contains("1 instance skipped") && run.stderr.contains("memory \"12GB\""),
        "{}",
        run.stderr
    );

    // What public clients have seen the real API send (storage null,
    // capitalised statuses, numbers as strings, extra fields) reads the same.
    state.set_faults(Faults {
        quirks: Quirks::as_seen(),
        ..Faults::default()
    });
    let run = import(&base, CLIENT_SECRET, &[]).await;
    assert!(run.ok, "import failed: {}", run.stderr);
    let docs = by_name(&run.documents());
    assert_eq!(docs.len(), 3);
    assert_eq!(docs["legacy"]["spec"]["paused"], true, "Paused is paused");
    assert!(docs["legacy"]["spec"].get("storage").is_none());
    state.set_faults(Faults::default());

    // A wrong secret: a clear failure, without the secret.
    let wrong = "wrong-secret-Kp3zR9";
    let run = import(&base, wrong, &[]).await;
    assert!(!run.ok, "a refused secret fails the command");
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    assert!(
        run.stderr.contains("listing the tenants") && run.stderr.contains("HTTP 401"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("check --client-id and --client-secret"));
    run.assert_clean(wrong);

    // --help shows the variable, never its value.
    let run = import(&base, CLIENT_SECRET, &["--help"]).await;
    assert!(run.ok && run.stdout.contains("AURA_CLIENT_SECRET"));
    run.assert_clean(CLIENT_SECRET);
    assert_only_reads(&state);
    sim.shutdown().await;
}

/// Runs kubectl with `args`, feeding it `stdin`; panics unless it succeeds.
async fn kubectl(args: &[&str], stdin: &str) -> String {
    let mut cmd: tokio::process::Command = support::kubectl().into();
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubectl");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_manifests_are_adopted_without_a_mutating_call() {
    let mut h = Harness::start("import-apply", |_| {}).await;
    let state = h.sim.state();
    let made = [
        create(&state, request(TENANT_A, "europe-west1", "Orders DB")),
        create(&state, request(TENANT_A, "us-central1", "legacy")),
        create(&state, request(TENANT_B, "europe-west1", "legacy")),
    ];
    state.reset_counters();

    let run = import(
        &h.sim.base_url(),
        CLIENT_SECRET,
        &["--namespace", &h.ns, "--credentials-secret", "aura-api"],
    )
    .await;
    assert!(run.ok, "import failed: {}", run.stderr);
    let docs = run.documents();
    assert_eq!(docs.len(), made.len(), "{}", run.stdout);
    kubectl(&["apply", "-f", "-"], &run.stdout).await;
    h.start_operator();

    for d in &docs {
        let name = d["metadata"]["name"].as_str().unwrap();
        let id = d["spec"]["instanceId"].as_str().unwrap();
        let password = made
            .iter()
            .find(|m| m.instance.id == id)
            .map(|m| m.password.clone())
            .expect("an instance made above");
        assert_eq!(
            state.issued_password(id).as_deref(),
            Some(password.as_str())
        );
        // The operator makes the Secret; a person then writes the password,
        // with the command the header gives.
        let secret = format!("{name}-connection");
        support::eventually(&format!("the Secret {secret}"), WAIT, || async {
            h.secrets().get_opt(&secret).await.ok().flatten()
        })
        .await;
        let patch = json!({"stringData": {"NEO4J_PASSWORD": password}}).to_string();
        kubectl(
            &[
                "-n", &h.ns, "patch", "secret", &secret, "--type", "merge", "-p", &patch,
            ],
            "",
        )
        .await;
    }
    for d in &docs {
        let name = d["metadata"]["name"].as_str().unwrap();
        let o = h.wait_ready(name).await;
        assert_eq!(
            instance_id(&o),
            d["spec"]["instanceId"].as_str().unwrap(),
            "{name}"
        );
    }
    assert!(
        h.aura_writes().is_empty(),
        "mutating calls: {:?}",
        h.aura_writes()
    );
    let log = h.operator.take().unwrap().kill().await;
    h.assert_log_clean(&log);
}

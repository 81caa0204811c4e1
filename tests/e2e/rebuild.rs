//! README "Rebuilding the management cluster", run end to end on control
//! planes of its own: cluster A makes the instances (one with a schedule), a
//! snapshot and a restore that succeeds; its Secrets and records are carried
//! out with `backup-secrets`, and A is stopped for good. Cluster B gets the
//! same manifests from the same file and `restore-secrets`: nothing is
//! created, restored or destroyed, every instance is Ready with its old id
//! and password. Cluster C gets the manifests alone: nothing is created or
//! destroyed either, the instances say PasswordUnavailable with the way out,
//! and the restore waits for a confirmation instead of overwriting live data.
//!
//! How the invariants are kept here: one owner (each cluster's claims; B is
//! stopped before C adopts), no data across namespaces (one namespace, the
//! restore's source is its own target's snapshot), bounded work (the
//! adoption search reads only the instances of the object's own name).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aura_operator::api::{AuraDatabaseUser, AuraInstance, AuraRestore, AuraSnapshot, RestorePhase};
use aura_operator::simulator::{Counters, SimState, Simulator};
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;

use crate::support::harness::{CLIENT_ID, CLIENT_SECRET, Operator, TENANT_B, team_b_simulator};
use crate::support::{self, Launcher, Scratch, Tools, eventually, repo_root};

const NS: &str = "team-a";
const WAIT: Duration = Duration::from_secs(120);
const INSTANCES: [&str; 5] = ["orders", "billing", "search", "graph", "audit"];
/// AuraDatabaseUsers, `<instance>-api`: their Secrets are `<name>-db`.
const USERS: [&str; 2] = ["orders-api", "billing-api"];

/// The team's manifests, as its Git repository holds them.
fn manifests() -> String {
    let mut docs = vec![format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n---\n\
         apiVersion: aura-operator.io/v1beta1\nkind: AuraProject\n\
         metadata: {{name: team, namespace: {NS}}}\n\
         spec: {{credentialsSecretRef: {{name: aura-api}}, tenantId: {TENANT_B}}}\n"
    )];
    for name in INSTANCES {
        let schedule = if name == "orders" {
            // Due once a year: the rebuild must not be mistaken for its slot.
            "\n  snapshots: {schedule: \"0 3 1 1 *\", keep: 3}"
        } else {
            ""
        };
        docs.push(format!(
            "apiVersion: aura-operator.io/v1beta1\nkind: AuraInstance\n\
             metadata: {{name: {name}, namespace: {NS}}}\n\
             spec:\n  projectRef: {{name: team}}\n  cloudProvider: gcp\n  region: europe-west1\n  \
             type: professional-db\n  memory: 4GB\n  adoption: AdoptOrCreate\n  deletionPolicy: Delete\n  \
             passwordRecovery: Recreate{schedule}\n"
        ));
    }
    for user in USERS {
        let instance = user.trim_end_matches("-api");
        docs.push(format!(
            "apiVersion: aura-operator.io/v1alpha1\nkind: AuraDatabaseUser\n\
             metadata: {{name: {user}, namespace: {NS}}}\n\
             spec: {{instanceRef: {{name: {instance}}}, deletionPolicy: Delete}}\n"
        ));
    }
    docs.push(format!(
        "apiVersion: aura-operator.io/v1beta1\nkind: AuraSnapshot\n\
         metadata: {{name: before-rebuild, namespace: {NS}}}\nspec: {{instanceRef: {{name: orders}}}}\n---\n\
         apiVersion: aura-operator.io/v1beta1\nkind: AuraRestore\n\
         metadata: {{name: rollback, namespace: {NS}}}\n\
         spec: {{instanceRef: {{name: orders}}, source: {{snapshotRef: {{name: before-rebuild}}}}}}\n"
    ));
    docs.join("---\n")
}

/// The credentials Secret: not the operator's, and not in the backup (in
/// Git it would be sealed, or brought by an external store).
fn credentials() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: aura-api, namespace: {NS}}}\n\
         stringData: {{clientId: {CLIENT_ID}, clientSecret: {CLIENT_SECRET}}}\n"
    )
}

/// A management cluster: its control plane, tools and client.
struct Cluster {
    plane: Launcher,
    tools: Tools,
    client: Client,
}

impl Cluster {
    async fn start(name: &str, bin: &Path) -> Self {
        let path = support::scratch_path(&format!("rebuild-{name}-kubeconfig"));
        let plane = tokio::task::spawn_blocking(move || {
            Launcher::start(&path, std::process::id(), Duration::from_secs(180))
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
        let tools = Tools {
            bin: bin.to_path_buf(),
            kubeconfig: plane.kubeconfig().to_path_buf(),
        };
        let client = Client::try_from(support::config_from(plane.kubeconfig()).await).unwrap();
        let crds = repo_root().join("crds");
        tools.run(
            "kubectl",
            &["apply", "--server-side", "-f", crds.to_str().unwrap()],
            None,
        );
        Self {
            plane,
            tools,
            client,
        }
    }

    /// `kubectl apply -f <file>`, once the CRDs take objects.
    async fn apply(&self, file: &Path) {
        let file = file.to_str().unwrap();
        // A server-side dry run checks namespaced objects in a namespace
        // that exists.
        self.tools
            .run("kubectl", &["create", "namespace", NS], None);
        eventually("the CRDs to take the manifests", WAIT, || async {
            let ok = self
                .tools
                .command("kubectl")
                .args(["apply", "--dry-run=server", "-f", file])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(())
        })
        .await;
        self.tools.run("kubectl", &["apply", "-f", file], None);
        self.tools
            .run("kubectl", &["apply", "-f", "-"], Some(&credentials()));
    }

    /// `aura-operator <args>` with this cluster's kubeconfig: its output.
    fn cli(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aura-operator"))
            .args(args)
            .env("KUBECONFIG", self.plane.kubeconfig())
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "aura-operator {args:?}: {printed}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        printed
    }

    fn operator(&self, sim: &Simulator) -> Operator {
        Operator::start_on(self.plane.kubeconfig(), Some(NS), &sim.base_url(), &[], &[])
    }

    fn instances(&self) -> Api<AuraInstance> {
        Api::namespaced(self.client.clone(), NS)
    }

    async fn stop(self) {
        tokio::task::spawn_blocking(move || self.plane.stop(Duration::from_secs(60)))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn condition(o: &AuraInstance, kind: &str) -> Option<(String, String)> {
    o.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn is(o: &AuraInstance, kind: &str, status: &str) -> bool {
    condition(o, kind).is_some_and(|(s, _)| s == status)
}

/// Every instance Ready with its login verified: id and password by name.
async fn all_verified(cluster: &Cluster) -> BTreeMap<String, (String, Vec<u8>)> {
    let api = cluster.instances();
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), NS);
    let mut out = BTreeMap::new();
    for name in INSTANCES {
        let o = support::poll(WAIT, Duration::from_millis(500), || async {
            let o = api.get(name).await.ok()?;
            (is(&o, "Ready", "True") && is(&o, "CredentialsVerified", "True")).then_some(o)
        })
        .await;
        let Some(o) = o else {
            let seen = api.get(name).await.ok().and_then(|o| o.status);
            let said: Vec<_> = seen
                .iter()
                .flat_map(|s| &s.conditions)
                .map(|c| format!("{} {} {}: {}", c.type_, c.status, c.reason, c.message))
                .collect();
            panic!("{name} not Ready with its login verified: {said:#?}");
        };
        let id = o.status.unwrap().instance_id.unwrap();
        let secret = secrets.get(&format!("{name}-connection")).await.unwrap();
        let password = secret.data.unwrap()["NEO4J_PASSWORD"].0.clone();
        out.insert(name.to_string(), (id, password));
    }
    out
}

/// Every AuraDatabaseUser Ready: the password its Secret holds, by name.
async fn users_ready(cluster: &Cluster) -> BTreeMap<String, Vec<u8>> {
    let api: Api<AuraDatabaseUser> = Api::namespaced(cluster.client.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), NS);
    let mut out = BTreeMap::new();
    for name in USERS {
        let ready = support::poll(WAIT, Duration::from_millis(500), || async {
            let u = api.get(name).await.ok()?;
            u.status?
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
                .then_some(())
        })
        .await;
        if ready.is_none() {
            let said: Vec<_> = api
                .get(name)
                .await
                .ok()
                .and_then(|u| u.status)
                .iter()
                .flat_map(|s| &s.conditions)
                .map(|c| format!("{} {} {}: {}", c.type_, c.status, c.reason, c.message))
                .collect();
            panic!("{name} not Ready: {said:#?}");
        }
        let secret = secrets.get(&format!("{name}-db")).await.unwrap();
        let data = secret.data.unwrap();
        let password = data
            .get("NEO4J_PASSWORD")
            .or_else(|| data.get("password"))
            .expect("a password in the user's Secret")
            .0
            .clone();
        out.insert(name.to_string(), password);
    }
    out
}

/// The Aura calls made since `before`, by route (reads and writes).
fn calls_since(state: &SimState, before: &Counters) -> BTreeMap<String, u64> {
    let after = state.counters();
    after
        .by_route
        .iter()
        .filter_map(|(route, n)| {
            let was = before.by_route.get(route).copied().unwrap_or(0);
            (*n > was).then(|| (route.clone(), n - was))
        })
        .collect()
}

fn writes(calls: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    calls
        .iter()
        .filter(|(route, _)| {
            route.contains(" /v1/")
                && ["POST", "PATCH", "DELETE", "PUT"]
                    .iter()
                    .any(|m| route.starts_with(m))
        })
        .map(|(r, n)| (r.clone(), *n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_management_cluster_rebuilt_from_git_adopts_everything_and_creates_nothing() {
    let bin = support::launcher::build().unwrap_or_else(|e| panic!("{e}"));
    let scratch = Scratch::new("rebuild");
    let manifests = scratch.file("team-a.yaml", manifests(), 0o644);
    let sim = team_b_simulator().await;

    // 1. Cluster A makes everything, and the restore succeeds.
    let a = Cluster::start("a", &bin).await;
    a.apply(&manifests).await;
    let operator_a = a.operator(&sim);
    let made = all_verified(&a).await;
    let logins = users_ready(&a).await;
    let restores: Api<AuraRestore> = Api::namespaced(a.client.clone(), NS);
    let rollback = eventually("the restore to succeed in A", WAIT, || async {
        let r = restores.get("rollback").await.ok()?;
        let status = r.status?;
        (status.phase == Some(RestorePhase::Succeeded)).then_some(status)
    })
    .await;
    let snapshots: Api<AuraSnapshot> = Api::namespaced(a.client.clone(), NS);
    let snapshot_id = snapshots
        .get("before-rebuild")
        .await
        .unwrap()
        .status
        .and_then(|s| s.snapshot_id)
        .expect("the snapshot's id");
    let ids: Vec<&String> = made.values().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 5);

    // 2. Carry the Secrets and records out; A is gone for good.
    let backup = scratch.path().join("aura-secrets.yaml");
    let said = a.cli(&["backup-secrets", "-o", backup.to_str().unwrap()]);
    for (_, password) in made.values() {
        let password = String::from_utf8_lossy(password).to_string();
        assert!(!said.contains(&password), "a password was printed");
    }
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&backup).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the backup holds passwords");
    drop(operator_a.kill().await);
    a.stop().await;

    // 3. Cluster B: the same manifests from the same file, the Secrets and
    // records restored, then the operator.
    let before_b = sim.state().counters();
    let b = Cluster::start("b", &bin).await;
    b.apply(&manifests).await;
    let restored = b.cli(&["restore-secrets", "-f", backup.to_str().unwrap()]);
    for name in INSTANCES {
        assert!(
            restored.contains(&format!("Secret {NS}/{name}-connection: Create")),
            "{restored}"
        );
    }
    for name in USERS {
        assert!(
            restored.contains(&format!("Secret {NS}/{name}-db: Create")),
            "{restored}"
        );
    }
    assert!(
        restored.contains("AuraSnapshot team-a/before-rebuild: Fill"),
        "{restored}"
    );
    assert!(
        restored.contains("AuraRestore team-a/rollback: Fill"),
        "{restored}"
    );
    let operator_b = b.operator(&sim);

    // 4. Every object Ready with its old id and password; nothing created,
    // restored, overwritten or destroyed.
    let kept = all_verified(&b).await;
    assert_eq!(kept, made, "ids and passwords as cluster A had them");
    // The applications' own logins too: taken over, not given new passwords.
    assert_eq!(
        users_ready(&b).await,
        logins,
        "the users' passwords as A had them"
    );
    for name in INSTANCES {
        let o = b.instances().get(name).await.unwrap();
        assert!(o.status.unwrap().adopted_at.is_some(), "{name} adopted");
    }
    let restores: Api<AuraRestore> = Api::namespaced(b.client.clone(), NS);
    let r = restores.get("rollback").await.unwrap().status.unwrap();
    assert_eq!(r.phase, Some(RestorePhase::Succeeded));
    assert_eq!(r.completed_at, rollback.completed_at);
    let snapshots: Api<AuraSnapshot> = Api::namespaced(b.client.clone(), NS);
    eventually("the snapshot re-linked and Ready", WAIT, || async {
        let s = snapshots.get("before-rebuild").await.ok()?.status?;
        let ready = s
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        (ready && s.snapshot_id.as_deref() == Some(snapshot_id.as_str())).then_some(())
    })
    .await;
    let calls = calls_since(&sim.state(), &before_b);
    assert_eq!(
        writes(&calls),
        BTreeMap::new(),
        "no Aura write in B: {calls:?}"
    );
    let log_b = operator_b.kill().await;
    for (_, password) in made.values() {
        assert!(!log_b.contains(&*String::from_utf8_lossy(password)));
    }
    b.stop().await;

    // 5. Cluster C: the manifests without the Secrets. Nothing is created or
    // destroyed; each instance says how to bring its password back, and the
    // restore waits for a confirmation.
    let before_c = sim.state().counters();
    let c = Cluster::start("c", &bin).await;
    c.apply(&manifests).await;
    // Two Secrets nobody owns that must not be trusted: a wrong password for
    // graph, and search's name holding audit's login.
    let foreign = |name: &str, id: &str, password: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}-connection, namespace: {NS}}}\n\
             stringData: {{NEO4J_URI: \"neo4j+s://{id}.databases.neo4j.io\", NEO4J_USERNAME: neo4j, \
             NEO4J_PASSWORD: \"{password}\", AURA_INSTANCEID: \"{id}\"}}\n"
        )
    };
    let audit_password = String::from_utf8(made["audit"].1.clone()).unwrap();
    let untrusted = [
        (
            "graph",
            foreign("graph", &made["graph"].0, "not-the-password"),
            "refused",
        ),
        (
            "search",
            foreign("search", &made["audit"].0, &audit_password),
            "another Aura instance",
        ),
    ];
    for (_, secret, _) in &untrusted {
        c.tools.run("kubectl", &["apply", "-f", "-"], Some(secret));
    }
    let operator_c = c.operator(&sim);
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), NS);
    for (name, _, why) in &untrusted {
        let message = eventually(&format!("{name} SecretNotTrusted"), WAIT, || async {
            let o = c.instances().get(name).await.ok()?;
            o.status?
                .conditions
                .iter()
                .find(|c| c.type_ == "Stalled" && c.reason == "SecretNotTrusted")
                .map(|c| c.message.clone())
        })
        .await;
        assert!(message.contains(why), "{name}: {message}");
        let kept = secrets.get(&format!("{name}-connection")).await.unwrap();
        assert!(
            kept.metadata.owner_references.is_none(),
            "{name}: taken over"
        );
        assert!(kept.metadata.labels.is_none(), "{name}: written over");
    }
    for name in INSTANCES
        .into_iter()
        .filter(|n| !["graph", "search"].contains(n))
    {
        let o = eventually(&format!("{name} PasswordUnavailable"), WAIT, || async {
            let o = c.instances().get(name).await.ok()?;
            let (status, reason) = condition(&o, "Ready")?;
            (status == "False" && reason == "PasswordUnavailable").then_some(o)
        })
        .await;
        let status = o.status.unwrap();
        assert_eq!(status.instance_id, Some(made[name].0.clone()), "{name}");
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert!(ready.message.contains("Aura console"), "{}", ready.message);
    }
    let restores: Api<AuraRestore> = Api::namespaced(c.client.clone(), NS);
    let held = eventually("the restore held for a confirmation", WAIT, || async {
        let s = restores.get("rollback").await.ok()?.status?;
        s.conditions
            .iter()
            .find(|c| c.type_ == "Stalled" && c.reason == "AwaitingConfirmation")
            .map(|c| c.message.clone())
    })
    .await;
    assert!(
        held.contains("aura-operator.io/run-after-adoption"),
        "{held}"
    );
    // The way out: the password written into the Secret is verified.
    let orders_password = String::from_utf8(made["orders"].1.clone()).unwrap();
    let patch = format!("{{\"stringData\":{{\"NEO4J_PASSWORD\":\"{orders_password}\"}}}}");
    c.tools.run(
        "kubectl",
        &[
            "-n",
            NS,
            "patch",
            "secret",
            "orders-connection",
            "--type",
            "merge",
            "--patch-file",
            "/dev/stdin",
        ],
        Some(&patch),
    );
    eventually("orders Ready once its password is back", WAIT, || async {
        let o = c.instances().get("orders").await.ok()?;
        (is(&o, "Ready", "True") && is(&o, "CredentialsVerified", "True")).then_some(())
    })
    .await;
    // The users' logins live in the database: without their Secrets, the
    // objects wait for a person (spec.adopt: true gives a new password);
    // first for their instance's password.
    let users: Api<AuraDatabaseUser> = Api::namespaced(c.client.clone(), NS);
    let reason_of = |name: &'static str| {
        let users = users.clone();
        async move {
            let s = users.get(name).await.ok()?.status?;
            s.conditions
                .iter()
                .find(|c| c.type_ == "Ready" && c.status == "False")
                .map(|c| c.reason.clone())
        }
    };
    for (name, want) in [
        ("orders-api", "UserExists"),
        ("billing-api", "InstanceNotReady"),
    ] {
        eventually(&format!("{name} {want}"), WAIT, || async {
            (reason_of(name).await.as_deref() == Some(want)).then_some(())
        })
        .await;
    }
    // Give passwordRecovery every chance to act wrongly before counting.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let calls = calls_since(&sim.state(), &before_c);
    let written = writes(&calls);
    let forbidden: Vec<_> = written
        .keys()
        .filter(|r| !r.starts_with("POST /v1/instances/{id}/snapshots") || r.ends_with("/restore"))
        .collect();
    // The AuraSnapshot without its record is taken again (a new snapshot
    // copies nothing); nothing else writes.
    assert!(forbidden.is_empty(), "writes in C: {written:?}");
    let log_c = operator_c.kill().await;
    assert!(!log_c.contains(&orders_password), "a password was logged");
    c.stop().await;
}

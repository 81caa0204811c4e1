//! What a namespace can reach (issue 26, DESIGN 4.13), probed as an
//! adversarial user would: two namespaces share one ClusterAuraProject, and a
//! user of team-b has every right on `aura-operator.io` in team-b (status
//! included) and none on Secrets. A clone, restore, overwrite or snapshot
//! reads only an instance held by an AuraInstance of its own namespace; one
//! nobody holds only where the project opts in; another namespace's never,
//! whatever a status field says. And `aura-operator import` output stays
//! data whatever Aura's names hold.

use crate::support;

use std::fmt::Debug;

use aura_operator::api::{
    AuraInstance, AuraRestore, AuraSnapshot, ClusterAuraProject, RestorePhase,
};
use aura_operator::simulator::{ConsoleUpdate, Simulator, SimulatorConfig};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use support::eventually;
use support::harness::*;

/// Team A (the harness's namespace) and team B share the project `project`.
struct Teams {
    h: Harness,
    b: String,
    project: String,
    projects: Api<ClusterAuraProject>,
    /// Acts as `team-b:intruder`: every right on aura-operator.io in team B,
    /// none on Secrets.
    intruder: Client,
}

impl Teams {
    async fn start(prefix: &str, allow_unheld: bool) -> Self {
        let mut h = Harness::start_exclusive(prefix, |_| {}).await;
        let b = support::test_namespace(&h.client, &format!("{prefix}-b")).await;
        let project = format!("shared-{}", h.ns);
        let projects: Api<ClusterAuraProject> = Api::all(h.client.clone());
        let obj: ClusterAuraProject = serde_json::from_value(json!({
            "apiVersion": "aura-operator.io/v1beta1", "kind": "ClusterAuraProject",
            "metadata": {"name": project},
            "spec": {
                "credentialsSecretRef": {"name": "aura-api", "namespace": h.ns},
                "tenantId": TENANT_A,
                "allowedNamespaces": {"names": [h.ns, b]},
                "allowUnheldSources": allow_unheld,
            },
        }))
        .unwrap();
        projects
            .create(&PostParams::default(), &obj)
            .await
            .expect("create the shared project");
        support::grant_aura_rights(&h.client, &b, "intruder").await;
        h.start_operator_with(&["--namespace", &b]);
        let intruder = support::impersonating_client(&b, "intruder").await;
        Self {
            h,
            b,
            project,
            projects,
            intruder,
        }
    }

    /// An AuraInstance manifest on the shared project.
    fn instance(&self, name: &str, spec: Value) -> AuraInstance {
        let mut spec = spec;
        spec["credentialsSecretRef"] = Value::Null;
        spec["tenantId"] = Value::Null;
        spec["projectRef"] = json!({"kind": "ClusterAuraProject", "name": self.project});
        serde_json::from_value(manifest(name, spec)).unwrap()
    }

    async fn ready_in(&self, client: &Client, ns: &str, name: &str, spec: Value) -> String {
        Api::<AuraInstance>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &self.instance(name, spec))
            .await
            .unwrap_or_else(|e| panic!("create {ns}/{name}: {e}"));
        let o = wait::<AuraInstance>(&self.h.client, ns, name, "Ready", |o| {
            condition(o, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await;
        instance_id(&o)
    }

    /// Writes `id` into `status.instanceId` of team B's `name`, as the
    /// intruder (their Role covers `/status`).
    async fn forge(&self, name: &str, id: &str) {
        Api::<AuraInstance>::namespaced(self.intruder.clone(), &self.b)
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"instanceId": id}})),
            )
            .await
            .expect("the intruder may write status");
    }

    /// The calls that changed something of instance `id` in Aura (its own
    /// AuraInstance reads it all along).
    fn calls_on(&self, id: &str) -> Vec<String> {
        self.h
            .sim
            .state()
            .counters()
            .journal
            .into_iter()
            .filter(|l| l.contains(&format!("/instances/{id}")) && !l.starts_with("GET "))
            .collect()
    }

    async fn remove(self) {
        let _ = self
            .projects
            .patch(
                &self.project,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
        let _ = self
            .projects
            .delete(&self.project, &DeleteParams::default())
            .await;
    }
}

/// Waits until the object `ns/name` of kind `K` satisfies `check`.
async fn wait<K>(client: &Client, ns: &str, name: &str, what: &str, check: impl Fn(&K) -> bool) -> K
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let check = &check;
    eventually(&format!("{ns}/{name}: {what}"), WAIT, || {
        let api = api.clone();
        async move { api.get(name).await.ok().filter(|o| check(o)) }
    })
    .await
}

async fn create_as<K>(client: &Client, ns: &str, manifest: Value) -> K
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let obj: K = serde_json::from_value(manifest).expect("a manifest of the kind");
    Api::<K>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create in {ns}: {e}"))
}

fn restore(name: &str, target: &str, source: Value) -> Value {
    json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraRestore",
        "metadata": {"name": name},
        "spec": {"instanceRef": {"name": target}, "source": source},
    })
}

fn snapshot(name: &str, of: &str) -> Value {
    json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraSnapshot",
        "metadata": {"name": name},
        "spec": {"instanceRef": {"name": of}},
    })
}

fn restore_reason(r: &AuraRestore) -> Option<(RestorePhase, String)> {
    let status = r.status.as_ref()?;
    let stalled = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled" && c.status == "True")?;
    Some((status.phase?, stalled.reason.clone()))
}

fn snapshot_ready(s: &AuraSnapshot) -> bool {
    s.status.as_ref().is_some_and(|st| {
        st.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn data_version(h: &Harness, id: &str) -> String {
    h.sim.state().lineage(id).expect("lineage").data_version
}

/// Every path from team B to team A's data, tried by a user with all rights
/// on the operator's kinds in team B and none on Secrets: a clone by id, an
/// overwrite and a snapshot through a forged `status.instanceId`, a restore
/// of team A's snapshot id onto a target whose status was forged. Each is
/// refused or lands on team B's own instance; team A's instance sees no call
/// and keeps its data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_namespaces_instance_is_never_read_whatever_its_status_says() {
    let t = Teams::start("reach-foreign", false).await;
    let h = &t.h;
    let (a, b) = (h.ns.clone(), t.b.clone());

    // The intruder is who the issue says: no Secret rights at all.
    let secrets: Api<Secret> = Api::namespaced(t.intruder.clone(), &b);
    let denied = secrets.list(&Default::default()).await.unwrap_err();
    assert_eq!(support::api_error_code(&denied), Some(403), "{denied}");

    let prod = t.ready_in(&h.client, &a, "prod", json!({})).await;
    create_as::<AuraSnapshot>(&h.client, &a, snapshot("a-nightly", "prod")).await;
    let nightly = wait::<AuraSnapshot>(&h.client, &a, "a-nightly", "Ready", snapshot_ready).await;
    let prod_snapshot = nightly.status.unwrap().snapshot_id.unwrap();
    h.sim
        .state()
        .write(&prod)
        .expect("team A writes after its snapshot");
    let prod_data = data_version(h, &prod);
    let prod_calls = t.calls_on(&prod);

    // 1. A clone of team A's instance by id: refused, nothing created.
    create_as::<AuraInstance>(
        &t.intruder,
        &b,
        serde_json::to_value(t.instance("copy", json!({"source": {"instanceId": prod}}))).unwrap(),
    )
    .await;
    let copy = wait::<AuraInstance>(&h.client, &b, "copy", "Stalled", |o| {
        stalled_reason(o).is_some()
    })
    .await;
    assert_eq!(
        stalled_reason(&copy).as_deref(),
        Some("SourceNotAllowed"),
        "{:?}",
        copy.status
    );
    let message = condition(&copy, "Stalled").unwrap().2;
    assert!(message.contains(&prod), "{message}");

    // Team B's own instances.
    let mine = t.ready_in(&t.intruder, &b, "mine", json!({})).await;
    let decoy = t.ready_in(&t.intruder, &b, "decoy", json!({})).await;

    // 2. An overwrite whose source's status was forged to team A's id: the
    // source is what team B's AuraInstance holds, never what its status says.
    t.forge("decoy", &prod).await;
    create_as::<AuraRestore>(
        &t.intruder,
        &b,
        restore("take-a", "mine", json!({"instanceRef": {"name": "decoy"}})),
    )
    .await;
    let done = wait::<AuraRestore>(&h.client, &b, "take-a", "finished", |r| {
        matches!(
            r.status.as_ref().and_then(|s| s.phase),
            Some(RestorePhase::Succeeded | RestorePhase::Failed)
        )
    })
    .await;
    let lineage = h.sim.state().lineage(&mine).expect("lineage");
    let last = lineage.history.last().unwrap();
    assert_ne!(
        last.source_instance_id.as_deref(),
        Some(prod.as_str()),
        "team A's data was copied into team B: {:?}",
        done.status
    );
    assert_eq!(
        done.status.as_ref().unwrap().phase,
        Some(RestorePhase::Succeeded),
        "{:?}",
        done.status
    );
    assert_eq!(last.source_instance_id.as_deref(), Some(decoy.as_str()));

    // The forged id does not stay: the claim is what the status says.
    wait::<AuraInstance>(&h.client, &b, "decoy", "its own id back in status", |o| {
        o.status.as_ref().and_then(|s| s.instance_id.as_deref()) == Some(decoy.as_str())
    })
    .await;

    // 3. A snapshot of an instance whose status was forged: taken of team
    // B's instance.
    t.forge("decoy", &prod).await;
    create_as::<AuraSnapshot>(&t.intruder, &b, snapshot("peek", "decoy")).await;
    let peek = wait::<AuraSnapshot>(&h.client, &b, "peek", "Ready", snapshot_ready).await;
    assert_eq!(
        peek.status.as_ref().unwrap().instance_id.as_deref(),
        Some(decoy.as_str()),
        "{:?}",
        peek.status
    );

    // 4. Team A's snapshot id restored onto a target whose status names team
    // A's instance: the call (if any) goes to team B's instance, which Aura
    // refuses; team A's instance is not rolled back.
    t.forge("mine", &prod).await;
    create_as::<AuraRestore>(
        &t.intruder,
        &b,
        restore("rollback-a", "mine", json!({"snapshotId": prod_snapshot})),
    )
    .await;
    let rolled = wait::<AuraRestore>(&h.client, &b, "rollback-a", "Failed", |r| {
        r.status.as_ref().and_then(|s| s.phase) == Some(RestorePhase::Failed)
    })
    .await;
    assert!(restore_reason(&rolled).is_some(), "{:?}", rolled.status);

    assert_eq!(data_version(h, &prod), prod_data, "team A's data changed");
    assert_eq!(
        t.calls_on(&prod),
        prod_calls,
        "team B's objects made calls on team A's instance"
    );
    let creates = h.sim.state().recent_creates();
    assert!(
        creates
            .iter()
            .all(|c| c.body.get("source_instance_id") != Some(&json!(prod))),
        "a create named team A's instance as its source"
    );
    t.remove().await;
}

/// An instance nobody holds (made in the Aura console) is read only where
/// the project opts in with allowUnheldSources; with it, a source that does
/// not exist, or no longer does, stalls SourceNotFound instead of creating
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_nobody_holds_is_read_only_where_the_project_allows_it() {
    let t = Teams::start("reach-unheld", false).await;
    let h = &t.h;
    let b = t.b.clone();
    let mut req = console_request("europe-west1", "console-made");
    req.tenant_id = TENANT_A.into();
    let console = h.sim.state().console_create(&req).expect("console create");
    let unheld = console.instance.id.clone();

    let api: Api<AuraInstance> = Api::namespaced(h.client.clone(), &b);
    api.create(
        &PostParams::default(),
        &t.instance("from-console", json!({"source": {"instanceId": unheld}})),
    )
    .await
    .unwrap();
    let refused = wait::<AuraInstance>(&h.client, &b, "from-console", "Stalled", |o| {
        stalled_reason(o).is_some()
    })
    .await;
    assert_eq!(
        stalled_reason(&refused).as_deref(),
        Some("SourceNotAllowed"),
        "{:?}",
        refused.status
    );
    assert!(
        h.sim
            .state()
            .recent_creates()
            .iter()
            .all(|c| c.body.get("source_instance_id") != Some(&json!(unheld))),
        "a refused clone was created"
    );

    // The project opts in: the same object proceeds.
    t.projects
        .patch(
            &t.project,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"allowUnheldSources": true}})),
        )
        .await
        .unwrap();
    let clone = wait::<AuraInstance>(&h.client, &b, "from-console", "Ready", |o| {
        condition(o, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    let clone_id = instance_id(&clone);
    let body = h
        .sim
        .state()
        .recent_creates()
        .into_iter()
        .find(|c| c.instance_id.as_deref() == Some(clone_id.as_str()))
        .expect("the clone's create")
        .body;
    assert_eq!(body["source_instance_id"], json!(unheld));

    // A source that does not exist, and one destroyed in the console.
    let gone = h.sim.state().console_create(&req).expect("console create");
    assert!(h.sim.state().console_delete(&gone.instance.id));
    for (name, source) in [
        ("from-nowhere", json!({"instanceId": "0badc0de"})),
        ("from-destroyed", json!({"instanceId": gone.instance.id})),
    ] {
        api.create(
            &PostParams::default(),
            &t.instance(name, json!({"source": source})),
        )
        .await
        .unwrap();
        let stalled = wait::<AuraInstance>(&h.client, &b, name, "Stalled", |o| {
            stalled_reason(o).is_some()
        })
        .await;
        assert_eq!(
            stalled_reason(&stalled).as_deref(),
            Some("SourceNotFound"),
            "{name}: {:?}",
            stalled.status
        );
    }
    // Stalled means no create goes out again: a few polls later, no more
    // creates than before (at most the one Aura answered 404).
    let creates_now = h
        .aura_writes()
        .iter()
        .filter(|l| l.starts_with("POST /v1/instances "))
        .count();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let creates_later = h
        .aura_writes()
        .iter()
        .filter(|l| l.starts_with("POST /v1/instances "))
        .count();
    assert_eq!(creates_now, creates_later, "{:?}", h.aura_writes());
    assert!(
        h.aura_writes()
            .iter()
            .filter(|l| l.starts_with("POST /v1/instances ") && l.ends_with(" 404"))
            .count()
            <= 2,
        "{:?}",
        h.aura_writes()
    );
    t.remove().await;
}

/// `import | kubectl apply`: whatever line-breaking or control character a
/// tenant or an instance name holds in Aura, the apiserver is asked to
/// create AuraInstances and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_output_with_hostile_names_in_aura_applies_only_aura_instances() {
    const HOSTILE: [char; 10] = [
        '\r', '\n', '\u{85}', '\u{2028}', '\u{2029}', '\u{b}', '\u{c}', '\u{7f}', '\u{9b}', '\t',
    ];
    let payload = |c: char| format!("x{c}kind: ConfigMap{c}metadata: {{name: evil}}{c}---{c}# ");
    let client = support::admin_client().await;
    ensure_crd(&client).await;
    let ns = support::test_namespace(&client, "import-hostile").await;
    let tenants: Vec<(String, String)> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("00000000-0000-4000-8000-{i:012}"), payload(*c)))
        .collect();
    let sim = Simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        tenants: tenants.clone(),
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    // In each hostile tenant: one instance with a plain name, and one
    // renamed in the console to a short payload (an Aura name is at most 30
    // characters; the console does not check).
    let mut plain = Vec::new();
    for ((tenant, _), c) in tenants.iter().zip(HOSTILE) {
        let mut req = console_request("europe-west1", "plain");
        req.tenant_id = tenant.clone();
        plain.push(
            sim.state()
                .console_create(&req)
                .expect("console create")
                .instance
                .id,
        );
        let renamed = sim.state().console_create(&req).expect("console create");
        sim.state()
            .console_update(
                &renamed.instance.id,
                &ConsoleUpdate {
                    name: Some(format!("a{c}kind: ConfigMap{c}x")),
                    ..ConsoleUpdate::default()
                },
            )
            .expect("rename");
    }
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_aura-operator"))
        .arg("import")
        .args(["--aura-base-url", &sim.base_url(), "--namespace", &ns])
        .env("AURA_CLIENT_ID", CLIENT_ID)
        .env("AURA_CLIENT_SECRET", CLIENT_SECRET)
        .env_remove("AURA_BASE_URL")
        .env_remove("AURA_TENANT_ID")
        .env_remove("AURA_IMPORT_NAMESPACE")
        .env_remove("AURA_IMPORT_CREDENTIALS_SECRET")
        .output()
        .await
        .expect("run import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifests = String::from_utf8(out.stdout).expect("UTF-8");
    let applied = kubectl_apply_dry_run(&manifests).await;
    let lines: Vec<&str> = applied.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in &lines {
        assert!(
            line.starts_with("aurainstance.aura-operator.io/"),
            "kubectl was asked for something else: {line:?}\n{manifests}"
        );
    }
    // Each plain instance is one manifest; a renamed one is a manifest or a
    // comment, never a document of another kind.
    assert!(lines.len() >= plain.len(), "{applied}\n{manifests}");
    assert!(lines.len() <= 2 * plain.len(), "{applied}");
    for id in &plain {
        let by_id = manifests
            .lines()
            .filter(|l| {
                l.trim_start() == format!("instanceId: {id}")
                    || l.trim_start() == format!("instanceId: \"{id}\"")
            })
            .count();
        assert_eq!(by_id, 1, "{id}\n{manifests}");
    }
}

/// `kubectl apply --dry-run=server -f -` of `manifests`: kubectl's own
/// reader parses it and the apiserver checks it; nothing is kept.
async fn kubectl_apply_dry_run(manifests: &str) -> String {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::from(support::kubectl())
        .args(["apply", "--dry-run=server", "-o", "name", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    let mut input = child.stdin.take().unwrap();
    input.write_all(manifests.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "kubectl apply refused the output: {}\n{manifests}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

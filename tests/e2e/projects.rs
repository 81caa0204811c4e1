//! Projects (issue 16, DESIGN 4.9): credentials scoped to the namespaces
//! allowed to use them. On the real control plane with the simulator; the
//! operator watches several test namespaces at once. The tests with a
//! ClusterAuraProject run alone (`Harness::start_exclusive`): every operator
//! running would reconcile it.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aura_operator::api::{AuraInstance, AuraProject, ClusterAuraProject};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use support::fixtures::{Fixture, cluster_project, instance, project};
use support::harness::*;
use support::objects::{self, plural};

const PROJECT_FINALIZER: &str = "aura-operator.io/project-in-use";
const CREDENTIALS_FINALIZER: &str = "aura-operator.io/credentials-in-use";

async fn create_in(client: &Client, ns: &str, manifest: impl Into<Value>) {
    let api: Api<AuraInstance> = Api::namespaced(client.clone(), ns);
    objects::create(&api, manifest).await;
}

async fn wait_instance(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&AuraInstance) -> bool,
) -> AuraInstance {
    let api: Api<AuraInstance> = Api::namespaced(client.clone(), ns);
    objects::wait_for(&api, name, what, check).await
}

fn ready(o: &AuraInstance) -> bool {
    objects::is_true(o, "Ready")
}

fn stalled_with(reason: &'static str) -> impl Fn(&AuraInstance) -> bool {
    move |o| stalled_reason(o).as_deref() == Some(reason)
}

/// The users a project's status counts.
fn used_by<P: serde::Serialize>(p: &P) -> Option<u64> {
    serde_json::to_value(p).ok()?["status"]["usedBy"].as_u64()
}

fn creates(h: &Harness) -> usize {
    h.aura_writes()
        .iter()
        .filter(|l| l.starts_with("POST /v1/instances "))
        .count()
}

async fn label_namespace(client: &Client, ns: &str, key: &str, value: Option<&str>) {
    Api::<Namespace>::all(client.clone())
        .patch(
            ns,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {key: value}}})),
        )
        .await
        .expect("label the namespace");
}

/// Removes a cluster-scoped test project, finalizer and all.
async fn remove_cluster_project(api: &Api<ClusterAuraProject>, name: &str) {
    let _ = api
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await;
    let _ = api.delete(name, &DeleteParams::default()).await;
}

/// The simulator's catalogue compacted by hand: provider and region -> (types, memory).
fn expected_offered() -> BTreeMap<(String, String), (BTreeSet<String>, BTreeSet<String>)> {
    let mut rows: BTreeMap<(String, String), (BTreeSet<String>, BTreeSet<String>)> =
        BTreeMap::new();
    for c in aura_operator::simulator::default_catalogue() {
        let row = rows
            .entry((c.cloud_provider.to_lowercase(), c.region.clone()))
            .or_default();
        row.0.insert(c.instance_type.clone());
        row.1.insert(c.memory.clone());
    }
    rows
}

/// An AuraProject serves the AuraInstances of its own namespace: its tenant,
/// name and catalogue in status, the instances' tenant defaulted from it. An
/// AuraInstance of another namespace that names it is Stalled
/// `ProjectNotFound`, not refused at admission: CEL sees only the object
/// itself, and an AuraProject is looked up in the AuraInstance's own
/// namespace, so another namespace's project cannot be reached at all.
#[tokio::test]
async fn a_namespaced_project_serves_its_own_namespace_only() {
    let mut h = Harness::start("project-own", |_| {}).await;
    let other = support::test_namespace(&h.client, "project-other").await;
    let projects: Api<AuraProject> = h.api();
    let team = project("team").credentials("aura-api").tenant(TENANT_B);
    objects::create(&projects, team).await;
    // Credentials Aura refuses: Stalled, and no token is asked for again.
    h.put_credentials("wrong-api", "nobody", "not-a-secret")
        .await;
    objects::create(&projects, project("bad").credentials("wrong-api")).await;
    h.start_operator_with(&["--namespace", &other]);

    let seen = objects::wait_ready(&projects, "team").await;
    assert!(
        !objects::holds(&seen, PROJECT_FINALIZER),
        "no finalizer while nobody uses it"
    );
    let status = seen.status.expect("status");
    assert_eq!(status.tenant_id.as_deref(), Some(TENANT_B));
    assert_eq!(status.tenant_name.as_deref(), Some("Team B"));
    // The only organization the credentials see (API v2beta1).
    assert_eq!(
        status.organization_id.as_deref(),
        Some(aura_operator::simulator::DEMO_ORGANIZATION_ID)
    );
    assert_eq!(
        status.organization_name.as_deref(),
        Some(aura_operator::simulator::DEMO_ORGANIZATION_NAME)
    );
    let offered: BTreeMap<_, _> = status
        .offered
        .iter()
        .map(|o| {
            (
                (o.cloud_provider.clone(), o.region.clone()),
                (
                    o.types.iter().cloned().collect::<BTreeSet<_>>(),
                    o.memory.iter().cloned().collect::<BTreeSet<_>>(),
                ),
            )
        })
        .collect();
    assert_eq!(
        offered,
        expected_offered(),
        "offered is the tenant's catalogue"
    );

    let on_team = |name: &str| instance(name).project("AuraProject", "team");
    create_in(&h.client, &h.ns, on_team("mine")).await;
    create_in(&h.client, &other, on_team("theirs")).await;
    let mine = wait_instance(&h.client, &h.ns, "mine", "Ready", ready).await;
    assert_eq!(
        mine.status.as_ref().and_then(|s| s.tenant_id.as_deref()),
        Some(TENANT_B),
        "the tenant comes from the project"
    );
    let theirs = wait_instance(
        &h.client,
        &other,
        "theirs",
        "ProjectNotFound",
        stalled_with("ProjectNotFound"),
    )
    .await;
    let message = condition(&theirs, "Stalled").unwrap().2;
    assert!(
        message.contains(&format!("AuraProject {other}/team")),
        "{message}"
    );
    assert_eq!(
        creates(&h),
        1,
        "only the allowed object created an instance"
    );
    objects::wait_for(&projects, "team", "usedBy 1 and the finalizer", |p| {
        objects::holds(p, PROJECT_FINALIZER) && used_by(p) == Some(1)
    })
    .await;

    let refused = objects::wait_until(&projects, "bad", "Stalled", |p| {
        condition(p, "Stalled").filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(refused.1, "AuthenticationFailed", "{refused:?}");
    let unknown = aura_operator::simulator::UNKNOWN_CLIENT;
    let tried = h
        .sim
        .state()
        .counters()
        .token_calls_by_client
        .get(unknown)
        .copied();
    // A period in which something must not happen: no new token call.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        h.sim
            .state()
            .counters()
            .token_calls_by_client
            .get(unknown)
            .copied(),
        tried,
        "refused credentials are not tried again during their backoff"
    );

    // Both refs at once are refused at admission.
    let both: AuraInstance = instance("both")
        .spec(json!({"projectRef": {"name": "team"}}))
        .object();
    let err = h
        .instances()
        .create(&PostParams::default(), &both)
        .await
        .expect_err("projectRef with credentialsSecretRef is refused");
    assert!(
        err.to_string().contains("at most one of projectRef"),
        "{err}"
    );
    let log = h.operator_log();
    h.assert_log_clean(&log);
    assert!(!log.contains("not-a-secret"));
}

/// A ClusterAuraProject allows namespaces by name and by label. A namespace
/// it does not allow is Stalled `NamespaceNotAllowed` with no Aura call made;
/// a namespace that loses its label is Stalled too and its instance is left
/// running. A person who may create AuraInstances but not read Secrets
/// learns no password and no client secret through the operator.
#[tokio::test]
async fn a_cluster_project_allows_namespaces_by_name_and_by_label() {
    let mut h = Harness::start_exclusive("project-cluster", |_| {}).await;
    let labelled = support::test_namespace(&h.client, "project-labelled").await;
    let refused = support::test_namespace(&h.client, "project-refused").await;
    let name = format!("shared-{}", h.ns);
    let key = format!("aura-operator.io/allowed-{}", &h.ns[h.ns.len() - 8..]);
    label_namespace(&h.client, &labelled, &key, Some("true")).await;
    let projects: Api<ClusterAuraProject> = Api::all(h.client.clone());
    let shared = cluster_project(&name)
        .credentials("aura-api", &h.ns)
        .tenant(TENANT_B)
        .allow_names(&[&h.ns])
        .allow_selector(json!({"matchLabels": {key.clone(): "true"}}));
    objects::create(&projects, shared).await;
    h.start_operator_with(&["--namespace", &labelled, "--namespace", &refused]);

    for ns in [&h.ns, &labelled, &refused] {
        create_in(
            &h.client,
            ns,
            instance("db").project("ClusterAuraProject", &name),
        )
        .await;
    }
    let by_name = wait_instance(&h.client, &h.ns, "db", "Ready", ready).await;
    let by_label = wait_instance(&h.client, &labelled, "db", "Ready", ready).await;
    let outside = wait_instance(
        &h.client,
        &refused,
        "db",
        "NamespaceNotAllowed",
        stalled_with("NamespaceNotAllowed"),
    )
    .await;
    let message = condition(&outside, "Stalled").unwrap().2;
    assert!(
        message.contains(&format!("ClusterAuraProject {name}")),
        "{message}"
    );
    assert_eq!(creates(&h), 2);
    assert!(outside.status.as_ref().unwrap().instance_id.is_none());

    // The label goes: Stalled, and the instance is left running.
    let labelled_id = instance_id(&by_label);
    label_namespace(&h.client, &labelled, &key, None).await;
    wait_instance(
        &h.client,
        &labelled,
        "db",
        "NamespaceNotAllowed after the label went",
        stalled_with("NamespaceNotAllowed"),
    )
    .await;
    let kept = h.sim.state().instance(&labelled_id).expect("still in Aura");
    assert_eq!(kept.instance.status.to_string(), "running");
    assert!(
        h.writes_to(&labelled_id)
            .iter()
            .all(|w| !w.starts_with("DELETE"))
    );
    objects::wait_for(&projects, &name, "usedBy 1", |p| used_by(p) == Some(1)).await;

    // A developer of the namespace: AuraInstances and events, no Secrets.
    let dev = "dev-without-secrets";
    let rbac = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "aura-dev", "namespace": h.ns},
        "rules": [
            {"apiGroups": ["aura-operator.io"], "resources": [plural::<AuraInstance>(), plural::<AuraProject>()],
             "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["get", "list"]},
        ],
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "aura-dev", "namespace": h.ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aura-dev"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": dev}],
    });
    let reader = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": format!("aura-dev-{}", h.ns)},
        "rules": [{"apiGroups": ["aura-operator.io"], "resources": [plural::<ClusterAuraProject>()], "verbs": ["get", "list"]}],
    });
    let reader_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("aura-dev-{}", h.ns)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("aura-dev-{}", h.ns)},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": dev}],
    });
    let docs = [rbac, binding, reader, reader_binding]
        .iter()
        .map(|d| serde_json::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    kubectl_ok(&["apply", "-f", "-"], &docs).await;
    let forbidden = kubectl_run(
        &[
            "get", "secret", "aura-api", "-n", &h.ns, "-o", "yaml", "--as", dev,
        ],
        "",
    )
    .await;
    assert!(
        !forbidden.0,
        "the developer may not read Secrets: {}",
        forbidden.1
    );
    let password = h
        .secret_value(&by_name.connection_secret_name(), "NEO4J_PASSWORD")
        .await
        .expect("the connection Secret holds a password");
    let mut seen = String::new();
    for args in [
        vec![
            "get",
            "aurainstance",
            "db",
            "-n",
            h.ns.as_str(),
            "-o",
            "yaml",
        ],
        vec!["get", "events", "-n", h.ns.as_str(), "-o", "yaml"],
        vec!["get", "clusterauraproject", name.as_str(), "-o", "yaml"],
    ] {
        let mut args = args;
        args.extend(["--as", dev]);
        let (ok, out) = kubectl_run(&args, "").await;
        assert!(ok, "the developer may read {args:?}: {out}");
        seen.push_str(&out);
    }
    assert!(seen.contains("tenantName"), "the project's status was read");
    for secret in [CLIENT_SECRET, password.as_str()] {
        assert!(
            !seen.contains(secret),
            "a secret value reached the developer"
        );
    }
    let log = h.operator_log();
    h.assert_log_clean(&log);
    assert!(!log.contains(&password));

    for ns in [&h.ns, &labelled, &refused] {
        let api: Api<AuraInstance> = Api::namespaced(h.client.clone(), ns);
        let _ = api
            .patch(
                "db",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"deletionPolicy": "Orphan"}})),
            )
            .await;
        let _ = api.delete("db", &DeleteParams::default()).await;
    }
    let _ = kubectl_run(
        &[
            "delete",
            "clusterrole,clusterrolebinding",
            &format!("aura-dev-{}", h.ns),
        ],
        "",
    )
    .await;
    remove_cluster_project(&projects, &name).await;
}

/// A project in use keeps its finalizer (its status names who uses it)
/// until the last user is gone; then it goes, and lets go of its Secret.
#[tokio::test]
async fn a_project_in_use_is_deleted_only_after_its_users() {
    let mut h = Harness::start("project-delete", |_| {}).await;
    let projects: Api<AuraProject> = h.api();
    let team = project("team").credentials("aura-api").tenant(TENANT_B);
    objects::create(&projects, team).await;
    h.start_operator();
    create_in(
        &h.client,
        &h.ns,
        instance("user").project("AuraProject", "team"),
    )
    .await;
    let user = wait_instance(&h.client, &h.ns, "user", "Ready", ready).await;
    let id = instance_id(&user);
    let held = h.secrets().get("aura-api").await.unwrap();
    assert!(objects::holds(&held, CREDENTIALS_FINALIZER));
    // Nothing was created through the project before it held its finalizer
    // (WaitingForProject), so a delete now already waits for the user.
    let team = projects.get("team").await.unwrap();
    assert!(
        objects::holds(&team, PROJECT_FINALIZER),
        "{:?}",
        team.metadata
    );

    projects
        .delete("team", &DeleteParams::default())
        .await
        .unwrap();
    let blocked = objects::wait_until(&projects, "team", "held by its user", |p| {
        let ready = condition(p, "Ready")?;
        (ready.1 == "InUse").then(|| (p.clone(), ready))
    })
    .await;
    assert!(
        blocked.1.2.contains(&format!("{}/user", h.ns)),
        "{:?}",
        blocked.1
    );
    assert_eq!(blocked.0.status.unwrap().used_by, 1);

    h.instances()
        .delete("user", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone("user").await;
    objects::wait_gone(&projects, "team").await;
    assert!(h.writes_to(&id).iter().any(|w| w.starts_with("DELETE")));
    objects::wait_for(&h.secrets(), "aura-api", "let go", |s| {
        !objects::holds(s, CREDENTIALS_FINALIZER)
    })
    .await;
}

/// Deleting an AuraInstance whose credentials are gone never hangs
/// silently: `CredentialsMissing`, saying both ways out. Orphan lets it go
/// (the instance is kept); restoring the credentials lets a Delete finish.
#[tokio::test]
async fn a_deletion_without_credentials_says_how_out() {
    let mut h = Harness::start_exclusive("project-missing", |_| {}).await;
    let name = format!("missing-{}", h.ns);
    let projects: Api<ClusterAuraProject> = Api::all(h.client.clone());
    let missing = cluster_project(&name)
        .credentials("aura-api", &h.ns)
        .tenant(TENANT_B)
        .allow_names(&[&h.ns]);
    objects::create(&projects, missing).await;
    h.start_operator();
    for db in ["orphan-me", "delete-me"] {
        h.create(instance(db).project("ClusterAuraProject", &name))
            .await;
    }
    let orphan = wait_instance(&h.client, &h.ns, "orphan-me", "Ready", ready).await;
    let delete = wait_instance(&h.client, &h.ns, "delete-me", "Ready", ready).await;
    let (orphan_id, delete_id) = (instance_id(&orphan), instance_id(&delete));

    // The credentials go (their keys emptied: the Secret itself is held).
    h.secrets()
        .patch(
            "aura-api",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"clientId": null, "clientSecret": null}})),
        )
        .await
        .unwrap();
    for db in ["orphan-me", "delete-me"] {
        h.instances()
            .delete(db, &DeleteParams::default())
            .await
            .unwrap();
        let stuck = wait_instance(
            &h.client,
            &h.ns,
            db,
            "CredentialsMissing",
            stalled_with("CredentialsMissing"),
        )
        .await;
        let message = condition(&stuck, "Stalled").unwrap().2;
        assert!(message.contains("restore the credentials"), "{message}");
        assert!(message.contains("deletionPolicy: Orphan"), "{message}");
    }

    h.edit("orphan-me", json!({"deletionPolicy": "Orphan"}))
        .await;
    h.wait_gone("orphan-me").await;
    assert!(
        h.sim.state().instance(&orphan_id).is_some(),
        "orphaned, not destroyed"
    );
    assert!(
        h.writes_to(&orphan_id)
            .iter()
            .all(|w| !w.starts_with("DELETE"))
    );

    h.put_credentials("aura-api", CLIENT_ID, CLIENT_SECRET)
        .await;
    h.wait_gone("delete-me").await;
    assert!(
        h.writes_to(&delete_id)
            .iter()
            .any(|w| w.starts_with("DELETE"))
    );
    remove_cluster_project(&projects, &name).await;
}

/// Twenty AuraInstances in three namespaces on one ClusterAuraProject: one
/// token for all of them and the project.
#[tokio::test]
async fn twenty_instances_in_three_namespaces_share_one_token() {
    let mut h = Harness::start_exclusive("project-token", |_| {}).await;
    let second = support::test_namespace(&h.client, "project-token-b").await;
    let third = support::test_namespace(&h.client, "project-token-c").await;
    let name = format!("fleet-{}", h.ns);
    let projects: Api<ClusterAuraProject> = Api::all(h.client.clone());
    let fleet = cluster_project(&name)
        .credentials("aura-api", &h.ns)
        .tenant(TENANT_B)
        .allow_names(&[&h.ns, &second, &third]);
    objects::create(&projects, fleet).await;
    h.start_operator_with(&["--namespace", &second, "--namespace", &third]);
    let namespaces = [h.ns.clone(), second.clone(), third.clone()];
    for i in 0..20 {
        let ns = &namespaces[i % 3];
        let db = instance(&format!("db-{i}")).project("ClusterAuraProject", &name);
        create_in(&h.client, ns, db).await;
    }
    for i in 0..20 {
        wait_instance(
            &h.client,
            &namespaces[i % 3],
            &format!("db-{i}"),
            "Ready",
            ready,
        )
        .await;
    }
    let counters = h.sim.state().counters();
    assert_eq!(
        counters.token_calls_by_client.get(CLIENT_ID).copied(),
        Some(1),
        "{:?}",
        counters.token_calls_by_client
    );
    assert_eq!(creates(&h), 20);
    objects::wait_for(&projects, &name, "usedBy 20", |p| used_by(p) == Some(20)).await;
    for i in 0..20 {
        let api: Api<AuraInstance> = Api::namespaced(h.client.clone(), &namespaces[i % 3]);
        let _ = api
            .delete(&format!("db-{i}"), &DeleteParams::default())
            .await;
    }
    for i in 0..20 {
        let api: Api<AuraInstance> = Api::namespaced(h.client.clone(), &namespaces[i % 3]);
        objects::wait_gone(&api, &format!("db-{i}")).await;
    }
    objects::wait_for(&projects, &name, "released", |p| used_by(p) == Some(0)).await;
    projects
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&projects, &name).await;
}

async fn kubectl_run(args: &[&str], stdin: &str) -> (bool, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::from(support::kubectl())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let out = child.wait_with_output().await.expect("kubectl output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn kubectl_ok(args: &[&str], stdin: &str) {
    let (ok, out) = kubectl_run(args, stdin).await;
    assert!(ok, "kubectl {args:?}: {out}");
}

/// The removed flag and its environment variable stop the operator with a
/// message that says what replaces them, rather than being ignored.
#[test]
fn the_removed_default_credentials_are_refused_at_start() {
    let binary = env!("CARGO_BIN_EXE_aura-operator");
    let by_flag = std::process::Command::new(binary)
        .args(["run", "--default-credentials", "ops/aura-api"])
        .output()
        .expect("run the operator");
    assert!(!by_flag.status.success());
    let said = String::from_utf8_lossy(&by_flag.stderr);
    assert!(said.contains("--default-credentials"), "{said}");

    let by_env = std::process::Command::new(binary)
        .arg("run")
        .env("AURA_DEFAULT_CREDENTIALS", "ops/aura-api")
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("run the operator");
    assert!(!by_env.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&by_env.stdout),
        String::from_utf8_lossy(&by_env.stderr)
    );
    assert!(said.contains("ClusterAuraProject named default"), "{said}");
}

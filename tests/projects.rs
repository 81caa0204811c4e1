//! Projects (issue 16, DESIGN 4.9): credentials scoped to the namespaces
//! allowed to use them. On the real control plane with the simulator; the
//! operator watches several test namespaces at once.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aura_operator::api::{AuraInstance, AuraProject, ClusterAuraProject};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use support::eventually;
use support::harness::*;

const PROJECT_FINALIZER: &str = "aura-operator.io/project-in-use";
const CREDENTIALS_FINALIZER: &str = "aura-operator.io/credentials-in-use";

/// An AuraInstance manifest that names a project instead of a Secret and
/// leaves the tenant to the project.
fn on_project(name: &str, kind: &str, project: &str) -> Value {
    manifest(
        name,
        json!({
            "credentialsSecretRef": null, "tenantId": null,
            "projectRef": {"kind": kind, "name": project},
        }),
    )
}

async fn create_in(client: &Client, ns: &str, manifest: Value) {
    let api: Api<AuraInstance> = Api::namespaced(client.clone(), ns);
    let obj: AuraInstance = serde_json::from_value(manifest).expect("an AuraInstance");
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create {} in {ns}: {e}", obj.name_any()));
}

async fn wait_instance(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&AuraInstance) -> bool,
) -> AuraInstance {
    let api: Api<AuraInstance> = Api::namespaced(client.clone(), ns);
    eventually(&format!("{ns}/{name}: {what}"), WAIT, || async {
        api.get_opt(name).await.ok().flatten().filter(&check)
    })
    .await
}

fn ready(o: &AuraInstance) -> bool {
    condition(o, "Ready").is_some_and(|c| c.0 == "True")
}

fn stalled_with(reason: &'static str) -> impl Fn(&AuraInstance) -> bool {
    move |o| stalled_reason(o).as_deref() == Some(reason)
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

async fn cluster_project(client: &Client, name: &str, spec: Value) -> Api<ClusterAuraProject> {
    let api: Api<ClusterAuraProject> = Api::all(client.clone());
    let obj: ClusterAuraProject = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "ClusterAuraProject",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("a ClusterAuraProject");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create the ClusterAuraProject");
    api
}

fn project_condition(
    status: Option<&aura_operator::api::AuraProjectStatus>,
    type_: &str,
) -> Option<(String, String, String)> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
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
    let projects: Api<AuraProject> = Api::namespaced(h.client.clone(), &h.ns);
    let project: AuraProject = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraProject",
        "metadata": {"name": "team"},
        "spec": {"credentialsSecretRef": {"name": "aura-api"}, "tenantId": TENANT_B},
    }))
    .unwrap();
    projects
        .create(&PostParams::default(), &project)
        .await
        .expect("create the AuraProject");
    // Credentials Aura refuses: Stalled, and no token is asked for again.
    h.put_credentials("wrong-api", "nobody", "not-a-secret")
        .await;
    let bad: AuraProject = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraProject",
        "metadata": {"name": "bad"},
        "spec": {"credentialsSecretRef": {"name": "wrong-api"}},
    }))
    .unwrap();
    projects.create(&PostParams::default(), &bad).await.unwrap();
    h.start_operator_with(&["--namespace", &other]);

    let seen = eventually("the project Ready", WAIT, || async {
        let p = projects.get("team").await.ok()?;
        let ready = project_condition(p.status.as_ref(), "Ready")?.0 == "True";
        ready.then_some(p)
    })
    .await;
    assert!(
        !seen.finalizers().contains(&PROJECT_FINALIZER.to_string()),
        "no finalizer while nobody uses it"
    );
    let status = seen.status.expect("status");
    assert_eq!(status.tenant_id.as_deref(), Some(TENANT_B));
    assert_eq!(status.tenant_name.as_deref(), Some("Team B"));
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

    create_in(&h.client, &h.ns, on_project("mine", "AuraProject", "team")).await;
    create_in(
        &h.client,
        &other,
        on_project("theirs", "AuraProject", "team"),
    )
    .await;
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
    eventually("usedBy 1 and the finalizer", WAIT, || async {
        let p = projects.get("team").await.ok()?;
        let held = p.finalizers().contains(&PROJECT_FINALIZER.to_string());
        (held && p.status?.used_by == 1).then_some(())
    })
    .await;

    let refused = eventually("the bad project Stalled", WAIT, || async {
        let p = projects.get("bad").await.ok()?;
        let stalled = project_condition(p.status.as_ref(), "Stalled")?;
        (stalled.0 == "True").then_some(stalled)
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
    let both = manifest("both", json!({"projectRef": {"name": "team"}}));
    let obj: AuraInstance = serde_json::from_value(both).unwrap();
    let err = h
        .instances()
        .create(&PostParams::default(), &obj)
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
    let mut h = Harness::start("project-cluster", |_| {}).await;
    let labelled = support::test_namespace(&h.client, "project-labelled").await;
    let refused = support::test_namespace(&h.client, "project-refused").await;
    let name = format!("shared-{}", h.ns);
    let key = format!("aura-operator.io/allowed-{}", &h.ns[h.ns.len() - 8..]);
    label_namespace(&h.client, &labelled, &key, Some("true")).await;
    let projects = cluster_project(
        &h.client,
        &name,
        json!({
            "credentialsSecretRef": {"name": "aura-api", "namespace": h.ns},
            "tenantId": TENANT_B,
            "allowedNamespaces": {"names": [h.ns], "selector": {"matchLabels": {key.clone(): "true"}}},
        }),
    )
    .await;
    h.start_operator_with(&["--namespace", &labelled, "--namespace", &refused]);

    for ns in [&h.ns, &labelled, &refused] {
        create_in(&h.client, ns, on_project("db", "ClusterAuraProject", &name)).await;
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
    eventually("usedBy 1", WAIT, || async {
        let p = projects.get(&name).await.ok()?;
        (p.status?.used_by == 1).then_some(())
    })
    .await;

    // A developer of the namespace: AuraInstances and events, no Secrets.
    let dev = "dev-without-secrets";
    let rbac = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "aura-dev", "namespace": h.ns},
        "rules": [
            {"apiGroups": ["aura-operator.io"], "resources": ["aurainstances", "auraprojects"],
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
        "rules": [{"apiGroups": ["aura-operator.io"], "resources": ["clusterauraprojects"], "verbs": ["get", "list"]}],
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
    let projects: Api<AuraProject> = Api::namespaced(h.client.clone(), &h.ns);
    let project: AuraProject = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraProject",
        "metadata": {"name": "team"},
        "spec": {"credentialsSecretRef": {"name": "aura-api"}, "tenantId": TENANT_B},
    }))
    .unwrap();
    projects
        .create(&PostParams::default(), &project)
        .await
        .unwrap();
    h.start_operator();
    create_in(&h.client, &h.ns, on_project("user", "AuraProject", "team")).await;
    let user = wait_instance(&h.client, &h.ns, "user", "Ready", ready).await;
    let id = instance_id(&user);
    let held = h.secrets().get("aura-api").await.unwrap();
    assert!(
        held.finalizers()
            .contains(&CREDENTIALS_FINALIZER.to_string())
    );

    projects
        .delete("team", &DeleteParams::default())
        .await
        .unwrap();
    let blocked = eventually("the project held by its user", WAIT, || async {
        let p = projects.get("team").await.ok()?;
        let ready = project_condition(p.status.as_ref(), "Ready")?;
        (ready.1 == "InUse").then_some((p, ready))
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
    eventually("the project gone", WAIT, || async {
        projects.get_opt("team").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(h.writes_to(&id).iter().any(|w| w.starts_with("DELETE")));
    eventually("the Secret let go", WAIT, || async {
        let s = h.secrets().get("aura-api").await.ok()?;
        (!s.finalizers().contains(&CREDENTIALS_FINALIZER.to_string())).then_some(())
    })
    .await;
}

/// Deleting an AuraInstance whose credentials are gone never hangs
/// silently: `CredentialsMissing`, saying both ways out. Orphan lets it go
/// (the instance is kept); restoring the credentials lets a Delete finish.
#[tokio::test]
async fn a_deletion_without_credentials_says_how_out() {
    let mut h = Harness::start("project-missing", |_| {}).await;
    let name = format!("missing-{}", h.ns);
    let projects = cluster_project(
        &h.client,
        &name,
        json!({
            "credentialsSecretRef": {"name": "aura-api", "namespace": h.ns},
            "tenantId": TENANT_B,
            "allowedNamespaces": {"names": [h.ns]},
        }),
    )
    .await;
    h.start_operator();
    for db in ["orphan-me", "delete-me"] {
        create_in(
            &h.client,
            &h.ns,
            on_project(db, "ClusterAuraProject", &name),
        )
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
    let mut h = Harness::start("project-token", |_| {}).await;
    let second = support::test_namespace(&h.client, "project-token-b").await;
    let third = support::test_namespace(&h.client, "project-token-c").await;
    let name = format!("fleet-{}", h.ns);
    let projects = cluster_project(
        &h.client,
        &name,
        json!({
            "credentialsSecretRef": {"name": "aura-api", "namespace": h.ns},
            "tenantId": TENANT_B,
            "allowedNamespaces": {"names": [h.ns, second, third]},
        }),
    )
    .await;
    h.start_operator_with(&["--namespace", &second, "--namespace", &third]);
    let namespaces = [h.ns.clone(), second.clone(), third.clone()];
    for i in 0..20 {
        let ns = &namespaces[i % 3];
        create_in(
            &h.client,
            ns,
            on_project(&format!("db-{i}"), "ClusterAuraProject", &name),
        )
        .await;
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
    eventually("usedBy 20", WAIT, || async {
        let p = projects.get(&name).await.ok()?;
        (p.status?.used_by == 20).then_some(())
    })
    .await;
    for i in 0..20 {
        let api: Api<AuraInstance> = Api::namespaced(h.client.clone(), &namespaces[i % 3]);
        let _ = api
            .delete(&format!("db-{i}"), &DeleteParams::default())
            .await;
    }
    for i in 0..20 {
        let api: Api<AuraInstance> = Api::namespaced(h.client.clone(), &namespaces[i % 3]);
        wait_gone_from(&api, &format!("db-{i}")).await;
    }
    eventually("the project released", WAIT, || async {
        let p = projects.get(&name).await.ok()?;
        (p.status?.used_by == 0).then_some(())
    })
    .await;
    projects
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    eventually("the project gone", WAIT, || async {
        projects.get_opt(&name).await.ok()?.is_none().then_some(())
    })
    .await;
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

//! deletionProtection end to end (DESIGN 2, 4.8), on the real control plane
//! with the simulator and `aura-operator run`:
//!
//! - with the ValidatingAdmissionPolicy of deploy/deletion-protection.yaml
//!   applied, `kubectl delete` of a protected Ready AuraInstance is refused
//!   with a message that says how to lift the protection; nothing is sent to
//!   Aura; the command in the message lifts it, and the next delete destroys
//!   the instance (deletionPolicy Delete): the simulator's journal shows the
//!   DELETE;
//! - a namespace with a protected AuraInstance in it stays Terminating while
//!   the protection holds, and goes once it is lifted;
//! - without the policy the delete goes through, and the operator orphans the
//!   instance: it still runs in the simulator (no DELETE was sent), the
//!   connection Secret stays without owner reference, and a Warning event
//!   ProtectedInstanceOrphaned says so.
//!
//! The policy is cluster-wide: tests that need it applied hold
//! `cluster::DELETION_POLICY` for reading, the one that needs it gone for
//! writing (taken before the harness takes the cluster lock).

use crate::support;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use aura_operator::aura::InstanceStatus;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use serde_json::json;

use support::cluster::DELETION_POLICY;
use support::eventually;
use support::harness::*;

/// How long a ValidatingAdmissionPolicy may take to be enforced, or to stop
/// being enforced, after it is created or deleted (the apiserver's policy
/// informer), and the namespace controller to report on a namespace.
const ENFORCED: Duration = Duration::from_secs(60);

/// How long a namespace may take to go once nothing holds it (the namespace
/// controller retries with a backoff, and the operator destroys the instance
/// first).
const NAMESPACE_GONE: Duration = Duration::from_secs(180);

fn policy_file() -> PathBuf {
    support::repo_root().join("deploy/deletion-protection.yaml")
}

fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `kubectl <args>` against the test control plane, without blocking the runtime.
async fn kubectl(args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::from(support::kubectl());
    cmd.args(args).stdin(std::process::Stdio::null());
    cmd.output().await.expect("run kubectl")
}

async fn kubectl_ok(args: &[&str]) -> String {
    let out = kubectl(args).await;
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        describe(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two tests applying at once would both try to create the objects.
static APPLYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Applies the policy of deploy/ (idempotent).
async fn apply_policy() {
    let _one_at_a_time = APPLYING.lock().await;
    let file = policy_file();
    kubectl_ok(&["apply", "-f", file.to_str().unwrap()]).await;
}

async fn remove_policy() {
    let file = policy_file();
    kubectl_ok(&["delete", "--ignore-not-found", "-f", file.to_str().unwrap()]).await;
}

/// A server-side dry-run delete of the object: `Ok` when admission lets it
/// through, else kubectl's error.
async fn dry_run_delete(ns: &str, name: &str) -> Result<(), String> {
    let out = kubectl(&["delete", "aurainstance", name, "-n", ns, "--dry-run=server"]).await;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Waits until the policy refuses to delete the (protected) object.
async fn wait_enforced(ns: &str, name: &str) {
    eventually(
        "the deletion-protection policy to be enforced",
        ENFORCED,
        || async { dry_run_delete(ns, name).await.err() },
    )
    .await;
}

/// Waits until deleting the (protected) object is no longer refused.
async fn wait_not_enforced(ns: &str, name: &str) {
    eventually(
        "the deletion-protection policy to be no longer enforced",
        ENFORCED,
        || async { dry_run_delete(ns, name).await.ok() },
    )
    .await;
}

/// The calls that destroy `id`.
fn deletes_of(h: &Harness, id: &str) -> Vec<String> {
    h.writes_to(id)
        .into_iter()
        .filter(|l| l.starts_with("DELETE "))
        .collect()
}

/// The message's command that lifts the protection, as the message says it
/// (`kubectl patch aurainstance <name> -n <ns> --type merge -p '...'`).
fn lift_command(message: &str) -> String {
    let start = message
        .find("kubectl patch aurainstance")
        .unwrap_or_else(|| panic!("no kubectl patch command in: {message}"));
    let rest = &message[start..];
    let end = rest
        .find("}}'")
        .unwrap_or_else(|| panic!("the patch command does not end in }}': {message}"));
    rest[..end + 3].to_string()
}

/// Runs `command` with bash, kubectl on PATH and KUBECONFIG set.
async fn run_shell(command: &str) -> Output {
    let path = format!(
        "{}:{}",
        support::bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", command])
        .env("PATH", path)
        .env("KUBECONFIG", support::kubeconfig_path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run bash")
}

fn running(h: &Harness, id: &str) -> bool {
    h.sim
        .state()
        .instance(id)
        .is_some_and(|i| i.instance.status == InstanceStatus::Running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_refuses_to_delete_a_protected_object_until_protection_is_lifted() {
    let _policy = DELETION_POLICY.read().await;
    let mut h = Harness::start("protect-policy", |_| {}).await;
    apply_policy().await;
    h.start_operator();
    h.create(manifest(
        "db",
        json!({"deletionProtection": true, "deletionPolicy": "Delete"}),
    ))
    .await;
    let id = instance_id(&h.wait_ready("db").await);
    wait_enforced(&h.ns, "db").await;

    // A delete through either served version, named in full, is refused
    // alike (the policy matches every version, not only the preferred one).
    for version in ["v1beta1", "v1alpha1"] {
        let resource = format!("aurainstances.{version}.aura-operator.io");
        let out = kubectl(&["delete", &resource, "db", "-n", &h.ns, "--wait=false"]).await;
        assert!(
            !out.status.success()
                && String::from_utf8_lossy(&out.stderr).contains("deletionProtection: true"),
            "deleting a protected object through {version} was not refused: {}",
            describe(&out)
        );
    }
    // kubectl delete is refused, and says how to lift the protection.
    let out = kubectl(&["delete", "aurainstance", "db", "-n", &h.ns, "--wait=false"]).await;
    assert!(
        !out.status.success(),
        "deleting a protected object was not refused: {}",
        describe(&out)
    );
    let message = String::from_utf8_lossy(&out.stderr).into_owned();
    for want in [
        "AuraInstance db has spec.deletionProtection: true",
        &format!(
            "kubectl patch aurainstance db -n {} --type merge -p '{{\"spec\":{{\"deletionProtection\":false}}}}'",
            h.ns
        ),
        "delete again",
    ] {
        assert!(message.contains(want), "{want:?} not in: {message}");
    }
    // Nothing happened: the object is not being deleted, the instance runs,
    // and Aura was not asked to destroy it.
    let obj = h.instances().get("db").await.unwrap();
    assert!(
        obj.metadata.deletion_timestamp.is_none(),
        "the refused delete marked the object for deletion"
    );
    assert!(running(&h, &id), "the Aura instance does not run any more");
    assert_eq!(deletes_of(&h, &id), Vec::<String>::new());

    // The command in the message lifts the protection; the delete then goes
    // through and destroys the instance (deletionPolicy: Delete).
    let lift = lift_command(&message);
    let out = run_shell(&lift).await;
    assert!(out.status.success(), "{lift}: {}", describe(&out));
    let obj = h.instances().get("db").await.unwrap();
    assert_eq!(obj.spec.deletion_protection, Some(false), "{lift}");
    kubectl_ok(&["delete", "aurainstance", "db", "-n", &h.ns, "--wait=false"]).await;
    h.wait_gone("db").await;
    assert_eq!(
        deletes_of(&h, &id),
        vec![format!("DELETE /v1/instances/{id} 202")],
        "one DELETE of the instance once protection was lifted"
    );
    assert!(
        h.sim.state().instance(&id).is_none(),
        "the Aura instance survived"
    );
    assert!(
        h.secrets()
            .get_opt("db-connection")
            .await
            .unwrap()
            .is_none(),
        "the connection Secret survived"
    );
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_object_holds_its_namespace_in_terminating_until_protection_is_lifted() {
    let _policy = DELETION_POLICY.read().await;
    let mut h = Harness::start("protect-namespace", |_| {}).await;
    apply_policy().await;
    h.start_operator();
    h.create(manifest("db", json!({"deletionProtection": true})))
        .await;
    let id = instance_id(&h.wait_ready("db").await);
    wait_enforced(&h.ns, "db").await;

    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    kubectl_ok(&["delete", "namespace", &h.ns, "--wait=false"]).await;
    // The namespace controller's delete of the object is refused: it says
    // so in the namespace's conditions, and the namespace stays Terminating.
    let refusal = eventually(
        "the namespace to report the refused deletion",
        ENFORCED,
        || {
            let namespaces = namespaces.clone();
            let ns = h.ns.clone();
            async move {
                let n = namespaces.get(&ns).await.ok()?;
                n.status?
                    .conditions?
                    .into_iter()
                    .find(|c| c.type_ == "NamespaceDeletionContentFailure" && c.status == "True")
                    .and_then(|c| c.message)
                    .filter(|m| m.contains("deletionProtection"))
            }
        },
    )
    .await;
    assert!(
        refusal.contains("kubectl patch aurainstance db"),
        "{refusal}"
    );
    let n = namespaces.get(&h.ns).await.unwrap();
    assert_eq!(
        n.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let obj = h.instances().get("db").await.unwrap();
    assert!(
        obj.metadata.deletion_timestamp.is_none(),
        "the object was marked for deletion"
    );
    assert!(running(&h, &id), "the Aura instance does not run any more");
    assert_eq!(deletes_of(&h, &id), Vec::<String>::new());
    // The namespace controller deleted the rest, but the connection Secret is
    // held while the instance is protected: its password is still there.
    let secret = eventually("the Secret to be marked for deletion", ENFORCED, || async {
        h.secrets()
            .get_opt("db-connection")
            .await
            .ok()
            .flatten()
            .filter(|s| s.metadata.deletion_timestamp.is_some())
    })
    .await;
    assert!(
        secret
            .finalizers()
            .iter()
            .any(|f| f == "aura-operator.io/protected"),
        "{:?}",
        secret.metadata.finalizers
    );
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        h.sim.state().issued_password(&id)
    );

    // Lifted: the namespace controller's next attempt deletes the object, the
    // operator destroys the instance (deletionPolicy Delete by default), and
    // the namespace goes.
    h.edit("db", json!({"deletionProtection": false})).await;
    eventually("the namespace to be gone", NAMESPACE_GONE, || {
        let namespaces = namespaces.clone();
        let ns = h.ns.clone();
        async move { matches!(namespaces.get_opt(&ns).await, Ok(None)).then_some(()) }
    })
    .await;
    assert_eq!(
        deletes_of(&h, &id),
        vec![format!("DELETE /v1/instances/{id} 202")]
    );
    assert!(h.sim.state().instance(&id).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_policy_a_deleted_protected_object_keeps_its_instance_and_secret() {
    let _policy = DELETION_POLICY.write().await;
    let mut h = Harness::start("protect-orphan", |_| {}).await;
    remove_policy().await;
    h.start_operator();
    h.create(manifest(
        "db",
        json!({"deletionProtection": true, "deletionPolicy": "Delete"}),
    ))
    .await;
    let ready = h.wait_ready("db").await;
    let id = instance_id(&ready);
    let uid = ready.uid().unwrap();
    let secret = h.secrets().get("db-connection").await.unwrap();
    assert!(
        secret.owner_references().iter().any(|o| o.uid == uid),
        "the connection Secret starts owned by its object"
    );
    // Another test's policy may still be enforced for a moment.
    wait_not_enforced(&h.ns, "db").await;

    kubectl_ok(&["delete", "aurainstance", "db", "-n", &h.ns, "--wait=false"]).await;
    h.wait_gone("db").await;

    // The instance still runs: Aura was never asked to destroy it.
    assert!(running(&h, &id), "the Aura instance does not run any more");
    assert_eq!(
        deletes_of(&h, &id),
        Vec::<String>::new(),
        "a DELETE reached Aura for a protected object"
    );
    // The Secret stays, let go of (so the garbage collector leaves it), with
    // the password that works.
    let secret = h
        .secrets()
        .get("db-connection")
        .await
        .expect("the connection Secret is kept");
    assert!(
        secret.owner_references().is_empty(),
        "the kept Secret still has owner references: {:?}",
        secret.owner_references()
    );
    assert_eq!(
        aura_operator::kinds::instance::secret::read_key(&secret, "NEO4J_PASSWORD"),
        h.sim.state().issued_password(&id)
    );
    // A Warning event says what was kept and why.
    let events = h.events("db").await;
    let warning = events
        .iter()
        .find(|e| e.1 == "ProtectedInstanceOrphaned")
        .unwrap_or_else(|| panic!("no ProtectedInstanceOrphaned event: {events:?}"));
    assert_eq!(warning.0, "Warning", "{warning:?}");
    for want in [id.as_str(), "kept", "deletionProtection was on"] {
        assert!(warning.2.contains(want), "{want:?} not in {:?}", warning.2);
    }
    assert!(
        !events.iter().any(|e| e.1 == "Deleting" || e.1 == "Deleted"),
        "{events:?}"
    );

    // The kept instance can be taken back by id, Secret and password included.
    h.create(manifest(
        "again",
        json!({"instanceId": id, "deletionPolicy": "Orphan",
               "connectionSecret": {"name": "db-connection"}}),
    ))
    .await;
    h.wait_ready("again").await;
    assert_eq!(deletes_of(&h, &id), Vec::<String>::new());
    h.assert_log_clean(&h.operator_log());
    // Leave the policy as the other tests expect it.
    apply_policy().await;
}

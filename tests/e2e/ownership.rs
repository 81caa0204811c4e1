//! Only the operator's own Secrets, a create intent that outlives a failed
//! Secret write, credentials that outlive their users, and admission limits
//! (issue 13), on the real control plane with the simulator.

use crate::support;

use std::time::Duration;

use aura_operator::api::AuraInstance;
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use support::eventually;
use support::harness::*;

async fn put_secret(h: &Harness, name: &str, data: serde_json::Value) {
    let body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "stringData": data,
    });
    h.secrets()
        .patch(
            name,
            &PatchParams::apply("tests").force(),
            &Patch::Apply(body),
        )
        .await
        .expect("write a Secret");
}

/// `connectionSecret.name` pointing at an application's Secret, or at the
/// credentials Secret: neither is changed or deleted, the object stalls on
/// `SecretNotOwned`, and no instance is created for a password with nowhere
/// to go. Two objects naming one fresh Secret: the second stalls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_is_not_the_operators_is_never_touched() {
    let mut h = Harness::start("not-owned", |_| {}).await;
    put_secret(
        &h,
        "app-config",
        json!({"DATABASE_URL": "keep-me", "NEO4J_URI": "mine"}),
    )
    .await;
    h.start_operator();
    h.create(manifest(
        "app",
        json!({"connectionSecret": {"name": "app-config"}}),
    ))
    .await;
    h.create(manifest(
        "creds",
        json!({"connectionSecret": {"name": "aura-api"}}),
    ))
    .await;
    for name in ["app", "creds"] {
        h.wait_for(name, "SecretNotOwned", |o| {
            stalled_reason(o).as_deref() == Some("SecretNotOwned")
        })
        .await;
    }
    assert_eq!(
        h.sim.state().counters().creates_committed,
        0,
        "nothing created"
    );
    let app = h.secrets().get("app-config").await.unwrap();
    assert!(
        app.metadata.owner_references.is_none(),
        "no owner was added"
    );
    assert_eq!(
        h.secret_value("app-config", "NEO4J_URI").await.as_deref(),
        Some("mine")
    );

    // One fresh Secret named by two objects: the first to write it keeps it.
    h.create(manifest(
        "one",
        json!({"connectionSecret": {"name": "shared-conn"}}),
    ))
    .await;
    let first = h.wait_ready("one").await;
    h.create(manifest(
        "two",
        json!({"connectionSecret": {"name": "shared-conn"}}),
    ))
    .await;
    h.wait_for("two", "SecretNotOwned", |o| {
        stalled_reason(o).as_deref() == Some("SecretNotOwned")
    })
    .await;
    let id = first.status.unwrap().instance_id.unwrap();
    assert_eq!(
        h.secret_value("shared-conn", "NEO4J_PASSWORD").await,
        h.sim.state().issued_password(&id),
        "the first object's password is still there"
    );

    // Deleting the objects leaves the Secrets they did not own.
    for name in ["app", "creds", "two"] {
        h.instances()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        h.wait_gone(name).await;
    }
    for name in ["app-config", "aura-api", "shared-conn"] {
        assert!(
            h.secrets().get_opt(name).await.unwrap().is_some(),
            "{name} was deleted"
        );
    }
    assert_eq!(
        h.secret_value("app-config", "DATABASE_URL")
            .await
            .as_deref(),
        Some("keep-me")
    );
    h.wait_ready("one").await;
}

/// A namespace whose quota leaves no room for the connection Secret: the
/// Secret is offered to the apiserver in a dry run before the create, so no
/// instance is made for a password that could not be stored (`SecretRefused`,
/// with Kubernetes' words); with the quota lifted, one instance, its password
/// in the Secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_quota_refuses_keeps_the_create_from_happening() {
    let mut h = Harness::start("quota", |_| {}).await;
    let quota: ResourceQuota = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "no-more-secrets"},
        "spec": {"hard": {"secrets": "1"}},
    }))
    .unwrap();
    let quotas: Api<ResourceQuota> = Api::namespaced(h.client.clone(), &h.ns);
    quotas.create(&PostParams::default(), &quota).await.unwrap();
    eventually("the quota to count Secrets", WAIT, || async {
        let q = quotas.get("no-more-secrets").await.ok()?;
        q.status?.used?.get("secrets").map(|_| ())
    })
    .await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let stalled = h
        .wait_for("db", "SecretRefused", |o| {
            stalled_reason(o).as_deref() == Some("SecretRefused")
        })
        .await;
    let message = condition(&stalled, "Stalled").unwrap().2;
    assert!(message.contains("quota"), "Kubernetes' message: {message}");
    let warning = h.wait_event("db", "SecretRefused").await;
    assert!(warning.contains("no Aura instance is created"), "{warning}");
    assert!(h.sim.state().instances().is_empty(), "nothing was created");

    quotas
        .delete("no-more-secrets", &DeleteParams::default())
        .await
        .unwrap();
    let ready = h.wait_ready("db").await;
    let instances = h.sim.state().instances();
    assert_eq!(instances.len(), 1, "one instance: {instances:?}");
    let id = ready.status.unwrap().instance_id.unwrap();
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        h.sim.state().issued_password(&id)
    );
    h.assert_log_clean(&h.operator_log());
}

/// A Secret refused only for real (an admission policy that lets dry runs
/// through): the create answered, the Secret write fails, the object stalls
/// on `SecretWriteFailed` (with a Warning) and keeps its intent; after a
/// restart of the operator and the policy gone, there is one instance and
/// the Secret holds its password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_secret_write_keeps_the_intent_across_a_restart() {
    use k8s_openapi::api::admissionregistration::v1::{
        ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    };
    let mut h = Harness::start("secret-denied", |_| {}).await;
    let policy_name = format!("deny-{}", h.ns);
    let policy: ValidatingAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy_name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["secrets"]}]},
            "validations": [{"expression": "request.dryRun || !(object.metadata.name in ['db-connection', 'policy-probe'])",
                             "message": "connection Secrets are refused here for now"}],
        },
    }))
    .unwrap();
    let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name},
        "spec": {"policyName": policy_name, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": h.ns}}}},
    }))
    .unwrap();
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(h.client.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(h.client.clone());
    policies
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    // The policy is in force once a real write is refused.
    eventually("the policy to refuse", WAIT, || async {
        let probe =
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "policy-probe"}});
        let made = h
            .secrets()
            .create(
                &PostParams::default(),
                &serde_json::from_value(probe).unwrap(),
            )
            .await
            .is_ok();
        if made {
            let _ = h
                .secrets()
                .delete("policy-probe", &DeleteParams::default())
                .await;
        }
        (!made).then_some(())
    })
    .await;

    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let stalled = h
        .wait_for("db", "SecretWriteFailed", |o| {
            stalled_reason(o).as_deref() == Some("SecretWriteFailed")
        })
        .await;
    let status = stalled.status.clone().unwrap();
    assert!(status.create_requested_at.is_some(), "the intent is kept");
    let message = condition(&stalled, "Stalled").unwrap().2;
    assert!(
        message.contains("refused here"),
        "Kubernetes' message: {message}"
    );
    let warning = h.wait_event("db", "SecretWriteFailed").await;
    assert!(warning.contains("could not be written"), "{warning}");

    let log = h.operator.take().unwrap().kill().await;
    bindings
        .delete(&policy_name, &DeleteParams::default())
        .await
        .unwrap();
    policies
        .delete(&policy_name, &DeleteParams::default())
        .await
        .unwrap();
    h.start_operator();
    let ready = h.wait_ready("db").await;
    // A create made twice would show by now: the next passes have run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let instances = h.sim.state().instances();
    assert_eq!(instances.len(), 1, "one instance: {instances:?}");
    let id = ready.status.unwrap().instance_id.unwrap();
    assert_eq!(instances[0].instance.id, id);
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        h.sim.state().issued_password(&id)
    );
    h.assert_log_clean(&(log + &h.operator_log()));
}

/// Deleting a namespace that holds its own credentials Secret: the Secret
/// waits (finalizer `aura-operator.io/credentials-in-use`) until the
/// instances are destroyed, then the namespace goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_with_its_own_credentials_is_deleted_cleanly() {
    let mut h = Harness::start("ns-delete", |_| {}).await;
    h.start_operator();
    for name in ["a", "b"] {
        h.create(manifest(name, json!({}))).await;
    }
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let o = h.wait_ready(name).await;
        ids.push(o.status.unwrap().instance_id.unwrap());
    }
    let creds = h.secrets().get("aura-api").await.unwrap();
    assert!(
        creds
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "aura-operator.io/credentials-in-use"),
        "{:?}",
        creds.metadata.finalizers
    );

    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    namespaces
        .delete(&h.ns, &DeleteParams::default())
        .await
        .unwrap();
    eventually("the namespace to go", Duration::from_secs(120), || {
        let namespaces = namespaces.clone();
        let ns = h.ns.clone();
        async move { matches!(namespaces.get_opt(&ns).await, Ok(None)).then_some(()) }
    })
    .await;
    for id in &ids {
        assert!(h.sim.state().instance(id).is_none(), "{id} still billed");
    }
}

/// Admission: a tenant id that is not a UUID (here 100,000 characters) and an
/// adoption without an explicit deletionPolicy are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_refuses_unbounded_and_implicit_input() {
    let h = Harness::start("admission-limits", |_| {}).await;
    let cases = [
        (json!({"tenantId": "x".repeat(100_000)}), "tenantId"),
        (json!({"tenantId": "not-a-uuid"}), "tenantId"),
        (json!({"instanceId": "8f769515"}), "explicit deletionPolicy"),
        // Issue 26: what would make the operator's own Secret unwritable
        // after the create is refused before any create.
        (
            json!({"connectionSecret": {"labels": {"owner": "team@example.com"}}}),
            "labels values must be label values",
        ),
        (
            json!({"connectionSecret": {"labels": {"bad key!": "x"}}}),
            "labels keys must be label keys",
        ),
        (
            json!({"connectionSecret": {"annotations": {"-lead": "x"}}}),
            "annotations keys must be annotation keys",
        ),
        (
            json!({"connectionSecret": {"extraKeys": (0..65)
                .map(|i| (format!("K{i}"), json!("{{ uri }}")))
                .collect::<serde_json::Map<String, serde_json::Value>>()}}),
            "must have at most 64",
        ),
        (
            json!({"connectionSecret": {"extraKeys": {"BIG": "x".repeat(4097)}}}),
            "4096",
        ),
    ];
    for (spec, fragment) in cases {
        let obj: AuraInstance = serde_json::from_value(manifest("refused", spec)).unwrap();
        let err = h
            .instances()
            .create(&PostParams::default(), &obj)
            .await
            .expect_err("refused at admission");
        let text = err.to_string();
        assert!(text.contains(fragment), "{}", &text[..text.len().min(400)]);
        assert!(text.len() < 5_000, "the refusal does not echo the input");
    }
    let ok: AuraInstance = serde_json::from_value(manifest(
        "adopt",
        json!({"instanceId": "8f769515", "deletionPolicy": "Orphan"}),
    ))
    .unwrap();
    h.instances()
        .create(&PostParams::default(), &ok)
        .await
        .expect("an explicit policy is accepted");
}

/// During an Aura outage a deleting object is no longer `Ready=True`; once
/// Aura answers again, the deletion completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_during_an_outage_says_so() {
    let mut h = Harness::start("outage-delete", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = h
        .wait_ready("db")
        .await
        .status
        .unwrap()
        .instance_id
        .unwrap();
    let mut faults = h.sim.state().faults();
    faults.error_rate = 1.0;
    h.sim.state().set_faults(faults.clone());
    h.instances()
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    let deleting = h
        .wait_for("db", "Ready=False while Aura is down", |o| {
            condition(o, "Ready").is_some_and(|c| c.0 == "False" && c.1 == "Deleting")
        })
        .await;
    assert_eq!(
        deleting.status.unwrap().phase,
        Some(aura_operator::api::Phase::Deleting)
    );
    faults.error_rate = 0.0;
    h.sim.state().set_faults(faults);
    h.wait_gone("db").await;
    assert!(h.sim.state().instance(&id).is_none());
}

/// Two token expiries within five minutes (the forced-refresh interval): the
/// token of the first refresh worked, so the second expiry is refreshed too,
/// instead of 403s for minutes and a Stalled Forbidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_token_expiry_soon_after_the_first_is_refreshed() {
    let mut h = Harness::start("token-expiry", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    h.wait_ready("db").await;
    let st = h.sim.state();
    for round in 1..=2u64 {
        let issued = st.counters().tokens_issued;
        st.expire_tokens();
        h.instances()
            .patch(
                "db",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {
                    "aura-operator.io/reconcile-requested-at": format!("expiry-{round}")
                }}})),
            )
            .await
            .unwrap();
        eventually(&format!("a new token after expiry {round}"), WAIT, || {
            let st = st.clone();
            async move { (st.counters().tokens_issued > issued).then_some(()) }
        })
        .await;
        // A GET with the new token is answered: the object stays Ready.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let o = h.instances().get("db").await.unwrap();
        assert_eq!(stalled_reason(&o), None, "expiry {round}: {:?}", o.status);
        assert_eq!(condition(&o, "Ready").map(|c| c.0).as_deref(), Some("True"));
    }
}

//! AuraCustomerManagedKey on a real control plane, Aura played by the
//! simulator: a key pending until the console's grant, an AuraInstance that
//! waits for it and is created with it, a key that does not fit stalled
//! before any create, deletion that waits while an instance uses the key, an
//! adopted key left in Aura by Orphan, and an operator killed between the
//! key's create and its answer that ends with one key, not two.
//!
//! How the kind keeps DESIGN §4: one owner (a key id recorded by one object
//! stalls any other object naming it, `KeyHeldElsewhere`, unit-tested in
//! `decide/tests.rs`; the search after a lost answer skips ids other objects
//! record); no cross-namespace data (an AuraInstance names a key of its own
//! namespace only, `customerManagedKeyRef` is a local reference); bounded work
//! (a settled key is not polled: it waits for a change of the object; a
//! pending one is looked at every 30 s).

use crate::support;

use std::time::Duration;

use aura_operator::api::{AuraCustomerManagedKey, AuraInstance};
use aura_operator::simulator::CustomerManagedKey;
use kube::api::{Api, DeleteParams};
use serde_json::json;

use support::fixtures::{customer_managed_key, instance};
use support::harness::TENANT_B;
use support::harness::*;
use support::objects::{self, condition, stalled_reason};
use support::{WAIT, eventually};

fn keys(h: &Harness) -> Api<AuraCustomerManagedKey> {
    h.api()
}

fn key_id(k: &AuraCustomerManagedKey) -> String {
    k.status
        .as_ref()
        .and_then(|s| s.id.clone())
        .expect("a recorded key id")
}

/// The simulator's keys named `name`.
fn aura_keys_named(h: &Harness, name: &str) -> Vec<String> {
    h.sim
        .state()
        .customer_managed_keys()
        .into_iter()
        .filter(|k| k.name == name)
        .map(|k| k.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_key_holds_the_create_until_granted_and_deletion_waits_for_its_instance() {
    let mut h = Harness::start("cmk-pending", |c| c.key_ready_seconds = None).await;
    h.start_operator();
    objects::create(&keys(&h), customer_managed_key("orders-key")).await;
    let pending = objects::wait_for(&keys(&h), "orders-key", "KeyPending", |k| {
        condition(k, "Ready")
            .is_some_and(|(status, reason, _)| status == "False" && reason == "KeyPending")
    })
    .await;
    let id = key_id(&pending);
    assert_eq!(
        pending.status.as_ref().unwrap().aura_status.as_deref(),
        Some("pending")
    );
    assert_eq!(aura_keys_named(&h, "orders-key"), vec![id.clone()]);

    // An instance naming it waits, without a create.
    let orders = instance("orders").spec(json!({"customerManagedKeyRef": {"name": "orders-key"}}));
    objects::create(&h.instances(), orders).await;
    objects::wait_for(
        &h.instances(),
        "orders",
        "WaitingForKey",
        |o: &AuraInstance| objects::reconciling_reason(o) == Some("WaitingForKey".into()),
    )
    .await;
    // A key for another region stalls its instance before any call.
    objects::create(
        &keys(&h),
        customer_managed_key("london-key").spec(json!({"region": "europe-west2"})),
    )
    .await;
    let misfit = instance("misfit").spec(json!({"customerManagedKeyRef": {"name": "london-key"}}));
    objects::create(&h.instances(), misfit).await;
    let stalled = objects::wait_for(
        &h.instances(),
        "misfit",
        "KeyMismatch",
        |o: &AuraInstance| stalled_reason(o).as_deref() == Some("KeyMismatch"),
    )
    .await;
    let message = condition_message(&stalled, "Stalled");
    assert!(message.contains("europe-west2"), "{message}");
    assert!(
        h.sim.state().instances().is_empty(),
        "nothing was created yet"
    );

    // The console's grant: the key is ready, the waiting create goes on with it.
    h.sim
        .state()
        .grant_customer_managed_key(&id)
        .expect("the console's grant");
    objects::wait_ready(&keys(&h), "orders-key").await;
    let created = h.wait_ready("orders").await;
    let instance_id = instance_id(&created);
    let aura = h
        .sim
        .state()
        .instance(&instance_id)
        .expect("the instance in Aura");
    assert_eq!(
        aura.instance.customer_managed_key_id.as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        h.sim.state().instances().len(),
        1,
        "the misfit was never created"
    );

    // Deleting the key waits while the instance names it.
    keys(&h)
        .delete("orders-key", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_for(&keys(&h), "orders-key", "KeyInUse", |k| {
        objects::reconciling_reason(k) == Some("KeyInUse".into())
    })
    .await;
    assert_eq!(aura_keys_named(&h, "orders-key"), vec![id.clone()]);
    h.instances()
        .delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone("orders").await;
    eventually("the key object to go", WAIT, || {
        let keys = keys(&h);
        async move {
            keys.get_opt("orders-key")
                .await
                .ok()?
                .is_none()
                .then_some(())
        }
    })
    .await;
    assert!(
        aura_keys_named(&h, "orders-key").is_empty(),
        "the Aura key was deleted"
    );
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_key_is_recorded_once_and_orphan_leaves_it_in_aura() {
    let mut h = Harness::start("cmk-adopt", |_| {}).await;
    // Made in the console, then adopted by id.
    let console_key = "0d971cc4-f703-40fd-8c5c-f5ec134f6c84";
    h.sim.state().add_customer_managed_key(CustomerManagedKey {
        id: console_key.into(),
        name: "console-key".into(),
        tenant_id: TENANT_B.into(),
        cloud_provider: "gcp".into(),
        region: "europe-west1".into(),
        instance_type: "enterprise-db".into(),
        status: "ready".into(),
    });
    h.start_operator();
    let adopting = |name: &str| {
        customer_managed_key(name).spec(json!({
            "name": "console-key", "id": console_key, "deletionPolicy": "Orphan",
            // What the simulator makes up for a key added as the console would.
            "keyId": format!("simulated/{console_key}"),
        }))
    };
    objects::create(&keys(&h), adopting("adopter")).await;
    let adopted = objects::wait_ready(&keys(&h), "adopter").await;
    assert_eq!(key_id(&adopted), console_key);
    assert_eq!(adopted.status.as_ref().unwrap().adopted, Some(true));

    // One key, one object: a second object naming the same key stalls.
    objects::create(&keys(&h), adopting("second")).await;
    let held = objects::wait_for(&keys(&h), "second", "KeyHeldElsewhere", |k| {
        stalled_reason(k).as_deref() == Some("KeyHeldElsewhere")
    })
    .await;
    assert!(condition_message(&held, "Stalled").contains("adopter"));
    assert!(
        held.status.as_ref().unwrap().id.is_none(),
        "nothing recorded"
    );

    // Orphan: the objects go, the key stays in Aura.
    for name in ["second", "adopter"] {
        keys(&h)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    for name in ["second", "adopter"] {
        eventually("the key object to go", WAIT, || {
            let keys = keys(&h);
            async move { keys.get_opt(name).await.ok()?.is_none().then_some(()) }
        })
        .await;
    }
    assert_eq!(
        aura_keys_named(&h, "console-key"),
        vec![console_key.to_string()]
    );
    let deletes: Vec<String> = h
        .aura_writes()
        .into_iter()
        .filter(|w| w.starts_with("DELETE /v1/customer-managed-keys"))
        .collect();
    assert!(deletes.is_empty(), "no delete was sent: {deletes:?}");
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_killed_between_the_keys_create_and_its_answer_makes_one_key() {
    let mut h = Harness::start("cmk-killed", |c| c.key_ready_seconds = Some(0.0)).await;
    // The process aborts right after Aura made the key, before anything of
    // the answer is recorded: as kill -9 would.
    h.start_operator_env(&[], &[("AURA_FAILPOINT", "key-create-answered")]);
    objects::create(&keys(&h), customer_managed_key("orders-key")).await;
    let mut operator = h.operator.take().unwrap();
    let status = operator.ended(WAIT).await;
    assert!(!status.success(), "the failpoint aborted the operator");
    assert_eq!(
        aura_keys_named(&h, "orders-key").len(),
        1,
        "the create reached Aura"
    );

    h.start_operator();
    let ready = objects::wait_ready(&keys(&h), "orders-key").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let made = aura_keys_named(&h, "orders-key");
    assert_eq!(
        made,
        vec![key_id(&ready)],
        "one key, found again, not a second one"
    );
    assert_eq!(
        h.sim
            .state()
            .counters()
            .by_route
            .get("POST /v1/customer-managed-keys")
            .copied(),
        Some(1),
        "no second create"
    );
    h.assert_log_clean(&h.operator_log());
}

fn condition_message<K: serde::Serialize>(obj: &K, type_: &str) -> String {
    condition(obj, type_).map(|c| c.2).unwrap_or_default()
}

//! Multi-database AuraInstances and AuraDatabase on a real control plane,
//! Aura played by the simulator: an instance made through v2beta1 with the
//! tier name mapped and managed through v1 afterwards; a database in it,
//! Ready when Aura lists it, with a connection Secret naming it; the same
//! kind on an instance of one database, which stalls NotMultiDatabase; an
//! operator killed between the database's create and its answer, which
//! makes one database all the same; what admission refuses.
//!
//! How AuraDatabase keeps DESIGN §4: one owner (a database is the object's
//! only when it made it, found it after its own lost create, or was told to
//! take it over with an explicit deletionPolicy; table-tested in
//! `decide.rs`); no cross-namespace data (instanceRef names an AuraInstance
//! of its own namespace, reached through the instances' view and its claim,
//! with that instance's credentials); bounded work (a Ready database costs
//! one list per resync; a busy instance is tried every 15 s, a stall every
//! 5 minutes); data destroyed only on an explicit manifest (Delete is the
//! default only for a database the object made).

use crate::support;

use aura_operator::api::AuraDatabase;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use support::fixtures::{Fixture, instance};
use support::harness::*;
use support::objects::{self, condition, stalled_reason};
use support::{WAIT, eventually};

fn databases(h: &Harness) -> Api<AuraDatabase> {
    h.api()
}

fn database(name: &str, instance: &str, db: &str) -> serde_json::Value {
    json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraDatabase",
        "metadata": {"name": name},
        "spec": {"instanceRef": {"name": instance}, "name": db},
    })
}

/// The names of the instance's databases in Aura.
fn in_aura(h: &Harness, instance_id: &str) -> Vec<String> {
    let mut names: Vec<String> = h
        .sim
        .state()
        .databases(instance_id)
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    names
}

fn database_posts(h: &Harness) -> u64 {
    h.sim
        .state()
        .counters()
        .by_route
        .get("POST /v2beta1/organizations/{org_id}/projects/{project_id}/instances/{instance_id}/databases")
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_database_instance_holds_databases_with_secrets_that_name_them() {
    let mut h = Harness::start("multidb", |_| {}).await;
    h.start_operator();
    objects::create(
        &h.instances(),
        instance("tenants").spec(json!({"multiDatabase": true})),
    )
    .await;
    objects::create(&h.instances(), instance("single")).await;
    let tenants = instance_id(&h.wait_ready("tenants").await);
    let single = instance_id(&h.wait_ready("single").await);
    assert_eq!(h.sim.state().multi_database(&tenants), Some(true));
    assert_ne!(h.sim.state().multi_database(&single), Some(true));
    // Made through v2beta1 (as virtual-dedicated-cloud), then seen by v1 as enterprise-db.
    let creates = h.sim.state().counters().by_route;
    assert_eq!(
        creates
            .get("POST /v2beta1/organizations/{org_id}/projects/{project_id}/instances")
            .copied(),
        Some(1)
    );
    assert_eq!(
        h.sim
            .state()
            .instance(&tenants)
            .unwrap()
            .instance
            .instance_type
            .as_deref(),
        Some("enterprise-db")
    );

    objects::create(&databases(&h), database("tenant-a", "tenants", "tenant-a")).await;
    let ready = objects::wait_ready(&databases(&h), "tenant-a").await;
    let status = ready.status.unwrap();
    let listed = h.sim.state().databases(&tenants);
    let made = listed
        .iter()
        .find(|d| d.name == "tenant-a")
        .expect("in Aura");
    assert_eq!(status.database_id.as_deref(), Some(made.id.as_str()));
    assert_eq!(status.instance_id.as_deref(), Some(tenants.as_str()));
    assert_eq!(
        h.secret_value("tenant-a-database", "NEO4J_DATABASE")
            .await
            .as_deref(),
        Some("tenant-a")
    );
    assert_eq!(
        h.secret_value("tenant-a-database", "NEO4J_PASSWORD").await,
        h.secret_value("tenants-connection", "NEO4J_PASSWORD").await,
        "the instance's login"
    );
    assert_eq!(
        h.secret_value("tenant-a-database", "NEO4J_URI").await,
        h.secret_value("tenants-connection", "NEO4J_URI").await
    );

    // An instance of one database: multi-db-only is a stall, not a retry.
    objects::create(&databases(&h), database("lonely", "single", "lonely")).await;
    let stalled = objects::wait_for(&databases(&h), "lonely", "NotMultiDatabase", |d| {
        stalled_reason(d).as_deref() == Some("NotMultiDatabase")
    })
    .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("multiDatabase"), "{message}");
    assert_eq!(in_aura(&h, &single), vec!["neo4j".to_string()]);

    // Deleted with the object (Delete by default for a database it made).
    for name in ["tenant-a", "lonely"] {
        databases(&h)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        objects::wait_gone(&databases(&h), name).await;
    }
    assert_eq!(in_aura(&h, &tenants), vec!["neo4j".to_string()]);
    assert_eq!(database_posts(&h), 2, "one create each, none repeated");
    h.assert_log_clean(&h.operator_log());
}

/// kill -9 right after Aura created the database, before its answer was
/// recorded: the restarted operator finds it by name (the intent says it is
/// the object's) and makes no second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_killed_after_a_databases_create_makes_one_database() {
    let mut h = Harness::start("multidb-killed", |_| {}).await;
    h.start_operator();
    objects::create(
        &h.instances(),
        instance("tenants").spec(json!({"multiDatabase": true})),
    )
    .await;
    let tenants = instance_id(&h.wait_ready("tenants").await);
    let log = h.operator.take().unwrap().kill().await;
    h.assert_log_clean(&log);

    h.start_operator_env(&[], &[("AURA_FAILPOINT", "database-create-answered")]);
    objects::create(&databases(&h), database("tenant-b", "tenants", "tenant-b")).await;
    let mut operator = h.operator.take().unwrap();
    assert!(
        !operator.ended(WAIT).await.success(),
        "the failpoint aborted the operator"
    );
    assert_eq!(
        in_aura(&h, &tenants),
        vec!["neo4j".to_string(), "tenant-b".to_string()]
    );
    let recorded = databases(&h).get("tenant-b").await.unwrap().status.unwrap();
    assert!(
        recorded.create_requested_at.is_some(),
        "the intent was recorded"
    );

    h.start_operator();
    objects::wait_ready(&databases(&h), "tenant-b").await;
    assert_eq!(
        in_aura(&h, &tenants),
        vec!["neo4j".to_string(), "tenant-b".to_string()]
    );
    assert_eq!(database_posts(&h), 1, "no second create");

    // Orphan: the database and its data stay in Aura.
    databases(&h)
        .patch(
            "tenant-b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"deletionPolicy": "Orphan"}})),
        )
        .await
        .unwrap();
    databases(&h)
        .delete("tenant-b", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&databases(&h), "tenant-b").await;
    assert!(in_aura(&h, &tenants).contains(&"tenant-b".to_string()));

    // A database of that name made elsewhere is not taken over without an
    // explicit deletionPolicy.
    objects::create(&databases(&h), database("again", "tenants", "tenant-b")).await;
    objects::wait_for(&databases(&h), "again", "DatabaseExists", |d| {
        stalled_reason(d).as_deref() == Some("DatabaseExists")
    })
    .await;
    databases(&h)
        .delete("again", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&databases(&h), "again").await;
    let sim = h.sim.state();
    let id = tenants.clone();
    eventually("tenant-b kept", WAIT, || {
        let kept = sim.databases(&id).iter().any(|d| d.name == "tenant-b");
        async move { kept.then_some(()) }
    })
    .await;
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_refuses_multi_database_where_aura_would_not_make_one() {
    let h = Harness::start("multidb-admission", |_| {}).await;
    let refusals = [
        (
            json!({"type": "professional-db", "multiDatabase": true}),
            "business-critical and enterprise-db",
        ),
        (
            json!({"multiDatabase": true, "storage": "32GB"}),
            "takes no customer managed key, source, storage",
        ),
    ];
    for (spec, words) in refusals {
        let manifest = instance("refused").spec(spec).manifest();
        let obj = serde_json::from_value(manifest).unwrap();
        let err = h
            .instances()
            .create(&PostParams::default(), &obj)
            .await
            .expect_err("refused at admission");
        assert!(err.to_string().contains(words), "{err}");
    }
    // Create-only.
    objects::create(&h.instances(), instance("fixed")).await;
    let err = h
        .instances()
        .patch(
            "fixed",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"multiDatabase": true}})),
        )
        .await
        .expect_err("multiDatabase is create-only");
    assert!(err.to_string().contains("create-only"), "{err}");
    let err = databases(&h)
        .create(
            &PostParams::default(),
            &serde_json::from_value(database("sys", "tenants", "system")).unwrap(),
        )
        .await
        .expect_err("system is the instance's own");
    assert!(err.to_string().contains("instance's own"), "{err}");
}

//! Lost creates and ownership on the real control plane (issue 12's
//! passwordRecovery, issue 13's claims): a lost create heals by itself, the
//! lost-create search never takes another namespace's instance, and an
//! instance another AuraInstance holds is never touched.

use crate::support;

use std::time::Duration;

use aura_operator::api::{AuraInstance, AuraInstanceClaim};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::json;

use support::eventually;
use support::harness::*;
use support::objects;

/// A second namespace watched by the same operator, with its own copy of the
/// credentials Secret (the layout the README recommends).
async fn second_namespace(h: &Harness, prefix: &str) -> String {
    let ns = support::test_namespace(&h.client, prefix).await;
    put_credentials(&h.client, &ns, "aura-api", CLIENT_ID, CLIENT_SECRET).await;
    ns
}

/// The create is committed but its answer fails: the instance found afterwards
/// has a password nobody knows. passwordRecovery Recreate (the default)
/// destroys it, waits for Aura's 404 and creates again; the Secret ends with
/// the password Aura issued for the instance that remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_heals_by_itself() {
    let mut h = Harness::start("heal", |c| c.faults.fail_creates = 1).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let ready = h.wait_ready("db").await;
    let id = instance_id(&ready);

    let instances = h.sim.state().instances();
    assert_eq!(instances.len(), 1, "one instance remains: {instances:?}");
    assert_eq!(instances[0].instance.id, id);
    assert_eq!(h.sim.state().counters().creates_committed, 2);
    let issued = h.sim.state().issued_password(&id).expect("issued");
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        Some(issued)
    );
    let deletes: Vec<String> = h
        .aura_writes()
        .into_iter()
        .filter(|l| l.starts_with("DELETE "))
        .collect();
    assert_eq!(
        deletes.len(),
        1,
        "the first instance destroyed once: {deletes:?}"
    );
    assert!(!deletes[0].contains(&id), "{deletes:?}");
    let status = ready.status.unwrap();
    assert_eq!(status.recreations, Some(1));
    assert_eq!(status.lost_create_instance_id, None);
    let note = h.wait_event("db", "Recreating").await;
    assert!(note.contains("password was lost"), "{note}");
    h.assert_log_clean(&h.operator_log());
}

/// `team-x/db`'s create answer is lost while `team-y/db`, with the same Aura
/// name in the same tenant, already runs. Each ends with its own instance, and
/// deleting `team-x/db` leaves team-y's database alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_never_takes_another_namespaces_instance() {
    let mut h = Harness::start("team-y", |_| {}).await;
    let team_x = second_namespace(&h, "team-x").await;
    h.start_operator_with(&["--namespace", &team_x]);
    h.create(manifest("db", json!({}))).await;
    let theirs = instance_id(&h.wait_ready("db").await);

    let mut faults = h.sim.state().faults();
    faults.fail_creates = 1;
    h.sim.state().set_faults(faults);
    let x: Api<AuraInstance> = Api::namespaced(h.client.clone(), &team_x);
    let obj: AuraInstance = serde_json::from_value(manifest("db", json!({}))).unwrap();
    x.create(&PostParams::default(), &obj)
        .await
        .expect("team-x/db");
    let ours = eventually("team-x/db Ready", Duration::from_secs(90), || {
        let x = x.clone();
        async move {
            let o = x.get("db").await.ok()?;
            condition(&o, "Ready")
                .is_some_and(|c| c.0 == "True")
                .then(|| instance_id(&o))
        }
    })
    .await;
    assert_ne!(ours, theirs, "team-x/db recorded team-y's instance");
    assert!(
        h.writes_to(&theirs).is_empty(),
        "team-y's instance was touched: {:?}",
        h.writes_to(&theirs)
    );

    x.delete("db", &DeleteParams::default()).await.unwrap();
    objects::wait_gone(&x, "db").await;
    assert!(
        h.sim.state().instance(&ours).is_none(),
        "team-x's own instance destroyed"
    );
    assert!(
        h.sim.state().instance(&theirs).is_some(),
        "team-y's database survived"
    );
    assert!(
        h.writes_to(&theirs).is_empty(),
        "{:?}",
        h.writes_to(&theirs)
    );
    assert_eq!(
        condition(&h.instances().get("db").await.unwrap(), "Ready").map(|c| c.0),
        Some("True".into())
    );
}

/// A person who may create AuraInstances in team-x, but may not read Secrets,
/// names team-y's instance id with `paused: true`: the object stalls on
/// `InstanceClaimed`, no call changes the instance, and deleting the intruder
/// (deletionPolicy Delete) never destroys it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intruding_adoption_by_id_touches_nothing() {
    let mut h = Harness::start("owner", |_| {}).await;
    let team_x = second_namespace(&h, "intruder").await;
    h.start_operator_with(&["--namespace", &team_x]);
    h.create(manifest("db", json!({"deletionPolicy": "Orphan"})))
        .await;
    let theirs = instance_id(&h.wait_ready("db").await);

    // RBAC of the intruder: AuraInstances only, no Secrets.
    let role = Role {
        metadata: ObjectMeta {
            name: Some("aura-editor".into()),
            ..Default::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["aura-operator.io".into()]),
            resources: Some(vec![objects::plural::<AuraInstance>()]),
            verbs: ["get", "list", "create", "delete", "patch"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        }]),
    };
    Api::<Role>::namespaced(h.client.clone(), &team_x)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("aura-editor".into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "aura-editor".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "intruder".into(),
            namespace: Some(team_x.clone()),
            api_group: None,
        }]),
    };
    Api::<RoleBinding>::namespaced(h.client.clone(), &team_x)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let intruder = support::impersonating_client(&team_x, "intruder").await;
    let secrets: Api<Secret> = Api::namespaced(intruder.clone(), &team_x);
    assert!(
        secrets.list(&Default::default()).await.is_err(),
        "no Secret rights"
    );
    // Nor can the intruder take or move the claim itself.
    let claims: Api<AuraInstanceClaim> = Api::all(intruder.clone());
    let grab: AuraInstanceClaim = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraInstanceClaim",
        "metadata": {"name": theirs},
        "spec": {"instanceId": theirs, "holder": {"namespace": team_x, "name": "grab", "uid": "x"}},
    }))
    .unwrap();
    let refused = claims.create(&PostParams::default(), &grab).await;
    assert!(
        matches!(refused, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{refused:?}"
    );
    assert!(
        claims
            .delete(&theirs, &DeleteParams::default())
            .await
            .is_err()
    );
    let x: Api<AuraInstance> = Api::namespaced(intruder, &team_x);
    let obj: AuraInstance = serde_json::from_value(manifest(
        "grab",
        json!({"instanceId": theirs, "paused": true, "deletionPolicy": "Delete"}),
    ))
    .unwrap();
    x.create(&PostParams::default(), &obj)
        .await
        .expect("the intruder's object");
    let stalled = eventually("the intruder stalls", WAIT, || {
        let x = x.clone();
        async move {
            let o = x.get("grab").await.ok()?;
            (stalled_reason(&o).as_deref() == Some("InstanceClaimed")).then_some(o)
        }
    })
    .await;
    let message = condition(&stalled, "Stalled").unwrap().2;
    assert!(
        !message.contains(&h.ns),
        "names no other namespace: {message}"
    );
    assert_eq!(stalled.status.as_ref().unwrap().instance_id, None);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        h.writes_to(&theirs).is_empty(),
        "{:?}",
        h.writes_to(&theirs)
    );
    let admin_secrets: Api<Secret> = Api::namespaced(h.client.clone(), &team_x);
    assert!(
        admin_secrets
            .get_opt("grab-connection")
            .await
            .unwrap()
            .is_none(),
        "no Secret describes someone else's instance"
    );

    x.delete("grab", &DeleteParams::default()).await.unwrap();
    objects::wait_gone(&x, "grab").await;
    assert!(
        h.sim.state().instance(&theirs).is_some(),
        "the database survived"
    );
    assert!(
        h.writes_to(&theirs).is_empty(),
        "{:?}",
        h.writes_to(&theirs)
    );
    assert_eq!(
        condition(&h.instances().get("db").await.unwrap(), "Ready").map(|c| c.0),
        Some("True".into())
    );
}

/// Two honest objects adopt one console-made instance under different names:
/// one holds it, the other stalls on `InstanceClaimed`, and no rename goes
/// back and forth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_adopters_of_one_id_do_not_fight() {
    let mut h = Harness::start("two-adopters", |_| {}).await;
    let existing = h
        .sim
        .state()
        .console_create(&console_request("europe-west1", "legacy"))
        .expect("console create");
    let id = existing.instance.id.clone();
    h.start_operator();
    for name in ["first", "second"] {
        h.create(manifest(
            name,
            json!({"instanceId": id, "name": name, "deletionPolicy": "Orphan"}),
        ))
        .await;
    }
    // The holder records the id in its own pass, which may come after the
    // other's stall: both are waited for.
    let holder = eventually("one holder and one stalled", WAIT, || async {
        let a = h.instances().get("first").await.ok()?;
        let b = h.instances().get("second").await.ok()?;
        let claimed = |o: &AuraInstance| stalled_reason(o).as_deref() == Some("InstanceClaimed");
        let recorded = |o: &AuraInstance| o.status.as_ref()?.instance_id.clone();
        match (claimed(&a), claimed(&b)) {
            (false, true) => recorded(&a).is_some().then_some(a),
            (true, false) => recorded(&b).is_some().then_some(b),
            _ => None,
        }
    })
    .await;
    assert_eq!(instance_id(&holder), id);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let patches: Vec<String> = h
        .writes_to(&id)
        .into_iter()
        .filter(|l| l.starts_with("PATCH "))
        .collect();
    assert!(patches.len() <= 1, "renamed back and forth: {patches:?}");
}

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

use support::fixtures::{Fixture, database_user, instance};
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

    // A login of its own: an AuraDatabaseUser for this database, named by userRef.
    let users: Api<aura_operator::api::AuraDatabaseUser> = h.api();
    objects::create(
        &users,
        database_user("tenant-a-app")
            .of("tenants")
            .spec(json!({"roles": ["reader"], "database": "tenant-a"})),
    )
    .await;
    objects::wait_ready(&users, "tenant-a-app").await;
    objects::create(
        &databases(&h),
        database("tenant-a-app", "tenants", "tenant-a-app-db")
            .as_object()
            .cloned()
            .map(|mut m| {
                m["spec"]["userRef"] = json!({"name": "tenant-a-app"});
                serde_json::Value::Object(m)
            })
            .unwrap(),
    )
    .await;
    let mismatch = objects::wait_for(&databases(&h), "tenant-a-app", "UserNotForDatabase", |d| {
        stalled_reason(d).as_deref() == Some("UserNotForDatabase")
    })
    .await;
    let (_, _, message) = condition(&mismatch, "Stalled").unwrap();
    assert!(message.contains("tenant-a-app-db"), "{message}");
    databases(&h)
        .delete("tenant-a-app", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&databases(&h), "tenant-a-app").await;
    let mut with_user = database("tenant-a-login", "tenants", "tenant-a");
    with_user["spec"]["userRef"] = json!({"name": "tenant-a-app"});
    with_user["spec"]["deletionPolicy"] = json!("Orphan");
    with_user["spec"]["connectionSecret"] = json!({"format": "SpringBoot"});
    objects::create(&databases(&h), with_user).await;
    objects::wait_ready(&databases(&h), "tenant-a-login").await;
    assert_eq!(
        h.secret_value("tenant-a-login-database", "NEO4J_USERNAME")
            .await,
        h.secret_value("tenant-a-app-db", "NEO4J_USERNAME").await,
        "the user's login, not the admin's"
    );
    assert_eq!(
        h.secret_value("tenant-a-login-database", "NEO4J_DATABASE")
            .await
            .as_deref(),
        Some("tenant-a")
    );
    assert_eq!(
        h.secret_value("tenant-a-login-database", "SPRING_DATA_NEO4J_DATABASE")
            .await
            .as_deref(),
        Some("tenant-a"),
        "the format of spec.connectionSecret"
    );
    databases(&h)
        .delete("tenant-a-login", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&databases(&h), "tenant-a-login").await;

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
    // tenant-a, tenant-a-app-db (made before its userRef was found wrong,
    // deleted with it) and lonely's refused one: one each, none repeated.
    assert_eq!(database_posts(&h), 3);
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

fn backup(name: &str, db: &str) -> serde_json::Value {
    json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraDatabaseBackup",
        "metadata": {"name": name},
        "spec": {"databaseRef": {"name": db}},
    })
}

fn restore(name: &str, db: &str, backup: &str) -> serde_json::Value {
    json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraDatabaseRestore",
        "metadata": {"name": name},
        "spec": {"databaseRef": {"name": db}, "backupRef": {"name": backup}},
    })
}

fn count(h: &Harness, route: &str) -> u64 {
    h.sim
        .state()
        .counters()
        .by_route
        .get(route)
        .copied()
        .unwrap_or(0)
}

/// The multi-database AuraInstance `tenants` with the AuraDatabase
/// `tenant-a`, both Ready: the instance's and the database's Aura ids.
async fn tenants_with_tenant_a(h: &Harness) -> (String, String) {
    objects::create(
        &h.instances(),
        instance("tenants").spec(json!({"multiDatabase": true})),
    )
    .await;
    let tenants = instance_id(&h.wait_ready("tenants").await);
    objects::create(&databases(h), database("tenant-a", "tenants", "tenant-a")).await;
    let db = objects::wait_ready(&databases(h), "tenant-a").await;
    (tenants, db.status.unwrap().database_id.unwrap())
}

const BACKUPS: &str = "POST /v2beta1/organizations/{org_id}/projects/{project_id}/instances/{instance_id}/databases/{database_id}/backups";

/// A backup taken and followed to Completed; a restore from it Submitted
/// (never called done) and sent once; an operator killed after a backup's
/// create and after a restore's: one backup found again, and a restore
/// whose answer was lost shown Failed and never sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_taken_once_and_a_restore_is_sent_at_most_once() {
    use aura_operator::api::{AuraDatabaseBackup, AuraDatabaseRestore, DatabaseRestorePhase};
    let mut h = Harness::start("multidb-backup", |c| c.database_backup_seconds = Some(1.0)).await;
    h.start_operator();
    let (tenants, db_id) = tenants_with_tenant_a(&h).await;
    let backups: Api<AuraDatabaseBackup> = h.api();
    let restores: Api<AuraDatabaseRestore> = h.api();

    objects::create(&backups, backup("nightly", "tenant-a")).await;
    let done = objects::wait_ready(&backups, "nightly").await;
    let status = done.status.unwrap();
    assert_eq!(status.aura_status.as_deref(), Some("Completed"));
    let in_aura = h.sim.state().database_backups(&tenants, &db_id);
    assert_eq!(in_aura.len(), 1);
    assert_eq!(status.backup_id.as_deref(), Some(in_aura[0].id.as_str()));

    objects::create(&restores, restore("rollback", "tenant-a", "nightly")).await;
    let submitted = objects::wait_ready(&restores, "rollback").await;
    let (_, reason, _) = condition(&submitted, "Ready").unwrap();
    assert_eq!(reason, "Submitted", "never more than Aura says");
    assert_eq!(
        submitted.status.unwrap().phase,
        Some(DatabaseRestorePhase::Submitted)
    );
    let sent = h.sim.state().database_restores(&tenants);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].database_id.as_str(), sent[0].backup_id.as_str()),
        (db_id.as_str(), in_aura[0].id.as_str())
    );

    // Killed after the backup's create reached Aura: found again, not taken twice.
    let log = h.operator.take().unwrap().kill().await;
    h.assert_log_clean(&log);
    h.start_operator_env(&[], &[("AURA_FAILPOINT", "database-backup-answered")]);
    objects::create(&backups, backup("second", "tenant-a")).await;
    let mut operator = h.operator.take().unwrap();
    assert!(
        !operator.ended(WAIT).await.success(),
        "aborted at the failpoint"
    );
    h.start_operator();
    let second = objects::wait_ready(&backups, "second").await;
    let in_aura = h.sim.state().database_backups(&tenants, &db_id);
    assert_eq!(in_aura.len(), 2, "{in_aura:?}");
    assert_eq!(count(&h, BACKUPS), 2, "one create per object");
    let second_id = second.status.unwrap().backup_id.unwrap();
    assert_ne!(
        Some(second_id),
        status.backup_id,
        "its own backup, not the first one"
    );

    // Killed after the restore reached Aura: Failed, never sent again.
    let log = h.operator.take().unwrap().kill().await;
    h.assert_log_clean(&log);
    h.start_operator_env(&[], &[("AURA_FAILPOINT", "database-restore-answered")]);
    objects::create(&restores, restore("again", "tenant-a", "second")).await;
    let mut operator = h.operator.take().unwrap();
    assert!(
        !operator.ended(WAIT).await.success(),
        "aborted at the failpoint"
    );
    assert_eq!(h.sim.state().database_restores(&tenants).len(), 2);
    h.start_operator();
    let lost = objects::wait_for(&restores, "again", "OutcomeUnknown", |r| {
        stalled_reason(r).as_deref() == Some("OutcomeUnknown")
    })
    .await;
    assert_eq!(
        lost.status.unwrap().phase,
        Some(DatabaseRestorePhase::Failed)
    );
    objects::annotate(&restores, "again", "test/poke", "1").await;
    objects::annotate(&restores, "rollback", "test/poke", "1").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        h.sim.state().database_restores(&tenants).len(),
        2,
        "neither restore sent again"
    );

    // A backup id of another database is never handed to Aura's restore.
    objects::create(&databases(&h), database("tenant-b", "tenants", "tenant-b")).await;
    objects::wait_ready(&databases(&h), "tenant-b").await;
    objects::create(&backups, backup("b-nightly", "tenant-b")).await;
    let theirs = objects::wait_ready(&backups, "b-nightly").await;
    let theirs = theirs.status.unwrap().backup_id.unwrap();
    let mut foreign = restore("foreign", "tenant-a", "unused");
    foreign["spec"] = json!({"databaseRef": {"name": "tenant-a"}, "backupId": theirs});
    objects::create(&restores, foreign).await;
    let refused = objects::wait_for(&restores, "foreign", "InvalidBackup", |r| {
        stalled_reason(r).as_deref() == Some("InvalidBackup")
    })
    .await;
    assert_eq!(
        refused.status.unwrap().phase,
        Some(DatabaseRestorePhase::Failed)
    );
    assert_eq!(
        h.sim.state().database_restores(&tenants).len(),
        2,
        "not sent"
    );
    h.assert_log_clean(&h.operator_log());
}

/// A namespace's own Aura editor (every verb on the operator's kinds in
/// namespace B, nothing on Secrets, nothing cluster-scoped): cannot grant
/// anyone console rights (the member kinds are cluster-scoped), and an
/// AuraDatabase, backup or restore of B naming A's instance and backups
/// finds nothing and sends nothing (DESIGN 4.13).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_editor_reaches_no_console_rights_and_no_other_namespaces_databases() {
    use aura_operator::api::{
        AuraDatabaseRestore, AuraOrganizationMember, AuraProjectMember, DatabaseRestorePhase,
    };
    let mut h = Harness::start("multidb-reach", |_| {}).await;
    let b = support::test_namespace(&h.client, "multidb-reach-b").await;
    support::grant_aura_rights(&h.client, &b, "intruder").await;
    let ns = h.ns.clone();
    h.start_operator_with(&["--namespace", &ns, "--namespace", &b]);
    let (tenants, a_db) = tenants_with_tenant_a(&h).await;
    let intruder = support::impersonating_client(&b, "intruder").await;

    // Console rights are cluster-scoped: a Role cannot give them.
    for (kind, err) in [
        (
            "AuraProjectMember",
            Api::<AuraProjectMember>::all(intruder.clone())
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({
                        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraProjectMember",
                        "metadata": {"name": format!("{b}-me")},
                        "spec": {"projectRef": {"name": "default"}, "email": "me@example.com", "role": "project-admin"},
                    }))
                    .unwrap(),
                )
                .await
                .map(drop),
        ),
        (
            "AuraOrganizationMember",
            Api::<AuraOrganizationMember>::all(intruder.clone())
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({
                        "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraOrganizationMember",
                        "metadata": {"name": format!("{b}-me")},
                        "spec": {"organizationId": "3d1a6c2e-8b4f-4e0a-9c57-1f2e3d4c5b6a", "email": "me@example.com", "role": "organization-owner"},
                    }))
                    .unwrap(),
                )
                .await
                .map(drop),
        ),
    ] {
        match err {
            Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{kind}: {s:?}"),
            other => panic!("{kind}: a namespace editor was not refused: {other:?}"),
        }
    }

    // B's objects name A's instance and A's database's backup: nothing there.
    let b_databases: Api<AuraDatabase> = Api::namespaced(intruder.clone(), &b);
    b_databases
        .create(
            &PostParams::default(),
            &serde_json::from_value(database("steal", "tenants", "stolen")).unwrap(),
        )
        .await
        .unwrap();
    let backups_before = h.sim.state().database_backups(&tenants, &a_db).len();
    let mut theirs = restore("overwrite", "tenant-a", "unused");
    theirs["spec"] = json!({"databaseRef": {"name": "tenant-a"}, "backupId": "any"});
    let b_restores: Api<AuraDatabaseRestore> = Api::namespaced(intruder.clone(), &b);
    b_restores
        .create(
            &PostParams::default(),
            &serde_json::from_value(theirs).unwrap(),
        )
        .await
        .unwrap();
    let admin_databases: Api<AuraDatabase> = Api::namespaced(h.client.clone(), &b);
    let waiting = objects::wait_for(&admin_databases, "steal", "WaitingForInstance", |d| {
        objects::reconciling_reason(d).as_deref() == Some("WaitingForInstance")
    })
    .await;
    let (_, _, message) = condition(&waiting, "Ready").unwrap();
    assert!(
        message.contains("does not exist in this namespace"),
        "{message}"
    );
    let admin_restores: Api<AuraDatabaseRestore> = Api::namespaced(h.client.clone(), &b);
    let restore_waits =
        objects::wait_for(&admin_restores, "overwrite", "WaitingForDatabase", |r| {
            objects::reconciling_reason(r).as_deref() == Some("WaitingForDatabase")
        })
        .await;
    assert_ne!(
        restore_waits.status.unwrap().phase,
        Some(DatabaseRestorePhase::Submitted)
    );
    assert_eq!(
        in_aura(&h, &tenants),
        vec!["neo4j".to_string(), "tenant-a".to_string()]
    );
    assert!(
        h.sim.state().database_restores(&tenants).is_empty(),
        "nothing restored"
    );
    assert_eq!(
        h.sim.state().database_backups(&tenants, &a_db).len(),
        backups_before
    );
    // The intruder cannot read the Secrets either way.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(intruder, &b);
    assert!(secrets.list(&Default::default()).await.is_err());
    h.assert_log_clean(&h.operator_log());
}

//! AuraDatabaseUser on a real control plane, the databases played by the
//! simulator's Query API: a login per application, rotated three times while
//! a Pod-shaped reader logs in with the Secret every 100 ms (never a failed
//! login), one owner per user name, strangers refused or adopted, roles
//! refused without a call where the tier has none, and deletion (of the
//! object, and of the whole namespace) that never sticks.
//!
//! How the kind keeps DESIGN §4: one owner (a user name is recorded in the
//! object's status before the statement that makes it; a second object
//! naming it stalls UserExists and changes nothing); no cross-namespace data
//! (an AuraDatabaseUser names an AuraInstance of its own namespace only, and
//! the instance must hold its claim); bounded work (one step per pass, a
//! settled user is looked at every ten minutes).

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aura_operator::api::AuraDatabaseUser;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use support::fixtures::database_user;
use support::harness::*;
use support::objects::{self, condition, stalled_reason};
use support::{WAIT, eventually};

fn users(h: &Harness) -> Api<AuraDatabaseUser> {
    h.api()
}

/// (username, password) of a Secret.
async fn login_of(h: &Harness, secret: &str) -> Option<(String, String)> {
    Some((
        h.secret_value(secret, "NEO4J_USERNAME").await?,
        h.secret_value(secret, "NEO4J_PASSWORD").await?,
    ))
}

/// Logs in as a Pod would: through the database's Query API over HTTP.
async fn logs_in(http: &reqwest::Client, url: &str, user: &str, password: &str) -> bool {
    http.post(url)
        .basic_auth(user, Some(password))
        .json(&json!({"statement": "RETURN 1"}))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

fn query_url(h: &Harness, id: &str) -> String {
    query_api_url(&h.sim.base_url())
        .replace("{host}", &format!("{id}.databases.neo4j.io"))
        .replace("{database}", "neo4j")
}

fn rotations(u: &AuraDatabaseUser) -> u32 {
    u.status.as_ref().map_or(0, |s| s.rotations)
}

fn settled(u: &AuraDatabaseUser) -> bool {
    objects::is_true(u, "Ready") && u.status.as_ref().is_some_and(|s| s.retiring.is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_of_its_own_rotates_three_times_without_a_failed_login() {
    let mut h = Harness::start("dbuser-rotate", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);

    objects::create(
        &users(&h),
        database_user("orders-api")
            .of("db")
            .spec(json!({"roles": ["reader"], "rotation": {"gracePeriod": "3s"}})),
    )
    .await;
    let ready = objects::wait_ready(&users(&h), "orders-api").await;
    let status = ready.status.clone().unwrap();
    assert_eq!(status.username.as_deref(), Some("orders_api"));
    assert_eq!(status.instance_id.as_deref(), Some(id.as_str()));
    let (name, password) = login_of(&h, "orders-api-db").await.expect("the Secret");
    assert_eq!(name, "orders_api");
    assert!(
        password.len() >= 32,
        "a generated password of {} chars",
        password.len()
    );
    assert!(h.sim.state().database_login_works(&id, &name, &password));
    assert!(
        !serde_json::to_string(&ready).unwrap().contains(&password),
        "the password is in the object"
    );
    let listed = h.sim.state().database_users(&id);
    let roles = listed
        .iter()
        .find(|(u, _)| u == "orders_api")
        .and_then(|(_, r)| r.clone())
        .unwrap_or_default();
    assert!(roles.contains(&"reader".to_string()), "{listed:?}");

    // A Pod-shaped reader: reads the Secret and logs in, every 100 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let (tries, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = {
        let (stop, tries, failures) = (stop.clone(), tries.clone(), failures.clone());
        let secrets = h.secrets();
        let url = query_url(&h, &id);
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let secret = secrets.get("orders-api-db").await.expect("the Secret");
                let read = |k: &str| {
                    aura_operator::kinds::instance::secret::read_key(&secret, k).unwrap_or_default()
                };
                let ok = logs_in(
                    &http,
                    &url,
                    &read("NEO4J_USERNAME"),
                    &read("NEO4J_PASSWORD"),
                )
                .await;
                tries.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let mut previous = (name, password);
    for round in 1..=3u32 {
        users(&h)
            .patch(
                "orders-api",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {"aura-operator.io/rotate": round.to_string()}}})),
            )
            .await
            .unwrap();
        objects::wait_for(&users(&h), "orders-api", "rotated", |u| {
            rotations(u) == round
        })
        .await;
        let now = login_of(&h, "orders-api-db").await.unwrap();
        assert_ne!(
            now.0, previous.0,
            "round {round}: the Secret moved to the other user"
        );
        assert!(
            h.sim
                .state()
                .database_login_works(&id, &previous.0, &previous.1),
            "round {round}: the previous login works during its grace period"
        );
        objects::wait_for(
            &users(&h),
            "orders-api",
            "the previous login retired",
            settled,
        )
        .await;
        assert!(
            !h.sim
                .state()
                .database_login_works(&id, &previous.0, &previous.1),
            "round {round}: the previous login ends after its grace period"
        );
        assert!(h.sim.state().database_login_works(&id, &now.0, &now.1));
        previous = now;
    }
    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    let (tries, failures) = (
        tries.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
    );
    eprintln!("database_users: {tries} logins through three rotations, {failures} failed");
    assert!(tries > 30, "the reader ran ({tries} logins)");
    assert_eq!(failures, 0, "logins failed during rotations");

    let events = h.events("orders-api").await;
    assert!(
        events.iter().filter(|e| e.1 == "PasswordRotated").count() >= 1,
        "{events:?}"
    );
    let log = h.operator_log();
    h.assert_log_clean(&log);
    assert!(
        !log.contains(&previous.1),
        "a user's password is in the log"
    );

    // Delete: the users this object made are dropped, the Secret goes with it.
    users(&h)
        .delete("orders-api", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&users(&h), "orders-api").await;
    let left: Vec<String> = h
        .sim
        .state()
        .database_users(&id)
        .into_iter()
        .map(|(u, _)| u)
        .filter(|u| u.starts_with("orders_api"))
        .collect();
    assert!(left.is_empty(), "dropped: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_per_user_and_strangers_are_refused_or_adopted() {
    let mut h = Harness::start("dbuser-owner", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    h.create(manifest("pro", json!({"type": "professional-db"})))
        .await;
    let id = instance_id(&h.wait_ready("db").await);
    let pro = instance_id(&h.wait_ready("pro").await);

    // Two objects, one user name: the second stalls, the first is untouched.
    objects::create(
        &users(&h),
        database_user("first")
            .of("db")
            .spec(json!({"username": "shared"})),
    )
    .await;
    objects::wait_ready(&users(&h), "first").await;
    let before = login_of(&h, "first-db").await.unwrap();
    objects::create(
        &users(&h),
        database_user("second")
            .of("db")
            .spec(json!({"username": "shared"})),
    )
    .await;
    let second = objects::wait_for(&users(&h), "second", "Stalled", |u| {
        stalled_reason(u).is_some()
    })
    .await;
    assert_eq!(stalled_reason(&second).as_deref(), Some("UserExists"));
    assert!(
        second.status.unwrap().users.is_empty(),
        "it recorded nothing"
    );
    assert!(h.secrets().get_opt("second-db").await.unwrap().is_none());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(login_of(&h, "first-db").await.unwrap(), before);
    assert!(
        h.sim
            .state()
            .database_login_works(&id, &before.0, &before.1)
    );

    // A user made by someone else: refused, then adopted when asked.
    let admin = (
        h.secret_value("db-connection", "NEO4J_USERNAME")
            .await
            .unwrap(),
        h.secret_value("db-connection", "NEO4J_PASSWORD")
            .await
            .unwrap(),
    );
    let made = reqwest::Client::new()
        .post(query_url(&h, &id).replace("/db/neo4j/", "/db/system/"))
        .basic_auth(&admin.0, Some(&admin.1))
        .json(
            &json!({"statement": "CREATE USER $name SET PASSWORD $password CHANGE NOT REQUIRED",
                      "parameters": {"name": "legacy", "password": "made-by-hand"}}),
        )
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.text().await.unwrap());
    objects::create(&users(&h), database_user("legacy").of("db").spec(json!({}))).await;
    let refused = objects::wait_for(&users(&h), "legacy", "Stalled", |u| {
        stalled_reason(u).is_some()
    })
    .await;
    assert_eq!(stalled_reason(&refused).as_deref(), Some("UserExists"));
    assert!(
        h.sim
            .state()
            .database_login_works(&id, "legacy", "made-by-hand")
    );
    users(&h)
        .patch(
            "legacy",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"adopt": true}})),
        )
        .await
        .unwrap();
    let adopted = objects::wait_ready(&users(&h), "legacy").await;
    assert_eq!(adopted.status.unwrap().adopted, vec!["legacy".to_string()]);
    assert!(
        !h.sim
            .state()
            .database_login_works(&id, "legacy", "made-by-hand")
    );
    // Deleting drops only what the object made: the adopted user stays.
    users(&h)
        .delete("legacy", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&users(&h), "legacy").await;
    assert!(
        h.sim
            .state()
            .database_users(&id)
            .iter()
            .any(|(u, _)| u == "legacy"),
        "the adopted user was kept"
    );

    // The admin login is never taken over, even when asked to adopt it.
    objects::create(
        &users(&h),
        database_user("takeover")
            .of("db")
            .spec(json!({"username": "neo4j", "adopt": true})),
    )
    .await;
    let takeover = objects::wait_for(&users(&h), "takeover", "Stalled", |u| {
        stalled_reason(u).is_some()
    })
    .await;
    assert_eq!(stalled_reason(&takeover).as_deref(), Some("UserExists"));
    assert!(
        h.sim.state().database_login_works(&id, &admin.0, &admin.1),
        "the admin password is unchanged"
    );
    assert!(h.secrets().get_opt("takeover-db").await.unwrap().is_none());

    // Roles where the tier has none: stalled, and the database never asked.
    let asked = h.sim.state().query_api_statements(&pro);
    objects::create(
        &users(&h),
        database_user("reporting")
            .of("pro")
            .spec(json!({"roles": ["reader"]})),
    )
    .await;
    let stalled = objects::wait_for(&users(&h), "reporting", "Stalled", |u| {
        stalled_reason(u).is_some()
    })
    .await;
    assert_eq!(
        stalled_reason(&stalled).as_deref(),
        Some("RolesNotSupported")
    );
    let message = condition(&stalled, "Stalled").unwrap().2;
    assert!(message.contains("spec.roles"), "{message}");
    assert_eq!(
        h.sim.state().query_api_statements(&pro),
        asked,
        "a statement was sent"
    );
    assert!(asked.is_empty(), "{asked:?}");
    assert!(
        h.sim
            .state()
            .database_users(&pro)
            .iter()
            .all(|(u, _)| u != "reporting")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_namespace_never_sticks_on_its_users() {
    let mut h = Harness::start("dbuser-ns", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);
    for name in ["app-one", "app-two"] {
        objects::create(&users(&h), database_user(name).of("db")).await;
    }
    for name in ["app-one", "app-two"] {
        objects::wait_ready(&users(&h), name).await;
    }
    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    namespaces
        .delete(&h.ns, &DeleteParams::default())
        .await
        .unwrap();
    eventually("the namespace to go", WAIT * 2, || {
        let namespaces = namespaces.clone();
        let ns = h.ns.clone();
        async move { matches!(namespaces.get_opt(&ns).await, Ok(None)).then_some(()) }
    })
    .await;
    assert!(h.sim.state().instance(&id).is_none(), "{id} still billed");
}

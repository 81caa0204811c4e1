//! AuraGraphAnalyticsSession on a real control plane, Aura played by the
//! simulator: an attached session waits for its instance, then runs, and its
//! Secret carries the session's host with the instance's login; one that
//! Aura ends is Expired (a stall) or started again (recreateOnExpiry); a
//! standalone one is sized by Aura; a name Aura knows with other parameters
//! stalls SessionConflict; deleting the object deletes the session.
//!
//! How the kind keeps DESIGN §4: one owner (the session's Aura name is
//! <namespace>-<name>, so no two objects of the cluster get or create the
//! same one); no cross-namespace data (instanceRef names an AuraInstance of
//! the namespace, which must hold its claim, `kinds::shared::target`);
//! bounded work (a Ready session is looked at by its expiry, at most every
//! five minutes).

use crate::support;

use aura_operator::api::AuraGraphAnalyticsSession;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

use support::fixtures::session;
use support::harness::*;
use support::objects::{self, condition, stalled_reason};
use support::{WAIT, eventually};

fn sessions(h: &Harness) -> Api<AuraGraphAnalyticsSession> {
    h.api()
}

fn id_of(s: &AuraGraphAnalyticsSession) -> String {
    s.status
        .as_ref()
        .and_then(|s| s.id.clone())
        .expect("a session id")
}

/// The simulator's session of that id, if it still has one.
fn aura_session(h: &Harness, id: &str) -> Option<aura_operator::simulator::SessionView> {
    h.sim.state().sessions().into_iter().find(|s| s.id == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_session_runs_with_its_instance_and_ends_with_its_object() {
    let mut h = Harness::start("session-attached", |_| {}).await;
    h.start_operator();
    objects::create(&sessions(&h), session("analysis", "db")).await;
    objects::wait_for(&sessions(&h), "analysis", "WaitingForInstance", |s| {
        objects::reconciling_reason(s).as_deref() == Some("WaitingForInstance")
    })
    .await;
    assert!(h.sim.state().sessions().is_empty(), "nothing made yet");

    h.create(manifest("db", json!({}))).await;
    let instance = instance_id(&h.wait_ready("db").await);
    let ready = objects::wait_ready(&sessions(&h), "analysis").await;
    let status = ready.status.clone().unwrap();
    let id = id_of(&ready);
    assert_eq!(status.instance_id.as_deref(), Some(instance.as_str()));
    assert_eq!(status.memory.as_deref(), Some("8GB"));
    assert_eq!(status.name, Some(format!("{}-analysis", h.ns)));
    let aura = aura_session(&h, &id).expect("the session in Aura");
    assert_eq!(aura.instance_id.as_deref(), Some(instance.as_str()));
    assert_eq!(status.host.as_deref(), Some(aura.host.as_str()));

    // The Secret: the session's host and the instance's login.
    assert_eq!(
        h.secret_value("analysis-session", "SESSION_HOST").await,
        Some(aura.host.clone())
    );
    assert_eq!(
        h.secret_value("analysis-session", "NEO4J_PASSWORD").await,
        h.secret_value("db-connection", "NEO4J_PASSWORD").await
    );
    assert!(
        h.secret_value("analysis-session", "NEO4J_PASSWORD")
            .await
            .is_some()
    );

    // Aura ends it: without recreateOnExpiry the object stalls, once.
    assert!(h.sim.state().expire_session(&id));
    objects::annotate(
        &sessions(&h),
        "analysis",
        "aura-operator.io/reconcile-requested-at",
        "1",
    )
    .await;
    let expired = objects::wait_for(&sessions(&h), "analysis", "Expired", |s| {
        stalled_reason(s).as_deref() == Some("Expired")
    })
    .await;
    assert!(!objects::is_true(&expired, "Ready"));

    // Deleting the object deletes the session.
    sessions(&h)
        .delete("analysis", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&sessions(&h), "analysis").await;
    assert!(aura_session(&h, &id).is_none(), "the session was deleted");
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_session_is_sized_by_aura_started_again_after_it_ends_and_a_clash_stalls() {
    let mut h = Harness::start("session-alone", |_| {}).await;
    h.start_operator();
    let sized = session("graph", "unused").standalone().spec(json!({
        "memory": null, "recreateOnExpiry": true, "ttl": "1h",
        "sizing": {"nodeCount": 1_000_000, "relationshipCount": 5_000_000,
                   "algorithmCategories": ["centrality"]},
    }));
    objects::create(&sessions(&h), sized).await;
    let ready = objects::wait_ready(&sessions(&h), "graph").await;
    let status = ready.status.clone().unwrap();
    let sizing = status.sizing.clone().expect("Aura's sizing in status");
    assert_eq!(
        status.memory.as_deref(),
        Some(sizing.recommended_size.as_str())
    );
    assert!(status.instance_id.is_none());
    let first = id_of(&ready);

    // Ended by Aura: a new session, counted, and Ready again.
    assert!(h.sim.state().expire_session(&first));
    objects::annotate(
        &sessions(&h),
        "graph",
        "aura-operator.io/reconcile-requested-at",
        "1",
    )
    .await;
    let again = objects::wait_for(&sessions(&h), "graph", "a second session", |s| {
        objects::is_true(s, "Ready") && s.status.as_ref().is_some_and(|st| st.recreations == 1)
    })
    .await;
    assert_ne!(id_of(&again), first);
    h.wait_event("graph", "SessionRecreated").await;

    // A session of the same Aura name with other parameters: a stall.
    let clash_name = format!("{}-clash", h.ns);
    let token: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", h.sim.base_url()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let made = reqwest::Client::new()
        .post(format!("{}/v1/graph-analytics/sessions", h.sim.base_url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(
            &json!({"name": clash_name, "memory": "4GB", "tenant_id": TENANT_B,
                      "cloud_provider": "gcp", "region": "europe-west1"}),
        )
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    objects::create(&sessions(&h), session("clash", "unused").standalone()).await;
    let stalled = objects::wait_for(&sessions(&h), "clash", "SessionConflict", |s| {
        stalled_reason(s).as_deref() == Some("SessionConflict")
    })
    .await;
    let message = condition(&stalled, "Stalled").unwrap().2;
    assert!(message.contains("4GB"), "Aura's words: {message}");
    for name in ["graph", "clash"] {
        sessions(&h)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    for name in ["graph", "clash"] {
        eventually("the session object to go", WAIT, || {
            let api = sessions(&h);
            async move { api.get_opt(name).await.ok()?.is_none().then_some(()) }
        })
        .await;
    }
    h.assert_log_clean(&h.operator_log());
}

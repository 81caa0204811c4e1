//! The registry of tokens and limiters; calls against the in-process simulator.
use super::*;

fn clients() -> AuraClients {
    AuraClients::new(ClientConfig::default())
}

fn creds(id: &str, secret: &str) -> Credentials {
    Credentials::new(id, secret)
}

#[test]
fn a_rotated_secret_replaces_the_token_cache_and_keeps_the_limiter() {
    let clients = clients();
    let first = clients.client(&creds("id-a", "secret-0"));
    let mut held = vec![];
    for n in 1..=3 {
        held.push(clients.client(&creds("id-a", &format!("secret-{n}"))));
    }
    assert_eq!(clients.registry_sizes(), (1, 1));
    let current = clients.client(&creds("id-a", "secret-3"));
    let last = held.last().unwrap();
    // One limiter per client id, across every secret it had.
    for h in held.iter().chain([&first, &current]) {
        assert!(Arc::ptr_eq(&h.limiter, &first.limiter));
    }
    // The current secret's cache is shared; replaced ones live on in
    // the handles that hold them.
    assert!(Arc::ptr_eq(&current.tokens, &last.tokens));
    assert!(!Arc::ptr_eq(&current.tokens, &first.tokens));
    assert_eq!(first.creds.client_secret, "secret-0");
    // The hourly token budget is the client id's, across secrets.
    assert!(current.tokens.shares_budget_with(&first.tokens));
    // Back to an old secret: a replacement again, not a second entry.
    let back = clients.client(&creds("id-a", "secret-0"));
    assert!(!Arc::ptr_eq(&back.tokens, &first.tokens));
    assert_eq!(clients.registry_sizes(), (1, 1));
}

#[test]
fn the_same_secret_shares_the_token_cache() {
    let clients = clients();
    let a = clients.client(&creds("id-a", "s"));
    let b = clients.client(&creds("id-a", "s"));
    assert!(Arc::ptr_eq(&a.tokens, &b.tokens));
    assert!(Arc::ptr_eq(&a.limiter, &b.limiter));
    assert_eq!(clients.registry_sizes(), (1, 1));
}

#[test]
fn a_forgotten_client_leaves_nothing_and_its_handles_work_on() {
    let clients = clients();
    let old = clients.client(&creds("id-a", "s"));
    clients.client(&creds("id-a", "s2"));
    clients.forget_client("id-a");
    assert_eq!(clients.registry_sizes(), (0, 0));
    // The handle keeps its own Arcs.
    assert_eq!(old.client_id(), "id-a");
    assert_eq!(Arc::strong_count(&old.limiter), 1);
    // Forgetting twice, or an id never seen, is harmless.
    clients.forget_client("id-a");
    clients.forget_client("never-seen");
    assert_eq!(clients.registry_sizes(), (0, 0));
    // A later handle gets fresh ones.
    let fresh = clients.client(&creds("id-a", "s"));
    assert!(!Arc::ptr_eq(&fresh.limiter, &old.limiter));
    assert!(!Arc::ptr_eq(&fresh.tokens, &old.tokens));
    assert!(!fresh.tokens.shares_budget_with(&old.tokens));
    assert_eq!(clients.registry_sizes(), (1, 1));
}

#[test]
fn forgetting_one_client_id_keeps_the_others() {
    let clients = clients();
    let a = clients.client(&creds("id-a", "sa"));
    let b = clients.client(&creds("id-b", "sb"));
    assert_eq!(clients.registry_sizes(), (2, 2));
    clients.forget_client("id-a");
    assert_eq!(clients.registry_sizes(), (1, 1));
    let b2 = clients.client(&creds("id-b", "sb"));
    assert!(Arc::ptr_eq(&b.tokens, &b2.tokens));
    assert!(Arc::ptr_eq(&b.limiter, &b2.limiter));
    assert_eq!(clients.registry_sizes(), (1, 1));
    let a2 = clients.client(&creds("id-a", "sa"));
    assert!(!Arc::ptr_eq(&a.limiter, &a2.limiter));
    assert_eq!(clients.registry_sizes(), (2, 2));
}

/// A running in-process simulator with the demo client, and a client for it.
async fn simulator() -> (crate::simulator::Simulator, AuraClients, AuraClient) {
    use crate::simulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Simulator, SimulatorConfig};
    let sim = Simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        transition_seconds: 0.1,
        create_seconds: 0.1,
        ..SimulatorConfig::default()
    })
    .await
    .expect("start the simulator");
    let clients = AuraClients::new(ClientConfig {
        base_url: sim.base_url(),
        ..ClientConfig::default()
    });
    let client = clients.client(&creds(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET));
    (sim, clients, client)
}

fn create_body(name: &str) -> super::super::model::CreateInstanceRequest {
    super::super::model::CreateInstanceRequest {
        version: "5".into(),
        region: "europe-west1".into(),
        memory: "4GB".into(),
        name: name.into(),
        instance_type: "professional-db".into(),
        tenant_id: crate::simulator::DEMO_TENANT_ID.into(),
        cloud_provider: "gcp".into(),
        storage: None,
        vector_optimized: None,
        graph_analytics_plugin: None,
        customer_managed_key_id: None,
        source_instance_id: None,
        source_snapshot_id: None,
    }
}

/// The client's own tests vouch for their ids (no claims here).
fn r(id: &str) -> crate::aura::Reachable {
    crate::aura::Reachable::vouched(id)
}

async fn completed_snapshot(c: &AuraClient, id: &str) -> String {
    let id = &r(id);
    let sid = c.create_snapshot(id).await.unwrap().snapshot_id.unwrap();
    for _ in 0..100 {
        let s = c.get_snapshot(id, &sid).await.unwrap();
        if s.status.as_deref() == Some("Completed") {
            return sid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("snapshot {sid} never completed");
}

async fn settled(sim: &crate::simulator::Simulator, id: &str) {
    for _ in 0..250 {
        if sim.state().instance(id).is_some_and(|i| !i.busy) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id} stayed busy");
}

#[tokio::test]
async fn overwrite_sends_the_sources_once() {
    use crate::simulator::LineageEvent;
    let (sim, _clients, c) = simulator().await;
    let st = sim.state();
    let source = st
        .console_create(&create_body("source"))
        .unwrap()
        .instance
        .id;
    let target = st
        .console_create(&create_body("target"))
        .unwrap()
        .instance
        .id;
    let sid = completed_snapshot(&c, &source).await;
    let captured = st.lineage(&source).unwrap().data_version;
    st.write(&source).unwrap();
    // Long enough for the second call to find the target still overwriting.
    st.set_timings(crate::simulator::Timings {
        overwrite: 1.0,
        ..st.timings()
    });

    c.overwrite_instance(&r(&target), &r(&source), None)
        .await
        .unwrap();
    let l = st.lineage(&target).unwrap();
    assert_eq!(l.data_version, st.lineage(&source).unwrap().data_version);
    let last = l.history.last().unwrap();
    assert_eq!(last.event, LineageEvent::Overwrite);
    assert_eq!(last.source_snapshot_id, None);

    // Busy: a 409, and no second attempt.
    let before = st.counters().by_route["POST /v1/instances/{id}/overwrite"];
    let e = c
        .overwrite_instance(&r(&target), &r(&source), Some(&sid))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    assert_eq!(
        st.counters().by_route["POST /v1/instances/{id}/overwrite"],
        before + 1
    );

    settled(&sim, &target).await;
    c.overwrite_instance(&r(&target), &r(&source), Some(&sid))
        .await
        .unwrap();
    let l = st.lineage(&target).unwrap();
    assert_eq!(l.data_version, captured);
    assert_eq!(
        l.history.last().unwrap().source_snapshot_id.as_deref(),
        Some(sid.as_str())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_clone_carries_its_sources() {
    let (sim, _clients, c) = simulator().await;
    let st = sim.state();
    let source = st
        .console_create(&create_body("source"))
        .unwrap()
        .instance
        .id;
    let sid = completed_snapshot(&c, &source).await;
    let mut req = create_body("clone");
    req.source_instance_id = Some(source.clone());
    req.source_snapshot_id = Some(sid.clone());
    let created = c.create_instance(&req).await.unwrap();
    let sent = st.recent_creates().pop().unwrap();
    assert_eq!(sent.instance_id.as_deref(), Some(created.id.as_str()));
    assert_eq!(sent.body["source_instance_id"], source.as_str());
    assert_eq!(sent.body["source_snapshot_id"], sid.as_str());
    // Not exportable: refused, nothing created.
    st.set_instance_snapshots_exportable(&source, Some(false))
        .unwrap();
    let e = c.create_instance(&req).await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert_eq!(e.reason(), Some("snapshot-not-exportable"), "{e}");
    assert_eq!(st.instances().len(), 2);
    sim.shutdown().await;
}

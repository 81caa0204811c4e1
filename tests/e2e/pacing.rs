//! Issue 19: polls that land when a creation is likely over. A fleet applied
//! at once is polled about once per instance (one instance leads and polls
//! for all; the others are woken at their own expected end), and each
//! instance's id reaches status in the same write as Ready (real control
//! plane, simulator for Aura).

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use serde_json::json;

use support::harness::*;

const FLEET: usize = 20;

/// Each object's distinct (has an id, Ready) states, in the order seen.
type Histories = std::sync::Arc<std::sync::Mutex<HashMap<String, Vec<(bool, String)>>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_created_at_once_is_polled_about_once_per_instance() {
    // Creation takes 4 s; at a 2 s poll interval each instance used to be
    // polled two or three times before it ran (40 to 60 GETs for the fleet).
    let mut h = Harness::start("pacing", |c| c.create_seconds = 4.0).await;
    h.start_operator_with(&["--poll-interval", "2s"]);

    // Every status each object goes through, as the watch sees them.
    let seen: Histories = Default::default();
    let record = seen.clone();
    let stream = watcher(h.instances(), watcher::Config::default()).applied_objects();
    let watching = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(Ok(o)) = stream.next().await {
            let name = o.metadata.name.clone().unwrap_or_default();
            let Some(s) = o.status.clone() else { continue };
            let ready = condition(&o, "Ready").map(|c| c.0).unwrap_or_default();
            let entry = (s.instance_id.is_some(), ready);
            let mut seen = record.lock().unwrap();
            let history = seen.entry(name).or_default();
            if history.last() != Some(&entry) {
                history.push(entry);
            }
        }
    });

    for i in 0..FLEET {
        h.create(manifest(&format!("db-{i:02}"), json!({}))).await;
    }
    for i in 0..FLEET {
        h.wait_ready(&format!("db-{i:02}")).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    watching.abort();

    let counters = h.sim.state().counters();
    let gets = counters
        .by_route
        .get("GET /v1/instances/{id}")
        .copied()
        .unwrap_or(0);
    let creates = counters
        .by_route
        .get("POST /v1/instances")
        .copied()
        .unwrap_or(0);
    assert_eq!(creates, FLEET as u64, "one create per object");
    // One GET each, plus the lead's own polls (every second for about 4 s)
    // and a few to spare.
    assert!(
        (FLEET as u64..=FLEET as u64 + 12).contains(&gets),
        "{gets} GETs for {FLEET} instances created at once"
    );

    // The id comes with the first poll: most objects get it in their Ready
    // write (before, all got it at the create). Those polled while still
    // creating (the leads, which poll early on purpose) get it before.
    let seen = seen.lock().unwrap();
    let id_before_ready: Vec<&String> = seen
        .iter()
        .filter(|(_, history)| history.iter().any(|(id, ready)| *id && ready != "True"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        id_before_ready.len() <= FLEET / 2,
        "objects that got their id in a write before Ready: {id_before_ready:?} ({seen:?})"
    );
    for (name, history) in seen.iter() {
        assert_eq!(
            history.last(),
            Some(&(true, "True".to_string())),
            "{name} ends Ready with its id"
        );
    }
    h.assert_log_clean(&h.operator_log());
}

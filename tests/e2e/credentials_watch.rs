//! DESIGN 4.6: credential Secrets are watched through the objects that name
//! them, one metadata watch per named Secret, never a watch of every Secret.
//! On the real control plane with the simulator; the apiserver's own gauge of
//! open watches tells how many Secret watches the operator holds.

use crate::support;

use std::time::Duration;

use kube::api::DeleteParams;
use serde_json::json;

use support::eventually;
use support::harness::*;

/// Open WATCH requests on Secrets in a namespace, as the apiserver counts them.
async fn secret_watches(h: &Harness) -> u64 {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("a metrics request");
    let text = h
        .client
        .request_text(request)
        .await
        .expect("the apiserver's metrics");
    text.lines()
        .filter(|l| l.starts_with("apiserver_longrunning_requests{"))
        .filter(|l| {
            l.contains("resource=\"secrets\"")
                && l.contains("verb=\"WATCH\"")
                // A watch of one named Secret counts as a "resource" scope.
                && (l.contains("scope=\"namespace\"") || l.contains("scope=\"resource\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

async fn wait_watches(h: &Harness, what: &str, want: u64) {
    eventually(what, Duration::from_secs(30), || async move {
        (secret_watches(h).await == want).then_some(())
    })
    .await;
}

/// A stalled object wakes when the Secret it names appears (with a resync far
/// away, only a watch of that Secret can tell); the operator holds three
/// watches for its own Secrets (the AuraInstances' connection Secrets; the
/// AuraDatabaseUsers' and the AuraGraphAnalyticsSessions', metadata only)
/// plus one per credentials Secret named, and lets go of a Secret's watch
/// when nothing names it any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_watched_through_the_objects_that_name_them() {
    // It counts the apiserver's open watches of Secrets, of every operator
    // running: no other may run meanwhile.
    let mut h = Harness::start_exclusive("cred-watch", |_| {}).await;
    // Secrets that nothing names: never watched.
    for i in 0..5 {
        h.put_credentials(&format!("unrelated-{i}"), "nobody", "nothing")
            .await;
    }
    let before = secret_watches(&h).await;
    h.start_operator_with(&["--resync-interval", "30m"]);
    h.create(manifest(
        "late",
        json!({"credentialsSecretRef": {"name": "late-api"}}),
    ))
    .await;
    h.create(manifest("shared-a", json!({}))).await;
    h.create(manifest("shared-b", json!({}))).await;
    h.wait_for("late", "Stalled on missing credentials", |o| {
        stalled_reason(o).as_deref() == Some("CredentialsNotFound")
    })
    .await;
    h.wait_ready("shared-a").await;
    // Its own Secrets (three watches), aura-api (named twice) and late-api.
    wait_watches(&h, "one watch per named Secret", before + 5).await;

    h.put_credentials("late-api", CLIENT_ID, CLIENT_SECRET)
        .await;
    h.wait_ready("late").await;

    for name in ["shared-a", "shared-b"] {
        h.instances()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
        h.wait_gone(name).await;
    }
    wait_watches(&h, "aura-api no longer watched", before + 4).await;
    let log = h.operator_log();
    h.assert_log_clean(&log);
}

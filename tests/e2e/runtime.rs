//! Running it in production (issue 6): health and readiness, metrics, leader
//! election with takeover, graceful shutdown.

use crate::support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use serde_json::json;

use support::harness::*;
use support::{eventually, free_port};

/// (status code, body) of an admin endpoint; None while nothing listens.
async fn admin_get(port: u16, path: &str) -> Option<(u16, String)> {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    let code = resp.status().as_u16();
    Some((code, resp.text().await.ok()?))
}

/// The value of one sample line of the exposition, e.g. `aura_operator_leader`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_tell_what_happened_and_readiness_waits_for_the_watches() {
    let mut h = Harness::start("metrics", |_| {}).await;

    // An apiserver that does not answer: alive, never ready.
    let dead = support::scratch_path("dead-kubeconfig");
    std::fs::create_dir_all(dead.parent().unwrap()).unwrap();
    let real = std::fs::read_to_string(support::kubeconfig_path()).unwrap();
    let closed = free_port();
    let rewritten: String = real
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("server:") {
                format!("    server: https://127.0.0.1:{closed}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&dead, rewritten).unwrap();
    let port = free_port();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_aura-operator"));
    cmd.args([
        "run",
        "--namespace",
        &h.ns,
        "--aura-base-url",
        &h.sim.base_url(),
        "--admin-listen",
        &format!("127.0.0.1:{port}"),
    ])
    .env("KUBECONFIG", &dead)
    .stderr(std::process::Stdio::null())
    .kill_on_drop(true);
    let mut unready = cmd.spawn().unwrap();
    eventually("the admin server of the cut-off operator", WAIT, || {
        admin_get(port, "/healthz")
    })
    .await;
    for _ in 0..10 {
        assert_eq!(admin_get(port, "/healthz").await.map(|r| r.0), Some(200));
        assert_eq!(
            admin_get(port, "/readyz").await.map(|r| r.0),
            Some(503),
            "ready without synced watches"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unready.kill().await.unwrap();

    // The real thing: ready once synced, and the figures after one create.
    let port = free_port();
    let admin = format!("127.0.0.1:{port}");
    h.start_operator_with(&["--admin-listen", &admin]);
    eventually("/readyz to answer 200", WAIT, || async {
        (admin_get(port, "/readyz").await?.0 == 200).then_some(())
    })
    .await;
    h.create(manifest("db", json!({}))).await;
    h.wait_ready("db").await;
    let metrics = eventually("metrics of the Running object", WAIT, || async {
        let (_, body) = admin_get(port, "/metrics").await?;
        (sample(&body, "aura_operator_objects{phase=\"Running\"}") == Some(1.0)).then_some(body)
    })
    .await;
    let get = |series: &str| {
        sample(&metrics, series).unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    assert!(get("aura_operator_reconciles_total{result=\"ok\"}") >= 2.0);
    assert!(get("aura_operator_reconcile_duration_seconds_count") >= 2.0);
    assert_eq!(
        get("aura_operator_aura_token_requests_total"),
        1.0,
        "one token for everything"
    );
    assert_eq!(get("aura_operator_aura_rate_limited_total"), 0.0);
    assert_eq!(get("aura_operator_time_to_ready_seconds_count"), 1.0);
    let ready_after = get("aura_operator_time_to_ready_seconds_sum");
    assert!(
        ready_after > 0.0 && ready_after < 60.0,
        "time to ready {ready_after}"
    );
    assert_eq!(get("aura_operator_leader"), 1.0);
    let creates: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("aura_operator_aura_api_calls_total{")
                && l.contains("code=\"202\"")
                && l.to_lowercase().contains("create")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(creates, 1.0, "one create answered 202:\n{metrics}");
    let sim_calls = h.sim.state().counters().requests_total as f64;
    let counted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("aura_operator_aura_api_calls_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        counted + get("aura_operator_aura_token_requests_total"),
        sim_calls,
        "every call Aura saw is counted"
    );
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_acts_and_a_standby_finishes_its_create() {
    let mut h = Harness::start("leader", |c| c.create_seconds = 6.0).await;
    let lease = format!("aura-operator-{}", h.ns);
    let ns = h.ns.clone();
    let elect = |port: u16| {
        vec![
            "--leader-elect".to_string(),
            "--lease-name".into(),
            lease.clone(),
            "--lease-namespace".into(),
            ns.clone(),
            "--lease-duration".into(),
            "4s".into(),
            "--admin-listen".into(),
            format!("127.0.0.1:{port}"),
        ]
    };
    let (port_a, port_b) = (free_port(), free_port());
    let args_a = elect(port_a);
    h.start_operator_with(&args_a.iter().map(String::as_str).collect::<Vec<_>>());
    let leader = h.operator.take().unwrap();
    eventually("the first operator to lead", WAIT, || async {
        (sample(
            &admin_get(port_a, "/metrics").await?.1,
            "aura_operator_leader",
        )? == 1.0)
            .then_some(())
    })
    .await;
    let args_b = elect(port_b);
    h.start_operator_with(&args_b.iter().map(String::as_str).collect::<Vec<_>>());
    eventually("the standby to be ready", WAIT, || async {
        (admin_get(port_b, "/readyz").await?.0 == 200).then_some(())
    })
    .await;
    let standby_metrics = admin_get(port_b, "/metrics").await.unwrap().1;
    assert_eq!(sample(&standby_metrics, "aura_operator_leader"), Some(0.0));

    // The leader starts a create; it dies once the password is safe but
    // before Aura finished creating.
    h.create(manifest("db", json!({}))).await;
    let secrets = h.secrets();
    eventually("the password in the Secret", WAIT, || {
        let secrets = secrets.clone();
        async move {
            let s = secrets.get_opt("db-connection").await.ok()??;
            aura_operator::kinds::instance::secret::read_key(&s, "NEO4J_PASSWORD")
        }
    })
    .await;
    let standby_before = admin_get(port_b, "/metrics").await.unwrap().1;
    assert_eq!(
        sample(
            &standby_before,
            "aura_operator_reconciles_total{result=\"ok\"}"
        ),
        None,
        "the standby reconciled while not leading"
    );
    let leader_log = leader.kill().await;

    let obj = h.wait_ready("db").await;
    let takeover = admin_get(port_b, "/metrics").await.unwrap().1;
    assert_eq!(sample(&takeover, "aura_operator_leader"), Some(1.0));
    assert!(
        sample(&takeover, "aura_operator_reconciles_total{result=\"ok\"}").unwrap_or(0.0) >= 1.0
    );
    assert_eq!(h.sim.state().instances().len(), 1, "no duplicate instance");
    assert_eq!(h.sim.state().counters().creates_committed, 1);
    let id = obj.status.unwrap().instance_id.unwrap();
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        h.sim.state().issued_password(&id)
    );
    h.assert_log_clean(&(leader_log + &h.operator_log()));

    // SIGTERM: the new leader finishes, releases the lease and exits 0.
    let (status, log) = h.operator.take().unwrap().terminate().await;
    assert!(status.success(), "exit status {status:?}\n{log}");
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), &h.ns);
    let held_by = leases
        .get(&lease)
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity);
    assert!(
        held_by.as_deref().is_none_or(str::is_empty),
        "the lease is still held by {held_by:?}"
    );
}

/// The operator's client multiplexes its requests as HTTP/2 streams (issue
/// 34: one HTTP/1 connection per request in flight cost over a hundred
/// connections and their buffers at the peak); kube's own client, asked the
/// same, speaks HTTP/1.1, so the check tells the two apart.
#[tokio::test]
async fn the_operators_kubernetes_client_speaks_http2_to_the_apiserver() {
    async fn versions(client: kube::Client) -> Vec<http::Version> {
        let reads = (0..24).map(|_| {
            let client = client.clone();
            async move {
                let request = http::Request::get("/version")
                    .body(kube::client::Body::empty())
                    .unwrap();
                let response = client.send(request).await.expect("GET /version");
                assert!(response.status().is_success(), "{}", response.status());
                response.version()
            }
        });
        futures::future::join_all(reads).await
    }

    let ours = aura_operator::reconciler::kube_client::from_config(support::admin_config().await)
        .expect("the operator's client");
    let got = versions(ours).await;
    assert!(got.iter().all(|v| *v == http::Version::HTTP_2), "{got:?}");

    let kubes = kube::Client::try_from(support::admin_config().await).unwrap();
    let got = versions(kubes).await;
    assert!(got.iter().all(|v| *v == http::Version::HTTP_11), "{got:?}");
}

//! Memory with the new kinds present (issue 34): N AuraInstances, one
//! AuraDatabaseUser and one AuraSnapshot for each, applied at once on one
//! client id. `cargo bench --bench scale -- full kinds` (only when named; not
//! in the smoke test); N = 1,000, or `KINDS_N=100`.
//!
//! One simulator (no rate limits, creation [`CREATE_S`], a snapshot
//! [`SNAPSHOT_S`]; the databases played by its Query API) and one operator
//! watching only this namespace. Once every object of the three kinds is
//! Ready: the operator's peak RSS (VmHWM) against [`RSS_TARGET_MIB`] at 1,000,
//! its idle RSS and the parts at Ready, CPU, time to all Ready, Aura calls and
//! Kubernetes writes per instance, and the correctness of the instances
//! (no duplicate, every connection Secret right).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aura_operator::api::{AuraDatabaseUser, AuraSnapshot};
use aura_operator::reconciler::status::is_true;
use aura_operator::reconciler::{Kind, KindStatus};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

use super::curve::counts;
use super::observe::{apiserver_requests, diff_requests, secs};
use super::report::{calls_by_kind, per};
use super::{
    Bench, CLIENT_ID, Scale, Stage, apply_all, correctness, k8s_writes, peak_hwm, peak_sockets,
    sim_config, sum_where, wait_all_ready,
};

const N_FULL: usize = 1000;
const N_SMALL: usize = 50;
const CREATE_S: f64 = 5.0;
const SNAPSHOT_S: f64 = 2.0;
const POLL: &str = "2s";
/// Peak RSS aimed at with 1,000 objects of each kind.
const RSS_TARGET_MIB: f64 = 48.0;

/// Ready objects of a kind, by listing.
async fn ready_count<K: Kind>(api: &Api<K>) -> anyhow::Result<usize> {
    let list = api.list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .filter(|o| o.status().is_some_and(|s| is_true(s.conditions(), "Ready")))
        .count())
}

/// An object of kind `K` named `name` whose spec names the AuraInstance `instance`.
fn referencing<K: Kind>(name: &str, instance: &str) -> K {
    serde_json::from_value(json!({
        "apiVersion": K::api_version(&()), "kind": K::kind(&()),
        "metadata": {"name": name},
        "spec": {"instanceRef": {"name": instance}},
    }))
    .expect("a manifest naming its instance")
}

/// Creates `objects`, `in_flight` at a time.
async fn create_all<K: Kind>(
    api: &Api<K>,
    objects: Vec<K>,
    in_flight: usize,
) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(objects)
        .map(|o| async move {
            let name = o.name_any();
            api.create(&PostParams::default(), &o)
                .await
                .with_context(|| format!("create {name}"))?;
            Ok(())
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    results.into_iter().collect()
}

pub async fn kinds(b: &mut Bench, scale: &Scale) -> anyhow::Result<()> {
    let default_n = if scale.name == "full" {
        N_FULL
    } else {
        N_SMALL
    };
    let [n] = counts("KINDS_N", &[default_n])?[..] else {
        bail!("KINDS_N names more than one count");
    };
    let sc = "7 kinds";
    println!(
        "\n== 7 kinds: {n} AuraInstances + {n} AuraDatabaseUsers + {n} AuraSnapshots, unlimited API, D = {CREATE_S} s, snapshot {SNAPSHOT_S} s, poll {POLL}"
    );
    let mut config = sim_config(CLIENT_ID, CREATE_S, 0, 0);
    config.snapshot_seconds = Some(SNAPSHOT_S);
    let stage = Stage::new(b, "bench-kinds", config).await?;
    let args = stage.operator_args(&["--poll-interval", POLL, "--rate-limit", "1000000"]);
    let Stage {
        sim,
        st,
        ns,
        watch,
        tracker,
    } = stage;
    let mut op = b.start_operator(&format!("operator-{}-kinds.log", scale.name), &args)?;
    op.wait_ready(&b.http, Duration::from_secs(60)).await?;
    let idle = op.sample_now(b.t0);
    let names: Vec<String> = (0..n).map(|i| format!("kinds-{i:05}")).collect();
    let users: Api<AuraDatabaseUser> = Api::namespaced(b.client.clone(), &ns);
    let snapshots: Api<AuraSnapshot> = Api::namespaced(b.client.clone(), &ns);
    let api_before = apiserver_requests(&b.client).await;
    let sim_before = st.counters();

    // All three kinds in one go, as one `kubectl apply` of a folder would:
    // the users and snapshots wait for their instances.
    let (apply_start, _) = apply_all(b, &ns, &names, scale.in_flight, 1, &watch).await?;
    create_all(
        &users,
        names
            .iter()
            .map(|i| referencing::<AuraDatabaseUser>(&format!("{i}-app"), i))
            .collect(),
        scale.in_flight,
    )
    .await?;
    create_all(
        &snapshots,
        names
            .iter()
            .map(|i| referencing::<AuraSnapshot>(&format!("{i}-snap"), i))
            .collect(),
        scale.in_flight,
    )
    .await?;
    let apply_s = secs(b.t0) - apply_start;
    println!("  applied {} objects in {apply_s:.1} s", 3 * n);

    let timeout = Duration::from_secs_f64(CREATE_S + 180.0 + n as f64 * 0.6);
    let instances_ready =
        wait_all_ready(b, "kinds", &mut op, &watch, &names, apply_start, timeout).await?;
    let deadline = Instant::now() + timeout;
    let (mut users_ready, mut snapshots_ready) = (0, 0);
    let mut last_print = Instant::now();
    while Instant::now() < deadline {
        op.check_alive()?;
        users_ready = ready_count(&users).await?;
        snapshots_ready = ready_count(&snapshots).await?;
        if users_ready == n && snapshots_ready == n {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(10) {
            last_print = Instant::now();
            println!(
                "  kinds: users {users_ready}/{n}, snapshots {snapshots_ready}/{n} Ready after {:.0} s",
                secs(b.t0) - apply_start
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let all_ready_s = secs(b.t0) - apply_start;
    let at_ready = op.sample_now(b.t0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sim_after = st.counters();
    let api = diff_requests(&apiserver_requests(&b.client).await, &api_before);
    let at_end = op.sample_now(b.t0);
    let metrics = op.metrics(&b.http).await.unwrap_or_default();
    let all = instances_ready && users_ready == n && snapshots_ready == n;
    if !all {
        b.failures.push(format!(
            "kinds: not every object became Ready (users {users_ready}/{n}, snapshots {snapshots_ready}/{n}, instances all: {instances_ready})"
        ));
    }
    let c = correctness(b, sc, &ns, &st, n).await?;
    let peak = peak_hwm(&op).max(at_end.map_or(0.0, |s| s.hwm_mib));
    let writes = k8s_writes(&api);
    // The bench's own creates: three objects per instance.
    let operator_writes = sum_where(&writes, |_| true).saturating_sub(3 * n as u64);
    let aura_calls = sim_after.requests_total - sim_before.requests_total;
    let kinds_of_calls = calls_by_kind(&sim_after, &sim_before);
    let query_calls: u64 = sim_after
        .query_api
        .iter()
        .map(|(k, v)| v - sim_before.query_api.get(k).copied().unwrap_or(0))
        .sum();
    println!(
        "  {n} x 3 objects: peak RSS {peak:.1} MiB (idle {:.1}; at Ready heap and private {:.1}, binary {:.1}), all Ready {all_ready_s:.1} s, at most {} sockets open",
        idle.map_or(f64::NAN, |s| s.rss_mib),
        at_ready.map_or(f64::NAN, |s| s.anon_mib),
        at_ready.map_or(f64::NAN, |s| s.file_mib),
        peak_sockets(&op),
    );

    let t = &mut b.table;
    t.add(
        sc,
        "setup",
        format!(
            "{n} instances + {n} users + {n} snapshots, unlimited API, D = {CREATE_S} s, snapshot {SNAPSHOT_S} s, poll {POLL}"
        ),
    );
    t.target(
        sc,
        &format!("peak RSS (VmHWM), {n} of each kind"),
        format!("{peak:.1} MiB"),
        &if n == N_FULL {
            format!("<= {RSS_TARGET_MIB} MiB")
        } else {
            format!("(<= {RSS_TARGET_MIB} MiB at 1,000)")
        },
        peak <= RSS_TARGET_MIB,
    );
    t.add(
        sc,
        "RSS idle / at Ready (heap and private + binary)",
        format!(
            "{:.1} / {:.1} + {:.1} MiB",
            idle.map_or(f64::NAN, |s| s.rss_mib),
            at_ready.map_or(f64::NAN, |s| s.anon_mib),
            at_ready.map_or(f64::NAN, |s| s.file_mib),
        ),
    );
    t.add(
        sc,
        "all three kinds Ready after the apply / CPU",
        format!(
            "{all_ready_s:.1} s / {:.2} s",
            at_ready.map_or(f64::NAN, |s| s.cpu_s)
        ),
    );
    t.add(
        sc,
        "Aura API calls / instance, Query API calls / user",
        format!("{:.2}, {:.2}", per(aura_calls, n), per(query_calls, n)),
    );
    t.add(
        sc,
        "K8s write requests / instance (all three kinds)",
        format!("{:.2}", per(operator_writes, n)),
    );
    b.json.insert(
        "kinds".into(),
        json!({
            "n": n, "d_s": CREATE_S, "snapshot_s": SNAPSHOT_S, "poll_interval": POLL,
            "rss_target_mib_at_1000": RSS_TARGET_MIB,
            "ready": all, "users_ready": users_ready, "snapshots_ready": snapshots_ready,
            "peak_rss_mib": peak,
            "rss_idle_mib": idle.map(|s| s.rss_mib),
            "anon_at_ready_mib": at_ready.map(|s| s.anon_mib),
            "file_at_ready_mib": at_ready.map(|s| s.file_mib),
            "cpu_s": at_ready.map(|s| s.cpu_s),
            "apply_s": apply_s, "all_ready_s": all_ready_s,
            "aura_calls": aura_calls, "aura_calls_by_kind": kinds_of_calls,
            "query_api_calls": query_calls,
            "k8s_operator_writes": operator_writes,
            "k8s_writes": writes.into_iter().collect::<BTreeMap<_, _>>(),
            "duplicates": c.duplicates, "secrets_correct": c.secrets_correct,
            "operator_metrics": metrics.operator_series(),
        }),
    );
    op.terminate().await?;
    watch.stop();
    tracker.stop();
    sim.shutdown().await;
    Ok(())
}

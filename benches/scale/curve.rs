//! The scale curve (issue 19): how the operator's memory, CPU and writes grow
//! with the number of objects, with one client id and with five.
//! `cargo bench --bench scale -- curve` (only when named; not in the smoke
//! test). Sizes 250, 1,000 and 3,000, or `CURVE_SIZES=20,40`; client ids 1
//! and 5, or `CURVE_CLIENTS=1`.
//!
//! Each point has its own simulator (no rate limits, creation time
//! [`CREATE_S`]), its own namespace and an operator watching only that
//! namespace, so the objects earlier points leave in the apiserver are not
//! seen. N AuraInstances are applied at once, their credentials Secrets taken
//! round-robin; once all are Ready: the operator's peak RSS (VmHWM), its CPU
//! from start to all Ready, Kubernetes writes and Aura calls per object, and
//! the time to all Ready. Then the operator and the simulator are stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use serde_json::{Value, json};

use super::observe::{apiserver_requests, diff_requests, secs};
use super::report::{calls_by_kind, per};
use super::{
    Bench, CLIENT_ID, CLIENT_SECRET, Scale, Stage, Writes, apply_all, correctness, peak_hwm,
    peak_sockets, sim_config, sorted_ready_times, wait_all_ready,
};

const SIZES: [usize; 3] = [250, 1000, 3000];
const CLIENTS: [usize; 2] = [1, 5];
/// Creation time of an instance: short, the curve is about the operator.
const CREATE_S: f64 = 5.0;
const POLL: &str = "2s";
/// Peak RSS aimed at with 1,000 objects on one client id.
const RSS_TARGET_MIB: f64 = 32.0;

/// One point of the curve.
#[derive(Debug, Clone, serde::Serialize)]
struct Point {
    n: usize,
    clients: usize,
    /// All of them became Ready.
    ready: bool,
    /// VmHWM at the end of the point, and VmRSS when all were Ready.
    peak_rss_mib: f64,
    rss_at_ready_mib: f64,
    /// VmRSS of the operator started and ready, before any object, and its
    /// parts when all were Ready (heap and private; the binary's pages).
    rss_idle_mib: f64,
    anon_at_ready_mib: f64,
    file_at_ready_mib: f64,
    /// The most sockets open at once (the apiserver's connections among them).
    peak_sockets: u32,
    /// From the operator's start to all Ready.
    cpu_s: f64,
    apply_s: f64,
    /// From the first create sent to the last object Ready.
    time_to_ready_s: f64,
    writes: Writes,
    aura_calls: u64,
    aura_calls_by_kind: BTreeMap<String, u64>,
    duplicates: usize,
    secrets_correct: usize,
    operator_metrics: BTreeMap<String, f64>,
}

/// `CURVE_SIZES=20,40`, else [`SIZES`]; sorted, without repeats.
fn sizes() -> anyhow::Result<Vec<usize>> {
    counts("CURVE_SIZES", &SIZES)
}

/// `CURVE_CLIENTS=1`, else [`CLIENTS`].
fn clients() -> anyhow::Result<Vec<usize>> {
    counts("CURVE_CLIENTS", &CLIENTS)
}

/// A comma-separated list of positive counts from `var`, else `default`.
pub fn counts(var: &str, default: &[usize]) -> anyhow::Result<Vec<usize>> {
    let mut counts = match std::env::var(var) {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| anyhow::anyhow!("{var}: {s:?} is not a count"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        Err(_) => default.to_vec(),
    };
    counts.sort_unstable();
    counts.dedup();
    if counts.is_empty() {
        bail!("{var} names no count");
    }
    Ok(counts)
}

pub async fn curve(b: &mut Bench, scale: &Scale) -> anyhow::Result<()> {
    let sizes = sizes()?;
    let client_counts = clients()?;
    println!(
        "\n== 6 curve: sizes {sizes:?} x client ids {client_counts:?}, unlimited API, D = {CREATE_S} s, poll {POLL}"
    );
    let mut points = Vec::new();
    for &n in &sizes {
        for &clients in &client_counts {
            let p = point(b, scale, n, clients).await?;
            println!(
                "  {n} objects, {clients} client id(s): peak RSS {:.1} MiB (idle {:.1}; at Ready heap and private {:.1}, binary {:.1}), {} sockets at most, CPU {:.2} s, all Ready {:.1} s",
                p.peak_rss_mib,
                p.rss_idle_mib,
                p.anon_at_ready_mib,
                p.file_at_ready_mib,
                p.peak_sockets,
                p.cpu_s,
                p.time_to_ready_s
            );
            points.push(p);
        }
    }
    let growth = growth(&points, &client_counts);
    print_curve(&points, &growth);
    add_rows(b, &points, &growth, &client_counts);
    b.json.insert(
        "curve".into(),
        json!({
            "sizes": sizes, "clients": client_counts, "d_s": CREATE_S, "poll_interval": POLL,
            "in_flight": scale.in_flight, "rss_target_mib_at_1000": RSS_TARGET_MIB,
            "points": points,
            "growth": growth.iter().map(|g| json!({
                "clients": g.clients, "from": g.from, "to": g.to, "mib_per_1000": g.mib_per_1000,
            })).collect::<Vec<Value>>(),
        }),
    );
    Ok(())
}

async fn point(b: &mut Bench, scale: &Scale, n: usize, clients: usize) -> anyhow::Result<Point> {
    println!("\n  -- {n} objects, {clients} client id(s)");
    let mut config = sim_config(CLIENT_ID, CREATE_S, 0, 0);
    config.clients = (0..clients)
        .map(|j| (format!("{CLIENT_ID}-{j}"), CLIENT_SECRET.to_string()))
        .collect();
    let stage = Stage::new(b, &format!("bench-curve-{n}-{clients}"), config).await?;
    // Only this point's namespace (Stage::operator_args names it), and a
    // client-side limit that is never the bottleneck.
    let args = stage.operator_args(&["--poll-interval", POLL, "--rate-limit", "1000000"]);
    let Stage {
        sim,
        st,
        ns,
        watch,
        tracker,
    } = stage;
    let mut op = b.start_operator(
        &format!("operator-{}-curve-{n}-{clients}.log", scale.name),
        &args,
    )?;
    op.wait_ready(&b.http, Duration::from_secs(60)).await?;
    let idle = op.sample_now(b.t0);
    let names: Vec<String> = (0..n).map(|i| format!("curve-{i:05}")).collect();
    let api_before = apiserver_requests(&b.client).await;
    let sim_before = st.counters();
    let (apply_start, apply_end) =
        apply_all(b, &ns, &names, scale.in_flight, clients, &watch).await?;
    println!("  applied {n} objects in {:.1} s", apply_end - apply_start);
    let timeout = Duration::from_secs_f64(CREATE_S + 120.0 + n as f64 * 0.6);
    let ready = wait_all_ready(b, "curve", &mut op, &watch, &names, apply_start, timeout).await?;
    let at_ready = op.sample_now(b.t0);
    // Let the last status writes and Ready events land before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sim_after = st.counters();
    let api = diff_requests(&apiserver_requests(&b.client).await, &api_before);
    let at_end = op.sample_now(b.t0);
    let metrics = op.metrics(&b.http).await.unwrap_or_default();
    let (from_apply, _) = sorted_ready_times(&watch, &names, apply_start);
    if !ready {
        b.failures.push(format!(
            "curve: only {}/{n} objects became Ready ({clients} client ids)",
            from_apply.len()
        ));
    }
    let c = correctness(b, "curve", &ns, &st, n).await?;
    let p = Point {
        n,
        clients,
        ready,
        peak_rss_mib: peak_hwm(&op).max(at_end.map_or(0.0, |s| s.hwm_mib)),
        rss_at_ready_mib: at_ready.map_or(f64::NAN, |s| s.rss_mib),
        rss_idle_mib: idle.map_or(f64::NAN, |s| s.rss_mib),
        anon_at_ready_mib: at_ready.map_or(f64::NAN, |s| s.anon_mib),
        file_at_ready_mib: at_ready.map_or(f64::NAN, |s| s.file_mib),
        peak_sockets: peak_sockets(&op),
        cpu_s: at_ready.map_or(f64::NAN, |s| s.cpu_s),
        apply_s: apply_end - apply_start,
        time_to_ready_s: from_apply.last().copied().unwrap_or(f64::NAN),
        // The bench's own writes: one create per object (the credentials
        // Secrets were written before the counters were read).
        writes: Writes::of(&api, n),
        aura_calls: sim_after.requests_total - sim_before.requests_total,
        aura_calls_by_kind: calls_by_kind(&sim_after, &sim_before),
        duplicates: c.duplicates,
        secrets_correct: c.secrets_correct,
        operator_metrics: metrics.operator_series(),
    };
    op.terminate().await?;
    watch.stop();
    tracker.stop();
    sim.shutdown().await;
    println!("  point done at {:.0} s", secs(b.t0));
    Ok(p)
}

/// Peak RSS growth between two sizes of one client count.
struct Growth {
    clients: usize,
    from: usize,
    to: usize,
    mib_per_1000: f64,
}

/// Between consecutive sizes, per client count.
fn growth(points: &[Point], client_counts: &[usize]) -> Vec<Growth> {
    let mut out = Vec::new();
    for &clients in client_counts {
        let mine: Vec<&Point> = points.iter().filter(|p| p.clients == clients).collect();
        for w in mine.windows(2) {
            let (a, b) = (w[0], w[1]);
            out.push(Growth {
                clients,
                from: a.n,
                to: b.n,
                mib_per_1000: (b.peak_rss_mib - a.peak_rss_mib) / (b.n - a.n) as f64 * 1000.0,
            });
        }
    }
    out
}

fn print_curve(points: &[Point], growth: &[Growth]) {
    println!();
    println!(
        "{:>8}  {:>10}  {:>13}  {:>18}  {:>7}  {:<54}  {:>12}  {:>11}",
        "objects",
        "client ids",
        "peak RSS MiB",
        "growth MiB / 1,000",
        "CPU s",
        "K8s writes / object",
        "Aura calls/o",
        "all Ready s"
    );
    for p in points {
        let g = growth
            .iter()
            .find(|g| g.clients == p.clients && g.to == p.n)
            .map_or("-".to_string(), |g| {
                format!("{:.2} (from {})", g.mib_per_1000, g.from)
            });
        println!(
            "{:>8}  {:>10}  {:>13.1}  {:>18}  {:>7.2}  {:<54}  {:>12.2}  {:>11.1}",
            p.n,
            p.clients,
            p.peak_rss_mib,
            g,
            p.cpu_s,
            p.writes.per_object(p.n),
            per(p.aura_calls, p.n),
            p.time_to_ready_s
        );
    }
}

fn add_rows(b: &mut Bench, points: &[Point], growth: &[Growth], client_counts: &[usize]) {
    let sc = "6 curve";
    let t = &mut b.table;
    t.add(
        sc,
        "setup",
        format!("unlimited API, D = {CREATE_S} s, poll {POLL}, one operator per point"),
    );
    for p in points {
        t.add(
            sc,
            &format!("{} objects, {} client id(s)", p.n, p.clients),
            format!(
                "RSS {:.1} MiB, CPU {:.2} s, writes/o {:.2}, calls/o {:.2}, Ready {:.1} s",
                p.peak_rss_mib,
                p.cpu_s,
                per(p.writes.total, p.n),
                per(p.aura_calls, p.n),
                p.time_to_ready_s
            ),
        );
    }
    for p in points {
        t.add(
            sc,
            &format!(
                "K8s writes / object, {} objects, {} client id(s)",
                p.n, p.clients
            ),
            p.writes.per_object(p.n),
        );
    }
    // The RSS target: at 1,000 objects on one client id, or (in parentheses)
    // at the largest size below it when 1,000 was not run.
    if let Some(p) = points
        .iter()
        .filter(|p| p.clients == 1 && p.n <= 1000)
        .max_by_key(|p| p.n)
    {
        t.target(
            sc,
            &format!("peak RSS (VmHWM), {} objects, 1 client id", p.n),
            format!("{:.1} MiB", p.peak_rss_mib),
            &if p.n == 1000 {
                format!("<= {RSS_TARGET_MIB} MiB")
            } else {
                format!("(<= {RSS_TARGET_MIB} MiB at 1,000)")
            },
            p.peak_rss_mib <= RSS_TARGET_MIB,
        );
    }
    for &clients in client_counts {
        let mine: Vec<&Growth> = growth.iter().filter(|g| g.clients == clients).collect();
        if mine.is_empty() {
            continue;
        }
        t.add(
            sc,
            &format!("peak RSS growth per 1,000 objects, {clients} client id(s)"),
            mine.iter()
                .map(|g| format!("{}-{}: {:.2} MiB", g.from, g.to, g.mib_per_1000))
                .collect::<Vec<_>>()
                .join(", "),
        );
        // At most linear: no segment grows faster per object than the one
        // before it.
        for w in mine.windows(2) {
            let (a, g) = (w[0], w[1]);
            t.target(
                sc,
                &format!(
                    "RSS / object {}-{} vs {}-{}, {clients} client id(s)",
                    g.from, g.to, a.from, a.to
                ),
                format!("{:.2} vs {:.2} MiB / 1,000", g.mib_per_1000, a.mib_per_1000),
                "not above (linear)",
                g.mib_per_1000 <= a.mib_per_1000,
            );
        }
    }
    let duplicates: usize = points.iter().map(|p| p.duplicates).sum();
    t.target(
        sc,
        "duplicates over all points",
        format!("{duplicates}"),
        "0",
        duplicates == 0,
    );
}

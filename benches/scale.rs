//! Scale and efficiency benchmark (issues 8 and 19).
//!
//! `cargo bench --bench scale -- [small|full] [overhead|budget|steady|startup|soak|curve|kinds]`
//!
//! Starts its own control plane (`tests/testenv/run`), the Aura simulator
//! in-process, and the release operator binary as a child process, then runs:
//!
//! 1. overhead — N AuraInstances applied at once against an unlimited API with
//!    creation time D: time to all Ready minus D, peak RSS, CPU, Aura calls and
//!    Kubernetes writes per instance, duplicates;
//! 2. budget — M AuraInstances (`BUDGET_M`, default by scale) against the real
//!    limits (125/min, 15 tokens/h) with the operator's defaults: time to all
//!    Ready against the issue's ideal and against the bound the API's sliding
//!    window allows (`scale/bound.rs`);
//! 3. steady — the N running instances for a window: Aura calls per minute,
//!    CPU, RSS, Kubernetes writes, events; then a restart (resync storm),
//!    counted for five minutes at full scale (`RESTART_WINDOW_S`): writes,
//!    events and instance GETs against once plus once per resync;
//! 4. startup — process start to /readyz 200 with the N objects present
//!    (measured on the restart of 3);
//! 5. soak (only when named) — 100 objects in 5 namespaces with the same
//!    names, lost create answers and random kills of the operator: exactly one
//!    instance per object, and every password right;
//! 6. curve (only when named) — 250, 1,000 and 3,000 objects (`CURVE_SIZES`),
//!    on 1 and on 5 client ids, each point with its own operator: peak RSS,
//!    CPU, writes and calls per object, time to Ready (`scale/curve.rs`);
//! 7. kinds (only when named) — N AuraInstances with an AuraDatabaseUser and
//!    an AuraSnapshot each (`KINDS_N`, 1,000 at full scale): peak RSS against
//!    48 MiB, time to all Ready, calls and writes (`scale/kinds.rs`).
//!
//! Prints a table, writes `target/bench/<scale>-<time>.json`,
//! `target/bench/latest-<scale>.json` and `target/bench/time-to-ready-<scale>.png`
//! (via `bench/plot.py`). No time is asserted: the exit code is non-zero only
//! when something is broken (objects never Ready, duplicates, wrong Secrets,
//! the operator died).
//!
//! Without `--bench` (i.e. under `cargo test --all-targets`) it runs the small
//! scale as a smoke test, writing `target/bench/smoke-small.json`, no plot.

#[path = "scale/bound.rs"]
mod bound;
#[path = "scale/curve.rs"]
mod curve;
#[path = "scale/env.rs"]
mod env;
#[path = "scale/kinds.rs"]
mod kinds;
#[path = "scale/observe.rs"]
mod observe;
#[path = "scale/probe.rs"]
mod probe;
#[path = "scale/report.rs"]
mod report;
#[path = "scale/soak.rs"]
mod soak;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aura_operator::api::AuraInstance;
use aura_operator::simulator::{Counters, SimState, Simulator, SimulatorConfig};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use observe::{SimTracker, Watch, apiserver_requests, diff_requests, is_write, secs};
use probe::Operator;
use report::{Table, calls_by_kind, fmt_kinds, per, percentile};

const CLIENT_ID: &str = "bench-client";
const CLIENT_SECRET: &str = "bench-secret-7Hq2";
const BUDGET_CLIENT_ID: &str = "bench-budget";
const TENANT: &str = "5d1c3b9e-7f0a-4c2b-9e8d-0123456789ab";
/// The real API's limits.
const API_RPM: u32 = 125;
const API_TOKENS_PER_HOUR: u32 = 15;

#[derive(Debug, Clone)]
struct Scale {
    name: &'static str,
    /// Objects of the overhead, steady and startup scenarios.
    n: usize,
    /// Creation time of an instance in the simulator, seconds.
    d: f64,
    in_flight: usize,
    /// Operator poll interval of the overhead run.
    poll: &'static str,
    /// Operator resync interval of the overhead/steady run, and in seconds.
    resync: &'static str,
    resync_s: f64,
    /// Steady-state window.
    window: Duration,
    /// How long after a restart its Aura calls, writes and events are counted
    /// (from the new operator's start; at least until every instance was
    /// observed once, plus 5 s).
    restart_window: Duration,
    /// Objects of the budget scenario, and their creation time.
    m: usize,
    budget_d: f64,
}

const SMALL: Scale = Scale {
    name: "small",
    n: 50,
    d: 5.0,
    in_flight: 16,
    poll: "2s",
    resync: "5s",
    resync_s: 5.0,
    window: Duration::from_secs(20),
    restart_window: Duration::from_secs(15),
    // About 6 calls per instance: under one minute of calls at the operator's
    // client-side limit, so the small run stays well under two minutes.
    m: 12,
    budget_d: 5.0,
};

const FULL: Scale = Scale {
    name: "full",
    n: 1000,
    d: 20.0,
    in_flight: 32,
    poll: "5s",
    resync: "60s",
    resync_s: 60.0,
    window: Duration::from_secs(600),
    restart_window: Duration::from_secs(300),
    m: 200,
    budget_d: 20.0,
};

struct Args {
    scale: Scale,
    scenarios: HashSet<String>,
    smoke: bool,
}

/// `None`: nothing to run (a test filter that excludes the smoke test, `--list`).
fn parse_args() -> anyhow::Result<Option<Args>> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary
    // without it (plus any test filter or libtest flags), as a smoke test.
    let smoke = !raw.iter().any(|a| a == "--bench");
    if smoke {
        let filtered_out = raw
            .iter()
            .filter(|a| !a.starts_with('-'))
            .any(|f| !"scale_smoke".contains(f.as_str()));
        let skip = std::env::var("AURA_BENCH_SKIP_SMOKE").is_ok_and(|v| v != "0");
        if skip || filtered_out || raw.iter().any(|a| a == "--list") {
            return Ok(None);
        }
        return Ok(Some(Args {
            scale: SMALL,
            scenarios: ["overhead", "budget", "steady", "startup"]
                .map(String::from)
                .into(),
            smoke,
        }));
    }
    let mut scale = SMALL;
    let mut scenarios = HashSet::new();
    for a in raw.iter().filter(|a| !a.starts_with('-')) {
        match a.as_str() {
            "small" => scale = SMALL,
            "full" => scale = FULL,
            "overhead" | "budget" | "steady" | "startup" | "soak" | "curve" | "kinds" => {
                scenarios.insert(a.clone());
            }
            "all" => {}
            other => bail!(
                "unknown argument {other:?}: use [small|full] [overhead|budget|steady|startup|soak|curve|kinds]"
            ),
        }
    }
    if scenarios.is_empty() {
        scenarios = ["overhead", "budget", "steady", "startup"]
            .map(String::from)
            .into();
    }
    Ok(Some(Args {
        scale,
        scenarios,
        smoke,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    aura_operator::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(args)) {
        Ok(failures) if failures.is_empty() => ExitCode::SUCCESS,
        Ok(failures) => {
            eprintln!("\nBROKEN:");
            for f in failures {
                eprintln!("  - {f}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("\nthe benchmark could not run: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Everything a scenario needs.
struct Bench {
    t0: Instant,
    client: Client,
    kubeconfig: PathBuf,
    /// The testenv launcher: the control plane's processes run below it.
    control_plane_pid: u32,
    binary: PathBuf,
    out_dir: PathBuf,
    http: reqwest::Client,
    table: Table,
    json: serde_json::Map<String, Value>,
    failures: Vec<String>,
}

impl Bench {
    /// The operator under test with `args`, logging to `log` in the output folder.
    fn start_operator(&self, log: &str, args: &[String]) -> anyhow::Result<Operator> {
        Operator::start(
            &self.binary,
            &self.kubeconfig,
            self.out_dir.join(log),
            args,
            self.t0,
        )
    }
}

async fn run(args: Args) -> anyhow::Result<Vec<String>> {
    let t0 = Instant::now();
    let scale = args.scale.clone();
    let binary = std::env::var_os("AURA_BENCH_OPERATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_aura-operator")));
    if !binary.exists() {
        bail!(
            "{} does not exist (cargo build --release --locked --bin aura-operator)",
            binary.display()
        );
    }
    let out_dir = env::target_dir().join("bench");
    std::fs::create_dir_all(&out_dir)?;
    println!(
        "scale benchmark: scale {} ({}), scenarios {:?}\noperator binary {}",
        scale.name,
        if args.smoke {
            "smoke test"
        } else {
            "benchmark"
        },
        {
            let mut s: Vec<_> = args.scenarios.iter().cloned().collect();
            s.sort();
            s
        },
        binary.display()
    );

    let started = Instant::now();
    let cp = env::ControlPlane::start(&out_dir.join("scratch"), Duration::from_secs(600))?;
    println!(
        "control plane ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let client = env::client(&cp.kubeconfig).await?;
    env::ensure_crd(&client).await?;

    let mut b = Bench {
        t0,
        client,
        kubeconfig: cp.kubeconfig.clone(),
        control_plane_pid: cp.pid(),
        binary,
        out_dir: out_dir.clone(),
        http: reqwest::Client::new(),
        table: Table::default(),
        json: serde_json::Map::new(),
        failures: Vec::new(),
    };
    b.json.insert(
        "scale".into(),
        json!({
            "name": scale.name, "n": scale.n, "d_s": scale.d, "in_flight": scale.in_flight,
            "poll_interval": scale.poll, "resync_interval": scale.resync,
            "steady_window_s": scale.window.as_secs(), "m": scale.m, "budget_d_s": scale.budget_d,
        }),
    );
    b.json.insert("smoke".into(), json!(args.smoke));
    b.json.insert("operator_source".into(), source_state());
    b.json.insert(
        "host".into(),
        json!({
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        }),
    );

    let want = |s: &str| args.scenarios.contains(s);
    let result = async {
        if want("overhead") || want("steady") || want("startup") {
            overhead_steady_startup(
                &mut b,
                &scale,
                want("steady"),
                want("steady") || want("startup"),
            )
            .await?;
        }
        if want("budget") {
            budget(&mut b, &scale).await?;
        }
        if want("soak") {
            soak::soak(&mut b).await?;
        }
        if want("curve") {
            curve::curve(&mut b, &scale).await?;
        }
        if want("kinds") {
            kinds::kinds(&mut b, &scale).await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        b.failures.push(format!("{e:#}"));
    }

    b.table.print();
    b.json.insert(
        "table".into(),
        serde_json::to_value(&b.table.rows).unwrap_or_default(),
    );
    b.json.insert("failures".into(), json!(b.failures.clone()));
    b.json.insert("total_seconds".into(), json!(secs(t0)));
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let value = Value::Object(b.json.clone());
    let text = serde_json::to_string_pretty(&value)?;
    let (file, latest) = if args.smoke {
        (out_dir.join(format!("smoke-{}.json", scale.name)), None)
    } else {
        (
            out_dir.join(format!("{}-{stamp}.json", scale.name)),
            Some(out_dir.join(format!("latest-{}.json", scale.name))),
        )
    };
    std::fs::write(&file, &text)?;
    println!("wrote {}", file.display());
    if let Some(latest) = &latest {
        std::fs::write(latest, &text)?;
        println!("wrote {}", latest.display());
    }
    let plot_wanted = match std::env::var("AURA_BENCH_PLOT").as_deref() {
        Ok("0") => false,
        Ok(_) => true,
        Err(_) => !args.smoke,
    };
    // The plot draws the overhead, budget and curve runs; the soak alone has none.
    let has_curves = want("overhead") || want("budget") || want("curve");
    if plot_wanted && has_curves {
        let png = out_dir.join(format!("time-to-ready-{}.png", scale.name));
        plot(&file, &png);
    }
    cp.stop();
    println!("total {:.1} s", secs(t0));
    Ok(b.failures)
}

/// The commit the operator was built from, and uncommitted changes under src/.
fn source_state() -> Value {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env::repo_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let dirty: Vec<String> = git(&["status", "--porcelain", "--", "src"])
        .lines()
        .map(str::to_string)
        .collect();
    println!(
        "operator source: {} {}",
        git(&["log", "-1", "--format=%h %s"]),
        if dirty.is_empty() {
            "(clean)".to_string()
        } else {
            format!("+ uncommitted {dirty:?}")
        }
    );
    json!({"commit": git(&["rev-parse", "HEAD"]), "uncommitted_src": dirty})
}

fn plot(json: &Path, png: &Path) {
    let script = env::repo_root().join("bench/plot.py");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(json)
        .arg(png)
        .status();
    match status {
        Ok(s) if s.success() => println!("wrote {}", png.display()),
        Ok(s) => eprintln!("warning: {} failed ({s}); no plot", script.display()),
        Err(e) => eprintln!("warning: could not run python3 {}: {e}", script.display()),
    }
}

/// What a scenario runs against: its own simulator, a namespace holding the
/// credentials Secret, and the observers of both.
struct Stage {
    sim: Simulator,
    st: SimState,
    ns: String,
    watch: Watch,
    tracker: SimTracker,
}

impl Stage {
    /// One credentials Secret per client of `config`, named by
    /// [`credentials_name`].
    async fn new(b: &Bench, prefix: &str, config: SimulatorConfig) -> anyhow::Result<Self> {
        if config.clients.is_empty() {
            bail!("the simulator needs a client");
        }
        let clients = config.clients.clone();
        let sim = Simulator::start(config).await?;
        let st = sim.state();
        let ns = env::create_namespace(&b.client, prefix).await?;
        for (j, (id, secret)) in clients.iter().enumerate() {
            env::put_credentials(&b.client, &ns, &credentials_name(j), id, secret).await?;
        }
        let watch = Watch::start(&b.client, &ns, b.t0);
        let tracker = SimTracker::start(st.clone(), b.t0);
        Ok(Self {
            sim,
            st,
            ns,
            watch,
            tracker,
        })
    }

    /// Operator flags pointing at this stage, then `extra`.
    fn operator_args(&self, extra: &[&str]) -> Vec<String> {
        let ns = &self.ns;
        let mut args: Vec<String> = vec![
            "--namespace".into(),
            ns.clone(),
            "--aura-base-url".into(),
            self.sim.base_url(),
            "--log-level".into(),
            "info".into(),
            // Credential checks go to the simulator's Query API: part of the cost measured.
            "--query-api-url".into(),
            format!(
                "{}/query-api/{{host}}/db/{{database}}/query/v2",
                self.sim.base_url()
            ),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }
}

fn sim_config(client_id: &str, d: f64, rpm: u32, tokens: u32) -> SimulatorConfig {
    SimulatorConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        clients: vec![(client_id.into(), CLIENT_SECRET.into())],
        tenants: vec![(TENANT.into(), "Bench".into())],
        create_seconds: d,
        transition_seconds: 1.0,
        requests_per_minute: rpm,
        tokens_per_hour: tokens,
        free_instances_per_tenant: 0,
        ..SimulatorConfig::default()
    }
}

/// The credentials Secret of a stage's `j`-th client id: `aura-api`, then
/// `aura-api-1`, `aura-api-2`, ...
fn credentials_name(j: usize) -> String {
    if j == 0 {
        "aura-api".into()
    } else {
        format!("aura-api-{j}")
    }
}

fn manifest(name: &str) -> AuraInstance {
    manifest_with(name, "aura-api")
}

/// An AuraInstance using the credentials Secret `credentials`.
fn manifest_with(name: &str, credentials: &str) -> AuraInstance {
    serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraInstance",
        "metadata": {"name": name},
        "spec": {
            "cloudProvider": "gcp", "region": "europe-west1", "type": "enterprise-db",
            "version": "5", "memory": "8GB", "tenantId": TENANT,
            "credentialsSecretRef": {"name": credentials},
        },
    }))
    .expect("manifest")
}

/// Creates `names` with `in_flight` creates at a time, the i-th using the
/// credentials of client id i mod `clients` (see [`credentials_name`]);
/// returns (start, end) in seconds since t0.
async fn apply_all(
    b: &Bench,
    ns: &str,
    names: &[String],
    in_flight: usize,
    clients: usize,
    watch: &Watch,
) -> anyhow::Result<(f64, f64)> {
    let api: Api<AuraInstance> = Api::namespaced(b.client.clone(), ns);
    let start = secs(b.t0);
    let clients = clients.max(1);
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(names.iter().cloned().enumerate())
        .map(|(i, name)| {
            let api = api.clone();
            let credentials = credentials_name(i % clients);
            async move {
                api.create(&PostParams::default(), &manifest_with(&name, &credentials))
                    .await
                    .with_context(|| format!("create {name}"))?;
                watch.mark_created(&name, secs(b.t0));
                Ok(())
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok((start, secs(b.t0)))
}

/// Waits until every object is Ready (or the timeout), printing progress.
async fn wait_all_ready(
    b: &Bench,
    what: &str,
    op: &mut Operator,
    watch: &Watch,
    names: &[String],
    since: f64,
    timeout: Duration,
) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut last_print = Instant::now();
    loop {
        let ready = watch.ready_count(names);
        if ready == names.len() {
            return Ok(true);
        }
        op.check_alive()?;
        if Instant::now() > deadline {
            println!(
                "  {what}: only {ready}/{} Ready after {:.0} s",
                names.len(),
                secs(b.t0) - since
            );
            return Ok(false);
        }
        if last_print.elapsed() > Duration::from_secs(10) {
            last_print = Instant::now();
            println!(
                "  {what}: {ready}/{} Ready after {:.0} s",
                names.len(),
                secs(b.t0) - since
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Duplicates in Aura, and objects whose Secret is missing or wrong: a table
/// row, and a failure for each.
async fn check_correctness(
    b: &mut Bench,
    scenario: &str,
    ns: &str,
    sim: &SimState,
    n: usize,
) -> anyhow::Result<Value> {
    let c = correctness(b, scenario, ns, sim, n).await?;
    b.table.target(
        scenario,
        "duplicates (instances in Aura - objects)",
        format!("{}", c.duplicates),
        "0",
        c.duplicates == 0 && c.names_created_twice == 0,
    );
    Ok(serde_json::to_value(c)?)
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Correctness {
    aura_instances: usize,
    duplicates: usize,
    names_created_twice: usize,
    secrets_correct: usize,
}

/// What [`check_correctness`] checks, with failures but no table row.
async fn correctness(
    b: &mut Bench,
    scenario: &str,
    ns: &str,
    sim: &SimState,
    n: usize,
) -> anyhow::Result<Correctness> {
    let instances = sim.instances();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for i in &instances {
        *by_name
            .entry(i.instance.name.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let duplicates = instances.len().saturating_sub(n);
    let names_twice = by_name.values().filter(|c| **c > 1).count();
    let secrets: Api<Secret> = Api::namespaced(b.client.clone(), ns);
    let list = secrets
        .list(
            &ListParams::default()
                .labels(&aura_operator::kinds::instance::secret::owned_selector()),
        )
        .await?;
    let mut good = 0;
    for i in &instances {
        let ok = list.items.iter().any(|s| {
            let key = |k: &str| aura_operator::kinds::instance::secret::read_key(s, k);
            key("AURA_INSTANCEID").as_deref() == Some(i.instance.id.as_str())
                && key("NEO4J_PASSWORD").as_deref() == Some(i.password.as_str())
        });
        if ok {
            good += 1;
        }
    }
    if duplicates > 0 || names_twice > 0 {
        b.failures.push(format!(
            "{scenario}: {} instances in Aura for {n} objects ({names_twice} names created twice)",
            instances.len()
        ));
    }
    if instances.len() < n {
        b.failures.push(format!(
            "{scenario}: only {} instances in Aura for {n} objects",
            instances.len()
        ));
    }
    if good < instances.len().min(n) {
        b.failures.push(format!(
            "{scenario}: only {good}/{} connection Secrets hold the instance's id and password",
            instances.len()
        ));
    }
    Ok(Correctness {
        aura_instances: instances.len(),
        duplicates,
        names_created_twice: names_twice,
        secrets_correct: good,
    })
}

fn sorted_ready_times(watch: &Watch, names: &[String], since: f64) -> (Vec<f64>, Vec<f64>) {
    let tracks = watch.tracks(names);
    let mut from_apply: Vec<f64> = tracks
        .iter()
        .filter_map(|t| t.ready.map(|r| r - since))
        .collect();
    let mut from_create: Vec<f64> = tracks
        .iter()
        .filter_map(|t| Some(t.ready? - t.created?))
        .collect();
    from_apply.sort_by(f64::total_cmp);
    from_create.sort_by(f64::total_cmp);
    (from_apply, from_create)
}

fn k8s_writes(reqs: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    reqs.iter()
        .filter(|(k, _)| is_write(k))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn sum_where(m: &BTreeMap<String, u64>, f: impl Fn(&str) -> bool) -> u64 {
    m.iter().filter(|(k, _)| f(k)).map(|(_, v)| v).sum()
}

/// The operator's Kubernetes write requests by what they wrote, from the
/// apiserver's request counters of a phase.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Writes {
    /// Every write, less the bench's own creates of AuraInstances.
    total: u64,
    status: u64,
    /// The AuraInstance itself (finalizers, annotations), not its create.
    object: u64,
    secret: u64,
    event: u64,
    /// Refused with 409 (counted in the above too).
    conflicts: u64,
}

impl Writes {
    fn of(api: &BTreeMap<String, u64>, bench_creates: usize) -> Self {
        let writes = k8s_writes(api);
        let instances = <AuraInstance as kube::Resource>::plural(&()).into_owned();
        Self {
            total: sum_where(&writes, |_| true).saturating_sub(bench_creates as u64),
            status: sum_where(&writes, |k| k.ends_with(&format!("{instances}/status"))),
            object: sum_where(&writes, |k| {
                k.ends_with(&format!(" {instances}")) && !k.starts_with("POST")
            }),
            secret: sum_where(&writes, |k| k.ends_with(" secrets")),
            event: sum_where(&writes, |k| k.ends_with(" events")),
            conflicts: sum_where(&writes, |k| k.ends_with(" 409")),
        }
    }

    /// "total (status .., object .., secret .., event ..)" per object.
    fn per_object(&self, n: usize) -> String {
        format!(
            "{:.2} (status {:.2}, object {:.2}, secret {:.2}, event {:.2})",
            per(self.total, n),
            per(self.status, n),
            per(self.object, n),
            per(self.secret, n),
            per(self.event, n)
        )
    }
}

fn peak_hwm(op: &Operator) -> f64 {
    op.samples().iter().map(|s| s.hwm_mib).fold(0.0, f64::max)
}

/// The most sockets the operator held open at one sample.
fn peak_sockets(op: &Operator) -> u32 {
    op.samples().iter().map(|s| s.sockets).max().unwrap_or(0)
}

async fn overhead_steady_startup(
    b: &mut Bench,
    scale: &Scale,
    steady: bool,
    restart: bool,
) -> anyhow::Result<()> {
    let sc = "1 overhead";
    println!(
        "\n== 1 overhead: {} objects, D = {} s, unlimited API, poll {}, resync {}",
        scale.n, scale.d, scale.poll, scale.resync
    );
    let stage = Stage::new(b, "bench-overhead", sim_config(CLIENT_ID, scale.d, 0, 0)).await?;
    let op_args = stage.operator_args(&[
        "--poll-interval",
        scale.poll,
        "--resync-interval",
        scale.resync,
        "--rate-limit",
        "1000000",
    ]);
    let Stage {
        sim,
        st,
        ns,
        watch,
        tracker,
    } = stage;
    let mut op = b.start_operator(&format!("operator-{}-overhead.log", scale.name), &op_args)?;
    let empty_ready = op.wait_ready(&b.http, Duration::from_secs(60)).await?;
    let names: Vec<String> = (0..scale.n).map(|i| format!("bench-{i:04}")).collect();

    let api_before = apiserver_requests(&b.client).await;
    let sim_before = st.counters();
    let totals_before = watch.totals();
    let tck = probe::clk_tck();
    let cpu_of = |b: &Bench, op: &Operator| {
        let mut cpu = probe::cpu_by_process(b.control_plane_pid, tck);
        cpu.insert(
            "aura-operator".into(),
            probe::process_cpu(op.pid, tck).unwrap_or(f64::NAN),
        );
        cpu
    };
    let cpu_before = cpu_of(b, &op);
    let (apply_start, apply_end) = apply_all(b, &ns, &names, scale.in_flight, 1, &watch).await?;
    println!(
        "  applied {} objects in {:.1} s",
        scale.n,
        apply_end - apply_start
    );
    let timeout = Duration::from_secs_f64(scale.d + 120.0 + scale.n as f64 * 0.6);
    let all = wait_all_ready(b, "overhead", &mut op, &watch, &names, apply_start, timeout).await?;
    let t_ready = secs(b.t0);
    let cpu_during: BTreeMap<String, f64> = cpu_of(b, &op)
        .into_iter()
        .map(|(k, v)| {
            let before = cpu_before.get(&k).copied().unwrap_or(0.0);
            (k, v - before)
        })
        .collect();
    // Let the last status writes and Ready events land before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sim_after = st.counters();
    let totals = watch.totals().minus(&totals_before);
    let api = diff_requests(&apiserver_requests(&b.client).await, &api_before);
    let metrics = op.metrics(&b.http).await.unwrap_or_default();
    let sample = op.sample_now(b.t0);

    let (from_apply, from_create) = sorted_ready_times(&watch, &names, apply_start);
    let last = from_apply.last().copied().unwrap_or(f64::NAN);
    let overhead = last - scale.d;
    let per_obj: Vec<f64> = from_create.iter().map(|t| t - scale.d).collect();
    if !all {
        b.failures.push(format!(
            "overhead: only {}/{} objects became Ready",
            from_apply.len(),
            scale.n
        ));
    }
    let kinds = calls_by_kind(&sim_after, &sim_before);
    // The bench's own writes: one create per object.
    let writes = Writes::of(&api, scale.n);
    let peak = peak_hwm(&op).max(sample.map(|s| s.hwm_mib).unwrap_or(0.0));
    let cpu = sample.map(|s| s.cpu_s).unwrap_or(f64::NAN);
    let n = scale.n;

    let t = &mut b.table;
    t.add(sc, "objects / D", format!("{n} / {} s", scale.d));
    t.add(
        sc,
        "apply (all creates returned)",
        format!("{:.1} s", apply_end - apply_start),
    );
    t.target(
        sc,
        "all Ready after apply start - D",
        format!("{overhead:.1} s"),
        if n >= 1000 {
            "< 10 s"
        } else {
            "(< 10 s at 1,000)"
        },
        overhead < 10.0,
    );
    t.add(
        sc,
        "per object: Ready - its create - D (p50/p90/max)",
        format!(
            "{:.1}/{:.1}/{:.1} s",
            percentile(&per_obj, 50.0),
            percentile(&per_obj, 90.0),
            percentile(&per_obj, 100.0)
        ),
    );
    t.target(
        sc,
        "operator peak RSS (VmHWM)",
        format!("{peak:.1} MiB"),
        "< 64 MiB (aim 32)",
        peak < 64.0,
    );
    t.add(
        sc,
        "operator CPU, start to all Ready",
        format!("{cpu:.2} s"),
    );
    let mut busiest: Vec<(&String, &f64)> =
        cpu_during.iter().filter(|(_, s)| **s >= 0.05).collect();
    busiest.sort_by(|a, b| b.1.total_cmp(a.1));
    t.add(
        sc,
        "CPU from apply to all Ready, by process (2 cores shared)",
        busiest
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    t.add(sc, "Aura calls / instance", fmt_kinds(&kinds, n));
    t.add(
        sc,
        "Aura calls total / per instance",
        format!(
            "{} / {:.2}",
            sim_after.requests_total - sim_before.requests_total,
            per(sim_after.requests_total - sim_before.requests_total, n)
        ),
    );
    t.add(sc, "K8s write requests / instance", writes.per_object(n));
    t.add(
        sc,
        "K8s write requests refused (409) / instance",
        format!("{:.2}", per(writes.conflicts, n)),
    );
    t.add(
        sc,
        "K8s effective changes / instance (watched)",
        format!(
            "object {:.2}, secret {:.2}, events {:.2}",
            per(totals.instance_changes, n),
            per(totals.secret_creates + totals.secret_changes, n),
            per(totals.event_creates + totals.event_changes, n)
        ),
    );
    let correctness = check_correctness(b, sc, &ns, &st, n).await?;
    b.table.add(
        sc,
        "startup to /readyz (no objects)",
        format!("{:.2} s", empty_ready.as_secs_f64()),
    );
    b.json.insert(
        "overhead".into(),
        json!({
            "n": n, "d_s": scale.d, "poll_interval": scale.poll,
            "apply_s": apply_end - apply_start,
            "all_ready_after_apply_s": last,
            "overhead_s": overhead,
            "time_to_ready_s": from_apply,
            "apply_start_s": apply_start,
            "per_object_overhead_s": {"p50": percentile(&per_obj, 50.0), "p90": percentile(&per_obj, 90.0), "max": percentile(&per_obj, 100.0)},
            "peak_rss_mib": peak, "cpu_s": cpu, "cpu_by_process_s": cpu_during,
            "aura_calls_by_kind": kinds,
            "aura_calls_by_route": route_delta(&sim_after, &sim_before),
            "aura_429": sim_after.too_many_requests - sim_before.too_many_requests,
            "k8s_requests": api,
            "k8s_operator_writes": writes.total,
            "k8s_operator_writes_by_kind": writes,
            "watched": totals,
            "event_reasons": watch.event_reasons(),
            "correctness": correctness,
            "startup_empty_s": empty_ready.as_secs_f64(),
            "operator_metrics": metrics.operator_series(),
            "samples": op.samples(),
            "sim_timeline": tracker.timeline(),
        }),
    );
    if !all {
        bail!("overhead: not every object became Ready; steady state and restart skipped");
    }
    let _ = t_ready;

    if steady {
        steady_state(b, scale, &mut op, &st, &watch).await?;
    }
    let shutdown = op.terminate().await?;
    b.table.add(
        "3 steady",
        "operator SIGTERM to exit",
        format!("{:.2} s", shutdown.as_secs_f64()),
    );
    if restart {
        restart_storm(b, scale, &op_args, &st, &watch, &tracker).await?;
    }
    watch.stop();
    tracker.stop();
    sim.shutdown().await;
    Ok(())
}

fn route_delta(after: &Counters, before: &Counters) -> BTreeMap<String, u64> {
    after
        .by_route
        .iter()
        .map(|(k, v)| (k.clone(), v - before.by_route.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

async fn steady_state(
    b: &mut Bench,
    scale: &Scale,
    op: &mut Operator,
    st: &SimState,
    watch: &Watch,
) -> anyhow::Result<()> {
    let sc = "3 steady";
    let n = scale.n;
    println!(
        "\n== 3 steady state: {n} running objects for {} s, resync {}",
        scale.window.as_secs(),
        scale.resync
    );
    let api_before = apiserver_requests(&b.client).await;
    let sim_before = st.counters();
    let totals_before = watch.totals();
    let reasons_before = watch.event_reasons();
    let s0 = op.sample_now(b.t0);
    let start = Instant::now();
    let first_sample = op.samples().len();
    while start.elapsed() < scale.window {
        tokio::time::sleep(Duration::from_secs(1)).await;
        op.check_alive()?;
        let e = start.elapsed().as_secs();
        if e.is_multiple_of(60) && e > 0 {
            println!("  steady: {e} s");
        }
    }
    let window_s = start.elapsed().as_secs_f64();
    let s1 = op.sample_now(b.t0);
    let sim_after = st.counters();
    let totals = watch.totals().minus(&totals_before);
    let api = diff_requests(&apiserver_requests(&b.client).await, &api_before);
    let reasons_after = watch.event_reasons();
    let kinds = calls_by_kind(&sim_after, &sim_before);
    let calls = sim_after.requests_total - sim_before.requests_total;
    let per_min = calls as f64 / (window_s / 60.0);
    let expected_per_min = n as f64 * 60.0 / scale.resync_s;
    let gets_per_resync = kinds["get"] as f64 / n as f64 / (window_s / scale.resync_s);
    let writes = k8s_writes(&api);
    let cpu = match (s0, s1) {
        (Some(a), Some(b)) => b.cpu_s - a.cpu_s,
        _ => f64::NAN,
    };
    let window_samples: Vec<_> = op.samples()[first_sample..].to_vec();
    let rss_max = window_samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    let rss_end = s1.map(|s| s.rss_mib).unwrap_or(f64::NAN);
    let new_events: u64 = reasons_after
        .iter()
        .map(|(k, v)| v - reasons_before.get(k).copied().unwrap_or(0))
        .sum();
    let kube_writes = sum_where(&writes, |_| true);

    let t = &mut b.table;
    t.add(
        sc,
        "window / resync",
        format!("{window_s:.0} s / {}", scale.resync),
    );
    t.add(
        sc,
        "Aura calls / min (expected N/resync)",
        format!("{per_min:.1} ({expected_per_min:.1})"),
    );
    t.add(sc, "Aura calls by kind / instance", fmt_kinds(&kinds, n));
    t.target(
        sc,
        "GETs per instance per resync interval",
        format!("{gets_per_resync:.2}"),
        "1",
        (0.8..=1.2).contains(&gets_per_resync),
    );
    t.target(
        sc,
        "K8s write requests in the window",
        format!("{kube_writes}"),
        "0",
        kube_writes == 0,
    );
    t.target(
        sc,
        "status changes / events in the window",
        format!("{} / {new_events}", totals.instance_changes),
        "0 / 0",
        totals.instance_changes == 0 && new_events == 0,
    );
    t.add(
        sc,
        "operator CPU in the window",
        format!("{cpu:.2} s ({:.2}% of a core)", 100.0 * cpu / window_s),
    );
    t.add(
        sc,
        "operator RSS (end / max in window)",
        format!("{rss_end:.1} / {rss_max:.1} MiB"),
    );
    b.json.insert(
        "steady".into(),
        json!({
            "n": n, "window_s": window_s, "resync_interval": scale.resync,
            "aura_calls": calls, "aura_calls_per_min": per_min, "expected_calls_per_min": expected_per_min,
            "aura_calls_by_kind": kinds, "gets_per_instance_per_resync": gets_per_resync,
            "k8s_requests": api, "k8s_writes": kube_writes, "watched": totals, "new_events": new_events,
            "cpu_s": cpu, "rss_end_mib": rss_end, "rss_max_mib": rss_max,
        }),
    );
    Ok(())
}

async fn restart_storm(
    b: &mut Bench,
    scale: &Scale,
    op_args: &[String],
    st: &SimState,
    watch: &Watch,
    tracker: &SimTracker,
) -> anyhow::Result<()> {
    let n = scale.n;
    println!("\n== 4 startup and resync storm: restart with {n} objects present");
    let ids: HashSet<String> = st.instances().into_iter().map(|i| i.instance.id).collect();
    let api_before = apiserver_requests(&b.client).await;
    let sim_before = st.counters();
    let totals_before = watch.totals();
    let reasons_before = watch.event_reasons();
    tracker.arm(st);
    let spawn_at = secs(b.t0);
    let spawn = Instant::now();
    let mut op = b.start_operator(&format!("operator-{}-restart.log", scale.name), op_args)?;
    let ready = op.wait_ready(&b.http, Duration::from_secs(120)).await?;
    let deadline = Instant::now() + Duration::from_secs(60 + n as u64 / 2);
    let (mut seen, mut last) = (0, None);
    while Instant::now() < deadline {
        (seen, last) = tracker.observed(&ids);
        if seen == ids.len() {
            break;
        }
        op.check_alive()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let storm_s = last.map(|l| l - spawn_at).unwrap_or(f64::NAN);
    let storm_calls_at_done = st.counters().requests_total - sim_before.requests_total;
    // Anything spurious shows within a few seconds of the storm; the window
    // (five minutes at full scale) also holds the resyncs that follow it.
    let window = restart_window(scale);
    let window_end = Instant::now().max(spawn + window) + Duration::from_secs(5);
    while Instant::now() < window_end {
        op.check_alive()?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let window_s = spawn.elapsed().as_secs_f64();
    tracker.disarm();
    let sim_after = st.counters();
    let api = diff_requests(&apiserver_requests(&b.client).await, &api_before);
    let totals = watch.totals().minus(&totals_before);
    let reasons_after = watch.event_reasons();
    let new_events: BTreeMap<String, u64> = reasons_after
        .iter()
        .map(|(k, v)| (k.clone(), v - reasons_before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect();
    let metrics = op.metrics(&b.http).await.unwrap_or_default();
    let sample = op.sample_now(b.t0);
    let kinds = calls_by_kind(&sim_after, &sim_before);
    let writes = k8s_writes(&api);
    let kube_writes = sum_where(&writes, |_| true);
    let reconciles = metrics.sum("aura_operator_reconciles_total");
    if seen < ids.len() {
        b.failures.push(format!(
            "restart: only {seen}/{} instances re-observed by the new operator",
            ids.len()
        ));
    }

    let t = &mut b.table;
    let sc = "4 startup";
    t.add(
        sc,
        "process start to /readyz 200",
        format!("{:.2} s ({n} objects)", ready.as_secs_f64()),
    );
    let sc = "3 storm";
    t.add(
        sc,
        "window counted (from the restart)",
        format!("{window_s:.0} s, resync {}", scale.resync),
    );
    t.add(
        sc,
        "start to every instance re-observed",
        format!("{storm_s:.1} s ({seen}/{})", ids.len()),
    );
    t.add(
        sc,
        "Aura calls used (by the last first GET)",
        format!(
            "{storm_calls_at_done} ({:.2} / instance)",
            per(storm_calls_at_done, n)
        ),
    );
    t.add(
        sc,
        "Aura calls by kind / instance (in the window)",
        fmt_kinds(&kinds, n),
    );
    let reads_allowed = resync_reads_allowed(n, window_s, scale.resync_s);
    t.target(
        sc,
        "instance GETs in the window",
        format!("{} ({:.2} / instance)", kinds["get"], per(kinds["get"], n)),
        &format!("<= {reads_allowed} (once, then once per resync)"),
        kinds["get"] <= reads_allowed,
    );
    t.add(
        sc,
        "at the API's 125/min this storm would take",
        format!("{:.1} min", storm_calls_at_done as f64 / f64::from(API_RPM)),
    );
    t.target(
        sc,
        "status changes / K8s write requests / events",
        format!(
            "{} / {kube_writes} / {}",
            totals.instance_changes,
            new_events.values().sum::<u64>()
        ),
        "0 / 0 / 0",
        totals.instance_changes == 0 && kube_writes == 0 && new_events.is_empty(),
    );
    t.add(
        sc,
        "reconciles / operator CPU / peak RSS",
        format!(
            "{reconciles:.0} / {:.2} s / {:.1} MiB",
            sample.map(|s| s.cpu_s).unwrap_or(f64::NAN),
            peak_hwm(&op)
        ),
    );
    b.json.insert(
        "startup".into(),
        json!({"n": n, "readyz_s": ready.as_secs_f64()}),
    );
    b.json.insert(
        "storm".into(),
        json!({
            "n": n, "window_s": window_s, "instance_gets_allowed": reads_allowed,
            "reobserved": seen, "all_reobserved_s": storm_s,
            "aura_calls_until_done": storm_calls_at_done,
            "aura_calls_by_kind": kinds, "k8s_requests": api, "k8s_writes": kube_writes,
            "watched": totals, "new_events": new_events, "reconciles": reconciles,
            "cpu_s": sample.map(|s| s.cpu_s), "peak_rss_mib": peak_hwm(&op),
            "operator_metrics": metrics.operator_series(),
        }),
    );
    op.terminate().await?;
    Ok(())
}

/// `RESTART_WINDOW_S`, else the scale's.
fn restart_window(scale: &Scale) -> Duration {
    std::env::var("RESTART_WINDOW_S")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(scale.restart_window, Duration::from_secs)
}

/// Instance GETs a restart may cost in `window_s`: each of `n` instances
/// read once when it is first seen, then once per resync interval that has
/// fully passed since (a resync spreads its reads; it never bunches them).
fn resync_reads_allowed(n: usize, window_s: f64, resync_s: f64) -> u64 {
    let resyncs = if resync_s > 0.0 {
        (window_s / resync_s).floor() as u64
    } else {
        0
    };
    n as u64 * (1 + resyncs)
}

/// One object of the budget run, so that stragglers show: its time to Ready
/// from the apply's start and the GETs of its Aura instance.
#[derive(Debug, Clone, serde::Serialize)]
struct ObjectDetail {
    name: String,
    ready_s: f64,
    instance_gets: u64,
}

async fn per_object(
    b: &Bench,
    ns: &str,
    names: &[String],
    watch: &Watch,
    sim: &Counters,
    apply_start: f64,
) -> anyhow::Result<Vec<ObjectDetail>> {
    let api: Api<AuraInstance> = Api::namespaced(b.client.clone(), ns);
    let ids: BTreeMap<String, String> = api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter_map(|o| Some((o.name_any(), o.status?.instance_id?)))
        .collect();
    Ok(names
        .iter()
        .zip(watch.tracks(names))
        .map(|(name, track)| ObjectDetail {
            name: name.clone(),
            ready_s: track.ready.map_or(f64::NAN, |r| r - apply_start),
            instance_gets: ids
                .get(name)
                .and_then(|id| sim.instance_gets.get(id))
                .copied()
                .unwrap_or(0),
        })
        .collect())
}

async fn budget(b: &mut Bench, scale: &Scale) -> anyhow::Result<()> {
    let sc = "2 budget";
    // BUDGET_M=50 runs the scenario with another number of objects.
    let m = std::env::var("BUDGET_M")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(scale.m);
    let d = scale.budget_d;
    // Unavoidable: one token and one tenant lookup for the run, then per
    // instance the create and one GET that sees it running.
    let unavoidable = 2 * m as u64 + 2;
    let ideal_issue = bound::issue_ideal(m, d, API_RPM);
    let window = bound::window_bound(m, d, API_RPM);
    println!(
        "\n== 2 budget: {m} objects, D = {d} s, API limits {API_RPM}/min and {API_TOKENS_PER_HOUR} tokens/h, the operator with its defaults"
    );
    let stage = Stage::new(
        b,
        "bench-budget",
        sim_config(BUDGET_CLIENT_ID, d, API_RPM, API_TOKENS_PER_HOUR),
    )
    .await?;
    // The operator's own defaults: no pacing flags.
    let args = stage.operator_args(&[]);
    let Stage {
        sim,
        st,
        ns,
        watch,
        tracker,
    } = stage;
    let mut op = b.start_operator(&format!("operator-{}-budget.log", scale.name), &args)?;
    op.wait_ready(&b.http, Duration::from_secs(60)).await?;
    // What the defaults are, as the operator tells them.
    let operator_rpm = op.metrics(&b.http).await.ok().and_then(|m| {
        m.0.get("aura_operator_aura_rate_limit_requests_per_minute")
            .copied()
    });
    match operator_rpm {
        Some(r) => println!("  operator defaults: client-side limit {r:.0}/min (its /metrics)"),
        None => println!("  operator defaults (its /metrics shows no rate limit)"),
    }
    let names: Vec<String> = (0..m).map(|i| format!("budget-{i:04}")).collect();
    let sim_before = st.counters();
    tracker.arm(&st);
    let (apply_start, _) = apply_all(b, &ns, &names, 16, 1, &watch).await?;
    let timeout = Duration::from_secs_f64((window * 6.0).max(180.0));
    let all = wait_all_ready(b, "budget", &mut op, &watch, &names, apply_start, timeout).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sim_after = st.counters();
    let span = tracker.call_span();
    tracker.disarm();
    let metrics = op.metrics(&b.http).await.unwrap_or_default();
    let (from_apply, _) = sorted_ready_times(&watch, &names, apply_start);
    let actual = from_apply.last().copied().unwrap_or(f64::NAN);
    let ratio_issue = ideal_issue / actual;
    let ratio_window = window / actual;
    let kinds = calls_by_kind(&sim_after, &sim_before);
    let calls = sim_after.requests_total - sim_before.requests_total;
    let too_many = sim_after.too_many_requests - sim_before.too_many_requests;
    let tokens = sim_after.token_calls - sim_before.token_calls;
    // The achieved rate over the span of the calls themselves (first to last
    // Aura call, seen to 100 ms); over the time to all Ready when the tracker
    // saw no span.
    let (rate_span, rate_over) = match span {
        Some((first, last)) if last > first => (last - first, "first to last Aura call"),
        _ => (actual, "apply start to all Ready"),
    };
    let rate = calls as f64 / (rate_span / 60.0);
    if !all {
        b.failures.push(format!(
            "budget: only {}/{m} objects became Ready",
            from_apply.len()
        ));
    }
    let t = &mut b.table;
    t.add(sc, "objects / D", format!("{m} / {d} s"));
    t.add(
        sc,
        "operator client-side limit (its default)",
        operator_rpm.map_or("not in its /metrics".to_string(), |r| {
            format!("{r:.0} / min")
        }),
    );
    t.add(
        sc,
        "unavoidable calls (1 token + 1 tenant + 2/instance)",
        format!("{unavoidable}"),
    );
    t.add(
        sc,
        "ideal (issue) = m / 125 per min + D + 1 s",
        format!("{ideal_issue:.1} s"),
    );
    t.add(
        sc,
        "bound of the API's window (125 in any 60 s)",
        format!("{window:.1} s"),
    );
    t.add(sc, "all Ready after apply start", format!("{actual:.1} s"));
    t.target(
        sc,
        "ratio_issue = ideal (issue) / actual",
        format!("{ratio_issue:.2}"),
        ">= 0.9",
        ratio_issue >= 0.9,
    );
    t.target(
        sc,
        "ratio_window = window bound / actual",
        format!("{ratio_window:.2}"),
        ">= 0.9",
        ratio_window >= 0.9,
    );
    t.target(
        sc,
        "429s received",
        format!("{too_many}"),
        "0",
        too_many == 0,
    );
    t.target(sc, "token requests", format!("{tokens}"), "1", tokens == 1);
    t.add(
        sc,
        "Aura calls total / per instance",
        format!("{calls} / {:.2}", per(calls, m)),
    );
    t.add(sc, "Aura calls by kind / instance", fmt_kinds(&kinds, m));
    t.add(
        sc,
        "achieved call rate",
        format!("{rate:.1} / min ({calls} calls, {rate_over}, {rate_span:.1} s)"),
    );
    let objects = per_object(b, &ns, &names, &watch, &sim_after, apply_start).await?;
    let slowest = objects.iter().map(|o| o.ready_s).fold(f64::NAN, f64::max);
    let most_gets = objects.iter().map(|o| o.instance_gets).max().unwrap_or(0);
    let gets: u64 = objects.iter().map(|o| o.instance_gets).sum();
    let t = &mut b.table;
    t.add(
        sc,
        "instance GETs per object: mean / most",
        format!("{:.2} / {most_gets}", per(gets, m)),
    );
    // Creates that fit in one minute of the API's budget can all be Ready a
    // moment after D: no object should be left behind by its polls.
    if m <= API_RPM as usize / 2 {
        t.target(
            sc,
            "slowest object Ready after apply (p100)",
            format!("{slowest:.1} s"),
            &format!("<= D + 5 s = {:.0} s", d + 5.0),
            slowest <= d + 5.0,
        );
        t.target(
            sc,
            "instance GETs per object (mean)",
            format!("{:.2}", per(gets, m)),
            "<= 1.2",
            per(gets, m) <= 1.2,
        );
    }
    let correctness = check_correctness(b, sc, &ns, &st, m).await?;
    b.json.insert(
        "budget".into(),
        json!({
            "m": m, "d_s": d, "unavoidable_calls": unavoidable,
            "api_rate_per_min": API_RPM, "operator_rate_limit_per_min": operator_rpm,
            "ideal_issue_s": ideal_issue, "window_bound_s": window,
            "all_ready_after_apply_s": actual,
            "ratio_issue": ratio_issue, "ratio_window": ratio_window,
            "apply_start_s": apply_start,
            "time_to_ready_s": from_apply,
            "objects": objects,
            "aura_calls": calls, "aura_calls_by_kind": kinds,
            "aura_calls_by_route": route_delta(&sim_after, &sim_before),
            "call_span_s": span.map(|(f, l)| [f - apply_start, l - apply_start]),
            "achieved_calls_per_min": rate, "achieved_rate_over": rate_over,
            "too_many_requests": too_many, "token_requests": tokens,
            "correctness": correctness,
            "operator_metrics": metrics.operator_series(),
            "sim_timeline": tracker.timeline(),
            "peak_rss_mib": peak_hwm(&op),
        }),
    );
    op.terminate().await?;
    watch.stop();
    tracker.stop();
    sim.shutdown().await;
    Ok(())
}

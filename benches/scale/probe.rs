//! The operator as a child process, and what is measured on it: RSS and CPU from
//! /proc every 250 ms, its `/metrics` and `/readyz`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;
use tokio::process::{Child, Command};

use super::env::signal;

pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Clock ticks per second for /proc/<pid>/stat (`getconf CLK_TCK`, 100 on Linux).
pub fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Seconds since the bench started.
    pub t: f64,
    pub rss_mib: f64,
    pub hwm_mib: f64,
    /// The parts of VmRSS: the heap and other private memory, and the
    /// binary's own pages (file-backed, shared with other copies of it).
    pub anon_mib: f64,
    pub file_mib: f64,
    pub cpu_s: f64,
    /// Open sockets (the apiserver's connections among them).
    pub sockets: u32,
}

/// Reads VmRSS/VmHWM/RssAnon/RssFile (KiB) and utime+stime (ticks) of `pid`.
fn read_proc(pid: u32, tck: f64, t: f64) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let (_, _, cpu_s) = read_stat(pid, tck)?;
    Some(Sample {
        t,
        rss_mib: kib("VmRSS:")? / 1024.0,
        hwm_mib: kib("VmHWM:")? / 1024.0,
        anon_mib: kib("RssAnon:").unwrap_or(f64::NAN) / 1024.0,
        file_mib: kib("RssFile:").unwrap_or(f64::NAN) / 1024.0,
        cpu_s,
        sockets: sockets(pid),
    })
}

/// The descriptors of `pid` that are sockets.
fn sockets(pid: u32) -> u32 {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count() as u32
}

/// CPU seconds used so far by the processes below `root` (summed by command
/// name: etcd, kube-apiserver, ...) and by this benchmark process (which also
/// runs the simulator), to show where a scenario's CPU went.
pub fn cpu_by_process(root: u32, tck: f64) -> BTreeMap<String, f64> {
    // pid -> (ppid, command, CPU seconds)
    let mut procs: HashMap<u32, (u32, String, f64)> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(p) = read_stat(pid, tck) {
            procs.insert(pid, p);
        }
    }
    let below_root = |mut pid: u32| {
        while let Some((ppid, _, _)) = procs.get(&pid) {
            if *ppid == root {
                return true;
            }
            if *ppid <= 1 {
                return false;
            }
            pid = *ppid;
        }
        false
    };
    let mut by_command = BTreeMap::new();
    for (pid, (_, command, cpu)) in &procs {
        if below_root(*pid) {
            *by_command.entry(command.clone()).or_insert(0.0) += cpu;
        }
    }
    if let Some((_, _, cpu)) = read_stat(std::process::id(), tck) {
        by_command.insert("bench+simulator".into(), cpu);
    }
    by_command
}

/// CPU seconds used so far by one process.
pub fn process_cpu(pid: u32, tck: f64) -> Option<f64> {
    read_stat(pid, tck).map(|(_, _, cpu)| cpu)
}

/// (ppid, command, utime+stime in seconds) from /proc/<pid>/stat.
fn read_stat(pid: u32, tck: f64) -> Option<(u32, String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let command = stat[open + 1..close].to_string();
    // The command name may hold spaces: fields count from after the last ')',
    // starting at field 3 (state); ppid is field 4, utime 14, stime 15.
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((ppid, command, (utime + stime) / tck))
}

/// One `aura-operator run` with a sampler.
pub struct Operator {
    child: Child,
    pub pid: u32,
    pub admin: SocketAddr,
    pub spawned: Instant,
    pub log: PathBuf,
    samples: Arc<Mutex<Vec<Sample>>>,
    sampler: tokio::task::JoinHandle<()>,
}

/// A free loopback port (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Operator {
    pub fn start(
        binary: &Path,
        kubeconfig: &Path,
        log: PathBuf,
        args: &[String],
        t0: Instant,
    ) -> anyhow::Result<Self> {
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let file = std::fs::File::create(&log)?;
        let mut cmd = Command::new(binary);
        cmd.arg("run")
            .args(args)
            .args(["--admin-listen", &admin.to_string()])
            .env("KUBECONFIG", kubeconfig)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .kill_on_drop(true);
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let pid = child.id().context("the operator has no pid")?;
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sink = samples.clone();
        let tck = clk_tck();
        let sampler = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tick.tick().await;
                let Some(sample) = read_proc(pid, tck, t0.elapsed().as_secs_f64()) else {
                    break;
                };
                sink.lock().unwrap().push(sample);
            }
        });
        Ok(Self {
            child,
            pid,
            admin,
            spawned,
            log,
            samples,
            sampler,
        })
    }

    /// The latest sample, taken now (not waiting for the sampler).
    pub fn sample_now(&self, t0: Instant) -> Option<Sample> {
        let s = read_proc(self.pid, clk_tck(), t0.elapsed().as_secs_f64())?;
        self.samples.lock().unwrap().push(s);
        Some(s)
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Fails when the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the operator exited ({status}); its log is {}",
                self.log.display()
            );
        }
        Ok(())
    }

    /// Polls `/readyz` every 20 ms; returns the time from spawn to the first 200.
    pub async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let url = format!("http://{}/readyz", self.admin);
        let deadline = self.spawned + timeout;
        loop {
            if let Ok(r) = http.get(&url).timeout(Duration::from_secs(2)).send().await
                && r.status().is_success()
            {
                return Ok(self.spawned.elapsed());
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!("/readyz did not answer 200 within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn metrics(&self, http: &reqwest::Client) -> anyhow::Result<Metrics> {
        let url = format!("http://{}/metrics", self.admin);
        let text = http
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(Metrics::parse(&text))
    }

    /// SIGKILL, as a node failure or an OOM kill would: no shutdown at all.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        self.sampler.abort();
        Ok(())
    }

    /// SIGTERM; waits for the exit. Returns how long the shutdown took.
    pub async fn terminate(mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        signal(self.pid, "TERM")?;
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .context("the operator did not exit within 60 s of SIGTERM")??;
        self.sampler.abort();
        if !status.success() {
            eprintln!("  note: the operator exited with {status} after SIGTERM");
        }
        Ok(started.elapsed())
    }
}

/// Prometheus text, as `name{labels}` -> value.
#[derive(Debug, Clone, Default)]
pub struct Metrics(pub BTreeMap<String, f64>);

impl Metrics {
    pub fn parse(text: &str) -> Self {
        let mut m = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some((name, value)) = line.rsplit_once(' ')
                && let Ok(v) = value.parse::<f64>()
            {
                m.insert(name.to_string(), v);
            }
        }
        Self(m)
    }

    /// Sum of every series of this metric name.
    pub fn sum(&self, name: &str) -> f64 {
        self.0
            .iter()
            .filter(|(k, _)| *k == name || k.starts_with(&format!("{name}{{")))
            .map(|(_, v)| v)
            .sum()
    }

    /// The series of the aura_operator_ metrics (for the JSON).
    pub fn operator_series(&self) -> BTreeMap<String, f64> {
        self.0
            .iter()
            .filter(|(k, _)| k.starts_with("aura_operator_") && !k.contains("_bucket"))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

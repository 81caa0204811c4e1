//! The world the benchmark runs in: its own control plane (`tests/testenv/run`),
//! a kube client, the CRD, namespaces and credentials.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/` (or `$CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                repo_root().join(p)
            }
        })
        .unwrap_or_else(|| repo_root().join("target"))
}

/// A running `tests/testenv/run`; SIGTERM on drop.
pub struct ControlPlane {
    pid: u32,
    pub kubeconfig: PathBuf,
    exited: mpsc::Receiver<()>,
}

impl ControlPlane {
    /// The launcher's pid: etcd and the Kubernetes components run below it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Starts the launcher (building the binaries first if needed) and waits for
    /// its `ready <kubeconfig>` line.
    pub fn start(scratch: &Path, timeout: Duration) -> anyhow::Result<Self> {
        std::fs::create_dir_all(scratch)?;
        let script = repo_root().join("tests/testenv/run");
        let kubeconfig_out = scratch.join(format!("kubeconfig-{}", std::process::id()));
        let (pid_tx, pid_rx) = mpsc::channel();
        let (line_tx, line_rx) = mpsc::channel::<String>();
        let (exit_tx, exited) = mpsc::channel();
        let log_path = scratch.join("testenv.log");
        let log = std::fs::File::create(&log_path)?;
        // The launcher is spawned by a thread that lives as long as it does,
        // so `--pdeathsig` (per thread) stays armed; AURA_TESTENV_PARENT_PID
        // covers the process.
        std::thread::Builder::new()
            .name("testenv".into())
            .spawn(move || {
                let child = Command::new("setpriv")
                    .args(["--pdeathsig", "TERM", "--"])
                    .arg(&script)
                    .env("KUBECONFIG_OUT", &kubeconfig_out)
                    .env("AURA_TESTENV_PARENT_PID", std::process::id().to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::from(log))
                    .spawn();
                let mut child = match child {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = pid_tx.send(Err(format!("spawning {}: {e}", script.display())));
                        return;
                    }
                };
                let _ = pid_tx.send(Ok(child.id()));
                let out = child.stdout.take().expect("piped stdout");
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    let _ = line_tx.send(line);
                }
                let _ = child.wait();
                let _ = exit_tx.send(());
            })?;
        let pid = pid_rx
            .recv()
            .map_err(|_| anyhow!("the launcher thread died"))?
            .map_err(|e| anyhow!(e))?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match line_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(path) = line.strip_prefix("ready ") {
                        return Ok(Self {
                            pid,
                            kubeconfig: PathBuf::from(path.trim()),
                            exited,
                        });
                    }
                }
                Err(_) => {
                    let _ = signal(pid, "TERM");
                    let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
                    let tail: Vec<&str> = tail.lines().rev().take(30).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    bail!(
                        "tests/testenv/run was not ready within {timeout:?}; its stderr ends:\n{}",
                        tail.join("\n")
                    );
                }
            }
        }
    }

    pub fn stop(&self) {
        if signal(self.pid, "TERM").is_ok() {
            let _ = self.exited.recv_timeout(Duration::from_secs(20));
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `kill -SIG pid`, without libc.
pub fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("kill -{sig} {pid} failed");
    }
    Ok(())
}

pub async fn client(kubeconfig: &Path) -> anyhow::Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    // A thousand creates in flight must not time out on a busy machine.
    config.read_timeout = Some(Duration::from_secs(120));
    Ok(Client::try_from(config)?)
}

/// Applies every CRD and waits until each is Established.
pub async fn ensure_crd(client: &Client) -> anyhow::Result<()> {
    for crd in aura_operator::api::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        apply_crd(client, &name, &crd).await?;
    }
    Ok(())
}

async fn apply_crd(
    client: &Client,
    name: &str,
    crd: &CustomResourceDefinition,
) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    api.patch(
        name,
        &PatchParams::apply("aura-operator-bench").force(),
        &Patch::Apply(crd),
    )
    .await
    .context("apply the CRD")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let established = api
            .get(name)
            .await
            .ok()
            .and_then(|c| c.status)
            .and_then(|s| s.conditions)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if established {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the CRD was not Established within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn create_namespace(client: &Client, prefix: &str) -> anyhow::Result<String> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("{prefix}-{}", &suffix[..6]);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("create namespace {name}"))?;
    Ok(name)
}

pub async fn put_credentials(
    client: &Client,
    ns: &str,
    name: &str,
    id: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"clientId": id, "clientSecret": secret},
    });
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::apply("aura-operator-bench").force(),
            &Patch::Apply(body),
        )
        .await
        .context("write the credentials Secret")?;
    Ok(())
}

//! A control plane with a real node (`tests/testenv/run --node`), for the
//! few tests where only a running Pod tells the truth (`tests/e2e/node.rs`).
//!
//! Started once per process, on first use, by the node tests only: the rest
//! of the suite never pays for it (its own control plane, about 3 s for the
//! node once built). Before it starts, the operator's image is built from
//! the release binary (`tests/testenv/node/operator-image.py`, the
//! Dockerfile's runtime stage) and handed to the node's runtime with the
//! pause and tool images (`localhost/aura-testenv/...`, never pulled).
//!
//! A machine that cannot run a node (not root, no cgroups, a failed build)
//! makes the node tests say why and skip, unless `AURA_TESTENV_NODE=required`
//! (`make test` sets it), which turns the skip into a failure.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use kube::{Client, Config};

use super::launcher::{self, Launcher};

/// The image of the operator on the node, built from the release binary.
pub const OPERATOR_IMAGE: &str = "localhost/aura-testenv/aura-operator:test";
/// The test tool's image (tests/testenv/tool).
pub const TOOL_IMAGE: &str = "localhost/aura-testenv/tool:1";

pub struct Node {
    launcher: Launcher,
    bin_dir: PathBuf,
    /// The node's name (its IP address).
    pub name: String,
    /// The host side of the node's veth: what listens here (a simulator)
    /// is reachable from the node's Pods, and from nowhere else.
    pub host_ip: IpAddr,
}

static NODE: OnceLock<Result<Node, String>> = OnceLock::new();

impl Node {
    pub fn kubeconfig(&self) -> PathBuf {
        self.launcher.kubeconfig().to_path_buf()
    }

    /// `kubectl` or `helm` on the node's control plane.
    pub fn tool(&self, tool: &str) -> Command {
        super::tool_on(&self.bin_dir, tool, &self.kubeconfig())
    }

    pub async fn client(&self) -> Client {
        let config: Config = super::config_from(&self.kubeconfig()).await;
        Client::try_from(config).expect("a client for the node's control plane")
    }

    /// The node's launcher log (its stderr tail), for failure messages.
    pub fn log(&self) -> String {
        self.launcher.stderr_tail()
    }
}

fn start() -> Result<Node, String> {
    aura_operator::install_crypto_provider();
    if !is_root() {
        return Err("not root: a node needs network namespaces, mounts and cgroups".into());
    }
    let bin_dir = launcher::build_node().map_err(|e| format!("building the node failed: {e}"))?;
    let image = super::scratch_path("operator-image.tar");
    std::fs::create_dir_all(image.parent().unwrap()).map_err(|e| e.to_string())?;
    let binary = super::release_binary();
    let out = Command::new("python3")
        .arg(super::repo_root().join("tests/testenv/node/operator-image.py"))
        .arg(&image)
        .arg(&binary)
        .output()
        .map_err(|e| format!("running operator-image.py: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the operator image failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let launcher = Launcher::start_node(
        &super::scratch_path("node-kubeconfig"),
        std::process::id(),
        super::start_timeout(),
        &[image],
    )?;
    let name = launcher.node().unwrap_or_default().to_string();
    let side = format!("{}.node-host-ip", launcher.kubeconfig().display());
    let host_ip = std::fs::read_to_string(&side)
        .map_err(|e| format!("reading {side}: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("{side}: {e}"))?;
    Ok(Node {
        launcher,
        bin_dir,
        name,
        host_ip,
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The node, started on first use; `None` (with the reason printed) when
/// this machine cannot have one and `AURA_TESTENV_NODE` is not `required`.
pub async fn node(test: &str) -> Option<&'static Node> {
    let started = match NODE.get() {
        Some(n) => n,
        None => tokio::task::spawn_blocking(|| NODE.get_or_init(start))
            .await
            .expect("starting the node"),
    };
    match started {
        Ok(node) => Some(node),
        Err(why) if std::env::var("AURA_TESTENV_NODE").as_deref() == Ok("required") => {
            panic!(
                "{test}: the node is required (AURA_TESTENV_NODE=required) but did not start: {why}"
            )
        }
        Err(why) => {
            eprintln!("SKIPPED {test}: no node on this machine: {why}");
            None
        }
    }
}

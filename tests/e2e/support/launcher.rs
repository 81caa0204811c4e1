//! Runs `tests/testenv/run` as a child process and waits for its
//! `ready <kubeconfig>` line (and, with a node, its `node-ready <name>` line).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many lines of the launcher's stderr are kept for error messages.
const STDERR_LINES: usize = 200;

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads one `KEY=value` entry of `tests/testenv/versions.env`.
pub fn testenv_version(key: &str) -> String {
    let path = repo_root().join("tests/testenv/versions.env");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter_map(|line| line.trim().split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("{key} is not set in {}", path.display()))
}

/// Builds the control plane if needed (`tests/testenv/run --build-only`:
/// `tests/testenv/build` under a lock; returns at once when the binaries
/// exist) and returns the bin directory. Its progress goes straight to the
/// terminal, so a cold build (minutes) is visible; a failure (no Go, a
/// compile error) is an error, never a skip.
pub fn build() -> Result<PathBuf, String> {
    build_with(&[])
}

/// [`build`] with the node's parts too (`run --build-only --node`).
pub fn build_node() -> Result<PathBuf, String> {
    build_with(&["--node"])
}

fn build_with(args: &[&str]) -> Result<PathBuf, String> {
    let script = repo_root().join("tests/testenv/run");
    let out = Command::new(&script)
        .arg("--build-only")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}); see its output above",
            script.display(),
            out.status
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or_else(|| format!("{} printed no bin directory", script.display()))?;
    Ok(PathBuf::from(dir))
}

enum Event {
    Line(String),
    Exited(std::io::Result<ExitStatus>),
}

/// A running `tests/testenv/run`.
///
/// The process is spawned by a dedicated thread under
/// `setpriv --pdeathsig TERM` (the parent-death signal fires when the
/// spawning *thread* exits; that thread lives as long as the launcher), and
/// with `AURA_TESTENV_PARENT_PID`, so the control plane goes away with the
/// process that owns it even when nobody calls [`Launcher::stop`] (the Rust
/// test harness never drops statics).
pub struct Launcher {
    pid: u32,
    kubeconfig: PathBuf,
    node: Option<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    events: Mutex<Receiver<Event>>,
}

impl Launcher {
    /// Starts a launcher writing its kubeconfig to `kubeconfig_out`, which
    /// shuts down when process `parent_pid` dies, and waits up to `timeout`
    /// for it to be ready. On failure the launcher is stopped and the error
    /// carries the tail of its stderr.
    pub fn start(
        kubeconfig_out: &Path,
        parent_pid: u32,
        timeout: Duration,
    ) -> Result<Launcher, String> {
        Self::start_with(kubeconfig_out, parent_pid, timeout, None)
    }

    /// [`Launcher::start`] with a node (`run --node`), the OCI archives
    /// `images` imported into its runtime; waits for `node-ready` too.
    pub fn start_node(
        kubeconfig_out: &Path,
        parent_pid: u32,
        timeout: Duration,
        images: &[PathBuf],
    ) -> Result<Launcher, String> {
        Self::start_with(kubeconfig_out, parent_pid, timeout, Some(images))
    }

    fn start_with(
        kubeconfig_out: &Path,
        parent_pid: u32,
        timeout: Duration,
        node_images: Option<&[PathBuf]>,
    ) -> Result<Launcher, String> {
        let script = repo_root().join("tests/testenv/run");
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, events) = mpsc::channel();
        let (pid_tx, pid_rx) = mpsc::channel();

        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "TERM", "--"])
            .arg(&script)
            .env("KUBECONFIG_OUT", kubeconfig_out)
            .env("AURA_TESTENV_PARENT_PID", parent_pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(images) = node_images {
            let list: Vec<_> = images.iter().map(|p| p.display().to_string()).collect();
            cmd.arg("--node")
                .env("AURA_TESTENV_NODE_IMAGES", list.join(" "));
        }
        let stderr_buf = Arc::clone(&stderr);
        std::thread::Builder::new()
            .name("testenv-launcher".into())
            .spawn(move || {
                let mut child = match cmd.spawn() {
                    Ok(child) => child,
                    Err(e) => {
                        let _ =
                            pid_tx.send(Err(format!("spawning setpriv {}: {e}", script.display())));
                        return;
                    }
                };
                let _ = pid_tx.send(Ok(child.id()));
                let err = child.stderr.take().expect("piped stderr");
                std::thread::spawn(move || drain_lines(err, &stderr_buf));
                let out = child.stdout.take().expect("piped stdout");
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(Event::Line(line)).is_err() {
                        break;
                    }
                }
                // Stays here (keeping the parent-death signal armed) until
                // the launcher exits.
                let _ = tx.send(Event::Exited(child.wait()));
            })
            .map_err(|e| format!("spawning the launcher thread: {e}"))?;

        let pid = pid_rx
            .recv()
            .map_err(|_| "the launcher thread died".to_string())??;
        let mut launcher = Launcher {
            pid,
            kubeconfig: PathBuf::new(),
            node: None,
            stderr,
            events: Mutex::new(events),
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match launcher.recv_timeout(left) {
                Ok(Event::Line(line)) => {
                    if let Some(path) = line.strip_prefix("ready ") {
                        launcher.kubeconfig = PathBuf::from(path.trim());
                        if node_images.is_none() {
                            return Ok(launcher);
                        }
                    } else if let Some(name) = line.strip_prefix("node-ready ") {
                        launcher.node = Some(name.trim().to_string());
                        return Ok(launcher);
                    }
                    launcher.note(format!("(stdout) {line}"));
                }
                Ok(Event::Exited(status)) => {
                    let status = match status {
                        Ok(s) => s.to_string(),
                        Err(e) => e.to_string(),
                    };
                    return Err(launcher.failure(&format!("exited before it was ready ({status})")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(launcher.failure("vanished before it was ready"));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let msg = launcher.failure(&format!("was not ready within {timeout:?}"));
                    let _ = launcher.stop(Duration::from_secs(10));
                    return Err(msg);
                }
            }
        }
    }

    /// The admin kubeconfig this launcher wrote.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The name of its node (`run --node`), once Ready.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The launcher's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The launcher's stderr so far (last lines).
    pub fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Sends SIGTERM and waits up to `timeout` for the launcher to exit
    /// (it stops its components and removes its files first).
    pub fn stop(&self, timeout: Duration) -> Result<ExitStatus, String> {
        signal(self.pid, "TERM")?;
        self.wait_exit(timeout)
    }

    /// Waits up to `timeout` for the launcher to exit on its own.
    pub fn wait_exit(&self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_timeout(left) {
                Ok(Event::Line(_)) => {}
                Ok(Event::Exited(status)) => {
                    return status.map_err(|e| format!("waiting for the launcher: {e}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the launcher thread is gone".into());
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "launcher {} did not exit within {timeout:?}\n{}",
                        self.pid,
                        self.stderr_tail()
                    ));
                }
            }
        }
    }

    fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.recv_timeout(timeout)
    }

    fn note(&self, line: String) {
        push_line(&self.stderr, line);
    }

    fn failure(&self, what: &str) -> String {
        // Give the stderr drain a moment to catch the last words.
        std::thread::sleep(Duration::from_millis(200));
        format!(
            "tests/testenv/run (pid {}) {what}; its stderr:\n{}",
            self.pid,
            self.stderr_tail()
        )
    }
}

/// Sends `kill -SIGNAL pid` (no libc needed).
pub fn signal(pid: u32, sig: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("running kill: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -{sig} {pid} failed ({status})"))
    }
}

fn push_line(buf: &Mutex<VecDeque<String>>, line: String) {
    let mut lines = buf.lock().unwrap_or_else(|e| e.into_inner());
    if lines.len() == STDERR_LINES {
        lines.pop_front();
    }
    lines.push_back(line);
}

fn drain_lines(reader: impl Read, buf: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                push_line(buf, text);
            }
        }
    }
}

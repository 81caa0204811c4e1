//! A real Neo4j 5 server for integration tests: runs `tests/neo4j/run` (an
//! in-process Neo4j 5.26 LTS from the official test harness, built once into
//! a cache by Maven) and waits for its `ready <url>` line.
//!
//! The server listens on 127.0.0.1 on a free port, with authentication on:
//! user `neo4j`, the password given to [`Neo4j::start`] (no forced change).
//! Its HTTP connector serves the Query API:
//! `POST {url}/db/neo4j/query/v2` with HTTP Basic auth and a JSON body
//! `{"statement": "RETURN 1"}` answers `202 Accepted` with
//! `{"data":{"fields":["1"],"values":[[1]]},"bookmarks":["FB:..."]}`;
//! a wrong password gets 401, an unknown database 404.
//!
//! Teardown: the server exits when its stdin (held by [`Neo4j`]) closes, on
//! SIGTERM ([`Neo4j::stop`]), when its spawning thread dies
//! (`setpriv --pdeathsig TERM`), or on SIGKILL when the [`Neo4j`] is
//! dropped. So nothing is left running when a test panics or the test binary
//! exits, even from a `static`.
//!
//! The first start on a machine builds the server (Maven downloads ~100 MB
//! and records a class-data-sharing archive: a minute or more); later starts
//! take ~5-10 s.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long [`Neo4j::start`] waits for `ready`, a cold build included.
/// Override with `AURA_NEO4J_START_TIMEOUT` (seconds).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// How long [`Neo4j::stop`] waits after SIGTERM before it sends SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How many lines of the server's stderr are kept for error messages.
const STDERR_LINES: usize = 200;

enum Event {
    Line(String),
    Exited(std::io::Result<ExitStatus>),
}

/// A running test Neo4j server (see the module docs).
pub struct Neo4j {
    pid: u32,
    url: String,
    password: String,
    dir: PathBuf,
    /// The server's stdin: dropping it makes the server shut down.
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    events: Mutex<Receiver<Event>>,
    exited: Option<String>,
}

impl Neo4j {
    /// Starts a server whose user `neo4j` has `password`, and waits until
    /// its Query API answers (building it first if needed). On failure the
    /// server is killed and the error carries the tail of its stderr.
    pub fn start(password: &str) -> Result<Neo4j, String> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/neo4j/run");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("aura-neo4j")
            .join(format!(
                "{}-{}",
                std::process::id(),
                COUNT.fetch_add(1, Ordering::Relaxed)
            ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;

        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "TERM", "--"])
            .arg(&script)
            .args(["--port", "0", "--password", password, "--dir"])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());

        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, events) = mpsc::channel();
        let (started_tx, started_rx) = mpsc::channel();
        let stderr_buf = Arc::clone(&stderr);
        // The parent-death signal fires when the spawning *thread* exits, so
        // this thread lives as long as the server.
        std::thread::Builder::new()
            .name("neo4j-server".into())
            .spawn(move || {
                let mut child = match cmd.spawn() {
                    Ok(child) => child,
                    Err(e) => {
                        let _ = started_tx
                            .send(Err(format!("spawning setpriv {}: {e}", script.display())));
                        return;
                    }
                };
                let stdin = child.stdin.take().expect("piped stdin");
                let _ = started_tx.send(Ok((child.id(), stdin)));
                let err = child.stderr.take().expect("piped stderr");
                std::thread::spawn(move || drain_stderr(err, &stderr_buf));
                let out = child.stdout.take().expect("piped stdout");
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(Event::Line(line)).is_err() {
                        break;
                    }
                }
                let _ = tx.send(Event::Exited(child.wait()));
            })
            .map_err(|e| format!("spawning the neo4j thread: {e}"))?;

        let (pid, stdin) = started_rx
            .recv()
            .map_err(|_| "the neo4j thread died".to_string())??;
        let mut neo4j = Neo4j {
            pid,
            url: String::new(),
            password: password.to_string(),
            dir,
            stdin: Some(stdin),
            stderr,
            events: Mutex::new(events),
            exited: None,
        };
        let timeout = start_timeout();
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match neo4j.recv_timeout(left) {
                Ok(Event::Line(line)) => {
                    if let Some(url) = line.strip_prefix("ready ") {
                        neo4j.url = url.trim().trim_end_matches('/').to_string();
                        return Ok(neo4j);
                    }
                    push_line(&neo4j.stderr, format!("(stdout) {line}"));
                }
                Ok(Event::Exited(status)) => {
                    let status = match status {
                        Ok(s) => s.to_string(),
                        Err(e) => e.to_string(),
                    };
                    neo4j.exited = Some(status.clone());
                    return Err(neo4j.failure(&format!("exited before it was ready ({status})")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    neo4j.exited = Some("vanished".into());
                    return Err(neo4j.failure("vanished before it was ready"));
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Dropping `neo4j` kills it.
                    return Err(neo4j.failure(&format!(
                        "was not ready within {timeout:?} (AURA_NEO4J_START_TIMEOUT)"
                    )));
                }
            }
        }
    }

    /// The HTTP base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Query API endpoint of `database`: `{url}/db/{database}/query/v2`.
    pub fn query_url(&self, database: &str) -> String {
        format!("{}/db/{database}/query/v2", self.url)
    }

    /// The user name (`neo4j`).
    pub fn user(&self) -> &str {
        "neo4j"
    }

    /// The password given to [`Neo4j::start`].
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The server's process id (the JVM's, once started).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's stderr so far (last lines; its own logs are files in
    /// its work directory, removed when it stops cleanly).
    pub fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Stops the server: SIGTERM, then waits for it to exit (a clean
    /// shutdown takes ~2-3 s; SIGKILL after 30 s). Afterwards its port
    /// refuses connections. Calling it again does nothing.
    pub fn stop(&mut self) {
        if self.exited.is_some() {
            return;
        }
        let _ = signal(self.pid, "TERM");
        if self.wait_exit(STOP_TIMEOUT).is_none() {
            eprintln!(
                "neo4j (pid {}) did not stop within {STOP_TIMEOUT:?} of SIGTERM; killing it\n{}",
                self.pid,
                self.stderr_tail()
            );
            self.kill();
        }
        self.stdin = None;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn kill(&mut self) {
        if self.exited.is_some() {
            return;
        }
        let _ = signal(self.pid, "KILL");
        if self.wait_exit(Duration::from_secs(10)).is_none() {
            eprintln!("neo4j (pid {}) survived SIGKILL for 10 s", self.pid);
        }
    }

    /// Waits up to `timeout` for the exit event; returns how it exited.
    fn wait_exit(&mut self, timeout: Duration) -> Option<String> {
        if let Some(status) = &self.exited {
            return Some(status.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_timeout(left) {
                Ok(Event::Line(_)) => {}
                Ok(Event::Exited(status)) => {
                    let status = match status {
                        Ok(s) => s.to_string(),
                        Err(e) => e.to_string(),
                    };
                    self.exited = Some(status.clone());
                    return Some(status);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.exited = Some("vanished".into());
                    return self.exited.clone();
                }
                Err(RecvTimeoutError::Timeout) => return None,
            }
        }
    }

    fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.recv_timeout(timeout)
    }

    fn failure(&self, what: &str) -> String {
        // Give the stderr drain a moment to catch the last words.
        std::thread::sleep(Duration::from_millis(200));
        format!(
            "tests/neo4j/run (pid {}) {what}; its stderr:\n{}",
            self.pid,
            self.stderr_tail()
        )
    }
}

impl Drop for Neo4j {
    fn drop(&mut self) {
        self.kill();
        self.stdin = None;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_timeout() -> Duration {
    std::env::var("AURA_NEO4J_START_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(START_TIMEOUT)
}

/// Sends `kill -SIGNAL pid` (no libc needed).
fn signal(pid: u32, sig: &str) -> Result<(), String> {
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

/// Keeps the server's stderr; the build script's progress lines
/// (`tests/neo4j/run: ...`) are echoed so a cold build is visible.
fn drain_stderr(reader: impl Read, buf: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                if text.starts_with("tests/neo4j/run:") {
                    eprintln!("{text}");
                }
                push_line(buf, text);
            }
        }
    }
}

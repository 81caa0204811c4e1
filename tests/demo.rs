//! `make demo ARGS=--once` works end to end and leaves no process behind.
//!
//! A binary of its own, not a module of `tests/e2e`: `scripts/demo` starts a
//! control plane of its own (etcd, kube-apiserver, kube-controller-manager),
//! the simulator and the operator, and this test then checks that none of
//! them is left on the machine. As its own binary it never runs beside the
//! e2e tests (cargo runs test binaries one after another), so that this second
//! control plane's start, which keeps both cores of a small machine busy for
//! a while, does not slow down their timing-sensitive checks.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn make_demo_once_reaches_ready_and_cleans_up() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("make")
        .args(["--no-print-directory", "demo", "ARGS=--once"])
        .current_dir(root)
        .env("AURA_OPERATOR_BIN", env!("CARGO_BIN_EXE_aura-operator"))
        .output()
        .expect("run make demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "make demo failed: {:?}\n{stdout}\n{stderr}",
        out.status
    );

    let ready_row = stdout
        .lines()
        .find(|l| l.starts_with("instance01") && l.contains(" True ") && l.contains("Running"))
        .unwrap_or_else(|| panic!("no Ready row in the watch output:\n{stdout}"));
    assert!(ready_row.contains("neo4j+s://"), "{ready_row}");
    assert!(
        stdout.lines().any(|l| l.contains("Creating")),
        "the watch never showed Creating:\n{stdout}"
    );
    assert!(
        stdout.contains("NEO4J_PASSWORD    ********"),
        "password not masked:\n{stdout}"
    );
    for key in [
        "NEO4J_URI",
        "NEO4J_USERNAME",
        "NEO4J_DATABASE",
        "AURA_INSTANCEID",
        "AURA_INSTANCENAME",
    ] {
        assert!(stdout.contains(key), "{key} missing:\n{stdout}");
    }

    // The Secret works as an application would use it, and the operator says so.
    let answer = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("answer: "))
        .unwrap_or_else(|| panic!("no Query API answer:\n{stdout}"));
    assert!(answer.contains(r#""values":[[1]]"#), "{answer}");
    assert!(
        stdout.contains("CredentialsVerified: True (CredentialsAccepted)"),
        "{stdout}"
    );

    let pids: Vec<u32> = stdout
        .lines()
        .find_map(|l| l.split("(pids ").nth(1))
        .expect("the demo names the processes it stopped")
        .trim_end_matches(')')
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), 3, "control plane, simulator, operator");
    let deadline = Instant::now() + Duration::from_secs(15);
    let alive = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    };
    while pids.iter().any(alive) {
        assert!(Instant::now() < deadline, "processes left behind: {pids:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The control plane's own children (etcd, kube-apiserver, kube-controller-manager)
    // went with it: none of them names the demo's kubeconfig folder.
    let demo_dir = format!("{root}/target/demo");
    let leftovers: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .ok()
                .map(|env| (pid, env))
        })
        .filter(|(_, env)| String::from_utf8_lossy(env).contains(&demo_dir))
        .map(|(pid, _)| pid.to_string())
        .collect();
    assert!(
        leftovers.is_empty(),
        "processes still point at {demo_dir}: {leftovers:?}"
    );
}

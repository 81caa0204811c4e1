//! Every shell block of the README marked `<!-- runnable -->` runs, against the
//! real control plane, so the README cannot rot.

use crate::support;

use std::process::Command;

use support::cluster::{self, DELETION_POLICY};

fn runnable_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- runnable -->" {
            continue;
        }
        let fence = lines.next().expect("a code block after the marker");
        assert!(
            fence.starts_with("```bash"),
            "the marker must precede a bash block, found {fence:?}"
        );
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        blocks.push(body.join("\n"));
    }
    blocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_runnable_blocks_run() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(readme.contains("make test") && readme.contains("make demo"));
    let blocks = runnable_blocks(&readme);
    assert!(blocks.len() >= 3, "only {} runnable blocks", blocks.len());

    // A block applies the deletion-protection policy (and would race a
    // protection test applying it too); another dry-runs the ClusterAuraProject
    // "default", which must not meet a release's real one.
    let _policy = DELETION_POLICY.write().await;
    let _no_release = cluster::shared().await;
    let _ = support::admin_client().await; // start the control plane
    let operator_dir = std::path::Path::new(env!("CARGO_BIN_EXE_aura-operator"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}:{}",
        operator_dir.display(),
        support::bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for block in blocks {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &block])
            .current_dir(root)
            .env("PATH", &path)
            .env("KUBECONFIG", support::kubeconfig_path())
            .output()
            .expect("run bash");
        assert!(
            out.status.success(),
            "README block failed ({:?}):\n{block}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_marker_finds_blocks() {
    let text = "intro\n<!-- runnable -->\n```bash\necho a\necho b\n```\n```bash\nnot this\n```\n";
    assert_eq!(runnable_blocks(text), vec!["echo a\necho b".to_string()]);
}

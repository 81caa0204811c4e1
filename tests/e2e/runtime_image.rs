//! The container image's runtime contract, checked without Docker.
//!
//! The Dockerfile builds with `cargo build --release --locked` and copies the
//! binary alone onto `gcr.io/distroless/cc-debian12:nonroot`, where it runs as
//! uid 65532 with an empty environment (plus what the Deployment sets), a
//! read-only root filesystem and no capabilities. This test builds the binary
//! the same way, copies it alone into an empty folder and runs it through
//! `tests/packaging/runtime-sandbox` (clean environment with only KUBECONFIG,
//! POD_NAME and POD_NAMESPACE; empty read-only working directory; every mount
//! read-only in a private mount namespace; uid/gid 65532 without capabilities
//! when we are root), against the test control plane. It must start, answer
//! `/healthz` and `/readyz` (and `/metrics`) on its admin port, and exit 0 on
//! SIGTERM.
//!
//! `AURA_RELEASE_BINARY=/path/to/aura-operator` skips the build.

use crate::support;
use support::cluster;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::logs::Log;
use support::{eventually, free_port, poll, set_mode};

/// `GET path` on the admin port: (status code, body).
async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    Ok((code, resp.text().await.map_err(|e| e.to_string())?))
}

/// Polls `path` until it answers 200, panicking with the operator's log after
/// `timeout` or as soon as the operator exits.
async fn wait_for_200(
    port: u16,
    path: &str,
    timeout: Duration,
    child: &mut tokio::process::Child,
    log: &Log,
) -> String {
    let last = std::cell::RefCell::new(String::new());
    let body = poll(timeout, Duration::from_millis(200), || {
        let exited = child.try_wait().expect("try_wait");
        let last = &last;
        async move {
            if let Some(status) = exited {
                panic!(
                    "the operator exited ({status}) before {path} answered 200\n--- log ---\n{}",
                    log.text()
                );
            }
            match http_get(port, path).await {
                Ok((200, body)) => Some(body),
                Ok((code, body)) => {
                    *last.borrow_mut() = format!("{code} {body}");
                    None
                }
                Err(e) => {
                    *last.borrow_mut() = e;
                    None
                }
            }
        }
    })
    .await;
    body.unwrap_or_else(|| {
        panic!(
            "{path} did not answer 200 within {timeout:?} (last: {})\n--- log ---\n{}",
            last.borrow(),
            log.text()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_binary_runs_like_the_image_serves_probes_and_exits_0_on_sigterm() {
    let built = tokio::task::spawn_blocking(support::release_binary)
        .await
        .unwrap();
    let _operator = cluster::shared().await;
    let client = support::admin_client().await;
    let ns = support::test_namespace(&client, "runtime-image").await;
    // The CRDs, so that the watches can sync and /readyz can turn ready.
    let crd = support::repo_root().join("crds");
    let out = support::kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-f"])
        .arg(&crd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl apply the CRD: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = support::kubectl()
        .args(["wait", "--for=condition=Established", "--timeout=60s", "-f"])
        .arg(&crd)
        .output()
        .unwrap();
    assert!(out.status.success(), "CRD not Established");

    // The image's filesystem, as far as the binary is concerned: the binary
    // alone, world-readable; a kubeconfig standing in for the mounted
    // ServiceAccount token (0644: uid 65532 must read it); an empty,
    // read-only working directory.
    // In a world-traversable folder of its own: the checkout may sit under a
    // directory uid 65532 cannot enter (a 0700 home, a `mktemp -d`).
    let scratch = support::Scratch::new("runtime-image");
    let root = scratch.path().to_path_buf();
    let bin_dir = root.join("usr/local/bin");
    let workdir = root.join("workdir");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::create_dir_all(&workdir).unwrap();
    let binary = bin_dir.join("aura-operator");
    std::fs::copy(&built, &binary).unwrap();
    set_mode(&binary, 0o755);
    let kubeconfig = root.join("kubeconfig");
    std::fs::copy(support::kubeconfig_path(), &kubeconfig).unwrap();
    set_mode(&kubeconfig, 0o644);
    for dir in [&root, &root.join("usr"), &root.join("usr/local"), &bin_dir] {
        set_mode(dir, 0o755);
    }
    set_mode(&workdir, 0o555);
    // Say which folder would stop uid 65532, instead of a bare "Permission denied".
    for dir in kubeconfig.ancestors().skip(1) {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        assert!(
            mode & 0o001 != 0,
            "{} (mode {:o}) cannot be entered by uid 65532, so the sandboxed binary could not read its kubeconfig",
            dir.display(),
            mode & 0o777
        );
    }

    let port = free_port();
    let sandbox = support::repo_root().join("tests/packaging/runtime-sandbox");
    let mut child = tokio::process::Command::new(&sandbox)
        .arg(&workdir)
        .arg(&kubeconfig)
        .args(["aura-operator-7d9f8c6b5-x2x9q", ns.as_str()])
        .arg(&binary)
        .args([
            "run",
            "--admin-listen",
            &format!("127.0.0.1:{port}"),
            "--namespace",
            &ns,
            "--leader-elect",
            "--lease-name",
            "runtime-image",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the operator in the sandbox");
    let mut log = Log::default();
    log.capture(child.stdout.take().unwrap());
    log.capture(child.stderr.take().unwrap());

    wait_for_200(port, "/healthz", Duration::from_secs(30), &mut child, &log).await;
    // Ready only once the watches have synced (and the lease is held or
    // watched): poll.
    wait_for_200(port, "/readyz", Duration::from_secs(60), &mut child, &log).await;
    let metrics = wait_for_200(port, "/metrics", Duration::from_secs(10), &mut child, &log).await;
    assert!(
        metrics.contains("# TYPE") || metrics.contains("# HELP"),
        "/metrics is not in Prometheus text format:\n{metrics}"
    );

    // The leader lease lands in POD_NAMESPACE (no --lease-namespace given).
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client.clone(), &ns);
    let lease = eventually("the leader lease", Duration::from_secs(30), || {
        let leases = leases.clone();
        async move { leases.get_opt("runtime-image").await.ok().flatten() }
    })
    .await;
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("aura-operator-7d9f8c6b5-x2x9q"),
        "the lease holder is POD_NAME"
    );

    let pid = child
        .id()
        .expect("a running operator has a pid")
        .to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(killed.success(), "kill -TERM {pid}");
    let status = match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
        Ok(status) => status.expect("wait for the operator"),
        Err(_) => {
            let _ = child.kill().await;
            panic!(
                "the operator did not exit within 30 s of SIGTERM\n--- log ---\n{}",
                log.text()
            );
        }
    };
    let text = log.drained().await;
    assert!(
        status.success(),
        "exit status after SIGTERM: {status}\n--- log ---\n{text}"
    );
    assert!(
        text.starts_with("runtime-sandbox:"),
        "the sandbox did not report its mode:\n{text}"
    );
    eprintln!("{}", text.lines().next().unwrap_or_default());
    assert!(!text.contains("panicked"), "the operator panicked:\n{text}");
    let _ = std::fs::remove_dir_all(&root);
}

/// The Dockerfile's build stage sees only what it COPYs (and .dockerignore
/// lets through): that must be enough for cargo to load the manifest (every
/// declared target present) with the lock file, and the runtime stage must
/// keep the contract the chart relies on.
#[test]
fn dockerfile_build_context_is_complete_and_runtime_stage_matches_the_chart() {
    let root = support::repo_root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let dockerignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    let sources: Vec<String> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
        .flat_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().skip(1).collect();
            parts[..parts.len() - 1]
                .iter()
                .map(|s| s.trim_end_matches('/').to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(sources.contains(&"Cargo.lock".to_string()), "{sources:?}");
    // The build script the manifest names: without it cargo still builds,
    // but links the binary differently (cargo metadata cannot tell).
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let build_script = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("build = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("Cargo.toml names its build script");
    assert!(
        sources.contains(&build_script),
        "the Dockerfile copies the build script {build_script}: {sources:?}"
    );
    for src in &sources {
        assert!(
            dockerignore
                .lines()
                .any(|l| l.trim() == format!("!{src}") || l.trim() == format!("!{src}/")),
            ".dockerignore keeps {src} out of the build context"
        );
    }

    // A build context with only those files: cargo must accept the manifest.
    let ctx = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("docker-context-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ctx);
    std::fs::create_dir_all(&ctx).unwrap();
    for src in &sources {
        let status = Command::new("cp")
            .arg("-r")
            .arg(root.join(src))
            .arg(ctx.join(src))
            .status()
            .unwrap();
        assert!(status.success(), "copy {src}");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&ctx)
        .args([
            "metadata",
            "--locked",
            "--offline",
            "--no-deps",
            "--format-version=1",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&ctx);
    assert!(
        out.status.success(),
        "cargo cannot load the manifest from the Docker build context {sources:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The runtime stage: distroless glibc, numeric non-root user, the binary
    // as entrypoint and `run` as default command, OCI labels.
    let runtime = dockerfile
        .rsplit_once("\nFROM ")
        .map(|(_, stage)| stage)
        .expect("a runtime stage");
    assert!(runtime.starts_with("gcr.io/distroless/cc-debian12:nonroot"));
    for want in [
        "USER 65532:65532",
        r#"ENTRYPOINT ["/usr/local/bin/aura-operator"]"#,
        r#"CMD ["run"]"#,
        "org.opencontainers.image.source",
        "org.opencontainers.image.version",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.licenses",
        "EXPOSE 8081",
    ] {
        assert!(runtime.contains(want), "the runtime stage lacks {want}");
    }
    assert!(
        dockerfile.contains("cargo build --release --locked"),
        "the image is built with --release --locked"
    );
}

/// The sections of an ELF64 little-endian file: (name, size).
fn elf_sections(bytes: &[u8]) -> Vec<(String, u64)> {
    assert_eq!(&bytes[..4], b"\x7fELF", "an ELF file");
    assert_eq!(bytes[4], 2, "64-bit");
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let (shoff, shentsize, shnum, shstrndx) = (
        u64_at(0x28) as usize,
        u16_at(0x3a),
        u16_at(0x3c),
        u16_at(0x3e),
    );
    let header = |i: usize| shoff + i * shentsize;
    let names = u64_at(header(shstrndx) + 0x18) as usize;
    (0..shnum)
        .map(|i| {
            let at = names + u32_at(header(i));
            let end = at + bytes[at..].iter().position(|b| *b == 0).unwrap();
            let name = String::from_utf8_lossy(&bytes[at..end]).into_owned();
            (name, u64_at(header(i) + 0x20))
        })
        .collect()
}

/// The relocations the dynamic loader applies at start are packed (DT_RELR):
/// unpacked, the position-independent binary carried a 1.4 MB table that was
/// read at every start and stayed resident (issue 34).
#[test]
fn the_release_binary_packs_its_relative_relocations() {
    let built = support::release_binary();
    let sections = elf_sections(&std::fs::read(&built).unwrap());
    let size = |name: &str| sections.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
    assert!(
        size(".relr.dyn").is_some_and(|s| s > 0),
        "{} has no packed relative relocations: {sections:?}",
        built.display()
    );
    let unpacked = size(".rela.dyn").unwrap_or(0);
    assert!(
        unpacked < 256 * 1024,
        "{} still carries {unpacked} bytes of unpacked relocations",
        built.display()
    );
}

/// The binary allocates with jemalloc, configured as `src/main.rs` says (one
/// arena, no thread caches, freed pages given back): its statistics, printed
/// at exit on request, show the settings in force (issue 34).
#[test]
fn the_release_binary_allocates_with_jemalloc_as_configured() {
    let built = support::release_binary();
    let out = Command::new(&built)
        .arg("--help")
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{} --help", built.display());
    let stats = String::from_utf8_lossy(&out.stderr);
    for want in [
        "opt.narenas: 1",
        "opt.tcache: false",
        "opt.dirty_decay_ms: 1000",
        "opt.muzzy_decay_ms: 0",
    ] {
        assert!(
            stats.lines().any(|l| l.trim().starts_with(want)),
            "jemalloc's statistics lack {want:?}:\n{}",
            stats.lines().take(40).collect::<Vec<_>>().join("\n")
        );
    }
}

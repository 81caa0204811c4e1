//! What the integration tests share: a local Kubernetes control plane, the
//! harness around the operator, helpers generic over the kinds, manifests,
//! and the locks that keep tests apart on the shared apiserver.
//!
//! One control plane per process (etcd, kube-apiserver,
//! kube-controller-manager from `tests/testenv/run`), started lazily on first
//! use and shared by every test of the process: the e2e binary's, or
//! `tests/testenv.rs`'s (which includes this module by path). Tests run on
//! different threads and tokio runtimes, so only runtime-independent state is
//! shared (the kubeconfig path); every call builds a fresh `kube::Client` on
//! the caller's runtime. Isolate tests by namespace ([`test_namespace`]) or
//! unique names, and take the locks of [`cluster`] for what is cluster-wide:
//! the apiserver is shared.
//!
//! Teardown: the launcher watches this process (`AURA_TESTENV_PARENT_PID`,
//! polled every second) and gets SIGTERM when its spawning thread dies
//! (`setpriv --pdeathsig`); its components get SIGKILL if the launcher itself
//! is killed. Nothing is left behind when a test panics or the binary exits.
#![allow(dead_code)] // tests/testenv.rs uses only the control plane

pub mod cluster;
pub mod fixtures;
pub mod harness;
pub mod launcher;
pub mod logs;
pub mod neo4j;
pub mod node;
pub mod objects;

use std::future::Future;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub use launcher::{Launcher, repo_root, testenv_version};

/// The bound of a wait in the tests: generous, never a speed expectation.
pub const WAIT: Duration = Duration::from_secs(60);

/// How long the launcher may take from start to `ready` once the binaries
/// are built (the build itself has no time limit). Override with
/// `AURA_TESTENV_START_TIMEOUT` (seconds).
const START_TIMEOUT: Duration = Duration::from_secs(180);

struct TestEnv {
    bin_dir: PathBuf,
    launcher: Launcher,
}

static ENV: OnceLock<Result<TestEnv, String>> = OnceLock::new();

fn start_timeout() -> Duration {
    std::env::var("AURA_TESTENV_START_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(START_TIMEOUT)
}

/// A kubeconfig path private to this process, so test binaries running at
/// the same time do not overwrite each other's.
pub fn scratch_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("aura-testenv")
        .join(format!("{name}-{}", std::process::id()))
}

fn start() -> Result<TestEnv, String> {
    aura_operator::install_crypto_provider();
    let bin_dir = launcher::build()?;
    let launcher = Launcher::start(
        &scratch_path("kubeconfig"),
        std::process::id(),
        start_timeout(),
    )?;
    Ok(TestEnv { bin_dir, launcher })
}

/// Whether the control plane of this process has started (and not failed).
pub fn started() -> bool {
    matches!(ENV.get(), Some(Ok(_)))
}

/// The shared control plane, started on first use (blocking).
fn env() -> &'static TestEnv {
    match ENV.get_or_init(start) {
        Ok(env) => env,
        Err(msg) => panic!("the test control plane did not start: {msg}"),
    }
}

/// Like [`env`], without blocking the caller's runtime.
async fn env_async() -> &'static TestEnv {
    if let Some(Ok(env)) = ENV.get() {
        return env;
    }
    match tokio::task::spawn_blocking(env).await {
        Ok(env) => env,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The admin kubeconfig (user in `system:masters`) of the shared control plane.
pub fn kubeconfig_path() -> PathBuf {
    env().launcher.kubeconfig().to_path_buf()
}

/// Where etcd, kube-apiserver, kube-controller-manager, kubectl and helm are.
pub fn bin_dir() -> PathBuf {
    env().bin_dir.clone()
}

/// `kubectl` with `KUBECONFIG` set to the shared control plane's admin config.
pub fn kubectl() -> Command {
    tool_on(&bin_dir(), "kubectl", &kubeconfig_path())
}

/// `helm` with `KUBECONFIG` set to the shared control plane's admin config
/// and its cache/config/data directories under the target directory.
pub fn helm() -> Command {
    tool_on(&bin_dir(), "helm", &kubeconfig_path())
}

/// `kubectl` or `helm` of `bin` on the control plane of `kubeconfig` (helm's
/// cache/config/data directories under the target directory).
pub fn tool_on(bin: &std::path::Path, tool: &str, kubeconfig: &std::path::Path) -> Command {
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aura-testenv/helm");
    let mut cmd = Command::new(bin.join(tool));
    cmd.env("KUBECONFIG", kubeconfig)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    cmd
}

/// A copy of the admin kubeconfig `source` whose user impersonates
/// ServiceAccount `namespace/sa` (the kubeconfig `as` field, which kube-rs
/// and kubectl honour): a process run with it has that account's rights.
pub fn impersonating_kubeconfig(source: &std::path::Path, namespace: &str, sa: &str) -> PathBuf {
    let text = std::fs::read_to_string(source).unwrap();
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let user = serde_yaml::Value::String(format!("system:serviceaccount:{namespace}:{sa}"));
    for u in kc["users"].as_sequence_mut().expect("users") {
        u["user"]
            .as_mapping_mut()
            .expect("user")
            .insert("as".into(), user.clone());
    }
    let name = source.file_name().unwrap().to_string_lossy();
    let path = scratch_path(&format!("{name}-as-{namespace}-{sa}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    path
}

/// A `kube::Config` for the admin user, read from `kubeconfig`.
pub async fn config_from(kubeconfig: &std::path::Path) -> Config {
    aura_operator::install_crypto_provider();
    let kc = Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("reading {}: {e}", kubeconfig.display()));
    Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e}", kubeconfig.display()))
}

/// The admin `kube::Config` of the shared control plane.
pub async fn admin_config() -> Config {
    let env = env_async().await;
    config_from(env.launcher.kubeconfig()).await
}

fn client_for(config: Config) -> Client {
    Client::try_from(config).unwrap_or_else(|e| panic!("building a kube client: {e}"))
}

/// A client with cluster-admin rights (`system:masters`), bound to the
/// caller's tokio runtime.
pub async fn admin_client() -> Client {
    client_for(admin_config().await)
}

/// A client acting as ServiceAccount `namespace/service_account`
/// (impersonation by the admin user), for testing RBAC. The ServiceAccount
/// need not exist; its groups (`system:serviceaccounts`,
/// `system:serviceaccounts:<namespace>`, `system:authenticated`) are added
/// by the apiserver.
pub async fn impersonating_client(namespace: &str, service_account: &str) -> Client {
    let mut config = admin_config().await;
    config.auth_info.impersonate = Some(format!(
        "system:serviceaccount:{namespace}:{service_account}"
    ));
    client_for(config)
}

/// A Role in `ns` with every verb on every aura-operator.io resource (the
/// common shape, `/status` included), bound to ServiceAccount `sa`; nothing
/// on Secrets and nothing cluster-scoped: a namespace's own Aura editor.
pub async fn grant_aura_rights(client: &Client, ns: &str, sa: &str) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "aura-editor"},
        "rules": [{"apiGroups": ["aura-operator.io"], "resources": ["*"], "verbs": ["*"]}],
    }))
    .unwrap();
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await
        .expect("create the Role");
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "aura-editor"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aura-editor"},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await
        .expect("create the RoleBinding");
}

/// Creates a namespace `<prefix>-<random>` (prefix turned into a DNS label)
/// labelled `aura-operator.io/testenv=true`, and returns its name.
pub async fn test_namespace(client: &Client, prefix: &str) -> String {
    let mut label: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    label.truncate(50);
    let label = label.trim_matches('-');
    let label = if label.is_empty() { "test" } else { label };
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("{label}-{}", &suffix[..8]);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some([("aura-operator.io/testenv".to_string(), "true".to_string())].into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
    name
}

/// How often [`eventually`] asks.
const POLL: Duration = Duration::from_millis(200);

/// Polls `check` every 200 ms until it returns `Some`, panicking after
/// `timeout` with `what` in the message.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_every(what, timeout, POLL, check).await
}

/// Like [`eventually`], asking every `interval`.
pub async fn eventually_every<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll(timeout, interval, check).await {
        Some(value) => value,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Polls `check` every `interval` until it returns `Some`; `None` after
/// `timeout`, for callers that fail with more to say (a log, say).
pub async fn poll<T, F, Fut>(timeout: Duration, interval: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(interval).await;
    }
}

/// [`poll`] for threads outside any runtime: `None` after `timeout`.
pub fn poll_blocking<T>(
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(interval);
    }
}

/// Builds the release binary like the Dockerfile (`--release --locked`) and
/// returns its path. Reuses target/release when it is up to date (`make
/// test` builds it before the tests, so that a release build does not run
/// beside them). `AURA_RELEASE_BINARY=/path/to/aura-operator` skips the
/// build. Built once per process.
pub fn release_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build_release_binary).clone()
}

fn build_release_binary() -> PathBuf {
    if let Ok(path) = std::env::var("AURA_RELEASE_BINARY") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(repo_root())
        .args([
            "build",
            "--release",
            "--locked",
            "--bin",
            "aura-operator",
            "--message-format=json-render-diagnostics",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build --release --locked");
    assert!(
        out.status.success(),
        "cargo build --release --locked failed"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "aura-operator")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no aura-operator executable")
}

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// The HTTP status code of a Kubernetes API error, if it is one.
pub fn api_error_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// A folder under /tmp that uid 65532 can traverse (the repository may sit
/// in a 0700 home), removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// The folder itself.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        set_mode(&dir, 0o755);
        Self(dir)
    }

    pub fn dir(&self, name: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(&path).unwrap();
        set_mode(&path, mode);
        path
    }

    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        set_mode(&path, mode);
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // The operator's folders are read-only (0555): make them writable first.
        let _ = std::process::Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn set_mode(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(
        path,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(mode),
    )
    .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// kubectl and helm on a control plane of a test's own.
pub struct Tools {
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
}

impl Tools {
    pub fn command(&self, tool: &str) -> Command {
        tool_on(&self.bin, tool, &self.kubeconfig)
    }

    /// Runs a tool; (stdout, stderr), panicking on failure.
    pub fn run(&self, tool: &str, args: &[&str], stdin: Option<&str>) -> (String, String) {
        use std::io::Write as _;
        let mut cmd = self.command(tool);
        cmd.args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .stdin(if stdin.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            });
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{tool}: {e}"));
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        assert!(
            out.status.success(),
            "{tool} {args:?} failed:\n{stdout}\n{stderr}"
        );
        (stdout, stderr)
    }
}

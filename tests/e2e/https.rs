//! HTTPS as in production: the release binary, run like the container image
//! (`tests/packaging/runtime-sandbox`: uid 65532, clean environment,
//! read-only mounts) with the in-cluster config a Pod gets (ServiceAccount
//! token mounted at /var/run/secrets/kubernetes.io/serviceaccount,
//! KUBERNETES_SERVICE_HOST/PORT), talks TLS to the Aura simulator, verified
//! against the trust store `SSL_CERT_FILE` names, directly or through an HTTP
//! CONNECT proxy (`HTTPS_PROXY`, `NO_PROXY`).
//!
//! Each test makes a throwaway CA and a server certificate for `aura.test`,
//! `localhost` and `127.0.0.1`. `aura.test` resolves nowhere but in the
//! test's proxy, so reaching it proves the traffic went through the proxy.
//!
//! The in-cluster config, not a kubeconfig: kube reads `HTTPS_PROXY` from a
//! kubeconfig-based config (and, without its `http-proxy` feature, refuses to
//! start with one), but not from the in-cluster config, so in a Pod only the
//! Aura client uses the proxy. Needs root (mount namespace, setpriv).
//!
//! `AURA_RELEASE_BINARY=/path/to/aura-operator` skips the release build.

use crate::support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aura_operator::api::AuraInstance;
use aura_operator::simulator::TlsFiles;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use support::harness::{CLIENT_SECRET, Harness, WAIT, condition, manifest};
use support::logs::Log;
use support::{Scratch, set_mode};

/// The name in the simulator's certificate that only the proxy resolves.
const PROXIED_HOST: &str = "aura.test";

/// A self-signed CA (PEM) and, signed by it, a server certificate for
/// `aura.test`, `localhost` and `127.0.0.1` (PEM chain, PEM key).
struct Pki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

fn new_ca(name: &str) -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (rcgen::Issuer::new(params, key), cert.pem())
}

fn pki() -> Pki {
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair};
    let (issuer, ca_pem) = new_ca("aura-operator https test CA");
    let mut params = CertificateParams::new(vec![
        PROXIED_HOST.to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ])
    .unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem,
        server_cert_pem: cert.pem(),
        server_key_pem: key.serialize_pem(),
    }
}

/// What the proxy saw: every CONNECT target, and how many tunnels it opened.
#[derive(Debug, Default, Clone)]
struct ProxyLog {
    connects: Vec<String>,
    tunnels: usize,
    /// Request lines of anything but CONNECT (answered 405).
    other: Vec<String>,
}

/// An HTTP CONNECT proxy on loopback that resolves `routes` (host:port to
/// address) itself and refuses every other target with 502.
async fn start_proxy(routes: HashMap<String, SocketAddr>) -> (SocketAddr, Arc<Mutex<ProxyLog>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(ProxyLog::default()));
    let routes = Arc::new(routes);
    let shared = log.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(proxy_connection(client, routes.clone(), shared.clone()));
        }
    });
    (addr, log)
}

async fn proxy_connection(
    mut client: TcpStream,
    routes: Arc<HashMap<String, SocketAddr>>,
    log: Arc<Mutex<ProxyLog>>,
) {
    // The request head; a CONNECT client sends nothing more before the 200.
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default().to_string();
    let mut words = line.split_whitespace();
    let (method, target) = (words.next(), words.next().unwrap_or_default().to_string());
    if method != Some("CONNECT") {
        log.lock().unwrap().other.push(line);
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    }
    log.lock().unwrap().connects.push(target.clone());
    let upstream = match routes.get(&target) {
        Some(addr) => TcpStream::connect(addr).await.ok(),
        None => None,
    };
    let Some(mut upstream) = upstream else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    log.lock().unwrap().tunnels += 1;
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// PEM of DER certificates.
fn pem_certificates(ders: &[Vec<u8>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in ders {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// A ServiceAccount bound to cluster-admin (RBAC is not what this file tests;
/// the operator also writes cluster-scoped claims), and the folder the kubelet
/// would mount for it: token, ca.crt, namespace. Returns the folder and the
/// apiserver's (host, port) for KUBERNETES_SERVICE_HOST/PORT.
async fn service_account(h: &Harness, scratch: &Scratch) -> (PathBuf, String, String) {
    let name = "aura-operator";
    let accounts: Api<ServiceAccount> = Api::namespaced(h.client.clone(), &h.ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    accounts
        .create(&PostParams::default(), &sa)
        .await
        .expect("create the ServiceAccount");
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{}", h.ns)),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "cluster-admin".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: name.into(),
            namespace: Some(h.ns.clone()),
            ..Subject::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(h.client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .expect("bind the ServiceAccount to cluster-admin");
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let token = accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("a ServiceAccount token")
        .status
        .expect("a TokenRequest status")
        .token
        .expect("a token in the TokenRequest status");

    let config = support::admin_config().await;
    let ca = pem_certificates(config.root_cert.as_deref().expect("the apiserver CA"));
    let host = config
        .cluster_url
        .host()
        .expect("apiserver host")
        .to_string();
    let port = config
        .cluster_url
        .port_u16()
        .expect("apiserver port")
        .to_string();

    let dir = scratch.dir("serviceaccount", 0o755);
    let token_file = dir.join("token");
    std::fs::write(&token_file, token).unwrap();
    std::os::unix::fs::chown(&token_file, Some(65532), Some(65532)).unwrap();
    set_mode(&token_file, 0o400);
    std::fs::write(dir.join("ca.crt"), ca).unwrap();
    set_mode(&dir.join("ca.crt"), 0o644);
    std::fs::write(dir.join("namespace"), &h.ns).unwrap();
    set_mode(&dir.join("namespace"), 0o644);
    (dir, host, port)
}

/// The release operator in the runtime sandbox, as a Pod runs it.
struct Operator {
    child: Child,
    log: Log,
}

impl Operator {
    /// `env`: what the Deployment's `env:` would add (SSL_CERT_FILE, proxies).
    async fn start(h: &Harness, scratch: &Scratch, base_url: &str, env: &[(&str, String)]) -> Self {
        let built = tokio::task::spawn_blocking(support::release_binary)
            .await
            .unwrap();
        let (account, host, port) = service_account(h, scratch).await;
        let bin_dir = scratch.dir("bin", 0o755);
        let binary = bin_dir.join("aura-operator");
        std::fs::copy(&built, &binary).unwrap();
        set_mode(&binary, 0o755);
        let workdir = scratch.dir("workdir", 0o555);

        let mut env: Vec<(&str, String)> = env.to_vec();
        env.push(("KUBERNETES_SERVICE_HOST", host));
        env.push(("KUBERNETES_SERVICE_PORT", port));
        let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
        let mut cmd = Command::new(support::repo_root().join("tests/packaging/runtime-sandbox"));
        cmd.arg(&workdir)
            .arg("") // no KUBECONFIG: the in-cluster config
            .args(["aura-operator-5d8c7b9f4-q7x2w", h.ns.as_str()])
            .arg(&binary)
            .args(["run", "--namespace", &h.ns, "--aura-base-url", base_url])
            .args(["--poll-interval", "500ms", "--resync-interval", "20s"])
            .args(["--create-grace", "4s", "--admin-listen", "127.0.0.1:0"])
            .args(["--log-level", "info,aura_operator=debug"])
            .env("AURA_SANDBOX_ENV", names.join(" "))
            .env("AURA_SANDBOX_SERVICEACCOUNT", &account)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start the operator in the sandbox");
        let mut log = Log::default();
        log.capture(child.stdout.take().unwrap());
        log.capture(child.stderr.take().unwrap());
        Self { child, log }
    }

    fn log(&self) -> String {
        self.log.text()
    }

    /// Kills it; its whole log once it is gone.
    async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        self.log.drained().await
    }
}

/// The operator's log without secrets, for failure messages.
fn redacted(h: &Harness, log: &str) -> String {
    let mut log = log.replace(CLIENT_SECRET, "<client secret>");
    for i in h.sim.state().instances() {
        log = log.replace(&i.password, "<password>");
    }
    log
}

/// Polls the AuraInstance until `check` returns Some, failing with the
/// operator's (redacted) log after `WAIT`, or as soon as the operator exits.
async fn wait_for<T>(
    h: &Harness,
    op: &mut Operator,
    name: &str,
    what: &str,
    check: impl Fn(&AuraInstance) -> Option<T>,
) -> T {
    let last = std::cell::RefCell::new(None);
    let found = support::poll(WAIT, Duration::from_millis(250), || {
        let exited = match op.child.try_wait() {
            Ok(Some(status)) => Some((status, op.log())),
            _ => None,
        };
        let (api, last, check) = (h.instances(), &last, &check);
        async move {
            if let Some((status, log)) = exited {
                panic!(
                    "the operator exited ({status}) while waiting for {name}: {what}\n--- log ---\n{}",
                    redacted(h, &log)
                );
            }
            let obj = api.get_opt(name).await.ok().flatten()?;
            let found = check(&obj);
            *last.borrow_mut() = obj.status.map(|s| s.conditions);
            found
        }
    })
    .await;
    found.unwrap_or_else(|| {
        panic!(
            "{name}: no {what} within {WAIT:?}; last conditions: {:?}\n--- log ---\n{}",
            last.borrow(),
            redacted(h, &op.log())
        )
    })
}

/// Ready, and the connection Secret holds the password Aura issued.
async fn assert_ready_with_password(h: &Harness, op: &mut Operator, name: &str) {
    let id = wait_for(h, op, name, "Ready=True", |o| {
        let ready = condition(o, "Ready").is_some_and(|c| c.0 == "True");
        ready
            .then(|| o.status.as_ref()?.instance_id.clone())
            .flatten()
    })
    .await;
    let issued = h.sim.state().issued_password(&id);
    assert!(issued.is_some(), "Aura issued no password for {id}");
    let secret = format!("{name}-connection");
    let stored = h.secret_value(&secret, "NEO4J_PASSWORD").await;
    // Compared, never printed.
    assert!(
        stored == issued,
        "{secret} does not hold the password Aura issued (present: {})",
        stored.is_some()
    );
}

/// Files the test writes for a simulator with TLS and an operator trusting `ca_pem`.
struct Setup {
    scratch: Scratch,
    pki: Pki,
    tls: TlsFiles,
}

fn setup(prefix: &str) -> Setup {
    let scratch = Scratch::new(prefix);
    let pki = pki();
    let tls = TlsFiles {
        cert: scratch.file("server.crt", &pki.server_cert_pem, 0o644),
        key: scratch.file("server.key", &pki.server_key_pem, 0o600),
    };
    Setup { scratch, pki, tls }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_https_with_the_right_ca_gets_ready_with_its_password() {
    let s = setup("aura-https-direct");
    let tls = s.tls.clone();
    let h = Harness::start("https-direct", move |c| c.tls = Some(tls)).await;
    let base = h.sim.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let ca = s.scratch.file("ca.pem", &s.pki.ca_pem, 0o644);
    let mut op = Operator::start(
        &h,
        &s.scratch,
        &base,
        &[("SSL_CERT_FILE", ca.display().to_string())],
    )
    .await;
    h.create(manifest("direct", json!({}))).await;

    assert_ready_with_password(&h, &mut op, "direct").await;
    let c = h.sim.state().counters();
    assert!(c.tokens_issued >= 1, "no token issued over HTTPS: {c:?}");
    let log = op.stop().await;
    assert!(
        log.starts_with("runtime-sandbox:") && log.contains("uid=65532"),
        "not run like the image:\n{}",
        redacted(&h, &log)
    );
    assert!(!log.contains("panicked"), "{}", redacted(&h, &log));
    h.assert_log_clean(&log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_through_a_connect_proxy_gets_ready_and_leaves_the_kubernetes_api_direct() {
    let s = setup("aura-https-proxy");
    let tls = s.tls.clone();
    let h = Harness::start("https-proxy", move |c| c.tls = Some(tls)).await;
    let sim = h.sim.local_addr();
    let target = format!("{PROXIED_HOST}:{}", sim.port());
    let (proxy, seen) = start_proxy(HashMap::from([(target.clone(), sim)])).await;
    let ca = s.scratch.file("ca.pem", &s.pki.ca_pem, 0o644);
    let base = format!("https://{target}");
    // NO_PROXY as a Pod would have it: the cluster's own addresses, not Aura.
    let no_proxy = "localhost,127.0.0.1,.svc,.cluster.local".to_string();
    let mut op = Operator::start(
        &h,
        &s.scratch,
        &base,
        &[
            ("SSL_CERT_FILE", ca.display().to_string()),
            ("HTTPS_PROXY", format!("http://{proxy}")),
            ("NO_PROXY", no_proxy),
        ],
    )
    .await;
    h.create(manifest("proxied", json!({}))).await;

    assert_ready_with_password(&h, &mut op, "proxied").await;
    let log = op.stop().await;
    let seen = seen.lock().unwrap().clone();
    // Aura, and the credential check of the instance's own Query API (which
    // goes the way any HTTPS traffic of the Pod goes); never the Kubernetes API.
    assert!(
        seen.tunnels >= 1
            && seen.connects.contains(&target)
            && seen
                .connects
                .iter()
                .all(|t| *t == target || t.ends_with(".databases.neo4j.io:443")),
        "the proxy should tunnel to {target} and the databases only: {seen:?}"
    );
    assert!(seen.other.is_empty(), "not CONNECT: {:?}", seen.other);
    assert!(h.sim.state().counters().tokens_issued >= 1);
    assert!(!log.contains("panicked"), "{}", redacted(&h, &log));
    h.assert_log_clean(&log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_shows_a_certificate_error_and_no_token_is_fetched() {
    let s = setup("aura-https-wrong-ca");
    let tls = s.tls.clone();
    let h = Harness::start("https-wrong-ca", move |c| c.tls = Some(tls)).await;
    // A CA that did not sign the simulator's certificate (another name too,
    // or the verifier finds it as the issuer and reports a bad signature).
    let (_, other_ca) = new_ca("some other CA");
    let ca = s.scratch.file("other-ca.pem", other_ca, 0o644);
    let mut op = Operator::start(
        &h,
        &s.scratch,
        &h.sim.base_url(),
        &[("SSL_CERT_FILE", ca.display().to_string())],
    )
    .await;
    h.create(manifest("untrusted", json!({}))).await;

    let (type_, message) = wait_for(&h, &mut op, "untrusted", "a certificate error", |o| {
        o.status.as_ref()?.conditions.iter().find_map(|c| {
            let m = c.message.to_ascii_lowercase();
            (m.contains("certificate") || m.contains("tls"))
                .then(|| (c.type_.clone(), c.message.clone()))
        })
    })
    .await;
    assert!(
        message.contains("UnknownIssuer") || message.contains("unknown issuer"),
        "{type_}: {message}"
    );
    eprintln!("untrusted: condition {type_}: {message}");
    let c = h.sim.state().counters();
    assert_eq!(
        (c.token_calls, c.tokens_issued, c.requests_total),
        (0, 0, 0),
        "the simulator answered a client that does not trust it"
    );
    let ready = h
        .instances()
        .get("untrusted")
        .await
        .ok()
        .and_then(|o| condition(&o, "Ready"));
    assert!(
        ready.as_ref().is_some_and(|c| c.0 != "True"),
        "Ready: {ready:?}"
    );
    let log = op.stop().await;
    assert!(!log.contains("panicked"), "{}", redacted(&h, &log));
    h.assert_log_clean(&log);
}

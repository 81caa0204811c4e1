//! HTTPS: TLS terminated in front of the plain server, as a load balancer does.
//!
//! Drop faults kill a connection by failing its TCP I/O ([`super::faults`]),
//! which only the plain server's own sockets can do. So with TLS the public
//! listener accepts and handshakes, then forwards the decrypted bytes to the
//! plain server on a private loopback port. A connection the plain server
//! drops closes the client's TLS connection too: the client still sees it
//! closed without an answer. ALPN offers HTTP/1.1 only, as the plain server
//! speaks it, so a drop fault still drops exactly one request.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A PEM certificate chain (leaf first) and its PEM private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn invalid(what: &str, path: &std::path::Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("TLS {what} {}: {e}", path.display()),
    )
}

/// Reads the files into a TLS 1.2/1.3 server config (aws-lc-rs provider).
pub(super) fn acceptor(files: &TlsFiles) -> io::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid("certificate", &files.cert, e))?;
    if chain.is_empty() {
        return Err(invalid("certificate", &files.cert, "no CERTIFICATE in it"));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| invalid("key", &files.key, e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| invalid("certificate and key", &files.cert, e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS on `listener` until `stop`, forwarding each connection to `backend`.
pub(super) async fn front(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    backend: SocketAddr,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let tcp = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // Out of file descriptors and the like: back off briefly, as axum does.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let peer = tcp.peer_addr().ok();
            let mut tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!(?peer, error = %e, "simulator TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(?peer, "simulator TLS handshake timed out");
                    return;
                }
            };
            let Ok(mut plain) = TcpStream::connect(backend).await else {
                return;
            };
            let _ = plain.set_nodelay(true);
            // Either side closing (or failing) ends both.
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{
        DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Faults, Simulator, SimulatorConfig,
    };

    /// A CA, and a leaf for 127.0.0.1 signed by it, written to a fresh folder.
    struct Pki {
        dir: PathBuf,
        ca_pem: String,
        files: TlsFiles,
    }

    impl Drop for Pki {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn pki() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        // A name of its own, so that another CA is not taken for the issuer.
        let name = format!("simulator test CA {}", uuid::Uuid::new_v4());
        ca.distinguished_name.push(rcgen::DnType::CommonName, name);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let dir = std::env::temp_dir().join(format!("aura-sim-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = TlsFiles {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        };
        std::fs::write(&files.cert, leaf.pem()).unwrap();
        std::fs::write(&files.key, leaf_key.serialize_pem()).unwrap();
        Pki {
            dir,
            ca_pem: ca_cert.pem(),
            files,
        }
    }

    fn client(ca_pem: &str) -> reqwest::Client {
        crate::install_crypto_provider();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
            .no_proxy()
            .build()
            .unwrap()
    }

    async fn token(http: &reqwest::Client, base: &str) -> reqwest::Result<reqwest::Response> {
        http.post(format!("{base}/oauth/token"))
            .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
    }

    #[tokio::test]
    async fn serves_https_and_drop_faults_still_close_the_connection() {
        let pki = pki();
        let sim = Simulator::start(SimulatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(pki.files.clone()),
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let base = sim.base_url();
        assert_eq!(base, format!("https://{}", sim.local_addr()));

        let http = client(&pki.ca_pem);
        let resp = token(&http, &base).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), reqwest::Version::HTTP_11);
        let body: serde_json::Value = resp.json().await.unwrap();
        let bearer = body["access_token"].as_str().unwrap().to_string();
        let tenants = http
            .get(format!("{base}/v1/tenants"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(tenants.status(), 200);

        // Plain HTTP to the HTTPS port gets no answer from the API.
        let plain = reqwest::Client::builder().no_proxy().build().unwrap();
        let http_base = base.replacen("https://", "http://", 1);
        assert!(
            plain
                .get(format!("{http_base}/v1/tenants"))
                .send()
                .await
                .is_err()
        );

        sim.state().set_faults(Faults {
            drop_rate: 1.0,
            ..Faults::default()
        });
        let err = http
            .get(format!("{base}/v1/tenants"))
            .bearer_auth(&bearer)
            .send()
            .await
            .expect_err("a dropped connection gives no answer");
        assert!(!err.is_status(), "{err:?}");
        let c = sim.state().counters();
        assert_eq!(c.dropped_connections, 1);
        assert_eq!(c.tokens_issued, 1);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_client_that_does_not_trust_the_ca_gets_no_token() {
        let pki = pki();
        let other = pki_other_ca();
        let sim = Simulator::start(SimulatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(pki.files.clone()),
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let err = token(&client(&other), &sim.base_url())
            .await
            .expect_err("an untrusted certificate");
        let chain = format!("{:?}", anyhow::Error::from(err));
        assert!(chain.contains("UnknownIssuer"), "{chain}");
        assert_eq!(sim.state().counters().token_calls, 0);
        sim.shutdown().await;
    }

    fn pki_other_ca() -> String {
        pki().ca_pem.clone()
    }

    #[tokio::test]
    async fn bad_files_are_refused_at_start() {
        let pki = pki();
        let missing = TlsFiles {
            cert: pki.dir.join("nope.crt"),
            key: pki.files.key.clone(),
        };
        let swapped = TlsFiles {
            cert: pki.files.key.clone(),
            key: pki.files.cert.clone(),
        };
        for files in [missing, swapped] {
            let err = Simulator::start(SimulatorConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                tls: Some(files.clone()),
                ..SimulatorConfig::default()
            })
            .await
            .expect_err("bad TLS files");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{files:?}: {err}");
            assert!(err.to_string().starts_with("TLS "), "{err}");
        }
    }
}

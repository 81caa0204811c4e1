//! The operator's Kubernetes client: kube's stack, but speaking HTTP/2 to
//! the apiserver when it offers it.
//!
//! Over HTTP/1 every request in flight takes a connection of its own, and
//! hyper keeps each connection it opened in its pool with its TLS state,
//! buffers and channels (tens of KiB each): at the peak of 1,000 objects of
//! three kinds, over a hundred of them (issue 34). Over HTTP/2 the watches,
//! reads and writes share one connection as streams. kube's own builder only
//! offers HTTP/1, because its upgraded connections (exec, attach, port
//! forwarding) need it; the operator makes none.

use std::time::Duration;

use hyper_rustls::{FixedServerNameResolver, HttpsConnectorBuilder};
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::Builder;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt;
use kube::client::retry::RetryPolicy;
use kube::{Client, Config};
use tower::retry::RetryLayer;
use tower::{BoxError, ServiceBuilder};

/// A ping on a quiet connection: an apiserver or a load balancer in between
/// that drops idle connections would otherwise end every watch at once.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// How much of one response the apiserver may send before the operator has
/// read it. Bounds what a watch whose reader lags can leave buffered in the
/// process (hyper's default is 2 MiB per stream); loopback and cluster
/// networks refill a window this size in well under a millisecond.
const STREAM_WINDOW: u32 = 256 * 1024;
const CONNECTION_WINDOW: u32 = 1024 * 1024;

/// The client from the inferred configuration (in-cluster, or KUBECONFIG).
pub async fn client() -> Result<Client, kube::Error> {
    let config = Config::infer().await.map_err(kube::Error::InferConfig)?;
    from_config(config)
}

/// Through a proxy, kube's own client (HTTP/1 through the tunnel); directly,
/// HTTP/2 when the apiserver agrees to it in the TLS handshake, HTTP/1 if not.
pub fn from_config(config: Config) -> Result<Client, kube::Error> {
    if config.proxy_url.is_some() {
        return Client::try_from(config);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let mut tls = HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = name
            .clone()
            .try_into()
            .map_err(kube::client::RustlsTlsError::InvalidServerName)
            .map_err(kube::Error::RustlsTls)?;
        tls = tls.with_server_name_resolver(FixedServerNameResolver::new(name));
    }
    let mut connector = TimeoutConnector::new(tls.enable_all_versions().wrap_connector(http));
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);

    let hyper = Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .http2_keep_alive_interval(KEEP_ALIVE)
        .http2_keep_alive_while_idle(true)
        .http2_initial_stream_window_size(STREAM_WINDOW)
        .http2_initial_connection_window_size(CONNECTION_WINDOW)
        .build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(hyper);
    Ok(Client::new(service, config.default_namespace))
}

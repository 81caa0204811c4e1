//! Aura API simulator: a local, in-memory Aura API v1 for tests and demos.
//!
//! Serves `POST /oauth/token`, the `/v1` endpoints the operator uses (same
//! shapes, status codes and error bodies as the real API), real limits
//! (requests per minute, token calls per hour), instance lifecycles with
//! configurable durations, fault injection, and an unauthenticated `/admin`
//! side door for tests (counters, faults, issued passwords, console edits).
//! Beyond the instances: customer managed keys (`keys.rs`), the metrics
//! integration and the Prometheus endpoints it names, served here
//! (`metrics.rs`), Graph Analytics sessions (`sessions.rs`) and the two
//! sizing estimates (`sizing.rs`). `/v2beta1` (same tokens and budget):
//! organizations, their projects and IP filters (`v2beta1_routes.rs`),
//! console users and invites (`console_routes.rs`), the v2beta1 instance
//! create and GET, multi-database instances' databases, backups and
//! restores (`database_routes.rs`).
//!
//! In-process use:
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use aura_operator::simulator::{Simulator, SimulatorConfig};
//! let sim = Simulator::start(SimulatorConfig {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     ..Default::default()
//! })
//! .await?;
//! let base = sim.base_url(); // "http://127.0.0.1:PORT"
//! let counters = sim.state().counters();
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod admin;
mod admin_v2beta1;
mod analytics_routes;
mod auth;
mod catalogue;
mod console_bodies;
mod console_routes;
mod console_users;
mod database_routes;
mod databases;
mod error;
mod faults;
mod http;
mod ip_filters;
mod key_routes;
mod keys;
mod lineage;
mod metrics;
mod metrics_routes;
mod query_api;
mod quirks;
mod routes;
mod scope;
mod scope_gate;
mod sessions;
mod shared;
mod sizing;
mod snapshots;
mod state;
mod tls;
mod v2_instances;
mod v2beta1;
mod v2beta1_http;
mod v2beta1_routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use catalogue::default_catalogue;
pub use console_bodies::ProjectInvite;
pub use console_users::{
    ConsoleUserView, OrganizationInvite, OrganizationUser, OrganizationUserDetails, ProjectUser,
    UserProject,
};
pub use databases::{
    DATABASE_LIMIT, DEFAULT_DATABASE, DatabaseBackup, DatabaseRestore, DatabaseSummary,
};
pub use error::{ApiError, ErrorBody};
pub use faults::{CreateFailMode, ExpiredToken, Faults};
pub use ip_filters::{AllowEntry, FilteredEntities, IpFilterStatus, IpFilterView};
pub use keys::{CustomerManagedKey, KeySummary, KeyView};
pub use lineage::{Lineage, LineageEntry, LineageEvent};
pub use quirks::Quirks;
pub use sessions::SessionView;
pub use shared::{Counters, CreateRecord, SimState, UNKNOWN_CLIENT};
pub use state::{AdminInstance, ConsoleUpdate, Timings};
pub use tls::TlsFiles;
pub use v2_instances::{CreateInstanceResponse, InstanceDetails};
pub use v2beta1::{DEMO_ORGANIZATION_ID, DEMO_ORGANIZATION_NAME, V2Error};

use crate::aura::model::{InstanceConfiguration, TenantSummary};

/// The demo client used when none is configured.
pub const DEMO_CLIENT_ID: &str = "demo-client";
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";
/// The demo tenant used when none is configured (fixed so scripts can use it).
pub const DEMO_TENANT_ID: &str = "6981ace7-efe8-4f5c-b7c5-267b5162ce91";
pub const DEMO_TENANT_NAME: &str = "Demo";

/// Everything the simulator can be started with.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub listen: SocketAddr,
    /// (client id, client secret). A client sees every tenant unless
    /// `client_tenants` names some for it.
    pub clients: Vec<(String, String)>,
    /// (client id, tenant id): a client named here sees and acts in these
    /// tenants only (`scope.rs`); the others see every tenant.
    pub client_tenants: Vec<(String, String)>,
    /// (tenant id, tenant name).
    pub tenants: Vec<(String, String)>,
    /// v2beta1 (organization id, name); empty: the one demo organization
    /// ([`DEMO_ORGANIZATION_ID`]).
    pub organizations: Vec<(String, String)>,
    /// (tenant id, organization id); a tenant not named here is in the
    /// first organization.
    pub tenant_organizations: Vec<(String, String)>,
    /// Time spent in `creating`.
    pub create_seconds: f64,
    /// Default time of pause, resume, update, destroy, restore, overwrite and snapshot.
    pub transition_seconds: f64,
    pub pause_seconds: Option<f64>,
    pub resume_seconds: Option<f64>,
    pub update_seconds: Option<f64>,
    pub destroy_seconds: Option<f64>,
    pub restore_seconds: Option<f64>,
    pub overwrite_seconds: Option<f64>,
    pub snapshot_seconds: Option<f64>,
    /// Time a v2beta1 IP filter is `SUBMITTED` on an instance after a change.
    pub ip_filter_seconds: Option<f64>,
    /// Time a v2beta1 database backup takes (`Pending`, `InProgress`, then
    /// `Completed`).
    pub database_backup_seconds: Option<f64>,
    /// After a transition the instance still answers 409 for this long.
    pub settle_grace_seconds: f64,
    /// `/v1` requests per client id per sliding minute; 0 = unlimited.
    pub requests_per_minute: u32,
    /// `/oauth/token` calls per client id per sliding hour; 0 = unlimited.
    pub tokens_per_hour: u32,
    pub token_ttl_seconds: u64,
    /// Free instances allowed per tenant; 0 = unlimited.
    pub free_instances_per_tenant: u32,
    pub faults: Faults,
    /// Offered to every tenant; defaults to [`default_catalogue`].
    pub catalogue: Vec<InstanceConfiguration>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Seconds from a customer managed key's creation to `ready`; `None`:
    /// only `POST /admin/customer-managed-keys/{id}/grant` makes it ready.
    pub key_ready_seconds: Option<f64>,
    /// Tenants whose `GET /tenants/{id}/metrics-integration` answers 400
    /// `tenant-incapable-of-action` (and whose metrics endpoints 401).
    pub metrics_incapable_tenants: Vec<String>,
    /// Seconds before a new instance shows in `GET /instances` (0: at once,
    /// as before; the real list lags behind creates).
    pub list_delay_seconds: f64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            clients: vec![(DEMO_CLIENT_ID.into(), DEMO_CLIENT_SECRET.into())],
            client_tenants: Vec::new(),
            tenants: vec![(DEMO_TENANT_ID.into(), DEMO_TENANT_NAME.into())],
            organizations: Vec::new(),
            tenant_organizations: Vec::new(),
            create_seconds: 2.0,
            transition_seconds: 1.0,
            pause_seconds: None,
            resume_seconds: None,
            update_seconds: None,
            destroy_seconds: None,
            restore_seconds: None,
            overwrite_seconds: None,
            snapshot_seconds: None,
            ip_filter_seconds: None,
            database_backup_seconds: None,
            settle_grace_seconds: 0.0,
            requests_per_minute: 125,
            tokens_per_hour: 15,
            token_ttl_seconds: 3600,
            free_instances_per_tenant: 1,
            faults: Faults::default(),
            catalogue: default_catalogue(),
            tls: None,
            key_ready_seconds: Some(state::DEFAULT_KEY_READY_SECONDS),
            metrics_incapable_tenants: Vec::new(),
            list_delay_seconds: 0.0,
        }
    }
}

impl SimulatorConfig {
    /// The durations resolved from the config.
    pub fn timings(&self) -> Timings {
        let t = self.transition_seconds;
        Timings {
            create: self.create_seconds,
            pause: self.pause_seconds.unwrap_or(t),
            resume: self.resume_seconds.unwrap_or(t),
            update: self.update_seconds.unwrap_or(t),
            destroy: self.destroy_seconds.unwrap_or(t),
            restore: self.restore_seconds.unwrap_or(t),
            overwrite: self.overwrite_seconds.unwrap_or(t),
            snapshot: self.snapshot_seconds.unwrap_or(t),
            ip_filter: self.ip_filter_seconds.unwrap_or(t),
            database_backup: self.database_backup_seconds.unwrap_or(t),
            settle_grace: self.settle_grace_seconds,
        }
    }
}

/// A running simulator. Dropping it without `shutdown` also stops the server.
pub struct Simulator {
    addr: SocketAddr,
    https: bool,
    state: SimState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds, spawns the server and returns once it accepts connections.
    pub async fn start(config: SimulatorConfig) -> std::io::Result<Simulator> {
        config
            .faults
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let tenants = config
            .tenants
            .iter()
            .map(|(id, name)| TenantSummary {
                id: id.clone(),
                name: name.clone(),
            })
            .collect();
        let mut world = state::World::new(tenants, config.catalogue.clone(), config.timings());
        world.free_per_tenant = config.free_instances_per_tenant;
        world.key_ready_seconds = config.key_ready_seconds;
        world.metrics_incapable = config.metrics_incapable_tenants.iter().cloned().collect();
        world.list_delay_seconds = config.list_delay_seconds;
        world.scopes = scope::TenantScopes::new(&config.client_tenants);
        world.orgs =
            v2beta1::Organizations::new(&config.organizations, &config.tenant_organizations)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let auth = shared::AuthState {
            clients: config.clients.iter().cloned().collect::<HashMap<_, _>>(),
            tokens: auth::TokenStore::default(),
            requests: auth::SlidingWindow::new(config.requests_per_minute, Duration::from_secs(60)),
            token_calls: auth::SlidingWindow::new(
                config.tokens_per_hour,
                Duration::from_secs(3600),
            ),
            token_ttl: Duration::from_secs(config.token_ttl_seconds),
        };
        let state = SimState::new(world, auth, config.faults.clone());

        let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        // With TLS, `listener` terminates it in front of a private plain one (see tls.rs).
        let (listener, front) = match acceptor {
            None => (listener, None),
            Some(acceptor) => {
                let plain =
                    tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
                let backend = plain.local_addr()?;
                (plain, Some((listener, acceptor, backend)))
            }
        };
        let app = routes::router(state.clone())
            .into_make_service_with_connect_info::<faults::KillSwitch>();
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = futures::FutureExt::shared(stopped);
        let task = tokio::spawn(async move {
            let front = front.map(|(listener, acceptor, backend)| {
                let stop = futures::FutureExt::map(stopped.clone(), |_| ());
                tokio::spawn(tls::front(listener, acceptor, backend, stop))
            });
            let serve = axum::serve(faults::KillableListener(listener), app)
                .with_graceful_shutdown(futures::FutureExt::map(stopped, |_| ()));
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulator server failed");
            }
            if let Some(front) = front {
                front.abort();
            }
        });
        let https = config.tls.is_some();
        // Metrics endpoints point back at the simulator itself.
        state.world().metrics_base = format!("{}://{addr}", if https { "https" } else { "http" });
        tracing::info!(%addr, https, "aura simulator listening");
        if admin::exposed(addr) {
            tracing::warn!(
                %addr,
                "/admin is unauthenticated and serves every instance password: listen on 127.0.0.1 unless every host that can reach this address is trusted"
            );
        }
        Ok(Simulator {
            addr,
            https,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS), no trailing slash, no `/v1`.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Direct access to instances, passwords, counters, faults and console edits.
    pub fn state(&self) -> SimState {
        self.state.clone()
    }

    /// Stops accepting, lets open requests finish (at most 5 s), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn parse_pair(s: &str, sep: char, what: &str) -> Result<(String, String), String> {
    match s.split_once(sep) {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => Err(format!("expected {what}")),
    }
}

fn parse_client(s: &str) -> Result<(String, String), String> {
    parse_pair(s, ':', "ID:SECRET")
}

fn parse_client_tenant(s: &str) -> Result<(String, String), String> {
    parse_pair(s, '=', "CLIENT_ID=TENANT_ID")
}

fn parse_tenant(s: &str) -> Result<(String, String), String> {
    parse_pair(s, '=', "ID=NAME")
}

fn parse_tenant_organization(s: &str) -> Result<(String, String), String> {
    parse_pair(s, '=', "TENANT_ID=ORGANIZATION_ID")
}

/// `--key-ready-seconds`: seconds, or `never` (only the grant makes a key ready).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadyAfter(pub Option<f64>);

fn parse_ready_after(s: &str) -> Result<ReadyAfter, String> {
    if s.trim().eq_ignore_ascii_case("never") {
        return Ok(ReadyAfter(None));
    }
    let v: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(ReadyAfter(Some(v)))
    } else {
        Err("must be a number of seconds (0 or more) or never".into())
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 0.0 and 1.0".into())
    }
}

/// `aura-operator simulate` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, env = "AURA_SIM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// API client as ID:SECRET (repeatable); demo-client:demo-secret when none.
    #[arg(long = "client", value_name = "ID:SECRET", value_parser = parse_client)]
    pub clients: Vec<(String, String)>,
    /// Tenant as ID=NAME (repeatable); one demo tenant with a fixed id when none.
    #[arg(long = "tenant", value_name = "ID=NAME", value_parser = parse_tenant)]
    pub tenants: Vec<(String, String)>,
    /// Scope a client to a tenant as CLIENT_ID=TENANT_ID (repeatable): it
    /// then sees and acts in the tenants named for it only.
    #[arg(long = "client-tenant", value_name = "CLIENT_ID=TENANT_ID", value_parser = parse_client_tenant)]
    pub client_tenants: Vec<(String, String)>,
    /// v2beta1 organization as ID=NAME (repeatable); one demo organization
    /// with a fixed id, holding every tenant, when none.
    #[arg(long = "organization", value_name = "ID=NAME", value_parser = parse_tenant)]
    pub organizations: Vec<(String, String)>,
    /// Put a tenant in an organization as TENANT_ID=ORGANIZATION_ID
    /// (repeatable); others are in the first organization.
    #[arg(long = "tenant-organization", value_name = "TENANT_ID=ORGANIZATION_ID", value_parser = parse_tenant_organization)]
    pub tenant_organizations: Vec<(String, String)>,
    /// Seconds a v2beta1 IP filter is `SUBMITTED` on an instance after a
    /// change (default: --transition-seconds).
    #[arg(long)]
    pub ip_filter_seconds: Option<f64>,
    /// Seconds a v2beta1 database backup takes (`Pending`, then
    /// `InProgress`, then `Completed`; default: --transition-seconds).
    #[arg(long)]
    pub database_backup_seconds: Option<f64>,
    /// Seconds an instance stays in `creating`.
    #[arg(long, default_value_t = 2.0)]
    pub create_seconds: f64,
    /// Seconds of pause, resume, update, destroy, restore, overwrite and snapshot.
    #[arg(long, default_value_t = 1.0)]
    pub transition_seconds: f64,
    #[arg(long)]
    pub pause_seconds: Option<f64>,
    #[arg(long)]
    pub resume_seconds: Option<f64>,
    #[arg(long)]
    pub update_seconds: Option<f64>,
    #[arg(long)]
    pub destroy_seconds: Option<f64>,
    /// Seconds an instance keeps answering 409 after a transition ends.
    #[arg(long, default_value_t = 0.0)]
    pub settle_grace_seconds: f64,
    /// `/v1` requests per client per minute (0 = unlimited).
    #[arg(long, default_value_t = 125)]
    pub requests_per_minute: u32,
    /// Token calls per client per hour (0 = unlimited).
    #[arg(long, default_value_t = 15)]
    pub tokens_per_hour: u32,
    #[arg(long, default_value_t = 3600)]
    pub token_ttl_seconds: u64,
    /// Free instances per tenant (0 = unlimited).
    #[arg(long, default_value_t = 1)]
    pub free_instances_per_tenant: u32,
    /// Latency added to every API request, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share (0.0..1.0) of `/v1` requests answered 500/502/503.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub error_rate: f64,
    /// Share of `/v1` requests answered 429 (a 429 storm).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub rate_limit_rate: f64,
    /// Share of `/v1` requests whose connection is dropped without an answer.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub drop_rate: f64,
    /// Share of `/oauth/token` calls answered 500/502/503.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub token_error_rate: f64,
    /// Share of `/oauth/token` calls whose connection is dropped unanswered.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub token_drop_rate: f64,
    /// How an expired token is answered: `403` (the API's body, the default)
    /// or `401` (the gateway's `{"error": ...}` body).
    #[arg(long, default_value = "403", value_parser = ["401", "403"])]
    pub expired_token_status: String,
    /// 429s give `Retry-After` as an HTTP date instead of seconds.
    #[arg(long)]
    pub retry_after_http_date: bool,
    /// The next N creates commit the instance but fail the answer.
    #[arg(long, default_value_t = 0)]
    pub fail_creates: u32,
    /// How a failed create answers: `error` (500) or `drop` (connection closed).
    #[arg(long, default_value = "error", value_parser = ["error", "drop"])]
    pub fail_create_mode: String,
    /// Answer the way the real service departs from its spec: `as-seen` (fields
    /// left out or null, numbers as strings and back, capitalised statuses, extra
    /// fields), `none` (spec-exact, the default), or a JSON object of
    /// `absent`, `null`, `retype`, `capitalize_status`, `extra_fields`, and
    /// v2beta1's `delete_answers_500`, `write_names_only`, `capitalized_error_keys`.
    #[arg(long, env = "AURA_SIM_QUIRKS", default_value = "none", value_parser = Quirks::parse)]
    pub quirks: Quirks,
    /// Seconds until a new customer managed key is `ready`, or `never`
    /// (then only `POST /admin/customer-managed-keys/{id}/grant` does it).
    #[arg(long, default_value = "10", value_parser = parse_ready_after)]
    pub key_ready_seconds: ReadyAfter,
    /// A tenant whose metrics integration answers 400
    /// `tenant-incapable-of-action` (repeatable).
    #[arg(long = "metrics-incapable-tenant", value_name = "TENANT_ID")]
    pub metrics_incapable_tenants: Vec<String>,
    /// Seconds before a new instance shows in `GET /instances`.
    #[arg(long, default_value_t = 0.0)]
    pub list_delay_seconds: f64,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl SimulateArgs {
    pub fn to_config(&self) -> SimulatorConfig {
        let mut c = SimulatorConfig {
            listen: self.listen,
            create_seconds: self.create_seconds,
            transition_seconds: self.transition_seconds,
            pause_seconds: self.pause_seconds,
            resume_seconds: self.resume_seconds,
            update_seconds: self.update_seconds,
            destroy_seconds: self.destroy_seconds,
            settle_grace_seconds: self.settle_grace_seconds,
            requests_per_minute: self.requests_per_minute,
            tokens_per_hour: self.tokens_per_hour,
            token_ttl_seconds: self.token_ttl_seconds,
            free_instances_per_tenant: self.free_instances_per_tenant,
            key_ready_seconds: self.key_ready_seconds.0,
            metrics_incapable_tenants: self.metrics_incapable_tenants.clone(),
            list_delay_seconds: self.list_delay_seconds,
            client_tenants: self.client_tenants.clone(),
            organizations: self.organizations.clone(),
            tenant_organizations: self.tenant_organizations.clone(),
            ip_filter_seconds: self.ip_filter_seconds,
            database_backup_seconds: self.database_backup_seconds,
            faults: Faults {
                latency_ms: self.latency_ms,
                error_rate: self.error_rate,
                rate_limit_rate: self.rate_limit_rate,
                rate_limit_retry_after: 1,
                drop_rate: self.drop_rate,
                fail_creates: self.fail_creates,
                fail_create_mode: if self.fail_create_mode == "drop" {
                    CreateFailMode::Drop
                } else {
                    CreateFailMode::Error
                },
                quirks: self.quirks.clone(),
                token_error_rate: self.token_error_rate,
                token_drop_rate: self.token_drop_rate,
                expired_token: if self.expired_token_status == "401" {
                    ExpiredToken::Unauthorized
                } else {
                    ExpiredToken::Forbidden
                },
                retry_after_http_date: self.retry_after_http_date,
                ..Faults::default()
            },
            ..SimulatorConfig::default()
        };
        if !self.clients.is_empty() {
            c.clients = self.clients.clone();
        }
        if !self.tenants.is_empty() {
            c.tenants = self.tenants.clone();
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            c.tls = Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        c
    }
}

/// Runs the simulator until SIGINT or SIGTERM. Prints exactly one line,
/// `listening <base URL>`, to stdout once it accepts connections.
pub async fn run_cli(args: SimulateArgs) -> anyhow::Result<()> {
    let sim = Simulator::start(args.to_config()).await?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening {}", sim.base_url())?;
        out.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("aura simulator stopping");
    sim.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    #[test]
    fn cli_defaults_give_demo_client_and_tenant() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        let c = cli.args.to_config();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            c.clients,
            vec![("demo-client".into(), "demo-secret".into())]
        );
        assert_eq!(c.tenants[0].0, DEMO_TENANT_ID);
        assert_eq!(c.requests_per_minute, 125);
        assert_eq!(c.tokens_per_hour, 15);
    }

    #[test]
    fn cli_flags_parse() {
        let cli = Cli::try_parse_from([
            "x",
            "--client",
            "a:b:c",
            "--client",
            "d:e",
            "--tenant",
            "t1=One",
            "--create-seconds",
            "0.5",
            "--drop-rate",
            "0.25",
            "--fail-create-mode",
            "drop",
        ])
        .unwrap();
        let c = cli.args.to_config();
        assert_eq!(c.clients[0], ("a".into(), "b:c".into()));
        assert_eq!(c.clients.len(), 2);
        assert_eq!(c.tenants, vec![("t1".into(), "One".into())]);
        assert_eq!(c.create_seconds, 0.5);
        assert_eq!(c.faults.drop_rate, 0.25);
        assert_eq!(c.faults.fail_create_mode, CreateFailMode::Drop);
        assert!(!c.faults.quirks.is_active(), "spec-exact by default");
        let cli = Cli::try_parse_from(["x", "--quirks", "as-seen"]).unwrap();
        assert_eq!(cli.args.to_config().faults.quirks, Quirks::as_seen());
        assert!(Cli::try_parse_from(["x", "--quirks", "{\"bogus\":1}"]).is_err());
        assert!(Cli::try_parse_from(["x", "--client", "nosecret"]).is_err());
        let keys = |args: &[&str]| {
            Cli::try_parse_from(args)
                .map(|c| c.args.to_config().key_ready_seconds)
                .ok()
        };
        assert_eq!(keys(&["x"]), Some(Some(10.0)));
        let faults = |args: &[&str]| Cli::try_parse_from(args).unwrap().args.to_config().faults;
        let f = faults(&["x"]);
        assert_eq!(f.expired_token, ExpiredToken::Forbidden);
        assert!(!f.retry_after_http_date);
        assert_eq!((f.token_error_rate, f.token_drop_rate), (0.0, 0.0));
        let f = faults(&[
            "x",
            "--expired-token-status",
            "401",
            "--retry-after-http-date",
            "--token-error-rate",
            "0.5",
            "--token-drop-rate",
            "1",
        ]);
        assert_eq!(f.expired_token, ExpiredToken::Unauthorized);
        assert!(f.retry_after_http_date);
        assert_eq!((f.token_error_rate, f.token_drop_rate), (0.5, 1.0));
        let c = Cli::try_parse_from([
            "x",
            "--list-delay-seconds",
            "2.5",
            "--metrics-incapable-tenant",
            "t1",
        ])
        .unwrap()
        .args
        .to_config();
        assert_eq!(c.list_delay_seconds, 2.5);
        let o = Cli::try_parse_from([
            "x",
            "--organization",
            "o1=One",
            "--tenant-organization",
            "t1=o1",
            "--ip-filter-seconds",
            "3",
            "--database-backup-seconds",
            "4",
        ])
        .unwrap()
        .args
        .to_config();
        assert_eq!(o.organizations, vec![("o1".into(), "One".into())]);
        assert_eq!(o.tenant_organizations, vec![("t1".into(), "o1".into())]);
        assert_eq!(o.timings().ip_filter, 3.0);
        assert_eq!(o.timings().database_backup, 4.0);
        assert!(Cli::try_parse_from(["x", "--tenant-organization", "t1"]).is_err());
        assert_eq!(c.metrics_incapable_tenants, vec!["t1".to_string()]);
        assert_eq!(keys(&["x", "--key-ready-seconds", "0.5"]), Some(Some(0.5)));
        assert_eq!(keys(&["x", "--key-ready-seconds", "never"]), Some(None));
        assert_eq!(keys(&["x", "--key-ready-seconds", "-1"]), None);
        assert!(Cli::try_parse_from(["x", "--error-rate", "2"]).is_err());
    }

    #[test]
    fn tls_flags_come_in_pairs() {
        let cli = Cli::try_parse_from(["x", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        let tls = cli.args.to_config().tls.expect("TLS files");
        assert_eq!(
            (tls.cert.to_str(), tls.key.to_str()),
            (Some("c.pem"), Some("k.pem"))
        );
        assert_eq!(
            Cli::try_parse_from(["x"]).unwrap().args.to_config().tls,
            None
        );
        assert!(Cli::try_parse_from(["x", "--tls-cert", "c.pem"]).is_err());
        assert!(Cli::try_parse_from(["x", "--tls-key", "k.pem"]).is_err());
    }
}

//! The process: signals, leader election, the admin server, and starting the
//! controller of every kind. Adding a kind is one line in `run_controllers`.

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::Reporter;
use kube_lease_manager::LeaseManagerBuilder;
use tracing::info;

use std::pin::Pin;

use crate::api::{AuraInstance, AuraProject, AuraRestore, AuraSnapshot, ClusterAuraProject};
use crate::aura::{AuraClients, ClientConfig};
use crate::kinds::instance::{self, InstanceState};
use crate::kinds::project::{self, ProjectContext};
use crate::kinds::{restore, snapshot};
use crate::query_api::QueryApi;
use crate::reconciler::{Context, FIELD_MANAGER, Shared};
use crate::telemetry::{self, Telemetry};

pub use crate::reconciler::ControllerConfig;

/// The environment variable of the removed `--default-credentials` flag.
const REMOVED_DEFAULT_CREDENTIALS: &str = "AURA_DEFAULT_CREDENTIALS";

/// Runs the controller until SIGTERM/SIGINT: admin server first, then (with
/// leader election) waits for the lease, then watches and reconciles.
pub async fn run(config: ControllerConfig) -> anyhow::Result<()> {
    // The flag is refused by the parser; its variable would be silently ignored.
    if std::env::var_os(REMOVED_DEFAULT_CREDENTIALS).is_some() {
        anyhow::bail!(
            "{REMOVED_DEFAULT_CREDENTIALS} (--default-credentials) is gone: create a ClusterAuraProject named default that names the Secret and the namespaces allowed to use it (README: Moving from --default-credentials)"
        );
    }
    let client = Client::try_default().await?;
    let telemetry = Arc::new(Telemetry::default());
    // Before the admin server answers: with leader election, a process that
    // has not won the lease never reports itself as the leader.
    telemetry.set_leader_election(config.leader_elect);
    let shutdown = Shutdown::on_signals();
    let admin =
        telemetry::serve_admin(config.admin_listen, telemetry.clone(), shutdown.wait()).await?;
    info!(%admin, "admin server listening (/healthz, /readyz, /metrics)");

    let aura = AuraClients::try_new(ClientConfig {
        base_url: config.aura_base_url.clone(),
        requests_per_minute: config.rate_limit,
        dry_run: config.dry_run,
        ..ClientConfig::default()
    })
    .map_err(|e| anyhow::anyhow!("{e} (check SSL_CERT_FILE / SSL_CERT_DIR)"))?;
    telemetry.set_aura(aura.clone());
    let query_api = QueryApi::new(
        config.query_api_url.clone(),
        &format!("aura-operator/{}", env!("CARGO_PKG_VERSION")),
    )
    .map_err(|e| anyhow::anyhow!("{e} (check SSL_CERT_FILE / SSL_CERT_DIR)"))?;
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        format!(
            "{}-{}",
            hostname(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    });
    let reporter = Reporter {
        controller: FIELD_MANAGER.into(),
        instance: Some(identity.clone()),
    };
    let shared = Arc::new(Shared::new(
        client.clone(),
        aura,
        config.clone(),
        reporter,
        telemetry.clone(),
    ));

    if !config.leader_elect {
        run_controllers(&shared, &query_api, &shutdown).await;
        info!("controller stopped");
        return Ok(());
    }

    let lease_namespace = config
        .lease_namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "default".into());
    let duration = config.lease_duration.as_secs().max(3);
    let manager = LeaseManagerBuilder::new(client.clone(), &config.lease_name)
        .with_namespace(&lease_namespace)
        .with_identity(&identity)
        .with_duration(duration)
        .with_grace((duration / 3).max(1))
        .build()
        .await?;
    let (mut leading, lease_task) = manager.watch().await;
    telemetry.set_lease(true, false);
    info!(lease = %config.lease_name, namespace = %lease_namespace, %identity, "standing by for the lease");
    loop {
        if *leading.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leading.changed() => {
                if changed.is_err() {
                    telemetry.set_lease(false, false);
                    anyhow::bail!("leader election stopped: {:?}", lease_task.await);
                }
            }
            () = shutdown.wait() => {
                drop(leading);
                let _ = lease_task.await;
                info!("stopped while standing by");
                return Ok(());
            }
        }
    }
    telemetry.set_lease(true, true);
    info!(%identity, "leading: starting the controller");
    let lost = async {
        loop {
            if leading.changed().await.is_err() || !*leading.borrow() {
                return;
            }
        }
    };
    let outcome = tokio::select! {
        () = run_controllers(&shared, &query_api, &shutdown) => Ok(()),
        () = lost => Err(anyhow::anyhow!("lost the lease; exiting so that only the leader writes")),
    };
    telemetry.set_lease(false, false);
    // Closing the channel releases the lease for a standby to take at once.
    drop(leading);
    let _ = lease_task.await;
    info!("controller stopped, lease released");
    outcome
}

async fn run_controllers(shared: &Arc<Shared>, query_api: &QueryApi, shutdown: &Shutdown) {
    let scopes: Vec<Option<String>> = if shared.config.namespaces.is_empty() {
        vec![None]
    } else {
        shared.config.namespaces.iter().cloned().map(Some).collect()
    };
    info!(namespaces = ?shared.config.namespaces, aura = %shared.config.aura_base_url, "starting the controllers");
    let instances: Arc<Context<AuraInstance>> = Arc::new(Context::new(
        shared.clone(),
        InstanceState::new(shared.client.clone(), query_api.clone()),
    ));
    let snapshots: Arc<Context<AuraSnapshot>> =
        Arc::new(Context::new(shared.clone(), instances.clone()));
    let restores: Arc<Context<AuraRestore>> =
        Arc::new(Context::new(shared.clone(), instances.clone()));
    let claims = instance::start_claims(
        &instances,
        shutdown.wait(),
        std::time::Duration::from_secs(10),
    )
    .await;
    let projects = ProjectContext::new(shared.clone());
    let namespaces = tokio::spawn(project::watch_namespaces(shared.clone(), shutdown.wait()));
    // One line per kind and scope.
    let mut runs: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = vec![Box::pin(
        project::run::<ClusterAuraProject>(projects.clone(), None, shutdown.wait()),
    )];
    for ns in &scopes {
        runs.push(Box::pin(project::run::<AuraProject>(
            projects.clone(),
            ns.clone(),
            shutdown.wait(),
        )));
    }
    let scope_count = scopes.len();
    let starting = async move {
        if !shared
            .projects
            .wait_ready(scope_count, std::time::Duration::from_secs(10))
            .await
        {
            tracing::warn!(
                "the project watches have not listed yet (are the AuraProject and ClusterAuraProject CRDs installed?)"
            );
        }
    };
    runs.push(Box::pin(async {
        starting.await;
        let mut kind_runs: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = Vec::new();
        for ns in &scopes {
            kind_runs.push(Box::pin(instance::run(
                shared,
                &instances,
                ns.clone(),
                shutdown.wait(),
            )));
            kind_runs.push(Box::pin(snapshot::run(
                shared,
                &snapshots,
                ns.clone(),
                shutdown.wait(),
            )));
            kind_runs.push(Box::pin(restore::run(
                shared,
                &restores,
                ns.clone(),
                shutdown.wait(),
            )));
        }
        futures::future::join_all(kind_runs).await;
    }));
    futures::future::join_all(runs).await;
    namespaces.abort();
    if let Some(task) = claims {
        task.abort();
    }
    shared.events.flush(std::time::Duration::from_secs(5)).await;
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "aura-operator".into())
}

/// SIGTERM/SIGINT, observable by any number of waiters.
#[derive(Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    pub fn on_signals() -> Self {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("install the SIGTERM handler");
            tokio::select! {
                _ = term.recv() => info!("SIGTERM: finishing in-flight work"),
                _ = tokio::signal::ctrl_c() => info!("SIGINT: finishing in-flight work"),
            }
            let _ = tx.send(true);
        });
        Self(rx)
    }

    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

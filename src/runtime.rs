//! The process: signals, leader election, the admin server, and starting the
//! controller of every kind. Adding a kind is one line in `run_controllers`.

use std::sync::Arc;

use kube::runtime::events::Reporter;
use kube_lease_manager::LeaseManagerBuilder;
use tracing::info;

use crate::api::{
    AuraCustomerManagedKey, AuraDatabase, AuraDatabaseBackup, AuraDatabaseRestore,
    AuraDatabaseUser, AuraGraphAnalyticsSession, AuraIPFilter, AuraInstance,
    AuraOrganizationMember, AuraProject, AuraProjectMember, AuraRestore, AuraSnapshot,
    ClusterAuraIPFilter, ClusterAuraProject,
};
use crate::aura::{AuraClients, ClientConfig};
use crate::kinds::database::DatabaseState;
use crate::kinds::database_backup::DatabaseOperationState;
use crate::kinds::database_restore::RestoreState as DatabaseRestoreState;
use crate::kinds::database_user::UserState;
use crate::kinds::graph_analytics_session::SessionState;
use crate::kinds::instance::{self, InstanceState};
use crate::kinds::ip_filter::IpFilterState;
use crate::kinds::project;
use crate::kinds::restore::{RestoreState, RunningRestores};
use crate::kinds::shared::filters::FilterIndex;
use crate::kinds::shared::news::News;
use crate::kinds::shared::views::{DatabaseView, InstanceView, KeyView};
use crate::kinds::snapshot::SnapshotState;
use crate::query_api::QueryApi;
use futures::FutureExt;
use futures::future::{BoxFuture, ready};

use crate::reconciler::{Context, FIELD_MANAGER, Kind, Shared, driver};
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
    let client = crate::reconciler::kube_client::client().await?;
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
    info!(namespaces = ?shared.config.namespaces, aura = %shared.config.aura_base_url, "starting the controllers");
    let migration = start_storage_migration(shared);
    let kinds = Kinds::new(shared, query_api);
    let claims = instance::start_claims(
        &kinds.instances,
        shutdown.wait(),
        std::time::Duration::from_secs(10),
    )
    .await;
    let namespaces = tokio::spawn(project::watch_namespaces(shared.clone(), shutdown.wait()));
    let scopes = shared.config.namespaces.len().max(1);
    // Every kind but the projects resolves its credentials through them:
    // those wait until the project watches have listed.
    let listed = async move {
        if !shared
            .projects
            .wait_ready(scopes, std::time::Duration::from_secs(10))
            .await
        {
            tracing::warn!(
                "the project watches have not listed yet (are the AuraProject and ClusterAuraProject CRDs installed?)"
            );
        }
    }
    .boxed()
    .shared();
    let runs = kinds.runs(&shared.config.namespaces, || shutdown.wait(), listed);
    futures::future::join_all(runs.into_iter().map(|(_, run)| run)).await;
    namespaces.abort();
    if let Some(task) = migration {
        task.abort();
    }
    if let Some(task) = claims {
        task.abort();
    }
    shared.events.flush(std::time::Duration::from_secs(5)).await;
}

/// The storage migration (`migration`), once per start of the leader,
/// beside the controllers. Cluster-wide mode only: it lists every namespace
/// and writes CRD status, rights a namespaced install does not have.
fn start_storage_migration(shared: &Arc<Shared>) -> Option<tokio::task::JoinHandle<()>> {
    if !shared.config.namespaces.is_empty() {
        info!(
            "storage migration skipped (namespaced mode): after an upgrade, run `aura-operator migrate-storage` with cluster rights (README: Upgrading to v1beta1)"
        );
        return None;
    }
    let client = shared.client.clone();
    let telemetry = shared.telemetry.clone();
    Some(tokio::spawn(async move {
        match crate::migration::migrate(&client).await {
            Ok(report) => {
                for kind in &report.kinds {
                    telemetry.record_storage_migration(kind.kind, kind.rewritten);
                }
                if report.rewritten() > 0 || report.secrets_moved > 0 {
                    info!(
                        rewritten = report.rewritten(),
                        secrets_moved = report.secrets_moved,
                        "storage migration done"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "storage migration did not finish; it runs again at the next start (or run `aura-operator migrate-storage`)")
            }
        }
    }))
}

/// Every kind's context, built once. A kind that sees another's objects gets
/// that kind's view here (`kinds::shared::views`).
pub struct Kinds {
    pub instances: Arc<Context<AuraInstance>>,
    pub projects: Arc<Context<AuraProject>>,
    pub cluster_projects: Arc<Context<ClusterAuraProject>>,
    pub snapshots: Arc<Context<AuraSnapshot>>,
    pub restores: Arc<Context<AuraRestore>>,
    pub database_users: Arc<Context<AuraDatabaseUser>>,
    pub keys: Arc<Context<AuraCustomerManagedKey>>,
    pub sessions: Arc<Context<AuraGraphAnalyticsSession>>,
    pub ip_filters: Arc<Context<AuraIPFilter>>,
    pub cluster_ip_filters: Arc<Context<ClusterAuraIPFilter>>,
    pub project_members: Arc<Context<AuraProjectMember>>,
    pub organization_members: Arc<Context<AuraOrganizationMember>>,
    pub databases: Arc<Context<AuraDatabase>>,
    pub database_backups: Arc<Context<AuraDatabaseBackup>>,
    pub database_restores: Arc<Context<AuraDatabaseRestore>>,
}

impl Kinds {
    pub fn new(shared: &Arc<Shared>, query_api: &QueryApi) -> Self {
        let running = Arc::new(RunningRestores::default());
        let snapshot_news = Arc::new(News::default());
        let source_news = Arc::new(News::default());
        let keys = Arc::new(Context::new(shared.clone(), Arc::new(News::default())));
        let key_view: Arc<dyn KeyView> = keys.clone();
        let filters = Arc::new(FilterIndex::default());
        let instances = Arc::new(Context::new(
            shared.clone(),
            InstanceState::new(
                shared.client.clone(),
                query_api.clone(),
                running.clone(),
                snapshot_news.clone(),
                source_news.clone(),
                key_view,
                filters.clone(),
            ),
        ));
        let view: Arc<dyn InstanceView> = instances.clone();
        let databases = Arc::new(Context::new(
            shared.clone(),
            DatabaseState {
                instances: view.clone(),
            },
        ));
        let database_view: Arc<dyn DatabaseView> = databases.clone();
        let backups = Arc::new(Context::new(
            shared.clone(),
            DatabaseOperationState {
                databases: database_view.clone(),
                instances: view.clone(),
            },
        ));
        Self {
            projects: Arc::new(Context::new(shared.clone(), ())),
            cluster_projects: Arc::new(Context::new(shared.clone(), ())),
            snapshots: Arc::new(Context::new(
                shared.clone(),
                SnapshotState {
                    instances: view.clone(),
                    news: snapshot_news.clone(),
                },
            )),
            database_users: Arc::new(Context::new(
                shared.clone(),
                UserState {
                    instances: view.clone(),
                    query_api: query_api.clone(),
                },
            )),
            sessions: Arc::new(Context::new(
                shared.clone(),
                SessionState {
                    instances: view.clone(),
                },
            )),
            ip_filters: Arc::new(Context::new(
                shared.clone(),
                IpFilterState {
                    instances: view.clone(),
                    filters,
                    gone: News::default(),
                },
            )),
            cluster_ip_filters: Arc::new(Context::new(shared.clone(), News::default())),
            project_members: Arc::new(Context::new(shared.clone(), News::default())),
            organization_members: Arc::new(Context::new(shared.clone(), News::default())),
            databases: databases.clone(),
            database_backups: backups.clone(),
            database_restores: Arc::new(Context::new(
                shared.clone(),
                DatabaseRestoreState {
                    databases: database_view.clone(),
                    instances: view.clone(),
                    backups: backups.clone(),
                },
            )),
            restores: Arc::new(Context::new(
                shared.clone(),
                RestoreState {
                    instances: view,
                    running,
                    snapshots: snapshot_news,
                    sources: source_news,
                },
            )),
            instances,
            keys,
        }
    }

    /// Every kind's controllers, by kind: one line per kind. The projects
    /// start at once; the others once `listed` is done.
    pub fn runs<'a, F>(
        &'a self,
        watched: &'a [String],
        stop: impl Fn() -> F + Copy + Send + 'a,
        listed: impl Future<Output = ()> + Clone + Send + 'a,
    ) -> Vec<(String, BoxFuture<'a, ()>)>
    where
        F: Future<Output = ()> + Send + Sync + 'static,
    {
        vec![
            kind(&self.cluster_projects, watched, stop, ready(())),
            kind(&self.projects, watched, stop, ready(())),
            kind(&self.instances, watched, stop, listed.clone()),
            kind(&self.snapshots, watched, stop, listed.clone()),
            kind(&self.restores, watched, stop, listed.clone()),
            kind(&self.database_users, watched, stop, listed.clone()),
            kind(&self.keys, watched, stop, listed.clone()),
            kind(&self.sessions, watched, stop, listed.clone()),
            kind(&self.ip_filters, watched, stop, listed.clone()),
            kind(&self.cluster_ip_filters, watched, stop, listed.clone()),
            kind(&self.project_members, watched, stop, listed.clone()),
            kind(&self.organization_members, watched, stop, listed.clone()),
            kind(&self.databases, watched, stop, listed.clone()),
            kind(&self.database_backups, watched, stop, listed.clone()),
            kind(&self.database_restores, watched, stop, listed),
        ]
    }
}

/// One kind's controllers (after `first`), with the kind's name.
fn kind<'a, K: Kind, F>(
    ctx: &Arc<Context<K>>,
    watched: &'a [String],
    stop: impl Fn() -> F + Copy + Send + 'a,
    first: impl Future<Output = ()> + Send + 'a,
) -> (String, BoxFuture<'a, ()>)
where
    F: Future<Output = ()> + Send + Sync + 'static,
{
    let ctx = ctx.clone();
    let run = async move {
        first.await;
        driver::run(ctx, watched, stop).await;
    };
    (K::kind(&()).into_owned(), run.boxed())
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::reconciler::offline_client;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        config: ControllerConfig,
    }

    #[tokio::test]
    async fn every_reconciled_kind_of_the_list_is_started() {
        let shared = Arc::new(Shared::new(
            offline_client(),
            AuraClients::try_new(ClientConfig::default()).expect("an Aura client"),
            Args::parse_from(["test"]).config,
            Reporter {
                controller: "test".into(),
                instance: None,
            },
            Arc::default(),
        ));
        let query_api = QueryApi::new(
            crate::query_api::UrlTemplate::parse(crate::query_api::DEFAULT_URL_TEMPLATE).unwrap(),
            "test",
        )
        .unwrap();
        let kinds = Kinds::new(&shared, &query_api);
        let mut started: Vec<String> = kinds
            .runs(&[], || async {}, futures::future::ready(()))
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let mut listed: Vec<String> = crate::api::KINDS
            .iter()
            .filter(|k| k.reconciled)
            .map(|k| k.kind.to_string())
            .collect();
        started.sort();
        listed.sort();
        assert_eq!(started, listed);
    }
}

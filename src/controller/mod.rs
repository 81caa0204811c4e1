//! The controller: watches AuraInstances (and the Secrets it owns), reconciles
//! each in phases — observe, decide (pure), act, write status.

mod cache;
mod claims;
mod cleanup;
pub mod config;
mod context;
mod credentials_finalizer;
pub mod decide;
pub mod pacing;
pub mod reason;
mod reconcile;
pub mod secret;
pub mod status;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Client, Resource, ResourceExt};
use tracing::{info, warn};

pub use config::ControllerConfig;
pub use context::Context;

use crate::api::{AuraInstance, AuraInstanceClaim};
use crate::aura::{AuraClients, AuraError, ClientConfig};
use crate::telemetry::{self, Telemetry};
use kube_lease_manager::LeaseManagerBuilder;

/// The one field manager for everything the operator writes.
pub const FIELD_MANAGER: &str = "aura-operator";

/// Errors of one reconcile; each names the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{step}: {source}")]
    Kube {
        step: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Aura(#[from] AuraError),
    #[error("internal: {0}")]
    Invariant(&'static str),
}

impl ReconcileError {
    pub fn kube(step: &'static str, source: kube::Error) -> Self {
        Self::Kube { step, source }
    }
}

fn error_policy(obj: Arc<AuraInstance>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let mut delay = ctx.next_backoff(&obj);
    if let ReconcileError::Aura(e) = error
        && let Some(after) = e.retry_after()
    {
        delay = delay.max(after);
    }
    warn!(object = %obj.name_any(), namespace = %obj.namespace().unwrap_or_default(), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// Runs the controller until SIGTERM/SIGINT: admin server first, then (with
/// leader election) waits for the lease, then watches and reconciles.
pub async fn run(config: ControllerConfig) -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    let telemetry = Arc::new(Telemetry::default());
    let shutdown = Shutdown::on_signals();
    let admin =
        telemetry::serve_admin(config.admin_listen, telemetry.clone(), shutdown.wait()).await?;
    info!(%admin, "admin server listening (/healthz, /readyz, /metrics)");

    let aura = AuraClients::try_new(ClientConfig {
        base_url: config.aura_base_url.clone(),
        requests_per_minute: config.rate_limit,
        ..ClientConfig::default()
    })
    .map_err(|e| anyhow::anyhow!("{e} (check SSL_CERT_FILE / SSL_CERT_DIR)"))?;
    telemetry.set_aura(aura.clone());
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
    let ctx = Arc::new(Context::new(
        client.clone(),
        aura,
        config.clone(),
        reporter,
        telemetry.clone(),
    ));

    if !config.leader_elect {
        run_controllers(client, ctx, &shutdown).await;
        info!("controller stopped");
        return Ok(());
    }

    telemetry.set_leader_election(true);
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
        () = run_controllers(client, ctx, &shutdown) => Ok(()),
        () = lost => Err(anyhow::anyhow!("lost the lease; exiting so that only the leader writes")),
    };
    telemetry.set_lease(false, false);
    // Closing the channel releases the lease for a standby to take at once.
    drop(leading);
    let _ = lease_task.await;
    info!("controller stopped, lease released");
    outcome
}

async fn run_controllers(client: Client, ctx: Arc<Context>, shutdown: &Shutdown) {
    let scopes: Vec<Option<String>> = if ctx.config.namespaces.is_empty() {
        vec![None]
    } else {
        ctx.config.namespaces.iter().cloned().map(Some).collect()
    };
    info!(namespaces = ?ctx.config.namespaces, aura = %ctx.config.aura_base_url, "starting the controller");
    let claims = ctx
        .take_claims_writer()
        .map(|writer| tokio::spawn(watch_claims(client.clone(), writer, shutdown.wait())));
    if !ctx
        .claims
        .wait_ready(std::time::Duration::from_secs(10))
        .await
    {
        warn!(
            "the claims watch has not listed yet (is the AuraInstanceClaim CRD installed?); asking the apiserver instead"
        );
    }
    let runs = scopes
        .into_iter()
        .map(|ns| controller_for(client.clone(), ns, ctx.clone(), shutdown.wait()));
    futures::future::join_all(runs).await;
    if let Some(task) = claims {
        task.abort();
    }
    ctx.flush_events(std::time::Duration::from_secs(5)).await;
}

/// Keeps the claims store current (claims are cluster-scoped: one watch for
/// every namespace scope).
async fn watch_claims(
    client: Client,
    writer: kube::runtime::reflector::store::Writer<AuraInstanceClaim>,
    shutdown: impl Future<Output = ()>,
) {
    let api: Api<AuraInstanceClaim> = Api::all(client);
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .for_each(|event| async move {
            if let Err(e) = event {
                tracing::debug!(error = %e, "claims watch");
            }
        });
    tokio::select! {
        () = stream => {}
        () = shutdown => {}
    }
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

fn controller_for(
    client: Client,
    namespace: Option<String>,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let (instances, secrets): (Api<AuraInstance>, Api<Secret>) = match &namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let (reader, writer) = kube::runtime::reflector::store();
    let synced = ctx.telemetry.register_store(reader.clone());
    ctx.add_instance_store(reader.clone());
    // Status writes must not wake the object again: react to spec, deletion and
    // annotations only (not to the finalizer the first pass adds, either: a
    // missing finalizer is put back by the next pass).
    let main = watcher(instances, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(cache::slim)
        .reflect(writer)
        .inspect(move |event| {
            // The first complete list is what readiness waits for.
            if let Ok(watcher::Event::InitDone) = event {
                synced.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        })
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(predicates::annotations)
                .combine(deletion),
            Default::default(),
        );
    // The connection Secrets, kept in a store so a reconcile need not read them.
    // Their first list wakes nobody: the AuraInstances' own first list does.
    let (owned_reader, owned_writer) = kube::runtime::reflector::store();
    ctx.secrets.add_owned_store(owned_reader);
    let own_writes = ctx.secrets.clone();
    let owned_secrets = watcher(
        secrets,
        watcher::Config::default().labels(&secret::owned_selector()),
    )
    .default_backoff()
    .modify(cache::slim)
    .reflect(owned_writer)
    .filter(after_first_list())
    .filter(move |event| {
        // The echo of our own write wakes nobody; deletions and others' changes do.
        let echo = matches!(event, Ok(watcher::Event::Apply(s)) if own_writes.is_own_write(s));
        std::future::ready(!echo)
    })
    .touched_objects();
    // Credential Secrets carry no label of ours: watch the metadata of the
    // others, and wake the objects that use one when it appears or changes.
    let index = reader.clone();
    let default_creds = ctx.config.default_credentials.clone();
    let secret_meta: Api<PartialObjectMeta<Secret>> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let secret_cache = ctx.secrets.clone();
    let scope = namespace.clone();
    let not_ours = format!("{}!={}", secret::MANAGED_BY_LABEL, secret::MANAGED_BY_VALUE);
    let credential_changes = watcher(secret_meta, watcher::Config::default().labels(&not_ours))
        .default_backoff()
        .inspect(move |event| {
            if let Ok(event) = event {
                secret_cache.observe(&scope, event);
            }
        })
        .filter(after_first_list())
        .touched_objects()
        .predicate_filter(predicates::resource_version, Default::default());
    // Bounded: a thousand reconciles all waiting on the Aura rate limiter at
    // once cost memory and buy nothing.
    let concurrency = kube::runtime::controller::Config::default()
        .concurrency(ctx.config.max_concurrent_reconciles);
    Controller::for_stream(main, reader)
        .with_config(concurrency)
        .owns_stream(owned_secrets)
        .watches_stream(credential_changes, move |meta| {
            let ns = meta.namespace().unwrap_or_default();
            let name = meta.name_any();
            let is_default = default_creds
                .as_ref()
                .is_some_and(|(dns, dname)| *dns == ns && *dname == name);
            index
                .state()
                .into_iter()
                .filter(|o| match &o.spec.credentials_secret_ref {
                    Some(r) => r.name == name && o.namespace().as_deref() == Some(ns.as_str()),
                    None => is_default,
                })
                .map(|o| ObjectRef::from_obj(&*o))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile_timed, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller event");
            }
        })
}

async fn reconcile_timed(
    obj: Arc<AuraInstance>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = std::time::Instant::now();
    let result = reconcile::reconcile(obj, ctx.clone()).await;
    let label = if result.is_ok() { "ok" } else { "error" };
    ctx.telemetry.record_reconcile(label, started.elapsed());
    result
}

/// Drops the events of a watch's first list (a later re-list passes, since
/// changes may have been missed while the watch was down).
fn after_first_list<K>()
-> impl FnMut(&Result<watcher::Event<K>, watcher::Error>) -> std::future::Ready<bool> {
    let mut listed = false;
    move |event| {
        let keep = match event {
            Ok(watcher::Event::InitDone) => {
                listed = true;
                false
            }
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => listed,
            _ => true,
        };
        std::future::ready(keep)
    }
}

fn deletion(obj: &AuraInstance) -> Option<u64> {
    obj.meta().deletion_timestamp.as_ref().map(|_| 1)
}

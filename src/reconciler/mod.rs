//! The machinery every kind shares: the driver (finalizer -> the kind's pass ->
//! status), the one status writer, per-object memory, credentials resolution,
//! events and the context built once at start. Nothing in here knows a kind.

pub mod cache;
pub mod config;
pub mod context;
pub mod credentials;
pub mod credentials_finalizer;
pub mod driver;
pub mod events;
pub mod kube_client;
pub mod memory;
pub mod pacing;
pub mod projects;
pub mod status;
pub mod tenants;
pub mod wakes;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use kube::Resource;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::locked;
pub use config::ControllerConfig;
pub use context::{Context, Shared};

use crate::aura::{AuraError, AuraErrorKind};

/// The one field manager for everything the operator writes.
pub const FIELD_MANAGER: &str = "aura-operator";

/// Errors of one reconcile; each names the step that failed, which is also
/// its label in logs and metrics.
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

    /// The label of the failure site, for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Kube { step, .. } => step,
            Self::Aura(e) => match e.kind() {
                AuraErrorKind::Conflict => "aura busy",
                AuraErrorKind::Transient => "aura unreachable",
                AuraErrorKind::NotFound => "aura not found",
                AuraErrorKind::NeedsHuman => "aura refused",
                AuraErrorKind::OutcomeUnknown => "aura outcome unknown",
            },
            Self::Invariant(_) => "internal",
        }
    }

    /// Aura is busy with an operation of its own (409): a normal wait, not a failure.
    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Aura(e) if e.kind() == AuraErrorKind::Conflict)
    }
}

pub type Result<T, E = ReconcileError> = std::result::Result<T, E>;

/// The end of one deletion pass.
#[derive(Debug)]
pub enum Cleanup {
    /// Nothing is left to do: the driver removes the finalizer.
    Done,
    /// Look again (Aura is still destroying, or waiting for a human).
    Again(Action),
}

/// How a kind's scope reaches its `Api`: a namespaced kind lives in a
/// namespace (or is watched in all), a cluster-scoped one never in one.
pub trait ApiScope {
    /// One watch for the whole cluster, whatever namespaces the operator watches.
    const CLUSTER: bool;

    fn api<K>(client: kube::Client, namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>;
}

impl ApiScope for NamespaceResourceScope {
    const CLUSTER: bool = false;

    fn api<K>(client: kube::Client, namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>,
    {
        match namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        }
    }
}

impl ApiScope for ClusterResourceScope {
    const CLUSTER: bool = true;

    fn api<K>(client: kube::Client, _namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>,
    {
        Api::all(client)
    }
}

/// The `Api` of kind `K` in `namespace` (all namespaces when `None`; a
/// cluster-scoped kind ignores it).
pub fn api<K: Kind>(client: &kube::Client, namespace: Option<&str>) -> Api<K> {
    <K::Scope as ApiScope>::api(client.clone(), namespace)
}

/// A kind's status: what the one status writer and the driver need of it.
pub trait KindStatus: Serialize + Clone + PartialEq + Default + Send + Sync {
    fn conditions(&self) -> &[Condition];
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn set_observed_generation(&mut self, generation: Option<i64>);
}

/// [`KindStatus`] for status types with `conditions` and `observedGeneration`.
#[macro_export]
macro_rules! kind_status {
    ($($status:ty),+ $(,)?) => {$(
        impl $crate::reconciler::KindStatus for $status {
            fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
                &self.conditions
            }
            fn conditions_mut(
                &mut self,
            ) -> &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
                &mut self.conditions
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
        }
    )+};
}

/// A kind the operator reconciles, namespaced or cluster-scoped. The driver
/// keeps the finalizer, hands live objects to [`Kind::apply`] and deleted
/// ones to [`Kind::cleanup`], removes the finalizer when cleanup is done, and
/// prunes the object's memory. Adding a kind is this impl, its CRD in
/// `api::KINDS`, and one line in the runtime.
pub trait Kind:
    Resource<DynamicType = (), Scope: ApiScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// The kind's finalizer.
    const FINALIZER: &'static str;
    /// What the kind remembers of one object between passes (in this process only).
    type Memory: Default + Send + 'static;
    /// What the kind keeps for all its objects, built once.
    type State: Send + Sync + 'static;
    type Status: KindStatus;
    /// The reasons of its conditions and events.
    type Reason: status::ReasonCode;

    fn status(&self) -> Option<&Self::Status>;

    /// The credentials the object asks for: a Secret of its own namespace, a
    /// project, or (naming neither) the ClusterAuraProject `default`.
    fn wanted_credentials(&self) -> projects::Wanted<'_> {
        projects::Wanted::Default
    }

    /// Whether a live object should carry the finalizer now (most kinds:
    /// always; a project only while something uses it).
    fn keeps_finalizer(
        _obj: &Self,
        _ctx: &Context<Self>,
    ) -> impl Future<Output = Result<bool>> + Send {
        async { Ok(true) }
    }

    /// One pass over an object that lives, its finalizer as it should be.
    fn apply(
        obj: Arc<Self>,
        ctx: Arc<Context<Self>>,
    ) -> impl Future<Output = Result<Action>> + Send;

    /// One pass over an object being deleted, its finalizer still in place.
    fn cleanup(
        obj: Arc<Self>,
        ctx: Arc<Context<Self>>,
    ) -> impl Future<Output = Result<Cleanup>> + Send;

    /// After the finalizer is gone (the object may already be gone too).
    fn finalized(
        _obj: Arc<Self>,
        _ctx: Arc<Context<Self>>,
    ) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Every event of the kind's watch, after its store took it (for
    /// registries other kinds read, such as the projects').
    fn watched(_ctx: &Context<Self>, _event: &watcher::Event<Self>) {}

    /// The controller of one watched scope (`None`: all namespaces, or a
    /// cluster-scoped kind), before it runs: more triggers, owned objects.
    fn wire(
        controller: Controller<Self>,
        _ctx: &Arc<Context<Self>>,
        _namespace: Option<&str>,
    ) -> Controller<Self> {
        controller
    }
}

/// Ends the process on the spot, as `kill -9` would (no cleanup, no
/// flush), when the environment variable `AURA_FAILPOINT` names this step:
/// how the tests cut a multi-step protocol at an exact point. Unset in
/// production, where it costs one environment lookup per step.
pub fn failpoint(step: &str) {
    if std::env::var_os("AURA_FAILPOINT").is_some_and(|v| v == step) {
        std::process::abort();
    }
}

/// A client for tests that never reaches a server.
#[cfg(test)]
pub fn offline_client() -> kube::Client {
    let config = kube::Config::new("http://127.0.0.1:9".parse().expect("static URL"));
    kube::Client::try_from(config).expect("a client for an offline URL")
}

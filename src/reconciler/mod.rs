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
pub mod memory;
pub mod pacing;
pub mod projects;
pub mod status;
pub mod tenants;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use kube::Resource;
use kube::runtime::controller::Action;
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

/// A kind the operator reconciles. The driver adds the finalizer, hands live
/// objects to [`Kind::apply`] and deleted ones to [`Kind::cleanup`], removes
/// the finalizer when cleanup is done, and prunes the object's memory.
pub trait Kind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
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
    type Status: Serialize + Clone + PartialEq + Default + Send + Sync;

    fn status(&self) -> Option<&Self::Status>;

    /// The credentials the object asks for: a Secret of its own namespace, a
    /// project, or (naming neither) the ClusterAuraProject `default`.
    fn wanted_credentials(&self) -> projects::Wanted<'_> {
        projects::Wanted::Default
    }

    /// One pass over an object that lives, its finalizer in place.
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
}

//! AuraRestore: one restore or overwrite of an AuraInstance's data, run once,
//! like a Job. `decide` (pure) picks the step and the status; `act` reads
//! what it needs, carries the step out and writes status. Deleting the object
//! removes only the object: a restore Aura runs cannot be stopped.

mod act;
pub mod decide;
pub mod running;

use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;

use crate::api::{AuraInstance, AuraRestore, AuraRestoreStatus, RESTORE_FINALIZER};
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result, Shared, driver};

pub use running::RunningRestores;

impl Kind for AuraRestore {
    const FINALIZER: &'static str = RESTORE_FINALIZER;
    type Memory = ();
    /// The AuraInstances, for the target, a source instance and their credentials.
    type State = Arc<Context<AuraInstance>>;
    type Status = AuraRestoreStatus;

    fn status(&self) -> Option<&AuraRestoreStatus> {
        self.status.as_ref()
    }

    fn wanted_credentials(&self) -> Wanted<'_> {
        Wanted::Borrowed
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(&obj, &ctx).await
    }

    /// Only the object goes; a Running restore carries on in Aura.
    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        act::forget(&obj, &ctx);
        Ok(Cleanup::Done)
    }
}

/// The AuraRestore controller of one scope. Its watch store is also the
/// AuraInstances' view of the restores that run on them.
pub async fn run(
    shared: &Arc<Shared>,
    ctx: &Arc<Context<AuraRestore>>,
    namespace: Option<String>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<AuraRestore> = match &namespace {
        Some(ns) => Api::namespaced(shared.client.clone(), ns),
        None => Api::all(shared.client.clone()),
    };
    let controller = driver::controller(api, ctx);
    ctx.state.state.restores.register(controller.store());
    driver::run(controller, ctx.clone(), shutdown).await;
}

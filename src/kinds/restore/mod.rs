//! AuraRestore: one restore or overwrite of an AuraInstance's data, run once,
//! like a Job. `decide` (pure) picks the step and the status; `act` reads
//! what it needs, carries the step out and writes status. Deleting the object
//! removes only the object: a restore Aura runs cannot be stopped.

mod act;
pub mod decide;
pub mod running;

use std::sync::Arc;

use kube::runtime::controller::{Action, Controller};

use crate::api::{AuraRestore, AuraRestoreStatus, RESTORE_FINALIZER};
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

pub use running::RunningRestores;

crate::kind_status!(AuraRestoreStatus);

/// What the AuraRestore kind keeps for all its objects.
pub struct RestoreState {
    /// The AuraInstances: the target, a source instance, their credentials.
    pub instances: Arc<dyn InstanceView>,
    /// The restores that run, as the AuraInstance kind sees them; the
    /// controller registers its stores here and wakes an instance when a
    /// restore on it starts or ends.
    pub running: Arc<RunningRestores>,
}

impl Kind for AuraRestore {
    const FINALIZER: &'static str = RESTORE_FINALIZER;
    type Memory = ();
    type State = RestoreState;
    type Status = AuraRestoreStatus;
    type Reason = decide::RestoreReason;

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

    /// The watch's store is also the AuraInstances' view of the restores
    /// that run on them.
    fn wire(
        controller: Controller<Self>,
        ctx: &Arc<Context<Self>>,
        _namespace: Option<&str>,
    ) -> Controller<Self> {
        ctx.state.running.register(controller.store());
        controller
    }
}

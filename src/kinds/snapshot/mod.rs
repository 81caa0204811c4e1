//! AuraSnapshot: one on-demand snapshot of an AuraInstance. `decide` (pure)
//! picks the step and the status; `act` reads Aura, carries the step out and
//! writes status. Deleting the object removes only the object.

mod act;
pub mod decide;

use std::sync::Arc;

use kube::runtime::controller::Action;

use crate::api::{AuraSnapshot, AuraSnapshotStatus, SNAPSHOT_FINALIZER};
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraSnapshotStatus);

impl Kind for AuraSnapshot {
    const FINALIZER: &'static str = SNAPSHOT_FINALIZER;
    type Memory = ();
    /// The AuraInstances, for the instance a snapshot is of and its credentials.
    type State = Arc<dyn InstanceView>;
    type Status = AuraSnapshotStatus;
    type Reason = decide::SnapshotReason;

    fn status(&self) -> Option<&AuraSnapshotStatus> {
        self.status.as_ref()
    }

    fn wanted_credentials(&self) -> Wanted<'_> {
        Wanted::Borrowed
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(&obj, &ctx).await
    }

    /// Aura has no call to delete a snapshot: only the object goes.
    async fn cleanup(_obj: Arc<Self>, _ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        Ok(Cleanup::Done)
    }
}

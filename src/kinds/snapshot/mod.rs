//! AuraSnapshot: one on-demand snapshot of an AuraInstance. `decide` (pure)
//! picks the step and the status; `act` reads Aura, carries the step out and
//! writes status. Deleting the object removes only the object.

mod act;
pub mod decide;

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::runtime::watcher;

use crate::api::{AuraSnapshot, AuraSnapshotStatus, SNAPSHOT_FINALIZER};
use crate::kinds::shared::news::News;
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraSnapshotStatus);

/// What the AuraSnapshot kind keeps for all its objects.
pub struct SnapshotState {
    /// The AuraInstances, for the instance a snapshot is of and its credentials.
    pub instances: Arc<dyn InstanceView>,
    /// Told of every change of an AuraSnapshot: restores and clones wait on them.
    pub news: Arc<News>,
}

impl Kind for AuraSnapshot {
    const FINALIZER: &'static str = SNAPSHOT_FINALIZER;
    type Memory = ();
    type State = SnapshotState;
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

    /// Nothing is cleaned up when one goes (Aura has no call to delete a
    /// snapshot): no finalizer, and an old one is taken off.
    async fn keeps_finalizer(_obj: &Self, _ctx: &Context<Self>) -> Result<bool> {
        Ok(false)
    }

    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        if let watcher::Event::Apply(s) | watcher::Event::Delete(s) = event {
            ctx.state.news.tell(s);
        }
    }

    /// Aura has no call to delete a snapshot: only the object goes.
    async fn cleanup(_obj: Arc<Self>, _ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        Ok(Cleanup::Done)
    }
}

//! AuraRestore: one restore or overwrite of an AuraInstance's data, run once,
//! like a Job. `decide` (pure) picks the step and the status; `act` reads
//! what it needs, carries the step out and writes status. Deleting the object
//! removes only the object: a restore Aura runs cannot be stopped.

mod act;
pub mod decide;
pub mod running;

use std::sync::Arc;

use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::api::{AuraRestore, AuraRestoreStatus, RESTORE_FINALIZER};
use crate::kinds::shared::news::News;
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
    /// Changes of AuraSnapshots: a restore waiting on its source is woken.
    pub snapshots: Arc<News>,
    /// AuraInstances that came to hold an instance: likewise.
    pub sources: Arc<News>,
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

    /// Nothing is cleaned up when one goes (a restore Aura runs cannot be
    /// stopped): no finalizer, and an old one is taken off.
    async fn keeps_finalizer(_obj: &Self, _ctx: &Context<Self>) -> Result<bool> {
        Ok(false)
    }

    /// Only the object goes; a Running restore carries on in Aura.
    async fn cleanup(_obj: Arc<Self>, _ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        Ok(Cleanup::Done)
    }

    /// A deleted restore that ran: its instance looks again at once.
    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        if let watcher::Event::Delete(r) = event {
            act::forget(r, ctx);
        }
    }

    /// The watch's store is also the AuraInstances' view of the restores
    /// that run on them.
    fn wire(
        controller: Controller<Self>,
        ctx: &Arc<Context<Self>>,
        _namespace: Option<&str>,
    ) -> Controller<Self> {
        ctx.state.running.register(controller.store());
        let restores = ctx.clone();
        let waiting = ctx.state.snapshots.wakes(move |ns, snapshot| {
            restores
                .objects_in(ns)
                .into_iter()
                .filter(|r| {
                    r.spec
                        .source
                        .snapshot_ref
                        .as_ref()
                        .is_some_and(|s| s.name == snapshot)
                        || r.status.as_ref().and_then(|s| s.before_snapshot.as_deref())
                            == Some(snapshot)
                })
                .map(|r| ObjectRef::from_obj(r.as_ref()))
                .collect()
        });
        let restores = ctx.clone();
        let waiting_on_instances = ctx.state.sources.wakes(move |ns, instance| {
            restores
                .objects_in(ns)
                .into_iter()
                .filter(|r| {
                    r.spec
                        .source
                        .instance_ref
                        .as_ref()
                        .is_some_and(|s| s.name == instance)
                        || r.spec.instance_ref.name == instance
                })
                .map(|r| ObjectRef::from_obj(r.as_ref()))
                .collect()
        });
        controller
            .reconcile_on(waiting)
            .reconcile_on(waiting_on_instances)
    }
}

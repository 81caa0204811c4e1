//! AuraIPFilter: an Aura IP filter (API v2beta1) applied to AuraInstances of
//! the namespace. `decide` (pure) builds the write, finds conflicts and reads
//! the per-instance state; `act` writes to Aura and reads each write back;
//! `cleanup` removes the filter.

mod act;
mod cleanup;
pub mod decide;

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::watcher;

use crate::api::{AuraIPFilter, AuraIPFilterStatus, IP_FILTER_FINALIZER};
use crate::kinds::shared::filters::FilterIndex;
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraIPFilterStatus);

/// What the kind keeps for all its objects.
pub struct IpFilterState {
    /// The AuraInstances a filter names (of its own namespace only).
    pub instances: Arc<dyn InstanceView>,
    /// Which filter names which instance, for the AuraInstances' status.
    pub filters: Arc<FilterIndex>,
}

impl Kind for AuraIPFilter {
    const FINALIZER: &'static str = IP_FILTER_FINALIZER;
    type Memory = ();
    type State = IpFilterState;
    type Status = AuraIPFilterStatus;
    type Reason = decide::FilterReason;

    fn status(&self) -> Option<&AuraIPFilterStatus> {
        self.status.as_ref()
    }

    fn wanted_credentials(&self) -> Wanted<'_> {
        match (&self.spec.credentials_secret_ref, &self.spec.project_ref) {
            (Some(secret), _) => Wanted::Secret(&secret.name),
            (None, Some(project)) => Wanted::Project(project.kind, &project.name),
            (None, None) => Wanted::Default,
        }
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(&obj, &ctx).await
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        cleanup::cleanup(&obj, &ctx).await
    }

    /// The index of which filter names which instance follows the watch; a
    /// filter being deleted still names its instances until it is gone.
    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        match event {
            watcher::Event::Apply(f) | watcher::Event::InitApply(f) => ctx.state.filters.set(
                &f.namespace().unwrap_or_default(),
                &f.name_any(),
                f.spec
                    .instance_refs
                    .iter()
                    .map(|r| r.name.clone())
                    .collect(),
            ),
            watcher::Event::Delete(f) => ctx.state.filters.set(
                &f.namespace().unwrap_or_default(),
                &f.name_any(),
                Default::default(),
            ),
            watcher::Event::Init | watcher::Event::InitDone => {}
        }
    }
}

//! AuraIPFilter and ClusterAuraIPFilter: an Aura IP filter (API v2beta1)
//! applied to AuraInstances of the namespace, or to the Aura projects of
//! ClusterAuraProjects. `decide` (pure) builds the write, finds conflicts and
//! reads the per-instance state; `write` (both kinds) writes to Aura and
//! reads each write back; `act` (instances) and `cluster` (projects) are the
//! passes; `cleanup` removes the filter.

mod act;
mod cleanup;
mod cluster;
pub mod decide;
mod write;

use std::sync::Arc;

use futures::StreamExt;
use kube::ResourceExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::api::{
    AuraIPFilter, AuraIPFilterStatus, ClusterAuraIPFilter, DeletionPolicy, IP_FILTER_FINALIZER,
    ProjectKind,
};
use crate::kinds::shared::filters::FilterIndex;
use crate::kinds::shared::news::News;
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::projects::{Change, ProjectId, Wanted};
use crate::reconciler::status::Said;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraIPFilterStatus);

/// What the writes, the conflict check, the wakes and the cleanup need of
/// either filter kind.
pub trait FilterObject: Kind<Status = AuraIPFilterStatus, Reason = decide::FilterReason> {
    /// The filter's name in Aura.
    fn aura_name(&self) -> &str;
    fn deletion_policy(&self) -> DeletionPolicy;
    /// The instances or projects it names, by object name.
    fn entity_names(&self) -> Vec<String>;
    /// Whether it uses the project `id` (for credentials or as an entity).
    fn uses_project(&self, id: &ProjectId) -> bool;
    /// Told of every deleted object of the kind.
    fn deleted(state: &Self::State) -> &News;

    /// The object as the conflict check sees it.
    fn as_other(&self) -> decide::Other {
        let namespace = self.namespace().unwrap_or_default();
        let key = match self.namespace() {
            Some(ns) => format!("{} {ns}/{}", Self::kind(&()), self.name_any()),
            None => format!("{} {}", Self::kind(&()), self.name_any()),
        };
        decide::Other {
            key,
            namespace,
            created: self.meta().creation_timestamp.as_ref().map(|t| t.0),
            instance_names: self.entity_names(),
            id: self.status().and_then(|s| s.id.clone()),
        }
    }
}

impl FilterObject for AuraIPFilter {
    fn aura_name(&self) -> &str {
        &self.spec.name
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        AuraIPFilter::deletion_policy(self)
    }
    fn entity_names(&self) -> Vec<String> {
        self.spec
            .instance_refs
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }
    fn uses_project(&self, id: &ProjectId) -> bool {
        let ns = self.namespace().unwrap_or_default();
        self.wanted_credentials().project(&ns).as_ref() == Some(id)
    }
    fn deleted(state: &IpFilterState) -> &News {
        &state.gone
    }
}

impl FilterObject for ClusterAuraIPFilter {
    fn aura_name(&self) -> &str {
        &self.spec.name
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        ClusterAuraIPFilter::deletion_policy(self)
    }
    fn entity_names(&self) -> Vec<String> {
        self.spec
            .project_refs
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }
    /// The first project gives the credentials; every named one matters.
    fn uses_project(&self, id: &ProjectId) -> bool {
        self.spec
            .project_refs
            .iter()
            .any(|r| ProjectId::cluster(&r.name) == *id)
    }
    fn deleted(state: &News) -> &News {
        state
    }
}

/// The controller's extra triggers, the same for both kinds: a change of a
/// project an object uses (its organization found or named, its Aura
/// project found), and the deletion of an object of the kind, which wakes
/// those of the same scope waiting on a conflict.
fn wire_filters<K: FilterObject>(
    controller: Controller<K>,
    ctx: &Arc<Context<K>>,
) -> Controller<K> {
    let filters = ctx.clone();
    let changed = ctx.projects.changes().flat_map(move |change| {
        let hits: Vec<ObjectRef<K>> = match change {
            Change::Project(id) => filters
                .all_objects()
                .iter()
                .filter(|f| f.uses_project(&id))
                .map(|f| ObjectRef::from_obj(f.as_ref()))
                .collect(),
            Change::Namespace(_) => Vec::new(),
        };
        futures::stream::iter(hits)
    });
    let filters = ctx.clone();
    let waiting = K::deleted(&ctx.state).wakes(move |ns, _| {
        filters
            .all_objects()
            .iter()
            .filter(|f| f.namespace().unwrap_or_default() == ns)
            .filter(|f| waits_on_conflict(f.status()))
            .map(|f| ObjectRef::from_obj(f.as_ref()))
            .collect()
    });
    controller.reconcile_on(changed).reconcile_on(waiting)
}

/// What the kind keeps for all its objects.
pub struct IpFilterState {
    /// The AuraInstances a filter names (of its own namespace only).
    pub instances: Arc<dyn InstanceView>,
    /// Which filter names which instance, for the AuraInstances' status.
    pub filters: Arc<FilterIndex>,
    /// AuraIPFilters deleted: the ones of the namespace that waited on them
    /// (`FilterConflict`) are woken.
    pub gone: News,
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

    /// Woken when its project changes or a filter it waits on goes.
    fn wire(
        controller: Controller<Self>,
        ctx: &Arc<Context<Self>>,
        _namespace: Option<&str>,
    ) -> Controller<Self> {
        wire_filters(controller, ctx)
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        cleanup::cleanup(obj.as_ref(), ctx.as_ref()).await
    }

    /// The index of which filter names which instance follows the watch; a
    /// filter being deleted still names its instances until it is gone.
    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        match event {
            watcher::Event::Apply(f) | watcher::Event::InitApply(f) => ctx.state.filters.set(
                &f.namespace().unwrap_or_default(),
                &f.name_any(),
                f.entity_names().into_iter().collect(),
            ),
            watcher::Event::Delete(f) => {
                ctx.state.filters.set(
                    &f.namespace().unwrap_or_default(),
                    &f.name_any(),
                    Default::default(),
                );
                // A filter waiting on this one may go on now.
                Self::deleted(&ctx.state).tell(f);
            }
            watcher::Event::Init | watcher::Event::InitDone => {}
        }
    }
}

impl Kind for ClusterAuraIPFilter {
    const FINALIZER: &'static str = IP_FILTER_FINALIZER;
    type Memory = ();
    /// ClusterAuraIPFilters deleted: the ones that waited on them
    /// (`FilterConflict`) are woken.
    type State = News;
    type Status = AuraIPFilterStatus;
    type Reason = decide::FilterReason;

    fn status(&self) -> Option<&AuraIPFilterStatus> {
        self.status.as_ref()
    }

    /// The first project's credentials (cluster administrators name the
    /// projects; a cluster-scoped object is held to no allowed namespaces).
    fn wanted_credentials(&self) -> Wanted<'_> {
        match self.spec.project_refs.first() {
            Some(first) => Wanted::Project(ProjectKind::ClusterAuraProject, &first.name),
            None => Wanted::Default,
        }
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        cluster::apply(&obj, &ctx).await
    }

    /// Woken when a named project changes (not only the first, whose
    /// credentials it uses) or a filter it waits on goes.
    fn wire(
        controller: Controller<Self>,
        ctx: &Arc<Context<Self>>,
        _namespace: Option<&str>,
    ) -> Controller<Self> {
        wire_filters(controller, ctx)
    }

    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        if let watcher::Event::Delete(f) = event {
            Self::deleted(&ctx.state).tell(f);
        }
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        cleanup::cleanup(obj.as_ref(), ctx.as_ref()).await
    }
}

/// Whether a filter's status says it waits on another (`FilterConflict`).
fn waits_on_conflict(status: Option<&AuraIPFilterStatus>) -> bool {
    status.is_some_and(|s| {
        Said::<decide::FilterReason>::of(&s.conditions).stalled
            == Some(decide::FilterReason::FilterConflict)
    })
}

//! AuraProject and ClusterAuraProject: credentials and the namespaces allowed
//! to use them. Both kinds run the same pass through the shared driver (the
//! finalizer held only while AuraInstances use the project; observe the
//! credentials and the tenant, decide the status, write it) by way of
//! [`ProjectResource`]; `decide` is pure, `act` does the I/O.

mod act;
pub mod decide;
mod metrics;
pub mod scrape;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::api::{
    AuraProject, AuraProjectStatus, ClusterAuraProject, PROJECT_FINALIZER, ProjectKind,
};
use crate::reconciler::projects::{ProjectId, ProjectView, Wanted};
use crate::reconciler::{Cleanup, Context, Kind, Result, Shared};

crate::kind_status!(AuraProjectStatus);

/// What both project kinds offer the shared pass.
pub trait ProjectResource:
    Kind<Status = AuraProjectStatus, Memory = (), State = (), Reason = decide::ProjectReason>
{
    const KIND: ProjectKind;
    fn id(&self) -> ProjectId;
    fn view(&self) -> ProjectView;
    fn spec_tenant(&self) -> Option<&str>;
    fn spec_organization(&self) -> Option<&str>;
    /// What spec.metrics asks for.
    fn metrics(&self) -> Option<metrics::MetricsWanted>;
    /// The object a project id names, for the controller's queue.
    fn reference(id: &ProjectId) -> ObjectRef<Self>;
    /// Hands the kind's watch store to the registry.
    fn register(shared: &Shared, store: Store<Self>);
}

impl ProjectResource for AuraProject {
    const KIND: ProjectKind = ProjectKind::AuraProject;
    fn id(&self) -> ProjectId {
        ProjectId::namespaced(&self.namespace().unwrap_or_default(), &self.name_any())
    }
    fn view(&self) -> ProjectView {
        ProjectView::of_namespaced(self)
    }
    fn spec_tenant(&self) -> Option<&str> {
        self.spec.tenant_id.as_deref()
    }
    fn spec_organization(&self) -> Option<&str> {
        self.spec.organization_id.as_deref()
    }
    fn metrics(&self) -> Option<metrics::MetricsWanted> {
        self.spec.metrics.as_ref().map(|m| metrics::MetricsWanted {
            namespace: self.namespace().unwrap_or_default(),
            secret: m.credentials_secret_ref.name.clone(),
            interval: m.scrape_interval.clone(),
        })
    }
    fn reference(id: &ProjectId) -> ObjectRef<Self> {
        ObjectRef::new(&id.name).within(id.namespace.as_deref().unwrap_or_default())
    }
    fn register(shared: &Shared, store: Store<Self>) {
        shared.projects.add_namespaced_store(store);
    }
}

impl ProjectResource for ClusterAuraProject {
    const KIND: ProjectKind = ProjectKind::ClusterAuraProject;
    fn id(&self) -> ProjectId {
        ProjectId::cluster(&self.name_any())
    }
    fn view(&self) -> ProjectView {
        ProjectView::of_cluster(self)
    }
    fn spec_tenant(&self) -> Option<&str> {
        self.spec.tenant_id.as_deref()
    }
    fn spec_organization(&self) -> Option<&str> {
        self.spec.organization_id.as_deref()
    }
    fn metrics(&self) -> Option<metrics::MetricsWanted> {
        self.spec.metrics.as_ref().map(|m| metrics::MetricsWanted {
            namespace: m.credentials_secret_ref.namespace.clone(),
            secret: m.credentials_secret_ref.name.clone(),
            interval: m.scrape_interval.clone(),
        })
    }
    fn reference(id: &ProjectId) -> ObjectRef<Self> {
        ObjectRef::new(&id.name)
    }
    fn register(shared: &Shared, store: Store<Self>) {
        shared.projects.set_cluster_store(store);
    }
}

/// The one `Kind` of both project kinds.
macro_rules! project_kind {
    ($($kind:ty),+) => {$(
        impl Kind for $kind {
            const FINALIZER: &'static str = PROJECT_FINALIZER;
            /// The client id a project holds lives in the driver's memory.
            type Memory = ();
            type State = ();
            type Status = AuraProjectStatus;
            type Reason = decide::ProjectReason;

            fn status(&self) -> Option<&AuraProjectStatus> {
                self.status.as_ref()
            }

            /// A project is no user of credentials: it names them.
            fn wanted_credentials(&self) -> Wanted<'_> {
                Wanted::Borrowed
            }

            async fn keeps_finalizer(obj: &Self, ctx: &Context<Self>) -> Result<bool> {
                act::keeps_finalizer(obj, ctx).await
            }

            async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
                act::apply(obj.as_ref(), &ctx).await
            }

            async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
                act::cleanup(obj.as_ref(), &ctx).await
            }

            fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
                saw(ctx, event);
            }

            fn wire(
                controller: Controller<Self>,
                ctx: &Arc<Context<Self>>,
                _namespace: Option<&str>,
            ) -> Controller<Self> {
                <$kind as ProjectResource>::register(ctx, controller.store());
                controller.reconcile_on(usage_triggers::<$kind>(ctx))
            }
        }
    )+};
}

project_kind!(AuraProject, ClusterAuraProject);

/// Every change that matters to credentials resolution is told to the registry.
fn saw<P: ProjectResource>(ctx: &Context<P>, event: &watcher::Event<P>) {
    match event {
        watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
            ctx.projects.saw_project(&p.id(), Some(p.view()));
        }
        watcher::Event::Delete(p) => ctx.projects.saw_project(&p.id(), None),
        watcher::Event::Init | watcher::Event::InitDone => {}
    }
}

/// Projects of this kind whose users changed.
fn usage_triggers<P: ProjectResource>(
    ctx: &Context<P>,
) -> impl futures::Stream<Item = ObjectRef<P>> + Send + use<P> {
    ctx.projects
        .usage_changes()
        .filter_map(|id| async move { (id.kind == P::KIND).then(|| P::reference(&id)) })
}

/// The namespaces' labels, for projects that allow namespaces by selector.
/// Metadata only; a label change wakes the AuraInstances of that namespace.
pub async fn watch_namespaces(
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(shared.client.clone());
    let (reader, writer) = kube::runtime::reflector::store();
    shared.projects.set_namespace_store(reader);
    let seen = shared.clone();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(crate::reconciler::cache::slim)
        .reflect(writer)
        .for_each(move |event| {
            if let Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) = &event {
                seen.projects.saw_namespace(&n.name_any(), n.labels());
            }
            if let Err(e) = &event {
                tracing::debug!(error = %e, "namespace watch");
            }
            std::future::ready(())
        });
    tokio::select! {
        () = stream => {}
        () = shutdown => {}
    }
}

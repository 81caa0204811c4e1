//! AuraProject and ClusterAuraProject: credentials and the namespaces allowed
//! to use them. Both kinds run the same pass (observe the credentials and the
//! tenant, decide the status, write it) through [`ProjectResource`]; `decide`
//! is pure, `act` does the I/O.

mod act;
pub mod decide;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{AuraProject, AuraProjectStatus, ClusterAuraProject, ProjectKind};
use crate::reconciler::projects::{ProjectId, ProjectView, news};
use crate::reconciler::{ReconcileError, Shared};

/// What both project kinds offer the shared pass.
pub trait ProjectResource:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static
{
    const KIND: ProjectKind;
    fn id(&self) -> ProjectId;
    fn view(&self) -> ProjectView;
    fn project_status(&self) -> Option<&AuraProjectStatus>;
    fn spec_tenant(&self) -> Option<&str>;
    /// The API the object lives in.
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<Self>;
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
    fn project_status(&self) -> Option<&AuraProjectStatus> {
        self.status.as_ref()
    }
    fn spec_tenant(&self) -> Option<&str> {
        self.spec.tenant_id.as_deref()
    }
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<Self> {
        match namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        }
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
    fn project_status(&self) -> Option<&AuraProjectStatus> {
        self.status.as_ref()
    }
    fn spec_tenant(&self) -> Option<&str> {
        self.spec.tenant_id.as_deref()
    }
    fn api(client: kube::Client, _namespace: Option<&str>) -> Api<Self> {
        Api::all(client)
    }
    fn reference(id: &ProjectId) -> ObjectRef<Self> {
        ObjectRef::new(&id.name)
    }
    fn register(shared: &Shared, store: Store<Self>) {
        shared.projects.set_cluster_store(store);
    }
}

/// What the project controllers share: the operator's shared parts, and the
/// client id each project holds (so that a client id used only by projects
/// keeps its token and limiter, and the hourly token budget is not spent
/// again on every pass).
pub struct ProjectContext {
    pub shared: Arc<Shared>,
    clients: Mutex<std::collections::HashMap<ProjectId, String>>,
}

impl ProjectContext {
    pub fn new(shared: Arc<Shared>) -> Arc<Self> {
        Arc::new(Self {
            shared,
            clients: Mutex::default(),
        })
    }

    fn hold_client(&self, id: &ProjectId, client_id: &str) {
        let before = crate::locked(&self.clients).insert(id.clone(), client_id.to_string());
        if before.as_deref() != Some(client_id) {
            self.shared.count_client(before.as_deref(), client_id);
        }
    }

    fn release_client(&self, id: &ProjectId) {
        if let Some(client_id) = crate::locked(&self.clients).remove(id) {
            self.shared.uncount_client(&client_id);
        }
    }
}

/// The watch of one project kind in one scope: its store feeds the registry,
/// and every change that matters to resolution is told to the instances.
fn watch<P: ProjectResource>(
    ctx: &Arc<ProjectContext>,
    api: Api<P>,
) -> (
    Store<P>,
    impl Stream<Item = Result<P, watcher::Error>> + Send + use<P>,
) {
    let (reader, writer) = kube::runtime::reflector::store();
    let registry = ctx.clone();
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .reflect(writer)
        .inspect(move |event| {
            let projects = &registry.shared.projects;
            match event {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => {
                    projects.saw_project(&p.id(), Some(p.view()));
                }
                Ok(watcher::Event::Delete(p)) => {
                    projects.saw_project(&p.id(), None);
                    registry.release_client(&p.id());
                }
                _ => {}
            }
        })
        .applied_objects();
    (reader, stream)
}

/// Projects of this kind whose users changed.
fn usage_triggers<P: ProjectResource>(
    ctx: &ProjectContext,
) -> impl Stream<Item = ObjectRef<P>> + Send + use<P> {
    news(ctx.shared.projects.usage_changes())
        .filter_map(|id| async move { (id.kind == P::KIND).then(|| P::reference(&id)) })
}

/// Runs the controller of one project kind in one scope until shutdown.
pub async fn run<P: ProjectResource>(
    ctx: Arc<ProjectContext>,
    namespace: Option<String>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api = P::api(ctx.shared.client.clone(), namespace.as_deref());
    let (reader, stream) = watch::<P>(&ctx, api);
    P::register(&ctx.shared, reader.clone());
    Controller::for_stream(stream, reader)
        .reconcile_on(usage_triggers::<P>(&ctx))
        .graceful_shutdown_on(shutdown)
        .run(act::reconcile::<P>, error_policy::<P>, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "project controller event");
            }
        })
        .await;
}

fn error_policy<P: ProjectResource>(
    _obj: Arc<P>,
    error: &ReconcileError,
    _ctx: Arc<ProjectContext>,
) -> Action {
    tracing::warn!(error = %error, step = error.label(), "project pass failed");
    Action::requeue(Duration::from_secs(30))
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

//! AuraInstance: one Aura database. `observe` gathers what Kubernetes and Aura
//! say, `decide` (pure) picks the action and the status, `act` carries it out
//! and writes status; `cleanup` does the same for deletion.

mod act;
pub mod admin_rotation;
pub mod claims;
mod cleanup;
pub mod compare;
mod create;
pub mod decide;
pub mod finish;
mod observe;
mod pass;
pub mod plan;
pub mod reason;
pub mod schedule;
pub mod secret;
pub mod source;
pub mod status;
pub mod transitions;
pub mod verify;
mod view;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

use crate::api::{AuraInstance, AuraInstanceClaim, AuraInstanceStatus, FINALIZER};
use crate::aura::CreatedInstance;
use crate::kinds::shared::filters::FilterIndex;
use crate::kinds::shared::news::News;
use crate::kinds::shared::views::{KeyView, RestoreView};
use crate::query_api::QueryApi;
use crate::reconciler::cache::slim;
use crate::reconciler::driver::after_first_list;
use crate::reconciler::projects::{Change, Wanted};
use crate::reconciler::{
    Cleanup, Context, Kind, ReconcileError, Result, credentials_finalizer, locked,
};

pub use reason::Reason;

use claims::Claims;

/// What this process remembers of one AuraInstance.
#[derive(Debug, Default)]
pub struct InstanceMemory {
    /// A create's answer whose password has not reached the Secret yet.
    /// Boxed, as the rotation below: both are rare and brief, and inline
    /// they made every object's entry twice its size (issue 34).
    pub pending: Option<Box<CreatedInstance>>,
    /// The instance id this process recorded, until the watch's copy shows it
    /// in status: a reconcile on a stale copy must not go looking.
    pub recorded: Option<String>,
    /// The last credential check.
    pub checked: Option<verify::Checked>,
    /// The last admin password rotation this process made, until the
    /// watch's copy shows it: a pass on a stale copy must not rotate again.
    pub admin_rotated: Option<Box<admin_rotation::Rotated>>,
    /// status.adoptedAt as this process wrote or read it: a pass on a watch
    /// copy older than that write must not drop it.
    pub adopted_at: Option<String>,
}

/// What the kind keeps for all AuraInstances.
pub struct InstanceState {
    /// Which AuraInstance holds which Aura instance id.
    pub claims: Claims,
    claims_writer: Mutex<Option<Writer<AuraInstanceClaim>>>,
    /// The databases' own Query API, for the credential check.
    pub query_api: QueryApi,
    /// The AuraRestores that run on instances: such an instance changes nothing.
    pub restores: Arc<dyn RestoreView>,
    /// How long Aura's transitions take, and who polls when.
    pub transitions: transitions::Transitions,
    /// Changes of AuraSnapshots: a clone waiting on its source snapshot is woken.
    pub snapshots: Arc<News>,
    /// AuraInstances that hold an instance: a clone waiting on one is woken.
    pub sources: Arc<News>,
    /// The AuraCustomerManagedKeys a create may name.
    pub keys: Arc<dyn KeyView>,
    /// The AuraIPFilters that name each instance.
    pub filters: Arc<FilterIndex>,
}

impl InstanceState {
    pub fn new(
        client: Client,
        query_api: QueryApi,
        restores: Arc<dyn RestoreView>,
        snapshots: Arc<News>,
        sources: Arc<News>,
        keys: Arc<dyn KeyView>,
        filters: Arc<FilterIndex>,
    ) -> Self {
        let (store, writer) = kube::runtime::reflector::store();
        Self {
            claims: Claims::new(client, store),
            claims_writer: Mutex::new(Some(writer)),
            query_api,
            restores,
            transitions: transitions::Transitions::default(),
            snapshots,
            sources,
            keys,
            filters,
        }
    }
}

impl Kind for AuraInstance {
    const FINALIZER: &'static str = FINALIZER;
    type Memory = InstanceMemory;
    type State = InstanceState;
    type Status = AuraInstanceStatus;
    type Reason = Reason;

    fn status(&self) -> Option<&AuraInstanceStatus> {
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
        pass::apply(&obj, &ctx).await
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        cleanup::cleanup(&obj, &ctx).await
    }

    /// Lets go of the credentials Secret once no other AuraInstance (and no
    /// project) of the namespace names it. The watch's copy answers while a live object names
    /// it; when only objects being deleted do, two deletions finishing at once
    /// could each see the other in a copy a moment old, so the apiserver is
    /// asked (each asks after its own finalizer is gone: the later one sees both).
    async fn finalized(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<()> {
        ctx.state.transitions.forget(&ObjectRef::from_obj(&*obj));
        let Wanted::Secret(name) = obj.wanted_credentials() else {
            return Ok(());
        };
        let ns = obj.namespace().unwrap_or_default();
        let mut others = ctx.objects_in(&ns);
        let live_user = others.iter().any(|o| {
            o.uid() != obj.uid()
                && o.meta().deletion_timestamp.is_none()
                && o.wanted_credentials() == Wanted::Secret(name)
        });
        if !live_user && still_named(&others, &obj).contains(name) {
            let api: Api<AuraInstance> = Api::namespaced(ctx.client.clone(), &ns);
            others = api
                .list(&ListParams::default())
                .await
                .map_err(|e| ReconcileError::kube("list the namespace's AuraInstances", e))?
                .items
                .into_iter()
                .filter(|o| o.finalizers().iter().any(|f| f == FINALIZER))
                .map(Arc::new)
                .collect();
        }
        let mut named = still_named(&others, &obj);
        named.extend(ctx.projects.secrets_named_in(&ns));
        credentials_finalizer::release_unused(&ctx.client, &ns, name, &named).await
    }

    /// An instance that holds one can be a clone's source.
    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        if let watcher::Event::Apply(o) = event
            && o.status.as_ref().is_some_and(|s| s.instance_id.is_some())
        {
            ctx.state.sources.tell(o);
        }
    }

    /// Woken also by a change of its project or namespace, a restore on it
    /// starting or ending, a transition's learned end; owns its Secrets.
    fn wire(
        controller: Controller<Self>,
        ctx: &Arc<Context<Self>>,
        namespace: Option<&str>,
    ) -> Controller<Self> {
        ctx.telemetry.count_phases_of(controller.store());
        controller
            .reconcile_on(clones_waiting_on(ctx, &ctx.state.snapshots, |s| {
                &s.snapshot_ref
            }))
            .reconcile_on(clones_waiting_on(ctx, &ctx.state.sources, |s| {
                &s.instance_ref
            }))
            .reconcile_on(creates_waiting_on_keys(ctx))
            .reconcile_on(ctx.state.filters.wakes())
            .reconcile_on(project_triggers(ctx.clone()))
            .reconcile_on(ctx.state.restores.wakes())
            .reconcile_on(ctx.state.transitions.wakes())
            .owns_stream(owned_secrets(ctx, namespace))
    }
}

/// The credentials Secrets the remaining AuraInstances of a namespace name.
pub fn still_named(instances: &[Arc<AuraInstance>], leaving: &AuraInstance) -> BTreeSet<String> {
    instances
        .iter()
        .filter(|o| o.uid() != leaving.uid())
        .filter_map(|o| o.spec.credentials_secret_ref.as_ref())
        .map(|r| r.name.clone())
        .collect()
}

/// A password held in memory until it lands in the Secret.
impl Context<AuraInstance> {
    pub fn remember_password(&self, obj: &AuraInstance, created: CreatedInstance) {
        self.memory
            .with(obj, |e| e.kind.pending = Some(Box::new(created)));
    }

    pub fn pending_password(&self, obj: &AuraInstance) -> Option<CreatedInstance> {
        self.memory
            .peek(obj, |e| e.kind.pending.as_deref().cloned())
            .flatten()
    }

    pub fn forget_password(&self, obj: &AuraInstance) {
        self.memory.update(obj, |e| e.kind.pending = None);
    }

    /// Remembers the instance id just written to status.
    pub fn record_instance(&self, obj: &AuraInstance, id: &str) {
        self.memory
            .with(obj, |e| e.kind.recorded = Some(id.to_string()));
    }

    /// status.adoptedAt is said once and kept: it holds back the restores
    /// applied with a rebuild, and passwordRecovery. A status built from a
    /// stale copy gets it back from memory.
    pub fn keep_adoption(&self, obj: &AuraInstance, status: &mut crate::api::AuraInstanceStatus) {
        match &status.adopted_at {
            Some(at) => self
                .memory
                .with(obj, |e| e.kind.adopted_at = Some(at.clone())),
            None => {
                status.adopted_at = self
                    .memory
                    .peek(obj, |e| e.kind.adopted_at.clone())
                    .flatten();
            }
        }
    }

    /// The id recorded for this object, forgotten once status shows one.
    pub fn recorded_instance(&self, obj: &AuraInstance) -> Option<String> {
        let in_status = obj.status.as_ref().is_some_and(|s| s.instance_id.is_some());
        if in_status {
            self.forget_instance(obj);
            return None;
        }
        self.memory.peek(obj, |e| e.kind.recorded.clone()).flatten()
    }

    pub fn forget_instance(&self, obj: &AuraInstance) {
        self.memory.update(obj, |e| e.kind.recorded = None);
    }

    pub fn claims(&self) -> &Claims {
        &self.state.claims
    }
}

/// Starts the claims watch (cluster-scoped: one for every namespace scope);
/// returns once it listed or after `wait`.
pub async fn start_claims(
    ctx: &Arc<Context<AuraInstance>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    wait: std::time::Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    let writer = locked(&ctx.state.claims_writer).take()?;
    let api: Api<AuraInstanceClaim> = Api::all(ctx.client.clone());
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .for_each(|event| async move {
            if let Err(e) = event {
                tracing::debug!(error = %e, "claims watch");
            }
        });
    let task = tokio::spawn(async move {
        tokio::select! {
            () = stream => {}
            () = shutdown => {}
        }
    });
    if !ctx.state.claims.wait_ready(wait).await {
        tracing::warn!(
            "the claims watch has not listed yet (is the AuraInstanceClaim CRD installed?); asking the apiserver instead"
        );
    }
    Some(task)
}

/// The AuraInstances a change of a project or a namespace may move: those
/// naming the project (or defaulting to it), those of the namespace.
pub fn affected(objects: &[Arc<AuraInstance>], change: &Change) -> Vec<ObjectRef<AuraInstance>> {
    objects
        .iter()
        .filter(|o| {
            let ns = o.namespace().unwrap_or_default();
            match change {
                Change::Namespace(name) => *name == ns,
                Change::Project(id) => o.wanted_credentials().project(&ns).as_ref() == Some(id),
            }
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

fn project_triggers(
    ctx: Arc<Context<AuraInstance>>,
) -> impl futures::Stream<Item = ObjectRef<AuraInstance>> + Send {
    ctx.projects
        .changes()
        .flat_map(move |change| futures::stream::iter(affected(&ctx.all_objects(), &change)))
}

/// The clones not created yet whose source (`by` names it in the spec's
/// source) is the object `news` tells of.
fn clones_waiting_on(
    ctx: &Arc<Context<AuraInstance>>,
    news: &News,
    by: fn(&crate::api::InstanceSource) -> &Option<crate::api::LocalRef>,
) -> futures::stream::BoxStream<'static, ObjectRef<AuraInstance>> {
    let instances = ctx.clone();
    news.wakes(move |ns, name| {
        instances
            .objects_in(ns)
            .into_iter()
            .filter(|o| o.status.as_ref().is_none_or(|s| s.instance_id.is_none()))
            .filter(|o| {
                o.spec
                    .source
                    .as_ref()
                    .and_then(|s| by(s).as_ref())
                    .is_some_and(|r| r.name == name)
            })
            .map(|o| ObjectRef::from_obj(o.as_ref()))
            .collect()
    })
}

/// The AuraInstances not created yet whose customerManagedKeyRef names a
/// key that changed: a create waiting for it goes on at once.
fn creates_waiting_on_keys(
    ctx: &Arc<Context<AuraInstance>>,
) -> futures::stream::BoxStream<'static, ObjectRef<AuraInstance>> {
    let instances = ctx.clone();
    ctx.state.keys.news().wakes(move |ns, name| {
        instances
            .objects_in(ns)
            .into_iter()
            .filter(|o| o.status.as_ref().is_none_or(|s| s.instance_id.is_none()))
            .filter(|o| {
                o.spec
                    .customer_managed_key_ref
                    .as_ref()
                    .is_some_and(|r| r.name == name)
            })
            .map(|o| ObjectRef::from_obj(o.as_ref()))
            .collect()
    })
}

/// The connection Secrets this kind owns, watched by label only (DESIGN
/// 4.6) and kept in a store so a reconcile need not read them. Their first
/// list wakes nobody (the AuraInstances' own first list does), nor does the
/// echo of the operator's own write; deletions and others' changes do.
fn owned_secrets(
    ctx: &Context<AuraInstance>,
    namespace: Option<&str>,
) -> impl futures::Stream<Item = std::result::Result<Secret, watcher::Error>> + Send + use<> {
    let secrets: Api<Secret> = match namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let (owned_reader, owned_writer) = kube::runtime::reflector::store();
    ctx.secrets.add_owned_store(owned_reader);
    let own_writes = ctx.secrets.clone();
    watcher(
        secrets,
        watcher::Config::default().labels(&secret::owned_selector()),
    )
    .default_backoff()
    .modify(slim)
    .reflect(owned_writer)
    .filter(after_first_list())
    .filter(move |event| {
        let echo = matches!(event, Ok(watcher::Event::Apply(s))
            if own_writes.is_own_write(s) || own_writes.is_echo_of_write(s));
        std::future::ready(!echo)
    })
    .touched_objects()
}

#[cfg(test)]
mod tests;

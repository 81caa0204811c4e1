//! The one driver every kind runs through: the watch that feeds memory and the
//! credentials index, then per pass finalizer -> the kind's apply or cleanup ->
//! memory pruned; errors back off per object.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures::{Stream, StreamExt};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, warn};

use super::cache::slim;
use super::credentials::CredentialsSource;
use super::{ApiScope, Cleanup, Context, Kind, ReconcileError, Result, memory, projects};

/// Runs one pass and counts it.
pub async fn reconcile<K: Kind>(obj: Arc<K>, ctx: Arc<Context<K>>) -> Result<Action> {
    let started = Instant::now();
    let result = pass(obj, ctx.clone()).await;
    let label = match &result {
        Ok(_) => "ok",
        Err(e) if e.is_busy() => "busy",
        Err(_) => "error",
    };
    ctx.telemetry.record_reconcile(label, started.elapsed());
    result
}

async fn pass<K: Kind>(obj: Arc<K>, ctx: Arc<Context<K>>) -> Result<Action> {
    let api: Api<K> = super::api(&ctx.client, obj.namespace().as_deref());
    let finalized = obj.finalizers().iter().any(|f| f == K::FINALIZER);
    if obj.meta().deletion_timestamp.is_some() {
        if !finalized {
            return Ok(Action::await_change());
        }
        return match K::cleanup(obj.clone(), ctx.clone()).await? {
            Cleanup::Again(action) => Ok(action),
            Cleanup::Done => {
                remove_finalizer(&api, &obj).await?;
                ctx.forget(&ObjectRef::from_obj(&*obj));
                K::finalized(obj, ctx).await?;
                Ok(Action::await_change())
            }
        };
    }
    // Later steps guard on the resourceVersion: carry on with what the write returned.
    let obj = match (finalized, K::keeps_finalizer(&obj, &ctx).await?) {
        (false, true) => Arc::new(add_finalizer(&api, &obj).await?),
        (true, false) => match remove_finalizer(&api, &obj).await? {
            Some(written) => Arc::new(written),
            None => return Ok(Action::await_change()),
        },
        _ => obj,
    };
    let result = K::apply(obj.clone(), ctx.clone()).await;
    if result.is_ok() {
        ctx.memory.reset_failures(&obj);
    }
    result
}

/// Backs off per object; honours Aura's Retry-After. Aura busy with an
/// operation of its own is a normal wait, not a failure worth a warning.
pub fn error_policy<K: Kind>(obj: Arc<K>, error: &ReconcileError, ctx: Arc<Context<K>>) -> Action {
    let mut delay = ctx.memory.next_backoff(&obj);
    if let ReconcileError::Aura(e) = error
        && let Some(after) = e.retry_after()
    {
        delay = delay.max(after);
    }
    let (object, namespace) = (obj.name_any(), obj.namespace().unwrap_or_default());
    if error.is_busy() {
        debug!(%object, %namespace, error = %error, retry_in = ?delay, "Aura is busy with an operation; waiting");
    } else {
        warn!(%object, %namespace, step = error.label(), error = %error, retry_in = ?delay, "reconcile failed");
    }
    Action::requeue(delay)
}

/// The watch of one kind in one scope, as the controller's main stream: it
/// keeps the store, follows each object's credentials Secret in the index, and
/// prunes memory when objects go (also those a re-list no longer shows).
/// Status writes do not wake an object again: only spec, annotations and deletion do.
pub fn watch<K: Kind>(
    api: Api<K>,
    ctx: Arc<Context<K>>,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send,
) {
    let (reader, writer) = kube::runtime::reflector::store();
    let synced = ctx.telemetry.register_watch();
    ctx.add_store(reader.clone());
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .inspect(move |event| {
            if let Ok(event) = event {
                follow(&ctx, event);
                K::watched(&ctx, event);
                // The first complete list is what readiness waits for.
                if matches!(event, watcher::Event::InitDone) {
                    synced.store(true, Ordering::SeqCst);
                }
            }
        })
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(predicates::annotations)
                .combine(deletion::<K>),
            Default::default(),
        );
    (reader, stream)
}

/// What a watch event means for the kind's memory and credentials index.
pub fn follow<K: Kind>(ctx: &Context<K>, event: &watcher::Event<K>) {
    match event {
        watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) => {
            note_source(ctx, obj, &ctx.credentials_source(obj));
        }
        watcher::Event::Delete(obj) => {
            ctx.projects.note_user(projects::user_of(obj), None);
            ctx.forget(&ObjectRef::from_obj(obj));
        }
        watcher::Event::InitDone => ctx.forget_unlisted(),
        watcher::Event::Init => {}
    }
}

/// Where the object's credentials come from now: the Secret it watches, and
/// the project it counts as a user of. For the watch, which has just stored it.
pub fn note_source<K: Kind>(ctx: &Context<K>, obj: &K, source: &CredentialsSource) {
    note_source_if(ctx, obj, source, || true);
}

/// The same from a pass, which may run on a copy the watch has already let
/// go (the pass was queued before the Delete came): such a copy must not
/// bring the object back among the project's users, where it would stay.
pub fn note_source_in_pass<K: Kind>(ctx: &Context<K>, obj: &K, source: &CredentialsSource) {
    let reference = ObjectRef::from_obj(obj);
    note_source_if(ctx, obj, source, || ctx.is_listed(&reference));
}

fn note_source_if<K: Kind>(
    ctx: &Context<K>,
    obj: &K,
    source: &CredentialsSource,
    listed: impl FnOnce() -> bool,
) {
    ctx.credentials.set(memory::key(obj), source.key().cloned());
    ctx.projects
        .note_user_if_listed(projects::user_of(obj), source.project().cloned(), listed);
}

/// A controller for one kind in one scope, woken also when a credentials
/// Secret its objects name changes, wired by the kind.
pub fn controller<K: Kind>(ctx: &Arc<Context<K>>, namespace: Option<&str>) -> Controller<K> {
    let (reader, main) = watch(super::api::<K>(&ctx.client, namespace), ctx.clone());
    // Bounded: a thousand reconciles all waiting on the Aura rate limiter at
    // once cost memory and buy nothing.
    let concurrency = kube::runtime::controller::Config::default()
        .concurrency(ctx.config.max_concurrent_reconciles);
    let controller = Controller::for_stream(main, reader)
        .with_config(concurrency)
        .reconcile_on(ctx.credentials.triggers());
    K::wire(controller, ctx, namespace)
}

/// Runs a kind until shutdown: one controller per watched namespace (or one
/// for all), and one for a cluster-scoped kind whatever the namespaces.
pub async fn run<K: Kind, F>(ctx: Arc<Context<K>>, namespaces: &[String], shutdown: impl Fn() -> F)
where
    F: Future<Output = ()> + Send + Sync + 'static,
{
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() || <K::Scope as ApiScope>::CLUSTER {
        vec![None]
    } else {
        namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    let runs = scopes.into_iter().map(|scope| {
        controller(&ctx, scope)
            .graceful_shutdown_on(shutdown())
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|result| async move {
                if let Err(e) = result {
                    debug!(error = %e, "controller event");
                }
            })
    });
    futures::future::join_all(runs).await;
}

/// Drops the events of a watch's first list (a later re-list passes, since
/// changes may have been missed while the watch was down).
pub fn after_first_list<T>()
-> impl FnMut(&Result<watcher::Event<T>, watcher::Error>) -> std::future::Ready<bool> {
    let mut listed = false;
    move |event| {
        let keep = match event {
            Ok(watcher::Event::InitDone) => {
                listed = true;
                false
            }
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => listed,
            _ => true,
        };
        std::future::ready(keep)
    }
}

fn deletion<K: Resource>(obj: &K) -> Option<u64> {
    obj.meta().deletion_timestamp.as_ref().map(|_| 1)
}

async fn add_finalizer<K: Kind>(api: &Api<K>, obj: &K) -> Result<K> {
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(K::FINALIZER.to_string());
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await
    .map_err(|e| ReconcileError::kube("add the finalizer", e))
}

/// Removes the kind's finalizer; returns the object as written (`None`:
/// it is gone already).
async fn remove_finalizer<K: Kind>(api: &Api<K>, obj: &K) -> Result<Option<K>> {
    let finalizers: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != K::FINALIZER)
        .cloned()
        .collect();
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(written) => Ok(Some(written)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(ReconcileError::kube("remove the finalizer", e)),
    }
}

//! State shared by every reconcile, built once at start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::cache::SecretCache;
use super::claims::Claims;
use super::config::ControllerConfig;
use super::pacing;
use crate::api::{AuraInstance, AuraInstanceClaim};
use crate::aura::{
    AuraClient, AuraClients, AuraError, CreatedInstance, InstanceSummary, Tenant, TenantSummary,
};
use crate::telemetry::Telemetry;
use kube::runtime::reflector::Store;
use kube::runtime::reflector::store::Writer;

pub struct Context {
    pub client: kube::Client,
    pub aura: AuraClients,
    pub config: ControllerConfig,
    pub telemetry: Arc<Telemetry>,
    /// What the Secret watches already told us.
    pub secrets: Arc<SecretCache>,
    recorder: Recorder,
    event_slots: Arc<tokio::sync::Semaphore>,
    /// Create answers whose password has not reached the Secret yet, by object uid.
    pending: Mutex<HashMap<String, CreatedInstance>>,
    /// Consecutive transient failures, by object uid, for per-object backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Instance ids this process recorded, by object uid, until the watch cache
    /// shows them in status: a reconcile on a stale copy must not go looking.
    recorded: Mutex<HashMap<String, String>>,
    /// Tenants with their catalogue, by (client id, tenant id), and tenant
    /// lists by client id: they change rarely and every create needs them.
    tenants: Mutex<HashMap<TenantKey, (Instant, Arc<Tenant>)>>,
    tenant_lists: Mutex<HashMap<String, (Instant, Vec<TenantSummary>)>>,
    /// One tenant fetch at a time: a thousand first reconciles would otherwise
    /// all miss the cache together and each fetch (and hold) the catalogue.
    tenant_fetch: tokio::sync::Mutex<()>,
    /// The client id each object last used, so resyncs fit each client's budget.
    clients: Mutex<ClientShares>,
    /// Which AuraInstance holds which Aura instance id.
    pub claims: Claims,
    claims_writer: Mutex<Option<Writer<AuraInstanceClaim>>>,
    /// Each tenant's instance list, reused for a few seconds: every create
    /// records which same-named instances were there before it.
    instance_lists: Mutex<HashMap<TenantKey, Fetched<Arc<Vec<InstanceSummary>>>>>,
    /// The AuraInstance watch stores, one per watched scope.
    instance_stores: std::sync::RwLock<Vec<Store<AuraInstance>>>,
}

#[derive(Default)]
struct ClientShares {
    by_object: HashMap<String, String>,
    objects: HashMap<String, usize>,
}

/// (client id, tenant id).
type TenantKey = (String, String);

/// A value and when it was fetched.
type Fetched<V> = (Instant, V);

/// Events being sent at the same time.
const EVENTS_IN_FLIGHT: usize = 16;

/// How long a tenant's catalogue and tenant lists are reused.
pub const TENANT_CACHE_TTL: Duration = Duration::from_secs(300);

/// How long a tenant's instance list is reused before a create. Short: an
/// instance made in the console since then is not known to be older than the
/// create (the lost-create search then still skips it once claimed, and only
/// an instance found by that search is ever re-created).
pub const INSTANCE_LIST_TTL: Duration = Duration::from_secs(3);

impl Context {
    pub fn new(
        client: kube::Client,
        aura: AuraClients,
        config: ControllerConfig,
        reporter: Reporter,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let (claims_store, claims_writer) = kube::runtime::reflector::store();
        Self {
            claims: Claims::new(client.clone(), claims_store),
            claims_writer: Mutex::new(Some(claims_writer)),
            instance_lists: Mutex::default(),
            instance_stores: std::sync::RwLock::default(),
            telemetry,
            secrets: Arc::default(),
            recorder: Recorder::new(client.clone(), reporter),
            event_slots: Arc::new(tokio::sync::Semaphore::new(EVENTS_IN_FLIGHT)),
            client,
            aura,
            config,
            pending: Mutex::default(),
            failures: Mutex::default(),
            recorded: Mutex::default(),
            tenants: Mutex::default(),
            tenant_lists: Mutex::default(),
            tenant_fetch: tokio::sync::Mutex::default(),
            clients: Mutex::default(),
        }
    }

    fn uid(obj: &AuraInstance) -> String {
        obj.uid().unwrap_or_else(|| {
            format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
        })
    }

    pub fn remember_password(&self, obj: &AuraInstance, created: CreatedInstance) {
        self.pending
            .lock()
            .expect("pending lock")
            .insert(Self::uid(obj), created);
    }

    pub fn pending_password(&self, obj: &AuraInstance) -> Option<CreatedInstance> {
        self.pending
            .lock()
            .expect("pending lock")
            .get(&Self::uid(obj))
            .cloned()
    }

    pub fn forget_password(&self, obj: &AuraInstance) {
        self.pending
            .lock()
            .expect("pending lock")
            .remove(&Self::uid(obj));
    }

    /// Remembers the instance id just written to status.
    pub fn record_instance(&self, obj: &AuraInstance, id: &str) {
        self.recorded
            .lock()
            .expect("recorded lock")
            .insert(Self::uid(obj), id.to_string());
    }

    /// The id recorded for this object, forgotten once status shows one.
    pub fn recorded_instance(&self, obj: &AuraInstance) -> Option<String> {
        let mut recorded = self.recorded.lock().expect("recorded lock");
        let in_status = obj
            .status
            .as_ref()
            .and_then(|s| s.instance_id.as_ref())
            .is_some();
        if in_status {
            recorded.remove(&Self::uid(obj));
            return None;
        }
        recorded.get(&Self::uid(obj)).cloned()
    }

    pub fn forget_instance(&self, obj: &AuraInstance) {
        self.recorded
            .lock()
            .expect("recorded lock")
            .remove(&Self::uid(obj));
    }

    /// A tenant with its catalogue, from the cache when fresh.
    /// Shared, not copied: a catalogue can run to hundreds of kilobytes, and
    /// every create in flight holds one.
    pub async fn tenant(&self, aura: &AuraClient, id: &str) -> Result<Arc<Tenant>, AuraError> {
        let key = (aura.client_id().to_string(), id.to_string());
        self.cached(&self.tenants, key, TENANT_CACHE_TTL, || async {
            aura.get_tenant(id).await.map(Arc::new)
        })
        .await
    }

    /// The tenants the credentials see, from the cache when fresh.
    pub async fn tenant_list(&self, aura: &AuraClient) -> Result<Vec<TenantSummary>, AuraError> {
        let key = aura.client_id().to_string();
        self.cached(&self.tenant_lists, key, TENANT_CACHE_TTL, || {
            aura.list_tenants()
        })
        .await
    }

    /// The tenant's instances as listed at most a few seconds ago.
    pub async fn recent_instances(
        &self,
        aura: &AuraClient,
        tenant_id: &str,
    ) -> Result<Arc<Vec<InstanceSummary>>, AuraError> {
        let key = (aura.client_id().to_string(), tenant_id.to_string());
        self.cached(&self.instance_lists, key, INSTANCE_LIST_TTL, || async {
            aura.list_instances(tenant_id).await.map(Arc::new)
        })
        .await
    }

    pub fn add_instance_store(&self, store: Store<AuraInstance>) {
        self.instance_stores
            .write()
            .expect("instance stores lock")
            .push(store);
    }

    /// The AuraInstances of a namespace, as the watches show them.
    pub fn instances_in(&self, namespace: &str) -> Vec<Arc<AuraInstance>> {
        self.instance_stores
            .read()
            .expect("instance stores lock")
            .iter()
            .flat_map(|s| s.state())
            .filter(|o| o.namespace().as_deref() == Some(namespace))
            .collect()
    }

    /// The writer of the claims store, handed once to its watch.
    pub fn take_claims_writer(&self) -> Option<Writer<AuraInstanceClaim>> {
        self.claims_writer
            .lock()
            .expect("claims writer lock")
            .take()
    }

    /// `key` from `cache` while fresh; otherwise fetched, one fetch at a time so
    /// that concurrent misses wait for the first instead of fetching again.
    async fn cached<K, V, Fut>(
        &self,
        cache: &Mutex<HashMap<K, (Instant, V)>>,
        key: K,
        ttl: Duration,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<V, AuraError>
    where
        K: Eq + std::hash::Hash,
        V: Clone,
        Fut: Future<Output = Result<V, AuraError>>,
    {
        let fresh = || {
            cache
                .lock()
                .expect("tenant cache lock")
                .get(&key)
                .filter(|(at, _)| at.elapsed() < ttl)
                .map(|(_, v)| v.clone())
        };
        if let Some(v) = fresh() {
            return Ok(v);
        }
        let _one_fetch = self.tenant_fetch.lock().await;
        if let Some(v) = fresh() {
            return Ok(v);
        }
        let value = fetch().await?;
        cache
            .lock()
            .expect("tenant cache lock")
            .insert(key, (Instant::now(), value.clone()));
        Ok(value)
    }

    /// Notes that `obj` uses `client_id`; returns how many objects share it.
    pub fn note_client(&self, obj: &AuraInstance, client_id: &str) -> usize {
        let mut shares = self.clients.lock().expect("clients lock");
        let uid = Self::uid(obj);
        if shares.by_object.get(&uid).map(String::as_str) != Some(client_id) {
            if let Some(before) = shares.by_object.insert(uid, client_id.to_string())
                && let Some(n) = shares.objects.get_mut(&before)
            {
                *n = n.saturating_sub(1);
            }
            *shares.objects.entry(client_id.to_string()).or_default() += 1;
        }
        shares.objects[client_id]
    }

    /// Forgets an object that is gone.
    pub fn forget_client(&self, obj: &AuraInstance) {
        let mut shares = self.clients.lock().expect("clients lock");
        if let Some(before) = shares.by_object.remove(&Self::uid(obj))
            && let Some(n) = shares.objects.get_mut(&before)
        {
            *n = n.saturating_sub(1);
        }
    }

    /// The resync interval for an object whose client is shared by `sharing`
    /// objects, spread a little so that objects seen together drift apart.
    pub fn resync_after(&self, sharing: usize) -> Duration {
        let interval =
            pacing::resync_interval(self.config.resync_interval, sharing, self.config.rate_limit);
        pacing::spread(interval, rand::random_range(0.9..1.1))
    }

    pub fn reset_failures(&self, obj: &AuraInstance) {
        self.failures
            .lock()
            .expect("failures lock")
            .remove(&Self::uid(obj));
    }

    /// The next backoff for this object: 2 s doubling to 5 min, with jitter.
    pub fn next_backoff(&self, obj: &AuraInstance) -> Duration {
        let mut failures = self.failures.lock().expect("failures lock");
        let n = failures.entry(Self::uid(obj)).or_insert(0);
        *n = n.saturating_add(1);
        let base = Duration::from_secs(2).saturating_mul(1u32 << (*n - 1).min(8));
        let capped = base.min(Duration::from_secs(300));
        let jitter = rand::random_range(0.8..1.2);
        capped.mul_f64(jitter)
    }

    pub async fn normal(&self, obj: &AuraInstance, reason: &str, note: &str) {
        self.publish(obj, EventType::Normal, reason, note).await;
    }

    pub async fn warn(&self, obj: &AuraInstance, reason: &str, note: &str) {
        self.publish(obj, EventType::Warning, reason, note).await;
    }

    /// Sends an event alongside the reconcile, so that a busy apiserver does not
    /// hold a reconcile slot for it; at most [`EVENTS_IN_FLIGHT`] at once.
    async fn publish(&self, obj: &AuraInstance, type_: EventType, reason: &str, note: &str) {
        let reference: ObjectReference = obj.object_ref(&());
        let event = Event {
            type_,
            reason: reason.chars().take(128).collect(),
            note: Some(note.chars().take(1000).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        let Ok(slot) = self.event_slots.clone().acquire_owned().await else {
            return;
        };
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&event, &reference).await {
                warn!(error = %e, "could not publish an event");
            }
            drop(slot);
        });
    }

    /// Waits (at most `limit`) for the events still being sent.
    pub async fn flush_events(&self, limit: Duration) {
        let all = self.event_slots.acquire_many(EVENTS_IN_FLIGHT as u32);
        if tokio::time::timeout(limit, all).await.is_err() {
            warn!("some events were still being sent at exit");
        }
    }
}

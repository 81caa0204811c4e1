//! State shared by every reconcile, built once at start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::config::ControllerConfig;
use crate::api::AuraInstance;
use crate::aura::{AuraClient, AuraClients, AuraError, CreatedInstance, Tenant, TenantSummary};
use crate::telemetry::Telemetry;

pub struct Context {
    pub client: kube::Client,
    pub aura: AuraClients,
    pub config: ControllerConfig,
    pub telemetry: Arc<Telemetry>,
    recorder: Recorder,
    /// Create answers whose password has not reached the Secret yet, by object uid.
    pending: Mutex<HashMap<String, CreatedInstance>>,
    /// Consecutive transient failures, by object uid, for per-object backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Instance ids this process recorded, by object uid, until the watch cache
    /// shows them in status: a reconcile on a stale copy must not go looking.
    recorded: Mutex<HashMap<String, String>>,
    /// Tenants with their catalogue, by (client id, tenant id), and tenant
    /// lists by client id: they change rarely and every create needs them.
    tenants: Mutex<HashMap<(String, String), (Instant, Tenant)>>,
    tenant_lists: Mutex<HashMap<String, (Instant, Vec<TenantSummary>)>>,
}

/// How long a tenant's catalogue and tenant lists are reused.
pub const TENANT_CACHE_TTL: Duration = Duration::from_secs(300);

impl Context {
    pub fn new(
        client: kube::Client,
        aura: AuraClients,
        config: ControllerConfig,
        reporter: Reporter,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        Self {
            telemetry,
            recorder: Recorder::new(client.clone(), reporter),
            client,
            aura,
            config,
            pending: Mutex::default(),
            failures: Mutex::default(),
            recorded: Mutex::default(),
            tenants: Mutex::default(),
            tenant_lists: Mutex::default(),
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
    pub async fn tenant(&self, aura: &AuraClient, id: &str) -> Result<Tenant, AuraError> {
        let key = (aura.client_id().to_string(), id.to_string());
        if let Some((at, t)) = self.tenants.lock().expect("tenant lock").get(&key)
            && at.elapsed() < TENANT_CACHE_TTL
        {
            return Ok(t.clone());
        }
        let tenant = aura.get_tenant(id).await?;
        self.tenants
            .lock()
            .expect("tenant lock")
            .insert(key, (Instant::now(), tenant.clone()));
        Ok(tenant)
    }

    /// The tenants the credentials see, from the cache when fresh.
    pub async fn tenant_list(&self, aura: &AuraClient) -> Result<Vec<TenantSummary>, AuraError> {
        let key = aura.client_id().to_string();
        if let Some((at, list)) = self.tenant_lists.lock().expect("tenant lock").get(&key)
            && at.elapsed() < TENANT_CACHE_TTL
        {
            return Ok(list.clone());
        }
        let list = aura.list_tenants().await?;
        self.tenant_lists
            .lock()
            .expect("tenant lock")
            .insert(key, (Instant::now(), list.clone()));
        Ok(list)
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

    async fn publish(&self, obj: &AuraInstance, type_: EventType, reason: &str, note: &str) {
        let reference: ObjectReference = obj.object_ref(&());
        let event = Event {
            type_,
            reason: reason.chars().take(128).collect(),
            note: Some(note.chars().take(1000).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &reference).await {
            warn!(error = %e, "could not publish an event");
        }
    }
}

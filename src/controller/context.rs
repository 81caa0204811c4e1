//! State shared by every reconcile, built once at start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::config::ControllerConfig;
use crate::api::AuraInstance;
use crate::aura::{AuraClients, CreatedInstance};
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
}

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

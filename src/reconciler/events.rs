//! Kubernetes events, sent alongside the reconcile through the one shared
//! Recorder, so that a busy apiserver does not hold a reconcile slot for them.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::warn;

/// Events being sent at the same time.
const EVENTS_IN_FLIGHT: usize = 16;

pub struct Events {
    recorder: Recorder,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Events {
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Self {
            recorder: Recorder::new(client, reporter),
            slots: Arc::new(tokio::sync::Semaphore::new(EVENTS_IN_FLIGHT)),
        }
    }

    /// Sends an event; at most [`EVENTS_IN_FLIGHT`] at once.
    pub async fn publish(
        &self,
        reference: ObjectReference,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        let event = Event {
            type_,
            reason: reason.chars().take(128).collect(),
            note: Some(note.chars().take(1000).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
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
    pub async fn flush(&self, limit: Duration) {
        let all = self.slots.acquire_many(EVENTS_IN_FLIGHT as u32);
        if tokio::time::timeout(limit, all).await.is_err() {
            warn!("some events were still being sent at exit");
        }
    }
}

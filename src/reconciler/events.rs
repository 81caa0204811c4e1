//! Kubernetes events (events.k8s.io/v1), sent alongside the reconcile through
//! the one shared recorder, so that a busy apiserver does not hold a
//! reconcile slot for them.
//!
//! An event said again about the same object within [`SERIES_WINDOW`] is a
//! series: the first Event object is patched with a count instead of a new
//! one being made. What is remembered for that is small (a hash, the Event's
//! name and a count) rather than the whole Event: with a thousand objects the
//! full copies were the largest thing live in the heap (issue 34).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::events::{EventType, Reporter};
use kube::{Api, Client};
use tracing::warn;

use super::locked;

/// Events being sent at the same time.
const EVENTS_IN_FLIGHT: usize = 16;
/// How long a sent event can still grow into a series (as client-go and
/// kube's recorder do).
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// How often the remembered events are swept of those past the window.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

pub struct Events {
    client: Client,
    reporter: Reporter,
    sent: Arc<Mutex<Sent>>,
    slots: Arc<tokio::sync::Semaphore>,
}

/// The events sent within the window, by [`key`].
#[derive(Default)]
struct Sent {
    by_key: HashMap<u64, Series>,
    swept: Option<Instant>,
}

/// One event sent: enough to patch it as a series.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: Box<str>,
    count: i32,
    last: Instant,
}

/// What sending an event comes to.
#[derive(Debug, PartialEq)]
enum Step {
    /// A new Event object.
    Create,
    /// The earlier Event object of this series, now seen `count` times.
    Patch { name: Box<str>, count: i32 },
}

/// The call a [`Step`] comes to, with the Event a create sends.
enum Call {
    Create(Box<K8sEvent>),
    Patch { name: Box<str>, count: i32 },
}

/// Pure: a new Event, or the next count of the one sent within the window.
fn send(earlier: Option<&Series>, now: Instant) -> Step {
    match earlier {
        Some(s) if now.saturating_duration_since(s.last) < SERIES_WINDOW => Step::Patch {
            name: s.name.clone(),
            count: s.count.saturating_add(1),
        },
        _ => Step::Create,
    }
}

/// The same event about the same object: type, reason and note, and the
/// object by uid (or, without one, by kind, namespace and name).
fn key(reference: &ObjectReference, type_: EventType, reason: &str, note: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match &reference.uid {
        Some(uid) => uid.hash(&mut h),
        None => (&reference.kind, &reference.namespace, &reference.name).hash(&mut h),
    }
    matches!(type_, EventType::Warning).hash(&mut h);
    reason.hash(&mut h);
    note.hash(&mut h);
    h.finish()
}

impl Sent {
    /// Forgets the events past the window, at most every [`SWEEP_EVERY`].
    fn sweep(&mut self, now: Instant) {
        if self
            .swept
            .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY)
        {
            return;
        }
        self.swept = Some(now);
        let before = self.by_key.len();
        self.by_key
            .retain(|_, s| now.saturating_duration_since(s.last) < SERIES_WINDOW);
        // Give memory back after a burst, not at every sweep: a shrink
        // rebuilds the whole table.
        if self.by_key.len() < before && self.by_key.capacity() > 4 * self.by_key.len() + 64 {
            self.by_key.shrink_to_fit();
        }
    }
}

impl Events {
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            sent: Arc::default(),
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
        let reason: String = reason.chars().take(128).collect();
        let note: String = note.chars().take(1000).collect();
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
            return;
        };
        let key = key(&reference, type_, &reason, &note);
        let now = Instant::now();
        let step = {
            let mut sent = locked(&self.sent);
            sent.sweep(now);
            send(sent.by_key.get(&key), now)
        };
        let namespace = reference
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let call = match step {
            Step::Create => Call::Create(Box::new(self.event(reference, type_, reason, note))),
            Step::Patch { name, count } => Call::Patch { name, count },
        };
        let sent = self.sent.clone();
        tokio::spawn(async move {
            let done = match call {
                Call::Patch { name, count } => {
                    let series = serde_json::json!({ "series": {
                        "count": count,
                        "lastObservedTime": MicroTime(Timestamp::now()),
                    }});
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                        .await
                        .map(|_| Series {
                            name,
                            count,
                            last: now,
                        })
                }
                Call::Create(event) => {
                    api.create(&PostParams::default(), &event)
                        .await
                        .map(|e| Series {
                            name: e.metadata.name.unwrap_or_default().into_boxed_str(),
                            count: 1,
                            last: now,
                        })
                }
            };
            match done {
                Ok(series) => {
                    locked(&sent).by_key.insert(key, series);
                }
                Err(e) => {
                    // A series whose Event was deleted starts again.
                    locked(&sent).by_key.remove(&key);
                    warn!(error = %e, "could not publish an event");
                }
            }
            drop(slot);
        });
    }

    fn event(
        &self,
        reference: ObjectReference,
        type_: EventType,
        reason: String,
        note: String,
    ) -> K8sEvent {
        let now = Timestamp::now();
        let controller = &self.reporter.controller;
        K8sEvent {
            metadata: ObjectMeta {
                namespace: reference.namespace.clone(),
                name: Some(format!(
                    "{}.{:x}",
                    reference.name.as_deref().unwrap_or(controller),
                    now.as_nanosecond()
                )),
                ..Default::default()
            },
            action: Some("Reconcile".into()),
            reason: Some(reason),
            note: Some(note),
            event_time: Some(MicroTime(now)),
            regarding: Some(reference),
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| controller.clone()),
            ),
            type_: Some(
                match type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .into(),
            ),
            ..Default::default()
        }
    }

    /// Waits (at most `limit`) for the events still being sent.
    pub async fn flush(&self, limit: Duration) {
        let all = self.slots.acquire_many(EVENTS_IN_FLIGHT as u32);
        if tokio::time::timeout(limit, all).await.is_err() {
            warn!("some events were still being sent at exit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(count: i32, last: Instant) -> Series {
        Series {
            name: "orders.1a".into(),
            count,
            last,
        }
    }

    #[test]
    fn an_event_said_again_within_the_window_is_counted_not_made_again() {
        let t0 = Instant::now();
        let rows: [(&str, Option<Series>, Duration, Step); 4] = [
            ("never sent", None, Duration::ZERO, Step::Create),
            (
                "sent a minute ago",
                Some(series(1, t0)),
                Duration::from_secs(60),
                Step::Patch {
                    name: "orders.1a".into(),
                    count: 2,
                },
            ),
            (
                "a series goes on",
                Some(series(7, t0)),
                SERIES_WINDOW - Duration::from_secs(1),
                Step::Patch {
                    name: "orders.1a".into(),
                    count: 8,
                },
            ),
            (
                "past the window: a new Event",
                Some(series(7, t0)),
                SERIES_WINDOW,
                Step::Create,
            ),
        ];
        for (name, earlier, after, want) in rows {
            assert_eq!(send(earlier.as_ref(), t0 + after), want, "{name}");
        }
    }

    #[test]
    fn the_same_event_is_one_key_and_any_difference_another() {
        let obj = |uid: Option<&str>, name: &str| ObjectReference {
            kind: Some("AuraInstance".into()),
            namespace: Some("team".into()),
            name: Some(name.into()),
            uid: uid.map(str::to_string),
            ..Default::default()
        };
        let orders = |type_, reason, note| key(&obj(Some("u1"), "orders"), type_, reason, note);
        let base = orders(EventType::Normal, "Ready", "up");
        assert_eq!(base, orders(EventType::Normal, "Ready", "up"));
        let others = [
            (
                "another object",
                key(&obj(Some("u2"), "orders"), EventType::Normal, "Ready", "up"),
            ),
            ("a warning", orders(EventType::Warning, "Ready", "up")),
            ("another reason", orders(EventType::Normal, "Drift", "up")),
            ("another note", orders(EventType::Normal, "Ready", "down")),
        ];
        for (name, k) in others {
            assert_ne!(k, base, "{name}");
        }
        assert_ne!(
            key(&obj(None, "orders"), EventType::Normal, "Ready", "up"),
            key(&obj(None, "billing"), EventType::Normal, "Ready", "up"),
            "without a uid, the name tells objects apart"
        );
    }

    #[test]
    fn a_sweep_forgets_what_is_past_the_window_and_not_more_often_than_it_should() {
        let t0 = Instant::now();
        let mut sent = Sent::default();
        sent.by_key.insert(1, series(1, t0));
        sent.by_key
            .insert(2, series(1, t0 + Duration::from_secs(120)));
        sent.sweep(t0 + SERIES_WINDOW + Duration::from_secs(1));
        assert_eq!(sent.by_key.keys().copied().collect::<Vec<_>>(), vec![2]);
        // Entry 2 is due at t0 + 480 s. A sweep just before that keeps it;
        // within SWEEP_EVERY of that sweep nothing is swept, even when due.
        sent.sweep(t0 + Duration::from_secs(478));
        assert_eq!(sent.by_key.len(), 1);
        sent.sweep(t0 + Duration::from_secs(485));
        assert_eq!(sent.by_key.len(), 1);
        sent.sweep(t0 + Duration::from_secs(489));
        assert!(sent.by_key.is_empty());
    }

    #[test]
    fn a_burst_gives_its_memory_back_once_it_is_past() {
        let t0 = Instant::now();
        let mut sent = Sent::default();
        for k in 0..1000 {
            sent.by_key.insert(k, series(1, t0));
        }
        sent.by_key.insert(5000, series(1, t0 + SERIES_WINDOW));
        let burst = sent.by_key.capacity();
        sent.sweep(t0 + SERIES_WINDOW + Duration::from_secs(1));
        assert_eq!(sent.by_key.len(), 1);
        assert!(
            sent.by_key.capacity() < burst / 4,
            "{}",
            sent.by_key.capacity()
        );
    }
}
